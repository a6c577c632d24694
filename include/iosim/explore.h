/*
 * explore.h - systematic exploration of a scenario's interleavings: every
 * schedule up to a preemption bound (depth first, as CHESS does), random
 * and PCT schedules, replay tokens, minimised failures, the diff of two
 * schedules.  docs/exploration.md defines the model: what a choice point
 * is, what counts as a preemption, what is pruned and why that is sound,
 * and the token format.  Built on sim_set_chooser (sim.h) and the scenario
 * runner (scenario.h); the engine knows nothing of it.
 */
#ifndef IOSIM_EXPLORE_H
#define IOSIM_EXPLORE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "iosim/scenario.h"

/* ---- Schedules and replay tokens ----
 * A schedule is the list of options taken at the run's choice points; it
 * is kept sparse: only the choice points where it did not take option 0
 * (the default), as (index, option) pairs.  Past the last pair every
 * choice is 0, so a long schedule (a stall, a run to the step limit) has a
 * short token.  `hash` is scn_hash() of the scenario it belongs to. */
typedef struct xp_schedule {
  uint64_t hash, seed;
  uint32_t *at, *opt; /* n pairs, `at` increasing */
  size_t n, cap;
} xp_schedule_t;
void xp_schedule_free(xp_schedule_t *s);
/* Adds the pair (at, opt); `at` must grow from pair to pair. */
int xp_schedule_push(xp_schedule_t *s, uint32_t at, uint32_t opt);
int xp_schedule_copy(xp_schedule_t *dst, const xp_schedule_t *src);
/* The number of preemptions: choices other than the default. */
static inline unsigned xp_schedule_preemptions(const xp_schedule_t *s) { return (unsigned)s->n; }

/* "1:<hash>:<seed>:<choices>", e.g. 1:9f3c2a0b7d1e4c55:1:29.1,57.2 (docs/
   exploration.md); malloc'd. */
char *xp_token(const xp_schedule_t *s);
/* Parses a token (surrounding blanks allowed).  0, or -1 with a message. */
int xp_token_parse(const char *text, xp_schedule_t *out, char *err, size_t errlen);
/* Whether the token belongs to this scenario's text: 0, or -1 with a
   message saying why not (an edited file, another scenario). */
int xp_token_check(const scn_t *sc, const xp_schedule_t *s, char *err, size_t errlen);
/* Reads a token from a file (--replay-file): its first non-blank line. */
int xp_token_read_file(const char *path, xp_schedule_t *out, char *err, size_t errlen);

/* Replaying a schedule in an ordinary run: call xp_replay_install from
   scn_run_opts_t.on_start (it installs the chooser and turns jitter off). */
typedef struct xp_replay xp_replay_t;
xp_replay_t *xp_replay_new(const xp_schedule_t *s);
void xp_replay_install(xp_replay_t *rp, sim_t *S);
/* After the run: whether the schedule did not fit the run (an option
   beyond a choice point's alternatives, or pairs past its end). */
bool xp_replay_diverged(const xp_replay_t *rp, char *why, size_t n);
/* The choice points the run went through. */
uint64_t xp_replay_points(const xp_replay_t *rp);
void xp_replay_free(xp_replay_t *rp);

/* ---- Exploring ---- */
typedef enum { XP_DFS, XP_RANDOM, XP_PCT } xp_strategy_t;
#define XP_BOUND_NONE (-1)

typedef struct xp_opts {
  xp_strategy_t strategy;
  int bound;              /* DFS: at most this many preemptions; XP_BOUND_NONE: all */
  bool no_prune;          /* DFS: do not skip states already explored */
  uint64_t runs;          /* random and PCT: how many schedules */
  int depth;              /* PCT: the bug depth d (d - 1 priority change points) */
  uint64_t seed;          /* random and PCT: drives the strategy */
  uint64_t max_schedules; /* stop after this many (0: no limit) */
  double time_limit;      /* seconds (0: no limit) */
  int shard, nshards;     /* explore only part shard (1..nshards) of the space; 0 = all */
  bool no_verify;         /* findings no `expect finding` predicts do not fail a schedule */
  bool no_minimise;       /* keep each failure's first schedule as found */
  uint64_t keep_failures; /* keep the schedules of up to this many failing runs (for --db-failures) */
  const volatile sig_atomic_t *interrupt; /* Ctrl-C: stop and report what was covered */
} xp_opts_t;
/* DFS, bound 2, pruning, PCT depth 3, 1000 runs: what `iosim explore` does
   without options. */
void xp_opts_default(xp_opts_t *o);

/* One distinct outcome: what happened, how often, and a representative
   schedule (fewest preemptions, then fewest steps; for a failure, the
   smallest schedule found that still fails the same way). */
typedef struct xp_outcome {
  char *text;           /* "bugcheck 0xC9 (0x7); r1 = STATUS_SUCCESS ..." */
  uint64_t count;       /* explored schedules that ended this way */
  bool failing;         /* a plain expectation failed, or an unpredicted finding */
  xp_schedule_t rep;
  uint64_t rep_steps;
  bool minimised;       /* rep came out of the minimiser */
} xp_outcome_t;

/* One expect line over every explored schedule. */
typedef struct xp_expect {
  int line;
  char *text;
  bool sometimes;
  uint64_t held, failed; /* schedules where it held / did not */
  int first_failure;     /* outcome index of a schedule where it did not, -1 */
} xp_expect_t;

