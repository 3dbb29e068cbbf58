#!/usr/bin/env bash
# Installs what tbah and its tests need on Debian: the npm packages, and as root
# the system tools the tests use as real counterparts (skopeo, umoci, busybox-static…).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  # git: the package-install test; make, gcc, libc6-dev (static libc) and ansible-core: the examples (examples/, test/integration/examples.test.ts).
  for p in skopeo umoci busybox-static zstd attr runc crun docker-registry buildah openssl python3 git make gcc libc6-dev ansible-core; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
fi
