#!/usr/bin/env bash
# Installs what recurrent needs on a Debian 12 machine with Node 20 (the README's first step and
# the start of .ci/run):
#   1. as root with apt: Mesa 25's Vulkan drivers from bookworm-backports, so WebGPU (Dawn) has an
#      adapter even without a GPU (lavapipe runs WGSL on the CPU); Debian 12's own Mesa 22 is too old;
#   2. pnpm through corepack, at the version pinned in package.json's packageManager;
#   3. the workspace's packages from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  current=$(mesa_version)
  if [ "${current%%.*}" -ge 25 ] 2>/dev/null; then
    echo "bootstrap: mesa-vulkan-drivers $current already installed"
  else
    echo "bootstrap: installing mesa-vulkan-drivers from bookworm-backports (WebGPU on lavapipe)"
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
  fi
else
  echo "bootstrap: not root with apt-get; skipping system packages (WebGPU needs a Vulkan driver:" \
    "see README.md, 'Backends'). webasm and cpu work without them."
fi

# The registry these machines reach serves no signatures, which corepack checks on download.
export COREPACK_INTEGRITY_KEYS=0 COREPACK_ENABLE_DOWNLOAD_PROMPT=0
corepack enable
pnpm --version >/dev/null
pnpm install --frozen-lockfile
