#!/bin/sh
# screenshot.sh - the README's picture of the explorer: lesson 3's page
# (docs/explorer/03-more-processing.html, written by `make`) at the step
# where its completion routine took the IRP back, as headless Chromium
# paints it at projector size (1024x768).  Needs Debian's chromium.
# Usage (from the top of the tree, after `make`):
#   sh viz/html/screenshot.sh [STEP [OUT.png [HEIGHT]]]
#   defaults: 63 docs/img/explorer.png 768
set -eu
step=${1:-63}
out=${2:-docs/img/explorer.png}
height=${3:-768}
page=$(pwd)/docs/explorer/03-more-processing.html
[ -f "$page" ] || { echo "screenshot.sh: $page is missing; run make first" >&2; exit 1; }
command -v chromium >/dev/null || { echo "screenshot.sh: chromium is not installed (sh tests/deps.sh)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
profile=$(mktemp -d "${TMPDIR:-/tmp}/iosim-shot.XXXXXX")
trap 'rm -rf "$profile"' EXIT INT TERM
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1024,$height --screenshot="$(pwd)/$out" "file://$page#$step" >/dev/null 2>&1
echo "  PNG $out"
