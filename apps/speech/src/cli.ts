/**
 * `speech`: synthesise a data set with eSpeak-NG, train a CTC model (bidirectional LSTM/GRU over
 * log-mel frames), evaluate it (character and word error rates), and label WAV files with the
 * start and end time of each word.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { AudioError } from '@recurrent/audio';
import { withBackend, writeFileAtomic } from '@recurrent/core';
import type { Section } from '@recurrent/plot';
import {
  addTrainingOptions, announce, backendOption, checkAverageLast, checkRunFolder, reportLrFinder, fractionFlag, InputError, integerFlag, interruptibleTraining, positiveFlag, requireWritable, runProgram,
} from '@recurrent/train';
import { Command, Option } from 'commander';
import { audioFeatures, DEFAULT_FEATURES, entriesFor, loadUtterances, type FeatureSettings, type Split, type Utterance } from './data.js';
import { loadModelFolder } from './folder.js';
import { LABEL_UNITS, type LabelSet, type LabelUnit } from './labels.js';
import { speechToOnnx, type SpeechModel } from './model.js';
import { evaluate, trainSpeech, transcribe, type Transcription } from './pipeline.js';
import { posteriorPlot } from './plots.js';

const program = new Command('speech')
  .description('CTC speech labelling: synthesise data, train, evaluate, and label WAV files with word times.')
  .option('--verbose', 'say which backend runs and why; print stack traces on errors', false)
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(message) });

const beamOption = () => new Option('--beam <n>', 'prefix beam search width (1: greedy)').argParser(integerFlag('--beam', 1, 1000)).default(1);
const skipBadOption = () => new Option('--skip-bad', 'list bad WAV files (and transcript lines naming missing ones) on stderr and leave them out, instead of stopping').default(false);
const warn = (line: string) => process.stderr.write(`speech: ${line}\n`);

/** Writes a file atomically, or says which path to fix. */
function writeOutput(file: string, parts: string[], what: string, flag: string): void {
  try {
    writeFileAtomic(file, parts);
  } catch (error) {
    throw new InputError(`${file}: cannot write ${what} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a writable path with ${flag}`);
  }
}

/** --plot's flag text in messages: the folder to check. */
const plotFlag = (file: string) => `--plot (check that ${dirname(file)} exists)`;

program
  .command('synth')
  .description('synthesise a speech data set with eSpeak-NG (train/validation/test WAVs and transcripts; test voices are never heard in training)')
  .addOption(new Option('--task <name>', 'digits: strings of 1-7 digits; words: single common English words').choices(['digits', 'words']).default('digits'))
  .option('--out <dir>', 'folder to write (kept as a cache: the same options again reuse it)', 'data/speech-digits')
  .option('--train <n>', 'training utterances', integerFlag('--train', 1, 1_000_000), 3000)
  .option('--validation <n>', 'validation utterances', integerFlag('--validation', 1, 1_000_000), 200)
  .option('--test <n>', 'test utterances', integerFlag('--test', 1, 1_000_000), 500)
  .option('--noise <p>', 'share of utterances given white noise at 10-30 dB SNR', fractionFlag('--noise', 1), 0.3)
  .option('--seed <n>', 'seed of texts, voices, rates and pitches', integerFlag('--seed', 0), 1)
  .option('--overwrite', 'replace a folder generated with other options', false)
  .option('--json', 'print the manifest as JSON on stdout', false)
  .action(async (o) => {
    requireWritable(o.out, 'the folder', '--out', 'folder');
    const started = Date.now();
    let last = 0;
    // The generator is GPL-3.0 (it links eSpeak-NG): loaded only here, so training, evaluating and
    // labelling never run any of it, and nothing it holds ends up in a model.
    const { generateSpeechDataset } = await import('@recurrent/datasets-speech');
    const manifest = await generateSpeechDataset({
      task: o.task as 'digits' | 'words', dir: o.out, train: o.train, validation: o.validation, test: o.test, seed: o.seed, overwrite: o.overwrite,
      ...(o.noise > 0 ? { noise: { probability: o.noise, snrDb: [10, 30] as [number, number] } } : {}),
      onProgress: ({ overallDone, overallTotal }) => {
        if (o.json || Date.now() - last < 2000) return;
        last = Date.now();
        process.stderr.write(`speech: synthesised ${overallDone} of ${overallTotal}\r`);
      },
    });
    if (last > 0) process.stderr.write('\r\x1b[K');
    const seconds = (Date.now() - started) / 1000;
    if (o.json) process.stdout.write(`${JSON.stringify(manifest)}\n`);
    else process.stdout.write(`${o.out}: ${o.train} training, ${o.validation} validation, ${o.test} test utterances (${seconds.toFixed(0)} s)\n`);
  });

