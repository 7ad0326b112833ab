/**
 * `sentiment`: train a recurrent text classifier (IMDB by default, or your CSV/TSV/folder),
 * evaluate it, and label new text.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, plainWhenPiped, shuffle, withBackend, writeFileAtomic } from '@recurrent/core';
import { loadClassificationData, loadImdb, readTextFile, type LabelledData, type LabelledText } from '@recurrent/datasets-text';
import { classificationReport, createTokenizer, type TokenizerOptions, type Truncation } from '@recurrent/text';
import {
  addTrainingOptions, announce, backendOption, checkAverageLast, checkRunFolder, reportLrFinder, choiceFlag as choice, fractionFlag as fraction, integerFlag as integer, interruptibleTraining, runProgram,
  requireWritable,
} from '@recurrent/train';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { InputError, loadModelFolder } from './folder.js';
import { sentimentToOnnx } from './model.js';
import { evaluate, predict, prepare, trainSentiment } from './pipeline.js';

/** How training texts are tokenised (stored in the model folder, which eval and predict follow). */
const TOKENIZER: TokenizerOptions = { kind: 'treebank', lowercase: true, stripHtml: true };

/** A seeded shuffle of examples, so `--limit` takes a fair sample. */
function sample<T>(items: readonly T[], count: number | undefined, seed: number): T[] {
  const out = shuffle(items, mulberry32(seed));
  return count === undefined ? out : out.slice(0, count);
}

interface DataSplit {
  labels: readonly string[];
  train: LabelledText[];
  validation: LabelledText[];
  test: LabelledText[];
}

/** The examples, each carrying the file and line it comes from (for messages about it). */
const withOrigins = (data: LabelledData): LabelledText[] => data.examples.map((example, i) => ({ ...example, origin: data.origins[i]! }));

/** Refuses data a classifier cannot be trained on: one class only, or a class with a single example. */
function refuseUntrainable(source: string, data: LabelledData): void {
  if (data.labels.length < 2) {
    throw new InputError(`${source}: every example has the label ${JSON.stringify(data.labels[0])}; a classifier needs at least 2 classes: add examples of another label`);
  }
  const counts = new Array<number>(data.labels.length).fill(0);
  for (const e of data.examples) counts[e.label]! += 1;
  const lone = counts.indexOf(1);
  if (lone < 0) return;
  const i = data.examples.findIndex((e) => e.label === lone);
  const label = JSON.stringify(data.labels[lone]);
  throw new InputError(
    i === 0 && data.origins[0]!.endsWith(':1')
      ? `${data.origins[0]}: label ${label} appears only on this line, so it looks like a header; name the columns text and label, or remove the row`
      : `${data.origins[i]}: the only example of label ${label}; a class needs at least 2 examples: add more, or remove this one`,
  );
}

/** IMDB (its seeded split) or the user's data (90% train / 10% validation, seeded; no test). */
function loadData(source: string, seed: number): DataSplit {
  if (source === 'imdb') return loadImdb();
  const data = loadClassificationData(source);
  refuseUntrainable(source, data);
  const shuffled = sample(withOrigins(data), undefined, seed);
  const validationSize = Math.max(1, Math.round(shuffled.length / 10));
  return { labels: data.labels, train: shuffled.slice(validationSize), validation: shuffled.slice(0, validationSize), test: [] };
}

const program = new Command('sentiment')
  .description('Sentiment (or any text class) with recurrent networks: train on IMDB or your own data, evaluate, predict.')
  .option('--verbose', 'say which backend runs and why; print stack traces on errors', false)
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(message) });

