/*
 * test_dpc.c - DPCs (docs/kernel-facts.md §6.3-6.5): queue position by importance,
 * when a DISPATCH interrupt is requested, the target CPU, the already-queued
 * rule, the drain when IRQL falls, and ISR -> DPC coalescing.
 */
#include "drivers.h"
#include "testlib.h"

/* A DPC that records its runs into a shared log. */
typedef struct dpc_log {
  int runs;
  int order[16];
  PVOID a1[16], a2[16];
  KIRQL irql[16];
  int cpu[16];
} dpc_log_t;

typedef struct dpc_probe {
  KDPC dpc;
  dpc_log_t *log;
  int id;
  int requeue;          /* re-insert itself this many times */
  BOOLEAN requeue_ret;
} dpc_probe_t;

static void probe_routine(PKDPC dpc, PVOID ctx, PVOID a1, PVOID a2) {
  dpc_probe_t *p = ctx;
  dpc_log_t *l = p->log;
  if (l->runs < 16) {
    l->order[l->runs] = p->id;
    l->a1[l->runs] = a1;
    l->a2[l->runs] = a2;
    l->irql[l->runs] = KeGetCurrentIrql();
    l->cpu[l->runs] = (int)KeGetCurrentProcessorNumber();
  }
  l->runs++;
  if (p->requeue > 0) {
    p->requeue--;
    p->requeue_ret = KeInsertQueueDpc(dpc, a1, a2);
  }
}

static void probe_init(dpc_probe_t *p, dpc_log_t *l, int id, KDPC_IMPORTANCE imp) {
  KeInitializeDpc(&p->dpc, probe_routine, p);
  KeSetImportanceDpc(&p->dpc, imp);
  p->log = l;
  p->id = id;
}

/* The state one test thread works on. */
typedef struct dpc_test {
  int which;
  dpc_log_t log;
  dpc_probe_t p[8];
  BOOLEAN ret[8];
  int runs_at[8];       /* log.runs observed at checkpoints */
  int me, target;
  int depth_trigger;    /* low DPCs inserted when the first ran */
} dpc_test_t;

static void t_already_queued(dpc_test_t *t) {
  KIRQL old;
  probe_init(&t->p[0], &t->log, 0, MediumImportance);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  t->ret[0] = KeInsertQueueDpc(&t->p[0].dpc, (PVOID)1, (PVOID)2);
  t->ret[1] = KeInsertQueueDpc(&t->p[0].dpc, (PVOID)3, (PVOID)4);
  t->runs_at[0] = t->log.runs;
  KeLowerIrql(old);
  t->runs_at[1] = t->log.runs;
}

static void t_importance_order(dpc_test_t *t) {
  KIRQL old;
  static const KDPC_IMPORTANCE imp[] = {MediumImportance, MediumImportance, HighImportance,
                                        LowImportance, MediumHighImportance};
  for (int i = 0; i < 5; i++) probe_init(&t->p[i], &t->log, i, imp[i]);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  for (int i = 0; i < 5; i++) KeInsertQueueDpc(&t->p[i].dpc, NULL, NULL);
  KeLowerIrql(old);
}

static void t_drain_on_lower(dpc_test_t *t) {
  KIRQL old;
  probe_init(&t->p[0], &t->log, 0, HighImportance);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KeInsertQueueDpc(&t->p[0].dpc, NULL, NULL);
  sim_delay(20000);
  t->runs_at[0] = t->log.runs; /* still 0: IRQL is DISPATCH */
  KeLowerIrql(APC_LEVEL);      /* below DISPATCH: the drain runs */
  t->runs_at[1] = t->log.runs;
  KeLowerIrql(old);
}

static void t_medium_at_passive(dpc_test_t *t) {
  probe_init(&t->p[0], &t->log, 0, MediumImportance);
  t->ret[0] = KeInsertQueueDpc(&t->p[0].dpc, NULL, NULL);
  t->runs_at[0] = t->log.runs;
}

