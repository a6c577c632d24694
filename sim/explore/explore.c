/*
 * explore.c - the strategies: depth-first search of every schedule within
 * a preemption bound (stateless: each schedule runs from the start, with
 * the choices of its prefix replayed; states already explored with as many
 * preemptions left are skipped), uniform random schedules, PCT, the
 * estimate of a search's size, and the split of the space into shards.
 */
#include <math.h>
#include <time.h>

#include "iosim/alloc.h"
#include "explore_int.h"

void xp_opts_default(xp_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->strategy = XP_DFS;
  o->bound = 2;
  o->runs = 1000;
  o->depth = 3;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct xp_ctx {
  const scn_t *sc;
  const xp_opts_t *o;
  xp_report_t *r;
  sim_stack_cache_t *stacks;
  xp_cache_t *cache;
  xp_table_t *table;
  xp_run_t run;
  xp_sig_t sig;
  uint64_t hash, seed;
  double t0;
  char **findings; /* distinct unpredicted rules */
  int nfindings;
  scn_error_t *err;
  int rc;          /* the first scn_run failure */
} xp_ctx_t;

/* Whether a limit (or Ctrl-C) says stop; the report says which. */
static bool limited(xp_ctx_t *x) {
  const xp_opts_t *o = x->o;
  if (o->interrupt && *o->interrupt) x->r->stopped_by = "interrupted";
  else if (o->max_schedules && x->r->explored >= o->max_schedules) x->r->stopped_by = "max-schedules";
  else if (o->time_limit > 0 && now_s() - x->t0 >= o->time_limit) x->r->stopped_by = "time-limit";
  return x->r->stopped_by != NULL;
}

static void note_finding(xp_ctx_t *x, const char *name) {
  for (int i = 0; i < x->nfindings; i++)
    if (!strcmp(x->findings[i], name)) return;
  x->findings = xp_xrealloc(x->findings, (size_t)(x->nfindings + 1) * sizeof *x->findings);
  x->findings[x->nfindings++] = iosim_strdup(name);
}

/* A schedule that ran to its end: count it everywhere. */
static void record(xp_ctx_t *x, const scn_result_t *res) {
  xp_report_t *r = x->r;
  r->explored++;
  r->choice_points += x->run.n;
  if (res->outcome == SIM_RUN_STALLED) r->stalls++;
  xp_table_add(x->table, &x->sig, &x->run, x->run.steps, x->hash, x->seed);
  int og = xp_table_find(x->table, x->sig.hash);
  if (!r->expects) {
    r->nexpects = res->expect_total;
    r->expects = xp_xalloc((size_t)(r->nexpects ? r->nexpects : 1) * sizeof *r->expects);
    for (int i = 0; i < r->nexpects; i++) {
      r->expects[i].line = res->expects[i].line;
      r->expects[i].text = iosim_strdup(res->expects[i].text);
      r->expects[i].sometimes = res->expects[i].sometimes;
      r->expects[i].first_failure = -1;
    }
  }
  for (int i = 0; i < r->nexpects; i++) { /* every run of the scenario has its expect lines */
    xp_expect_t *e = &r->expects[i];
    if (res->expects[i].passed) e->held++;
    else {
      e->failed++;
      if (e->first_failure < 0 && !e->sometimes) e->first_failure = og;
    }
  }
  if (x->sig.failing) {
    r->failing++;
    if (r->nfailures < x->o->keep_failures) {
      r->failures = xp_xrealloc(r->failures, (r->nfailures + 1) * sizeof *r->failures);
      memset(&r->failures[r->nfailures], 0, sizeof *r->failures);
      xp_run_to_schedule(&x->run, x->hash, x->seed, &r->failures[r->nfailures++]);
    } else if (x->o->keep_failures) {
      r->failures_not_kept++;
    }
  }
  if (x->sig.expect_failed) r->expect_failing++;
  if (x->sig.finding) {
    r->finding_schedules++;
    for (int i = 0; i < res->finding_total; i++)
      if (!res->findings[i].predicted) note_finding(x, res->findings[i].name);
  }
}

/* Runs what x->run holds; records it when it ran to its end.  False on a
   scenario that cannot be built. */
static bool run_and_record(xp_ctx_t *x) {
  scn_result_t res;
  bool verify = !x->o->no_verify;
  int rc = xp_run_once(x->sc, &x->run, x->stacks, verify, &res, &x->sig, NULL, x->err);
  if (rc != SIM_OK) {
    x->rc = rc;
    return false;
  }
  if (x->run.cut) x->r->pruned++;
  else if (!x->run.depth_stop && res.outcome != SIM_RUN_STOPPED) record(x, &res);
  scn_result_free(&res);
  return true;
}

/* Depth-first search of the subtree below `start` (its first `floor`
   choices are fixed): returns true when it covered it all. */
static bool dfs(xp_ctx_t *x, const uint32_t *start, size_t nstart, size_t floor) {
  int bound = x->o->bound;
  size_t cap = nstart + 64, n = nstart;
  uint32_t *prefix = xp_xalloc(cap * sizeof *prefix);
  if (nstart) memcpy(prefix, start, nstart * sizeof *prefix);
  x->run.fp_valid = false; /* a new subtree: the last run is no ancestor */
  for (;;) {
    if (limited(x)) {
      free(prefix);
      return false;
    }
    x->run.prefix = prefix;
    x->run.nprefix = n;
    x->run.policy = XP_POL_DEFAULT;
    x->run.cache = x->cache;
    x->run.bound = bound;
    x->run.stop_at = 0;
    if (!run_and_record(x)) {
      free(prefix);
      return false;
    }
    if (x->o->interrupt && *x->o->interrupt) continue; /* limited() reports it */
    /* Backtrack: the deepest choice point with an untried option the bound
       allows.  Those left behind are finished; an unbranched one whose
       budget was spent had its alternatives cut by the bound. */
    const xp_point_t *log = x->run.log;
    size_t len = x->run.n;
    unsigned before = x->run.cost;
    size_t i = len;
    bool found = false;
    while (i > floor) {
      i--;
      before -= log[i].opt != 0;
      bool allowed = bound < 0 || (int)before + 1 <= bound;
      if (log[i].opt + 1 < log[i].n && allowed) {
        found = true;
        break;
      }
      /* (a choice point has at least two options: xp_choose logs no other) */
      if (log[i].opt == 0 && !allowed) x->r->beyond_bound += log[i].n - 1;
    }
    if (!found) {
      free(prefix);
      return true;
    }
    if (i + 1 > cap) {
      cap = (i + 1) * 2;
      prefix = xp_xrealloc(prefix, cap * sizeof *prefix);
    }
    for (size_t k = 0; k < i; k++) prefix[k] = log[k].opt;
    prefix[i] = log[i].opt + 1;
    n = i + 1;
  }
}

/* ---- shards: the prefixes of the first D choice points, dealt round robin ---- */
typedef struct prefix_list {
  uint32_t **v;
  size_t *len;
  size_t n, cap;
} prefix_list_t;

static void pl_free(prefix_list_t *p) {
  for (size_t i = 0; i < p->n; i++) free(p->v[i]);
  free(p->v);
  free(p->len);
  memset(p, 0, sizeof *p);
}

/* Every path of the bounded tree cut at depth `d`, in depth-first order;
   *deeper when one reached it (the tree goes on). */
static bool enum_prefixes(xp_ctx_t *x, size_t d, prefix_list_t *out, bool *deeper) {
  int bound = x->o->bound;
  size_t n = 0;
  uint32_t *prefix = xp_xalloc((d + 1) * sizeof *prefix);
  *deeper = false;
  for (;;) {
    x->run.prefix = prefix;
    x->run.nprefix = n;
    x->run.policy = XP_POL_DEFAULT;
    x->run.cache = NULL;
    x->run.stop_at = d;
    scn_result_t res;
    int rc = xp_run_once(x->sc, &x->run, x->stacks, true, &res, NULL, NULL, x->err);
    if (rc != SIM_OK) {
      x->rc = rc;
      free(prefix);
      return false;
    }
    scn_result_free(&res);
    if (x->run.depth_stop) *deeper = true;
    if (out->n == out->cap) {
      out->cap = out->cap ? out->cap * 2 : 64;
      out->v = xp_xrealloc(out->v, out->cap * sizeof *out->v);
      out->len = xp_xrealloc(out->len, out->cap * sizeof *out->len);
    }
    size_t len = x->run.n;
    out->v[out->n] = xp_xalloc((len ? len : 1) * sizeof **out->v);
    for (size_t k = 0; k < len; k++) out->v[out->n][k] = x->run.log[k].opt;
    out->len[out->n++] = len;
    const xp_point_t *log = x->run.log;
    unsigned before = x->run.cost;
    size_t i = len;
    bool found = false;
    while (i > 0) {
      i--;
      before -= log[i].opt != 0;
      if (log[i].opt + 1 < log[i].n && (bound < 0 || (int)before + 1 <= bound)) {
        found = true;
        break;
      }
    }
    if (!found) break;
    for (size_t k = 0; k < i; k++) prefix[k] = log[k].opt;
    prefix[i] = log[i].opt + 1;
    n = i + 1;
  }
  x->run.stop_at = 0;
  free(prefix);
  return true;
}

static bool dfs_sharded(xp_ctx_t *x) {
  int N = x->o->nshards, I = x->o->shard;
  prefix_list_t pl = {0};
  /* The same depth in every shard: the first whose paths number at least
     eight per shard (or the whole tree, if it is shallower). */
  for (size_t d = 2;; d *= 2) {
    bool deeper;
    pl_free(&pl);
    if (!enum_prefixes(x, d, &pl, &deeper)) {
      pl_free(&pl);
      return false;
    }
    if (pl.n >= (size_t)N * 8 || !deeper || d >= 4096) break;
  }
  bool all = true;
  for (size_t j = 0; j < pl.n && all; j++) {
    if ((int)(j % (size_t)N) != I - 1) continue;
    all = dfs(x, pl.v[j], pl.len[j], pl.len[j]);
  }
  pl_free(&pl);
  return all && x->rc == SIM_OK;
}

/* ---- random and PCT ---- */
static bool random_runs(xp_ctx_t *x, bool pct) {
  const xp_opts_t *o = x->o;
  xp_rng_t rng = {o->seed ? o->seed : x->seed};
  uint64_t k = 1;
  if (pct) {
    /* k and n from the default schedule: its scheduling points and the
       agents (CPUs, interrupt sources, timers) that took part. */
    x->run.prefix = NULL;
    x->run.nprefix = 0;
    x->run.policy = XP_POL_PCT;
    x->run.pct.depth = o->depth;
    x->run.pct.nchange = 0;
    x->run.rng = rng;
    scn_result_t res;
    int rc = xp_run_once(x->sc, &x->run, x->stacks, true, &res, NULL, NULL, x->err);
    if (rc != SIM_OK) {
      x->rc = rc;
      return false;
    }
    scn_result_free(&res);
    k = x->run.next_points ? x->run.next_points : 1;
    x->r->pct_k = k;
    x->r->pct_n = (uint64_t)x->run.pct.nagents;
    x->r->pct_depth = o->depth;
  }
  for (uint64_t i = 0; i < o->runs; i++) {
    if (limited(x)) return false;
    x->run.prefix = NULL;
    x->run.nprefix = 0;
    x->run.cache = NULL;
    x->run.rng.s = xp_rand(&rng);
    if (pct) {
      x->run.policy = XP_POL_PCT;
      x->run.pct.depth = o->depth;
      int nc = o->depth - 1;
      if (nc > 16) nc = 16;
      if (nc < 0) nc = 0;
      x->run.pct.nchange = nc;
      for (int j = 0; j < nc; j++) x->run.pct.change[j] = xp_rand(&rng) % k;
    } else {
      x->run.policy = XP_POL_RANDOM;
    }
    if (!run_and_record(x)) return false;
  }
  return !(o->interrupt && *o->interrupt);
}

static void minimise_failures(xp_ctx_t *x) {
  if (x->o->no_minimise) return;
  for (size_t i = 0; i < x->r->noutcomes; i++) {
    xp_outcome_t *oc = &x->r->outcomes[i];
    if (!oc->failing) continue;
    if (x->o->interrupt && *x->o->interrupt) return;
    xp_minimise(x->sc, xp_hash_str(0, oc->text), !x->o->no_verify, &oc->rep, &oc->rep_steps, x->stacks);
    oc->minimised = true;
  }
}

int xp_explore(const scn_t *sc, const xp_opts_t *o, xp_report_t *r, scn_error_t *err) {
  memset(r, 0, sizeof *r);
  scn_error_t dummy;
  if (!err) err = &dummy;
  xp_ctx_t x = {.sc = sc, .o = o, .r = r, .err = err, .hash = scn_hash(sc), .seed = scn_seed(sc)};
  x.t0 = now_s();
  x.stacks = sim_stack_cache_new();
  x.table = xp_table_new();
  xp_run_init(&x.run);
  x.run.garble = true;
  x.run.interrupt = o->interrupt;
  r->strategy = o->strategy;
  r->bound = o->strategy == XP_DFS ? o->bound : XP_BOUND_NONE;
  r->shard = o->nshards ? o->shard : 0;
  r->nshards = o->nshards;
  r->pruning = o->strategy == XP_DFS && !o->no_prune;
  if (r->pruning) x.cache = xp_cache_new((size_t)1 << 20);
  bool done;
  if (o->strategy == XP_DFS) done = o->nshards > 1 ? dfs_sharded(&x) : dfs(&x, NULL, 0, 0);
  else done = random_runs(&x, o->strategy == XP_PCT);
  r->complete = done && x.rc == SIM_OK && !r->stopped_by;
  xp_table_export(x.table, r);
  r->finding_names = x.findings;
  r->finding_rules = x.nfindings;
  for (int i = 0; i < r->nexpects; i++)
    if (r->expects[i].sometimes && r->expects[i].held == 0) r->sometimes_never++;
  if (x.rc == SIM_OK) minimise_failures(&x);
  r->seconds = now_s() - x.t0;
  free(x.sig.text);
  xp_run_free(&x.run);
  xp_cache_free(x.cache);
  xp_table_free(x.table);
  sim_stack_cache_free(x.stacks);
  return x.rc;
}

void xp_report_free(xp_report_t *r) {
  for (size_t i = 0; i < r->noutcomes; i++) {
    free(r->outcomes[i].text);
    xp_schedule_free(&r->outcomes[i].rep);
  }
  free(r->outcomes);
  for (int i = 0; i < r->nexpects; i++) free(r->expects[i].text);
  free(r->expects);
  for (int i = 0; i < r->finding_rules; i++) free(r->finding_names[i]);
  free(r->finding_names);
  for (size_t i = 0; i < r->nfailures; i++) xp_schedule_free(&r->failures[i]);
  free(r->failures);
  memset(r, 0, sizeof *r);
}

/* A `sometimes` line that held nowhere fails only a search that covered
   all it set out to: a stopped one may not have got there yet. */
int xp_verdict(const xp_report_t *r) { return r->failing || (r->sometimes_never && r->complete) ? 1 : 0; }

int xp_exit_status(const xp_report_t *r) {
  if (xp_verdict(r)) return 1;
  if (r->stopped_by && !strcmp(r->stopped_by, "interrupted")) return 130;
  if (!r->complete) return XP_EXIT_INCOMPLETE;
  return 0;
}

/* ---- --estimate ---- */
int xp_estimate(const scn_t *sc, const xp_opts_t *o, uint64_t samples, xp_estimate_t *e, scn_error_t *err) {
  memset(e, 0, sizeof *e);
  scn_error_t dummy;
  if (!err) err = &dummy;
  sim_stack_cache_t *stacks = sim_stack_cache_new();
  xp_run_t run;
  xp_run_init(&run);
  run.garble = true;
  run.policy = XP_POL_PROBE;
  run.bound = o->strategy == XP_DFS ? o->bound : XP_BOUND_NONE;
  xp_rng_t rng = {o->seed ? o->seed : scn_seed(sc) ^ 0x5eed};
  double sum = 0, sum2 = 0, t0 = now_s();
  int rc = SIM_OK;
  /* The default schedule's choice points set how often a probe preempts:
     about bound + 1/2 times over a run. */
  run.policy = XP_POL_DEFAULT;
  scn_result_t first;
  rc = xp_run_once(sc, &run, stacks, true, &first, NULL, NULL, err);
  if (rc == SIM_OK) scn_result_free(&first);
  double points = run.n ? (double)run.n : 1.0;
  run.probe_q = run.bound < 0 ? 0 : (run.bound + 0.5) / points > 0.5 ? 0.5 : (run.bound + 0.5) / points;
  run.policy = XP_POL_PROBE;
  for (uint64_t i = 0; i < samples && rc == SIM_OK; i++) {
    run.rng.s = xp_rand(&rng);
    scn_result_t res;
    rc = xp_run_once(sc, &run, stacks, true, &res, NULL, NULL, err);
    if (rc != SIM_OK) break;
    scn_result_free(&res);
    sum += run.probe_weight;
    sum2 += run.probe_weight * run.probe_weight;
    e->samples++;
  }
  double dt = now_s() - t0;
  if (e->samples) {
    double m = sum / (double)e->samples;
    double var = sum2 / (double)e->samples - m * m;
    e->schedules = m;
    e->plus_minus = e->samples > 1 && var > 0 ? sqrt(var / (double)(e->samples - 1)) : 0;
    e->seconds = m * dt / (double)e->samples;
  }
  xp_run_free(&run);
  sim_stack_cache_free(stacks);
  return rc;
}
