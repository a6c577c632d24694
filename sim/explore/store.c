/*
 * store.c - `iosim explore --db T.db`: each failing outcome's representative
 * (and with --db-outcomes every outcome's) is run once more, recorded as an
 * ordinary run of the trace database - so `iosim irp`, `iosim viz` and the
 * Perfetto export work on it - with its replay token in the `schedule`
 * table.
 */
#include <stdio.h>

#include "explore_int.h"
#include "iosim/tracedb.h"

typedef struct store_start {
  tracedb_hooks_t *h;
  xp_replay_t *rp;
} store_start_t;

static void store_on_start(void *ud, sim_t *S) {
  store_start_t *s = ud;
  tracedb_on_start(s->h, S);
  xp_replay_install(s->rp, S);
}

static void store_on_finish(void *ud, sim_t *S, const scn_result_t *r) {
  store_start_t *s = ud;
  tracedb_on_finish(s->h, S, r);
}

/* Runs schedule `s` once more into `db` and records it in the schedule
   table under `role`. */
static int store_one(const scn_t *sc, tracedb_t *db, const char *path, const xp_report_t *r, const xp_schedule_t *s,
                     const char *role, const char *outcome, uint64_t count, uint64_t steps, FILE *log, char *err,
                     size_t errlen) {
  tracedb_hooks_t h = {.db = db, .scenario_path = scn_path(sc), .text_hash = scn_hash(sc), .seed = s->seed};
  store_start_t ss = {.h = &h, .rp = xp_replay_new(s)};
  scn_run_opts_t opts = {.on_start = store_on_start, .on_finish = store_on_finish, .ud = &ss};
  scn_result_t res;
  scn_error_t serr;
  int rc = 0;
  if (scn_run(sc, &opts, &res, &serr) != SIM_OK) {
    snprintf(err, errlen, "%s:%d:%d: %s", serr.file, serr.line, serr.col, serr.msg);
    rc = -1;
  } else {
    scn_result_free(&res);
    if (h.rc != SIM_OK) {
      snprintf(err, errlen, "%s: %s", path, h.err);
      rc = -1;
    }
  }
  if (rc == 0) {
    char *tok = xp_token(s);
    const char *strategy = r->strategy == XP_DFS ? "bounded" : r->strategy == XP_PCT ? "pct" : "random";
    tracedb_schedule_t row = {.token = tok, .role = role, .preemptions = (unsigned)s->n, .steps = steps,
                              .schedules = count, .outcome = outcome, .strategy = strategy, .bound = r->bound};
    int64_t run = tracedb_run_id(db);
    if (tracedb_record_schedule(db, run, &row) != SIM_OK) {
      snprintf(err, errlen, "%s: %s", path, tracedb_errmsg(db));
      rc = -1;
    } else if (log) {
      fprintf(log, "  run %lld in %s: %s %s\n", (long long)run, path, role, tok);
    }
    free(tok);
  }
  xp_replay_free(ss.rp);
  return rc;
}

int xp_store(const scn_t *sc, const xp_report_t *r, const char *path, bool all_outcomes, bool every_failure,
             FILE *log, char *err, size_t errlen) {
  char why[512];
  tracedb_t *db = tracedb_open(path, why, sizeof why);
  if (!db) {
    snprintf(err, errlen, "%s: %s", path, why);
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < r->noutcomes && rc == 0; i++) {
    const xp_outcome_t *o = &r->outcomes[i];
    if (!o->failing && !all_outcomes) continue;
    rc = store_one(sc, db, path, r, &o->rep, o->failing ? "failure" : "outcome", o->text, o->count, o->rep_steps,
                   log, err, errlen);
  }
  /* Every failing schedule as it was explored (not minimised), after the
     representatives. */
  for (size_t i = 0; every_failure && i < r->nfailures && rc == 0; i++)
    rc = store_one(sc, db, path, r, &r->failures[i], "failing-schedule", "", 1, 0, log, err, errlen);
  tracedb_close(db);
  return rc;
}
