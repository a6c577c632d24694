/*
 * explore_int.h - what the files of the explorer share: one run of a
 * schedule (the chooser that replays a prefix and then follows a policy,
 * recording every choice point), the state fingerprint and its cache, the
 * outcome table.  Only sim/explore/ includes it.
 */
#ifndef IOSIM_EXPLORE_INT_H
#define IOSIM_EXPLORE_INT_H

#include <stdlib.h>
#include <string.h>

#include "iosim/explore.h"

/* ---- small helpers ---- */
static inline uint64_t xp_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
static inline uint64_t xp_hash2(uint64_t h, uint64_t v) { return xp_mix(h ^ xp_mix(v + 0x9E3779B97F4A7C15ull)); }
uint64_t xp_hash_str(uint64_t h, const char *s);
/* xoshiro-style generator for the random strategies (not the machine's). */
typedef struct xp_rng {
  uint64_t s;
} xp_rng_t;
static inline uint64_t xp_rand(xp_rng_t *r) { return xp_mix(r->s += 0x9E3779B97F4A7C15ull); }
static inline uint32_t xp_below(xp_rng_t *r, uint32_t n) { return (uint32_t)(xp_rand(r) % n); }
void *xp_xalloc(size_t n);                 /* zeroed; never NULL (iosim_oom exits) */
void *xp_xrealloc(void *p, size_t n);      /* never NULL (iosim_oom exits) */

/* ---- the state fingerprint (footprint.c) ----
 * Every step feeds the history of each object it touches (its CPU, thread,
 * IRP, device, port, file, dispatcher object, and the machine-wide
 * structures its kind uses); the fingerprint combines the objects'
 * histories, so two runs that did the same steps to every object, in the
 * same order per object and at the same times, have the same fingerprint
 * whatever the order of independent steps between objects. */
typedef struct xp_fp_obj {
  uint64_t key, h;
} xp_fp_obj_t;
typedef struct xp_fp {
  xp_fp_obj_t *v;   /* open addressing, key 0 = empty */
  size_t cap, n;
  uint64_t value;   /* XOR over objects of their hash */
  uint64_t epoch;   /* steps that touch everything so far */
  xp_fp_obj_t *undo; /* (key, hash before) per touch; key 0: the epoch before */
  size_t nundo, undo_cap;
} xp_fp_t;
void xp_fp_reset(xp_fp_t *f);
void xp_fp_free(xp_fp_t *f);
/* Depth-first search replays a prefix the last run already fingerprinted:
   the fingerprint goes back to where it was at that choice point (undoing
   what came after) instead of hashing the prefix's steps again. */
static inline size_t xp_fp_mark(const xp_fp_t *f) { return f->nundo; }
void xp_fp_rollback(xp_fp_t *f, size_t mark);
void xp_fp_event(xp_fp_t *f, const trc_event_t *ev);
/* A scheduling decision: what ran (a CPU, an event) at which time. */
void xp_fp_decision(xp_fp_t *f, const sim_choice_t *c, uint32_t idx);

/* States already explored, with the most preemptions left when they were:
   a fixed-size table (memory does not grow with the run); an entry pushed
   out only means less pruning. */
typedef struct xp_cache xp_cache_t;
xp_cache_t *xp_cache_new(size_t entries);
void xp_cache_free(xp_cache_t *c);
/* True when `state` was explored with at least `budget` preemptions left;
   otherwise records it with `budget` and returns false. */
bool xp_cache_visit(xp_cache_t *c, uint64_t state, int budget);

/* ---- one run of a schedule (run.c) ---- */
typedef enum {
  XP_POL_DEFAULT, /* option 0 after the prefix */
  XP_POL_RANDOM,  /* uniform */
  XP_POL_PCT,     /* priorities with change points */
  XP_POL_PROBE    /* uniform among the options the bound still allows (--estimate) */
} xp_policy_t;

typedef struct xp_point {
  uint32_t opt, n;
} xp_point_t;

#define XP_PCT_MAX_AGENTS 64
typedef struct xp_pct {
  int depth;
  uint64_t change[16];     /* the NEXT-point indices where a priority drops */
  int nchange;
  uint64_t agent[XP_PCT_MAX_AGENTS];
  uint64_t prio[XP_PCT_MAX_AGENTS];
  int nagents;
  uint64_t next_points;    /* NEXT points seen in this run */
} xp_pct_t;

