/**
 * `translate`: train an encoder-decoder with attention (English->French, spelling->pronunciation,
 * or your own TSV of pairs), evaluate it (BLEU, token and sequence error rates), and run it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { withBackend, writeFileAtomic } from '@recurrent/core';
import { readTextFile } from '@recurrent/datasets-text';
import type { Section } from '@recurrent/plot';
import { detokenize, TOKENIZER_KINDS, type ErrorProfile, type TokenizerKind } from '@recurrent/text';
import {
  addTrainingOptions, announce, backendOption, checkAverageLast, checkRunFolder, reportLrFinder, choiceFlag, fractionFlag, InputError, integerFlag, interruptibleTraining, requireWritable, runProgram, unwritableFile,
} from '@recurrent/train';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { AttentionProfile } from './attention-profile.js';
import { loadPairsExamples, loadTask, type Example, type TaskData } from './data.js';
import { loadModelFolders } from './folder.js';
import { ATTENTION_KINDS, BOS_INDEX, EOS_INDEX, type AttentionKind, type TranslateModel } from './model.js';
import { translateToOnnx } from './onnx.js';
import { attentionHeatmap } from './plots.js';
import { evaluate, matchesReference, prepareTraining, sourceTokenizer, trainTranslation, translateTokens, type Vocabularies } from './pipeline.js';

const program = new Command('translate')
  .description('Sequence to sequence with attention: English->French, spelling->pronunciation (CMUdict), or your own pairs.')
  .option('--verbose', 'say which backend runs and why; print stack traces on errors', false)
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(message) });

/** --model, repeatable: several folders decode as an ensemble. Default models/translate. */
/** A flag given again adds to its list. */
const repeatable = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const modelOption = () => new Option('--model <dir>', 'model folder (default models/translate); give --model again for each further model to decode as an ensemble, averaging their next-token distributions')
  .argParser(repeatable);
const modelFolders = (given: string[] | undefined) => given ?? ['models/translate'];
/** --rescore, repeatable: folders whose models rescore the beam's candidates (either target order). */
const rescoreOption = () => new Option('--rescore <dir>', "a model folder whose model rescores the beam's candidates (a right-to-left one, trained with --reverse-target, reads them from the other end); give it again for more; needs --beam 2 or more")
  .argParser(repeatable);
const rescoreWeightOption = () => new Option('--rescore-weight <w>', "the rescoring models' share of a candidate's score, in [0, 1) (the decoding models share the rest; tune it on --split validation); default: every model the same").argParser(fractionFlag('--rescore-weight', 1));
const rescorersDecodeOption = () => new Option('--rescorers-decode', "the --rescore models also run a beam search of their own, and their candidates join the decoders' before the rescoring (they must write targets in the same order)");
/** The decoding and rescoring models of eval and run; rescoring needs a beam's candidates. */
function loadDecoders(o: { model?: string[]; rescore?: string[]; rescoreWeight?: number; rescorersDecode?: boolean; beam: number }) {
  const folders = modelFolders(o.model);
  const rescoreFolders = o.rescore ?? [];
  if (rescoreFolders.length > 0 && o.beam < 2) throw new InputError('--rescore chooses among the candidates of a beam search: give --beam 2 or more');
  if (o.rescoreWeight !== undefined && rescoreFolders.length === 0) throw new InputError('--rescore-weight weighs the models given with --rescore: give --rescore too');
  if (o.rescorersDecode && rescoreFolders.length === 0) throw new InputError('--rescorers-decode has the models given with --rescore decode too: give --rescore');
  return { folders, rescoreFolders, ...loadModelFolders(folders, rescoreFolders, o.rescorersDecode === true) };
}
const beamOption = () => new Option('--beam <n>', 'beam width (1: greedy)').argParser(integerFlag('--beam', 1, 100)).default(1);
const maxTokensOption = () => new Option('--max-tokens <n>', 'most output tokens per input (also at most 2 x its length + 10)').argParser(integerFlag('--max-tokens', 1, 100_000)).default(200);
const lengthPenaltyOption = () => new Option('--length-penalty <alpha>', "beam search's length normalisation: score / ((5 + length) / 6)^alpha (0: none)").argParser(fractionFlag('--length-penalty', 10)).default(0.6);

