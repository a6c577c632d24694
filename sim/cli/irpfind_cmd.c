/*
 * irpfind_cmd.c - `iosim irpfind`: every IRP still allocated at a step of
 * a recorded run, and where each is (WinDbg's !irpfind).  At the end of a
 * run, what it lists was lost: a leak.
 */
#include <stdio.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim irpfind --db TRACE.db [--run N] [--at #STEP|TIME]\n"
    "\n"
    "Lists every IRP still allocated at a step of run N (default: the last\n"
    "run that ran), as WinDbg's !irpfind does: its major function, issuing\n"
    "thread, the step that allocated it and where it is (at a device and\n"
    "location, being completed, taken back by a completion routine, a\n"
    "packet on a completion port, its stage-2 APC queued).  At the end of a\n"
    "run (the default), an IRP listed here was never freed: a leak.\n"
    "  --at #STEP   after that step (#48); --at TIME after the last step at or\n"
    "               before that time, with its unit (204.6us, 204600ns, 1.5ms)\n";

int cli_irpfind(int argc, char **argv) {
  cli_view_t v = {.cmd = "irpfind", .usage = usage};
  int rc = cli_view_args(&v, argc, argv, NULL, NULL);
  if (rc >= 0) return rc;
  if (cli_view_open(&v) != 0) return 2;
  mst_print_step(v.m, stdout);
  mst_print_irpfind(v.m, stdout);
  cli_view_close(&v);
  return 0;
}
