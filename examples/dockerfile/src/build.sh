#!/bin/sh
# The build step of the builder stage: a page and a helper script, stamped with
# the version. /cache (a cache mount) counts builds across runs.
set -eu
out=$1 version=$2
mkdir -p "$out/www" "$out/bin"
n=$(( $(cat /cache/builds 2>/dev/null || echo 0) + 1 )); echo "$n" > /cache/builds
printf '<!doctype html>\n<title>notes %s</title>\n<link rel="stylesheet" href="lib/notes.css">\n<h1>notes %s</h1>\n' "$version" "$version" > "$out/www/index.html"
printf '#!/bin/sh\necho "notes %s in $NOTES_HOME"\n' "$version" > "$out/bin/notes-info"
chmod 0755 "$out/bin/notes-info"
