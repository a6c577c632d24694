/*
 * tracedb.h - the SQLite trace database: record runs of the simulated
 * machine (every trace step, the IRPs, devices, drivers, threads and the
 * scenario's expectations) into one file that can hold many runs, and read
 * an IRP back as WinDbg's !irp would show it at any moment of a run.
 * The schema is documented in docs/trace-schema.md.  This header does not
 * expose SQLite: callers (and sim/) never need sqlite3.h.
 */
#ifndef IOSIM_TRACEDB_H
#define IOSIM_TRACEDB_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "iosim/scenario.h"
#include "iosim/sim.h"

/* The schema version this iosim writes and reads (PRAGMA user_version and
   meta.schema_version).  Files with a higher number are refused. */
#define TRACEDB_SCHEMA_VERSION 1
/* PRAGMA application_id of an iosim trace: "iosm" in ASCII. */
#define TRACEDB_APPLICATION_ID 0x696F736D

typedef struct tracedb tracedb_t;

/* Opens (creating if needed) a trace database for writing.  A new or empty
   file gets the schema; an iosim trace of this or an older compatible
   schema is reused as is.  A file that is not SQLite, a SQLite database
   that is not an iosim trace, or a trace of a newer schema is refused and
   left untouched.  Returns NULL with a message in err on failure. */
tracedb_t *tracedb_open(const char *path, char *err, size_t errlen);
/* Opens an existing trace read-only (for `iosim irp`, pictures); never
   creates the file.  Same checks and errors as tracedb_open. */
tracedb_t *tracedb_open_readonly(const char *path, char *err, size_t errlen);
/* Closes the file.  A run still open is finished as "interrupted" first, so
   nothing written so far is lost.  Safe on NULL. */
void tracedb_close(tracedb_t *db);
/* The message of the last failure on db ("" if none). */
const char *tracedb_errmsg(const tracedb_t *db);

/* ---- Recording a run ----
 * tracedb_begin_run (before sim_run) records the run row with outcome
 * "running" and commits it on its own, then opens the run's transaction
 * and adds a sink to S that writes one `event` row per trace step.  It also
 * turns on sim_keep_irp_info(S, true) for the `irp` table.
 * tracedb_end_run (after sim_run) writes the device, driver, thread, irp
 * and expectation rows and the final run row, and commits.
 * So the file is always consistent: a process killed mid-run leaves the
 * run row saying "running" and none of its events (SQLite rolls the open
 * transaction back); a run stopped on purpose is committed with what it
 * has and the outcome given.  Functions return SIM_OK or a negative SIM_E*
 * code, with tracedb_errmsg() saying why. */
int tracedb_begin_run(tracedb_t *db, sim_t *S, const char *scenario_path, uint64_t text_hash,
                      uint64_t seed);
/* The id of the run being (or last) recorded; 0 before the first. */
int64_t tracedb_run_id(const tracedb_t *db);
/* outcome: one of the names below, or NULL to derive it from r (then r
   must be given).  r (may be NULL) supplies the expectations, the machine
   outcome, the bugcheck and the final seed. */
int tracedb_end_run(tracedb_t *db, sim_t *S, const char *outcome, const scn_result_t *r);
/* Finishes the open run early: commits the events so far plus the machine
   rows (if S is given) with `outcome` and a free-text message (may be NULL).
   For a run that cannot continue (bad input found after on_start, the
   user pressed Ctrl-C).  Does nothing when no run is open. */
void tracedb_abort_run(tracedb_t *db, sim_t *S, const char *outcome, const char *message);
/* Records a run that never reached the machine (e.g. a scenario that does
   not parse): a run row with `outcome` (normally "bad input") and message. */
int tracedb_record_run(tracedb_t *db, const char *scenario_path, uint64_t text_hash, uint64_t seed,
                       const char *outcome, const char *message);

/* Ctrl-C: the caller's SIGINT handler sets *flag; the sink checks it at
   every step and, once it is set, finishes the run as "interrupted" (all
   steps so far committed) and ignores the rest of the run.  Afterwards
   tracedb_interrupted() is true and tracedb_end_run() does nothing. */
void tracedb_watch_interrupt(tracedb_t *db, const volatile sig_atomic_t *flag);
int tracedb_interrupted(const tracedb_t *db);

/* run.outcome values. */
#define TRACEDB_OUTCOME_RUNNING "running"
#define TRACEDB_OUTCOME_OK "ok"
#define TRACEDB_OUTCOME_EXPECT_FAILED "expectations failed"
#define TRACEDB_OUTCOME_BUGCHECK "bugcheck"
#define TRACEDB_OUTCOME_BAD_INPUT "bad input"
#define TRACEDB_OUTCOME_LIMIT "limit reached"
#define TRACEDB_OUTCOME_STALLED "stalled"
#define TRACEDB_OUTCOME_INTERRUPTED "interrupted"
/* The verdict for a finished run: bugcheck > limit reached > expectations
   failed > stalled > ok.  r may be NULL (then only `o` counts). */
const char *tracedb_outcome(sim_outcome_t o, const scn_result_t *r);

/* ---- Scenario runner hooks ----
 * Put a tracedb_hooks_t in scn_run_opts_t.ud with on_start =
 * tracedb_on_start and on_finish = tracedb_on_finish.  Errors do not stop
 * the run; they land in rc/err for the caller to report afterwards. */
typedef struct tracedb_hooks {
  tracedb_t *db;             /* borrowed */
  const char *scenario_path; /* borrowed; stored in run.scenario */
  uint64_t text_hash;        /* scn_hash() */
  uint64_t seed;             /* the seed asked for (run.seed is updated from the result) */
  int rc;                    /* SIM_OK, or the first failure */
  char err[512];             /* why, when rc != SIM_OK */
} tracedb_hooks_t;
void tracedb_on_start(void *ud, sim_t *S);
void tracedb_on_finish(void *ud, sim_t *S, const scn_result_t *r);
/* When scn_run fails (bad input): finishes the run on_start began with
   `outcome` and `message`, or, if none was begun, records a run row with
   them.  Returns SIM_OK or the write error (also in h->rc / h->err). */
int tracedb_hooks_fail(tracedb_hooks_t *h, const char *outcome, const char *message);

/* ---- Reading ---- */
/* The highest run id in the file, 0 if there is none. */
int64_t tracedb_last_run(tracedb_t *db);
/* Prints IRP `irp` of run `run` as WinDbg's !irp shows it after every step
   with t_ns <= at_ns (at_ns < 0: the end of the run): each stack location,
   the current one marked '>', its completion routine and invoke-on flags,
   the pending bits, PendingReturned, Cancel.  Rebuilt from the event rows.
   Returns SIM_OK, SIM_ENOENT (no such run / IRP) or SIM_EIO, with a
   message in err. */
int tracedb_print_irp(tracedb_t *db, int64_t run, uint32_t irp, int64_t at_ns, FILE *out, char *err,
                      size_t errlen);
/* Parses a moment for --at: plain nanoseconds ("206560") or a number with
   a unit ns, us, ms, s ("206.56us").  Returns 0, or -1 if malformed. */
int tracedb_parse_time(const char *text, int64_t *ns);

#endif
