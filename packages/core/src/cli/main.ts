/**
 * `recurrent`: the core package's command line. `recurrent doctor` says which backends work here
 * and how fast; `recurrent demo` trains a small network with the kernels on one of them;
 * `recurrent charlm` trains a character-level LSTM language model and continues a prefix;
 * `recurrent forecast` trains an LSTM to forecast noisy sine waves (sequence regression);
 * `recurrent weights show|convert` lists a safetensors file's tensors or rewrites it in F16/BF16/F32.
 */
import Table from 'cli-table3';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isBackendChoice, withBackend } from '../backend/registry.js';
import { BACKEND_NAMES, BackendUnavailableError, type BackendChoice } from '../backend/types.js';
import { SPIRAL_CLASSES, trainSpiral } from '../demo/spiral.js';
import { continueText, trainCharLanguageModel } from '../examples/char-lm.js';
import { evaluateForecaster, trainForecaster } from '../examples/forecast.js';
import { configureHeapForTraining } from '../heap.js';
import { ShapeError } from '../tensor.js';
import { SafetensorsError } from '../io/safetensors.js';
import { plainWhenPiped, runDoctor } from './doctor.js';
import { convertWeights, formatWeights, summariseWeights, WEIGHT_DTYPES, type WeightDtype } from './weights.js';

/** Exit code for bad input: a flag, a file or a backend that cannot be used as given. */
const EXIT_BAD_INPUT = 2;

function positiveNumber(label: string, integer: boolean) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0 || (integer && !Number.isInteger(parsed))) {
      throw new InvalidArgumentError(`${label} must be a positive ${integer ? 'integer' : 'number'}, got '${value}'`);
    }
    return parsed;
  };
}

function backendOption(): Option {
  return new Option('-b, --backend <name>', `backend to run on: auto, ${BACKEND_NAMES.join(', ')}`)
    .default('auto')
    .argParser((value) => {
      if (!isBackendChoice(value)) throw new InvalidArgumentError(`expected one of auto, ${BACKEND_NAMES.join(', ')}`);
      return value;
    });
}

const announce = (line: string) => process.stderr.write(`${line}\n`);

// a training process: fewer major GCs for a larger heap (see configureHeapForTraining)
configureHeapForTraining();

const program = new Command('recurrent')
  .description('Recurrent networks on GPU.js: check the backends of this machine, run the kernel demo.')
  .option('--verbose', 'print stack traces on errors', false)
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(message) });

