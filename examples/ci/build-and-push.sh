#!/bin/sh
# The image step of the CI recipes in README.md: unprivileged, with a fresh
# store, credentials from the CI's secret store, the registry as the cache.
# Puts CONTEXT (files the job built with its own tools) at DEST on top of
# BASE_IMAGE and pushes IMAGE; writes the manifest digest to DIGEST_FILE.
#
#   REGISTRY            host[:port] of the registry
#   BASE_IMAGE, IMAGE   full references (REGISTRY/…); pin the base by digest for reproducible builds
#   REGISTRY_PASSWORD   with REGISTRY_USER: logged in with --password-stdin (never on a command line);
#                       or, instead, REGISTRY_AUTH_FILE: a ready auth file (a Kubernetes dockerconfigjson Secret)
#   CONTEXT (site), DEST (/srv/www), DIGEST_FILE (image.digest), REVISION, TBAH_ROOT (./.tbah/store),
#   TLS_VERIFY=false    only for a plain-http registry (a test)
set -eu
: "${REGISTRY:?}" "${BASE_IMAGE:?}" "${IMAGE:?}"
CONTEXT=${CONTEXT:-site} DEST=${DEST:-/srv/www} DIGEST_FILE=${DIGEST_FILE:-image.digest}
export TBAH_ROOT="${TBAH_ROOT:-$PWD/.tbah/store}"
tls=
[ "${TLS_VERIFY:-true}" = false ] && tls=--tls-verify=false

if [ -n "${REGISTRY_PASSWORD:-}" ]; then
  export REGISTRY_AUTH_FILE="${REGISTRY_AUTH_FILE:-$PWD/.tbah/auth.json}"
  printf '%s' "$REGISTRY_PASSWORD" | tbah login $tls -u "${REGISTRY_USER:?}" --password-stdin "$REGISTRY"  >&2
fi

ctr=$(tbah from --quiet $tls "$BASE_IMAGE")    # pulls the base's layers into this job's store
tbah copy -q "$ctr" "$CONTEXT/" "$DEST"
tbah config \
  --label org.opencontainers.image.revision="${REVISION:-unknown}" \
  --label org.opencontainers.image.created="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$ctr"
tbah commit --rm --quiet "$ctr" "$IMAGE" >/dev/null
# Blobs the registry has are skipped; the base's layers, known to live in its
# repository, are mounted there: only the new layer and the config travel.
tbah push $tls --digestfile "$DIGEST_FILE" "$IMAGE"
echo "pushed $IMAGE@$(cat "$DIGEST_FILE")"
