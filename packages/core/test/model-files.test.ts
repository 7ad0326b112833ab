import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  convertSafetensorsFile, createBackend, float32ToBfloat16, float32ToFloat16, GRU, loadStateDictFile, LSTM, readSafetensors, recurrentFromConfig, RNN, saveStateDict, Tensor, writeSafetensors,
  type RecurrentConfig, type TensorToWrite,
} from '../src/index.js';

const folder = mkdtempSync(join(tmpdir(), 'model-files-'));
const exported = (name: string) => new URL(`../fixtures/recurrent/${name}`, import.meta.url).pathname;

describe('model files', () => {
  it('toConfig and recurrentFromConfig round-trip exactly', () => {
    const layers = [
      new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.2, initialState: 'learned' }),
      new GRU({ inputSize: 2, hiddenSize: 5, batchFirst: true, bias: false, initialState: 'random', initialStateStd: 0.3 }),
      new RNN({ inputSize: 1, hiddenSize: 2, nonlinearity: 'relu' }),
    ];
    for (const layer of layers) {
      const config = layer.toConfig();
      expect(recurrentFromConfig(JSON.parse(JSON.stringify(config)) as RecurrentConfig).toConfig()).toEqual(config);
    }
    expect(() => recurrentFromConfig({ type: 'Transformer' } as unknown as RecurrentConfig)).toThrow("unknown layer type \"Transformer\"");
  });

  it('saves and reloads a state dict; a rebuilt layer computes the same outputs', async () => {
    const backend = await createBackend('cpu');
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 2, seed: 5 }).to(backend);
    const file = join(folder, 'model.safetensors');
    saveStateDict(file, lstm.stateDict(), { config: JSON.stringify(lstm.toConfig()) });
    const { tensors, metadata } = loadStateDictFile(file);
    expect(metadata.format).toBe('pt');
    const rebuilt = recurrentFromConfig(JSON.parse(metadata.config!) as RecurrentConfig).to(backend);
    rebuilt.loadStateDict(tensors);
    const x = Tensor.from([2, 1, 3], [1, 2, 3, 4, 5, 6]);
    expect([...(await rebuilt.forward(x)).output.data]).toEqual([...(await lstm.forward(x)).output.data]);
    await backend.dispose();
  });

  it.each(['lstm_2_layers_bidirectional', 'gru_batch_first', 'rnn_relu_no_bias', 'lstm_projected_2_layers'])(
    'the exported %s (which PyTorch loads, see make_fixtures.py) still reproduces its stored output',
    async (name) => {
      const backend = await createBackend('cpu');
      const { tensors, metadata } = loadStateDictFile(exported(`${name}.safetensors`));
      const layer = recurrentFromConfig(JSON.parse(metadata.config!) as RecurrentConfig).to(backend).eval();
      layer.loadStateDict(tensors);
      const io = readSafetensors(exported(`${name}.io.safetensors`)).tensors;
      const input = io.get('input')!;
      const { output } = await layer.forward(new Tensor(input.shape, input.data as Float32Array));
      const expected = io.get('output')!.data as Float32Array;
      expect(Math.max(...output.data.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-6);
      await backend.dispose();
    },
  );

  it('refuses weights of a dtype that is not a float, naming the tensor', () => {
    const file = join(folder, 'ints.safetensors');
    writeSafetensors(file, { weight_ih_l0: { shape: [2], data: Int32Array.from([1, 2]) } });
    expect(() => loadStateDictFile(file)).toThrow("tensor 'weight_ih_l0' has dtype I32; model weights must be F32, F16, BF16 or F64");
  });

  // Written by fixtures/make_half_fixture.py: float32 values (an LSTM's state dict, edge values,
  // random ones), each as PyTorch halves it both ways and torch's own .float() of the half.
  const halves = new URL('../fixtures/half_weights.safetensors', import.meta.url).pathname;
  const stored = readSafetensors(halves).tensors;
  const halfNames = [...stored.keys()].filter((name) => /^b?f16\./.test(name) && !name.endsWith('.float'));
  const bitsOf = (data: ArrayBufferView) => new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));

  it('loads F16 and BF16 weights as PyTorch widens them, bit for bit', () => {
    const { tensors } = loadStateDictFile(halves, { allowNonFinite: true });
    expect(halfNames.map((name) => stored.get(name)!.dtype).sort()).toEqual([...Array(6).fill('BF16'), ...Array(6).fill('F16')]);
    for (const name of halfNames) {
      const expected = stored.get(`${name}.float`)!;
      expect(tensors.get(name)!.shape).toEqual(expected.shape);
      // the bits, so that -0 and 0 differ
      expect(new Uint32Array(tensors.get(name)!.data.buffer)).toEqual(new Uint32Array((expected.data as Float32Array).slice().buffer));
    }
  });

  it('rounds float32 to F16 and BF16 as PyTorch does, bit for bit (ties to even, subnormals, overflow)', () => {
    for (const name of halfNames) {
      const source = stored.get(`source.${name.slice(name.indexOf('.') + 1)}`)!.data as Float32Array;
      const convert = name.startsWith('f16.') ? float32ToFloat16 : float32ToBfloat16;
      expect(convert(source)).toEqual(bitsOf(stored.get(name)!.data));
    }
  });

  it('saves a state dict as F16 or BF16 and loads it back as PyTorch would have halved it; refuses F16 overflow', async () => {
    const weights = (prefix: string) => new Map(
      [...stored].filter(([name]) => name.startsWith(prefix) && !/edges|random/.test(name)).map(([name, t]) => [name.slice(prefix.length), new Tensor(t.shape, t.data as Float32Array)]),
    );
    const source = weights('source.');
    for (const [dtype, prefix] of [['F16', 'f16.'], ['BF16', 'bf16.']] as const) {
      const file = join(folder, `half-${dtype}.safetensors`);
      saveStateDict(file, source, {}, { dtype });
      expect([...readSafetensors(file).tensors.values()].map((t) => t.dtype)).toEqual(Array(source.size).fill(dtype));
      const { tensors } = loadStateDictFile(file);
      for (const name of source.keys()) expect(tensors.get(name)!.data).toEqual(stored.get(`${prefix}${name}.float`)!.data);
      // an LSTM takes them
      const backend = await createBackend('cpu');
      new LSTM({ inputSize: 3, hiddenSize: 4 }).to(backend).loadStateDict(tensors);
      await backend.dispose();
    }
    const big = new Map([['weight', Tensor.from([3], [1, 65519, -70000])]]);
    expect(() => saveStateDict(join(folder, 'big.safetensors'), big, {}, { dtype: 'F16' })).toThrow("tensor 'weight' has 1 values beyond F16's range of ±65,504; save it as F32 or BF16");
    saveStateDict(join(folder, 'big.safetensors'), big, {}, { dtype: 'BF16' });
    expect(() => writeSafetensors(join(folder, 'f32-as-f16.safetensors'), { w: { shape: [1], data: Float32Array.from([1]), dtype: 'F16' } })).toThrow(
      "tensor 'w' is written as F16, which needs its bits in a Uint16Array",
    );
    // a value PyTorch rounded to infinity (65520, a tie, and 1e38) is refused when read
    expect(() => loadStateDictFile(halves)).toThrow(/tensor 'f16\.edges' holds 2 NaN\/Inf values \(of 20\)/);
  });

  it('converts a whole file to F16 or BF16 as PyTorch halves it, keeping other tensors, order and metadata', () => {
    // the fixture's float32 sources with an I64 counter and raw bytes (BOOL, F8) among them
    const sources = [...stored].filter(([name]) => name.startsWith('source.'));
    const file = join(folder, 'mixed.safetensors');
    writeSafetensors(file, new Map<string, TensorToWrite>([
      ...sources.map(([name, t]): [string, TensorToWrite] => [name, { shape: t.shape, data: t.data }]),
      ['num_batches_tracked', { shape: [], data: BigInt64Array.from([7n]) }],
      ['mask', { shape: [3], data: Uint8Array.from([1, 0, 1]), dtype: 'BOOL' }],
      ['scale', { shape: [2], data: Uint8Array.from([0x38, 0xb8]), dtype: 'F8_E4M3' }],
      ['double', { shape: [2], data: Float64Array.from([Math.PI, -1e-30]) }],
    ]), { format: 'pt', note: 'kept' });
    const bf16 = join(folder, 'mixed-bf16.safetensors');
    expect(convertSafetensorsFile(file, bf16, 'BF16')).toMatchObject({ converted: sources.length + 1, kept: 3 });
    const read = readSafetensors(bf16);
    expect(read.metadata).toEqual({ format: 'pt', note: 'kept' });
    expect([...read.tensors.keys()]).toEqual([...readSafetensors(file).tensors.keys()]);
    for (const [name] of sources) expect(bitsOf(read.tensors.get(name)!.data)).toEqual(bitsOf(stored.get(`bf16.${name.slice('source.'.length)}`)!.data));
    expect(read.tensors.get('num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([7n]) });
    expect(read.tensors.get('mask')).toEqual({ dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) });
    expect(read.tensors.get('scale')).toEqual({ dtype: 'F8_E4M3', shape: [2], data: Uint8Array.from([0x38, 0xb8]) });
    expect(bitsOf(read.tensors.get('double')!.data)).toEqual(float32ToBfloat16(Float32Array.from([Math.PI, -1e-30])));
    // back to F32: BF16 widens exactly
    const back = join(folder, 'mixed-back.safetensors');
    convertSafetensorsFile(bf16, back, 'F32');
    for (const [name] of sources) expect(readSafetensors(back).tensors.get(name)!.data).toEqual(stored.get(`bf16.${name.slice('source.'.length)}.float`)!.data);

    // F16: the edge values PyTorch rounds to infinity are refused, and nothing is written
    const f16 = join(folder, 'mixed-f16.safetensors');
    expect(() => convertSafetensorsFile(file, f16, 'F16')).toThrow("tensor 'source.edges' has 2 values beyond F16's range of ±65,504");
    expect(existsSync(f16)).toBe(false);
    // without them (and the random values over 60 octaves), in place, the bits PyTorch's model.half() stored
    const inPlace = join(folder, 'in-place.safetensors');
    const inRange = sources.filter(([name]) => !/edges|random/.test(name));
    writeSafetensors(inPlace, new Map(inRange.map(([name, t]) => [name, { shape: t.shape, data: t.data }])));
    const before = readFileSync(inPlace).length;
    const result = convertSafetensorsFile(inPlace, inPlace, 'F16');
    expect(result).toMatchObject({ converted: inRange.length, kept: 0, bytesBefore: before, bytesAfter: readFileSync(inPlace).length });
    for (const [name, t] of readSafetensors(inPlace).tensors) {
      expect(t.dtype).toBe('F16');
      expect(bitsOf(t.data)).toEqual(bitsOf(stored.get(`f16.${name.slice('source.'.length)}`)!.data));
    }
    // an F64 value no float32 holds
    const huge = join(folder, 'huge.safetensors');
    writeSafetensors(huge, { w: { shape: [2], data: Float64Array.from([1, 1e300]) } });
    expect(() => convertSafetensorsFile(huge, join(folder, 'huge-f32.safetensors'), 'F32')).toThrow("huge.safetensors: tensor 'w' holds 1 F64 values beyond float32's range");
  });
});