typedef struct xp_report {
  xp_strategy_t strategy;
  int bound;
  bool pruning;
  uint64_t explored;     /* complete schedules run and checked */
  uint64_t beyond_bound; /* alternatives not taken: they need more preemptions */
  uint64_t pruned;       /* runs cut at a state already explored (with as many preemptions left) */
  uint64_t failing;      /* schedules where a plain expectation failed or an unpredicted finding */
  uint64_t expect_failing; /* schedules where a plain expectation failed */
  uint64_t finding_schedules; /* schedules with an unpredicted finding */
  int finding_rules;     /* distinct unpredicted rules */
  uint64_t stalls;       /* schedules that ended stalled */
  uint64_t choice_points; /* summed over explored schedules */
  bool complete;         /* the strategy covered all it set out to (DFS: every schedule within the bound) */
  const char *stopped_by; /* NULL, "max-schedules", "time-limit", "interrupted" */
  double seconds;
  int shard, nshards;
  int pct_depth;
  uint64_t pct_n, pct_k; /* PCT: agents and steps of the scenario */
  xp_outcome_t *outcomes;
  size_t noutcomes;
  uint64_t other_outcomes; /* schedules whose outcome did not fit the table */
  xp_expect_t *expects;
  int nexpects;
  int sometimes_never;   /* `sometimes` lines that held in no explored schedule */
  char **finding_names;  /* the distinct unpredicted rules */
  xp_schedule_t *failures; /* each failing schedule explored, in order (up to keep_failures) */
  size_t nfailures;
  uint64_t failures_not_kept; /* failing schedules beyond keep_failures */
} xp_report_t;

/* Explores.  SIM_OK (the report says what was covered and found), or a
   SIM_E* code with *err filled when the scenario cannot be built. */
int xp_explore(const scn_t *sc, const xp_opts_t *o, xp_report_t *r, scn_error_t *err);
void xp_report_free(xp_report_t *r);
/* 0: every expectation holds over what was explored; 1: one does not
   (a plain line failed somewhere, an unpredicted finding, or - when the
   search covered all it set out to - a `sometimes` line held nowhere). */
int xp_verdict(const xp_report_t *r);
/* The exit status of `iosim explore`: 1 on a failure, else XP_EXIT_INCOMPLETE
   when a limit stopped the search, 130 when interrupted, else 0. */
#define XP_EXIT_INCOMPLETE 4
int xp_exit_status(const xp_report_t *r);

/* The summary line: "schedules: 1,234 explored (56 beyond the bound, 890
   pruned as equivalent), outcomes: 3 distinct, expectations: 2 failed in
   17 schedules, findings: 1 rule in 4 schedules, stalls: 0, time 0.21 s
   (5,870 schedules/s)". */
void xp_print_summary(FILE *f, const xp_report_t *r);
/* What the search covered, in words that never overstate it. */
void xp_print_coverage(FILE *f, const xp_report_t *r);
/* The distinct outcomes with counts and representative tokens. */
void xp_print_outcomes(FILE *f, const scn_t *sc, const xp_report_t *r);
/* Every expect line: PASS / FAIL over the schedules (as `iosim check`). */
void xp_print_expectations(FILE *f, const scn_t *sc, const xp_report_t *r, bool verbose);

/* --estimate: samples random paths of the bounded tree (Knuth's
   estimator) before a long run. */
typedef struct xp_estimate {
  double schedules, plus_minus; /* before pruning */
  double seconds;               /* at the rate the samples ran */
  uint64_t samples;
} xp_estimate_t;
int xp_estimate(const scn_t *sc, const xp_opts_t *o, uint64_t samples, xp_estimate_t *e, scn_error_t *err);
/* "estimate: about 1,234 schedules (plus or minus 56), about 0.3 seconds, ..." */
void xp_print_estimate(FILE *f, const xp_estimate_t *e);

/* ---- Runs of one schedule ---- */
/* Runs `s` with the trace printed to `out` (the console table) and the
   result in *res (free with scn_result_free).  rc as scn_run; *diverged
   set when the schedule did not fit. */
int xp_run_schedule(const scn_t *sc, const xp_schedule_t *s, FILE *out, scn_result_t *res, bool *diverged,
                    scn_error_t *err);

/* iosim diff: two schedules side by side - the first step where they
   diverge, then the steps after it that both took but on another CPU, at
   another IRQL, in another frame or thread, or with another status, and
   the steps only one of them took. */
int xp_diff(const scn_t *sc, const xp_schedule_t *a, const xp_schedule_t *b, FILE *out, scn_error_t *err);
/* The same for two runs of a trace database.  0, or -1 with a message. */
int xp_diff_db(const char *db, int64_t run_a, int64_t run_b, FILE *out, char *err, size_t errlen);

/* --db: records the representative of each failing outcome (and, with
   all_outcomes, of every outcome; with every_failure, each failing schedule
   the report kept) as a run of the trace database, with its token in the
   `schedule` table.  0, or -1 with a message. */
int xp_store(const scn_t *sc, const xp_report_t *r, const char *db, bool all_outcomes, bool every_failure,
             FILE *log, char *err, size_t errlen);
/* How many failing schedules --db-failures keeps at most. */
#define XP_KEEP_FAILURES_MAX 1000

#endif
