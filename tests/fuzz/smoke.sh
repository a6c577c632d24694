#!/bin/sh
# smoke.sh SECONDS - the short fuzz run `make test` does when CI=true:
# every target for SECONDS / 4 (60 s in all by default) from the kept
# corpus and regression inputs, new inputs going to a scratch folder (the
# kept corpus is left alone).  Any crash, sanitizer report, leak or timeout
# fails it.  Optional: without a clang that links libFuzzer it says so and
# passes (sh tests/deps.sh fuzz installs one).
secs=${1:-60}
each=$((secs / 4))
probe=$(mktemp -d "${TMPDIR:-/tmp}/iosim-smoke.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
if ! command -v clang > /dev/null 2>&1 || ! clang -fsanitize=fuzzer -o "$probe/p" "$probe/p.c" > /dev/null 2>&1; then
  echo "fuzz smoke run skipped: no clang with libFuzzer here (optional; sh tests/deps.sh fuzz installs it)"
  exit 0
fi
make --no-print-directory BUILD=build-fuzz CC=clang SAN=address,undefined OPT="-O1 -fsanitize=fuzzer-no-link" \
  build-fuzz/fuzz-scenario build-fuzz/fuzz-tracedb build-fuzz/fuzz-token build-fuzz/fuzz-replay > "$probe/build.log" 2>&1 ||
  { cat "$probe/build.log"; exit 1; }
sh tests/fuzz/make-dict.sh . > build-fuzz/iosim.dict
rc=0
for t in scenario tracedb token replay; do
  mkdir -p "$probe/$t" tests/fuzz/corpus/$t
  dict=""
  [ $t = scenario ] && dict="-dict=build-fuzz/iosim.dict"
  if nice -n 10 ./build-fuzz/fuzz-$t -max_total_time=$each -timeout=20 -rss_limit_mb=2048 $dict \
      -artifact_prefix="$probe/" "$probe/$t" tests/fuzz/corpus/$t tests/fuzz/regress/$t > "$probe/$t.log" 2>&1; then
    n=$(grep -o '^#[0-9][0-9]*' "$probe/$t.log" | tail -1 | tr -d '#')
    if [ -n "$n" ]; then
      echo "fuzz smoke $t: $n executions in ${each}s, no finding"
    else # a slow target spends the time replaying its corpus
      echo "fuzz smoke $t: ${each}s replaying its corpus and regression inputs, no finding"
    fi
  else
    rc=1
    echo "fuzz smoke $t: FINDING (the input is named below; keep it in tests/fuzz/regress/$t/)"
    grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$probe/$t.log" | head -10
    mkdir -p build-fuzz/smoke-findings
    cp "$probe"/crash-* "$probe"/leak-* "$probe"/timeout-* build-fuzz/smoke-findings/ 2>/dev/null || true
  fi
done
exit $rc
