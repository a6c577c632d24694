/*
 * thread_cmd.c - `iosim thread`: a thread of a recorded run at a step, as
 * WinDbg's !thread shows it: state, wait, IRP list, APC queues.
 */
#include <stdio.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim thread --db TRACE.db [--run N] [--thread T] [--at #STEP|TIME]\n"
    "\n"
    "Prints thread T (its name or number; default: every thread) of run N\n"
    "(default: the last run that ran) at a step, as WinDbg's !thread does:\n"
    "its state (running on a CPU, ready, waiting, terminated), what it waits\n"
    "on and since when (objects, a sleep, a completion port), its IRP list\n"
    "(each IRP and where it is) and its kernel and user APC queues.\n"
    "  --at #STEP   after that step (#48); --at TIME after the last step at or\n"
    "               before that time, with its unit (204.6us, 204600ns, 1.5ms);\n"
    "               default: the end of the run\n";

int cli_thread(int argc, char **argv) {
  cli_view_t v = {.cmd = "thread", .usage = usage};
  const char *name = NULL;
  int rc = cli_view_args(&v, argc, argv, "thread", &name);
  if (rc >= 0) return rc;
  if (cli_view_open(&v) != 0) return 2;
  uint32_t id = 0;
  if (name && cli_view_find(&v, MST_THREAD, name, &id) != 0) {
    cli_view_close(&v);
    return 2;
  }
  mst_print_step(v.m, stdout);
  mst_print_thread(v.m, id, stdout);
  cli_view_close(&v);
  return 0;
}
