/*
 * test_views.c - the machine-state model (state.h) on the lessons: !irp of
 * lesson 3's IRP after its completion routine ran and after the walk
 * stopped, lesson 10's completion port with its waiters and packets, the
 * live IRPs of the irp-leaked bug (and none in its fix), walking forwards
 * and backwards giving the same views as a replay from the start, --at,
 * `iosim why` for every kind of field, and `iosim step` driven under tmux.
 */
#include <glob.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/state.h"
#include "testlib.h"

typedef struct rec {
  char dir[64], path[96];
  tracedb_t *db;
  mst_run_t *r;
  mst_t *m;
} rec_t;

/* Runs a scenario into a temporary trace and loads it. */
static void rec_begin(rec_t *x, const char *scenario) {
  char err[1024];
  snprintf(x->dir, sizeof x->dir, "/tmp/iosim-viewsXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(x->dir));
  snprintf(x->path, sizeof x->path, "%s/t.db", x->dir);
  x->db = tracedb_open(x->path, err, sizeof err);
  ck_assert_msg(x->db != NULL, "%s", err);
  int64_t run = mst_record_scenario(x->db, scenario, NULL, false, 0, err, sizeof err);
  ck_assert_msg(run > 0, "%s", err);
  x->r = mst_load(x->db, run, err, sizeof err);
  ck_assert_msg(x->r != NULL, "%s", err);
  x->m = mst_new(x->r);
  ck_assert_ptr_nonnull(x->m);
}

static void rec_end(rec_t *x) {
  mst_free(x->m);
  mst_run_free(x->r);
  tracedb_close(x->db);
  unlink(x->path);
  rmdir(x->dir);
}

static uint32_t find(rec_t *x, mst_what_t w, const char *name) {
  uint32_t id = 0;
  char err[512];
  ck_assert_msg(mst_find(x->r, w, name, &id, err, sizeof err) == 0, "%s", err);
  return id;
}

/* The n-th step (1-based) of `kind` for `irp` (0: any). */
static uint64_t nth_step(rec_t *x, trc_kind_t kind, uint32_t irp, int n) {
  for (uint64_t s = 1; s <= mst_run_steps(x->r); s++) {
    const trc_event_t *e = mst_run_event(x->r, s);
    if (e->kind == kind && (!irp || e->irp == irp) && --n == 0) return s;
  }
  ck_abort_msg("no such step");
  return 0;
}

typedef enum { V_IRP, V_CPUS, V_THREADS, V_PORTS, V_IRPFIND, V_DEVSTACK, V_WHY } view_t;

/* A view into a string (caller frees). */
static char *view(const mst_t *m, view_t v, uint32_t id, mst_field_t f, int loc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(out);
  switch (v) {
  case V_IRP: mst_print_irp(m, id, out); break;
  case V_CPUS: mst_print_cpus(m, out); break;
  case V_THREADS: mst_print_thread(m, 0, out); break;
  case V_PORTS: mst_print_port(m, 0, out); break;
  case V_IRPFIND: mst_print_irpfind(m, out); break;
  case V_DEVSTACK: mst_print_devstack(m, 0, out); break;
  case V_WHY: mst_why(m, f, id, loc, out); break;
  }
  fclose(out);
  return buf;
}

static void has(const char *text, const char *want) {
  ck_assert_msg(strstr(text, want) != NULL, "expected \"%s\" in:\n%s", want, text);
}

static const char lesson2[] = "../scenarios/lessons/02-async-read.iosim";
static const char lesson3[] = "../scenarios/lessons/03-more-processing.iosim";

/* Lesson 3: right after fs0's completion routine was called for r1, the
   walk has left location 2 (cleared it, taken its pending bit), and the
   IRP's status is the disk's; once the routine returns
   STATUS_MORE_PROCESSING_REQUIRED the walk has stopped in location 3. */
START_TEST(lesson3_after_completion_routine) {
  rec_t x;
  rec_begin(&x, lesson3);
  uint32_t r1 = find(&x, MST_IRP, "r1");
  mst_seek(x.m, nth_step(&x, TRC_COMPLETION_CALL, r1, 1));
  char *t = view(x.m, V_IRP, r1, 0, 0);
  has(t, "Irp is active with 3 stacks 3 is current");
  has(t, "PendingReturned 1");
  has(t, "IoStatus STATUS_SUCCESS, Information 4096");
  has(t, "0  0 disk0    -        fs0's routine      (completed: cleared by the walk)");
  has(t, ">[IRP_MJ_READ(3), N/A(0)]\n            0  1 fs0");
  has(t, "Args: 00001000 00000000 00000000 00000000");
  free(t);
  mst_seek(x.m, nth_step(&x, TRC_WALK_STOPPED, r1, 1));
  t = view(x.m, V_IRP, r1, 0, 0);
  has(t, "The completion walk stopped");
  free(t);
  t = view(x.m, V_IRPFIND, 0, 0, 0);
  has(t, "2 live IRPs");
  has(t, "taken back by fs0's completion routine");
  has(t, "at disk0, location 2, marked pending");
  free(t);
  /* Before its allocation an IRP is not there. */
  mst_seek(x.m, 3);
  FILE *null = fopen("/dev/null", "w");
  ck_assert(!mst_print_irp(x.m, r1, null));
  fclose(null);
  rec_end(&x);
}
END_TEST

/* Lesson 10: both workers wait on the port (oldest first) before any
   packet; r1's packet is handed straight to the newest waiter; r2's is
   queued while w2 runs, then taken. */
START_TEST(lesson10_port) {
  rec_t x;
  rec_begin(&x, "../scenarios/lessons/10-iocp.iosim");
  mst_seek(x.m, nth_step(&x, TRC_PORT_WAIT, 0, 2));
  char *t = view(x.m, V_PORTS, 0, 0, 0);
  has(t, "PORT P (1)  concurrency 1");
  has(t, "Packets: none queued");
  has(t, "    w1 (1), since #");
  has(t, "    w2 (2), since #");
  ck_assert(strstr(t, "w1 (1)") < strstr(t, "w2 (2)"));
  free(t);
  t = view(x.m, V_THREADS, 0, 0, 0);
  has(t, "THREAD w1 (1)  Waiting\n  Waiting on GetQueuedCompletionStatus on port P");
  free(t);
  uint32_t r2 = find(&x, MST_IRP, "r2");
  mst_seek(x.m, nth_step(&x, TRC_PORT_QUEUED, r2, 1));
  t = view(x.m, V_PORTS, 0, 0, 0);
  has(t, "    1. IRP 3 (r2), queued at #");
  has(t, "    w1 (1)");
  ck_assert_ptr_null(strstr(t, "w2 (2)"));
  free(t);
  t = view(x.m, V_IRPFIND, 0, 0, 0);
  has(t, "completion packet on port P");
  free(t);
  mst_seek(x.m, nth_step(&x, TRC_PORT_DEQUEUED, r2, 1));
  t = view(x.m, V_PORTS, 0, 0, 0);
  has(t, "Packets: none queued");
  free(t);
  rec_end(&x);
}
END_TEST

/* The irp-leaked bug: both reads are still allocated at the end, stopped
   after a walk that left PendingReturned clear; its fix leaves none. */
START_TEST(leak_shows_in_irpfind) {
  rec_t x;
  rec_begin(&x, "../scenarios/bugs/irp-leaked.iosim");
  mst_seek(x.m, mst_run_steps(x.r));
  char *t = view(x.m, V_IRPFIND, 0, 0, 0);
  has(t, "2 live IRPs");
  has(t, "2 (r1)");
  has(t, "4 (r2)");
  has(t, "no stage 2 queued");
  has(t, "[end of run: no-stage2]");
  free(t);
  rec_end(&x);
  rec_begin(&x, "../scenarios/bugs/irp-leaked-fixed.iosim");
  mst_seek(x.m, mst_run_steps(x.r));
  t = view(x.m, V_IRPFIND, 0, 0, 0);
  has(t, "0 live IRPs");
  free(t);
  rec_end(&x);
}
END_TEST

/* Walking step by step, jumping back and jumping ahead all give what a
   fresh replay from the start gives, for every view. */
static void same_views(const char *scenario) {
  rec_t x;
  rec_begin(&x, scenario);
  mst_t *fresh = mst_new(x.r);
  uint64_t n = mst_run_steps(x.r);
  uint64_t order[] = {n, n / 2, 1, n - 1, n / 3, n / 3 + 1, 2 * n / 3};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    mst_seek(x.m, order[i]);
    mst_free(fresh);
    fresh = mst_new(x.r);
    while (mst_step(fresh) < order[i]) ck_assert(mst_next(fresh));
    for (view_t v = V_CPUS; v <= V_DEVSTACK; v++) {
      char *a = view(x.m, v, 0, 0, 0), *b = view(fresh, v, 0, 0, 0);
      ck_assert_msg(strcmp(a, b) == 0, "%s step %llu view %d:\n%s\n---\n%s", scenario,
                    (unsigned long long)order[i], (int)v, a, b);
      free(a);
      free(b);
    }
  }
  ck_assert(!mst_next(x.m) || mst_step(x.m) <= n);
  mst_free(fresh);
  rec_end(&x);
}

