#!/bin/sh
# layering.sh BUILD - the dependency rule of docs/architecture.md, checked
# on the objects and sources:
#   1. engine objects (sim/core ke hal io cc fsrtl ex ps ob) reference nothing of
#      SQLite, Graphviz, the scenario language, the trace database, the
#      verifier, the sinks, the user-mode file system or the command line;
#   2. the lower kernel (core, ke, hal) references nothing defined in io,
#      cc, fsrtl, ps or ob (it reaches the I/O manager only through S->hooks);
#   3. a private header is included only inside its own layer, and the
#      lower kernel includes no io/cc/fsrtl/ps/ob header.
# Prints every violation and exits 1 if there is one.
set -u
B=${1:-build}
fail=0
say() { echo "layering: $*"; fail=1; }

engine="core ke hal io cc fsrtl ex ps ob"
lower="core ke hal"
upper="io cc fsrtl ps ob"
outside="sinks verify ufs scn db cli quiz"

defs() { # symbols defined by the objects of the given sim/ folders
  for d in "$@"; do
    for o in "$B"/sim/"$d"/*.o; do [ -f "$o" ] && nm --defined-only "$o"; done
  done | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u
}
undefs() {
  for d in "$@"; do
    for o in "$B"/sim/"$d"/*.o; do
      [ -f "$o" ] || continue
      nm -u "$o" | awk -v o="$o" '{print $2 " " o}'
    done
  done
}

for d in $engine; do
  ls "$B"/sim/"$d"/*.o >/dev/null 2>&1 || { say "no objects in $B/sim/$d (build first)"; }
done

# 1. the engine against the world outside it
defs $outside > "$B/.layer-outside"
undefs $engine | while read -r sym obj; do
  case "$sym" in
  sqlite3_* | gv* | ag[A-Z_]* | Ag* | main | getopt*) echo "layering: $obj uses $sym (a library or the command line)" ;;
  *) grep -qx "$sym" "$B/.layer-outside" && echo "layering: $obj uses $sym, defined outside the engine" ;;
  esac
done > "$B/.layer-report1"
[ -s "$B/.layer-report1" ] && { cat "$B/.layer-report1"; fail=1; }

# 2. the lower kernel against the I/O manager
defs $upper > "$B/.layer-upper"
undefs $lower | while read -r sym obj; do
  grep -qx "$sym" "$B/.layer-upper" && echo "layering: $obj calls $sym of io/cc/fsrtl/ps/ob (use a hook)"
done > "$B/.layer-report2"
[ -s "$B/.layer-report2" ] && { cat "$B/.layer-report2"; fail=1; }

# 3. private headers stay in their layers
priv='"(core|ke|hal|io|cc|fsrtl|ex|ps|ob)/[a-z_]*\.h"'
for f in $(find sim viz -name '*.[ch]'); do
  dir=$(echo "$f" | cut -d/ -f2)
  top=$(echo "$f" | cut -d/ -f1)
  incs=$(grep -E '^#include "' "$f" | sed 's/#include //')
  for i in $incs; do
    h=$(echo "$i" | tr -d '"')
    case "$top/$dir" in
    sim/core | sim/ke | sim/hal)
      case "$h" in io/* | cc/* | fsrtl/* | ps/* | ob/* | ex/*) say "$f includes $h (the lower kernel does not see the I/O manager)" ;; esac ;;
    sim/io | sim/cc | sim/fsrtl | sim/ex | sim/ps | sim/ob) ;;
    *)
      echo "$i" | grep -Eq "$priv" && say "$f includes the engine's private header $h"
      case "$h" in
      scn_int.h | run_int.h) [ "$dir" = scn ] || say "$f includes $h (the scenario language's)" ;;
      tracedb_int.h) [ "$dir" = db ] || say "$f includes $h (the trace database's)" ;;
      viz_int.h) [ "$top" = viz ] || say "$f includes $h (the pictures')" ;;
      verify_rules.h) [ "$dir" = verify ] || say "$f includes $h (the verifier's)" ;;
      explore_int.h) [ "$dir" = explore ] || say "$f includes $h (the explorer's)" ;;
      quiz_int.h) [ "$dir" = quiz ] || say "$f includes $h (the quiz generator's)" ;;
      esac ;;
    esac
  done
done

rm -f "$B/.layer-outside" "$B/.layer-upper" "$B/.layer-report1" "$B/.layer-report2"
[ $fail = 0 ] && echo "layering: ok (engine: $engine; lower kernel: $lower)"
exit $fail
