/*
 * clock.c - the clock interrupt's part in DPC delivery (KeUpdateRunTime):
 * on every tick a processor whose DPC queue holds DPCs, with no drain
 * requested or running, requests the DISPATCH_LEVEL software interrupt,
 * so no DPC waits longer than one tick; and the DPC moderation that
 * KeInsertQueueDpc's rules read (DpcRequestRate, MaximumDpcQueueDepth,
 * AdjustDpcThreshold).  docs/kernel-facts.md §6.12.
 *
 * Every processor ticks at k * period (k = 1, 2, ...), as the broadcast
 * clock of a multiprocessor HAL does.  Only the ticks that can request a
 * drain are events (armed while DPCs wait, ke_dpcs_waiting); every other
 * tick would only age the moderation state, which is done arithmetically
 * when the state is next read (ke_clock_account).  So a machine without
 * waiting DPCs has no tick in its event queue, its trace or its end time.
 */
#include "ke/ke.h"

/* KiIdealDpcRate and KiAdjustDpcThreshold, 20 each in Windows (ReactOS
   ke/dpc.c has the same defaults; fixed in iosim): the DPC rate below
   which a tick that had to request a drain lowers the maximum depth, and
   the ticks without one it takes to raise it again by one. */
#define KI_IDEAL_DPC_RATE 20
#define KI_ADJUST_DPC_THRESHOLD 20

static uint64_t clock_period(const sim_t *S) { return S->cfg.clock_tick_ns; }

void ke_clock_init_cpu(sim_t *S, cpu_t *c) {
  c->max_dpc_depth = S->cfg.dpc_queue_depth;
  c->adjust_dpc_threshold = KI_ADJUST_DPC_THRESHOLD;
  c->tick_at = UINT64_MAX;
}

/* Accounts ticks ticks_done+1 .. upto as ticks that requested nothing (the
   "else" of KeUpdateRunTime): the first one averages in the DPCs queued
   since the last tick, the others halve the rate; each counts
   AdjustDpcThreshold down, and every time it runs out the maximum depth
   grows by one, up to the configured one.  In closed form, so a long
   quiet stretch costs nothing. */
static void clock_account_to(sim_t *S, cpu_t *c, uint64_t upto) {
  if (upto <= c->ticks_done) return;
  uint64_t n = upto - c->ticks_done;
  c->ticks_done = upto;
  uint32_t rate = (c->dpc_request_rate + (c->dpc_count - c->dpc_last_count)) >> 1;
  c->dpc_last_count = c->dpc_count;
  c->dpc_request_rate = n - 1 >= 32 ? 0 : rate >> (n - 1);
  uint64_t a = c->adjust_dpc_threshold, grown = 0;
  if (n >= a) {
    grown = 1 + (n - a) / KI_ADJUST_DPC_THRESHOLD;
    c->adjust_dpc_threshold = KI_ADJUST_DPC_THRESHOLD - (uint32_t)((n - a) % KI_ADJUST_DPC_THRESHOLD);
  } else {
    c->adjust_dpc_threshold = (uint32_t)(a - n);
  }
  uint64_t depth = c->max_dpc_depth + grown;
  c->max_dpc_depth = depth < S->cfg.dpc_queue_depth ? (uint32_t)depth : S->cfg.dpc_queue_depth;
}

void ke_clock_account(sim_t *S, cpu_t *c) {
  uint64_t upto = S->now / clock_period(S);
  /* A tick raised but not yet taken is KeUpdateRunTime's to account. */
  if (c->clock_pending && upto >= c->clock_pending) upto = c->clock_pending - 1;
  clock_account_to(S, c, upto);
}

void ke_clock_arm(sim_t *S, cpu_t *c) {
  SIM_ASSERT(ke_dpcs_waiting(c));
  /* An armed tick is never in the past: the scheduler delivers (or drops)
     a tick before time moves beyond it. */
  if (c->tick_at != UINT64_MAX && c->tick_at > S->now) return;
  uint64_t p = clock_period(S);
  c->tick_at = (S->now / p + 1) * p;
}

void ke_clock_fire(sim_t *S, cpu_t *c) {
  SIM_ASSERT(c->tick_at == S->now);
  c->tick_at = UINT64_MAX;
  if (!ke_dpcs_waiting(c)) return; /* drained meanwhile: nothing to request */
  c->clock_pending = S->now / clock_period(S);
  cpu_interrupt_now(S, c);
}

/* KeUpdateRunTime's DPC moderation for the pending tick: average the
   request rate, then, if DPCs wait with no drain requested or running,
   request the DISPATCH interrupt, reset the threshold, and lower the
   maximum depth when the rate is below the ideal one (so DPCs stop
   waiting for ticks); otherwise count down towards raising it. */
void KeUpdateRunTime(sim_t *S, cpu_t *c) {
  uint64_t k = c->clock_pending;
  SIM_ASSERT(k > 0); /* tick 0 is the start of the run: nothing to request */
  c->clock_pending = 0;
  if (!ke_dpcs_waiting(c)) {
    /* Another CPU's DPC request got there first, at the same instant: the
       tick requests nothing. */
    clock_account_to(S, c, k);
    return;
  }
  clock_account_to(S, c, k - 1);
  c->ticks_done = k;
  c->dpc_request_rate = (c->dpc_request_rate + (c->dpc_count - c->dpc_last_count)) >> 1;
  c->dpc_last_count = c->dpc_count;
  c->dpc_requested = true;
  c->adjust_dpc_threshold = KI_ADJUST_DPC_THRESHOLD;
  uint32_t was = c->max_dpc_depth;
  if (c->dpc_request_rate < KI_IDEAL_DPC_RATE && c->max_dpc_depth > 1) c->max_dpc_depth--;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_CLOCK_TICK, NULL, NULL);
    e.target_cpu = c->id, e.count = c->dpc_depth, e.irql_to = CLOCK_LEVEL;
    trc_send(S, &e, "tick %llu: %d DPC%s waiting, no drain requested: DISPATCH interrupt requested "
             "(DPC rate %u; maximum queue depth %u%s)",
             (unsigned long long)k, c->dpc_depth, c->dpc_depth == 1 ? "" : "s", c->dpc_request_rate,
             c->max_dpc_depth, was != c->max_dpc_depth ? ", lowered: the rate is below the ideal 20" : "");
  }
}
