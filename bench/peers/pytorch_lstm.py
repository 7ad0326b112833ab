#!/usr/bin/python3
"""PyTorch CPU peer of `pnpm bench`: tokens/s of one recurrent workload, printed as one JSON line.

usage: pytorch_lstm.py CELL LAYERS BIDIRECTIONAL BATCH STEPS INPUT HIDDEN MODE RUNS [WARMUP_S RUN_S]
  CELL lstm|gru, MODE train|inference. A training step is forward, backward and an Adam update,
  like the JavaScript rows. As there (bench/src/timing.ts): calls repeat for WARMUP_S seconds
  (at least one), then each of RUNS timed runs repeats its call for RUN_S seconds (at least
  one) and counts the mean; the median of the runs is reported.
  BENCH_TORCH_DEVICE=cuda runs it on the GPU (cuDNN's RNN kernels), for a GPU machine's figures.
"""
import json
import os
import resource
import statistics
import sys
import time

import torch


def main():
    cell, layers, bidirectional, batch, steps, inputs, hidden, mode, runs = sys.argv[1:10]
    layers, batch, steps, inputs, hidden, runs = map(int, (layers, batch, steps, inputs, hidden, runs))
    warmup_seconds, run_seconds = map(float, sys.argv[10:12]) if len(sys.argv) >= 12 else (2.0, 0.5)
    # OpenMP here starts with one thread; use every core, as the webasm rows do.
    torch.set_num_threads(os.cpu_count() or 1)
    module_class = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    device = torch.device(os.environ.get("BENCH_TORCH_DEVICE", "cpu"))
    # Kernels run asynchronously on a GPU: a call's time is taken once they have finished.
    finish = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = module_class(inputs, hidden, num_layers=layers, bidirectional=bidirectional == "true").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(steps, batch, inputs, device=device)

    def once():
        start = time.perf_counter()
        if mode == "train":
            output, _ = model(x)
            loss = output.pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(x)
        finish()
        return time.perf_counter() - start

    def repeat_for(seconds):
        calls, taken = 0, 0.0
        while True:
            taken += once()
            calls += 1
            if taken >= seconds:
                return taken / calls

    repeat_for(warmup_seconds)
    median = statistics.median(repeat_for(run_seconds) for _ in range(runs))
    print(json.dumps({
        "tokensPerSecond": batch * steps / median,
        "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }))


if __name__ == "__main__":
    main()
