/*
 * cpu.c - simulated processors: IRQL, the stack of execution frames
 * (thread or idle at the bottom, then APC, DPC, ISR), the service point where
 * interrupts, DPCs and APCs become deliverable, and the idle loop.
 */
#include "hal/hal.h"
#include "ke/ke.h"

trc_frame_t cpu_frame(const cpu_t *c) { return c->frames[c->depth].kind; }

void cpu_push_frame(sim_t *S, cpu_t *c, trc_frame_t kind, KIRQL irql) {
  SIM_ASSERT(c->depth >= 0 && c->depth < CPU_MAX_FRAMES);
  /* Drivers choose the nesting (an ISR per DIRQL, a DPC, an APC on each):
     running out of frames is their doing, so a bugcheck, not an assert. */
  if (c->depth + 1 >= (int)ARRAY_LEN(c->frames))
    bugcheck(S, UNEXPECTED_KERNEL_MODE_TRAP, EXCEPTION_DOUBLE_FAULT, 0, 0, 0,
             "kernel stack overflowed: frames nested too deeply on CPU %d (%d)", c->id, c->depth + 1);
  c->depth++;
  c->frames[c->depth].kind = kind;
  c->frames[c->depth].prev_irql = c->irql;
  c->frames[c->depth].line = 0;
  c->irql = irql;
}

void cpu_pop_frame(sim_t *S, cpu_t *c) {
  (void)S;
  SIM_ASSERT(c->depth > 0); /* the thread or idle frame at the bottom stays */
  c->irql = c->frames[c->depth].prev_irql;
  c->depth--;
}

/* The highest pending interrupt above the current IRQL, or NULL. */
static hw_irq_t *cpu_next_irq(cpu_t *c) {
  hw_irq_t *best = NULL;
  for (LIST_ENTRY *e = c->irq_pending.Flink; e != &c->irq_pending; e = e->Flink) {
    hw_irq_t *q = CONTAINING_RECORD(e, hw_irq_t, link);
    if (q->hw->irql > c->irql && (!best || q->hw->irql > best->hw->irql)) best = q;
  }
  return best;
}

/* What a processor does whenever it could be interrupted: take the clock
   interrupt below CLOCK_LEVEL and device interrupts above its IRQL, drain
   its DPC queue below DISPATCH_LEVEL, deliver kernel APCs to its thread
   below APC_LEVEL.  Each of these nests on whatever the CPU was running,
   which is what "arbitrary thread context" means. */
void cpu_service(sim_t *S, cpu_t *c) {
  for (;;) {
    if (S->stopping) return;
    if (c->clock_pending && c->irql < CLOCK_LEVEL) {
      KeUpdateRunTime(S, c); /* CLOCK_LEVEL is above every device's IRQL */
      continue;
    }
    hw_irq_t *q = cpu_next_irq(c);
    if (q) {
      KiInterruptDispatch(S, c, q);
      continue;
    }
    if (c->irql < DISPATCH_LEVEL && c->dpc_requested && !c->dpc_draining) {
      KiRetireDpcList(S, c);
      continue;
    }
    if (c->irql < APC_LEVEL && c->thread && apc_deliverable(c->thread)) {
      KiDeliverApc(S, c, c->thread);
      continue;
    }
    return;
  }
}

/* Each CPU's idle thread: run DPCs, pick up ready threads, else park until
   something (an interrupt, a DPC, a ready thread) pokes it. */
void cpu_idle_main(void *arg) {
  cpu_t *c = arg;
  sim_t *S = CONTAINING_RECORD(c - c->id, sim_t, cpu[0]);
  for (;;) {
    if (c->dpc_depth) c->dpc_requested = true; /* the idle loop polls its queue */
    cpu_service(S, c);
    if (!list_empty(&S->ready)) {
      PKTHREAD t = CONTAINING_RECORD(list_pop_head(&S->ready), KTHREAD, ready_link);
      c->thread = t;
      c->ctx = &t->ctx;
      c->frames[0].kind = TRC_FRAME_THREAD;
      t->cpu = c;
      t->state = THR_RUNNING;
      S->cur_ctx = &t->ctx;
      S->stats.ctx_switches++;
      ctx_switch(&c->idle_ctx, &t->ctx);
      /* Back here when that thread blocked with nothing else ready;
         the switcher re-bound this CPU to its idle context. */
      continue;
    }
    c->idle = true;
    sched_next(S);
    c->idle = false;
  }
}

KIRQL KeGetCurrentIrql(void) { return ctx_sim()->cur_cpu->irql; }
ULONG KeGetCurrentProcessorNumber(void) { return (ULONG)ctx_sim()->cur_cpu->id; }

void KeRaiseIrql(KIRQL NewIrql, KIRQL *OldIrql) {
  sim_t *S = ctx_sim();
  cpu_t *c = S->cur_cpu;
  if (NewIrql < c->irql)
    bugcheck(S, IRQL_NOT_GREATER_OR_EQUAL, c->irql, NewIrql, 0, 0,
             "KeRaiseIrql to %d below the current IRQL %d", NewIrql, c->irql);
  *OldIrql = c->irql;
  c->irql = NewIrql;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRQL_RAISE, NULL, NULL);
    e.irql_from = *OldIrql, e.irql_to = NewIrql;
    trc_send(S, &e, "%d -> %d", *OldIrql, NewIrql);
  }
  sched_step(S, COST_IRQL);
}

KIRQL KeRaiseIrqlToDpcLevel(void) {
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  return old;
}

void KeLowerIrql(KIRQL NewIrql) {
  sim_t *S = ctx_sim();
  cpu_t *c = S->cur_cpu;
  if (NewIrql > c->irql)
    bugcheck(S, IRQL_NOT_LESS_OR_EQUAL, c->irql, NewIrql, 0, 0,
             "KeLowerIrql to %d above the current IRQL %d", NewIrql, c->irql);
  KIRQL old = c->irql;
  c->irql = NewIrql;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRQL_LOWER, NULL, NULL);
    e.irql_from = old, e.irql_to = NewIrql;
    trc_send(S, &e, "%d -> %d", old, NewIrql);
  }
  cpu_service(S, c); /* falling below DISPATCH/APC makes DPCs/APCs runnable */
  sched_step(S, COST_IRQL);
}
