#!/bin/sh
# The build step, run inside the builder container with busybox's tools only:
# every src/pages/NAME.txt (first line: the title; then paragraphs separated
# by blank lines) becomes NAME.html; index.html links them; SHA256SUMS lists
# what was built.
#   usage: sh build.sh SRC_DIR OUT_DIR
set -eu
src=$1 out=$2
mkdir -p "$out"
cp "$src/style.css" "$out/style.css"
index="$out/index.html"
printf '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><link rel="stylesheet" href="style.css"><title>Handbook</title></head>\n<body><h1>Handbook</h1>\n<ul>\n' > "$index"
for page in "$src"/pages/*.txt; do
  name=$(basename "$page" .txt)
  title=$(head -n 1 "$page")
  awk -v title="$title" '
    BEGIN { printf "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"stylesheet\" href=\"style.css\"><title>%s</title></head>\n<body><h1>%s</h1>\n", title, title }
    NR == 1 { next }
    /^$/ { if (open) { print "</p>"; open = 0 } next }
    { gsub(/&/, "\\&amp;"); gsub(/</, "\\&lt;"); if (!open) { printf "<p>"; open = 1 } else printf " "; printf "%s", $0 }
    END { if (open) print "</p>"; print "<p><a href=\"index.html\">Index</a></p></body></html>" }
  ' "$page" > "$out/$name.html"
  printf '<li><a href="%s.html">%s</a></li>\n' "$name" "$title" >> "$index"
done
printf '</ul></body></html>\n' >> "$index"
(cd "$out" && sha256sum *.html style.css > SHA256SUMS)
echo "built $(ls "$out" | wc -l) files into $out"
