#!/bin/sh
# make-readme-sample.sh - writes the README's "What you see" sample from the
# iosim just built, so it cannot drift from what the program prints: lesson
# 2 run with --explain, cut to the rows the lesson is about (disk0's
# dispatch and pending mark, the ISR, the DPC, the completion routine, the
# APC: the steps its `order` expectation names), the outcome and that
# expectation.  The sample goes between the README's two marker lines
# (`<!-- what-you-see: ... -->` and `<!-- end of what-you-see -->`); the
# file is rewritten only if the sample changed.
#
# Usage (from the top of the tree, after `make`):
#   sh docs/make-readme-sample.sh [IOSIM [README]]           write it
#   sh docs/make-readme-sample.sh IOSIM README --check       exit 1 if it is stale
set -eu

iosim=${1:-./iosim}
readme=${2:-README.md}
check=${3:-}
lesson=scenarios/lessons/02-async-read.iosim
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iosim-readme.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

"$iosim" run "$lesson" --explain --width 0 > "$tmp/out"

# Rows are "  #N  T us cpu irql frame thread irp device event detail",
# their "#" within the first five columns: field 9 is the device, 10 the
# event.  Lines over 150 columns are cut.
{
  echo '```'
  echo "\$ ./iosim run $lesson --explain"
  awk '
    function put(s) { if (length(s) > 150) s = substr(s, 1, 146) " ..."; print s }
    /^ step / { put($0); print "..."; next }
    index(substr($0, 1, 5), "#") {
      keep = ($10 == "dispatch" && $9 == "disk0") || ($10 == "mark-pending" && $9 == "disk0") ||
             $10 == "isr" || $10 == "dpc" || $10 == "completion-routine" || $10 == "apc"
      explain = $10 == "mark-pending" && $9 == "disk0"
      if (keep) put($0)
      next
    }
    /^ *\\_ / { if (explain) put($0); explain = 0; next }
    /^outcome: / { print "..."; put($0); next }
    /^expectations: / { put($0); next }
    /expect order / { put($0); getline; put($0); exit }
  ' "$tmp/out"
  echo '```'
} > "$tmp/sample"

begin='<!-- what-you-see: written by `make` (docs/make-readme-sample.sh) from the current build -->'
end='<!-- end of what-you-see -->'
grep -qxF "$begin" "$readme" && grep -qxF "$end" "$readme" || {
  echo "make-readme-sample: $readme has no what-you-see markers" >&2
  exit 2
}
awk -v b="$begin" -v e="$end" -v s="$tmp/sample" '
  $0 == b { print; while ((getline l < s) > 0) print l; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }
' "$readme" > "$tmp/readme"
if cmp -s "$tmp/readme" "$readme"; then exit 0; fi
if [ "$check" = --check ]; then
  echo "make-readme-sample: $readme's sample is not what $iosim prints now; run make" >&2
  exit 1
fi
cat "$tmp/readme" > "$readme"
echo "  README $readme: what-you-see sample rewritten"
