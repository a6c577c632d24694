/*
 * hw.c - simulated hardware: a transfer ends after its latency by raising an
 * interrupt on a CPU; the ISR runs at the device's IRQL on top of whatever
 * that CPU was doing (the trace records the interrupted thread).
 */
#include "hal/hal.h"

sim_hw_t *sim_hw_create(sim_t *S, PDEVICE_OBJECT dev, uint64_t latency_ns, int cpu,
                        KIRQL irql, SIM_ISR *isr, PVOID ctx) {
  if (cpu >= S->ncpu || irql <= DISPATCH_LEVEL || irql > HIGH_LEVEL) return NULL;
  sim_hw_t *h = mem_calloc(S, sizeof *h);
  h->S = S;
  h->dev = dev;
  h->latency = latency_ns;
  h->cpu = cpu;
  h->irql = irql;
  h->isr = isr;
  h->ctx = ctx;
  h->id = ++S->nhw;
  h->next = S->hw;
  S->hw = h;
  if (dev) dev->SimHardware = h;
  return h;
}

uint64_t sim_hw_latency(const sim_hw_t *Hw) { return Hw->latency; }
PDEVICE_OBJECT sim_hw_device(const sim_hw_t *Hw) { return Hw->dev; }

void sim_hw_start(sim_hw_t *Hw, PIRP Irp, uint64_t latency_ns) {
  sim_t *S = Hw->S;
  hw_irq_t *q = mem_calloc(S, sizeof *q);
  q->hw = Hw;
  q->irp = Irp;
  list_init(&q->link);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_HW_START, Irp, Hw->dev);
    e.target_cpu = Hw->cpu;
    trc_send(S, &e, "transfer takes %llu ns", (unsigned long long)latency_ns);
  }
  evq_push(S, (evq_item_t){.t = S->now + latency_ns, .kind = EV_INTERRUPT, .obj = q});
  sched_step(S, COST_STEP);
}

/* The device raises its interrupt line: pick the CPU, make it pending there. */
void hw_interrupt(sim_t *S, hw_irq_t *q) {
  int n = q->hw->cpu;
  if (n < 0 && S->ncpu > 1) {
    int all[SIM_MAX_CPUS];
    for (int i = 0; i < S->ncpu; i++) all[i] = i;
    n = (int)chs_place(S, SIM_CHOICE_IRQ_CPU, all, (uint32_t)S->ncpu);
  } else if (n < 0) {
    n = 0;
  }
  cpu_t *c = &S->cpu[n];
  list_insert_tail(&c->irq_pending, &q->link);
  if (trc_on(S)) {
    cpu_t *saved = S->cur_cpu;
    S->cur_cpu = c; /* the trace row belongs to the CPU that gets the interrupt */
    trc_event_t e = trc_ev(TRC_INTERRUPT, NULL, q->hw->dev);
    e.target_cpu = c->id, e.irql_to = q->hw->irql;
    trc_send(S, &e, "IRQL %d line raised on CPU %d", q->hw->irql, c->id);
    S->cur_cpu = saved;
  }
  /* Taken at this instant, even by the CPU whose step is in progress (a
     long computation is interrupted, not waited for). */
  cpu_interrupt_now(S, c);
}

void KiInterruptDispatch(sim_t *S, cpu_t *c, hw_irq_t *q) {
  sim_hw_t *hw = q->hw;
  PIRP irp = q->irp;
  /* Freed before the ISR runs: an ISR that bugchecks never comes back, and
     once off the pending list nothing else would free it. */
  list_remove(&q->link);
  mem_free(S, q, sizeof *q);
  cpu_push_frame(S, c, TRC_FRAME_ISR, hw->irql);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_ISR, irp, hw->dev);
    e.target_cpu = c->id, e.irql_to = hw->irql;
    trc_send(S, &e, "ISR of %s", hw->dev ? hw->dev->SimName : "device");
  }
  sched_step(S, COST_INTERRUPT);
  hw->isr(hw, hw->ctx, irp);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_ISR_END, NULL, hw->dev);
    e.target_cpu = c->id, e.irql_from = hw->irql, e.irql_to = c->frames[c->depth].prev_irql;
    trc_send(S, &e, "back to IRQL %d", c->frames[c->depth].prev_irql);
  }
  cpu_pop_frame(S, c);
}

/* Windows casts the DpcForIsr routine to a deferred routine; a trampoline
   keeps the call well-typed. */
static void io_dpc_for_isr(PKDPC Dpc, PVOID Ctx, PVOID Irp, PVOID Arg) {
  PDEVICE_OBJECT dev = Ctx;
  dev->SimDpcForIsr(Dpc, dev, Irp, Arg);
}

void IoInitializeDpcRequest(PDEVICE_OBJECT Dev, IO_DPC_ROUTINE *Routine) {
  Dev->SimDpcForIsr = Routine;
  KeInitializeDpc(&Dev->Dpc, io_dpc_for_isr, Dev);
  Dev->Dpc.Name = Dev->SimName;
  Dev->Dpc.SimDevice = Dev;
}

/* IoRequestDpc queues the device's DPC with the IRP as its first argument;
   the DpcForIsr routine is called as (Dpc, DeviceObject, Irp, Context). */
void IoRequestDpc(PDEVICE_OBJECT Dev, PIRP Irp, PVOID Ctx) { KeInsertQueueDpc(&Dev->Dpc, Irp, Ctx); }

void hal_destroy(sim_t *S) {
  for (sim_hw_t *h = S->hw, *n; h; h = n) {
    n = h->next;
    free(h);
  }
  for (size_t i = 0; i < S->evq.n; i++)
    if (S->evq.a[i].kind == EV_INTERRUPT) free(S->evq.a[i].obj);
  for (int i = 0; i < S->ncpu; i++)
    while (!list_empty(&S->cpu[i].irq_pending))
      free(CONTAINING_RECORD(list_pop_head(&S->cpu[i].irq_pending), hw_irq_t, link));
}
