/*
 * diff.c - two schedules of one scenario side by side (`iosim diff`).
 *
 * Both runs start alike; the first step where they differ is where the
 * schedules took another choice.  After it, the same step (same kind, IRP,
 * device, object, the scenario's words, counted in order of occurrence) is
 * looked up in the other run: a step both took is shown when it ran on
 * another CPU, at another IRQL, in another frame or thread, or with another
 * status; a step only one of them took is shown as such.  The schedules
 * come from tokens (replayed here) or from two runs of a trace database.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>

#include "iosim/alloc.h"
#include "iosim/tracedb.h"
#include "explore_int.h"

typedef struct drow {
  uint64_t seq, t_ns;
  int cpu;
  char irql[12];
  char frame[8];
  char thread[24];
  char irp[24];
  char device[24];
  char kind[28];
  char status[40];
  char what[96];   /* the scenario's words or the service, else the detail */
  uint64_t key;    /* what the step is, for matching */
  int matched;     /* index in the other run + 1, 0 = none */
} drow_t;

typedef struct dlist {
  drow_t *v;
  size_t n, cap;
} dlist_t;

static drow_t *dl_add(dlist_t *l) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->v = xp_xrealloc(l->v, l->cap * sizeof *l->v);
  }
  drow_t *r = &l->v[l->n++];
  memset(r, 0, sizeof *r);
  return r;
}

static void cpy(char *dst, size_t n, const char *s) { snprintf(dst, n, "%s", s && *s ? s : "-"); }

/* The identity of a step: what happened to what, not where or how. */
static void finish_key(drow_t *r, const char *object) {
  uint64_t h = xp_hash_str(0, r->kind);
  h = xp_hash_str(h, r->irp);
  h = xp_hash_str(h, r->device);
  h = xp_hash_str(h, r->what);
  h = xp_hash_str(h, object ? object : "");
  r->key = h;
}

/* ---- from a replayed schedule ---- */
typedef struct dcap {
  dlist_t *l;
  sim_t *S;
} dcap_t;

static void dcap_event(void *ud, const trc_event_t *ev) {
  dcap_t *c = ud;
  drow_t *r = dl_add(c->l);
  char b[16];
  r->seq = ev->seq;
  r->t_ns = ev->t_ns;
  r->cpu = ev->cpu;
  cpy(r->irql, sizeof r->irql, ev->cpu >= 0 ? trc_irql_name(ev->irql, b) : "-");
  cpy(r->frame, sizeof r->frame, ev->cpu >= 0 ? trc_frame_name(ev->frame) : "-");
  cpy(r->thread, sizeof r->thread, ev->thread ? sim_thread_name(c->S, ev->thread) : NULL);
  const sim_irp_info_t *in = ev->irp ? sim_irp_info(c->S, ev->irp) : NULL;
  if (in && in->tag) cpy(r->irp, sizeof r->irp, in->tag);
  else if (ev->irp) snprintf(r->irp, sizeof r->irp, "%" PRIu32, ev->irp);
  else cpy(r->irp, sizeof r->irp, NULL);
  cpy(r->device, sizeof r->device, ev->device ? sim_device_name(c->S, ev->device) : NULL);
  cpy(r->kind, sizeof r->kind, trc_kind_name(ev->kind));
  cpy(r->status, sizeof r->status, ev->has_status ? iosim_status_name(ev->status, b) : NULL);
  cpy(r->what, sizeof r->what, ev->text ? ev->text : ev->service ? ev->service : ev->detail);
  const char *obj = ev->object ? sim_object_name(c->S, ev->object) : ev->port ? sim_port_name(c->S, ev->port) : NULL;
  finish_key(r, obj);
}

typedef struct dstart {
  xp_replay_t *rp;
  dcap_t cap;
} dstart_t;

static void dstart(void *ud, sim_t *S) {
  dstart_t *d = ud;
  d->cap.S = S;
  trc_sink_t k = {.event = dcap_event, .ud = &d->cap};
  sim_add_sink(S, &k);
  xp_replay_install(d->rp, S);
}

static int capture(const scn_t *sc, const xp_schedule_t *s, dlist_t *l, char *outcome, size_t on, scn_error_t *err) {
  dstart_t d = {.rp = xp_replay_new(s), .cap = {.l = l}};
  scn_run_opts_t o = {.on_start = dstart, .ud = &d};
  scn_result_t res;
  int rc = scn_run(sc, &o, &res, err);
  if (rc == SIM_OK) {
    if (res.outcome == SIM_RUN_BUGCHECK)
      snprintf(outcome, on, "bugcheck 0x%X %s", (unsigned)res.bugcheck.code, iosim_bugcheck_name(res.bugcheck.code));
    else snprintf(outcome, on, "%s", sim_outcome_name(res.outcome));
    scn_result_free(&res);
  }
  xp_replay_free(d.rp);
  return rc;
}