/** Heatmaps of the first few validation examples, for the run's HTML report. */
async function attentionSections(model: TranslateModel, vocabularies: Vocabularies, examples: readonly Example[], maxSourceLength: number): Promise<Section[]> {
  if (model.config.attention === 'none' || examples.length === 0) return [];
  const shown = examples.slice(0, 3);
  const sources = shown.map((e) => e.source.slice(0, maxSourceLength));
  const decoded = await translateTokens(model, vocabularies, sources, { beam: 1, lengthPenalty: 0, batchSize: shown.length });
  const blocks = await Promise.all(decoded.map(async (d, i) => {
    const output = vocabularies.target.decode(d.tokens);
    return { kind: 'svg' as const, svg: await attentionHeatmap(sources[i]!, output, d, `validation example ${i + 1}`), caption: `reference: ${shown[i]!.referenceTexts[0]}` };
  }));
  return [{ heading: 'Attention (greedy outputs of validation examples)', blocks }];
}

addTrainingOptions(program
  .command('train')
  .description('train a model and write its folder (config.json, model.safetensors, source- and target-vocabulary.json)')
  .option('--task <en-fr|g2p|path>', 'en-fr (English->French sentences), g2p (CMUdict words->phonemes), or a TSV of source<TAB>target lines', 'en-fr')
  .option('--out <dir>', 'model folder to write; checkpoints, metrics and the report go to <dir>/run', 'models/translate')
  .option('--epochs <n>', 'passes over the training pairs', integerFlag('--epochs', 1), 10)
  .option('--batch-size <n>', 'pairs per batch', integerFlag('--batch-size', 1, 100_000), 64)
  .addOption(new Option('--cell <type>', 'recurrent cell of encoder and decoder').choices(['lstm', 'gru']).default('lstm'))
  .option('--embedding <n>', 'token embedding size (both sides)', integerFlag('--embedding', 1, 65_536), 128)
  .option('--hidden <n>', 'encoder units per direction', integerFlag('--hidden', 1, 65_536), 256)
  .option('--layers <n>', 'encoder layers', integerFlag('--layers', 1, 64), 1)
  .option('--decoder-hidden <n>', 'decoder units', integerFlag('--decoder-hidden', 1, 65_536), 256)
  .option('--decoder-layers <n>', 'decoder layers', integerFlag('--decoder-layers', 1, 64), 1)
  .addOption(new Option('--attention <score>', 'general/dot (Luong), additive (Bahdanau), or none').choices(ATTENTION_KINDS).default('general'))
  .option('--input-feeding', "feed each step's attentional state into the next step's input (Luong)", false)
  .option('--teacher-forcing <ratio>', 'share of steps fed the reference token rather than the model\'s own previous output', (value: string) => {
    const n = Number(value);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`--teacher-forcing must be a number from 0 to 1, got '${value}'`);
    return n;
  }, 1)
  .option('--dropout <p>', 'dropout on embeddings, between layers and before the output layer', fractionFlag('--dropout', 1), 0.2)
  .option('--label-smoothing <e>', 'label smoothing of the targets', fractionFlag('--label-smoothing', 1), 0)
  .option('--vocab-size <n>', 'largest vocabulary per side (most frequent tokens)', integerFlag('--vocab-size', 5), 8000)
  .option('--min-freq <n>', 'drop tokens seen fewer times', integerFlag('--min-freq', 1), 2)
  .option('--max-source-length <n>', 'longest source in tokens (longer training pairs are left out)', integerFlag('--max-source-length', 1, 100_000), 60)
  .option('--max-target-length <n>', 'longest target in tokens with <eos> (longer training pairs are left out)', integerFlag('--max-target-length', 2, 100_000), 60)
  .option('--max-words <n>', 'en-fr: keep sentences of at most this many English words', integerFlag('--max-words', 1), 10)
  .option('--stress', 'g2p: keep the vowels\' stress digits (69 phonemes instead of 39)', false)
  .option('--reverse-target', 'train a right-to-left model: it writes each target last token first (decoding turns it back); use it with --rescore', false)
  .option('--source-tokens <kind>', `TSV: how sources are split: ${TOKENIZER_KINDS.join(', ')}`, choiceFlag('--source-tokens', TOKENIZER_KINDS), 'reversible')
  .option('--target-tokens <kind>', `TSV: how targets are split: ${TOKENIZER_KINDS.join(', ')}`, choiceFlag('--target-tokens', TOKENIZER_KINDS), 'reversible')
  .option('--lowercase', 'TSV: lower-case both sides', false)
  .option('--limit <n>', 'train on the first n training examples (after the seeded shuffle), for quick runs', integerFlag('--limit', 1))
  .option('--validation-decodes <n>', 'validation examples decoded after each epoch for BLEU / error rates (0: loss only)', integerFlag('--validation-decodes', 0), 500), {
  lr: 2e-3, schedule: 'cosine', clip: 1, checkpointEvery: 500, seeded: 'weights, dropout and batch order',
  monitored: 'validation score (BLEU; word error rate for G2P and other character or symbol targets; loss with --validation-decodes 0)',
})
  .addOption(backendOption())
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (o) => {
    const verbose = program.opts().verbose as boolean;
    requireWritable(o.out, 'the model folder', '--out', 'folder');
    checkRunFolder(join(o.out, 'run'), o.resume);
    checkAverageLast(o.averageLast, o.epochs);
    if ((o.attention as AttentionKind) === 'dot' && o.decoderHidden !== 2 * o.hidden) {
      throw new InputError(`--attention dot compares decoder states with encoder outputs, so --decoder-hidden must be 2 x --hidden (${2 * o.hidden}), got ${o.decoderHidden}; change one, or use --attention general`);
    }
    const limits = { maxSourceLength: o.maxSourceLength, maxTargetLength: o.maxTargetLength };
    // The task's examples are encoded here and let go: only the encoded pairs and the validation
    // examples live on through training (see prepareTraining).
    const { kind, text, validation, prepared } = ((task: TaskData) => ({
      kind: task.kind, text: task.text, validation: task.validation,
      prepared: prepareTraining(o.limit === undefined ? task.train : task.train.slice(0, o.limit), task.validation, {
        vocabularySize: o.vocabSize, minFrequency: o.minFreq, limits, validationDecodes: o.validationDecodes, reverseTarget: o.reverseTarget,
      }),
    }))(loadTask(o.task, { maxWords: o.maxWords, stress: o.stress, sourceTokens: o.sourceTokens as TokenizerKind, targetTokens: o.targetTokens as TokenizerKind, lowercase: o.lowercase, seed: o.seed }));
    const interrupt = interruptibleTraining('translate');
    try {
      await withBackend(o.backend, async (backend) => {
        const started = Date.now();
        const result = await trainTranslation({
          backend, out: o.out, task: kind, text, data: prepared,
          model: {
            embedding: o.embedding, hidden: o.hidden, layers: o.layers, decoderHidden: o.decoderHidden, decoderLayers: o.decoderLayers, cell: o.cell,
            attention: o.attention, inputFeeding: o.inputFeeding, dropout: o.dropout, seed: o.seed,
          },
          batchSize: o.batchSize, epochs: o.epochs, lr: o.lr, schedule: o.schedule,
          clipNorm: o.clip, labelSmoothing: o.labelSmoothing, teacherForcing: o.teacherForcing, patience: o.patience, ...(o.averageLast === undefined ? {} : { averageLast: o.averageLast }), ...(o.accumulate === undefined ? {} : { accumulate: o.accumulate }), findLr: o.findLr,
          ...(o.timeLimit === undefined ? {} : { timeLimitSeconds: 60 * o.timeLimit }),
          resume: o.resume, checkpointEvery: o.checkpointEvery, progress: !o.json || verbose, signal: interrupt.signal,
          taskSettings: kind === 'en-fr' ? { maxWords: o.maxWords } : kind === 'g2p' ? { stress: o.stress } : {},
          reportSections: (model, vocabularies) => attentionSections(model, vocabularies, validation, limits.maxSourceLength),
        });
        const { summary } = result;
        if (summary.lrFinder) {
          reportLrFinder('translate', summary.lrFinder, o.json);
          return;
        }
        if (summary.interrupted) {
          interrupt.reportStopped(o.out, summary, o.json);
          return;
        }
        const seconds = (Date.now() - started) / 1000;
        const report = {
          out: o.out, task: kind, trainPairs: result.pairs, skippedPairs: result.skipped, epochs: summary.epochsCompleted, steps: summary.steps,
          validation: summary.validation, best: summary.best, ...(summary.average ? { average: summary.average } : {}), seconds, trainingSeconds: summary.trainingSeconds, timedOut: summary.timedOut,
        };
        if (o.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
        } else {
          const metrics = Object.entries(summary.validation ?? {}).map(([k, v]) => `${k} ${v.toFixed(k === 'loss' ? 4 : 2)}`).join(', ');
          process.stdout.write(`trained on ${result.pairs} pairs in ${seconds.toFixed(0)} s (${summary.epochsCompleted} epochs); last validation: ${metrics}; model in ${o.out}, report in ${join(o.out, 'run', 'report.html')}\n`);
          if (result.skipped > 0) process.stderr.write(`translate: ${result.skipped} training pairs longer than --max-source-length / --max-target-length were left out\n`);
        }
      }, announce(true));
    } finally {
      interrupt.release();
    }
  });

