/*
 * cli.h - what the files of the command line share: the commands of
 * schedule exploration (explore_cmd.c), called from main.c.
 */
#ifndef IOSIM_CLI_H
#define IOSIM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "iosim/explore.h"
#include "iosim/sim.h"
#include "iosim/state.h"
#include "iosim/scenario.h"

int cli_explore(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_cc(int argc, char **argv);
/* `iosim html` (html_cmd.c): the explorer page of a run. */
int cli_html(int argc, char **argv);
/* `iosim quiz` (quiz_cmd.c). */
int cli_quiz(int argc, char **argv);
/* `iosim check` of a scenario that asks to be explored; 2 on bad input. */
int cli_check_explore(const scn_t *sc, const char *path, bool verify, int *failed_files);
/* --replay TOKEN or --replay-file F of `iosim run`: parsed and checked
   against the scenario; 0, or -1 after printing why. */
int cli_load_replay(const char *token, const char *file, const scn_t *sc, xp_schedule_t *out);

/* ---- predict mode (predict.c), `iosim grade` (grade_cmd.c) ---- */

/* The columns of the step table a student can be asked to fill in, in
   the order the table prints them (and an answer line lists them). */
enum { PR_TIME, PR_CPU, PR_IRQL, PR_FRAME, PR_THREAD, PR_IRP, PR_DEVICE, PR_EVENT, PR_STATUS, PR_DETAIL, PR_NCOLS };

typedef struct cli_blank {
  unsigned cols;  /* 1 << PR_*; 0: predict mode is off */
  uint64_t after; /* only the steps after this one are blanked */
} cli_blank_t;

/* One row of the table, each cell as printed, and its --explain text. */
typedef struct pr_row {
  uint64_t seq;
  char cell[PR_NCOLS][200];
  char explain[400];
} pr_row_t;

const char *pr_col_name(int col);
/* "irql,frame,thread" -> bits; -1 with the reason in err. */
int pr_parse_cols(const char *list, unsigned *cols, char *err, size_t n);
void pr_cols_text(unsigned cols, char *buf, size_t n);
bool pr_blanked(const cli_blank_t *b, uint64_t seq);
void pr_row_make(sim_t *S, const trc_event_t *ev, pr_row_t *r);
/* The row as the console sink prints it, the `cols` cells as `?`. */
void pr_row_print(FILE *f, const pr_row_t *r, unsigned cols, bool header);
/* The columns blanked in this row (a cell with no value, `-`, never is). */
int pr_row_blanks(const pr_row_t *r, unsigned cols, int out[PR_NCOLS]);
trc_sink_t pr_blank_sink(sim_t *S, FILE *f, const cli_blank_t *b);
/* What `iosim run --blank` prints above its table: how to answer, and the
   `blank` line `iosim grade` reads back. */
void pr_print_intro(FILE *f, const cli_blank_t *b, uint64_t seed);
int cli_grade(int argc, char **argv);

/* ---- `iosim check --format gradescope|junit|json` (report_cmd.c) ---- */
typedef struct cli_check_opts {
  bool has_seed, verify;
  uint64_t seed;
  const char *include_dir;
  const char *format;
} cli_check_opts_t;
int cli_check_report(char **files, int nfiles, const cli_check_opts_t *o);
/* ---- the machine at a step (views.c and the *_cmd.c that use it) ---- */

/* What every view command shares: --db T.db [--run N] [--at #STEP|TIME]. */
typedef struct cli_view {
  const char *cmd;     /* "thread", for messages */
  const char *usage;   /* printed on bad options */
  const char *db_path;
  const char *at;      /* NULL: the end of the run */
  uint64_t run;        /* 0: the last that ran */
  tracedb_t *db;
  mst_run_t *r;
  mst_t *m;
} cli_view_t;
/* The getopt_long entries of the shared options (letters d, r, a, h). */
#define CLI_VIEW_OPTS                                                                          \
  {"db", required_argument, 0, 'd'}, {"run", required_argument, 0, 'r'},                       \
      {"at", required_argument, 0, 'a'}, {"help", no_argument, 0, 'h'}
#define CLI_VIEW_SHORT "d:r:a:h"
/* Handles a shared option other than --help: 1 when it was one, 0 when
   not, -1 (a message printed) on bad input. */
int cli_view_opt(cli_view_t *v, int ch, const char *arg);
/* Opens the trace, loads the run and moves to --at.  0, or 2 after
   printing why. */
int cli_view_open(cli_view_t *v);
/* Parses the shared options and, when `name` is given, --NAME VALUE into
   *value.  -1 to go on, else the exit status (0 after --help, 2 after
   printing why the options are wrong). */
int cli_view_args(cli_view_t *v, int argc, char **argv, const char *name, const char **value);
void cli_view_close(cli_view_t *v);
/* A name or number the command line gave; 0, or 2 after printing why. */
int cli_view_find(cli_view_t *v, mst_what_t what, const char *text, uint32_t *id);

int cli_irp(int argc, char **argv);
int cli_devstack(int argc, char **argv);
int cli_thread(int argc, char **argv);
int cli_dpcs(int argc, char **argv);
int cli_irpfind(int argc, char **argv);
int cli_port(int argc, char **argv);
int cli_why(int argc, char **argv);
int cli_step(int argc, char **argv);
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
