#!/bin/sh
# base: the organisation's smallest image: busybox (Debian's static build) with
# all its applets, the root and nobody accounts, /tmp. No registry needed.
#   usage: base/build.sh STAMP        (STAMP: where to write the image ID)
set -eu
stamp=$1
here=$(dirname "$0")
BUSYBOX=${BUSYBOX:-/bin/busybox}

ctr=$(tbah from scratch)
trap 'tbah rm "$ctr" >/dev/null 2>&1' EXIT        # on failure: no half-built container left behind

tbah copy -q "$ctr" "$BUSYBOX" /bin/busybox
tbah copy -q "$ctr" "$here/rootfs/" /                 # etc/passwd, etc/group, etc/os-release
mnt=$(tbah mount "$ctr")
# One symlink per applet, where busybox says it belongs (bin/sh, usr/bin/awk, sbin/ip …).
for applet in $("$BUSYBOX" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$mnt/$(dirname "$applet")"
  ln -s /bin/busybox "$mnt/$applet"
done
mkdir -p -m 0755 "$mnt/root" "$mnt/var" "$mnt/home"
chmod 0700 "$mnt/root"
mkdir -m 1777 "$mnt/tmp"
tbah umount "$ctr" >/dev/null

tbah config \
  --created-by "base: busybox $("$BUSYBOX" | head -1 | cut -d' ' -f2), applet links, accounts" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd '["/bin/sh"]' \
  --label org.opencontainers.image.title=base \
  --label org.opencontainers.image.vendor="$VENDOR" \
  --label org.opencontainers.image.version="$VERSION" \
  "$ctr"
tbah commit --rm --iidfile "$stamp" "$ctr" "$NAMESPACE/base:$VERSION"
trap - EXIT