typedef struct xp_sig xp_sig_t;
typedef struct xp_run {
  /* in */
  const uint32_t *prefix;  /* options at choice points 0..nprefix-1 */
  size_t nprefix;
  const xp_schedule_t *sparse; /* or a sparse schedule to replay */
  xp_policy_t policy;
  int bound;               /* for XP_POL_PROBE and the cache's budgets */
  xp_rng_t rng;
  xp_pct_t pct;
  size_t stop_at;          /* end the run at this many choice points (0: never) */
  xp_cache_t *cache;       /* prune at states already explored (NULL: never) */
  bool garble;             /* no detail text (nothing reads it) */
  /* out */
  xp_point_t *log;
  size_t n, cap;
  unsigned cost;           /* preemptions so far */
  bool cut;                /* stopped at a state already explored */
  bool depth_stop;         /* stopped at stop_at */
  bool diverged;           /* the schedule did not fit the run */
  double probe_weight;     /* XP_POL_PROBE: 1 / the probability of the path */
  double probe_q;          /* XP_POL_PROBE: probability of a preemption (0: uniform) */
  uint64_t next_points;
  xp_fp_t fp;
  /* the outcome's extras, from the trace */
  char packets[256];       /* who dequeued which packet */
  size_t npackets;
  sim_t *S;
  const volatile sig_atomic_t *interrupt;
  bool verify;             /* unpredicted findings fail the run */
  bool finished;           /* on_finish ran: sig and steps are set */
  size_t *marks;           /* fingerprint mark at each choice point (log size) */
  size_t marks_cap, nmarks;
  bool fp_valid;           /* fp and marks are the last run's, rolled back to reuse */
  bool fp_skip;            /* replaying a prefix whose steps are in fp already */
  struct xp_sig *sig;      /* filled by on_finish when not NULL */
  uint64_t steps;
} xp_run_t;

void xp_run_init(xp_run_t *r);
void xp_run_free(xp_run_t *r);
/* Before a run: clears the outputs. */
void xp_run_reset(xp_run_t *r);
/* An on_start hook for scn_run: installs the chooser and the sinks. */
void xp_run_on_start(void *ud, sim_t *S);
/* The option order at a choice point: idx[i] is the candidate (or CPU)
   that option i stands for; option 0 is the default.  Returns the number
   of options (a timeout that is not due first is none). */
uint32_t xp_order(const sim_choice_t *c, uint32_t *idx);
/* The run's log as a sparse schedule. */
void xp_run_to_schedule(const xp_run_t *r, uint64_t hash, uint64_t seed, xp_schedule_t *out);

/* ---- outcomes (outcome.c) ---- */
/* What happened in a finished run, as text (statuses, bugcheck, findings,
   packets, failed lines, stalled threads), and whether it fails. */
struct xp_sig {
  char *text;
  uint64_t hash;
  bool failing, expect_failed, finding;
};
void xp_signature(sim_t *S, const scn_result_t *res, const xp_run_t *run, bool verify, xp_sig_t *out);

typedef struct xp_table xp_table_t;
xp_table_t *xp_table_new(void);
void xp_table_free(xp_table_t *t);
/* Counts a schedule under its outcome; keeps the better representative. */
void xp_table_add(xp_table_t *t, const xp_sig_t *sig, const xp_run_t *run, uint64_t steps, uint64_t hash,
                  uint64_t seed);
/* Moves the table into the report (before xp_table_free). */
void xp_table_export(xp_table_t *t, xp_report_t *r);
int xp_table_find(const xp_table_t *t, uint64_t sig_hash);

/* ---- minimising (minimise.c) ---- */
/* Tries to take preemptions out of s (then steps) keeping the outcome
   `sig_hash`; updates s and *steps when it finds smaller. */
void xp_minimise(const scn_t *sc, uint64_t sig_hash, bool verify, xp_schedule_t *s, uint64_t *steps,
                 sim_stack_cache_t *stacks);

/* Runs one schedule (prefix or sparse in r) and returns its signature when
   it ran to the end (not cut, not stopped).  rc as scn_run. */
int xp_run_once(const scn_t *sc, xp_run_t *r, sim_stack_cache_t *stacks, bool verify, scn_result_t *res,
                xp_sig_t *sig, uint64_t *steps, scn_error_t *err);

#endif