program
  .command('doctor')
  .description('list each backend (webgpu, webasm, cpu), whether it works here, its adapter, and a matmul GFLOP/s figure')
  .option('--json', 'print the report as JSON on stdout', false)
  .option('--seconds <s>', 'time spent measuring each backend', positiveNumber('--seconds', false), 1)
  .option('--size <n>', 'matrix size n of the n x n x n matmul measured', positiveNumber('--size', true), 256)
  .action(async (options: { json: boolean; seconds: number; size: number }) => {
    const report = await runDoctor({
      seconds: options.seconds,
      size: options.size,
      onProgress: (message) => process.stderr.write(`${message}...\n`),
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const table = new Table({ head: ['backend', 'works', 'adapter', `matmul ${report.matmulSize}^3 GFLOP/s`, 'note'] , style: plainWhenPiped() });
    for (const row of report.backends) {
      table.push([row.backend, row.works ? 'yes' : 'no', row.adapter || '-', row.gflops === null ? '-' : row.gflops.toFixed(2), row.note]);
    }
    process.stdout.write(`${table.toString()}\nnode ${report.node}; auto picks ${report.auto.backend}: ${report.auto.why}\n`);
  });

program
  .command('demo')
  .description('train a two-layer network on a three-arm spiral with the kernels, then draw what it learned')
  .addOption(backendOption())
  .option('--steps <n>', 'full-batch gradient steps', positiveNumber('--steps', true), 1000)
  .option('--hidden <n>', 'hidden units', positiveNumber('--hidden', true), 64)
  .option('--lr <x>', 'gradient descent step size', positiveNumber('--lr', false), 1)
  .option('--seed <n>', 'random seed for data and weights', positiveNumber('--seed', true), 1)
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (options: { backend: BackendChoice; steps: number; hidden: number; lr: number; seed: number; json: boolean }) => {
    await withBackend(options.backend, async (backend) => {
      const started = Date.now();
      const result = await trainSpiral({
        backend,
        steps: options.steps,
        hidden: options.hidden,
        learningRate: options.lr,
        seed: options.seed,
        reportEvery: Math.max(1, Math.round(options.steps / 10)),
        onReport: (step, loss) => process.stderr.write(`step ${String(step).padStart(5)}  loss ${loss.toFixed(4)}\n`),
      });
      const seconds = (Date.now() - started) / 1000;
      if (options.json) {
        const losses = result.losses;
        process.stdout.write(
          `${JSON.stringify({ backend: backend.name, steps: options.steps, firstLoss: losses[0], finalLoss: losses.at(-1), accuracy: result.accuracy, seconds })}\n`,
        );
        return;
      }
      const marks = ['o', '+', '.'];
      const picture = result.map.map((row) => `  ${row.map((c) => marks[c] ?? '?').join('')}`).join('\n');
      process.stdout.write(
        `spiral (${SPIRAL_CLASSES} classes) on ${backend.name}: loss ${result.losses[0]!.toFixed(3)} -> ${result.losses.at(-1)!.toFixed(3)}, ` +
          `training accuracy ${(100 * result.accuracy).toFixed(1)}% after ${options.steps} steps in ${seconds.toFixed(1)} s\n` +
          `what the network learned over [-1, 1]^2 (one mark per class):\n${picture}\n`,
      );
    }, announce);
  });

program
  .command('charlm')
  .description('train a character-level LSTM language model on the opening of The Time Machine, then continue a prefix (d2l.ai predict_ch8)')
  .addOption(backendOption())
  .option('--steps <n>', 'training steps (batches of 16 windows of 32 characters)', positiveNumber('--steps', true), 300)
  .option('--hidden <n>', 'LSTM hidden units', positiveNumber('--hidden', true), 128)
  .option('--prefix <text>', 'text to continue', 'time traveller')
  .option('--length <n>', 'characters to generate', positiveNumber('--length', true), 60)
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (options: { backend: BackendChoice; steps: number; hidden: number; prefix: string; length: number; json: boolean }) => {
    await withBackend(options.backend, async (backend) => {
      const started = Date.now();
      const every = Math.max(1, Math.round(options.steps / 10));
      const { model, vocabulary, losses } = await trainCharLanguageModel({
        backend,
        steps: options.steps,
        hidden: options.hidden,
        onStep: (step, loss) => {
          if (step % every === 0 || step === 1) process.stderr.write(`step ${String(step).padStart(5)}  loss ${loss.toFixed(3)} nats/char\n`);
        },
      });
      model.eval();
      const greedy = await continueText(model, vocabulary, options.prefix, options.length);
      const sampled = await continueText(model, vocabulary, options.prefix, options.length, { temperature: 0.7, seed: 1 });
      const seconds = (Date.now() - started) / 1000;
      const finalLoss = losses.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, losses.length);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ backend: backend.name, steps: options.steps, firstLoss: losses[0], finalLoss, greedy, sampled, seconds })}\n`);
        return;
      }
      process.stdout.write(
        `character LSTM on ${backend.name}: loss ${losses[0]!.toFixed(2)} -> ${finalLoss.toFixed(2)} nats/char (mean of the last steps), ${options.steps} steps in ${seconds.toFixed(1)} s\n` +
          `  greedy:           ${greedy}\n  temperature 0.7:  ${sampled}\n`,
      );
    }, announce);
  });

program
  .command('forecast')
  .description('train an LSTM on noisy sine waves to predict each next value (mseLoss), then forecast 20 steps ahead in a closed loop (LSTMCell) against the naive forecast')
  .addOption(backendOption())
  .option('--steps <n>', 'training steps (batches of 32 fresh sequences of 40 steps)', positiveNumber('--steps', true), 400)
  .option('--hidden <n>', 'LSTM hidden units', positiveNumber('--hidden', true), 32)
  .option('--json', 'print the result as JSON on stdout', false)
  .action(async (options: { backend: BackendChoice; steps: number; hidden: number; json: boolean }) => {
    await withBackend(options.backend, async (backend) => {
      const started = Date.now();
      const every = Math.max(1, Math.round(options.steps / 10));
      const { model, losses } = await trainForecaster({
        backend,
        steps: options.steps,
        hidden: options.hidden,
        onStep: (step, loss) => {
          if (step % every === 0 || step === 1) process.stderr.write(`step ${String(step).padStart(5)}  mse ${loss.toFixed(4)}\n`);
        },
      });
      const { mse, naiveMse } = await evaluateForecaster(model);
      const seconds = (Date.now() - started) / 1000;
      const finalLoss = losses.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, losses.length);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ backend: backend.name, steps: options.steps, firstLoss: losses[0], finalLoss, forecastMse: mse, naiveMse, seconds })}\n`);
        return;
      }
      process.stdout.write(
        `sine forecaster on ${backend.name}: next-value mse ${losses[0]!.toFixed(3)} -> ${finalLoss.toFixed(4)} (mean of the last steps), ${options.steps} steps in ${seconds.toFixed(1)} s\n` +
          `  20 steps ahead of 40 observed, 64 new waves: mse ${mse.toFixed(3)}, repeating the last value ${naiveMse.toFixed(3)}\n`,
      );
    }, announce);
  });