addTrainingOptions(program
  .command('train')
  .description('train a classifier and write the model folder (config.json, model.safetensors, vocabulary.json)')
  .option('--data <imdb|path>', 'imdb (50,000 reviews, seeded 25k/25k split), or a CSV/TSV of text,label, or a folder of class folders', 'imdb')
  .option('--out <dir>', 'model folder to write; checkpoints and metrics.jsonl go to <dir>/run', 'models/sentiment')
  .option('--epochs <n>', 'passes over the training data', integer('--epochs', 1), 3)
  .option('--batch-size <n>', 'reviews per batch', integer('--batch-size', 1), 32)
  .addOption(new Option('--cell <type>', 'recurrent cell').choices(['lstm', 'gru', 'rnn']).default('lstm'))
  .option('--layers <n>', 'stacked recurrent layers', integer('--layers', 1), 1)
  .option('--hidden <n>', 'hidden units per direction', integer('--hidden', 1), 64)
  .option('--embedding <n>', 'word embedding size', integer('--embedding', 1), 64)
  .option('--unidirectional', 'one direction only (default: bidirectional)', false)
  .addOption(new Option('--pooling <mode>', 'how the steps become one vector: last state, mean or max over the review').choices(['last', 'mean', 'max']).default('max'))
  .option('--dropout <p>', 'dropout before the classifier (and between layers)', fraction('--dropout', 1), 0.2)
  .option('--recurrent-dropout <p>', 'Keras\'s recurrent_dropout: a mask on the state entering each step, the same at every step', fraction('--recurrent-dropout', 1), 0)
  .option('--max-length <n>', 'tokens kept per review', integer('--max-length', 1), 256)
  .option('--truncation <policy>', 'which tokens a longer review keeps: head, tail, head+tail', choice('--truncation', ['head', 'tail', 'head+tail'] as const), 'head+tail')
  .option('--vocab-size <n>', 'largest vocabulary (most frequent tokens)', integer('--vocab-size', 3), 20000)
  .option('--min-freq <n>', 'drop tokens seen fewer times', integer('--min-freq', 1), 2)
  .addOption(new Option('--class-weights <mode>', 'weigh each class\'s loss: none, or balanced (N / (C x its count): a rare class counts as much as a common one)').choices(['none', 'balanced']).default('none'))
  .option('--limit <n>', 'train on a seeded sample of this many reviews (validation: a fifth of it), for quick runs', integer('--limit', 2)), {
  lr: 2e-3, schedule: 'constant', clip: 1, checkpointEvery: 200, monitored: 'validation accuracy', seeded: 'weights, dropout and batch order',
})
  .addOption(backendOption())
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (o) => {
    const verbose = program.opts().verbose as boolean;
    requireWritable(o.out, 'the model folder', '--out', 'folder');
    checkRunFolder(join(o.out, 'run'), o.resume);
    checkAverageLast(o.averageLast, o.epochs);
    const data = loadData(o.data, o.seed);
    const trainSet = o.limit === undefined ? data.train : sample(data.train, o.limit, o.seed);
    const validation = o.limit === undefined ? data.validation : sample(data.validation, Math.max(2, Math.round(o.limit / 5)), o.seed);
    // Ctrl-C (or SIGTERM) once: finish the step, write a checkpoint, stop; twice: quit at once.
    const interrupt = interruptibleTraining('sentiment');
    try {
      await withBackend(o.backend, async (backend) => {
        const started = Date.now();
        const { summary, validation: result } = await trainSentiment({
          backend, out: o.out, source: o.data, labels: data.labels, train: trainSet, validation,
          model: { embedding: o.embedding, hidden: o.hidden, layers: o.layers, cell: o.cell, bidirectional: !o.unidirectional, pooling: o.pooling, dropout: o.dropout, ...(o.recurrentDropout > 0 ? { recurrentDropout: o.recurrentDropout } : {}), seed: o.seed },
          tokenizer: TOKENIZER, vocabularySize: o.vocabSize, minFrequency: o.minFreq,
          maxLength: o.maxLength, truncation: o.truncation as Truncation, batchSize: o.batchSize, epochs: o.epochs, lr: o.lr, schedule: o.schedule, clipNorm: o.clip,
          patience: o.patience, classWeights: o.classWeights as 'none' | 'balanced', ...(o.timeLimit === undefined ? {} : { timeLimitSeconds: 60 * o.timeLimit }), ...(o.averageLast === undefined ? {} : { averageLast: o.averageLast }), ...(o.accumulate === undefined ? {} : { accumulate: o.accumulate }), findLr: o.findLr,
          resume: o.resume, checkpointEvery: o.checkpointEvery, progress: !o.json || verbose, signal: interrupt.signal,
        });
        if (summary.lrFinder) {
          reportLrFinder('sentiment', summary.lrFinder, o.json);
          return;
        }
        if (summary.interrupted || result === undefined) {
          interrupt.reportStopped(o.out, summary, o.json);
          return;
        }
        const seconds = (Date.now() - started) / 1000;
        const report = {
          out: o.out, trainExamples: trainSet.length, validationExamples: validation.length, epochs: summary.epochsCompleted, steps: summary.steps,
          stoppedEarly: summary.stoppedEarly, timedOut: summary.timedOut, ...(summary.average ? { average: summary.average } : {}), validationAccuracy: result.accuracy, validationLoss: result.loss, seconds, trainingSeconds: summary.trainingSeconds,
        };
        if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else process.stdout.write(`trained on ${trainSet.length} reviews in ${seconds.toFixed(0)} s (${summary.epochsCompleted} epochs): best validation accuracy ${(100 * result.accuracy).toFixed(2)}% (${validation.length} reviews); model in ${o.out}\n`);
      }, announce(true));
    } finally {
      interrupt.release();
    }
  });

