#!/bin/sh
# A minimal image from the host's own tools: the host's gcc builds a static
# binary, the project's own `make install` puts it into a scratch container's
# mounted root filesystem, and that is the image: one file, no shell.
#   usage: ./build.sh [IMAGE]         (default: example/hello-static:1)
#   REGISTRY=host:port [PUSH_FLAGS=--tls-verify=false] ./build.sh   also pushes it
set -eu
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-example/hello-static:1}

make -s -C "$here" hello                      # cc -Os -static -s: no shared libraries needed

ctr=$(tbah from scratch)
trap 'tbah rm "$ctr" >/dev/null 2>&1' EXIT
make -s -C "$here" install DESTDIR="$(tbah mount "$ctr")" PREFIX=/usr/local
tbah umount "$ctr" >/dev/null

# Smoke test before committing: it runs, in the container, as nobody (run leaves no trace in the image).
tbah run --user 65534:65534 "$ctr" -- /usr/local/bin/hello tbah

tbah config \
  --created-by "make install DESTDIR=\$(tbah mount) (host cc -static)" \
  --entrypoint '["/usr/local/bin/hello"]' \
  --cmd '["world"]' \
  --user 65534:65534 \
  --label org.opencontainers.image.title=hello-static \
  --label org.opencontainers.image.description="A static C program and nothing else" \
  "$ctr"
tbah commit --rm --quiet "$ctr" "$image"
trap - EXIT
if [ -n "${REGISTRY:-}" ]; then
  tbah push ${PUSH_FLAGS:-} "$image" "docker://$REGISTRY/$image"
fi
