/*
 * sched.c - the discrete-event scheduler.  Every CPU advances by steps; a
 * step is the code between two kernel calls, executed at one instant, and
 * its cost moves that CPU's clock.  The scheduler always resumes whatever is
 * due first (CPU step, device interrupt, wait timeout), so the CPUs
 * interleave at every kernel call.  It runs on the stack of whichever
 * coroutine yielded: no trip through a central loop, and no switch at all
 * when the next step belongs to the coroutine already running.
 */
#include "sim_int.h"

static void cpu_schedule(sim_t *S, cpu_t *c, uint64_t t) {
  c->step_gen++;
  c->step_live = true;
  c->step_end = t;
  evq_push(S, (evq_item_t){.t = t, .kind = EV_CPU_STEP, .gen = c->step_gen, .obj = c});
}

void cpu_poke(sim_t *S, cpu_t *c) {
  /* The CPU whose code runs now services its queues at its next step; but
     one parked in its idle loop has no step queued and must get one. */
  if (c == S->cur_cpu && !c->idle) return;
  if (c->step_live && c->step_end <= S->now) return;
  cpu_schedule(S, c, S->now);
}

void sched_stop(sim_t *S) {
  S->stopping = true;
  ctx_t *from = S->cur_ctx;
  S->cur_ctx = &S->main_ctx;
  ctx_switch(from, &S->main_ctx);
  abort(); /* a stopped machine is never resumed */
}

/* Among CPU steps due at the same instant, the chooser decides who goes
   first.  Returns false when the queue is empty. */
static bool sched_pop(sim_t *S, evq_item_t *out) {
  if (!evq_pop(&S->evq, out)) return false;
  if (out->kind != EV_CPU_STEP || S->ncpu == 1) return true;
  evq_item_t tied[SIM_MAX_CPUS * 2];
  uint32_t n = 0;
  tied[n++] = *out;
  const evq_item_t *p;
  while (n < ARRAY_LEN(tied) && (p = evq_peek(&S->evq)) && p->t == out->t &&
         p->kind == EV_CPU_STEP) {
    evq_pop(&S->evq, &tied[n]);
    cpu_t *c = tied[n].obj;
    if (tied[n].gen == c->step_gen) n++; /* drop stale ones now */
  }
  if (n == 1) return true;
  uint32_t k = chs_choose(S, n);
  *out = tied[k];
  for (uint32_t i = 0; i < n; i++)
    if (i != k) evq_push(S, tied[i]);
  return true;
}

static void sched_finish(sim_t *S) {
  S->outcome = S->nthreads_live ? SIM_RUN_STALLED : SIM_RUN_OK;
  sched_stop(S);
}

void sched_next(sim_t *S) {
  for (;;) {
    evq_item_t it;
    if (!sched_pop(S, &it)) sched_finish(S);
    if (it.t > S->now) S->now = it.t;
    if (S->now > S->cfg.max_time_ns || S->steps > S->cfg.max_steps) {
      S->outcome = SIM_RUN_LIMIT;
      sched_stop(S);
    }
    switch ((ev_kind_t)it.kind) {
    case EV_INTERRUPT:
      hw_interrupt(S, it.obj);
      break;
    case EV_TIMER:
      thr_timeout(S, it.obj, it.gen);
      break;
    case EV_CPU_STEP: {
      cpu_t *c = it.obj;
      if (it.gen != c->step_gen) break;
      c->step_live = false;
      S->cur_cpu = c;
      if (c->ctx == S->cur_ctx) return;
      ctx_t *from = S->cur_ctx;
      S->cur_ctx = c->ctx;
      S->stats.ctx_switches++;
      ctx_switch(from, c->ctx);
      return; /* whoever resumed us set cur_cpu and cur_ctx */
    }
    }
  }
}

static uint64_t step_cost(sim_t *S, uint64_t ns) {
  if (S->cfg.jitter_pct && ns) {
    uint64_t span = ns * S->cfg.jitter_pct / 100;
    if (span) ns += chs_next(&S->chs) % (span + 1);
  }
  return ns;
}

void sim_step_ns(sim_t *S, uint64_t ns) {
  cpu_t *c = S->cur_cpu;
  uint64_t remaining = step_cost(S, ns);
  S->steps++;
  for (;;) {
    uint64_t start = S->now, end = start + remaining;
    cpu_schedule(S, c, end);
    sched_next(S);
    /* A step never blocks, so this coroutine is still bound to c.  Woken
       early (an interrupt, a DPC, an APC for us): serve it, then burn what
       is left of the step. */
    remaining = S->now < end ? end - S->now : 0;
    c->busy_ns += S->now - start;
    cpu_service(S, c);
    if (remaining == 0) break;
  }
}

void sim_step(sim_t *S, sim_cost_t cost) { sim_step_ns(S, S->cost[cost]); }

void sim_delay(uint64_t ns) {
  sim_t *S = sim_cur();
  TRC(S, TRC_OP, NULL, NULL, false, 0, "delay %llu ns", (unsigned long long)ns);
  sim_step_ns(S, ns);
}
