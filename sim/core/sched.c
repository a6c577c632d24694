/*
 * sched.c - the discrete-event scheduler.  Every CPU advances by steps; a
 * step is the code between two kernel calls, executed at one instant, and
 * its cost moves that CPU's clock.  The scheduler always resumes whatever is
 * due first (CPU step, device interrupt, wait timeout), so the CPUs
 * interleave at every kernel call.  It runs on the stack of whichever
 * coroutine yielded: no trip through a central loop, and no switch at all
 * when the next step belongs to the coroutine already running.
 */
#include "core/core.h"

#include <time.h>
#include "hal/hal.h"

/* A CPU's next step is not in the event queue: with at most SIM_MAX_CPUS
   processors a scan is cheaper than a heap, and moving a step earlier (a
   poke) leaves nothing stale behind.  The queue holds only device
   interrupts, wait timeouts and kernel timers. */
static void cpu_schedule(cpu_t *c, uint64_t t) {
  c->step_live = true;
  c->step_end = t;
}

void cpu_poke(sim_t *S, cpu_t *c) {
  /* The CPU whose code runs now services its queues at its next step; but
     one parked in its idle loop has no step queued and must get one. */
  if (c == S->cur_cpu && !c->idle) return;
  if (c->step_live && c->step_end <= S->now) return;
  cpu_schedule(c, S->now);
}

void cpu_interrupt_now(sim_t *S, cpu_t *c) {
  /* Inside the scheduler every CPU either has a step queued (possibly the
     one the scheduler was entered from) or is parked idle; either way the
     step moves to now. */
  if (!c->step_live || c->step_end > S->now) cpu_schedule(c, S->now);
}

void sched_stop(sim_t *S) {
  S->stopping = true;
  ctx_t *from = S->cur_ctx;
  if (from == &S->main_ctx) longjmp(S->stop_jmp, 1);
  S->cur_ctx = &S->main_ctx;
  ctx_switch(from, &S->main_ctx);
  abort(); /* a stopped machine is never resumed */
}

/* The CPUs due first (all those due at the same, earliest instant) and
   that instant; n = 0 when no CPU has a step queued.  Also the CPU whose
   clock tick is due first (NULL: none armed). */
typedef struct due {
  cpu_t *tied[SIM_MAX_CPUS];
  uint32_t n;
  uint64_t t;
  cpu_t *tick;
} due_t;

static void sched_due_cpus(sim_t *S, due_t *d) {
  d->n = 0;
  d->t = UINT64_MAX;
  d->tick = NULL;
  for (int i = 0; i < S->ncpu; i++) {
    cpu_t *c = &S->cpu[i];
    /* A tick armed for DPCs that have been drained since is dropped here,
       so it neither fires nor keeps a finished machine running. */
    if (c->tick_at != UINT64_MAX && !ke_dpcs_waiting(c)) c->tick_at = UINT64_MAX;
    if (c->tick_at != UINT64_MAX && (!d->tick || c->tick_at < d->tick->tick_at)) d->tick = c;
    if (!c->step_live || c->step_end > d->t) continue;
    if (c->step_end < d->t) {
      d->t = c->step_end;
      d->n = 0;
    }
    d->tied[d->n++] = c;
  }
}

static void sched_finish(sim_t *S) {
  /* At rest with no thread stuck: the drivers are unloaded first (their
     DriverUnload runs in a system thread), then the run ends. */
  if (S->nthreads_live <= S->nthreads_idle && S->hooks.run_idle && S->hooks.run_idle(S)) return;
  /* Idle system worker threads wait for work forever, as on Windows: they
     are the machine at rest, not a hang. */
  S->outcome = S->nthreads_live > S->nthreads_idle ? SIM_RUN_STALLED : SIM_RUN_OK;
  sched_stop(S);
}

/* A wait's timeout whose wait has ended (or a later wait of the thread
   began): firing it would do nothing. */
static bool evq_item_stale(const evq_item_t *it) {
  if (it->kind != EV_TIMER) return false;
  const KTHREAD *t = it->obj;
  return it->gen != t->wait_gen || t->state != THR_WAITING;
}

