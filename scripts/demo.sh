#!/usr/bin/env bash
# The README's main job (`pnpm demo`, after a build): what this machine runs, the kernels learning
# a spiral, a character-level LSTM language model, a short sentiment run on IMDB with a
# prediction, and a short grapheme-to-phoneme run on CMUdict with its attention drawn. About ten
# minutes on two cores. Models go to a fresh temporary folder each time.
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
echo
echo "translate: spelling to pronunciation, a short run on 4,000 CMUdict words (the full run: see apps/translate/README.md)"
translate train --task g2p --limit 4000 --epochs 3 --embedding 32 --hidden 64 --decoder-hidden 128 --lr 0.005 --validation-decodes 200 --out "$out/g2p"
translate run --model "$out/g2p" --beam 3 --plot "$out/g2p/attention.svg" recurrent network
echo "models written to $out; the runs' curves: $out/sentiment/run/report.html, $out/g2p/run/report.html; attention: $out/g2p/attention-1.svg"