const weights = program
  .command('weights')
  .description('safetensors model files: list the tensors, or rewrite the weights in another precision');

weights
  .command('show')
  .description('list the tensors of a safetensors file (name, dtype, shape, values) and its metadata, from the header alone')
  .argument('<file>', 'a .safetensors file (ours, or PyTorch\'s safetensors.torch.save_file)')
  .option('--json', 'print the list as JSON on stdout', false)
  .action((file: string, options: { json: boolean }) => {
    const summary = summariseWeights(file);
    process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatWeights(summary));
  });

weights
  .command('convert')
  .description('rewrite the floating-point tensors of a safetensors file in F16, BF16 or F32 (others kept; output written atomically, may be the input)')
  .argument('<input>', 'the .safetensors file to read')
  .argument('<output>', 'the .safetensors file to write (the same path converts in place)')
  .addOption(
    new Option('--dtype <dtype>', `precision to store: ${WEIGHT_DTYPES.join(', ')} (F16 halves the size; values beyond ±65,504 are refused)`)
      .makeOptionMandatory()
      .argParser((value) => {
        const upper = value.toUpperCase();
        if (!(WEIGHT_DTYPES as readonly string[]).includes(upper)) throw new InvalidArgumentError(`expected one of ${WEIGHT_DTYPES.join(', ')}`);
        return upper;
      }),
  )
  .action((input: string, output: string, options: { dtype: WeightDtype }) => {
    const result = convertWeights(input, output, options.dtype);
    process.stdout.write(
      `${output}: ${result.converted} tensors in ${options.dtype}${result.kept ? `, ${result.kept} others kept as they were` : ''}; ` +
        `${result.bytesBefore.toLocaleString('en-US')} -> ${result.bytesAfter.toLocaleString('en-US')} bytes\n`,
    );
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; every usage mistake exits 2 (commander already printed it).
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
  } else if (error instanceof BackendUnavailableError || error instanceof ShapeError || error instanceof SafetensorsError) {
    process.stderr.write(`recurrent: ${error.message}\n`);
    if (program.opts().verbose) process.stderr.write(`${error.stack}\n`);
    process.exitCode = EXIT_BAD_INPUT;
  } else {
    throw error;
  }
}
