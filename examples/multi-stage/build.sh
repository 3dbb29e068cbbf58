#!/bin/sh
# Multi-stage without a Dockerfile: a builder container has the tools and the
# inputs, runs the build, and only its output is copied into a fresh image;
# the builder is then removed. Nothing of the inputs reaches the final image.
#   usage: ./build.sh [IMAGE]         (default: example/handbook:1)
#   REGISTRY=host:port [PUSH_FLAGS=--tls-verify=false] ./build.sh   also pushes it
set -eu
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-example/handbook:1}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# Stage 1, the builder: busybox (its shell, awk, sed, sha256sum) and the sources.
builder=$(tbah from --name handbook-builder scratch)
final=
trap 'tbah rm "$builder" ${final:+"$final"} >/dev/null 2>&1' EXIT
tbah copy -q "$builder" "$BUSYBOX" /bin/busybox
tbah run "$builder" -- /bin/busybox --install -s /bin     # applet links, inside the builder only
tbah copy -q "$builder" "$here/src" /src
tbah run "$builder" -- sh /src/build.sh /src /out/www

# Stage 2, the image: from scratch, only what it needs from the builder.
final=$(tbah from scratch)
tbah copy -q --from "$builder" "$final" /bin/busybox /bin/busybox
tbah copy -q --from "$builder" "$final" /out/www /srv/www
tbah rm "$builder" >/dev/null                  # the builder, its tools and sources are gone

tbah config \
  --created-by "copy --from builder: busybox, /out/www" \
  --entrypoint '["/bin/busybox", "httpd", "-f", "-v"]' \
  --cmd '["-p", "8080", "-h", "/srv/www"]' \
  --port 8080/tcp \
  --user 65534:65534 \
  --label org.opencontainers.image.title=handbook \
  "$final"
tbah commit --rm --quiet "$final" "$image"
trap - EXIT
if [ -n "${REGISTRY:-}" ]; then
  tbah push ${PUSH_FLAGS:-} "$image" "docker://$REGISTRY/$image"
fi
