/*
 * devstack_cmd.c - `iosim devstack`: a device stack of a recorded run as
 * WinDbg's !devstack shows it (top first, the device asked for marked),
 * with the IRPs at each device at a step.
 */
#include <stdio.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim devstack --db TRACE.db [--run N] [--device D] [--at #STEP|TIME]\n"
    "\n"
    "Prints the device stack D belongs to (D: a device name or number;\n"
    "default: every stack of the run) as WinDbg's !devstack does, top\n"
    "first, D marked with '>': each device with its driver and the IRPs\n"
    "whose current stack location is at it at that step (pending marked).\n"
    "  --at #STEP   after that step (#48); --at TIME after the last step at or\n"
    "               before that time, with its unit (204.6us, 204600ns, 1.5ms);\n"
    "               default: the end of the run\n";

int cli_devstack(int argc, char **argv) {
  cli_view_t v = {.cmd = "devstack", .usage = usage};
  const char *name = NULL;
  int rc = cli_view_args(&v, argc, argv, "device", &name);
  if (rc >= 0) return rc;
  if (cli_view_open(&v) != 0) return 2;
  uint32_t id = 0;
  if (name && cli_view_find(&v, MST_DEVICE, name, &id) != 0) {
    cli_view_close(&v);
    return 2;
  }
  mst_print_step(v.m, stdout);
  mst_print_devstack(v.m, id, stdout);
  cli_view_close(&v);
  return 0;
}
