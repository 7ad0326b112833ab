import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createBackend, GRU, loadStateDictFile, LSTM, readSafetensors, recurrentFromConfig, RNN, saveStateDict, Tensor, writeSafetensors,
  type RecurrentConfig,
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

  it.each(['lstm_2_layers_bidirectional', 'gru_batch_first', 'rnn_relu_no_bias'])(
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

  // Written by fixtures/make_half_fixture.py: an LSTM's state dict as model.half() and
  // model.bfloat16() save it, and edge values, each beside torch's own .float() of it.
  const halves = new URL('../fixtures/half_weights.safetensors', import.meta.url).pathname;

  it('loads F16 and BF16 weights as PyTorch widens them, bit for bit', () => {
    const stored = readSafetensors(halves).tensors;
    const { tensors } = loadStateDictFile(halves, { allowNonFinite: true });
    const halfNames = [...stored.keys()].filter((name) => !name.endsWith('.float'));
    expect(halfNames.map((name) => stored.get(name)!.dtype).sort()).toEqual([...Array(5).fill('BF16'), ...Array(5).fill('F16')]);
    for (const name of halfNames) {
      const expected = stored.get(`${name}.float`)!;
      expect(tensors.get(name)!.shape).toEqual(expected.shape);
      // the bits, so that -0 and 0 differ
      expect(new Uint32Array(tensors.get(name)!.data.buffer)).toEqual(new Uint32Array((expected.data as Float32Array).slice().buffer));
    }
  });

  it('loads a half-precision LSTM into the layer, and refuses a half value that overflowed', async () => {
    const backend = await createBackend('cpu');
    const { tensors } = loadStateDictFile(halves, { allowNonFinite: true });
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4 }).to(backend);
    lstm.loadStateDict(new Map([...tensors].filter(([name]) => name.startsWith('f16.') && name !== 'f16.edges' && !name.endsWith('.float')).map(([name, t]) => [name.slice(4), t])));
    expect(lstm.stateDict().get('weight_hh_l0')!.data).toEqual(tensors.get('f16.weight_hh_l0.float')!.data);
    await backend.dispose();
    // 1e38 is beyond F16's range: PyTorch stored infinity
    expect(() => loadStateDictFile(halves)).toThrow("tensor 'f16.edges' holds 1 NaN/Inf values (of 12)");
  });
});