START_TEST(walking_back_and_forth_is_a_replay) {
  same_views(lesson3);
  same_views("../scenarios/lessons/10-iocp.iosim");
  same_views("../scenarios/lessons/06-two-cpus.iosim");
}
END_TEST

/* Each thread's state at the end of the run as the model has it, against
   the `thread` table the recorder wrote from the engine itself. */
static void threads_match_table(rec_t *x, const char *scenario) {
  static const char *const names[] = {"initialized", "ready", "running", "waiting", "terminated"};
  sqlite3 *h;
  ck_assert_int_eq(sqlite3_open_v2(x->path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT id, state FROM thread WHERE run_id = ?1", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, mst_run_id(x->r));
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const mst_thread_t *t = mst_thread(x->m, (uint32_t)sqlite3_column_int(st, 0));
    const char *want = (const char *)sqlite3_column_text(st, 1);
    ck_assert_msg(t && want && !strcmp(names[t->state], want), "%s: thread %d is %s, the model says %s", scenario,
                  sqlite3_column_int(st, 0), want ? want : "?", t ? names[t->state] : "nothing");
    n++;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  ck_assert_int_gt(n, 0);
}

/* Every lesson and bug loads and walks to its end; what the model still
   has allocated there is exactly what the engine's end-of-run account
   lists (irp-outstanding steps: lesson 4's lost request, the leaks of the
   bugs), and each thread is in the state the engine left it in.  Runs
   that end in a bugcheck have no account.  Every view prints at every
   step on the way (for the sanitizers). */
static void walk_all(const char *pattern) {
  glob_t g;
  ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
  ck_assert(g.gl_pathc >= 20);
  FILE *null = fopen("/dev/null", "w");
  for (size_t i = 0; i < g.gl_pathc; i++) {
    rec_t x;
    rec_begin(&x, g.gl_pathv[i]);
    size_t outstanding = 0;
    while (mst_next(x.m)) {
      const trc_event_t *e = mst_run_event(x.r, mst_step(x.m));
      mst_print_cpus(x.m, null);
      mst_print_thread(x.m, 0, null);
      mst_print_irpfind(x.m, null);
      mst_print_port(x.m, 0, null);
      mst_print_devstack(x.m, 0, null);
      if (e->irp) mst_print_irp(x.m, e->irp, null);
      if (e->kind != TRC_IRP_OUTSTANDING) continue;
      outstanding++;
      const mst_irp_t *v = mst_irp(x.m, e->irp);
      ck_assert_msg(v && v->live, "%s: IRP %u is outstanding but not live in the model", g.gl_pathv[i], e->irp);
    }
    ck_assert_uint_eq(mst_step(x.m), mst_run_steps(x.r));
    size_t live = 0;
    for (size_t k = 0; k < mst_nirps(x.m); k++) {
      const mst_irp_t *v = mst_irp_at(x.m, k);
      live += v->live;
      /* why answers for every IRP without tripping. */
      for (mst_field_t f = MST_F_STATUS; f <= MST_F_CANCEL; f++) mst_why(x.m, f, v->id, v->n, null);
    }
    const trc_event_t *end = mst_run_event(x.r, mst_run_steps(x.r));
    if (end->kind == TRC_RUN_END && end->outcome != TRC_OUTCOME_BUGCHECK) {
      ck_assert_msg(live == outstanding, "%s: %zu live IRPs, %zu outstanding", g.gl_pathv[i], live, outstanding);
      threads_match_table(&x, g.gl_pathv[i]);
    }
    rec_end(&x);
  }
  fclose(null);
  globfree(&g);
}

START_TEST(every_lesson_walks) { walk_all("../scenarios/lessons/*.iosim"); }
END_TEST

START_TEST(every_bug_walks) { walk_all("../scenarios/bugs/*.iosim"); }
END_TEST

START_TEST(at_needs_a_step_or_a_unit) {
  rec_t x;
  rec_begin(&x, lesson2);
  uint64_t s = 0;
  char err[512];
  ck_assert_int_eq(mst_parse_at(x.r, "#48", &s, err, sizeof err), 0);
  ck_assert_uint_eq(s, 48);
  ck_assert_int_eq(mst_parse_at(x.r, "204.6", &s, err, sizeof err), -1);
  has(err, "a bare number could mean either");
  ck_assert_int_eq(mst_parse_at(x.r, "#0", &s, err, sizeof err), -1);
  ck_assert_int_eq(mst_parse_at(x.r, "#99999", &s, err, sizeof err), -1);
  ck_assert_int_eq(mst_parse_at(x.r, "204.6us", &s, err, sizeof err), 0);
  ck_assert(mst_run_event(x.r, s)->t_ns <= 204600 && mst_run_event(x.r, s + 1)->t_ns > 204600);
  rec_end(&x);
}
END_TEST

/* The stack locations `iosim irp` shows agree with the older per-IRP
   replay of the trace database (tracedb_print_irp), at every moment two
   steps do not share: the location lines, Control bits and marks. */
static char *loc_lines(const char *text) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  for (const char *p = text; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    if ((n > 2 && (p[0] == '>' || p[0] == ' ') && p[1] == '[') || (n > 12 && !strncmp(p, "            0 ", 13)))
      fprintf(f, "%.*s\n", (int)n, p);
    p = eol ? eol + 1 : NULL;
  }
  fclose(f);
  return out;
}

static void same_locations(const char *scenario) {
  rec_t x;
  rec_begin(&x, scenario);
  char err[512];
  for (uint64_t s = 1; s < mst_run_steps(x.r); s++) {
    const trc_event_t *e = mst_run_event(x.r, s), *next = mst_run_event(x.r, s + 1);
    mst_next(x.m);
    if (next->t_ns == e->t_ns) continue;
    for (size_t i = 0; i < mst_nirps(x.m); i++) {
      const mst_irp_t *v = mst_irp_at(x.m, i);
      char *mine = view(x.m, V_IRP, v->id, 0, 0), *old = NULL;
      size_t len = 0;
      FILE *f = open_memstream(&old, &len);
      int rc = tracedb_print_irp(x.db, mst_run_id(x.r), v->id, (int64_t)e->t_ns, f, err, sizeof err);
      fclose(f);
      ck_assert_msg(rc == 0, "%s", err);
      char *a = loc_lines(mine), *b = loc_lines(old);
      /* The old replay names an IRP creator's routine "creator's routine" too. */
      ck_assert_msg(!strcmp(a, b), "%s IRP %u after step %llu:\n%s---\n%s", scenario, v->id, (unsigned long long)s, a, b);
      free(a);
      free(b);
      free(mine);
      free(old);
    }
  }
  rec_end(&x);
}

START_TEST(irp_agrees_with_the_per_irp_replay) {
  same_locations(lesson2);
  same_locations(lesson3);
  same_locations("../scenarios/lessons/04-pending-propagation.iosim");
  same_locations("../scenarios/lessons/14-associated-irps.iosim");
  same_locations("../scenarios/lessons/15-cancel-queued.iosim");
}
END_TEST

/* ---- why, one test per kind of field ---- */

static char *why_at(rec_t *x, uint64_t step, mst_field_t f, uint32_t id, int loc) {
  mst_seek(x->m, step);
  return view(x->m, V_WHY, id, f, loc);
}

/* r1's final status was given by fs0 completing it inside the routine of
   its own IRP r2, whose status the disk set. */
START_TEST(why_status_follows_a_copy) {
  rec_t x;
  rec_begin(&x, lesson3);
  uint32_t r1 = find(&x, MST_IRP, "r1");
  char *t = why_at(&x, mst_run_steps(x.r), MST_F_STATUS, r1, 0);
  has(t, "IRP 2 (r1) IoStatus.Status = STATUS_SUCCESS");
  has(t, "IoCompleteRequest by fs0 (\\Driver\\mprfs)");
  has(t, "inside the completion routine of the IRP's creator for IRP 3 (r2)");
  has(t, "IRP 3 (r2) IoStatus.Status = STATUS_SUCCESS");
  has(t, "IoCompleteRequest by disk0 (\\Driver\\disk) in a DPC on CPU 0: the driver set the status");
  free(t);
  rec_end(&x);
}
END_TEST

START_TEST(why_information) {
  rec_t x;
  rec_begin(&x, lesson3);
  uint32_t r2 = find(&x, MST_IRP, "r2");
  char *t = why_at(&x, nth_step(&x, TRC_COMPLETION_CALL, r2, 1), MST_F_INFORMATION, r2, 0);
  has(t, "IoStatus.Information = 512");
  has(t, "IoCompleteRequest by disk0");
  free(t);
  rec_end(&x);
}
END_TEST

/* Lesson 2: PendingReturned at the end came from location 3, which fs0's
   completion routine marked because PendingReturned was set when the walk
   left location 2, which the disk marked in its dispatch routine. */
START_TEST(why_pending_returned_walks_the_chain) {
  rec_t x;
  rec_begin(&x, lesson2);
  uint32_t r1 = find(&x, MST_IRP, "r1");
  char *t = why_at(&x, nth_step(&x, TRC_WALK_DONE, r1, 1), MST_F_PENDING_RETURNED, r1, 0);
  has(t, "PendingReturned = 1");
  has(t, "left location 3 and took its SL_PENDING_RETURNED bit");
  has(t, "IRP 2 (r1) loc[3].Control = 01");
  has(t, "copies the mark up");
  has(t, "left location 2");
  has(t, "IRP 2 (r1) loc[2].Control = e1");
  has(t, "IoMarkIrpPending by disk0 (\\Driver\\disk) in thread app");
  ck_assert(strstr(t, "left location 3") < strstr(t, "left location 2"));
  free(t);
  rec_end(&x);
}
END_TEST

START_TEST(why_control) {
  rec_t x;
  rec_begin(&x, lesson2);
  uint32_t r1 = find(&x, MST_IRP, "r1");
  /* Before the disk marked it: what fs0's IoSetCompletionRoutine wrote. */
  char *t = why_at(&x, nth_step(&x, TRC_MARK_PENDING, r1, 1) - 1, MST_F_CONTROL, r1, 2);
  has(t, "loc[2].Control = e0");
  has(t, "IoSetCompletionRoutine by fs0 (\\Driver\\fsd): Control = e0 (invoke on success error cancel");
  free(t);
  /* After the walk: cleared. */
  t = why_at(&x, mst_run_steps(x.r), MST_F_CONTROL, r1, 2);
  has(t, "loc[2].Control = 00");
  has(t, "left location 2 and cleared it");
  free(t);
  rec_end(&x);
  /* Lesson 4: no routine in the volume's location, so the I/O manager
     copies the mark up. */
  rec_begin(&x, "../scenarios/lessons/04-pending-propagation.iosim");
  uint64_t s = nth_step(&x, TRC_PENDING_PROPAGATED, 0, 1);
  const trc_event_t *e = mst_run_event(x.r, s);
  t = why_at(&x, s, MST_F_CONTROL, e->irp, e->loc_to);
  has(t, "the I/O manager propagated the pending mark");
  has(t, "IoMarkIrpPending by");
  free(t);
  rec_end(&x);
}
END_TEST

START_TEST(why_current_location) {
  rec_t x;
  rec_begin(&x, lesson2);
  uint32_t r1 = find(&x, MST_IRP, "r1");
  uint32_t disk = find(&x, MST_DEVICE, "disk0");
  uint64_t s = 0;
  for (int n = 1; !s; n++) {
    uint64_t k = nth_step(&x, TRC_CALL, r1, n);
    if (mst_run_event(x.r, k)->device == disk) s = k;
  }
  char *t = why_at(&x, s + 1, MST_F_CURRENT_LOCATION, r1, 0);
  has(t, "CurrentLocation = 2");
  has(t, "IoCallDriver(disk0) moved the IRP down to location 2");
  free(t);
  t = why_at(&x, nth_step(&x, TRC_SKIP_STACK, r1, 1), MST_F_CURRENT_LOCATION, r1, 0);
  has(t, "IoSkipCurrentIrpStackLocation by vol0");
  free(t);
  rec_end(&x);
}
END_TEST

START_TEST(why_cancel) {
  rec_t x;
  rec_begin(&x, "../scenarios/lessons/15-cancel-queued.iosim");
  uint32_t r1 = find(&x, MST_IRP, "r1");
  char *t = why_at(&x, nth_step(&x, TRC_CANCEL, r1, 1), MST_F_CANCEL, r1, 0);
  has(t, "Cancel = 1");
  has(t, "IoCancelIrp in thread app");
  has(t, "in NtCancelIoFile");
  free(t);
  t = why_at(&x, nth_step(&x, TRC_CANCEL, r1, 1) - 1, MST_F_CANCEL, r1, 0);
  has(t, "Cancel = 0");
  has(t, "the IRP was allocated");
  free(t);
  rec_end(&x);
}
END_TEST

START_TEST(why_event_and_wait) {
  rec_t x;
  rec_begin(&x, lesson3);
  uint32_t done = find(&x, MST_OBJECT, "done"), app = find(&x, MST_THREAD, "app");
  char *t = why_at(&x, mst_run_steps(x.r), MST_F_EVENT, done, 0);
  has(t, "event done (object 4) state = signalled");
  has(t, "KeSetEvent in an APC in thread app on CPU 0, by stage 2 (IopCompleteRequest) of IRP 2 (r1)");
  free(t);
  t = why_at(&x, mst_run_steps(x.r), MST_F_WAIT, app, 0);
  has(t, "app's wait ended with STATUS_SUCCESS: done is signalled");
  has(t, "by stage 2 (IopCompleteRequest) of IRP 2 (r1)");
  free(t);
  /* While it waits: what it waits on, not yet set. */
  t = why_at(&x, nth_step(&x, TRC_WAIT, 0, 1), MST_F_WAIT, app, 0);
  has(t, "app began to wait (on its objects); the first object, done, was never set or cleared");
  free(t);
  rec_end(&x);
}
END_TEST

/* A master IRP's status is not its associated IRPs': the I/O manager
   completes it when the last is done.  A worker in
   GetQueuedCompletionStatus waits on the port, not on an object. */
START_TEST(why_master_and_port_wait) {
  rec_t x;
  rec_begin(&x, "../scenarios/lessons/14-associated-irps.iosim");
  uint32_t r1 = find(&x, MST_IRP, "r1");
  char *t = why_at(&x, mst_run_steps(x.r), MST_F_STATUS, r1, 0);
  has(t, "IoCompleteRequest by the I/O manager when its last associated IRP");
  has(t, "the associated IRPs' is not copied");
  free(t);
  /* Between an associated IRP's walk and its count-down. */
  mst_seek(x.m, nth_step(&x, TRC_ASSOCIATED_DONE, 0, 1) - 1);
  t = view(x.m, V_IRPFIND, 0, 0, 0);
  has(t, "an associated IRP, to be counted off master IRP 2");
  free(t);
  rec_end(&x);
  rec_begin(&x, "../scenarios/lessons/10-iocp.iosim");
  uint32_t w1 = find(&x, MST_THREAD, "w1");
  t = why_at(&x, nth_step(&x, TRC_PORT_WAIT, 0, 2), MST_F_WAIT, w1, 0);
  has(t, "w1 waits in GetQueuedCompletionStatus on port P: 0 packet(s) queued");
  free(t);
  rec_end(&x);
}
END_TEST

/* ---- the command line ---- */

static int capture(const char *cmd, char **out) {
  char full[1600];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, n = 0;
  *out = malloc(cap);
  size_t k;
  while ((k = fread(*out + n, 1, cap - n - 1, p)) > 0) {
    n += k;
    if (n + 1 == cap) *out = realloc(*out, cap *= 2);
  }
  (*out)[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(cli_views) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_views: ../iosim is not built, skipping the command-line checks\n");
    return;
  }
  char dir[] = "/tmp/iosim-viewsXXXXXX", cmd[700], *out;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(cmd, sizeof cmd, "../iosim run %s --quiet --db %s/t.db", lesson3, dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s/t.db --irp r1 --at '#48'", dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  has(out, "after step #48");
  has(out, "Args: 00001000");
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim thread --db %s/t.db --thread app --at 104.6", dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  has(out, "a bare number could mean either");
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim devstack --db %s/t.db --device vol0 --at '#50'", dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  has(out, "  fs0        \\Driver\\mprfs        2 (r1) pending\n> vol0");
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim dpcs --db %s/t.db --at '#44'", dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  has(out, "DPC queue (1, head first):\n    1. disk0, IRP 2 (r1), queued at #44");
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim why --db %s/t.db --irp r1 --field 'loc[9].Control'", dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  has(out, "no loc[9]");
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim thread --db %s/t.db --thread nobody", dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  has(out, "no thread named 'nobody'; there are: app");
  free(out);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* `iosim step` in a real terminal: tmux runs it, the test types keys and
   reads the screen. */
START_TEST(step_under_tmux) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_views: ../iosim is not built, skipping iosim step\n");
    return;
  }
  if (system("command -v tmux >/dev/null 2>&1") != 0) {
    const char *ci = getenv("CI");
    fprintf(stderr, "test_views: tmux is not installed (tests/deps.sh installs it): iosim step NOT TESTED\n");
    ck_assert_msg(!(ci && !strcmp(ci, "true")), "tmux is missing under CI=true: iosim step cannot be tested");
    return;
  }
  char sock[64], cmd[900], *out;
  snprintf(sock, sizeof sock, "iosim-views-%d", (int)getpid());
  snprintf(cmd, sizeof cmd,
           "tmux -L %s new-session -d -x 120 -y 50 -s t 'cd %s && ../iosim step %s; sleep 30'", sock,
           getcwd((char[512]){0}, 512), lesson3);
  ck_assert_int_eq(system(cmd), 0);
  /* Keys, each followed by a look at the screen once it has answered. */
  static const struct {
    const char *keys, *want;
  } steps[] = {
      {"", "96 steps"},
      {"j 48", "step #48 of 96 at 104.460 us: op"},
      {"n", "step #49 of 96 at 104.510 us: complete"},
      {"b 3", "step #46 of 96"},
      {"j 50", "step #50 of 96"},
      {"irp r1", "PendingReturned 1  Cancel 0"},
      {"thread app", "THREAD app (1)  Waiting"},
      {"cpu", "DPC disk0, IRP 2 (r1)"},
      {"q", "step> q"},
  };
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    if (*steps[i].keys) {
      snprintf(cmd, sizeof cmd, "tmux -L %s send-keys -t t '%s' Enter", sock, steps[i].keys);
      ck_assert_int_eq(system(cmd), 0);
    }
    bool seen = false;
    for (int tries = 0; tries < 50 && !seen; tries++) {
      usleep(100000);
      snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -t t -S -50", sock);
      ck_assert_int_eq(capture(cmd, &out), 0);
      seen = strstr(out, steps[i].want) != NULL;
      if (!seen && tries == 49) fprintf(stderr, "screen after '%s':\n%s\n", steps[i].keys, out);
      free(out);
    }
    ck_assert_msg(seen, "after '%s' the screen does not show '%s'", steps[i].keys, steps[i].want);
  }
  snprintf(cmd, sizeof cmd, "tmux -L %s kill-server", sock);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The README's section on the machine at a step shows real output: every
   `$ ./iosim ...` line between its markers, run again from a folder like
   the tree's top, prints exactly the lines under it. */
START_TEST(readme_views_are_current) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_views: ../iosim is not built, skipping the README check\n");
    return;
  }
  char *readme = NULL, here[512], dir[] = "/tmp/iosim-viewsXXXXXX", cmd[1400];
  ck_assert_int_eq(capture("cat ../README.md", &readme), 0);
  const char *a = strstr(readme, "<!-- views:"), *b = strstr(readme, "<!-- end of views -->");
  ck_assert_msg(a && b && a < b, "the README has no views section");
  ck_assert_ptr_nonnull(getcwd(here, sizeof here));
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(cmd, sizeof cmd, "ln -s %s/../scenarios %s/scenarios && ln -s %s/../iosim %s/iosim", here, dir, here, dir);
  ck_assert_int_eq(system(cmd), 0);
  int commands = 0;
  for (const char *p = strstr(a, "\n$ "); p && p < b; p = strstr(p, "\n$ ")) {
    const char *eol = strchr(p + 1, '\n');
    /* The expected lines: up to the next command or the end of the block. */
    const char *next = strstr(eol, "\n$ "), *fence = strstr(eol, "\n```");
    const char *end = next && next < fence ? next : fence;
    snprintf(cmd, sizeof cmd, "cd %s && %.*s", dir, (int)(eol - p - 3), p + 3);
    char *out;
    ck_assert_msg(capture(cmd, &out) == 0, "%s failed:\n%s", cmd, out);
    size_t want = (size_t)(end - eol);
    bool same = strlen(out) == (want ? want : 0) && strncmp(out, eol + 1, want ? want - 1 : 0) == 0;
    if (want == 0) same = out[0] == '\0';
    ck_assert_msg(same, "README: `%.*s` now prints:\n%s\n(the README shows:\n%.*s)", (int)(eol - p - 3), p + 3, out,
                  (int)want, eol + 1);
    free(out);
    commands++;
    p = eol;
  }
  ck_assert_int_ge(commands, 10);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
  free(readme);
}
END_TEST