/** Sections for the run's report: the first validation utterances' spectrograms and posteriors. */
async function posteriorSections(model: SpeechModel, labels: LabelSet, utterances: readonly Utterance[], features: FeatureSettings): Promise<Section[]> {
  const shown = utterances.slice(0, 2);
  if (shown.length === 0) return [];
  const transcriptions = await transcribe(model, labels, shown, features, { beam: 1, batchSize: shown.length, keepPosteriors: true });
  const blocks = await Promise.all(shown.map(async (u, i) => ({
    kind: 'svg' as const,
    svg: await posteriorPlot(u, transcriptions[i]!, labels, features, `${basename(u.file)}: "${transcriptions[i]!.text}"`),
    caption: `reference: "${u.text}"`,
  })));
  return [{ heading: 'Spectrograms and CTC posteriors (validation)', blocks }];
}

addTrainingOptions(program
  .command('train')
  .description('train a CTC model and write its folder (config.json, model.safetensors)')
  .option('--data <dir|file>', 'a folder made by `speech synth`, or your transcript (file<TAB>text lines, or a CSV with path,sentence columns) naming WAVs relative to it', 'data/speech-digits')
  .option('--out <dir>', 'model folder to write; checkpoints, metrics and the report go to <dir>/run', 'models/speech')
  .option('--epochs <n>', 'passes over the training utterances', integerFlag('--epochs', 1), 20)
  .option('--batch-size <n>', 'utterances per batch', integerFlag('--batch-size', 1, 100_000), 32)
  .addOption(new Option('--cell <type>', 'recurrent cell').choices(['lstm', 'gru']).default('lstm'))
  .option('--hidden <n>', 'units per direction', integerFlag('--hidden', 1, 65_536), 128)
  .option('--layers <n>', 'bidirectional layers', integerFlag('--layers', 1, 64), 2)
  .option('--stack <n>', 'log-mel frames (10 ms each) stacked into one recurrent step', integerFlag('--stack', 1, 64), 3)
  .option('--mel-bins <n>', 'log-mel filterbank channels', integerFlag('--mel-bins', 8, 512), DEFAULT_FEATURES.melBins)
  .addOption(new Option('--labels <unit>', 'what the model emits: characters, or whole words').choices(LABEL_UNITS).default('characters'))
  .option('--dropout <p>', 'dropout between layers and before the output layer', fractionFlag('--dropout', 1), 0.1)
  .option('--no-augment', 'train without SpecAugment time and frequency masks')
  .option('--limit <n>', 'train on the first n training utterances, for quick runs', integerFlag('--limit', 1))
  .option('--validation-limit <n>', 'validate on the first n validation utterances', integerFlag('--validation-limit', 1))
  .addOption(skipBadOption()), {
  lr: 2e-3, schedule: 'cosine', clip: 5, checkpointEvery: 200, monitored: 'validation CER', seeded: 'weights, dropout, augmentation and batch order',
})
  .addOption(backendOption())
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (o) => {
    const verbose = program.opts().verbose as boolean;
    requireWritable(o.out, 'the model folder', '--out', 'folder');
    checkRunFolder(join(o.out, 'run'), o.resume);
    checkAverageLast(o.averageLast, o.epochs);
    const features: FeatureSettings = { ...DEFAULT_FEATURES, melBins: o.melBins };
    const load = (split: Split, limit: number | undefined) => loadUtterances(entriesFor(o.data, split, o.seed), { features, skipBad: o.skipBad, warn, ...(limit === undefined ? {} : { limit }) });
    const trainSet = load('train', o.limit);
    const validationSet = load('validation', o.validationLimit);
    const skipped = trainSet.skipped.length + validationSet.skipped.length;
    if (skipped > 0) warn(`${skipped} bad file${skipped === 1 ? '' : 's'} left out (listed above)`);
    const interrupt = interruptibleTraining('speech');
    try {
      await withBackend(o.backend, async (backend) => {
        const started = Date.now();
        const result = await trainSpeech({
          backend, out: o.out, data: o.data, train: trainSet.utterances, validation: validationSet.utterances, features, unit: o.labels as LabelUnit,
          model: { stack: o.stack, hidden: o.hidden, layers: o.layers, cell: o.cell, dropout: o.dropout, seed: o.seed },
          batchSize: o.batchSize, epochs: o.epochs, lr: o.lr, schedule: o.schedule, clipNorm: o.clip,
          augment: o.augment ? { timeMasks: 2, timeMaskMax: 10, freqMasks: 2, freqMaskMax: 6 } : undefined,
          patience: o.patience, ...(o.timeLimit === undefined ? {} : { timeLimitSeconds: 60 * o.timeLimit }), ...(o.averageLast === undefined ? {} : { averageLast: o.averageLast }), ...(o.accumulate === undefined ? {} : { accumulate: o.accumulate }), findLr: o.findLr,
          resume: o.resume, checkpointEvery: o.checkpointEvery, progress: !o.json || verbose, signal: interrupt.signal,
          reportSections: (model, labels) => posteriorSections(model, labels, validationSet.utterances, features),
        });
        const { summary } = result;
        if (summary.lrFinder) {
          reportLrFinder('speech', summary.lrFinder, o.json);
          return;
        }
        if (summary.interrupted) {
          interrupt.reportStopped(o.out, summary, o.json);
          return;
        }
        const seconds = (Date.now() - started) / 1000;
        const report = {
          out: o.out, trainUtterances: trainSet.utterances.length - result.tooShort, leftOut: result.tooShort, skippedFiles: skipped, epochs: summary.epochsCompleted,
          steps: summary.steps, validation: summary.validation, best: summary.best, ...(summary.average ? { average: summary.average } : {}), seconds, trainingSeconds: summary.trainingSeconds, timedOut: summary.timedOut,
        };
        if (o.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
        } else {
          const metrics = Object.entries(summary.validation ?? {}).map(([k, v]) => `${k} ${v.toFixed(k === 'loss' ? 4 : 2)}${k === 'loss' ? '' : '%'}`).join(', ');
          process.stdout.write(`trained on ${report.trainUtterances} utterances in ${seconds.toFixed(0)} s (${summary.epochsCompleted} epochs); last validation: ${metrics}; model in ${o.out}, report in ${join(o.out, 'run', 'report.html')}\n`);
          if (result.tooShort > 0) warn(`${result.tooShort} training utterances too short for their transcripts at --stack ${o.stack} were left out`);
        }
      }, announce(verbose));
    } finally {
      interrupt.release();
    }
  });

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
const clean = (text: string) => text.replace(/[\t\n\r]+/g, ' ');

