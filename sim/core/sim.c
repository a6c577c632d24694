/*
 * sim.c - running the machine: sim_run, the cost table, the names of
 * outcomes and errors.  Creation and teardown are ex/machine.c's.
 */
#include "core/core.h"

#include <time.h>

#include <stdio.h>

static const char *const cost_names[] = {
#define SIM_X(e, n, v) n,
    SIM_COST_MAP(SIM_X)
#undef SIM_X
};
const uint32_t sim_cost_defaults[COST_COUNT] = {
#define SIM_X(e, n, v) v,
    SIM_COST_MAP(SIM_X)
#undef SIM_X
};

const char *sim_strerror(int err) {
  switch (err) {
#define SIM_X(e, v, s) case e: return s;
    SIM_ERRNO_MAP(SIM_X)
#undef SIM_X
  default: return "unknown error";
  }
}

const char *sim_outcome_name(sim_outcome_t o) {
  static const char *n[] = {"ok", "stalled", "bugcheck", "limit reached", "stopped"};
  return (unsigned)o < ARRAY_LEN(n) ? n[o] : "?";
}

int sim_cost_set(sim_t *S, const char *name, uint32_t ns) {
  for (int i = 0; i < COST_COUNT; i++)
    if (strcmp(cost_names[i], name) == 0) {
      S->cost[i] = ns;
      return SIM_OK;
    }
  return SIM_ENOENT;
}

uint32_t sim_cost_get(const sim_t *S, sim_cost_t c) { return S->cost[c]; }
const char *sim_cost_name(sim_cost_t c) { return (unsigned)c < COST_COUNT ? cost_names[c] : "?"; }

/* The scheduler, entered on the host's stack; it comes back here through
   sched_stop (a switch from a coroutine, or a jump when it never left this
   stack).  Nothing here is live across the setjmp. */
static __attribute__((noinline)) void run_scheduler(sim_t *S) {
  if (setjmp(S->stop_jmp)) return;
  sched_next(S);
}

sim_outcome_t sim_run(sim_t *S) {
  if (S->started) return S->outcome;
  S->started = true;
  ctx_init_main(&S->main_ctx);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_RUN_START, NULL, NULL);
    e.count = S->ncpu;
    trc_send(S, &e, "%d CPU%s, seed %llu", S->ncpu, S->ncpu == 1 ? "" : "s", (unsigned long long)S->cfg.seed);
  }
  /* Every CPU starts in its idle loop at time 0; the idle loops pick up
     the ready threads. */
  for (int i = 0; i < S->ncpu; i++) {
    S->cpu[i].step_live = true;
    S->cpu[i].step_end = 0;
  }
  if (S->cfg.max_wall_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    S->wall_deadline_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + S->cfg.max_wall_ms * 1000000ull;
  }
  S->cur_ctx = &S->main_ctx;
  run_scheduler(S);
  if (S->out_of_memory) mem_oom_exit(); /* the message is out; docs/reliability.md */
  S->cur_cpu = NULL;
  S->stats.steps = S->steps;
  /* After a bugcheck what was in flight was cut off, not lost, and a run
     stopped from outside ends where it was asked to: no account. */
  bool ended = S->outcome == SIM_RUN_OK || S->outcome == SIM_RUN_STALLED || S->outcome == SIM_RUN_LIMIT;
  if (ended && S->hooks.run_end_account && trc_on(S)) S->hooks.run_end_account(S);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_RUN_END, NULL, NULL);
    e.outcome = (trc_outcome_t)S->outcome;
    trc_send(S, &e, "%s after %llu ns", sim_outcome_name(S->outcome), (unsigned long long)S->now);
  }
  return S->outcome;
}

void sim_request_stop(sim_t *S) { S->stop_requested = true; }

const char *sim_limit_reached(const sim_t *S) { return S->outcome == SIM_RUN_LIMIT ? S->limit : NULL; }

uint64_t sim_now(const sim_t *S) { return S->now; }
uint64_t sim_steps(const sim_t *S) { return S->steps; }
uint64_t sim_progress(const sim_t *S) { return S->steps + S->trace_seq; }
sim_stats_t sim_stats(const sim_t *S) {
  sim_stats_t s = S->stats;
  s.steps = S->steps;
  return s;
}
