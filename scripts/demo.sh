#!/usr/bin/env bash
# The README's main job (`pnpm demo`, after a build): what this machine runs, the kernels learning
# a spiral, a character-level LSTM language model, and a short sentiment run on IMDB with a
# prediction. About five minutes on two cores. Models go to a fresh temporary folder each time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
out="$(mktemp -d)"

recurrent doctor
recurrent demo
recurrent charlm
echo
echo "sentiment: a short run on 2,000 IMDB reviews (the full run: see apps/sentiment/README.md)"
sentiment train --data imdb --limit 2000 --epochs 2 --lr 0.004 --out "$out/sentiment"
sentiment predict --model "$out/sentiment" \
  "A moving story with wonderful performances; I loved every minute." \
  "Dull, predictable and far too long. A waste of an evening."
echo "models written to $out; the sentiment run's curves: $out/sentiment/run/report.html"
