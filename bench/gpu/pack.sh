#!/usr/bin/env bash
# Packs what `bench/gpu/run.sh` needs on a GPU machine that has no Node and no registry (the
# `device` tool's): this machine's Node, the built core and bench with the packages they load
# (node_modules/.pnpm entries, symbolic links kept), and the Vulkan loader's Debian packages.
# Run from the repository root after `pnpm build`; writes .gpurun/ and .gl/ (both git-ignored
# through .git/info/exclude), which the device call carries: carry [".gpurun", ".gl"], command
# `bash bench/gpu/run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qs '^/.gpurun/$' .git/info/exclude || printf '/.gpurun/\n/.gl/\n' >> .git/info/exclude
rm -rf .gpurun && mkdir -p .gpurun .gl /tmp/amd64/partial
# The .pnpm entries reachable from core's and bench's own dependencies, less the peers (tfjs,
# brain.js), the build tools, headless-gl and gpu.js's old webgpu (neither loads here either).
node -e '
const fs = require("fs"), path = require("path");
const root = path.resolve("node_modules/.pnpm");
const skip = /node_modules\/(typescript|vitest|@types\/|@tensorflow\/|brain\.js)/;
const seen = new Set(), queue = [];
const add = (dir) => { for (const n of fs.readdirSync(dir)) { if (n.startsWith(".")) continue; const f = path.join(dir, n); if (n.startsWith("@")) for (const m of fs.readdirSync(f)) queue.push(path.join(f, m)); else queue.push(f); } };
for (const d of ["packages/core/node_modules", "bench/node_modules"]) add(d);
while (queue.length) {
  const p = queue.pop();
  if (!p.includes(".pnpm") && skip.test(p)) continue;
  let real; try { real = fs.realpathSync(p); } catch { continue; }
  if (!real.startsWith(root)) continue;
  const entry = path.relative(root, real).split(path.sep)[0];
  if (seen.has(entry) || /^(gl@|webgpu@0\.2\.)/.test(entry)) continue;
  seen.add(entry); add(path.join(root, entry, "node_modules"));
}
for (const e of seen) console.log(`node_modules/.pnpm/${e}`);
' > .gpurun/files.txt
printf '%s\n' packages/core/dist packages/core/node_modules/{cli-table3,commander,gpu.js,webgpu} bench/dist bench/node_modules/@recurrent >> .gpurun/files.txt
tar -cf - --exclude='*/webgpu/dist/darwin-*' --exclude='*/webgpu/dist/win32-*' --exclude='*/webgpu/dist/linux-arm64' -T .gpurun/files.txt | xz -T0 -3 > .gpurun/ws.tar.xz
xz -T0 -3 -c "$(command -v node)" > .gpurun/node.xz
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${apt_options[@]}" update -qq
(cd .gl && apt-get "${apt_options[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .gpurun .gl
