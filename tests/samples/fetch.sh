#!/bin/sh
# fetch.sh DIR - fetches the Microsoft driver samples the tests in this
# folder run (Windows-driver-samples, MIT licence) at a pinned commit into
# DIR, and checks them against SHA256SUMS.  They are not part of iosim's
# source: iosim runs them unmodified, as a driver developer would.
set -eu
dir=${1:-build/samples}
commit=26a27df80772dbcfd69e6449b671d5c29eb5aedc
base=https://raw.githubusercontent.com/microsoft/Windows-driver-samples/$commit
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cd "$dir"
if sha256sum --quiet -c "$here/SHA256SUMS" >/dev/null 2>&1; then
  echo "samples: already in $dir (commit $commit)"
  exit 0
fi
command -v curl >/dev/null || { echo "samples: curl is needed to fetch them" >&2; exit 2; }
while read -r sum path; do
  mkdir -p "$(dirname "$path")"
  curl -sSfL --retry 2 -o "$path.part" "$base/$path" || {
    echo "samples: cannot fetch $path (no network?)" >&2
    exit 2
  }
  mv "$path.part" "$path"
done < "$here/SHA256SUMS"
sha256sum --quiet -c "$here/SHA256SUMS"
echo "samples: fetched into $dir (commit $commit)"
