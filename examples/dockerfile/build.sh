#!/bin/sh
# ./Dockerfile as a tbah script, one block per instruction. Where Docker makes
# a layer per instruction, this script makes one per stage: the commit at the
# end. Build arguments are environment variables (BASE=… VERSION=… ./build.sh).
#   usage: ./build.sh [IMAGE]      (default: example/notes:1; Docker format, for HEALTHCHECK, SHELL, ONBUILD)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-example/notes:1}

# ARG BASE=localhost/example/base:1.0.0
BASE=${BASE:-localhost/example/base:1.0.0}

# FROM ${BASE} AS builder
builder=$(tbah from "$BASE")
final=
trap 'tbah rm "$builder" ${final:+"$final"} >/dev/null 2>&1' EXIT
# ARG VERSION=1.0                  (a build argument: visible to the build, not kept in the image)
VERSION=${VERSION:-1.0}
# WORKDIR /src
tbah config --workingdir /src "$builder"
# COPY src/ ./
tbah copy -q "$builder" "$here/src/" /src
# RUN --mount=type=cache,target=/cache sh ./build.sh /out "$VERSION"
tbah run --mount type=cache,target=/cache "$builder" -- /bin/sh -c 'sh ./build.sh /out "$1"' sh "$VERSION"

# FROM ${BASE}
final=$(tbah from "$BASE")
# LABEL org.opencontainers.image.title=notes org.opencontainers.image.version=1.0
tbah config --label org.opencontainers.image.title=notes --label org.opencontainers.image.version=1.0 "$final"
# ENV NOTES_HOME=/srv/notes PATH=/srv/notes/bin:$PATH      ($PATH: the image's own, as in Docker)
tbah config --env NOTES_HOME=/srv/notes --env 'PATH=/srv/notes/bin:$PATH' "$final"
# RUN echo '…' >> /etc/passwd && echo '…' >> /etc/group     (shell form: /bin/sh -c)
tbah run "$final" -- /bin/sh -c "echo 'notes:x:10002:10002::/srv/notes:/bin/false' >> /etc/passwd \
 && echo 'notes:x:10002:' >> /etc/group"
# COPY --from=builder --chown=10002:10002 /out/ /srv/notes/
tbah copy -q --from "$builder" --chown 10002:10002 "$final" /out/ /srv/notes/
# ADD vendor.tar.gz /srv/notes/www/                          (a local archive is extracted)
tbah add -q "$final" "$here/vendor.tar.gz" /srv/notes/www/
# WORKDIR /srv/notes                                          (made now: no later `run` would make it)
tbah run "$final" -- mkdir -p /srv/notes
tbah config --workingdir /srv/notes "$final"
# USER notes
tbah config --user notes "$final"
# EXPOSE 8080/tcp
tbah config --port 8080/tcp "$final"
# VOLUME /srv/notes/data
tbah config --volume /srv/notes/data "$final"
# STOPSIGNAL SIGTERM
tbah config --stop-signal SIGTERM "$final"
# HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD wget … || exit 1   (shell form → CMD-SHELL)
tbah config --healthcheck 'CMD-SHELL wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1' \
  --healthcheck-interval 30s --healthcheck-timeout 3s --healthcheck-retries 3 "$final" 2>/dev/null
# SHELL ["/bin/sh", "-eu", "-c"]
tbah config --shell '["/bin/sh", "-eu", "-c"]' "$final" 2>/dev/null
# ONBUILD COPY notes/ /srv/notes/www/                          (kept for Dockerfile builds FROM this image)
tbah config --onbuild 'COPY notes/ /srv/notes/www/' "$final" 2>/dev/null
# ENTRYPOINT ["/usr/sbin/httpd", "-f", "-h", "/srv/notes/www"]
# CMD ["-p", "8080"]                 (together: an entrypoint alone would inherit the base's cmd, and tbah warns)
tbah config --entrypoint '["/usr/sbin/httpd", "-f", "-h", "/srv/notes/www"]' --cmd '["-p", "8080"]' "$final"

# The end of the Dockerfile: one layer for the final stage, the builder thrown away.
tbah rm "$builder" >/dev/null
tbah commit --rm --quiet --format docker "$final" "$image"
trap - EXIT
