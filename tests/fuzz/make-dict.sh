#!/bin/sh
# make-dict.sh SRCDIR - the scenario language's words as a libFuzzer
# dictionary, read from the tables the parser matches them with: every
# word-like string literal in sim/scn (statement keywords, their options,
# units, operators), the status names of include/iosim/wdm.h's
# IOSIM_STATUS_MAP and the trace's names in sim/core/trace.c (event kinds,
# IRP states, frames, IRQLs, which `expect` lines name).  Generated at build
# time, so it follows the parser.
set -e
src=${1:-.}
# One entry a line, w1="word"; the names only need to be unique.
{
  grep -ho '"[A-Za-z_][A-Za-z0-9_.-]*"' "$src"/sim/scn/*.c "$src"/sim/core/trace.c
  grep -ho '"\(==\|!=\|<=\|>=\|<\|>\|+=\|-=\|=\)"' "$src"/sim/scn/*.c
  sed -n 's/^ *X(\(STATUS_[A-Z0-9_]*\),.*/"\1"/p' "$src"/include/iosim/wdm.h
  sed -n 's/^ *X(\(IRP_MJ_[A-Z0-9_]*\),.*/"\1"/p' "$src"/include/iosim/wdm.h
  # the layout: a new line, an indent, a quoted name
  printf '%s\n' '"\x0a"' '"  "' '"\x22"'
} | sort -u | awk '{ printf "w%d=%s\n", NR, $0 }'