/** Examples to evaluate: the built-in task's split, or a TSV tokenised as the model says. */
function evaluationExamples(data: string | undefined, split: 'test' | 'validation', config: ReturnType<typeof loadModelFolders>['config']): { name: string; examples: Example[] } {
  const source = data ?? (config.task === 'pairs' ? undefined : config.task);
  if (source === undefined) throw new InputError('this model was trained on your own pairs: give the pairs to evaluate on with --data <file.tsv>');
  if (source === 'en-fr' || source === 'g2p') {
    if (source !== config.task) {
      throw new InputError(config.task === 'pairs'
        ? `--data ${source}: this model was trained on your own pairs, not ${source}; evaluate it on a TSV of pairs`
        : `--data ${source}: this model was trained for ${config.task}; evaluate it on ${config.task} or on a TSV of pairs`);
    }
    const task = loadTask(source, { maxWords: (config.training.maxWords as number | undefined) ?? 10, stress: config.training.stress === true });
    return { name: `${source} ${split}`, examples: task[split] };
  }
  return { name: source, examples: loadPairsExamples(source, config.text) };
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The message for a --plot file that cannot be written: before the work (from unwritableFile) or after it. */
const plotError = (file: string, code: string) => new InputError(`${file}: cannot write the heatmap (${code}); check that ${dirname(file)} exists and is writable`);

program
  .command('eval')
  .description('BLEU, token error rate and sequence error rate on held-out data; writes every output to a TSV')
  .addOption(modelOption())
  .addOption(rescoreOption())
  .addOption(rescoreWeightOption())
  .addOption(rescorersDecodeOption())
  .option('--data <en-fr|g2p|path>', "the model's built-in task (default) or a TSV of source<TAB>target pairs")
  .addOption(new Option('--split <name>', 'which part of a built-in task').choices(['test', 'validation']).default('test'))
  .addOption(beamOption())
  .addOption(lengthPenaltyOption())
  .addOption(maxTokensOption())
  .option('--limit <n>', 'evaluate the first n examples', integerFlag('--limit', 1))
  .option('--batch-size <n>', 'sources decoded at once', integerFlag('--batch-size', 1, 100_000), 64)
  .option('--outputs <file>', 'where to write source, output and reference of every example (default: <model>/outputs-<data>-beam<N>.tsv)')
  .option('--samples <n>', 'outputs to print', integerFlag('--samples', 0), 5)
  .option('--candidates <file>', "write every candidate of each input's beam to a TSV: source, references, rank, candidate, its tokens, right (1 or 0), score, and with --rescore each model's own log-probability (to tune weights offline: scripts/rescore-weights.mjs); needs --beam 2 or more")
  .addOption(backendOption())
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (o) => {
    requireWritable(o.outputs, 'the outputs', '--outputs');
    requireWritable(o.candidates, 'the candidates', '--candidates');
    if (o.candidates !== undefined && o.beam < 2) throw new InputError('--candidates lists the candidates of a beam search: give --beam 2 or more');
    const { folders, rescoreFolders, models, rescorers, vocabularies, config } = loadDecoders(o);
    const { name, examples: all } = evaluationExamples(o.data, o.split, config);
    const examples = o.limit === undefined ? all : all.slice(0, o.limit);
    if (examples.length === 0) throw new InputError(`${name}: no examples to evaluate`);
    await withBackend(o.backend, async (backend) => {
      for (const model of [...models, ...rescorers]) model.to(backend);
      const started = Date.now();
      const settings = { beam: o.beam, lengthPenalty: o.lengthPenalty, maxTokens: o.maxTokens, batchSize: o.batchSize, rescorers, rescoreWeight: o.rescoreWeight, rescorersDecode: o.rescorersDecode === true };
      const result = await evaluate(models, vocabularies, config.text, examples, settings, config.limits.maxSourceLength);
      const seconds = (Date.now() - started) / 1000;
      const label = o.data === undefined || o.data === 'en-fr' || o.data === 'g2p' ? name : basename(o.data as string, extname(o.data as string));
      const ensemble = `${models.length > 1 ? `-ensemble${models.length}` : ''}${rescorers.length > 0 ? `-rescored${rescorers.length}` : ''}${o.rescorersDecode ? '-joint' : ''}${o.rescoreWeight === undefined ? '' : `-w${o.rescoreWeight}`}`;
      const outputs = o.outputs ?? join(folders[0]!, `outputs-${label.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '')}-beam${o.beam}${ensemble}.tsv`);
      const sourceKind = config.text.source.kind ?? 'treebank';
      const clean = (text: string) => text.replace(/[\t\n\r]+/g, ' ');
      try {
        writeFileAtomic(outputs, ['source\toutput\treference\n', ...examples.map((e, i) => `${clean(detokenize(e.source, sourceKind))}\t${clean(result.texts[i]!)}\t${clean(e.referenceTexts.join(' | '))}\n`)]);
      } catch (error) {
        throw new InputError(`${outputs}: cannot write the outputs (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a writable path with --outputs`);
      }
      if (o.candidates !== undefined) {
        const targetKind = config.text.target.kind ?? 'treebank';
        const scored = rescorers.length > 0 ? [...folders, ...rescoreFolders] : [];
        const rows = examples.flatMap((e, i) => (result.outputs[i]!.candidates ?? [result.outputs[i]!]).map((c, rank) => {
          const tokens = vocabularies.target.decode(c.tokens);
          const cells = [detokenize(e.source, sourceKind), e.referenceTexts.join(' | '), rank + 1, detokenize(tokens, targetKind), tokens.length, matchesReference(tokens, e.references) ? 1 : 0, c.logProbability, ...(c.modelScores ?? [])];
          return `${cells.map((cell) => clean(String(cell))).join('\t')}\n`;
        }));
        try {
          writeFileAtomic(o.candidates, [`${['source', 'references', 'rank', 'candidate', 'tokens', 'right', 'score', ...scored].join('\t')}\n`, ...rows]);
        } catch (error) {
          throw new InputError(`${o.candidates}: cannot write the candidates (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a writable path with --candidates`);
        }
      }
      const summary = {
        models: folders, ...(rescoreFolders.length > 0 ? { rescorers: rescoreFolders } : {}), ...(o.rescoreWeight === undefined ? {} : { rescoreWeight: o.rescoreWeight }), ...(o.rescorersDecode ? { rescorersDecode: true } : {}), data: name, examples: examples.length, beam: o.beam, lengthPenalty: o.lengthPenalty, bleu: result.bleu.score, bleuSignature: result.bleu.format(),
        tokenErrorRate: result.tokenErrorRate, sequenceErrorRate: result.sequenceErrorRate, errors: result.errors, ...(result.oracle ? { oracle: result.oracle } : {}), ...(result.attention ? { attention: result.attention } : {}), seconds, outputs,
      };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const lines = [
        `${name}: ${examples.length} examples, ${o.beam === 1 ? 'greedy' : `beam ${o.beam} (length penalty ${o.lengthPenalty})`}${models.length > 1 ? `, an ensemble of ${models.length} models` : ''}${rescorers.length > 0 ? `, rescored by ${rescorers.length} more${o.rescorersDecode ? ', which also decode' : ''}${o.rescoreWeight === undefined ? '' : ` (their weight ${o.rescoreWeight})`}` : ''}, ${seconds.toFixed(1)} s`,
        `  ${result.bleu.format()}`,
        `  token error rate ${percent(result.tokenErrorRate)}   sequence (word) error rate ${percent(result.sequenceErrorRate)}`,
        ...errorLines(result.errors),
        ...(result.oracle ? [`  n-best oracle: sequence error rate ${percent(result.oracle.sequenceErrorRate)} were the best of each input's candidates chosen (${result.oracle.candidates.toFixed(2)} on average)`] : []),
        ...(result.attention ? [attentionLine(result.attention)] : []),
        ...examples.slice(0, o.samples).map((e, i) => `  ${detokenize(e.source, sourceKind)}  ->  ${result.texts[i]}   (reference: ${e.referenceTexts.join(' | ')})`),
        `  every output: ${outputs}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }, announce(program.opts().verbose as boolean));
  });

/** Where the outputs looked: a share near 1 on the last source token means the attention collapsed. */
function attentionLine({ entropy, peak, onLastSource, diagonalDistance }: AttentionProfile): string {
  return `  attention: largest weight on the last source token for ${percent(onLastSource)} of output tokens; mean peak weight ${peak.toFixed(3)}, entropy ${entropy.toFixed(3)} nats, distance from the diagonal ${diagonalDistance.toFixed(3)}`;
}

/** The wrong outputs by distance from right, and the commonest single substitutions ("reference -> output"). */
function errorLines({ exact, wrongByEdits: [one, two, more], substitutions }: ErrorProfile<string>): string[] {
  const wrong = one + two + more;
  if (wrong === 0) return [];
  const share = (n: number) => `${n} (${percent(n / wrong)})`;
  return [
    `  wrong outputs by edits to the closest reference: 1: ${share(one)}, 2: ${share(two)}, 3 or more: ${share(more)}; ${exact} exact`,
    ...(substitutions.length > 0 ? [`  commonest single substitutions (reference -> output): ${substitutions.slice(0, 5).map((s) => `${s.reference} -> ${s.output} ${s.count}`).join(', ')}`] : []),
  ];
}

/** Input lines: the arguments, --file, or stdin. */
function inputLines(texts: readonly string[], file: string | undefined): string[] {
  if (texts.length > 0) return [...texts];
  let content: string;
  if (file !== undefined) {
    content = readTextFile(file);
  } else {
    try {
      content = readFileSync(0, 'utf8');
    } catch (error) {
      throw new InputError(`stdin: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give texts as arguments or with --file`);
    }
  }
  return content.split(/\r?\n/).filter((line) => line.trim().length > 0);
}

program
  .command('run')
  .description('translate texts given as arguments, or one per line from --file or stdin')
  .argument('[texts...]', 'texts to translate')
  .addOption(modelOption())
  .addOption(rescoreOption())
  .addOption(rescoreWeightOption())
  .addOption(rescorersDecodeOption())
  .option('--file <path>', 'read texts from this file, one per line')
  .addOption(beamOption())
  .addOption(lengthPenaltyOption())
  .addOption(maxTokensOption())
  .addOption(new Option('--too-long <policy>', 'an input longer than the model\'s limit: truncate it (with a warning) or refuse it').choices(['truncate', 'refuse']).default('truncate'))
  .option('--plot <file.svg>', 'write the attention heatmap of each input (several inputs: file-1.svg, file-2.svg, ...)')
  .addOption(backendOption())
  .addOption(new Option('--nbest <k>', "print each input's k best outputs, best first (needs --beam k or more): lines of input, score and output, tab-separated; the score is the log-probability (with --rescore, the models' weighted mean)").argParser(integerFlag('--nbest', 1, 100)))
  .option('--json', 'print JSON lines: input, output, tokens, unknown tokens, log-probability (with --nbest, nbest: the k best outputs, tokens and log-probabilities)', false)
  .action(async (texts: string[], o) => {
    if (o.nbest !== undefined && o.nbest > o.beam) throw new InputError(`--nbest ${o.nbest} lists outputs of a beam search as wide: give --beam ${o.nbest} or more`);
    const unwritable = o.plot === undefined ? undefined : unwritableFile(o.plot);
    if (unwritable !== undefined) throw plotError(o.plot, unwritable);
    const { models, rescorers, vocabularies, config } = loadDecoders(o);
    const lines = inputLines(texts, o.file);
    if (lines.length === 0) throw new InputError('nothing to translate: give texts as arguments, with --file, or on stdin');
    const tokenize = sourceTokenizer(config.text);
    const limit = config.limits.maxSourceLength;
    const sources = lines.map((line, i) => {
      const tokens = tokenize(line);
      const where = texts.length > 0 ? `input ${i + 1}` : `${o.file ?? 'stdin'}:${i + 1}`;
      if (tokens.length === 0) throw new InputError(`${where}: no tokens after tokenising (${JSON.stringify(line.slice(0, 40))}); give it text`);
      if (tokens.length > limit) {
        if (o.tooLong === 'refuse') throw new InputError(`${where}: ${tokens.length} tokens, over the model's limit of ${limit}; shorten it, or pass --too-long truncate`);
        process.stderr.write(`translate: ${where}: ${tokens.length} tokens, over the model's limit of ${limit}: only the first ${limit} are translated (--too-long refuse to refuse instead)\n`);
      }
      return tokens.slice(0, limit);
    });
    const unknown = [...new Set(sources.flat().filter((t) => vocabularies.source.indexOf(t) === vocabularies.source.unkIndex))];
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 10).map((t) => JSON.stringify(t)).join(', ');
      process.stderr.write(`translate: ${unknown.length} input token${unknown.length === 1 ? '' : 's'} not in the model's vocabulary, read as <unk>: ${shown}${unknown.length > 10 ? ', ...' : ''}\n`);
    }
    if (o.plot !== undefined && models.every((model) => model.config.attention === 'none')) throw new InputError(`--plot: ${models.length === 1 ? 'this model has' : 'these models have'} no attention to plot (trained with --attention none)`);
    await withBackend(o.backend, async (backend) => {
      for (const model of [...models, ...rescorers]) model.to(backend);
      const decoded = await translateTokens(models, vocabularies, sources, { beam: o.beam, lengthPenalty: o.lengthPenalty, maxTokens: o.maxTokens, batchSize: 64, rescorers, rescoreWeight: o.rescoreWeight, rescorersDecode: o.rescorersDecode === true });
      const targetKind = config.text.target.kind ?? 'treebank';
      for (const [i, d] of decoded.entries()) {
        const tokens = vocabularies.target.decode(d.tokens);
        const output = detokenize(tokens, targetKind);
        // the k best: the beam's finished outputs (fewer where its step limit cut it short)
        const nbest = o.nbest === undefined ? undefined : (d.candidates ?? [d]).slice(0, o.nbest).map((c) => {
          const words = vocabularies.target.decode(c.tokens);
          return { output: detokenize(words, targetKind), tokens: words, logProbability: c.logProbability };
        });
        if (o.json) {
          const unknownHere = sources[i]!.filter((t) => vocabularies.source.indexOf(t) === vocabularies.source.unkIndex);
          process.stdout.write(`${JSON.stringify({ input: lines[i], output, tokens, unknown: unknownHere, logProbability: d.logProbability, ...(nbest ? { nbest } : {}) })}\n`);
        } else if (nbest) {
          for (const c of nbest) process.stdout.write(`${lines[i]}\t${c.logProbability.toFixed(4)}\t${c.output}\n`);
        } else {
          process.stdout.write(`${output}\n`);
        }
        if (o.plot !== undefined) {
          const file = lines.length === 1 ? o.plot : o.plot.replace(/(\.svg)?$/i, `-${i + 1}.svg`);
          const svg = await attentionHeatmap(sources[i]!, tokens, d, `${lines[i]!.slice(0, 60)} -> ${output.slice(0, 60)}`);
          try {
            writeFileAtomic(file, [svg]);
          } catch (error) {
            throw plotError(file, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
          }
        }
      }
    }, announce(program.opts().verbose as boolean));
  });