static void t_low_waits(dpc_test_t *t) {
  probe_init(&t->p[0], &t->log, 0, LowImportance);
  probe_init(&t->p[1], &t->log, 1, MediumImportance);
  KeInsertQueueDpc(&t->p[0].dpc, NULL, NULL);
  sim_delay(50000);
  t->runs_at[0] = t->log.runs;
  KeInsertQueueDpc(&t->p[1].dpc, NULL, NULL);
  t->runs_at[1] = t->log.runs;
}

static void t_low_depth(dpc_test_t *t) {
  for (int i = 0; i < 8 && t->log.runs == 0; i++) {
    probe_init(&t->p[i], &t->log, i, LowImportance);
    KeInsertQueueDpc(&t->p[i].dpc, NULL, NULL);
    t->depth_trigger = i + 1;
  }
}

static void t_requeue(dpc_test_t *t) {
  probe_init(&t->p[0], &t->log, 0, MediumImportance);
  t->p[0].requeue = 1;
  KeInsertQueueDpc(&t->p[0].dpc, (PVOID)7, NULL);
  sim_delay(10000);
}

static void t_remove(dpc_test_t *t) {
  KIRQL old;
  probe_init(&t->p[0], &t->log, 0, MediumImportance);
  t->ret[2] = KeRemoveQueueDpc(&t->p[0].dpc); /* not queued */
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KeInsertQueueDpc(&t->p[0].dpc, NULL, NULL);
  t->ret[0] = KeRemoveQueueDpc(&t->p[0].dpc);
  t->ret[1] = KeRemoveQueueDpc(&t->p[0].dpc);
  KeLowerIrql(old);
  sim_delay(10000);
}

static void t_target(dpc_test_t *t) {
  t->me = (int)KeGetCurrentProcessorNumber();
  t->target = 1 - t->me;
  probe_init(&t->p[0], &t->log, 0, HighImportance);
  KeSetTargetProcessorDpc(&t->p[0].dpc, t->target);
  KeInsertQueueDpc(&t->p[0].dpc, NULL, NULL);
  sim_delay(20000);
  t->runs_at[0] = (int)KeGetCurrentProcessorNumber();
}

static void dpc_thread(PVOID arg) {
  dpc_test_t *t = arg;
  switch (t->which) {
  case 0: t_already_queued(t); break;
  case 1: t_importance_order(t); break;
  case 2: t_drain_on_lower(t); break;
  case 3: t_medium_at_passive(t); break;
  case 4: t_low_waits(t); break;
  case 5: t_low_depth(t); break;
  case 6: t_requeue(t); break;
  case 7: t_remove(t); break;
  case 8: t_target(t); break;
  }
}

