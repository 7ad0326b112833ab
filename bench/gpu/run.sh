#!/usr/bin/env bash
# On the GPU machine (see pack.sh): our webgpu backend on the NVIDIA Vulkan driver through Dawn,
# then PyTorch with cuDNN, on the bench's workloads; one JSON line a row, also into $OUT.
# `bash bench/gpu/run.sh profile` instead profiles S train and S inference (node --cpu-prof).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/gpu-out}"; mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -dc .gpurun/ws.tar.xz | tar -xf - && xz -dc .gpurun/node.xz > /tmp/node && chmod +x /tmp/node
nvidia-smi -L
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
cd bench
quiet() { grep -v 'artificially reduced'; } # Dawn's notes on NVIDIA's limits, once a process
/tmp/node -e 'import("@recurrent/core").then((c) => c.probeBackend("webgpu")).then((p) => console.log(JSON.stringify(p)))' 2>&1 | quiet | tee /tmp/probe
grep -q '"available":true' /tmp/probe || exit 3
if [ "${1:-}" = profile ]; then
  for mode in train inference; do
    mkdir -p "$OUT/$mode" && timeout 90 /tmp/node --cpu-prof --cpu-prof-dir="$OUT/$mode" dist/row.js webgpu S $mode 3 2>&1 | quiet
  done
  exit 0
fi
ours() { echo "== webgpu $2 $3"; timeout "$1" /tmp/node dist/row.js webgpu "$2" "$3" 3 2>&1 | quiet | tee -a "$OUT/webgpu.txt"; }
torch() { echo "== pytorch cuda $*"; BENCH_TORCH_DEVICE=cuda timeout 60 python3 peers/pytorch_lstm.py "$@" 3 2>&1 | tee -a "$OUT/torch.txt"; }
ours 20 matmul roofline
for w in S S-GRU S-BiLSTM L; do ours 60 $w train; ours 50 $w inference; done
for mode in train inference; do
  torch lstm 1 false 32 64 128 256 $mode; torch lstm 2 false 64 128 256 512 $mode
  torch gru 1 false 32 64 128 256 $mode; torch lstm 1 true 32 64 128 256 $mode
done
