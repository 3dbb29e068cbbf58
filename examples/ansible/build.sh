#!/bin/sh
# Bring your own config management: an Ansible playbook configures a working
# container (through the tbah connection plugin), then tbah commits the result.
#   usage: ./build.sh [IMAGE]         (default: example/ledger:1)
#   REGISTRY=host:port [PUSH_FLAGS=--tls-verify=false] ./build.sh   also pushes it
set -eu
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-example/ledger:1}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# The container the playbook configures: busybox and the two accounts every image has.
ctr=$(tbah from scratch)
trap 'tbah rm "$ctr" >/dev/null 2>&1' EXIT
tbah copy -q "$ctr" "$BUSYBOX" /bin/busybox
tbah copy -q "$ctr" "$here/rootfs/" /           # etc/passwd, etc/group
tbah run "$ctr" -- /bin/busybox sh -c '/bin/busybox --install -s /bin && mkdir -p -m 1777 /tmp'

# The play: the inventory is the container's name; the connection is tbah.
ANSIBLE_CONFIG="$here/ansible.cfg" ansible-playbook -i "$ctr," -c tbah "$here/playbook.yml"

tbah config \
  --created-by "ansible-playbook playbook.yml" \
  --user ledger \
  --workingdir /var/lib/ledger \
  --entrypoint '["/usr/local/bin/ledger-start"]' \
  --port 9090/tcp \
  --label org.opencontainers.image.title=ledger \
  "$ctr"
tbah commit --rm --quiet "$ctr" "$image"
trap - EXIT
if [ -n "${REGISTRY:-}" ]; then
  tbah push ${PUSH_FLAGS:-} "$image" "docker://$REGISTRY/$image"
fi
