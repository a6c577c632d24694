/*
 * run.c - one run of a schedule: the chooser the explorer installs in the
 * machine (sim_set_chooser).  At every choice point it orders the
 * alternatives so that option 0 is the default - what the timed scheduler
 * would do - takes the option its prefix (or sparse schedule) says, and
 * past it follows a policy: the default, uniform random, PCT priorities,
 * or a random probe for --estimate.  It records each choice point's option
 * and number of alternatives (what depth-first search backtracks over),
 * counts preemptions, and can cut the run at a state already explored.
 */
#include "iosim/alloc.h"
#include "explore_int.h"

void *xp_xalloc(size_t n) { return iosim_calloc(1, n ? n : 1); }

void *xp_xrealloc(void *p, size_t n) { return iosim_realloc(p, n ? n : 1); }

uint64_t xp_hash_str(uint64_t h, const char *s) {
  uint64_t x = 0xcbf29ce484222325ull;
  for (; *s; s++) x = (x ^ (unsigned char)*s) * 0x100000001b3ull;
  return xp_hash2(h, x);
}

int xp_schedule_push(xp_schedule_t *s, uint32_t at, uint32_t opt) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->at = xp_xrealloc(s->at, s->cap * sizeof *s->at);
    s->opt = xp_xrealloc(s->opt, s->cap * sizeof *s->opt);
  }
  s->at[s->n] = at;
  s->opt[s->n++] = opt;
  return 0;
}

void xp_schedule_free(xp_schedule_t *s) {
  free(s->at);
  free(s->opt);
  memset(s, 0, sizeof *s);
}

int xp_schedule_copy(xp_schedule_t *dst, const xp_schedule_t *src) {
  xp_schedule_t c = {.hash = src->hash, .seed = src->seed};
  for (size_t i = 0; i < src->n; i++) xp_schedule_push(&c, src->at[i], src->opt[i]);
  xp_schedule_free(dst);
  *dst = c;
  return 0;
}

void xp_run_init(xp_run_t *r) { memset(r, 0, sizeof *r); }

void xp_run_free(xp_run_t *r) {
  free(r->log);
  free(r->marks);
  xp_fp_free(&r->fp);
  memset(r, 0, sizeof *r);
}

void xp_run_reset(xp_run_t *r) {
  r->n = 0;
  r->cost = 0;
  r->cut = r->depth_stop = r->diverged = r->finished = false;
  r->probe_weight = 1.0;
  r->next_points = 0;
  r->npackets = 0;
  r->packets[0] = 0;
  r->steps = 0;
  r->pct.next_points = 0;
  r->pct.nagents = 0;
  /* Depth-first search: the last run went through this prefix; its
     fingerprint, rolled back to the branch point, is this run's there. */
  if (r->fp_valid && r->cache && r->nprefix > 0 && r->nprefix - 1 < r->nmarks) {
    xp_fp_rollback(&r->fp, r->marks[r->nprefix - 1]);
    r->fp_skip = true;
  } else {
    xp_fp_reset(&r->fp);
    r->fp_skip = false;
  }
  r->fp_valid = false;
}

/* Option order at a NEXT point: by the time each candidate can happen
   (max(now, due): a late one is due now), then events before CPUs (the
   engine's own rule at a tie: devices and timers first), then events by
   due time and queue order, CPUs by number. */
static bool next_before(const sim_choice_t *c, uint32_t a, uint32_t b) {
  const sim_candidate_t *x = &c->cand[a], *y = &c->cand[b];
  uint64_t ex = x->due_ns > c->now ? x->due_ns : c->now, ey = y->due_ns > c->now ? y->due_ns : c->now;
  if (ex != ey) return ex < ey;
  bool cx = x->kind == SIM_CAND_CPU, cy = y->kind == SIM_CAND_CPU;
  if (cx != cy) return !cx;
  if (cx) return x->cpu < y->cpu;
  if (x->due_ns != y->due_ns) return x->due_ns < y->due_ns;
  return x->order < y->order;
}