program
  .command('eval')
  .description('character and word error rates on held-out data; writes every transcript to a TSV')
  .option('--model <dir>', 'model folder', 'models/speech')
  .option('--data <dir|file>', "a `speech synth` folder or a transcript file (default: the model's training data)")
  .addOption(new Option('--split <name>', 'which part: of a `speech synth` folder; of your transcript, test is all of it and validation the part training held out').choices(['test', 'validation']).default('test'))
  .addOption(beamOption())
  .option('--limit <n>', 'evaluate the first n utterances', integerFlag('--limit', 1))
  .option('--batch-size <n>', 'utterances run at once', integerFlag('--batch-size', 1, 100_000), 32)
  .option('--outputs <file>', 'where to write file, transcript and reference of every utterance (default: <model>/outputs-<split>-beam<N>.tsv)')
  .option('--samples <n>', 'transcripts to print', integerFlag('--samples', 0), 5)
  .addOption(skipBadOption())
  .addOption(backendOption())
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (o) => {
    requireWritable(o.outputs, 'the transcripts', '--outputs');
    const { model, labels, config } = loadModelFolder(o.model);
    const data = (o.data as string | undefined) ?? (config.training.data as string | undefined);
    if (data === undefined) throw new InputError('give the data to evaluate on with --data (a `speech synth` folder or a transcript file)');
    const { utterances, skipped } = loadUtterances(entriesFor(data, o.split, config.model.seed), { features: config.features, skipBad: o.skipBad, warn, ...(o.limit === undefined ? {} : { limit: o.limit }) });
    if (utterances.length === 0) throw new InputError(`${data}: no utterances to evaluate`);
    for (const u of utterances) labels.encode(u.text, u.where); // a label outside the model's set is refused, naming the line
    await withBackend(o.backend, async (backend) => {
      model.to(backend);
      const started = Date.now();
      const result = await evaluate(model, labels, utterances, config.features, { beam: o.beam, batchSize: o.batchSize });
      const seconds = (Date.now() - started) / 1000;
      const outputs = o.outputs ?? join(o.model, `outputs-${o.split}-beam${o.beam}.tsv`);
      writeOutput(outputs, ['file\ttranscript\treference\n', ...utterances.map((u, i) => `${u.file}\t${clean(result.transcriptions[i]!.text)}\t${clean(u.text)}\n`)], 'the transcripts', '--outputs');
      const audioSeconds = utterances.reduce((s, u) => s + u.seconds, 0);
      const summary = { data, split: o.split, utterances: utterances.length, skippedFiles: skipped.length, beam: o.beam, cer: result.cer, wer: result.wer, seconds, audioSeconds, outputs };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const lines = [
        `${data} (${o.split}): ${utterances.length} utterances, ${audioSeconds.toFixed(0)} s of audio, ${o.beam === 1 ? 'greedy' : `beam ${o.beam}`}, ${seconds.toFixed(1)} s`,
        `  character error rate ${percent(result.cer)}   word error rate ${percent(result.wer)}`,
        ...utterances.slice(0, o.samples).map((u, i) => `  ${basename(u.file)}: "${result.transcriptions[i]!.text}"   (reference: "${u.text}")`),
        `  every transcript: ${outputs}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }, announce(program.opts().verbose as boolean));
  });

/** An Audacity label track: start<TAB>end<TAB>label per line, seconds with 6 decimals. */
function labelTrack(transcription: Transcription): string {
  return transcription.words.map((w) => `${w.start.toFixed(6)}\t${w.end.toFixed(6)}\t${w.text}\n`).join('');
}

program
  .command('label')
  .description('transcribe WAV files, with the start and end time of each word')
  .argument('<files...>', 'WAV files (any sample rate, 8-32 bit PCM or float, mono or stereo)')
  .option('--model <dir>', 'model folder', 'models/speech')
  .addOption(beamOption())
  .option('--tracks <dir>', 'also write an Audacity label track per file: <dir>/<name>.txt (File > Import > Labels)')
  .option('--plot <file.svg>', 'write the spectrogram with the CTC posteriors under it (several files: file-1.svg, file-2.svg, ...)')
  .option('--max-seconds <s>', 'refuse files longer than this', positiveFlag('--max-seconds'), 600)
  .addOption(skipBadOption())
  .addOption(backendOption())
  .option('--json', 'print a JSON line per file: text, words and labels with start and end seconds', false)
  .action(async (files: string[], o) => {
    requireWritable(o.tracks, 'the folder', '--tracks', 'folder');
    requireWritable(o.plot, 'the plot', o.plot === undefined ? '' : plotFlag(o.plot));
    const { model, labels, config } = loadModelFolder(o.model);
    const utterances: Utterance[] = [];
    const skipped: string[] = [];
    for (const file of files) {
      try {
        const { features, frames, seconds } = audioFeatures(file, config.features);
        // To the millisecond: a 0.3 s file over --max-seconds 0.1 is not "0 s long".
        if (seconds > o.maxSeconds) throw new InputError(`${file}: ${Number(seconds.toFixed(3))} s long, over --max-seconds ${o.maxSeconds}; split it, or raise --max-seconds`);
        utterances.push({ file, where: file, text: '', features, frames, seconds });
      } catch (error) {
        if (!(error instanceof AudioError || error instanceof InputError)) throw error;
        if (!o.skipBad) throw new InputError(files.length > 1 ? `${error.message} (or pass --skip-bad to list and leave out bad files)` : error.message);
        skipped.push(error.message);
        warn(`skipped: ${error.message}`);
      }
    }
    if (utterances.length === 0) throw new InputError(`no file could be read (${skipped.length} bad); give WAV files`);
    if (o.tracks !== undefined) {
      try {
        mkdirSync(o.tracks, { recursive: true });
      } catch (error) {
        throw new InputError(`${o.tracks}: cannot create the folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a writable folder with --tracks`);
      }
    }
    await withBackend(o.backend, async (backend) => {
      model.to(backend);
      const transcriptions = await transcribe(model, labels, utterances, config.features, { beam: o.beam, batchSize: 16, keepPosteriors: o.plot !== undefined });
      for (const [i, t] of transcriptions.entries()) {
        const u = utterances[i]!;
        if (o.json) {
          const round = (x: number) => Math.round(x * 1000) / 1000;
          const timed = (list: Transcription['words']) => list.map((w) => ({ text: w.text, start: round(w.start), end: round(w.end) }));
          process.stdout.write(`${JSON.stringify({ file: u.file, text: t.text, seconds: round(u.seconds), words: timed(t.words), labels: timed(t.tokens) })}\n`);
        } else {
          process.stdout.write(`${u.file}: ${t.text}\n${t.words.map((w) => `  ${w.start.toFixed(2)}-${w.end.toFixed(2)} s  ${w.text}\n`).join('')}`);
        }
        if (o.tracks !== undefined) writeOutput(join(o.tracks, `${basename(u.file, extname(u.file))}.txt`), [labelTrack(t)], 'the label track', '--tracks');
        if (o.plot !== undefined) {
          const file = utterances.length === 1 ? o.plot : o.plot.replace(/(\.svg)?$/i, `-${i + 1}.svg`);
          const svg = await posteriorPlot(u, t, labels, config.features, `${basename(u.file)}: "${t.text}"`);
          writeOutput(file, [svg], 'the plot', plotFlag(file));
        }
      }
    }, announce(program.opts().verbose as boolean));
  });

program
  .command('export')
  .description('write the acoustic model as ONNX (for onnxruntime-web in a browser, or any ONNX runtime)')
  .option('--model <dir>', 'model folder', 'models/speech')
  .requiredOption('--onnx <file>', 'the .onnx file to write (inputs frames, lengths; outputs log_probs, steps)')
  .option('--json', 'print a JSON line: the file, its bytes, the labels and feature settings', false)
  .action((o) => {
    requireWritable(o.onnx, 'the ONNX model', '--onnx');
    const { model, labels, config } = loadModelFolder(o.model);
    const classes = ['<blank>', ...labels.labels];
    const doc = `CTC acoustic model; output classes ${JSON.stringify(classes)} (${labels.unit}); input: normalised log-mel frames, features ${JSON.stringify(config.features)}`;
    const bytes = speechToOnnx(model, doc);
    writeFileAtomic(o.onnx, [bytes]);
    const { melBins } = model.config;
    if (o.json) process.stdout.write(`${JSON.stringify({ onnx: o.onnx, bytes: bytes.length, classes, unit: labels.unit, features: config.features })}\n`);
    else process.stdout.write(`wrote ${o.onnx} (${bytes.length.toLocaleString('en-US')} bytes): frames float32 [batch, frames, ${melBins}] and lengths int32 [batch] -> log_probs over blank and ${labels.labels.length} ${labels.unit} labels, steps\n`);
  });

await runProgram(program, 'speech');
