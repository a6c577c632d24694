#!/bin/sh
# oom.sh - out of memory is an error, never a crash (docs/reliability.md).
# Usage: oom.sh IOSIM STRIDE SCENARIO...  IOSIM is a fault-injection build
# (make test-oom builds one with AddressSanitizer).  For each scenario:
# count its allocations, then fail the Nth for N = 1, 1+STRIDE, ... and
# require exit status 2, "out of memory" on stderr, no sanitizer report
# (LeakSanitizer runs at exit: a leak changes the status), and nothing
# left half-written: with --db, the database passes integrity_check.
# Prints the figures docs/reliability.md records.
set -u
bin=$1 stride=$2 base=$2
shift 2
tmp=$(mktemp -d /tmp/iosim-oom.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
fail=0 total=0
for f in "$@"; do
  if [ ! -f "$f" ]; then echo "oom: $f: no such scenario"; exit 1; fi
  n=$(IOSIM_COUNT_ALLOC=1 "$bin" check "$f" 2>&1 >/dev/null | sed -n 's/^iosim: \([0-9]*\) allocations$/\1/p' | tail -1)
  if [ -z "$n" ]; then echo "oom: $f: no allocation count (not a fault-injection build?)"; exit 1; fi
  tried=0 i=1
  while [ "$i" -le "$n" ]; do
    IOSIM_FAIL_ALLOC=$i "$bin" check "$f" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q "out of memory" "$tmp/err" || grep -q "Sanitizer" "$tmp/err"; then
      echo "oom: $f: allocation $i of $n failing: exit $rc"; head -5 "$tmp/err"; fail=$((fail + 1))
    fi
    tried=$((tried + 1)) i=$((i + stride))
  done
  echo "oom: $f: $n allocations, $tried failed in turn"
  total=$((total + tried))
done
# The trace database: allocations of a traced run failing (SQLite's own
# included: thousands, so every DB_STRIDE-th, OOM_DB_STRIDE, default 25);
# SQLite may absorb a failure (exit 0), else exit 2 with "out of memory";
# the database stays consistent and its earlier run intact either way.
f=$1
stride=$((stride * ${OOM_DB_STRIDE:-25}))
n=$(IOSIM_COUNT_ALLOC=1 "$bin" run --quiet --db "$tmp/count.db" "$f" 2>&1 >/dev/null | sed -n 's/^iosim: \([0-9]*\) allocations$/\1/p' | tail -1)
tried=0 i=1
while [ "$i" -le "$n" ]; do
  rm -f "$tmp/t.db"*
  "$bin" run --quiet --db "$tmp/t.db" "$f" >/dev/null 2>&1 # an earlier, complete run
  IOSIM_FAIL_ALLOC=$i "$bin" run --quiet --db "$tmp/t.db" "$f" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  ok=$(sqlite3 "$tmp/t.db" "PRAGMA integrity_check" 2>&1)
  runs=$(sqlite3 "$tmp/t.db" "SELECT count(*) FROM run WHERE id = 1 AND outcome <> 'running'" 2>&1)
  if { [ $rc -ne 0 ] && { [ $rc -ne 2 ] || ! grep -q "out of memory" "$tmp/err"; }; } || grep -q "Sanitizer" "$tmp/err" ||
     [ "$ok" != ok ] || [ "${runs:-0}" -lt 1 ]; then
    echo "oom: --db $f: allocation $i of $n failing: exit $rc, integrity $ok, complete runs $runs"; head -5 "$tmp/err"
    fail=$((fail + 1))
  fi
  tried=$((tried + 1)) i=$((i + stride))
done
echo "oom: --db $f: $n allocations, $tried failed in turn"
total=$((total + tried))
# The pictures: `iosim viz` of the first IRP failing every
# OOM_VIZ_STRIDE-th allocation (default 20; Graphviz's graphs included,
# viz/gvmem.c).  Exit 2 with "out of memory", no sanitizer report, and no
# picture left half-written.
rm -f "$tmp/t.db"*
"$bin" run --quiet --db "$tmp/t.db" "$f" >/dev/null 2>&1
export LSAN_OPTIONS=suppressions=$(dirname "$0")/lsan-graphviz.supp
vstride=$((base * ${OOM_VIZ_STRIDE:-20}))
n=$(IOSIM_COUNT_ALLOC=1 "$bin" viz --db "$tmp/t.db" --irp 1 -o "$tmp/count.svg" 2>&1 >/dev/null | sed -n 's/^iosim: \([0-9]*\) allocations$/\1/p' | tail -1)
tried=0 i=1
while [ "$i" -le "${n:-0}" ]; do
  rm -f "$tmp/p.svg"
  IOSIM_FAIL_ALLOC=$i "$bin" viz --db "$tmp/t.db" --irp 1 -o "$tmp/p.svg" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q "out of memory" "$tmp/err" || grep -q "Sanitizer" "$tmp/err" || [ -e "$tmp/p.svg" ]; then
    echo "oom: viz --irp 1 of $f: allocation $i of $n failing: exit $rc$([ -e "$tmp/p.svg" ] && echo ', a picture was left')"
    head -5 "$tmp/err"
    fail=$((fail + 1))
  fi
  tried=$((tried + 1)) i=$((i + vstride))
done
echo "oom: viz --irp 1 of $f: ${n:-0} allocations, $tried failed in turn"
total=$((total + tried))
echo "oom: $total runs with an allocation failing, $fail wrong"
[ $fail -eq 0 ]
