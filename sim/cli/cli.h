/*
 * cli.h - what the files of the command line share: the commands of
 * schedule exploration (explore_cmd.c), called from main.c.
 */
#ifndef IOSIM_CLI_H
#define IOSIM_CLI_H

#include <stdbool.h>

#include "iosim/explore.h"
#include "iosim/scenario.h"

int cli_explore(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_merge(int argc, char **argv);
/* `iosim check` of a scenario that asks to be explored; 2 on bad input. */
int cli_check_explore(const scn_t *sc, const char *path, bool verify, int *failed_files);
/* --replay TOKEN or --replay-file F of `iosim run`: parsed and checked
   against the scenario; 0, or -1 after printing why. */
int cli_load_replay(const char *token, const char *file, const scn_t *sc, xp_schedule_t *out);

/* The host limits of run and check (limits_cmd.c, docs/reliability.md). */
typedef struct cli_limits {
  uint64_t ceil_steps, ceil_time_ns; /* --max-steps, --max-time: 0 = the default ceilings */
  uint64_t max_wall_ms;              /* --max-wall */
  bool has_wall;
  uint64_t max_memory;               /* --max-memory, bytes; 0 = the default budget */
} cli_limits_t;
#define CLI_WALL_DEFAULT_MS (600ull * 1000) /* ten minutes */
enum { CLI_OPT_MAX_STEPS = 1001, CLI_OPT_MAX_TIME, CLI_OPT_MAX_WALL, CLI_OPT_MAX_MEMORY };
#define CLI_LIMIT_OPTIONS                                                                              \
  {"max-steps", required_argument, 0, CLI_OPT_MAX_STEPS}, {"max-time", required_argument, 0, CLI_OPT_MAX_TIME}, \
      {"max-wall", required_argument, 0, CLI_OPT_MAX_WALL}, {"max-memory", required_argument, 0, CLI_OPT_MAX_MEMORY}
/* 1 when ch is one of the limit options (parsed into l), -1 after printing
   why its argument is wrong, 0 when ch is another option. */
int cli_limit_option(int ch, const char *arg, const char *cmd, cli_limits_t *l);
void cli_limits_apply(const cli_limits_t *l, scn_run_opts_t *o);
/* After a run stopped at a limit: which, and how to raise it (stderr). */
void cli_limit_report(const scn_result_t *r);

#endif
