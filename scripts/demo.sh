#!/usr/bin/env bash
# The README's main job (`pnpm demo`, after a build): what this machine runs, the kernels learning
# a spiral, a character-level LSTM language model, a short sentiment run on IMDB with a
# prediction and the model exported as ONNX, a short grapheme-to-phoneme run on CMUdict with its attention drawn, and a short
# CTC speech run on synthesised digit strings that labels two held-out files. About fifteen
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
sentiment export --model "$out/sentiment" --onnx "$out/sentiment.onnx"   # for onnxruntime-web in a browser
echo
echo "translate: spelling to pronunciation, a short run on 4,000 CMUdict words (the full run: see apps/translate/README.md)"
translate train --task g2p --limit 4000 --epochs 3 --embedding 32 --hidden 64 --decoder-hidden 128 --lr 0.005 --validation-decodes 200 --out "$out/g2p"
translate run --model "$out/g2p" --beam 3 --plot "$out/g2p/attention.svg" recurrent network
echo
echo "speech: digit strings spoken by eSpeak-NG, a short CTC run on 800 utterances (the full run: see apps/speech/README.md)"
speech synth --task digits --out "$out/digits" --train 800 --validation 60 --test 60
speech train --data "$out/digits" --out "$out/speech" --labels words --stack 4 --hidden 64 --layers 1 --epochs 6 --batch-size 16 --lr 0.005 --no-augment --schedule constant
speech eval --model "$out/speech" --samples 3
first_two=$(head -n 2 "$out/digits/test/transcript.tsv" | cut -f 1 | sed "s|^|$out/digits/test/|")
# shellcheck disable=SC2086
speech label --model "$out/speech" --tracks "$out/speech/tracks" --plot "$out/speech/posteriors.svg" $first_two
echo "models written to $out; the runs' curves: $out/sentiment/run/report.html, $out/g2p/run/report.html, $out/speech/run/report.html;"
echo "the sentiment model as ONNX: $out/sentiment.onnx (apps/sentiment/README.md shows how to run it with onnxruntime-web);"
echo "attention: $out/g2p/attention-1.svg; spectrograms with CTC posteriors: $out/speech/posteriors-1.svg; Audacity label tracks: $out/speech/tracks"