/* ---- the comparison ---- */
static bool same_place(const drow_t *a, const drow_t *b) {
  return a->cpu == b->cpu && !strcmp(a->irql, b->irql) && !strcmp(a->frame, b->frame) &&
         !strcmp(a->thread, b->thread) && !strcmp(a->status, b->status);
}

static void print_row(FILE *out, const char *side, const drow_t *r) {
  char cpu[16];
  if (r->cpu >= 0) snprintf(cpu, sizeof cpu, "%d", r->cpu);
  else snprintf(cpu, sizeof cpu, "-");
  fprintf(out, "  %s #%-5" PRIu64 " %10.3f us  cpu %-2s %-8s %-6s %-8s irp %-5s %-9s %-20s %-26s %s\n", side, r->seq,
          (double)r->t_ns / 1000.0, cpu, r->irql, r->frame, r->thread, r->irp, r->device, r->kind, r->status,
          r->what);
}

/* The k-th step with this key at or after `from` that is not matched yet. */
static size_t find_match(dlist_t *l, size_t from, uint64_t key) {
  for (size_t i = from; i < l->n; i++)
    if (!l->v[i].matched && l->v[i].key == key) return i;
  return l->n;
}

static void compare(dlist_t *a, dlist_t *b, FILE *out) {
  size_t d = 0;
  while (d < a->n && d < b->n && a->v[d].key == b->v[d].key && same_place(&a->v[d], &b->v[d]) &&
         a->v[d].t_ns == b->v[d].t_ns)
    d++;
  if (d == a->n && d == b->n) {
    fprintf(out, "the two schedules ran the same %zu steps: they do not diverge\n", a->n);
    return;
  }
  fprintf(out, "first divergence after %zu common step%s:\n", d, d == 1 ? "" : "s");
  if (d < a->n) print_row(out, "A", &a->v[d]);
  else fprintf(out, "  A (the run had ended)\n");
  if (d < b->n) print_row(out, "B", &b->v[d]);
  else fprintf(out, "  B (the run had ended)\n");
  /* Pair the steps after it by identity, in order of occurrence. */
  for (size_t i = d; i < a->n; i++) {
    size_t j = find_match(b, d, a->v[i].key);
    if (j < b->n) {
      a->v[i].matched = (int)j + 1;
      b->v[j].matched = (int)i + 1;
    }
  }
  size_t shown = 0;
  fprintf(out, "\nsteps both took, done differently (CPU, IRQL, frame, thread or status):\n");
  for (size_t i = d; i < a->n; i++) {
    if (!a->v[i].matched) continue;
    const drow_t *y = &b->v[a->v[i].matched - 1];
    if (same_place(&a->v[i], y)) continue;
    print_row(out, "A", &a->v[i]);
    print_row(out, "B", y);
    shown++;
  }
  if (!shown) fprintf(out, "  (none)\n");
  for (int side = 0; side < 2; side++) {
    dlist_t *l = side ? b : a;
    size_t n = 0;
    for (size_t i = d; i < l->n; i++) n += !l->v[i].matched;
    fprintf(out, "\nsteps only %s took (%zu):\n", side ? "B" : "A", n);
    for (size_t i = d; i < l->n; i++)
      if (!l->v[i].matched) print_row(out, side ? "B" : "A", &l->v[i]);
  }
}

int xp_diff(const scn_t *sc, const xp_schedule_t *a, const xp_schedule_t *b, FILE *out, scn_error_t *err) {
  dlist_t la = {0}, lb = {0};
  char oa[96] = "", ob[96] = "";
  int rc = capture(sc, a, &la, oa, sizeof oa, err);
  if (rc == SIM_OK) rc = capture(sc, b, &lb, ob, sizeof ob, err);
  if (rc == SIM_OK) {
    char *ta = xp_token(a), *tb = xp_token(b);
    fprintf(out, "A: %s (%zu steps, %s)\nB: %s (%zu steps, %s)\n\n", ta, la.n, oa, tb, lb.n, ob);
    free(ta);
    free(tb);
    compare(&la, &lb, out);
  }
  free(la.v);
  free(lb.v);
  return rc;
}

