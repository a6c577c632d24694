/*
 * port_cmd.c - `iosim port`: the completion ports of a recorded run at a
 * step: queued packets, the threads waiting in GetQueuedCompletionStatus,
 * concurrency.
 */
#include <stdio.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim port --db TRACE.db [--run N] [--port P] [--at #STEP|TIME]\n"
    "\n"
    "Prints completion port P (its name or number; default: every port) of\n"
    "run N (default: the last run that ran) at a step: its concurrency and\n"
    "running threads, its queued packets (the IRP of each, the step that\n"
    "queued it) and the threads waiting on it, oldest first.\n"
    "  --at #STEP   after that step (#48); --at TIME after the last step at or\n"
    "               before that time, with its unit (204.6us, 204600ns, 1.5ms);\n"
    "               default: the end of the run\n";

int cli_port(int argc, char **argv) {
  cli_view_t v = {.cmd = "port", .usage = usage};
  const char *name = NULL;
  int rc = cli_view_args(&v, argc, argv, "port", &name);
  if (rc >= 0) return rc;
  if (cli_view_open(&v) != 0) return 2;
  uint32_t id = 0;
  if (name && cli_view_find(&v, MST_PORT, name, &id) != 0) {
    cli_view_close(&v);
    return 2;
  }
  mst_print_step(v.m, stdout);
  mst_print_port(v.m, id, stdout);
  cli_view_close(&v);
  return 0;
}
