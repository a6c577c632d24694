#!/bin/sh
# coverage.sh BUILD - `make coverage`: runs the whole test suite with the
# --coverage build in BUILD (its iosim standing in for ../iosim, which the
# suite runs), then prints line and branch coverage per source folder
# (gcovr's JSON summed by folder), and writes every line not covered to
# BUILD/coverage-missing.txt ("file: line line ...").  docs/fuzzing.md
# keeps the table and why the lines left are left.
#
# BUILD is a fault-injection build (make coverage adds
# -DIOSIM_FAULT_INJECTION), so after the suite tests/oom.sh fails the
# allocations of a few lessons one by one and of a traced run every
# OOM_DB_STRIDE-th: the out-of-memory and SQLite error paths are measured
# as they run, not assumed.
#
# For a quick look at one part: COV_SUITES="scn cli" runs only those Check
# suites, COV_FILTER="sim/scn/ viz/" reports only those folders, COV_OOM=0
# skips the out-of-memory sweep, COV_KEEP=1 adds to the counts of the
# run before instead of starting from zero.
set -e
build=${1:-build-cov}
filters=""
for f in ${COV_FILTER:-sim/ viz/}; do filters="$filters --filter $f"; done
[ "${COV_KEEP:-0}" = 1 ] || find "$build" -name '*.gcda' -delete
saved=""
if [ -f iosim ]; then
  saved=$(mktemp iosim.saved.XXXXXX)
  cp -p iosim "$saved"
fi
trap 'if [ -n "$saved" ]; then mv "$saved" iosim; else rm -f iosim; fi' EXIT
cp "$build/iosim" iosim
# -O0 and the counters make the suite slower: give Check more time.
if [ -n "${COV_SUITES:-}" ]; then
  for s in $COV_SUITES; do
    (cd tests && CK_RUN_SUITE=$s CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4} "../$build/iosim-tests") ||
      echo "coverage: some tests of $s failed (the figures are still those of the run)"
  done
else
  (cd tests && CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4} "../$build/iosim-tests") ||
    echo "coverage: some tests failed (the figures are still those of the run)"
fi
if [ "${COV_OOM:-1}" != 0 ]; then
  OOM_DB_STRIDE=${OOM_DB_STRIDE:-5} sh tests/oom.sh "$build/iosim" 1 scenarios/lessons/01-sync-read.iosim \
    scenarios/lessons/02-async-read.iosim scenarios/lessons/10-iocp.iosim scenarios/bugs/double-completion.iosim |
    grep -v "failed in turn$" || echo "coverage: the out-of-memory sweep found wrong paths (make test-oom says which)"
fi
gcovr -r . --object-directory "$build" $filters --json -o "$build/coverage.json" \
  --exclude-unreachable-branches --exclude-throw-branches
python3 - "$build" <<'PY'
import json, os, sys, collections
build = sys.argv[1]
d = json.load(open(os.path.join(build, "coverage.json")))
tot = collections.defaultdict(lambda: [0, 0, 0, 0])
missing = []
for f in d["files"]:
    name = f["file"]
    folder = os.path.dirname(name)
    miss = []
    for l in f["lines"]:
        if l.get("gcovr/noncode"):
            continue
        t = tot[folder]
        t[1] += 1
        if l["count"] > 0:
            t[0] += 1
        else:
            miss.append(l["line_number"])
        for b in l.get("branches", []):
            t[3] += 1
            if b["count"] > 0:
                t[2] += 1
    if miss:
        missing.append("%s: %s" % (name, " ".join(map(str, miss))))
open(os.path.join(build, "coverage-missing.txt"), "w").write("\n".join(missing) + "\n")
print("| folder | lines | line % | branches | branch % |")
print("|---|---:|---:|---:|---:|")
all_ = [0, 0, 0, 0]
for folder in sorted(tot):
    a, b, c, e = tot[folder]
    all_ = [x + y for x, y in zip(all_, tot[folder])]
    print("| %s | %d / %d | %.1f | %d / %d | %.1f |" % (folder, a, b, 100.0 * a / max(b, 1), c, e, 100.0 * c / max(e, 1)))
a, b, c, e = all_
print("| all | %d / %d | %.1f | %d / %d | %.1f |" % (a, b, 100.0 * a / max(b, 1), c, e, 100.0 * c / max(e, 1)))
print("lines not covered, by file: %s/coverage-missing.txt" % build)
PY
