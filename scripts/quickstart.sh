#!/usr/bin/env bash
# Quick start: install what is needed, build tbah, then build a small busybox
# image from scratch, commit it, and write it as an OCI layout and a
# docker-archive. Uses a private store so it touches nothing else.
#   bash scripts/quickstart.sh          # then prints how to put `tbah` on PATH
#   bash scripts/quickstart.sh --link   # and puts it there (npm link as root, else ~/.local/bin/tbah)
set -euo pipefail
cd "$(dirname "$0")/.."
LINK=0
case "${1:-}" in
  --link) LINK=1 ;;
  '') ;;
  *) echo "usage: bash scripts/quickstart.sh [--link]" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh
node scripts/prepare.mjs   # builds build/ and dist/ unless they are current

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

# `tbah` on PATH: as root `npm link` (a symlink in npm's global bin directory);
# otherwise a symlink in ~/.local/bin, which needs no privilege.
if [ "$(id -u)" = 0 ]; then
  link_cmd=(npm link --silent --no-audit --no-fund)
  link_say="npm link"
else
  link_cmd=(ln -sfn "$PWD/bin/tbah.js" "$HOME/.local/bin/tbah")
  link_say="mkdir -p ~/.local/bin && ln -sfn $PWD/bin/tbah.js ~/.local/bin/tbah   (~/.local/bin must be on PATH)"
fi
found=$(type -P tbah || true)
if [ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f bin/tbah.js)" ]; then
  echo "tbah on PATH:    $found"
elif [ "$LINK" = 1 ]; then
  [ "$(id -u)" = 0 ] || mkdir -p "$HOME/.local/bin"
  "${link_cmd[@]}" >/dev/null
  found=$(type -P tbah || true)
  if [ -n "$found" ]; then echo "tbah on PATH:    $found"
  else echo "tbah linked:     $HOME/.local/bin/tbah (add ~/.local/bin to PATH)"; fi
else
  cat <<EOT
tbah is not on PATH yet. Put it there with:
  $link_say
(or run bash scripts/quickstart.sh --link, or call node $PWD/bin/tbah.js)
EOT
fi