static int cmp_cand(const void *a, const void *b) {
  const sim_candidate_t *x = a, *y = b;
  if (x->due_ns != y->due_ns) return x->due_ns < y->due_ns ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* Runs CPU c's next step: switches to its context unless that is the one
   already running.  Back here when something switches to us again; whoever
   did set cur_cpu and cur_ctx. */
static void sched_resume(sim_t *S, cpu_t *c) {
  c->step_live = false;
  S->cur_cpu = c;
  if (c->ctx == S->cur_ctx) return;
  ctx_t *from = S->cur_ctx;
  S->cur_ctx = c->ctx;
  S->stats.ctx_switches++;
  ctx_switch(from, c->ctx);
}

/* sched_next with a chooser installed (sim_set_chooser): every CPU with a
   step queued and every pending event is a candidate, whatever its due
   time; the chooser picks one and it happens at max(now, due). */
/* Whether the run must stop at a limit (docs/reliability.md); names it in
   S->limit.  Past max-time the clock stops at the limit itself: a long
   delay ends the run at max-time, not where the delay would have ended. */
bool sched_over_limit(sim_t *S) {
  /* sim_run's first call runs on the host's stack: nothing to stop yet
     (sched_stop switches from a coroutine back to that stack). */
  if (S->cur_ctx == &S->main_ctx) return false;
  if (S->now > S->cfg.max_time_ns) {
    S->now = S->cfg.max_time_ns;
    S->limit = "max-time";
  } else if (S->steps > S->cfg.max_steps) {
    S->limit = "max-steps";
  } else if (S->stats.bytes_live + S->bytes_charged > S->cfg.max_memory) {
    S->limit = "max-memory";
  } else if (S->wall_deadline_ns && S->steps >= S->wall_next_check) {
    S->wall_next_check = S->steps + 1024; /* the clock is read every 1,024 steps */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec > S->wall_deadline_ns) S->limit = "max-wall";
  }
  return S->limit != NULL;
}

static void sched_next_chosen(sim_t *S) {
  chooser_t *ch = &S->chs;
  for (;;) {
    /* Stale timers would be candidates that do nothing: drop them. */
    for (size_t i = 0; i < S->evq.n;) {
      evq_item_t it;
      if (evq_item_stale(&S->evq.a[i])) evq_remove(&S->evq, S->evq.a[i].seq, &it);
      else i++;
    }
    size_t need = (size_t)S->ncpu + S->evq.n;
    VEC_RESERVE(S, ch->cand, ch->cand_cap, need ? need : 1);
    uint32_t n = 0;
    for (int i = 0; i < S->ncpu; i++)
      if (S->cpu[i].step_live)
        ch->cand[n++] = (sim_candidate_t){.kind = SIM_CAND_CPU, .cpu = i, .due_ns = S->cpu[i].step_end};
    uint32_t ncpus = n;
    for (size_t i = 0; i < S->evq.n; i++) {
      const evq_item_t *it = &S->evq.a[i];
      sim_candidate_t c = {.due_ns = it->t, .order = ((uint64_t)it->kind << 60) | it->seq, .cpu = -1};
      if (it->kind == EV_INTERRUPT) {
        const hw_irq_t *q = it->obj;
        c.kind = SIM_CAND_INTERRUPT;
        c.cpu = q->hw->cpu;
        c.id = q->hw->dev ? q->hw->dev->SimId : 0;
      } else if (it->kind == EV_KTIMER) {
        c.kind = SIM_CAND_TIMER; /* a kernel timer: no thread of its own */
      } else {
        c.kind = SIM_CAND_TIMER;
        c.id = ((const KTHREAD *)it->obj)->id;
      }
      ch->cand[n++] = c;
    }
    /* Events in queue order (the heap's array is not sorted). */
    qsort(ch->cand + ncpus, n - ncpus, sizeof *ch->cand, cmp_cand);
    /* A clock tick is no choice: it fires at its time, before anything
       that is due later (kernel-facts 6.12). */
    due_t d;
    sched_due_cpus(S, &d);
    if (d.tick) {
      uint64_t first = UINT64_MAX;
      for (uint32_t i = 0; i < n; i++)
        if (ch->cand[i].due_ns < first) first = ch->cand[i].due_ns;
      if (d.tick->tick_at <= first) {
        if (d.tick->tick_at > S->now) S->now = d.tick->tick_at;
        if (sched_over_limit(S)) {
          S->outcome = SIM_RUN_LIMIT;
          sched_stop(S);
        }
        ke_clock_fire(S, d.tick);
        continue;
      }
    }
    if (n == 0) sched_finish(S);
    uint32_t k = 0;
    if (n > 1 && !S->stop_requested) {
      k = chs_next_candidate(S, n);
      if (k == SIM_CHOICE_STOP) {
        S->stop_requested = true;
        k = 0;
      }
    }
    sim_candidate_t pick = ch->cand[k];
    if (pick.due_ns > S->now) S->now = pick.due_ns;
    if (S->stop_requested || sched_over_limit(S)) {
      S->outcome = S->stop_requested ? SIM_RUN_STOPPED : SIM_RUN_LIMIT;
      sched_stop(S);
    }
    if (pick.kind != SIM_CAND_CPU) {
      evq_item_t it;
      bool found = evq_remove(&S->evq, pick.order & ((1ull << 60) - 1), &it);
      SIM_ASSERT(found);
      (void)found;
      if (it.kind == EV_INTERRUPT) hw_interrupt(S, it.obj);
      else if (it.kind == EV_KTIMER) KiTimerDue(S, it.obj, it.gen);
      else thr_timeout(S, it.obj, it.gen);
      continue;
    }
    cpu_t *c = &S->cpu[pick.cpu];
    sched_resume(S, c);
    return;
  }
}

