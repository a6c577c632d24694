/*
 * dpcs_cmd.c - `iosim dpcs`: every CPU's frames and DPC queue at a step
 * of a recorded run (WinDbg's !dpcs, with the frame stack beside it).
 */
#include <stdio.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim dpcs --db TRACE.db [--run N] [--at #STEP|TIME]\n"
    "\n"
    "Prints, for each CPU of run N (default: the last run that ran) at a\n"
    "step, its IRQL, its frames innermost first (an ISR, a DPC, an APC over\n"
    "the thread or idle loop they interrupted) and its DPC queue, head\n"
    "first, each DPC with its device, IRP and the step that queued it.\n"
    "  --at #STEP   after that step (#48); --at TIME after the last step at or\n"
    "               before that time, with its unit (204.6us, 204600ns, 1.5ms);\n"
    "               default: the end of the run\n";

int cli_dpcs(int argc, char **argv) {
  cli_view_t v = {.cmd = "dpcs", .usage = usage};
  int rc = cli_view_args(&v, argc, argv, NULL, NULL);
  if (rc >= 0) return rc;
  if (cli_view_open(&v) != 0) return 2;
  mst_print_step(v.m, stdout);
  mst_print_cpus(v.m, stdout);
  cli_view_close(&v);
  return 0;
}
