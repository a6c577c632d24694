#!/bin/sh
# run.sh BUILD SECONDS TARGET... - `make fuzz`: runs each libFuzzer target
# for SECONDS (one job, nice -n 10: the machine is shared), starting from
# tests/fuzz/corpus/TARGET plus the seeds (every scenario of the tree for
# `scenario`), then minimises the corpus (-merge=1) back into
# tests/fuzz/corpus/TARGET.  Crashes, leaks and timeouts do not stop the
# run: each lands in BUILD/fuzz-crashes/TARGET/ and the target restarts,
# to be kept in tests/fuzz/regress/TARGET/ once understood.  Prints, per
# target, the executions, the corpus size and the findings, and appends
# them to BUILD/fuzz-stats.txt.
set -e
build=$1
secs=$2
shift 2
src=$(pwd)
# The harnesses write each input to a file: in memory, not on the disk.
TMPDIR_BASE=${TMPDIR:-/tmp}
if [ -z "$TMPDIR" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPDIR_BASE=/dev/shm
fi
sh tests/fuzz/make-dict.sh "$src" > "$build/iosim.dict"
for t in "$@"; do
  corpus=tests/fuzz/corpus/$t
  work=$build/fuzz-work/$t
  seeds=$build/fuzz-seeds/$t
  crashes=$build/fuzz-crashes/$t
  mkdir -p "$corpus" "$work" "$seeds" "$crashes"
  case $t in
  scenario)
    # Every scenario of the tree, named by its path so none collide.
    for f in $(find scenarios tests/fixtures/scenarios -name '*.iosim'); do
      cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
    extra="-dict=$build/iosim.dict -max_len=65536" ;;
  token|replay)
    printf '1:9f3c2a0b7d1e4c55:1:29,57.2\n' > "$seeds/example"
    printf '1:0000000000000000:7:-\n' > "$seeds/none"
    extra="-max_len=256" ;;
  tracedb)
    cp tests/fuzz/regress/tracedb/* "$seeds/" 2>/dev/null || true
    extra="-max_len=4096" ;;
  esac
  log=$build/fuzz-$t.log
  : > "$log"
  echo "== fuzz $t for ${secs}s (log: $log)"
  # One process at a time; a finding ends it (the input is written to
  # $crashes), and the loop starts another on the corpus grown so far
  # until the time is spent.  (libFuzzer's -fork=1 does the same, but
  # here it lost its children's reports.)
  end=$(($(date +%s) + secs))
  execs=0
  first="$corpus $seeds"
  while [ "$(date +%s)" -lt "$end" ]; do
    left=$((end - $(date +%s)))
    # A folder of its own: a process that leaves through _exit (the
    # simulator's stack-overflow report does) writes no artifact and does
    # not remove its files, so its last scenario is picked up from there.
    seg=$TMPDIR_BASE/iosim-run-$t-$$
    rm -rf "$seg" && mkdir -p "$seg"
    TMPDIR=$seg nice -n 10 "./$build/fuzz-$t" -max_total_time="$left" -timeout=20 -rss_limit_mb=2048 \
      -artifact_prefix="$crashes/" -print_final_stats=1 $extra "$work" $first > "$build/fuzz-$t.segment" 2>&1 || true
    for left_over in $(find "$seg" -name in.iosim 2>/dev/null); do
      cp "$left_over" "$crashes/exit-$(md5sum < "$left_over" | cut -c1-16)"
    done
    rm -rf "$seg"
    first=""
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.segment" | tail -1)
    [ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$build/fuzz-$t.segment" | tail -1 | tr -d '#')
    execs=$((execs + ${n:-0}))
    cat "$build/fuzz-$t.segment" >> "$log"
  done
  # Minimise: the smallest set of inputs that keeps the coverage reached.
  rm -rf "$build/fuzz-merged/$t"
  mkdir -p "$build/fuzz-merged/$t"
  nice -n 10 "./$build/fuzz-$t" -merge=1 $extra "$build/fuzz-merged/$t" "$corpus" "$work" \
    > "$build/fuzz-$t-merge.log" 2>&1 || true
  if [ -n "$(ls "$build/fuzz-merged/$t")" ]; then
    rm -f "$corpus"/*
    cp "$build/fuzz-merged/$t"/* "$corpus/"
  fi
  files=$(ls "$corpus" | wc -l)
  bytes=$(cat "$corpus"/* 2>/dev/null | wc -c)
  found=$(ls "$crashes" | wc -l)
  line="$(date -u +%Y-%m-%dT%H:%MZ) $t: ${execs:-0} executions in ${secs}s, corpus $files files ($bytes bytes), findings so far $found ($crashes)"
  echo "$line"
  echo "$line" >> "$build/fuzz-stats.txt"
done
