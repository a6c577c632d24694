/*
 * test_explore.c - systematic exploration (docs/exploration.md) through its
 * C interface: bound-2 search finds lesson 17's forgotten-cancel-routine
 * bugcheck and its token replays it; a minimised failure replays; pruning
 * finds the outcomes the full search finds; tokens refuse an edited
 * scenario; the diff of the cancel race's two outcomes; shards cover what
 * the unsharded search covers and their databases merge; limits; the
 * chooser hook and the stack cache underneath.  Runs from tests/.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "iosim/explore.h"
#include "iosim/tracedb.h"
#include "testlib.h"

#define LESSONS "../scenarios/lessons/"
#define FIX "fixtures/scenarios/"

static scn_t *load(const char *path) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  return sc;
}

static void explore(const scn_t *sc, const xp_opts_t *o, xp_report_t *r) {
  scn_error_t err;
  ck_assert_int_eq(xp_explore(sc, o, r, &err), SIM_OK);
}

static int outcome_starting(const xp_report_t *r, const char *prefix) {
  for (size_t i = 0; i < r->noutcomes; i++)
    if (!strncmp(r->outcomes[i].text, prefix, strlen(prefix))) return (int)i;
  return -1;
}

/* The token printed for `s`, parsed back and checked, then replayed. */
static void replay_token(const scn_t *sc, const xp_schedule_t *s, scn_result_t *res) {
  char *tok = xp_token(s), err[512];
  xp_schedule_t back = {0};
  ck_assert_msg(xp_token_parse(tok, &back, err, sizeof err) == 0, "%s: %s", tok, err);
  ck_assert_int_eq(xp_token_check(sc, &back, err, sizeof err), 0);
  bool diverged = true;
  scn_error_t serr;
  ck_assert_int_eq(xp_run_schedule(sc, &back, NULL, res, &diverged, &serr), SIM_OK);
  ck_assert_msg(!diverged, "token %s does not fit its run", tok);
  xp_schedule_free(&back);
  free(tok);
}

