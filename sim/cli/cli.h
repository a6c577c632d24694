/*
 * cli.h - what the files of the command line share: the commands of
 * schedule exploration (explore_cmd.c), called from main.c.
 */
#ifndef IOSIM_CLI_H
#define IOSIM_CLI_H

#include <stdbool.h>

#include "iosim/explore.h"

int cli_explore(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_merge(int argc, char **argv);
/* `iosim quiz` (quiz_cmd.c). */
int cli_quiz(int argc, char **argv);
/* `iosim check` of a scenario that asks to be explored; 2 on bad input. */
int cli_check_explore(const scn_t *sc, const char *path, bool verify, int *failed_files);
/* --replay TOKEN or --replay-file F of `iosim run`: parsed and checked
   against the scenario; 0, or -1 after printing why. */
int cli_load_replay(const char *token, const char *file, const scn_t *sc, xp_schedule_t *out);

#endif
