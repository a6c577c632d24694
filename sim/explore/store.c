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

int xp_store(const scn_t *sc, const xp_report_t *r, const char *path, bool all_outcomes, FILE *log, char *err,
             size_t errlen) {
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
    tracedb_hooks_t h = {.db = db, .scenario_path = scn_path(sc), .text_hash = scn_hash(sc), .seed = o->rep.seed};
    store_start_t ss = {.h = &h, .rp = xp_replay_new(&o->rep)};
    scn_run_opts_t opts = {.on_start = store_on_start, .on_finish = store_on_finish, .ud = &ss};
    scn_result_t res;
    scn_error_t serr;
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
      char *tok = xp_token(&o->rep);
      const char *strategy = r->strategy == XP_DFS ? "bounded" : r->strategy == XP_PCT ? "pct" : "random";
      tracedb_schedule_t row = {.token = tok, .role = o->failing ? "failure" : "outcome",
                                .preemptions = (unsigned)o->rep.n, .steps = o->rep_steps, .schedules = o->count,
                                .outcome = o->text, .strategy = strategy, .bound = r->bound};
      int64_t run = tracedb_run_id(db);
      if (tracedb_record_schedule(db, run, &row) != SIM_OK) {
        snprintf(err, errlen, "%s: %s", path, tracedb_errmsg(db));
        rc = -1;
      } else if (log) {
        fprintf(log, "  run %lld in %s: %s %s\n", (long long)run, path, o->failing ? "failure" : "outcome", tok);
      }
      free(tok);
    }
    xp_replay_free(ss.rp);
  }
  tracedb_close(db);
  return rc;
}