program
  .command('eval')
  .description('accuracy and confusion matrix of a model on held-out data')
  .option('--model <dir>', 'model folder', 'models/sentiment')
  .option('--data <imdb|path>', 'imdb (its 25,000-review test split) or a CSV/TSV/folder with the model\'s labels', 'imdb')
  .option('--limit <n>', 'evaluate a seeded sample of this many examples', integer('--limit', 1))
  .option('--max-length <n>', 'tokens kept per text (default: what the model was trained with; pooling reads any length)', integer('--max-length', 1))
  .addOption(backendOption())
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (o) => {
    const { model, vocabulary, config } = loadModelFolder(o.model);
    const maxLength: number = o.maxLength ?? config.maxLength;
    let examples: LabelledText[];
    if (o.data === 'imdb') {
      examples = loadImdb().test;
    } else {
      const data = loadClassificationData(o.data);
      // Map the file's labels onto the model's by name.
      const unknown = data.examples.findIndex((e) => !config.labels.includes(data.labels[e.label]!));
      if (unknown >= 0) {
        throw new InputError(
          `${data.origins[unknown]}: label ${JSON.stringify(data.labels[data.examples[unknown]!.label])} is not one the model knows (${config.labels.join(', ')}); remove such rows, or evaluate a model trained with that label`,
        );
      }
      examples = withOrigins(data).map((e) => ({ ...e, label: config.labels.indexOf(data.labels[e.label]!) }));
    }
    examples = o.limit === undefined ? examples : sample(examples, o.limit, 1);
    await withBackend(o.backend, async (backend) => {
      model.to(backend);
      const tokenize = createTokenizer(config.tokenizer);
      const data = prepare(examples, tokenize, vocabulary, maxLength, config.truncation, o.data);
      const result = await evaluate(model, data, 64, backend);
      const scores = classificationReport(result.confusion);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({
          examples: examples.length, maxLength, accuracy: result.accuracy, loss: result.loss, labels: config.labels, confusion: result.confusion,
          macroF1: scores.macroF1, classes: Object.fromEntries(config.labels.map((label, i) => [label, scores.classes[i]])),
        })}\n`);
        return;
      }
      const table = new Table({ head: ['true \\ predicted', ...config.labels, 'precision', 'recall', 'F1'], style: plainWhenPiped() });
      const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
      result.confusion.forEach((row, i) => {
        const k = scores.classes[i]!;
        table.push([config.labels[i]!, ...row.map(String), percent(k.precision), percent(k.recall), percent(k.f1)]);
      });
      process.stdout.write(`accuracy ${(100 * result.accuracy).toFixed(2)}% on ${examples.length} examples (loss ${result.loss.toFixed(4)}), macro F1 ${percent(scores.macroF1)}\n${table.toString()}\n`);
    }, announce(program.opts().verbose as boolean));
  });

program
  .command('predict')
  .description('label texts given as arguments, or one per line on stdin (or from --file)')
  .argument('[texts...]', 'texts to label')
  .option('--model <dir>', 'model folder', 'models/sentiment')
  .option('--file <path>', 'read texts from this file, one per line')
  .addOption(backendOption())
  .option('--json', 'print JSON lines: text, label, probabilities', false)
  .action(async (texts: string[], o) => {
    const { model, vocabulary, config } = loadModelFolder(o.model);
    let inputs = texts;
    if (inputs.length === 0) {
      let content: string;
      if (o.file !== undefined) {
        content = readTextFile(o.file);
      } else {
        try {
          content = readFileSync(0, 'utf8');
        } catch (error) {
          throw new InputError(`stdin: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give texts as arguments or with --file`);
        }
      }
      inputs = content.split(/\r?\n/).filter((line) => line.trim().length > 0);
    }
    if (inputs.length === 0) throw new InputError('no text to label: give texts as arguments, with --file, or on stdin');
    await withBackend(o.backend, async (backend) => {
      model.to(backend);
      const probabilities = await predict(model, inputs, createTokenizer(config.tokenizer), vocabulary, config.maxLength, config.truncation);
      probabilities.forEach((p, i) => {
        const best = p.indexOf(Math.max(...p));
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ text: inputs[i], label: config.labels[best], probability: p[best], probabilities: Object.fromEntries(config.labels.map((l, k) => [l, p[k]])) })}\n`);
        } else {
          process.stdout.write(`${config.labels[best]}\t${p[best]!.toFixed(3)}\n`);
        }
      });
    }, announce(program.opts().verbose as boolean));
  });

program
  .command('export')
  .description('write the model as ONNX (for onnxruntime-web in a browser, or any ONNX runtime)')
  .option('--model <dir>', 'model folder', 'models/sentiment')
  .requiredOption('--onnx <file>', 'the .onnx file to write (inputs tokens, lengths; outputs logits, probabilities)')
  .option('--json', 'print a JSON line: the file, its bytes, the inputs and outputs', false)
  .action((o) => {
    requireWritable(o.onnx, 'the ONNX model', '--onnx');
    const { model, config } = loadModelFolder(o.model);
    const doc = `sentiment classifier; labels ${JSON.stringify(config.labels)}; tokenizer ${JSON.stringify(config.tokenizer)}, `
      + `ids from vocabulary.json of ${o.model}, at most ${config.maxLength} tokens (${config.truncation})`;
    const bytes = sentimentToOnnx(model, doc);
    writeFileAtomic(o.onnx, [bytes]);
    const summary = {
      onnx: o.onnx, bytes: bytes.length, labels: config.labels,
      inputs: { tokens: 'int64 [batch, steps], vocabulary ids, 0 = padding', lengths: 'int32 [batch]' },
      outputs: { logits: `float32 [batch, ${config.labels.length}]`, probabilities: `float32 [batch, ${config.labels.length}]` },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stdout.write(`wrote ${o.onnx} (${bytes.length.toLocaleString('en-US')} bytes): tokens int64 [batch, steps] and lengths int32 [batch] -> logits, probabilities over ${config.labels.join(', ')}\n`);
  });

await runProgram(program, 'sentiment');
