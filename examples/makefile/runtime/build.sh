#!/bin/sh
# runtime: base + what every web application of the organisation runs on:
# busybox httpd with its config, an unprivileged account "app" (10001:10001),
# and /srv/www, owned by root so the server cannot change its own content.
#   usage: runtime/build.sh STAMP BASE_STAMP
set -eu
stamp=$1 parent=$2
here=$(dirname "$0")

ctr=$(tbah from "$(cat "$parent")")           # exactly the base image make just checked
trap 'tbah rm "$ctr" >/dev/null 2>&1' EXIT

# Debian's busybox has no adduser: the account is two lines, written by the image's own shell.
tbah run "$ctr" -- sh -euc '
  echo "app:x:10001:10001:web application:/srv/www:/bin/false" >> /etc/passwd
  echo "app:x:10001:" >> /etc/group
  mkdir -p /srv/www'
tbah copy -q "$ctr" "$here/rootfs/" /                 # etc/httpd.conf
tbah config \
  --created-by "runtime: busybox httpd, user app" \
  --user 10001:10001 \
  --workingdir /srv/www \
  --port 8080/tcp \
  --entrypoint '["/usr/sbin/httpd", "-f", "-v", "-c", "/etc/httpd.conf"]' \
  --cmd '["-p", "8080", "-h", "/srv/www"]' \
  --stop-signal SIGTERM \
  --label org.opencontainers.image.title=runtime \
  "$ctr"
tbah commit --rm --iidfile "$stamp" "$ctr" "$NAMESPACE/runtime:$VERSION"
trap - EXIT
