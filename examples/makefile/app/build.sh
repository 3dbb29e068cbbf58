#!/bin/sh
# app: the application itself, on the runtime: its pages and its CGI program,
# with the labels, user, working directory, entrypoint and command it ships with.
#   usage: app/build.sh STAMP RUNTIME_STAMP
set -eu
stamp=$1 parent=$2
here=$(dirname "$0")

ctr=$(tbah from "$(cat "$parent")")
trap 'tbah rm "$ctr" >/dev/null 2>&1' EXIT

tbah copy -q "$ctr" "$here/src/" /srv/www              # index.html, cgi-bin/hello (root-owned: read-only to the server)
tbah config \
  --created-by "app: site and cgi-bin" \
  --label org.opencontainers.image.title=hello-web \
  --label org.opencontainers.image.description="Says hello over HTTP" \
  --label org.opencontainers.image.version="$VERSION" \
  --label org.opencontainers.image.vendor="$VENDOR" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label org.opencontainers.image.source=https://example.org/hello-web \
  --env GREETING="Hello from hello-web" \
  --user 10001:10001 \
  --workingdir /srv/www \
  --port 8080/tcp \
  --entrypoint '["/usr/sbin/httpd", "-f", "-v", "-c", "/etc/httpd.conf"]' \
  --cmd '["-p", "8080", "-h", "/srv/www"]' \
  "$ctr"
tbah commit --rm --iidfile "$stamp" "$ctr" "$NAMESPACE/app:$VERSION"
trap - EXIT