uint32_t xp_order(const sim_choice_t *c, uint32_t *idx) {
  for (uint32_t i = 0; i < c->n; i++) idx[i] = i;
  if (c->kind != SIM_CHOICE_NEXT) return c->n; /* placements: CPUs by number, the lowest first */
  for (uint32_t i = 1; i < c->n; i++) {
    uint32_t v = idx[i], j = i;
    while (j > 0 && next_before(c, v, idx[j - 1])) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
  /* A wait's timeout never jumps the queue: it is an option only as the
     default (nothing due before it).  Later, it may always come. */
  uint32_t n = 1;
  for (uint32_t i = 1; i < c->n; i++)
    if (c->cand[idx[i]].kind != SIM_CAND_TIMER) idx[n++] = idx[i];
  return n;
}

/* PCT: a priority per agent - each CPU, each device's interrupts, each
   thread's timeouts - random and distinct at first (above the depth), and
   lowered to 1, 2, ... at the change points. */
static uint64_t agent_of(const sim_candidate_t *k) {
  return ((uint64_t)k->kind << 40) | (k->kind == SIM_CAND_CPU ? (uint32_t)k->cpu : k->id);
}

static uint64_t *pct_prio(xp_run_t *r, uint64_t agent) {
  xp_pct_t *p = &r->pct;
  for (int i = 0; i < p->nagents; i++)
    if (p->agent[i] == agent) return &p->prio[i];
  if (p->nagents == XP_PCT_MAX_AGENTS) return &p->prio[XP_PCT_MAX_AGENTS - 1];
  p->agent[p->nagents] = agent;
  p->prio[p->nagents] = (uint64_t)p->depth + 1 + (xp_rand(&r->rng) >> 8);
  return &p->prio[p->nagents++];
}

static uint32_t pct_best(xp_run_t *r, const sim_choice_t *c, const uint32_t *idx) {
  uint32_t best = 0;
  uint64_t bp = 0;
  for (uint32_t i = 0; i < c->n; i++) {
    uint64_t p = *pct_prio(r, agent_of(&c->cand[idx[i]]));
    if (i == 0 || p > bp) best = i, bp = p;
  }
  return best;
}

static uint32_t pct_pick(xp_run_t *r, const sim_choice_t *c, const uint32_t *idx) {
  uint32_t best = pct_best(r, c, idx);
  /* A change point: whoever would run now drops below everyone else. */
  for (int j = 0; j < r->pct.nchange; j++)
    if (r->pct.change[j] == r->pct.next_points) {
      *pct_prio(r, agent_of(&c->cand[idx[best]])) = (uint64_t)(j + 1);
      best = pct_best(r, c, idx);
    }
  return best;
}

/* The option the schedule (prefix or sparse) gives choice point i; false
   when it is past both. */
static bool scheduled(xp_run_t *r, size_t i, uint32_t *opt) {
  if (i < r->nprefix) {
    *opt = r->prefix[i];
    return true;
  }
  if (r->sparse) {
    const xp_schedule_t *s = r->sparse;
    *opt = 0;
    /* pairs are in order of `at`: a binary search keeps long ones fast */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (s->at[mid] < i) lo = mid + 1;
      else hi = mid;
    }
    if (lo < s->n && s->at[lo] == i) *opt = s->opt[lo];
    return true;
  }
  return false;
}

static uint32_t policy_pick(xp_run_t *r, const sim_choice_t *c, const uint32_t *idx) {
  switch (r->policy) {
  case XP_POL_RANDOM: return xp_below(&r->rng, c->n);
  case XP_POL_PCT: return c->kind == SIM_CHOICE_NEXT ? pct_pick(r, c, idx) : xp_below(&r->rng, c->n);
  case XP_POL_PROBE: {
    /* Knuth's estimator with importance sampling: the weight is 1 over the
       probability of the path taken.  Under a bound a preemption is taken
       with probability probe_q, so that paths spend about the budget over
       the run instead of at its first choice points. */
    if (r->bound >= 0 && (int)r->cost >= r->bound) return 0;
    if (r->probe_q <= 0) {
      r->probe_weight *= c->n;
      return xp_below(&r->rng, c->n);
    }
    double u = (double)(xp_rand(&r->rng) >> 11) / 9007199254740992.0;
    if (u >= r->probe_q) {
      r->probe_weight /= 1.0 - r->probe_q;
      return 0;
    }
    r->probe_weight *= (double)(c->n - 1) / r->probe_q;
    return 1 + xp_below(&r->rng, c->n - 1);
  }
  case XP_POL_DEFAULT: break;
  }
  return 0;
}

