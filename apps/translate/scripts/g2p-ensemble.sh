#!/usr/bin/env bash
# The G2P ensemble of apps/translate/docs/runs.md, end to end and idempotent: trains the four
# members two at a time, one CPU each (taskset; about 1.3x the steps of one training on both
# CPUs), resuming whatever an earlier sitting left (a member whose folder holds model.safetensors
# is done), then scores each member alone on the test words, tunes the rescorers' weight of the
# ensemble on the validation words (one decoding, its candidates rescored at each weight by
# rescore-weights.mjs) and scores the best on the test words. Results: <runs>/eval-*.json.
#
#   bash apps/translate/scripts/g2p-ensemble.sh [runs folder, default /work/runs]
#
# Stop it with `pkill -INT -f "out <runs>/g2p-"`: each training writes its checkpoint and exits 130,
# which ends its queue; run the script again to continue. About 12 machine-hours from nothing.
set -u
runs=$(realpath -m "${1:-/work/runs}")
root=$(cd "$(dirname "$0")/../../.." && pwd)
translate=(node "$root/apps/translate/bin/translate.mjs")
# --average-last 5: each member's folder gets the average of its last 5 epochs' weights where that
# validates better than its best epoch (whose weights stay in run/best-epoch.safetensors)
common=(--task g2p --embedding 64 --hidden 256 --decoder-hidden 384 --dropout 0.3 --lr 2e-3 --schedule cosine --label-smoothing 0.1 --validation-decodes 2000 --average-last 5)
mkdir -p "$runs"

trained() { [ -f "$runs/$1/model.safetensors" ]; }

# member CPU NAME OPTIONS...: trains (or resumes) one member pinned to CPU at low priority
member() {
  local cpu=$1 name=$2
  shift 2
  trained "$name" && return 0
  local resume=()
  [ -f "$runs/$name/run/checkpoint.json" ] && resume=(--resume)
  echo "$(date -u +%FT%TZ) $name: training on CPU $cpu ${resume[*]}" >&2
  taskset -c "$cpu" nice -n 19 "${translate[@]}" train "${common[@]}" --out "$runs/$name" "$@" "${resume[@]}" >> "$runs/$name.log" 2>&1
}

# One CPU a queue while both have work; a queue the other has left (at the start of a sitting)
# gets both CPUs: the worker pool follows the pinning, and the numbers do not depend on the
# number of threads (runs.md), so the member is the same, about 1.35x faster than on one CPU.
cpus=(0 1)
trained g2p-r2l2 && trained g2p-r2l && cpus[0]=0-1
trained g2p-l2s5 && trained g2p-l2s8 && cpus[1]=0-1
( member "${cpus[0]}" g2p-l2s5 --epochs 15 --layers 2 --seed 5 && member "${cpus[0]}" g2p-l2s8 --epochs 15 --layers 2 --seed 8 ) &
( member "${cpus[1]}" g2p-r2l2 --epochs 15 --layers 2 --seed 7 --reverse-target && member "${cpus[1]}" g2p-r2l --epochs 18 --seed 6 --reverse-target ) &
wait
for name in g2p-l2s5 g2p-l2s8 g2p-r2l2 g2p-r2l; do
  trained "$name" || { echo "$name is not trained yet; run this again to continue" >&2; exit 1; }
done

# evaluate NAME ARGS...: one evaluation, skipped when its result is there
evaluate() {
  local name=$1
  shift
  [ -s "$runs/eval-$name.json" ] && return 0
  echo "$(date -u +%FT%TZ) eval $name" >&2
  "${translate[@]}" eval "$@" --json > "$runs/eval-$name.json.tmp" && mv "$runs/eval-$name.json.tmp" "$runs/eval-$name.json"
}
for name in g2p-l2s5 g2p-l2s8 g2p-r2l2 g2p-r2l; do evaluate "$name-test" --model "$runs/$name" --beam 5 || exit 1; done
ensemble=(--model "$runs/g2p-l2s5" --model "$runs/g2p-l2s8" --rescore "$runs/g2p-r2l2" --rescore "$runs/g2p-r2l" --rescorers-decode --beam 5)
# one decoding of the validation words with every candidate's scores, from which
# rescore-weights.mjs replays the choice at the default weight and at 0.1, 0.2, ..., 0.9
evaluate ensemble-validation-default "${ensemble[@]}" --split validation --candidates "$runs/candidates-validation.tsv" || exit 1
node "$root/apps/translate/scripts/rescore-weights.mjs" "$runs/candidates-validation.tsv" --decoders 2 --step 0.1 --json > "$runs/rescore-weights.json" || exit 1
# the weight with the lowest validation WER (the default on a tie), then the test words
best=$(node -e '
  const { best } = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  console.log(best.default ? "default" : best.weight);' "$runs/rescore-weights.json")
weight=()
[ "$best" != default ] && weight=(--rescore-weight "$best")
evaluate "ensemble-test-$best" "${ensemble[@]}" "${weight[@]}" || exit 1
node -e '
  const fs = require("node:fs");
  for (const file of fs.readdirSync(process.argv[1]).filter((f) => /^eval-.*\.json$/.test(f)).sort()) {
    const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${file}`, "utf8"));
    const oracle = r.oracle ? `, n-best oracle WER ${(100 * r.oracle.sequenceErrorRate).toFixed(2)}% of ${r.oracle.candidates.toFixed(2)} candidates` : "";
    console.log(`${file}: WER ${(100 * r.sequenceErrorRate).toFixed(2)}%, PER ${(100 * r.tokenErrorRate).toFixed(2)}%, ${r.examples} words${oracle}`);
  }' "$runs"
