/*
 * why_cmd.c - `iosim why`: where a value of a recorded run came from - the
 * step that last set an IRP's field, an event's state or a thread's wait,
 * the routine that did it, and the copies back to the origin (state.h,
 * mst_why).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim why --db TRACE.db [--run N] --irp K --field FIELD [--at #STEP|TIME]\n"
    "       iosim why --db TRACE.db [--run N] --event E [--at #STEP|TIME]\n"
    "       iosim why --db TRACE.db [--run N] --thread T [--at #STEP|TIME]\n"
    "\n"
    "Says which step last set a value, and which routine or driver did it,\n"
    "then follows the copies back to where the value came from: a status a\n"
    "completion routine copied from an IRP of its own, PendingReturned taken\n"
    "from the location the completion walk left, a pending mark a completion\n"
    "routine or the I/O manager copied up.\n"
    "  --irp K        an IRP (its number or the scenario's name, r1) and\n"
    "  --field FIELD  IoStatus.Status, IoStatus.Information, PendingReturned,\n"
    "                 CurrentLocation, Cancel, or 'loc[N].Control'\n"
    "  --event E      an event's state (its name or object number)\n"
    "  --thread T     a thread's wait: what it waits on, or what ended it\n"
    "  --at #STEP     after that step (#48); --at TIME after the last step at\n"
    "                 or before that time, with its unit (204.6us);\n"
    "                 default: the end of the run\n";

int cli_why(int argc, char **argv) {
  static const struct option opts[] = {CLI_VIEW_OPTS,
                                       {"irp", required_argument, 0, 'i'},
                                       {"field", required_argument, 0, 'f'},
                                       {"event", required_argument, 0, 'e'},
                                       {"thread", required_argument, 0, 't'},
                                       {0, 0, 0, 0}};
  cli_view_t v = {.cmd = "why", .usage = usage};
  const char *irp = NULL, *field = NULL, *event = NULL, *thread = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, CLI_VIEW_SHORT, opts, NULL)) != -1) {
    switch (ch) {
    case 'h': fputs(usage, stdout); return 0;
    case 'i': irp = optarg; break;
    case 'f': field = optarg; break;
    case 'e': event = optarg; break;
    case 't': thread = optarg; break;
    default: {
      int k = cli_view_opt(&v, ch, optarg);
      if (k < 0) return 2;
      if (k == 0) {
        fputs(usage, stderr);
        return 2;
      }
    }
    }
  }
  if (optind != argc || (irp != NULL) + (event != NULL) + (thread != NULL) != 1 || (irp && !field) ||
      (!irp && field)) {
    fputs(usage, stderr);
    return 2;
  }
  mst_field_t f = MST_F_STATUS;
  int loc = 0;
  if (field && mst_field_parse(field, &f, &loc) != 0) {
    fprintf(stderr,
            "iosim why: unknown field '%s' (IoStatus.Status, IoStatus.Information, PendingReturned,"
            " CurrentLocation, Cancel, loc[N].Control)\n",
            field);
    return 2;
  }
  if (cli_view_open(&v) != 0) return 2;
  uint32_t id = 0;
  int rc = 0;
  if (irp) rc = cli_view_find(&v, MST_IRP, irp, &id);
  else if (event) rc = cli_view_find(&v, MST_OBJECT, event, &id), f = MST_F_EVENT;
  else rc = cli_view_find(&v, MST_THREAD, thread, &id), f = MST_F_WAIT;
  if (rc == 0) {
    const mst_irp_t *ip = irp ? mst_irp(v.m, id) : NULL;
    if (irp && (!ip || !ip->loc)) {
      fprintf(stderr, "iosim why: IRP %s does not exist yet at step #%llu\n", irp, (unsigned long long)mst_step(v.m));
      rc = 2;
    } else if (f == MST_F_CONTROL && loc > ip->n) {
      fprintf(stderr, "iosim why: IRP %s has %d stack locations, so no loc[%d]\n", irp, ip->n, loc);
      rc = 2;
    } else {
      mst_why(v.m, f, id, loc, stdout);
    }
  }
  cli_view_close(&v);
  return rc;
}