void sched_next(sim_t *S) {
  if (S->chs.fn) {
    sched_next_chosen(S);
    return;
  }
  for (;;) {
    due_t d;
    sched_due_cpus(S, &d);
    const evq_item_t *top = evq_peek(&S->evq);
    uint64_t tick = d.tick ? d.tick->tick_at : UINT64_MAX;
    /* At a tie: devices and timers first, then clock ticks, then CPU steps. */
    bool hw = top && top->t <= d.t && top->t <= tick;
    bool clock = !hw && d.tick && tick <= d.t;
    if (!d.n && !top && !d.tick) {
      sched_finish(S); /* returns only when the run goes on */
      continue;
    }
    uint64_t t = hw ? top->t : clock ? tick : d.t;
    if (t > S->now) S->now = t;
    if (S->stop_requested || sched_over_limit(S)) {
      S->outcome = S->stop_requested ? SIM_RUN_STOPPED : SIM_RUN_LIMIT;
      sched_stop(S);
    }
    if (hw) {
      evq_item_t it;
      evq_pop(&S->evq, &it);
      if (it.kind == EV_INTERRUPT) hw_interrupt(S, it.obj);
      else if (it.kind == EV_KTIMER) KiTimerDue(S, it.obj, it.gen);
      else thr_timeout(S, it.obj, it.gen);
      continue;
    }
    if (clock) {
      ke_clock_fire(S, d.tick);
      continue;
    }
    /* Among CPUs due at the same instant, the chooser decides who goes
       first - asked only when a CPU really steps next. */
    cpu_t *c = d.tied[d.n > 1 ? chs_choose(S, d.n) : 0];
    sched_resume(S, c);
    return;
  }
}

static uint64_t step_cost(sim_t *S, uint64_t ns) {
  /* Under a chooser costs are exact: it decides every ordering itself. */
  if (S->cfg.jitter_pct && ns && !S->chs.fn) {
    uint64_t span = ns * S->cfg.jitter_pct / 100;
    if (span) ns += chs_next(&S->chs) % (span + 1);
  }
  return ns;
}

/* Whether nothing else (another CPU, a device, a timer) is due before or at
   `end`: then the current CPU can simply move on, with no scheduling. */
static bool sched_alone_until(const sim_t *S, const cpu_t *c, uint64_t end) {
  /* Under a chooser anything pending, however far ahead, may go first. */
  uint64_t horizon = S->chs.fn ? UINT64_MAX : end;
  const evq_item_t *top = evq_peek(&S->evq);
  if (top && top->t <= horizon) return false;
  for (int i = 0; i < S->ncpu; i++) {
    const cpu_t *o = &S->cpu[i];
    if (o != c && o->step_live && o->step_end <= horizon) return false;
    if (o->tick_at <= horizon) return false; /* c's own tick too: it cuts the step */
  }
  return end <= S->cfg.max_time_ns && S->steps <= S->cfg.max_steps && !S->stop_requested &&
         S->stats.bytes_live + S->bytes_charged <= S->cfg.max_memory &&
         (!S->wall_deadline_ns || S->steps < S->wall_next_check);
}

void sched_step_ns(sim_t *S, uint64_t ns) {
  cpu_t *c = S->cur_cpu;
  uint64_t remaining = step_cost(S, ns);
  S->steps++;
  for (;;) {
    uint64_t start = S->now, end = start + remaining;
    if (sched_alone_until(S, c, end)) {
      S->now = end; /* the common case: no switch, no queue */
    } else {
      cpu_schedule(c, end);
      sched_next(S);
    }
    /* A step never blocks, so this coroutine is still bound to c.  Woken
       early (an interrupt, a DPC, an APC for us): serve it, then burn what
       is left of the step. */
    remaining = S->now < end ? end - S->now : 0;
    c->busy_ns += S->now - start;
    if (cpu_has_work(S, c)) cpu_service(S, c);
    if (remaining == 0) break;
  }
}

void sched_step(sim_t *S, sim_cost_t cost) { sched_step_ns(S, S->cost[cost]); }

void sim_delay(uint64_t ns) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_OP, NULL, NULL);
    e.text = "delay";
    trc_send(S, &e, "delay %llu ns", (unsigned long long)ns);
  }
  sched_step_ns(S, ns);
}
