#!/bin/sh
# debug: base + a login profile and a diagnostics script, for operators who
# need a shell next to the applications. Independent of runtime and app, so
# `make -j` builds it while those build.
#   usage: debug/build.sh STAMP BASE_STAMP
set -eu
stamp=$1 parent=$2
here=$(dirname "$0")

ctr=$(tbah from "$(cat "$parent")")
trap 'tbah rm "$ctr" >/dev/null 2>&1' EXIT

tbah copy -q "$ctr" "$here/rootfs/" /                 # etc/profile, usr/local/bin/diag
tbah config \
  --created-by "debug: profile, diag" \
  --env ENV=/etc/profile \
  --cmd '["/bin/sh", "-l"]' \
  --label org.opencontainers.image.title=debug \
  --label org.opencontainers.image.description="Shell and diagnostics for operators" \
  "$ctr"
tbah commit --rm --iidfile "$stamp" "$ctr" "$NAMESPACE/debug:$VERSION"
trap - EXIT
