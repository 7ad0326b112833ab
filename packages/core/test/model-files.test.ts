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
    expect(() => loadStateDictFile(file)).toThrow("tensor 'weight_ih_l0' has dtype I32; model weights must be F32 or F64");
  });
});
