/*
 * irp_cmd.c - `iosim irp`: an IRP of a recorded run as WinDbg's !irp shows
 * it after any step, rebuilt by the machine-state model (state.h).
 */
#include <stdio.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim irp --db TRACE.db [--run N] --irp K [--at #STEP|TIME]\n"
    "\n"
    "Prints IRP K of run N (default: the last run that ran) as WinDbg's !irp\n"
    "shows it: every stack location, the current one marked '>', completion\n"
    "routines with their invoke-on flags, pending bits, each location's\n"
    "Args, PendingReturned, Cancel, IoStatus.  K is the IRP's number or the\n"
    "scenario's name for it (r1).\n"
    "  --at #STEP   after that step (#48); --at TIME after the last step at or\n"
    "               before that time, with its unit (204.6us, 204600ns, 1.5ms);\n"
    "               default: the end of the run\n";

int cli_irp(int argc, char **argv) {
  cli_view_t v = {.cmd = "irp", .usage = usage};
  const char *name = NULL;
  int rc = cli_view_args(&v, argc, argv, "irp", &name);
  if (rc >= 0) return rc;
  if (!name) {
    fputs(usage, stderr);
    return 2;
  }
  if (cli_view_open(&v) != 0) return 2;
  uint32_t id = 0;
  rc = cli_view_find(&v, MST_IRP, name, &id);
  if (rc == 0 && !mst_print_irp(v.m, id, stdout)) rc = 2;
  cli_view_close(&v);
  return rc;
}
