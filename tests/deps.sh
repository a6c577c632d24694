#!/bin/sh
# Installs the Debian packages iosim needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -e
need="make gcc libc6-dev pkg-config check libsqlite3-dev libgraphviz-dev sqlite3"
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
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