/* ---- from a trace database ---- */
static const char *col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : NULL;
}

static int load_run(sqlite3 *db, int64_t run, dlist_t *l, char *outcome, size_t on, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT outcome, coalesce(bugcheck_name, '') FROM run WHERE id = ?1", -1, &st, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "not an iosim trace database: %s", sqlite3_errmsg(db));
    return -1;
  }
  sqlite3_bind_int64(st, 1, run);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    snprintf(err, errlen, "no run %" PRId64 " in the database", run);
    return -1;
  }
  const char *oc = col(st, 0), *bc = col(st, 1);
  snprintf(outcome, on, "%s%s%s", oc ? oc : "?", bc && *bc ? " " : "", bc ? bc : "");
  sqlite3_finalize(st);
  static const char q[] =
      "SELECT e.seq, e.t_ns, e.cpu, e.irql_name, e.frame, e.thread_name, coalesce(i.tag, e.irp), e.device_name,"
      " e.kind, e.status, coalesce(e.text, e.service, e.detail),"
      " coalesce(o.name, p.name) FROM event_named e"
      " LEFT JOIN irp i ON i.run_id = e.run_id AND i.id = e.irp"
      " LEFT JOIN object o ON o.run_id = e.run_id AND o.id = e.object"
      " LEFT JOIN port p ON p.run_id = e.run_id AND p.id = e.port"
      " WHERE e.run_id = ?1 ORDER BY e.seq";
  if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "reading run %" PRId64 ": %s", run, sqlite3_errmsg(db));
    return -1;
  }
  sqlite3_bind_int64(st, 1, run);
  while (sqlite3_step(st) == SQLITE_ROW) {
    drow_t *r = dl_add(l);
    r->seq = (uint64_t)sqlite3_column_int64(st, 0);
    r->t_ns = (uint64_t)sqlite3_column_int64(st, 1);
    r->cpu = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
    cpy(r->irql, sizeof r->irql, r->cpu >= 0 ? col(st, 3) : NULL);
    cpy(r->frame, sizeof r->frame, r->cpu >= 0 ? col(st, 4) : NULL);
    cpy(r->thread, sizeof r->thread, col(st, 5));
    cpy(r->irp, sizeof r->irp, col(st, 6));
    cpy(r->device, sizeof r->device, col(st, 7));
    cpy(r->kind, sizeof r->kind, col(st, 8));
    cpy(r->status, sizeof r->status, col(st, 9));
    cpy(r->what, sizeof r->what, col(st, 10));
    finish_key(r, col(st, 11));
  }
  sqlite3_finalize(st);
  return 0;
}

/* The same checks, and words, as every other reader of a trace: an iosim
   trace of this schema, and both runs ran to their end (not killed, not
   still being written). */
static int check_runs(const char *path, int64_t run_a, int64_t run_b, char *err, size_t errlen) {
  char why[512];
  tracedb_t *t = tracedb_open_readonly(path, why, sizeof why);
  if (!t) {
    snprintf(err, errlen, "%s", why); /* it names the file */
    return -1;
  }
  int64_t picked = 0;
  int rc = tracedb_pick_run(t, run_a, &picked, why, sizeof why);
  if (rc == SIM_OK) rc = tracedb_pick_run(t, run_b, &picked, why, sizeof why);
  tracedb_close(t);
  if (rc != SIM_OK) snprintf(err, errlen, "%s: %s", path, why);
  return rc == SIM_OK ? 0 : -1;
}

int xp_diff_db(const char *path, int64_t run_a, int64_t run_b, FILE *out, char *err, size_t errlen) {
  if (check_runs(path, run_a, run_b, err, errlen) != 0) return -1;
  sqlite3 *db = NULL;
  iosim_sqlite_use_alloc();
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open it");
    sqlite3_close(db);
    return -1;
  }
  dlist_t la = {0}, lb = {0};
  char oa[96] = "", ob[96] = "", why[400];
  int rc = load_run(db, run_a, &la, oa, sizeof oa, why, sizeof why);
  if (rc == 0) rc = load_run(db, run_b, &lb, ob, sizeof ob, why, sizeof why);
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", path, why);
  } else {
    fprintf(out, "A: run %" PRId64 " of %s (%zu steps, %s)\nB: run %" PRId64 " (%zu steps, %s)\n\n", run_a, path,
            la.n, oa, run_b, lb.n, ob);
    compare(&la, &lb, out);
  }
  free(la.v);
  free(lb.v);
  sqlite3_close(db);
  return rc;
}
