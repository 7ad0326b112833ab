import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import type { AttentionProfile } from '../src/attention-profile.js';
import { loadModelFolders } from '../src/folder.js';
import { sourceTokenizer } from '../src/pipeline.js';
import { messages, reversals, run } from './helpers.js';

/** The `translate` binary end to end on a task of the user's own: spelling words backwards. */
const folder = mkdtempSync(join(tmpdir(), 'translate-'));
const data = join(folder, 'reverse.tsv');
const heldOut = join(folder, 'held-out.tsv');
const model = join(folder, 'model');
writeFileSync(data, reversals(400, 1));
writeFileSync(heldOut, reversals(60, 2));

describe('translate train, eval, run', () => {
  beforeAll(async () => {
    const trained = await run([
      'train', '--task', data, '--out', model, '--source-tokens', 'characters', '--target-tokens', 'symbols', '--epochs', '8', '--batch-size', '16',
      '--hidden', '16', '--embedding', '8', '--decoder-hidden', '32', '--lr', '0.01', '--min-freq', '1', '--max-source-length', '8', '--validation-decodes', '40', '--json',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    const report = JSON.parse(trained.stdout) as { trainPairs: number; validation: { wer: number } };
    expect(report.trainPairs).toBe(360);
    expect(report.validation.wer).toBeLessThan(15);
  }, 120_000);

  it('writes a model folder and a run report with attention heatmaps', () => {
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ app: 'translate', task: 'pairs', limits: { maxSourceLength: 8 }, text: { source: { kind: 'characters' }, target: { kind: 'symbols' } } });
    for (const file of ['model.safetensors', 'source-vocabulary.json', 'target-vocabulary.json']) expect(existsSync(join(model, file))).toBe(true);
    const html = readFileSync(join(model, 'run', 'report.html'), 'utf8');
    expect(html).toContain('Attention (greedy outputs of validation examples)');
    expect((html.match(/aria-roledescription="rect mark"/g) ?? []).length).toBeGreaterThan(10);
  });

  it('evaluates held-out pairs with beam search and writes every output', async () => {
    const evaluated = await run(['eval', '--model', model, '--data', heldOut, '--beam', '3', '--json']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const result = JSON.parse(evaluated.stdout) as {
      examples: number; sequenceErrorRate: number; tokenErrorRate: number; bleu: number; outputs: string;
      errors: { exact: number; wrongByEdits: number[]; substitutions: Array<{ reference: string; output: string; count: number }> };
      oracle: { sequenceErrorRate: number; candidates: number };
      attention: AttentionProfile;
    };
    expect(result.examples).toBe(60);
    // Spelling backwards, each output letter looks at its mirror in the source: far from the
    // diagonal (0.7 when trained), and the first letter of each output at the source's last (one
    // output letter in 3.5 here), where collapsed attention would put nearly all of them.
    const { attention } = result;
    const seen = JSON.stringify(attention);
    expect(attention.tokens, seen).toBeGreaterThan(100);
    expect(attention.diagonalDistance, seen).toBeGreaterThan(0.5);
    expect(attention.onLastSource, seen).toBeGreaterThan(0.15);
    expect(attention.onLastSource, seen).toBeLessThan(0.45);
    expect(attention.peak, seen).toBeGreaterThan(0.7);
    // the n-best oracle: the beam's candidates (3 or more an input) hold at least the chosen ones' right outputs
    expect(result.oracle.candidates).toBeGreaterThanOrEqual(3);
    expect(result.oracle.sequenceErrorRate).toBeLessThanOrEqual(result.sequenceErrorRate);
    expect(result.sequenceErrorRate).toBeLessThan(0.2);
    expect(result.tokenErrorRate).toBeLessThan(0.1);
    // the error profile accounts for every example: the exact ones are the word error rate's complement
    const { exact, wrongByEdits, substitutions } = result.errors;
    expect(wrongByEdits).toHaveLength(3);
    expect(exact + wrongByEdits.reduce((a, b) => a + b, 0)).toBe(60);
    expect(exact).toBe(Math.round(60 * (1 - result.sequenceErrorRate)));
    expect(substitutions.reduce((n, s) => n + s.count, 0)).toBeLessThanOrEqual(wrongByEdits[0]!);
    expect(result.outputs).toBe(join(model, 'outputs-held-out-beam3.tsv'));
    const lines = readFileSync(result.outputs, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('source\toutput\treference');
    expect(lines).toHaveLength(61);
    const text = await run(['eval', '--model', model, '--data', heldOut, '--samples', '2']);
    expect(text.stdout).toMatch(/held-out.tsv: 60 examples, greedy/);
    expect(text.stdout).not.toContain('n-best oracle'); // greedy has no candidates
    expect(text.stdout).toMatch(/\n {2}attention: largest weight on the last source token for \d+\.\d\d% of output tokens; mean peak weight 0\.\d{3}, entropy \d\.\d{3} nats, distance from the diagonal 0\.\d{3}\n/);
    expect(text.stdout).toMatch(/BLEU = \d+\.\d\d/);
    expect(text.stdout).toMatch(/sequence \(word\) error rate \d+\.\d\d%/);
    // References that are the reversals with the middle letter made f: a model that reverses gets
    // each one substitution off (f -> the real middle letter), and the text output says so.
    const middles = join(folder, 'middles.tsv');
    writeFileSync(middles, ['abc', 'bad', 'cab', 'ace', 'feb'].map((word) => `${word}\t${word[2]} f ${word[0]}\n`).join(''));
    const far = await run(['eval', '--model', model, '--data', middles]);
    expect(far.code, far.stderr).toBe(0);
    // every output is wrong, and so every candidate of a beam: an oracle of 100%
    const farBeam = await run(['eval', '--model', model, '--data', middles, '--beam', '2']);
    expect(farBeam.stdout).toMatch(/\n {2}n-best oracle: sequence error rate 100\.00% were the best of each input's candidates chosen \(\d\.\d\d on average\)\n/);
    expect(far.stdout).toMatch(/\n {2}wrong outputs by edits to the closest reference: 1: [3-5] \(\d+\.\d\d%\), 2: \d+ \(\d+\.\d\d%\), 3 or more: \d+ \(\d+\.\d\d%\); [0-2] exact\n/);
    expect(far.stdout).toMatch(/\n {2}commonest single substitutions \(reference -> output\): f -> [a-e] [1-5](, f -> [a-e] [1-5])*\n/);
  });

  it('decodes with an ensemble of models given by repeated --model, and refuses members with other vocabularies', async () => {
    const twin = join(folder, 'twin');
    cpSync(model, twin, { recursive: true });
    const single = JSON.parse((await run(['eval', '--model', model, '--data', heldOut, '--json'])).stdout) as { sequenceErrorRate: number };
    const evaluated = await run(['eval', '--model', model, '--model', twin, '--data', heldOut, '--json']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const result = JSON.parse(evaluated.stdout) as { models: string[]; sequenceErrorRate: number; outputs: string };
    // a model and its copy decode as the model alone
    expect(result).toMatchObject({ models: [model, twin], sequenceErrorRate: single.sequenceErrorRate, outputs: join(model, 'outputs-held-out-beam1-ensemble2.tsv') });
    const ran = await run(['run', '--model', model, '--model', twin, '--beam', '2', 'cab']);
    expect(ran.stdout).toBe('b a c\n');
    const other = join(folder, 'other-vocabulary');
    cpSync(model, other, { recursive: true });
    const vocabularyFile = join(other, 'target-vocabulary.json');
    writeFileSync(vocabularyFile, readFileSync(vocabularyFile, 'utf8').replace('"a"', '"@"').replace('"b"', '"a"').replace('"@"', '"b"'));
    const refused = await run(['eval', '--model', model, '--model', other, '--data', heldOut]);
    expect(refused.code).toBe(2);
    expect(messages(refused.stderr)).toEqual([
      `translate: ${other}: its target vocabulary differs from ${model}'s, so the two cannot decode together; an ensemble needs models trained on the same task and data with the same vocabulary and token options`,
    ]);
  });

  it('trains a right-to-left model (--reverse-target) that reads out in order, and rescores the other\'s beam with it', async () => {
    const backward = join(folder, 'backward');
    const trained = await run([
      'train', '--task', data, '--out', backward, '--source-tokens', 'characters', '--target-tokens', 'symbols', '--epochs', '8', '--batch-size', '16',
      '--hidden', '16', '--embedding', '8', '--decoder-hidden', '32', '--lr', '0.01', '--min-freq', '1', '--max-source-length', '8', '--validation-decodes', '40', '--json', '--reverse-target',
      '--average-last', '3',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    // the weights of epochs 6-8 averaged and validated once at the end; the model folder holds them if they beat the best epoch
    const { average, best } = JSON.parse(trained.stdout) as { average: { epochs: number[]; validation: { wer: number }; improved: boolean }; best: { value: number; averaged?: number } };
    expect(average.epochs).toEqual([6, 8]);
    if (average.improved) expect(best).toEqual({ value: average.validation.wer, epoch: 7, averaged: 3 });
    else expect(average.validation.wer).toBeGreaterThanOrEqual(best.value);
    expect(readFileSync(join(backward, 'run', 'metrics.jsonl'), 'utf8')).toContain('"kind":"average"');
    expect(JSON.parse(readFileSync(join(backward, 'config.json'), 'utf8'))).toMatchObject({ model: { reverseTarget: true } });
    // written last token first, read back in order: 'cab' reversed is 'b a c'
    expect((await run(['run', '--model', backward, 'cab'])).stdout).toBe('b a c\n');
    const alone = JSON.parse((await run(['eval', '--model', backward, '--data', heldOut, '--json'])).stdout) as { sequenceErrorRate: number };
    expect(alone.sequenceErrorRate).toBeLessThan(0.2);
    const rescored = await run(['eval', '--model', model, '--rescore', backward, '--data', heldOut, '--beam', '3', '--json']);
    expect(rescored.code, rescored.stderr).toBe(0);
    const result = JSON.parse(rescored.stdout) as { models: string[]; rescorers: string[]; sequenceErrorRate: number; outputs: string };
    expect(result).toMatchObject({ models: [model], rescorers: [backward], outputs: join(model, 'outputs-held-out-beam3-rescored1.tsv') });
    expect(result.sequenceErrorRate).toBeLessThan(0.2);
    // every candidate with both models' scores: the score is their mean (equal weights), the
    // first of each source its output, ranked by the length-normalised score
    const candidatesFile = join(folder, 'candidates.tsv');
    const listed = await run(['eval', '--model', model, '--rescore', backward, '--data', heldOut, '--beam', '3', '--candidates', candidatesFile, '--outputs', join(folder, 'o.tsv')]);
    expect(listed.code, listed.stderr).toBe(0);
    const [header, ...rows] = readFileSync(candidatesFile, 'utf8').slice(0, -1).split('\n').map((line) => line.split('\t'));
    expect(header).toEqual(['source', 'references', 'rank', 'candidate', 'tokens', 'right', 'score', model, backward]);
    const chosen = readFileSync(join(folder, 'o.tsv'), 'utf8').trim().split('\n').slice(1).map((line) => line.split('\t'));
    expect(rows.filter((row) => row[2] === '1').map((row) => [row[0], row[3]])).toEqual(chosen.map((row) => [row[0], row[1]]));
    let rightRows = 0;
    for (const row of rows) {
      expect(Number(row[4])).toBe(row[3] === '' ? 0 : row[3]!.split(' ').length);
      expect(Number(row[6])).toBeCloseTo((Number(row[7]) + Number(row[8])) / 2, 6);
      if (row[5] === '1') {
        expect(row[1]!.split(' | ')).toContain(row[3]);
        rightRows++;
      }
    }
    expect(rightRows).toBeGreaterThanOrEqual(Math.round(60 * (1 - result.sequenceErrorRate)));
    // scripts/rescore-weights.mjs replays the app's choice at any weight: at the default, eval's rate
    const script = fileURLToPath(new URL('../scripts/rescore-weights.mjs', import.meta.url));
    const tuned = JSON.parse(execFileSync(process.execPath, [script, candidatesFile, '--decoders', '1', '--json'], { encoding: 'utf8' })) as {
      sources: number; weights: Array<{ weight: number; default?: boolean; sequenceErrorRate: number }>;
    };
    expect(tuned.sources).toBe(60);
    expect(tuned.weights[0]).toEqual({ weight: 0.5, default: true, sequenceErrorRate: result.sequenceErrorRate });
    expect(tuned.weights.filter((w) => !w.default).map((w) => w.weight)).toEqual(Array.from({ length: 20 }, (_, k) => Number((k * 0.05).toFixed(6))));
    const weighted3 = JSON.parse((await run(['eval', '--model', model, '--rescore', backward, '--rescore-weight', '0.3', '--data', heldOut, '--beam', '3', '--json', '--outputs', join(folder, 'o3.tsv')])).stdout) as { sequenceErrorRate: number };
    expect(tuned.weights.find((w) => w.weight === 0.3)!.sequenceErrorRate).toBe(weighted3.sequenceErrorRate);
    const greedyList = await run(['eval', '--model', model, '--data', heldOut, '--candidates', candidatesFile]);
    expect(greedyList.code).toBe(2);
    expect(messages(greedyList.stderr)).toEqual(['translate: --candidates lists the candidates of a beam search: give --beam 2 or more']);
    expect((await run(['eval', '--model', model, '--rescore', backward, '--data', heldOut, '--beam', '3'])).stdout).toMatch(/: 60 examples, beam 3 \(length penalty 0\.6\), rescored by 1 more, /);
    const weighted = await run(['eval', '--model', model, '--rescore', backward, '--rescore-weight', '0.3', '--data', heldOut, '--beam', '3', '--json']);
    expect(weighted.code, weighted.stderr).toBe(0);
    expect(JSON.parse(weighted.stdout)).toMatchObject({ rescorers: [backward], rescoreWeight: 0.3, outputs: join(model, 'outputs-held-out-beam3-rescored1-w0.3.tsv') });
    const joint = await run(['eval', '--model', model, '--rescore', backward, '--rescorers-decode', '--data', heldOut, '--beam', '3', '--json']);
    expect(joint.code, joint.stderr).toBe(0);
    const jointResult = JSON.parse(joint.stdout) as { sequenceErrorRate: number };
    expect(jointResult).toMatchObject({ rescorers: [backward], rescorersDecode: true, outputs: join(model, 'outputs-held-out-beam3-rescored1-joint.tsv') });
    expect(jointResult.sequenceErrorRate).toBeLessThan(0.2);
    for (const [args, line] of [
      [['--rescorers-decode'], 'translate: --rescorers-decode has the models given with --rescore decode too: give --rescore'],
      [['--rescore', backward, '--rescore', model, '--rescorers-decode'], `translate: --rescorers-decode: ${model} writes targets left to right and ${backward} the other way, so they cannot decode together; leave out --rescorers-decode or one of them`],
      [['--rescore-weight', '0.3'], 'translate: --rescore-weight weighs the models given with --rescore: give --rescore too'],
      [['--rescore', backward, '--rescore-weight', '1.5'], "error: option '--rescore-weight <w>' argument '1.5' is invalid. --rescore-weight must be a number in [0, 1), got '1.5'"],
    ] as const) {
      const refusedWeight = await run(['eval', '--model', model, ...args, '--data', heldOut, '--beam', '3']);
      expect(refusedWeight.code).toBe(2);
      expect(messages(refusedWeight.stderr)).toEqual([line]);
    }
    const mixed = await run(['eval', '--model', model, '--model', backward, '--data', heldOut]);
    expect(mixed.code).toBe(2);
    expect(messages(mixed.stderr)).toEqual([
      `translate: ${backward}: it writes targets right to left and ${model} left to right, so the two cannot decode together; give it with --rescore to rescore the other's candidates`,
    ]);
  }, 180_000);

  it('runs the learning-rate range test with --find-lr instead of training', async () => {
    const out = join(folder, 'lr-find');
    const found = await run([
      'train', '--task', data, '--out', out, '--source-tokens', 'characters', '--target-tokens', 'symbols', '--batch-size', '16',
      '--hidden', '16', '--embedding', '8', '--decoder-hidden', '32', '--min-freq', '1', '--max-source-length', '8', '--find-lr', '--json',
    ]);
    expect(found.code, found.stderr).toBe(0);
    const result = JSON.parse(found.stdout) as { steepest: number; steps: number; json: string; svg: string };
    expect(result.steepest).toBeGreaterThan(1e-7);
    expect(result.steepest).toBeLessThan(10);
    expect(result).toMatchObject({ json: join(out, 'run', 'lr-find.json'), svg: join(out, 'run', 'lr-find.svg') });
    expect(readFileSync(result.svg, 'utf8')).toContain('<svg');
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
    const text = await run(['train', '--task', data, '--out', join(folder, 'lr-find-2'), '--source-tokens', 'characters', '--target-tokens', 'symbols', '--batch-size', '16',
      '--hidden', '16', '--embedding', '8', '--decoder-hidden', '32', '--min-freq', '1', '--max-source-length', '8', '--find-lr']);
    expect(text.stdout).toMatch(/^translate: learning-rate range test \(\d+ steps, lr 1\.0e-7 to .*\): try --lr \S+ \(steepest descent; the lowest loss over 10: \S+\); plot in .*lr-find\.svg\n$/);
    const refused = await run(['train', '--task', data, '--out', out, '--find-lr', '--resume']);
    expect(refused.code).toBe(2);
    expect(messages(refused.stderr)).toEqual(["error: option '--find-lr' cannot be used with option '--resume'"]);
  }, 120_000);

  it('runs on stdin lines, reports unknown tokens, and draws one heatmap per input', async () => {
    const plot = join(folder, 'attention.svg');
    const ran = await run(['run', '--model', model, '--json', '--plot', plot], 'abcd\nfax\n');
    expect(ran.code, ran.stderr).toBe(0);
    const outputs = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as { input: string; output: string; unknown: string[] });
    expect(outputs[0]).toMatchObject({ input: 'abcd', output: 'd c b a', unknown: [] });
    expect(outputs[1]!.unknown).toEqual(['x']);
    expect(messages(ran.stderr)).toEqual(['translate: 1 input token not in the model\'s vocabulary, read as <unk>: "x"']);
    for (const file of ['attention-1.svg', 'attention-2.svg']) expect(readFileSync(join(folder, file), 'utf8')).toContain('<svg');
    const plain = await run(['run', '--model', model, 'cab', '--beam', '2']);
    expect(plain.stdout).toBe('b a c\n');
    const short = await run(['run', '--model', model, 'abcd', '--max-tokens', '2']);
    expect(short.stdout).toBe('d c\n');
  });

  it('lists the k best outputs with --nbest, best first, as lines or JSON; refuses a beam narrower than k', async () => {
    const beam = await run(['run', '--model', model, '--beam', '3', 'cab', 'abcd']);
    const listed = await run(['run', '--model', model, '--beam', '3', '--nbest', '3', 'cab', 'abcd']);
    expect(listed.code, listed.stderr).toBe(0);
    // (an output may be empty: a candidate that ended at once; its line ends in a tab)
    const rows = listed.stdout.slice(0, -1).split('\n').map((line) => line.split('\t'));
    expect(rows.every((row) => row.length === 3 && Number.isFinite(Number(row[1]))), listed.stdout).toBe(true);
    for (const [i, input] of ['cab', 'abcd'].entries()) {
      const own = rows.filter((row) => row[0] === input);
      expect(own.length).toBeGreaterThanOrEqual(2); // a beam of 3 finishes 3 unless its step limit cut it
      expect(own.length).toBeLessThanOrEqual(3);
      expect(own[0]![2]).toBe(beam.stdout.split('\n')[i]); // the best is run's output
      expect(new Set(own.map((row) => row[2])).size).toBe(own.length);
    }
    const json = JSON.parse((await run(['run', '--model', model, '--beam', '3', '--nbest', '2', '--json', 'cab'])).stdout) as {
      output: string; logProbability: number; nbest: Array<{ output: string; tokens: string[]; logProbability: number }>;
    };
    expect(json.nbest).toHaveLength(2);
    expect(json.nbest[0]).toMatchObject({ output: json.output, logProbability: json.logProbability });
    expect(json.nbest[1]!.tokens.join(' ')).toBe(json.nbest[1]!.output);
    const narrow = await run(['run', '--model', model, '--beam', '2', '--nbest', '3', 'cab']);
    expect(narrow.code).toBe(2);
    expect(messages(narrow.stderr)).toEqual(['translate: --nbest 3 lists outputs of a beam search as wide: give --beam 3 or more']);
  });

  it('exports encoder and decoder as ONNX, whose greedy decoding with onnxruntime-web gives run\'s output', async () => {
    const onnxFolder = join(folder, 'onnx');
    const exported = await run(['export', '--model', model, '--onnx', onnxFolder, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const summary = JSON.parse(exported.stdout) as { encoder: { outputs: string[] }; bos: number; eos: number };
    expect(summary.encoder.outputs).toEqual(['memory', 'keys', 'h', 'c']);
    const { vocabularies, config } = loadModelFolders([model]);
    const encoderSession = await ort.InferenceSession.create(readFileSync(join(onnxFolder, 'encoder.onnx')));
    const decoderSession = await ort.InferenceSession.create(readFileSync(join(onnxFolder, 'decoder.onnx')));
    for (const word of ['abcd', 'fed', 'cab']) {
      const ids = vocabularies.source.encode(sourceTokenizer(config.text)(word));
      const lengths = new ort.Tensor('int32', Int32Array.of(ids.length), [1]);
      const encoded = await encoderSession.run({ source: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]), lengths });
      let carried: Record<string, ort.Tensor> = { h: encoded.h!, c: encoded.c! };
      let token = summary.bos;
      const out: number[] = [];
      while (out.length < 20) {
        const step = await decoderSession.run({ tokens: new ort.Tensor('int64', BigInt64Array.of(BigInt(token)), [1]), ...carried, memory: encoded.memory!, keys: encoded.keys!, lengths });
        const logProbs = step.log_probs!.data as Float32Array;
        token = logProbs.indexOf(Math.max(...logProbs));
        if (token === summary.eos) break;
        out.push(token);
        carried = { h: step.next_h!, c: step.next_c! };
      }
      const ran = JSON.parse((await run(['run', '--model', model, '--beam', '1', '--json', word])).stdout) as { tokens: string[] };
      expect(vocabularies.target.decode(out), word).toEqual(ran.tokens);
    }
  });

  it('truncates an input over the model\'s limit with a warning, or refuses it', async () => {
    const long = 'abcdefabcdef';
    const truncated = await run(['run', '--model', model, long]);
    expect(truncated.code).toBe(0);
    expect(messages(truncated.stderr)).toEqual(["translate: input 1: 12 tokens, over the model's limit of 8: only the first 8 are translated (--too-long refuse to refuse instead)"]);
    const refused = await run(['run', '--model', model, long, '--too-long', 'refuse']);
    expect(refused.code).toBe(2);
    expect(messages(refused.stderr)).toEqual(["translate: input 1: 12 tokens, over the model's limit of 8; shorten it, or pass --too-long truncate"]);
  });
});
