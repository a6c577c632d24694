#!/bin/sh
# make-lesson-diagrams.sh - draws every lesson's pictures for the docs: each
# lesson in scenarios/lessons/ is run into a temporary trace database, then
# its IRP flow diagram goes to DIR/NN-name.svg (one per named request,
# DIR/NN-name-TAG.svg, when a lesson names several) and its timeline to
# DIR/NN-name-timeline.svg, and its explorer page (`iosim html`) to
# PAGES/NN-name.html.  Nothing half-written: iosim writes each file
# whole or not at all, and the script stops at the first failure.
#
# Usage (from the top of the tree, after `make`):
#   sh viz/make-lesson-diagrams.sh [IOSIM [DIR [PAGES]]]
#   defaults: ./iosim docs/diagrams docs/explorer
set -eu

iosim=${1:-./iosim}
out=${2:-docs/diagrams}
pages=${3:-docs/explorer}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iosim-diagrams.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out" "$pages"

for scn in scenarios/lessons/*.iosim; do
  name=$(basename "$scn" .iosim)
  db="$tmp/$name.db"
  # A lesson whose expectations fail (exit 1) is still drawn: the picture
  # is how one sees why.  Bad input (exit 2) stops the script.
  rc=0
  "$iosim" run "$scn" --quiet --db "$db" >/dev/null || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "make-lesson-diagrams: $scn: iosim run failed (exit $rc)" >&2
    exit 1
  fi
  list=$("$iosim" viz --db "$db" --list)
  # Lines after the header: "id tag major thread NAME" for requests threads issued.
  tags=$(printf '%s\n' "$list" | awk 'NR > 1 && $2 != "-" && $4 == "thread" { print $2 }')
  if [ -z "$tags" ]; then
    # No named request: the first one a thread issued that is not an open or close.
    first=$(printf '%s\n' "$list" | awk 'NR > 1 && $4 == "thread" && $3 !~ /CREATE|CLOSE|CLEANUP/ { print $1; exit }')
    [ -n "$first" ] && "$iosim" viz --db "$db" --irp "$first" -o "$out/$name.svg"
  else
    count=$(printf '%s\n' "$tags" | wc -l)
    for tag in $tags; do
      if [ "$count" -eq 1 ]; then dst="$out/$name.svg"; else dst="$out/$name-$tag.svg"; fi
      "$iosim" viz --db "$db" --irp "$tag" -o "$dst"
    done
  fi
  "$iosim" viz --db "$db" --timeline -o "$out/$name-timeline.svg"
  # From the scenario (not the database): the page gets the explanations.
  "$iosim" html "$scn" -o "$pages/$name.html"
  echo "  VIZ $scn"
done