static sim_t *dpc_run(dpc_test_t *t, int cpus, tlog_t *log) {
  sim_t *S = tsim_new(cpus, log);
  sim_thread_create(S, "dpcer", dpc_thread, t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  return S;
}

/* The same on one CPU with MinimumDpcRate 0: the low-rate rule never
   fires, so the importance and depth rules are seen alone. */
static sim_t *dpc_run_no_rate_rule(dpc_test_t *t) {
  sim_config_t cfg = {.cpus = 1, .seed = 1, .has_minimum_dpc_rate = true, .minimum_dpc_rate = 0};
  sim_t *S = sim_create(&cfg);
  ck_assert_ptr_nonnull(S);
  sim_thread_create(S, "dpcer", dpc_thread, t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  return S;
}

/* kernel-facts 6.3: inserting a DPC that is already queued returns FALSE and
   drops the new SystemArgument1/2; it runs once with the first ones. */
START_TEST(already_queued_returns_false_drops_args) {
  tlog_t log = {0};
  dpc_test_t t = {.which = 0};
  sim_t *S = dpc_run(&t, 1, &log);
  ck_assert(t.ret[0]);
  ck_assert(!t.ret[1]);
  ck_assert_int_eq(t.runs_at[0], 0);
  ck_assert_int_eq(t.log.runs, 1);
  ck_assert_ptr_eq(t.log.a1[0], (PVOID)1);
  ck_assert_ptr_eq(t.log.a2[0], (PVOID)2);
  ck_assert_int_eq(tlog_count(&log, TRC_DPC_NOT_QUEUED), 1);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.3: HighImportance goes to the head of the queue, every other
   importance to the tail; the drain pops from the head (6.4). */
START_TEST(high_importance_at_head) {
  dpc_test_t t = {.which = 1};
  sim_t *S = dpc_run(&t, 1, NULL);
  ck_assert_int_eq(t.log.runs, 5);
  int want[] = {2, 0, 1, 3, 4};
  for (int i = 0; i < 5; i++) ck_assert_int_eq(t.log.order[i], want[i]);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.4: nothing drains while the CPU is at DISPATCH_LEVEL; the queue
   drains as soon as IRQL falls below it (to APC_LEVEL here), at
   DISPATCH_LEVEL in a DPC frame. */
START_TEST(drain_when_irql_falls_below_dispatch) {
  tlog_t log = {0};
  dpc_test_t t = {.which = 2};
  sim_t *S = dpc_run(&t, 1, &log);
  ck_assert_int_eq(t.runs_at[0], 0);
  ck_assert_int_eq(t.runs_at[1], 1);
  ck_assert_int_eq(t.log.irql[0], DISPATCH_LEVEL);
  int run = tlog_find(&log, TRC_DPC_RUN, 0);
  ck_assert_int_ge(run, 0);
  ck_assert_int_eq(log.v[run].frame, TRC_FRAME_DPC);
  ck_assert_int_eq(log.v[run].irql, DISPATCH_LEVEL);
  int lower = tlog_find_x(&log, TRC_IRQL_LOWER, 0, "2 -> 1", 0);
  ck_assert_int_ge(lower, 0);
  ck_assert_int_gt(run, lower);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.3: a Medium DPC queued on the current CPU requests the
   DISPATCH interrupt, which at PASSIVE_LEVEL is taken at once. */
START_TEST(medium_dpc_at_passive_runs_at_once) {
  dpc_test_t t = {.which = 3};
  sim_t *S = dpc_run(&t, 1, NULL);
  ck_assert(t.ret[0]);
  ck_assert_int_eq(t.runs_at[0], 1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.3: a Low DPC on the current CPU requests no interrupt (the
   DPC rate rule off); it waits for the next drain (triggered here by a
   Medium one) and runs first in it (FIFO tail). */
START_TEST(low_importance_waits_for_next_drain) {
  dpc_test_t t = {.which = 4};
  sim_t *S = dpc_run_no_rate_rule(&t);
  ck_assert_int_eq(t.runs_at[0], 0);
  ck_assert_int_eq(t.runs_at[1], 2);
  ck_assert_int_eq(t.log.order[0], 0);
  ck_assert_int_eq(t.log.order[1], 1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.3: Low DPCs do start once the queue depth reaches the
   maximum, 4 (MaximumDpcQueueDepth): three queue up without running, the
   fourth drains all of them together. */
START_TEST(low_importance_depth_forces_drain) {
  dpc_test_t t = {.which = 5};
  sim_t *S = dpc_run_no_rate_rule(&t);
  ck_assert_int_eq(t.depth_trigger, 4);
  ck_assert_int_eq(t.log.runs, 4);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.3: while the CPU's DPC request rate is below
   MinimumDpcRate (3 a tick; 0 on a machine that has queued none yet), a
   Low DPC on the current CPU requests the interrupt like a Medium one and
   runs at once. */
START_TEST(low_importance_at_low_dpc_rate_runs_at_once) {
  dpc_test_t t = {.which = 4};
  sim_t *S = dpc_run(&t, 1, NULL);
  ck_assert_int_eq(t.runs_at[0], 1);
  ck_assert_int_eq(t.runs_at[1], 2);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.4: a DPC is marked un-queued before its routine runs, so it
   can queue itself again (TRUE) and runs twice. */
START_TEST(dpc_can_requeue_itself) {
  dpc_test_t t = {.which = 6};
  sim_t *S = dpc_run(&t, 1, NULL);
  ck_assert(t.p[0].requeue_ret);
  ck_assert_int_eq(t.log.runs, 2);
  ck_assert_ptr_eq(t.log.a1[1], (PVOID)7);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.4: KeRemoveQueueDpc dequeues and reports whether the DPC was
   queued; a removed DPC never runs. */
START_TEST(remove_queue_dpc) {
  dpc_test_t t = {.which = 7};
  sim_t *S = dpc_run(&t, 1, NULL);
  ck_assert(!t.ret[2]);
  ck_assert(t.ret[0]);
  ck_assert(!t.ret[1]);
  ck_assert_int_eq(t.log.runs, 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.3: KeSetTargetProcessorDpc queues the DPC on the chosen CPU,
   which runs it; the inserting thread stays on its own CPU. */
START_TEST(target_processor_runs_dpc) {
  dpc_test_t t = {.which = 8};
  sim_t *S = dpc_run(&t, 2, NULL);
  ck_assert_int_eq(t.log.runs, 1);
  ck_assert_int_eq(t.log.cpu[0], t.target);
  ck_assert_int_ne(t.log.cpu[0], t.me);
  ck_assert_int_eq(t.runs_at[0], t.me);
  sim_destroy(S);
}
END_TEST

/* Two threads on two CPUs: the inserter targets the busy one's CPU. */
typedef struct remote {
  dpc_log_t log;
  dpc_probe_t p;
  KDPC_IMPORTANCE imp;
  int busy_cpu, inserter_cpu;
  int busy_started;
} remote_t;

static void busy_thread(PVOID arg) {
  remote_t *r = arg;
  r->busy_cpu = (int)KeGetCurrentProcessorNumber();
  r->busy_started = 1;
  for (int i = 0; i < 20; i++) sim_delay(10000); /* 200 us */
}

static void inserter_thread(PVOID arg) {
  remote_t *r = arg;
  sim_delay(5000);
  r->inserter_cpu = (int)KeGetCurrentProcessorNumber();
  probe_init(&r->p, &r->log, 0, r->imp);
  KeSetTargetProcessorDpc(&r->p.dpc, 1 - r->inserter_cpu);
  KeInsertQueueDpc(&r->p.dpc, NULL, NULL);
}

static int remote_run(remote_t *r, tlog_t *log, sim_t **out) {
  sim_t *S = tsim_new(2, log);
  sim_thread_create(S, "busy", busy_thread, r);
  sim_thread_create(S, "inserter", inserter_thread, r);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(r->busy_started);
  ck_assert_int_ne(r->busy_cpu, r->inserter_cpu);
  ck_assert_int_eq(r->log.runs, 1);
  ck_assert_int_eq(r->log.cpu[0], r->busy_cpu);
  *out = S;
  int run = tlog_find(log, TRC_DPC_RUN, 0);
  int exit = tlog_find_x(log, TRC_THREAD_EXIT, 0, "busy", 0);
  ck_assert_int_ge(run, 0);
  ck_assert_int_ge(exit, 0);
  return run < exit ? -1 : 1; /* -1: ran while busy still ran */
}

/* kernel-facts 6.3: a Medium DPC aimed at another, busy CPU requests no
   interrupt there: it runs only when that CPU next drains (here when its
   thread ends and the idle loop polls the queue). */
START_TEST(medium_dpc_to_busy_remote_cpu_waits) {
  tlog_t log = {0};
  remote_t r = {.imp = MediumImportance};
  sim_t *S;
  ck_assert_int_eq(remote_run(&r, &log, &S), 1);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.3: a High DPC aimed at another CPU interrupts it (IPI) and runs
   while that CPU's thread is still running. */
START_TEST(high_dpc_to_busy_remote_cpu_interrupts) {
  tlog_t log = {0};
  remote_t r = {.imp = HighImportance};
  sim_t *S;
  ck_assert_int_eq(remote_run(&r, &log, &S), -1);
  int run = tlog_find(&log, TRC_DPC_RUN, 0);
  ck_assert_int_eq(log.v[run].cpu, r.busy_cpu);
  ck_assert_uint_ne(log.v[run].thread, 0); /* nested on the busy thread */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A device whose ISR requests its DPC, for coalescing (kernel-facts 6.5). */
typedef struct coal {
  PDEVICE_OBJECT dev;
  sim_hw_t *hw;
  int isrs, dpcs;
  PIRP irps[2], dpc_irp;
} coal_t;

static BOOLEAN coal_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  coal_t *c = ctx;
  c->isrs++;
  IoRequestDpc(sim_hw_device(hw), irp, NULL);
  return TRUE;
}

static void coal_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)ctx;
  coal_t *c = dev->DriverObject->SimContext;
  c->dpcs++;
  c->dpc_irp = irp;
}

static NTSTATUS coal_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  coal_t *c = arg;
  drv->SimContext = c;
  NTSTATUS st = sim_create_device(drv, 0, "dev0", &c->dev);
  IoInitializeDpcRequest(c->dev, coal_dpc);
  c->hw = sim_hw_create(drv->Sim, c->dev, 10000, 0, 5, coal_isr, c);
  return st;
}

static void coal_thread(PVOID arg) {
  coal_t *c = arg;
  KIRQL old;
  c->irps[0] = IoAllocateIrp(1, FALSE);
  c->irps[1] = IoAllocateIrp(1, FALSE);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  sim_hw_start(c->hw, c->irps[0], 10000);
  sim_hw_start(c->hw, c->irps[1], 20000);
  sim_delay(50000); /* both interrupts arrive; the DPC cannot run yet */
  KeLowerIrql(old);
  IoFreeIrp(c->irps[0]);
  IoFreeIrp(c->irps[1]);
}

/* kernel-facts 6.5 (with 6.3): two interrupts before the DPC could run coalesce
   into one DPC run, carrying the first request's IRP. */
START_TEST(isr_requests_coalesce_into_one_dpc) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  coal_t c = {0};
  ck_assert_ptr_nonnull(sim_load_driver(S, "coal", coal_entry, &c));
  ck_assert_ptr_nonnull(c.hw);
  sim_thread_create(S, "app", coal_thread, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.isrs, 2);
  ck_assert_int_eq(c.dpcs, 1);
  ck_assert_ptr_eq(c.dpc_irp, c.irps[0]);
  ck_assert_int_eq(tlog_count(&log, TRC_DPC_NOT_QUEUED), 1);
  int isr2 = tlog_find(&log, TRC_ISR, tlog_find(&log, TRC_ISR, 0) + 1);
  ck_assert_int_lt(isr2, tlog_find(&log, TRC_DPC_RUN, 0));
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(dpc_suite)
static Suite *dpc_suite(void) {
  Suite *s = suite_create("dpc");
  TCase *tc = tcase_create("queue");
  tcase_add_test(tc, already_queued_returns_false_drops_args);
  tcase_add_test(tc, high_importance_at_head);
  tcase_add_test(tc, drain_when_irql_falls_below_dispatch);
  tcase_add_test(tc, medium_dpc_at_passive_runs_at_once);
  tcase_add_test(tc, low_importance_waits_for_next_drain);
  tcase_add_test(tc, low_importance_depth_forces_drain);
  tcase_add_test(tc, low_importance_at_low_dpc_rate_runs_at_once);
  tcase_add_test(tc, dpc_can_requeue_itself);
  tcase_add_test(tc, remove_queue_dpc);
  tcase_add_test(tc, target_processor_runs_dpc);
  tcase_add_test(tc, medium_dpc_to_busy_remote_cpu_waits);
  tcase_add_test(tc, high_dpc_to_busy_remote_cpu_interrupts);
  tcase_add_test(tc, isr_requests_coalesce_into_one_dpc);
  suite_add_tcase(s, tc);
  return s;
}