static uint32_t xp_choose(void *ud, const sim_choice_t *c) {
  xp_run_t *r = ud;
  size_t i = r->n;
  if (r->interrupt && *r->interrupt) return SIM_CHOICE_STOP;
  uint32_t idx[SIM_MAX_CPUS + 64], *order = idx;
  uint32_t *big = NULL;
  if (c->n > sizeof idx / sizeof idx[0]) order = big = xp_xalloc(c->n * sizeof *big);
  uint32_t nopt = xp_order(c, order);
  if (nopt == 1) { /* no alternative: not a choice point */
    uint32_t pick = order[0];
    free(big);
    if (r->cache && !r->fp_skip) xp_fp_decision(&r->fp, c, pick);
    return pick;
  }
  /* Choice point i. */
  if (r->stop_at && i >= r->stop_at) {
    free(big);
    r->depth_stop = true;
    return SIM_CHOICE_STOP;
  }
  if (r->cache) {
    if (r->fp_skip && i + 1 == r->nprefix) r->fp_skip = false; /* the branch point: hashing resumes */
    if (!r->fp_skip) {
      if (i >= r->marks_cap) {
        r->marks_cap = r->marks_cap ? r->marks_cap * 2 : 256;
        r->marks = xp_xrealloc(r->marks, r->marks_cap * sizeof *r->marks);
      }
      r->marks[i] = xp_fp_mark(&r->fp);
    }
    /* A state explored before with at least as many preemptions left: all
       that can follow was explored from there. */
    int budget = r->bound < 0 ? 1 << 30 : r->bound - (int)r->cost;
    if (i >= r->nprefix && xp_cache_visit(r->cache, r->fp.value, budget)) {
      free(big);
      r->cut = true;
      return SIM_CHOICE_STOP;
    }
  }
  sim_choice_t q = *c;
  q.n = nopt;
  c = &q;
  uint32_t opt;
  if (!scheduled(r, i, &opt)) opt = policy_pick(r, c, order);
  if (opt >= c->n) {
    r->diverged = true;
    opt = c->n - 1;
  }
  if (c->kind == SIM_CHOICE_NEXT) r->next_points++, r->pct.next_points++;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 256;
    r->log = xp_xrealloc(r->log, r->cap * sizeof *r->log);
  }
  r->log[r->n++] = (xp_point_t){opt, c->n};
  r->cost += opt != 0;
  uint32_t pick = order[opt];
  free(big);
  if (r->cache && !r->fp_skip) xp_fp_decision(&r->fp, c, pick);
  return pick;
}

/* The run's own sink: the fingerprint, and who dequeued which packet. */
static void xp_sink_event(void *ud, const trc_event_t *ev) {
  xp_run_t *r = ud;
  if (r->cache && !r->fp_skip) xp_fp_event(&r->fp, ev);
  if (ev->kind == TRC_PORT_DEQUEUED && r->npackets < sizeof r->packets - 48) {
    const char *tag = NULL;
    const sim_irp_info_t *in = ev->irp ? sim_irp_info(r->S, ev->irp) : NULL;
    if (in) tag = in->tag;
    int w = snprintf(r->packets + r->npackets, sizeof r->packets - r->npackets, "%s%s<-%s",
                     r->npackets ? " " : "", sim_thread_name(r->S, ev->thread), tag ? tag : ev->irp ? "irp" : "packet");
    if (w > 0) r->npackets += (size_t)w;
    if (r->npackets >= sizeof r->packets) r->npackets = sizeof r->packets - 1;
  }
}

void xp_run_on_start(void *ud, sim_t *S) {
  xp_run_t *r = ud;
  r->S = S;
  if (r->garble) sim_garble_details(S, true);
  trc_sink_t k = {.event = xp_sink_event, .ud = r};
  sim_add_sink(S, &k);
  sim_set_chooser(S, xp_choose, r);
}

void xp_run_to_schedule(const xp_run_t *r, uint64_t hash, uint64_t seed, xp_schedule_t *out) {
  xp_schedule_t s = {.hash = hash, .seed = seed};
  for (size_t i = 0; i < r->n; i++)
    if (r->log[i].opt) xp_schedule_push(&s, (uint32_t)i, r->log[i].opt);
  xp_schedule_free(out);
  *out = s;
}

static void xp_run_on_finish(void *ud, sim_t *S, const scn_result_t *res) {
  xp_run_t *r = ud;
  r->steps = sim_steps(S);
  r->finished = true;
  if (r->sig && !r->cut && !r->depth_stop) xp_signature(S, res, r, r->verify, r->sig);
}

int xp_run_once(const scn_t *sc, xp_run_t *r, sim_stack_cache_t *stacks, bool verify, scn_result_t *res,
                xp_sig_t *sig, uint64_t *steps, scn_error_t *err) {
  xp_run_reset(r);
  r->verify = verify;
  r->sig = sig;
  scn_run_opts_t o = {.on_start = xp_run_on_start, .on_finish = xp_run_on_finish, .ud = r, .stacks = stacks};
  int rc = scn_run(sc, &o, res, err);
  r->sig = NULL;
  /* The fingerprint and its marks can seed the next run of a search that
     branches off this one (the search says so through fp_valid). */
  r->nmarks = r->n;
  r->fp_valid = rc == SIM_OK && r->cache && !r->fp_skip;
  if (rc != SIM_OK) return rc;
  /* A sparse schedule with choices past the run's last choice point does
     not belong to this run. */
  if (r->sparse && r->sparse->n && r->sparse->at[r->sparse->n - 1] >= r->n && !r->cut && !r->depth_stop)
    r->diverged = true;
  if (steps) *steps = r->steps;
  return SIM_OK;
}
