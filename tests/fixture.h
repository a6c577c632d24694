/*
 * fixture.h - running scenario files from the Check suites: a fixture whose
 * expectations must all hold, and a file that must be refused at a given
 * place with a given message.  Paths are relative to tests/.
 */
#ifndef IOSIM_TESTS_FIXTURE_H
#define IOSIM_TESTS_FIXTURE_H

#include "iosim/scenario.h"

#define FIX "fixtures/scenarios/"
#define BAD "bad/scenarios/"

/* Runs `path` once (its own seed, includes also from `include_dir` or
   NULL) and records the run into the trace database `db`. */
void tfix_record(const char *db, const char *path, const char *include_dir);

/* Loads and runs `path` once with its own seed and `o` (NULL: defaults);
   the caller frees *r.  Failed expectations are printed unless `quiet`,
   to explain the assertion that follows. */
void tfix_run(const char *path, const scn_run_opts_t *o, scn_result_t *r, bool quiet);
/* A fixture whose `total` expectations all hold, and which produces no
   finding that no `expect finding` line predicts. */
void tfix_holds(const char *path, int total);
/* The same, also requiring that no IRP is still allocated at the end. */
void tfix_holds_no_irp_left(const char *path, int total);
/* Loads `path`, which must be refused at line:col with a message holding
   `msg_part`; `file`, when not NULL, is the file the error must name. */
void tfix_refused(const char *path, const char *file, int line, int col, const char *msg_part);

/* An exercise of scenarios/exercises/ that fails on purpose until the
   student fixes it: one with a fixed twin answers/NAME.iosim beside it
   (test_exercises.c checks both; the suites that run every scenario skip
   it). */
bool tfix_failing_exercise(const char *path);

#endif
