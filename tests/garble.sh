#!/bin/sh
# garble.sh IOSIM SCENARIO - runs SCENARIO twice, the second time with every
# step's detail text replaced by "x" (IOSIM_GARBLE_DETAILS), and fails if
# anything a program decides changes: the outcome, the expectations' results,
# the verifier's findings, `why` for every IRP, `iosim irp` and the IRP flow
# diagram of up to 40 of them, the machine at the end (irpfind, thread, CPUs, ports, stacks).
# Detail is prose for people; no fact may be read back from it.
set -u
IOSIM=$1
F=$2
d=$(mktemp -d "${TMPDIR:-/tmp}/iosim-garble.XXXXXX")
trap 'rm -rf "$d"' EXIT
fail=0

# The lines that carry decisions, not prose.
results() { grep -E '^(outcome:|expectations:|findings:|at the end:|  (PASS|FAIL|FINDING|IRP|thread) )' "$1" | sed 's/ at step #[0-9]*//'; }

for m in plain garbled; do
  if [ $m = garbled ]; then export IOSIM_GARBLE_DETAILS=1; fi
  "$IOSIM" run "$F" --quiet --verify --db "$d/$m.db" > "$d/$m.out" 2>&1
  echo $? > "$d/$m.rc"
  results "$d/$m.out" > "$d/$m.res"
  "$IOSIM" viz --db "$d/$m.db" --list 2>/dev/null | awk '$1 ~ /^[0-9]+$/ {print $1}' > "$d/$m.irps"
  # `irp` and `viz` are a process each: at most 40 IRPs, spread over the
  # run (a recursion scenario has hundreds, all alike), the same ones in
  # both runs.  `why` below still asks about every IRP, in one process.
  if [ $m = plain ]; then
    awk -v n="$(wc -l < "$d/$m.irps")" 'BEGIN { s = n > 40 ? int((n + 39) / 40) : 1 } (NR - 1) % s == 0' \
      "$d/$m.irps" > "$d/sample.irps"
  fi
  for k in $(cat "$d/sample.irps"); do
    "$IOSIM" irp --db "$d/$m.db" --irp "$k" > "$d/$m.irp$k" 2>&1
    "$IOSIM" viz --db "$d/$m.db" --irp "$k" -o "$d/$m.flow$k.dot" > /dev/null 2>&1
  done
  # The machine at the end and `why` for every IRP, in one `iosim step`
  # session; its "  | " lines are the steps' detail, the only prose.
  { echo "n 100000000"
    for k in $(cat "$d/$m.irps"); do
      for f in IoStatus.Status IoStatus.Information PendingReturned CurrentLocation Cancel; do echo "why $k $f"; done
    done
    echo irpfind; echo thread; echo cpu; echo port; echo devstack; echo q
  } | "$IOSIM" step --db "$d/$m.db" 2>&1 | grep -v '^  | ' > "$d/$m.views"
  unset IOSIM_GARBLE_DETAILS
done

# The garbled run must really have garbled (else the test proves nothing).
if [ "$(sqlite3 "$d/garbled.db" "SELECT count(*) FROM event WHERE detail <> 'x'" 2>/dev/null)" != 0 ]; then
  echo "garble: $F: the garbled run still has detail text"; fail=1
fi
cmp -s "$d/plain.rc" "$d/garbled.rc" || { echo "garble: $F: exit status $(cat "$d/plain.rc") became $(cat "$d/garbled.rc")"; fail=1; }
cmp -s "$d/plain.res" "$d/garbled.res" || { echo "garble: $F: results differ:"; diff "$d/plain.res" "$d/garbled.res"; fail=1; }
cmp -s "$d/plain.irps" "$d/garbled.irps" || { echo "garble: $F: the IRP lists differ"; fail=1; }
[ -s "$d/plain.res" ] || { echo "garble: $F: no results at all"; fail=1; }
for k in $(cat "$d/sample.irps"); do
  cmp -s "$d/plain.irp$k" "$d/garbled.irp$k" || { echo "garble: $F: iosim irp $k differs:"; diff "$d/plain.irp$k" "$d/garbled.irp$k" | head -20; fail=1; }
  cmp -s "$d/plain.flow$k.dot" "$d/garbled.flow$k.dot" || { echo "garble: $F: the flow of IRP $k differs:"; diff "$d/plain.flow$k.dot" "$d/garbled.flow$k.dot" | head -20; fail=1; }
done
sed -i 's/^[^:]*\.db: run/TRACE: run/' "$d/plain.views" "$d/garbled.views"
grep -q 'live IRP' "$d/plain.views" || { echo "garble: $F: iosim step showed no machine"; fail=1; }
cmp -s "$d/plain.views" "$d/garbled.views" || { echo "garble: $F: the machine views differ:"; diff "$d/plain.views" "$d/garbled.views" | head -20; fail=1; }
exit $fail
