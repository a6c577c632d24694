/*
 * limits_cmd.c - the host limits of `iosim run` and `iosim check`
 * (docs/reliability.md): --max-steps and --max-time raise the ceilings a
 * scenario's `machine` line may not exceed, --max-wall and --max-memory
 * bound the run on the host.  Parsed here, so main.c only forwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A number with an optional unit: 42, 2s, 500ms, 10us, 7ns. */
static bool parse_scaled(const char *s, const char *const *units, const uint64_t *mul, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-') return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s) return false;
  for (int i = 0; units[i]; i++)
    if (!strcmp(end, units[i])) {
      if (v > UINT64_MAX / mul[i]) return false;
      *out = v * mul[i];
      return true;
    }
  return false;
}

int cli_limit_option(int ch, const char *arg, const char *cmd, cli_limits_t *l) {
  static const char *const time_units[] = {"", "ns", "us", "ms", "s", NULL};
  static const uint64_t time_mul[] = {1, 1, 1000, 1000000, 1000000000};
  static const char *const count[] = {"", NULL};
  static const uint64_t one[] = {1};
  static const char *const secs[] = {"", "s", NULL};
  static const uint64_t ms[] = {1000, 1000};
  static const char *const mib[] = {"", "M", "MiB", NULL};
  static const uint64_t mb[] = {1024 * 1024, 1024 * 1024, 1024 * 1024};
  switch (ch) {
  case CLI_OPT_MAX_STEPS:
    if (parse_scaled(arg, count, one, &l->ceil_steps) && l->ceil_steps) return 1;
    fprintf(stderr, "iosim %s: --max-steps needs a number of steps, not '%s'\n", cmd, arg);
    return -1;
  case CLI_OPT_MAX_TIME:
    if (parse_scaled(arg, time_units, time_mul, &l->ceil_time_ns) && l->ceil_time_ns) return 1;
    fprintf(stderr, "iosim %s: --max-time needs a simulated time (e.g. 500s, 20ms), not '%s'\n", cmd, arg);
    return -1;
  case CLI_OPT_MAX_WALL:
    if (parse_scaled(arg, secs, ms, &l->max_wall_ms)) return 1;
    fprintf(stderr, "iosim %s: --max-wall needs a number of seconds (0: none), not '%s'\n", cmd, arg);
    return -1;
  case CLI_OPT_MAX_MEMORY:
    if (parse_scaled(arg, mib, mb, &l->max_memory) && l->max_memory) return 1;
    fprintf(stderr, "iosim %s: --max-memory needs a number of MiB, not '%s'\n", cmd, arg);
    return -1;
  default: return 0;
  }
}

void cli_limits_apply(const cli_limits_t *l, scn_run_opts_t *o) {
  o->ceil_steps = l->ceil_steps;
  o->ceil_time_ns = l->ceil_time_ns;
  o->max_wall_ms = l->has_wall ? l->max_wall_ms : CLI_WALL_DEFAULT_MS;
  o->max_memory = l->max_memory;
}

void cli_limit_report(const scn_result_t *r) {
  if (r->outcome != SIM_RUN_LIMIT || !r->limit) return;
  const char *how = !strcmp(r->limit, "max-steps")   ? "`machine max-steps N` up to the ceiling, or --max-steps"
                    : !strcmp(r->limit, "max-time")  ? "`machine max-time T` up to the ceiling, or --max-time"
                    : !strcmp(r->limit, "max-wall")  ? "--max-wall SECONDS (0: none)"
                                                     : "--max-memory MiB";
  fprintf(stderr, "iosim: limit reached: %s (raise it with %s)\n", r->limit, how);
}
