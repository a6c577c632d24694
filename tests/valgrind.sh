#!/bin/sh
# valgrind.sh BUILD - `make valgrind`: every scenario of the tree (lessons,
# bug pairs, exercises, test fixtures) checked by BUILD/iosim under
# Valgrind's memcheck, which must report no error and no leak (definite,
# indirect or possible).  BUILD/iosim is built with -DIOSIM_VALGRIND, which
# registers the coroutine stacks (sim/core/ctx.c); without it memcheck
# reports every stack switch.  iosim's own verdict (0 all hold, 1 an
# expectation failed, as some fixtures are meant to) does not matter here,
# only Valgrind's (exit 99).  Prints one line per scenario and a summary.
build=${1:-build-vg}
vg="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible"
vg="$vg --errors-for-leak-kinds=definite,indirect,possible --track-fds=no"
n=0
bad=0
for f in scenarios/lessons/*.iosim scenarios/bugs/*.iosim scenarios/exercises/*.iosim \
         tests/fixtures/scenarios/*.iosim; do
  n=$((n + 1))
  log=$build/valgrind/$(basename "$f").log
  mkdir -p "$build/valgrind"
  $vg "./$build/iosim" check "$f" > "$log" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
    bad=$((bad + 1))
    echo "FAIL $f (exit $rc; $log):"
    grep '^==' "$log" | head -20
  fi
done
echo "valgrind: $n scenarios, $bad with memcheck errors or leaks"
[ $bad -eq 0 ]
