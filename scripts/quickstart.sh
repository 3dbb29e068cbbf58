#!/usr/bin/env bash
# Quick start: install what is needed, build tbah, then build a small busybox
# image from scratch, commit it, and write it as an OCI layout and a
# docker-archive. Uses a private store so it touches nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent

BUSYBOX=${BUSYBOX:-/bin/busybox}
if [ ! -x "$BUSYBOX" ]; then
  echo "quickstart: $BUSYBOX not found; install busybox-static (apt-get install busybox-static) or set BUSYBOX=" >&2
  exit 1
fi
OUT=${OUT:-$(mktemp -d /tmp/tbah-quickstart.XXXXXX)}
export TBAH_ROOT="$OUT/store"
tbah() { node "$PWD/bin/tbah.js" "$@"; }

ctr=$(tbah from scratch)
tbah copy "$ctr" "$BUSYBOX" /bin/busybox >/dev/null
mnt=$(tbah mount "$ctr")
for applet in sh ls cat echo id mkdir; do ln -s busybox "$mnt/bin/$applet"; done
tbah umount "$ctr" >/dev/null
tbah config --cmd '["/bin/sh"]' --env PATH=/bin --label org.example.v=1 "$ctr"
id=$(tbah commit --rm "$ctr" busybox:1)
tbah push busybox:1 "oci:$OUT/oci:busybox"
tbah push busybox:1 "docker-archive:$OUT/busybox-docker.tar:busybox:1"

cat <<EOT
image ID:        $id
store:           $TBAH_ROOT
OCI layout:      $OUT/oci  (skopeo inspect oci:$OUT/oci:busybox)
docker-archive:  $OUT/busybox-docker.tar  (docker load -i $OUT/busybox-docker.tar)
EOT