TEST_SUITE(suite_views)
static Suite *suite_views(void) {
  Suite *s = suite_create("views");
  TCase *tc = tcase_create("machine state");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, lesson3_after_completion_routine);
  tcase_add_test(tc, lesson10_port);
  tcase_add_test(tc, leak_shows_in_irpfind);
  tcase_add_test(tc, walking_back_and_forth_is_a_replay);
  tcase_add_test(tc, every_lesson_walks);
  tcase_add_test(tc, every_bug_walks);
  tcase_add_test(tc, at_needs_a_step_or_a_unit);
  tcase_add_test(tc, irp_agrees_with_the_per_irp_replay);
  tcase_add_test(tc, why_status_follows_a_copy);
  tcase_add_test(tc, why_information);
  tcase_add_test(tc, why_pending_returned_walks_the_chain);
  tcase_add_test(tc, why_control);
  tcase_add_test(tc, why_current_location);
  tcase_add_test(tc, why_cancel);
  tcase_add_test(tc, why_event_and_wait);
  tcase_add_test(tc, why_master_and_port_wait);
  tcase_add_test(tc, cli_views);
  tcase_add_test(tc, step_under_tmux);
  tcase_add_test(tc, readme_views_are_current);
  suite_add_tcase(s, tc);
  return s;
}