START_TEST(bound2_finds_lesson17_bugcheck_and_its_token_replays_it) {
  scn_t *sc = load(LESSONS "17-cancel-race-forgotten.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  ck_assert_int_eq(o.bound, 2);
  xp_report_t r;
  explore(sc, &o, &r);
  ck_assert(r.complete);
  int k = outcome_starting(&r, "bugcheck 0xC9 DRIVER_VERIFIER_IOMANAGER_VIOLATION (0x7)");
  ck_assert_msg(k >= 0, "no schedule within 2 preemptions ends in the Verifier's 0xC9");
  const xp_outcome_t *oc = &r.outcomes[k];
  ck_assert_uint_gt(oc->count, 0);
  ck_assert_uint_le(oc->rep.n, 2);
  /* The lesson expects it `sometimes`: not a failure, and found. */
  ck_assert(!oc->failing);
  scn_result_t res;
  replay_token(sc, &oc->rep, &res);
  ck_assert_int_eq(res.outcome, SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(res.bugcheck.code, DRIVER_VERIFIER_IOMANAGER_VIOLATION);
  ck_assert_uint_eq(res.bugcheck.p[0], 0x07);
  scn_result_free(&res);
  /* The default schedule (no preemption) is the cancel winning. */
  int d = outcome_starting(&r, "ok; r1 = STATUS_CANCELLED");
  ck_assert_int_ge(d, 0);
  ck_assert_uint_eq(r.outcomes[d].rep.n, 0);
  xp_report_free(&r);
  scn_free(sc);
}
END_TEST

START_TEST(minimised_failure_replays_the_same_bugcheck) {
  /* The same driver under `expect no bugcheck`: the 0xC9 is a failure.
     Random schedules find it with many preemptions; the minimiser brings it
     down to the one preemption it needs. */
  scn_t *sc = load(FIX "explore-forgotten-cancel.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  o.strategy = XP_RANDOM;
  o.runs = 200;
  o.seed = 7;
  xp_report_t r;
  explore(sc, &o, &r);
  ck_assert_int_eq(xp_verdict(&r), 1);
  ck_assert_int_eq(xp_exit_status(&r), 1);
  int k = outcome_starting(&r, "bugcheck 0xC9");
  ck_assert_int_ge(k, 0);
  const xp_outcome_t *oc = &r.outcomes[k];
  ck_assert(oc->failing);
  ck_assert(oc->minimised);
  ck_assert_uint_eq(oc->rep.n, 1);
  scn_result_t res;
  replay_token(sc, &oc->rep, &res);
  ck_assert_int_eq(res.outcome, SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(res.bugcheck.code, DRIVER_VERIFIER_IOMANAGER_VIOLATION);
  ck_assert_int_eq(res.expect_failed, 2);
  scn_result_free(&res);
  xp_report_free(&r);
  /* Depth first, bound 2: the same failure, its smallest schedule. */
  xp_opts_default(&o);
  explore(sc, &o, &r);
  k = outcome_starting(&r, "bugcheck 0xC9");
  ck_assert_int_ge(k, 0);
  ck_assert_uint_eq(r.outcomes[k].rep.n, 1);
  ck_assert_int_eq(xp_exit_status(&r), 1);
  xp_report_free(&r);
  scn_free(sc);
}
END_TEST

static int cmp_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The outcomes' texts, sorted, as one string. */
static char *outcome_set(const xp_report_t *r) {
  char **v = calloc(r->noutcomes + 1, sizeof *v);
  size_t len = 1;
  for (size_t i = 0; i < r->noutcomes; i++) {
    v[i] = r->outcomes[i].text;
    len += strlen(v[i]) + 1;
  }
  qsort(v, r->noutcomes, sizeof *v, cmp_text);
  char *s = calloc(len, 1);
  for (size_t i = 0; i < r->noutcomes; i++) {
    strcat(s, v[i]);
    strcat(s, "\n");
  }
  free(v);
  return s;
}

START_TEST(pruned_and_full_search_find_the_same_outcomes) {
  static const char *const files[] = {LESSONS "16-cancel-race.iosim", LESSONS "17-cancel-race-forgotten.iosim"};
  for (size_t f = 0; f < 2; f++) {
    scn_t *sc = load(files[f]);
    xp_opts_t o;
    xp_opts_default(&o);
    o.no_minimise = true;
    xp_report_t pruned, full;
    explore(sc, &o, &pruned);
    o.no_prune = true;
    explore(sc, &o, &full);
    ck_assert(pruned.complete && full.complete);
    ck_assert(pruned.pruning && !full.pruning);
    ck_assert_msg(pruned.pruned > 0, "%s: nothing was pruned", files[f]);
    ck_assert_uint_eq(full.pruned, 0);
    ck_assert_uint_lt(pruned.explored, full.explored);
    char *a = outcome_set(&pruned), *b = outcome_set(&full);
    ck_assert_str_eq(a, b);
    /* and the same verdict on every expect line */
    ck_assert_int_eq(pruned.nexpects, full.nexpects);
    for (int i = 0; i < full.nexpects; i++) {
      ck_assert_int_eq(pruned.expects[i].held > 0, full.expects[i].held > 0);
      ck_assert_int_eq(pruned.expects[i].failed > 0, full.expects[i].failed > 0);
    }
    free(a);
    free(b);
    xp_report_free(&pruned);
    xp_report_free(&full);
    scn_free(sc);
  }
}
END_TEST

START_TEST(tokens_round_trip_and_refuse_an_edited_scenario) {
  xp_schedule_t s = {.hash = 0x9f3c2a0b7d1e4c55ull, .seed = 1}, back = {0};
  xp_schedule_push(&s, 29, 1);
  xp_schedule_push(&s, 57, 2);
  char *tok = xp_token(&s), err[512];
  ck_assert_str_eq(tok, "1:9f3c2a0b7d1e4c55:1:29,57.2");
  ck_assert_int_eq(xp_token_parse(tok, &back, err, sizeof err), 0);
  ck_assert_uint_eq(back.n, 2);
  ck_assert_uint_eq(back.at[1], 57);
  ck_assert_uint_eq(back.opt[1], 2);
  free(tok);
  static const char *const bad[] = {"", "hello", "2:9f3c2a0b7d1e4c55:1:-", "1:9f3c:1", "1:9f3c2a0b7d1e4c55:1:5,3",
                                    "1:9f3c2a0b7d1e4c55:1:4.0", "1:9f3c2a0b7d1e4c55:1:4x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(xp_token_parse(bad[i], &back, err, sizeof err) != 0, "'%s' parsed", bad[i]);
  xp_schedule_free(&s);
  xp_schedule_free(&back);

  /* A copy of a scenario, explored, then edited: its tokens are refused. */
  char dir[] = "/tmp/iosim-xtokXXXXXX", path[256], cmd[600];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/race.iosim", dir);
  snprintf(cmd, sizeof cmd, "cp " FIX "explore-forgotten-cancel.iosim %s", path);
  ck_assert_int_eq(system(cmd), 0);
  scn_t *sc = load(path);
  xp_opts_t o;
  xp_opts_default(&o);
  o.bound = 1;
  xp_report_t r;
  explore(sc, &o, &r);
  ck_assert_uint_gt(r.noutcomes, 1);
  const xp_schedule_t *rep = &r.outcomes[r.noutcomes - 1].rep;
  ck_assert_int_eq(xp_token_check(sc, rep, err, sizeof err), 0);
  FILE *f = fopen(path, "a");
  fputs("# one more comment\n", f);
  fclose(f);
  scn_t *edited = load(path);
  ck_assert_int_eq(xp_token_check(edited, rep, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "another version of the scenario"));
  ck_assert_ptr_nonnull(strstr(err, "edited"));
  /* A token whose choices go past the run's end does not fit it. */
  xp_schedule_t far = {.hash = scn_hash(sc), .seed = 1};
  xp_schedule_push(&far, 100000, 1);
  scn_result_t res;
  bool diverged = false;
  scn_error_t serr;
  ck_assert_int_eq(xp_run_schedule(sc, &far, NULL, &res, &diverged, &serr), SIM_OK);
  ck_assert(diverged);
  scn_result_free(&res);
  xp_schedule_free(&far);
  xp_report_free(&r);
  scn_free(edited);
  scn_free(sc);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(diff_explains_the_cancel_race) {
  scn_t *sc = load(LESSONS "16-cancel-race.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  xp_report_t r;
  explore(sc, &o, &r);
  int a = outcome_starting(&r, "ok; r1 = STATUS_CANCELLED"), b = outcome_starting(&r, "ok; r1 = STATUS_SUCCESS");
  ck_assert_int_ge(a, 0);
  ck_assert_int_ge(b, 0);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  scn_error_t err;
  ck_assert_int_eq(xp_diff(sc, &r.outcomes[a].rep, &r.outcomes[b].rep, f, &err), SIM_OK);
  fclose(f);
  /* Where they part ways: the cancelled one went on with the application's
     thread, the successful one took the device's interrupt first. */
  char *div = strstr(text, "first divergence after ");
  ck_assert_ptr_nonnull(div);
  char *rowa = strstr(div, "\n  A #"), *rowb = strstr(div, "\n  B #");
  ck_assert_ptr_nonnull(rowa);
  ck_assert_ptr_nonnull(rowb);
  ck_assert_ptr_nonnull(strstr(rowb, "interrupt"));
  /* After it: the same completion routine with two statuses, and the
     cancel path only in the cancelled schedule. */
  char *same = strstr(text, "steps both took, done differently");
  ck_assert_ptr_nonnull(same);
  ck_assert_ptr_nonnull(strstr(same, "completion-routine   STATUS_CANCELLED"));
  ck_assert_ptr_nonnull(strstr(same, "completion-routine   STATUS_SUCCESS"));
  char *only_a = strstr(text, "steps only A took");
  ck_assert_ptr_nonnull(only_a);
  char *only_b = strstr(only_a, "steps only B took");
  ck_assert_ptr_nonnull(only_b);
  char *cancel = strstr(only_a, "cancel-routine");
  ck_assert(cancel && cancel < only_b);
  ck_assert_ptr_nonnull(strstr(only_b, "set-cancel-routine"));
  free(text);
  /* The same schedule against itself: no divergence. */
  f = open_memstream(&text, &len);
  ck_assert_int_eq(xp_diff(sc, &r.outcomes[a].rep, &r.outcomes[a].rep, f, &err), SIM_OK);
  fclose(f);
  ck_assert_ptr_nonnull(strstr(text, "they do not diverge"));
  free(text);
  xp_report_free(&r);
  scn_free(sc);
}
END_TEST

static int64_t count_rows(const char *db, const char *sql) {
  sqlite3 *h;
  int64_t n = -1;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

START_TEST(shards_cover_the_unsharded_space_and_merge) {
  scn_t *sc = load(LESSONS "16-cancel-race.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  o.no_prune = true; /* each schedule counted once, wherever it runs */
  xp_report_t full;
  explore(sc, &o, &full);
  char dir[] = "/tmp/iosim-xshardXXXXXX", db[3][256], cmd[600];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  uint64_t sum = 0;
  int64_t runs = 0;
  char *seen[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 2; i++) {
    xp_opts_t s = o;
    s.shard = i + 1;
    s.nshards = 2;
    xp_report_t r;
    explore(sc, &s, &r);
    ck_assert(r.complete);
    ck_assert_uint_gt(r.explored, 0);
    sum += r.explored;
    seen[i] = outcome_set(&r);
    snprintf(db[i], sizeof db[i], "%s/shard%d.db", dir, i + 1);
    char err[512];
    ck_assert_msg(xp_store(sc, &r, db[i], true, false, NULL, err, sizeof err) == 0, "%s", err);
    runs += (int64_t)r.noutcomes;
    ck_assert_int_eq(count_rows(db[i], "SELECT count(*) FROM schedule"), (int64_t)r.noutcomes);
    xp_report_free(&r);
  }
  ck_assert_uint_eq(sum, full.explored);
  /* Every outcome of the whole space turns up in one of the shards. */
  char *all = outcome_set(&full);
  for (char *line = all, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = 0;
    ck_assert_msg(strstr(seen[0], line) || strstr(seen[1], line), "outcome '%s' is in no shard", line);
  }
  free(all);
  free(seen[0]);
  free(seen[1]);
  /* iosim merge: both shards' runs in one file, renumbered, tokens kept. */
  snprintf(db[2], sizeof db[2], "%s/all.db", dir);
  const char *in[2] = {db[0], db[1]};
  char err[512];
  ck_assert_int_eq(tracedb_merge(db[2], in, 2, err, sizeof err), SIM_OK);
  ck_assert_int_eq(count_rows(db[2], "SELECT count(*) FROM run"), runs);
  ck_assert_int_eq(count_rows(db[2], "SELECT count(*) FROM schedule"), runs);
  ck_assert_int_eq(count_rows(db[2], "SELECT count(DISTINCT run_id) FROM event"), runs);
  ck_assert_int_eq(count_rows(db[2], "SELECT count(*) FROM schedule s JOIN run r ON r.id = s.run_id"), runs);
  ck_assert_int_eq(count_rows(db[2], "SELECT count(*) FROM schedule WHERE token LIKE '1:%'"), runs);
  /* A file that is not an iosim trace is refused. */
  char junk[300];
  snprintf(junk, sizeof junk, "%s/junk.db", dir);
  FILE *f = fopen(junk, "w");
  fputs("not a database", f);
  fclose(f);
  const char *bad[1] = {junk};
  ck_assert_int_ne(tracedb_merge(db[2], bad, 1, err, sizeof err), SIM_OK);
  ck_assert_int_eq(count_rows(db[2], "SELECT count(*) FROM run"), runs);
  xp_report_free(&full);
  scn_free(sc);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(limits_stop_the_search_and_say_so) {
  scn_t *sc = load(LESSONS "16-cancel-race.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  o.max_schedules = 10;
  xp_report_t r;
  explore(sc, &o, &r);
  ck_assert(!r.complete);
  ck_assert_str_eq(r.stopped_by, "max-schedules");
  ck_assert_uint_eq(r.explored, 10);
  ck_assert_int_eq(xp_exit_status(&r), XP_EXIT_INCOMPLETE);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  xp_print_coverage(f, &r);
  fclose(f);
  ck_assert_ptr_nonnull(strstr(text, "incomplete: stopped by max-schedules after 10 schedules"));
  free(text);
  xp_report_free(&r);
  /* Ctrl-C: the flag stops it at once, the report keeps what was covered. */
  volatile sig_atomic_t flag = 1;
  xp_opts_default(&o);
  o.interrupt = &flag;
  explore(sc, &o, &r);
  ck_assert_str_eq(r.stopped_by, "interrupted");
  ck_assert_int_eq(xp_exit_status(&r), 130);
  xp_report_free(&r);
  scn_free(sc);
}
END_TEST

START_TEST(estimate_is_close_and_strategies_sample) {
  scn_t *sc = load(LESSONS "16-cancel-race.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  o.no_prune = true;
  xp_report_t full;
  explore(sc, &o, &full);
  xp_estimate_t e;
  scn_error_t err;
  ck_assert_int_eq(xp_estimate(sc, &o, 200, &e, &err), SIM_OK);
  ck_assert_uint_eq(e.samples, 200);
  ck_assert_msg(e.schedules > full.explored / 2.0 && e.schedules < full.explored * 2.0,
                "estimate %.0f for %llu schedules", e.schedules, (unsigned long long)full.explored);
  xp_report_free(&full);
  /* Random and PCT: as many schedules as asked, both outcomes among them,
     and PCT's n and k. */
  for (int pct = 0; pct < 2; pct++) {
    xp_opts_default(&o);
    o.strategy = pct ? XP_PCT : XP_RANDOM;
    o.runs = 200;
    xp_report_t r;
    explore(sc, &o, &r);
    ck_assert(r.complete);
    ck_assert_uint_eq(r.explored, 200);
    ck_assert_int_ge(outcome_starting(&r, "ok; r1 = STATUS_CANCELLED"), 0);
    ck_assert_int_ge(outcome_starting(&r, "ok; r1 = STATUS_SUCCESS"), 0);
    if (pct) {
      ck_assert_uint_ge(r.pct_n, 2);
      ck_assert_uint_gt(r.pct_k, 10);
      ck_assert_int_eq(r.pct_depth, 3);
    }
    xp_report_free(&r);
  }
  scn_free(sc);
}
END_TEST

/* What random schedules found in the simulator itself, fixed: a scripted
   clear-cancel that lost the race left the cancel routine nothing to run
   and the cancel spin lock held (lesson 16: a wait at DISPATCH_LEVEL,
   0xA); a cancel routine that read its script from an IRP the stage-2 APC
   had overwritten, and two completion walks over one IRP, crashed it. */
START_TEST(random_schedules_keep_the_simulator_whole) {
  scn_t *sc = load(LESSONS "16-cancel-race.iosim");
  xp_opts_t o;
  xp_opts_default(&o);
  o.strategy = XP_RANDOM;
  o.runs = 1500;
  o.no_minimise = true;
  xp_report_t r;
  explore(sc, &o, &r);
  ck_assert_uint_eq(r.explored, 1500);
  ck_assert_int_lt(outcome_starting(&r, "bugcheck"), 0);
  for (int i = 0; i < r.nexpects; i++)
    if (!r.expects[i].sometimes) ck_assert_msg(r.expects[i].failed == 0, "%s", r.expects[i].text);
  xp_report_free(&r);
  scn_free(sc);
  sc = load(FIX "explore-forgotten-cancel.iosim");
  o.runs = 1000;
  explore(sc, &o, &r);
  ck_assert_uint_eq(r.explored, 1000);
  ck_assert_int_ge(outcome_starting(&r, "bugcheck 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS"), 0);
  xp_report_free(&r);
  scn_free(sc);
}
END_TEST

/* ---- the engine's side: the chooser hook and the stack cache ---- */
typedef struct hook {
  int calls, next, stop_at;
  uint32_t max_n;
} hook_t;

static uint32_t count_hook(void *ud, const sim_choice_t *c) {
  hook_t *h = ud;
  h->calls++;
  if (c->kind == SIM_CHOICE_NEXT) {
    h->next++;
    /* CPUs first, by number; then the events by due time */
    for (uint32_t i = 1; i < c->n; i++)
      if (c->cand[i].kind == SIM_CAND_CPU) ck_assert(c->cand[i - 1].kind == SIM_CAND_CPU && c->cand[i - 1].cpu < c->cand[i].cpu);
  }
  if (c->n > h->max_n) h->max_n = c->n;
  if (h->stop_at && h->calls == h->stop_at) return SIM_CHOICE_STOP;
  return c->n - 1; /* always the last: the least default */
}

/* Two threads on two CPUs taking turns at a synchronization event. */
static void racer(PVOID arg) {
  KEVENT *ev = arg;
  for (int i = 0; i < 3; i++) {
    KeWaitForSingleObject(ev, Executive, KernelMode, FALSE, NULL);
    sim_delay(1000);
    KeSetEvent(ev, 0, FALSE);
  }
}

static void two_racers(sim_t *S, KEVENT *ev) {
  KeInitializeEvent(ev, SynchronizationEvent, TRUE);
  sim_thread_create(S, "a", racer, ev);
  sim_thread_create(S, "b", racer, ev);
}

START_TEST(chooser_hook_is_asked_and_can_stop_the_run) {
  sim_config_t cfg = {.cpus = 2, .seed = 1, .jitter_pct = 50};
  hook_t h = {0};
  KEVENT ev;
  sim_t *S = sim_create(&cfg);
  two_racers(S, &ev);
  sim_set_chooser(S, count_hook, &h);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_gt(h.next, 5);
  ck_assert_uint_ge(h.max_n, 2);
  sim_destroy(S);
  hook_t stop = {.stop_at = 3};
  S = sim_create(&cfg);
  two_racers(S, &ev);
  sim_set_chooser(S, count_hook, &stop);
  ck_assert_int_eq(sim_run(S), SIM_RUN_STOPPED);
  ck_assert_int_eq(stop.calls, 3);
  sim_destroy(S);
}
END_TEST

static void console_to(void *ud, sim_t *S) {
  trc_sink_t t = sim_console_sink(S, ud);
  sim_add_sink(S, &t);
}

START_TEST(machines_sharing_a_stack_cache_run_the_same) {
  scn_t *sc = load(LESSONS "06-two-cpus.iosim");
  sim_stack_cache_t *cache = sim_stack_cache_new();
  char *text[4] = {NULL};
  size_t len[4];
  for (int i = 0; i < 4; i++) {
    FILE *f = open_memstream(&text[i], &len[i]);
    scn_run_opts_t o = {.on_start = console_to, .ud = f, .stacks = i ? cache : NULL};
    scn_result_t res;
    scn_error_t err;
    ck_assert_int_eq(scn_run(sc, &o, &res, &err), SIM_OK);
    scn_result_free(&res);
    fclose(f);
    if (i) ck_assert_str_eq(text[i], text[0]);
  }
  for (int i = 0; i < 4; i++) free(text[i]);
  sim_stack_cache_free(cache);
  scn_free(sc);
}
END_TEST

/* `machine ... explore bound K`: what iosim check reads. */
static int parse_text(const char *text, char *msg, size_t n) {
  char dir[] = "/tmp/iosim-xparseXXXXXX", path[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.iosim", dir);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  int b = sc ? scn_explore_bound(sc) : -100;
  if (!sc) snprintf(msg, n, "%d:%d: %s", err.line, err.col, err.msg);
  scn_free(sc);
  remove(path);
  rmdir(dir);
  return b;
}

START_TEST(machine_explore_bound_parses) {
  char msg[600] = "";
  static const char body[] = "\nthread t\n  delay 1us\nend\nexpect thread t finished\n";
  char text[512];
  snprintf(text, sizeof text, "machine cpus 2 explore bound 3%s", body);
  ck_assert_int_eq(parse_text(text, msg, sizeof msg), 3);
  snprintf(text, sizeof text, "machine explore bound none cpus 2%s", body);
  ck_assert_int_eq(parse_text(text, msg, sizeof msg), SCN_EXPLORE_UNBOUNDED);
  snprintf(text, sizeof text, "machine cpus 2%s", body);
  ck_assert_int_eq(parse_text(text, msg, sizeof msg), SCN_EXPLORE_NONE);
  snprintf(text, sizeof text, "machine explore 2%s", body);
  ck_assert_int_eq(parse_text(text, msg, sizeof msg), -100);
  ck_assert_str_eq(msg, "1:17: expected `bound K` (or `bound none`) after explore");
  snprintf(text, sizeof text, "machine explore bound 99%s", body);
  ck_assert_int_eq(parse_text(text, msg, sizeof msg), -100);
  ck_assert_ptr_nonnull(strstr(msg, "a preemption bound is 0..64"));
}
END_TEST

TEST_SUITE(suite_explore)
static Suite *suite_explore(void) {
  Suite *s = suite_create("explore");
  TCase *tc = tcase_create("exploration");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, bound2_finds_lesson17_bugcheck_and_its_token_replays_it);
  tcase_add_test(tc, minimised_failure_replays_the_same_bugcheck);
  tcase_add_test(tc, pruned_and_full_search_find_the_same_outcomes);
  tcase_add_test(tc, tokens_round_trip_and_refuse_an_edited_scenario);
  tcase_add_test(tc, diff_explains_the_cancel_race);
  tcase_add_test(tc, shards_cover_the_unsharded_space_and_merge);
  tcase_add_test(tc, limits_stop_the_search_and_say_so);
  tcase_add_test(tc, estimate_is_close_and_strategies_sample);
  tcase_add_test(tc, random_schedules_keep_the_simulator_whole);
  tcase_add_test(tc, chooser_hook_is_asked_and_can_stop_the_run);
  tcase_add_test(tc, machines_sharing_a_stack_cache_run_the_same);
  tcase_add_test(tc, machine_explore_bound_parses);
  suite_add_tcase(s, tc);
  return s;
}