program
  .command('export')
  .description('write the model as two ONNX files, encoder.onnx and decoder.onnx (one decoding step), for onnxruntime-web in a browser or any ONNX runtime')
  .option('--model <dir>', 'model folder', 'models/translate')
  .requiredOption('--onnx <dir>', 'the folder to write encoder.onnx and decoder.onnx into (created if missing)')
  .option('--json', 'print a JSON line: the files, their bytes, the inputs and outputs', false)
  .action((o) => {
    requireWritable(o.onnx, 'the ONNX folder', '--onnx', 'folder');
    const { models, config } = loadModelFolders([o.model]);
    const model = models[0]!;
    const doc = `translate (${config.task}); source tokens ${JSON.stringify(config.text.source)} with source-vocabulary.json of ${o.model}, `
      + `target tokens ${JSON.stringify(config.text.target)} with target-vocabulary.json; <bos> = ${BOS_INDEX}, <eos> = ${EOS_INDEX}`
      + `${model.config.reverseTarget ? '; the target comes out last token first' : ''}`;
    const { encoder, decoder } = translateToOnnx(model, doc);
    try {
      mkdirSync(o.onnx, { recursive: true });
    } catch (error) {
      throw new InputError(`${o.onnx}: cannot create the ONNX folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a writable folder with --onnx`);
    }
    const files = { encoder: join(o.onnx, 'encoder.onnx'), decoder: join(o.onnx, 'decoder.onnx') };
    writeFileAtomic(files.encoder, [encoder]);
    writeFileAtomic(files.decoder, [decoder]);
    const summary = {
      ...files, bytes: encoder.length + decoder.length, bos: BOS_INDEX, eos: EOS_INDEX, reverseTarget: model.config.reverseTarget === true,
      encoder: { inputs: ['source', 'lengths'], outputs: ['memory', ...(model.attention ? ['keys'] : []), 'h', ...(model.config.cell === 'lstm' ? ['c'] : []), ...(model.config.inputFeeding && model.config.attention !== 'additive' ? ['feed'] : [])] },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stdout.write(`wrote ${files.encoder} and ${files.decoder} (${summary.bytes.toLocaleString('en-US')} bytes): the encoder once per source batch, the decoder once per output step (<bos> = ${BOS_INDEX} first, until <eos> = ${EOS_INDEX})\n`);
  });

await runProgram(program, 'translate');
