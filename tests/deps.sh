#!/bin/sh
# Installs the Debian packages iosim needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
# The build needs the compiler, Check, SQLite and Graphviz's libraries; the
# tests also need zlib (to read PNGs) and librsvg's rsvg-convert (to draw
# every SVG with a renderer other than Graphviz), tmux (to drive
# `iosim step` in a real terminal) and Chromium (to open `iosim html`
# pages in a real browser).
set -e
need="make gcc libc6-dev pkg-config check libsqlite3-dev libgraphviz-dev sqlite3 zlib1g-dev librsvg2-bin tmux"
# The explorer page's tests (tests/test_html.c) open it in headless Chromium.
need="$need chromium"
# `sh tests/deps.sh fuzz` (make fuzz): clang and its libFuzzer runtime too;
# `sh tests/deps.sh tools` (make valgrind, make coverage): valgrind, gcovr.
case "$1" in
fuzz) need="$need clang libclang-rt-14-dev" ;;
tools) need="$need valgrind gcovr" ;;
esac
missing=""
for p in $need; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "iosim needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# apt-get talks on both streams ("debconf: delaying package configuration",
# "E: Can not write log" where /var/log is read-only); its words are kept
# and shown only if it fails.
log=$(mktemp "${TMPDIR:-/tmp}/iosim-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq $missing; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "tests/deps.sh: apt-get failed (above); install by hand:$missing" >&2
  exit 1
fi
