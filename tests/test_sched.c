/*
 * test_sched.c - the machine underneath (docs/kernel-facts.md §6.1, 12B): interrupts
 * nest on whatever a CPU runs and the trace says which thread they
 * interrupted, other CPUs keep running, coroutine threads block and resume,
 * and every IRP is freed at the end.
 */
#include "drivers.h"
#include "testlib.h"

/* Hardware on each CPU; the ISR records where it ran. */
typedef struct irq_test {
  sim_hw_t *hw[2];
  int isrs, isr_cpu;
  KIRQL isr_irql;
  uint32_t isr_thread;      /* KeGetCurrentThread() inside the ISR */
  int me, loops_at_isr, loops;
  bool other_cpu;           /* use the other CPU's hardware */
  PIRP irp;
} irq_test_t;

static BOOLEAN irq_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  (void)hw, (void)irp;
  irq_test_t *t = ctx;
  PKTHREAD cur = KeGetCurrentThread();
  t->isrs++;
  t->isr_cpu = (int)KeGetCurrentProcessorNumber();
  t->isr_irql = KeGetCurrentIrql();
  t->isr_thread = cur ? sim_thread_id(cur) : 0;
  t->loops_at_isr = t->loops;
  return TRUE;
}

static void irq_thread(PVOID arg) {
  irq_test_t *t = arg;
  t->me = (int)KeGetCurrentProcessorNumber();
  t->irp = IoAllocateIrp(1, FALSE);
  sim_hw_start(t->hw[t->other_cpu ? 1 - t->me : t->me], t->irp, 20000);
  for (t->loops = 0; t->loops < 10; t->loops++) sim_delay(10000); /* 100 us busy */
  IoFreeIrp(t->irp);
}

static sim_t *irq_machine(irq_test_t *t, int cpus, tlog_t *log, PKTHREAD *thr) {
  sim_t *S = tsim_new(cpus, log);
  for (int i = 0; i < cpus; i++) t->hw[i] = sim_hw_create(S, NULL, 20000, i, 7, irq_isr, t);
  *thr = sim_thread_create(S, "busy", irq_thread, t);
  return S;
}

/* kernel-facts 6.1 and 12B step 3: an interrupt on the CPU running a thread runs
   the ISR at DIRQL nested on that thread, in its context; the trace row of
   the ISR records the interrupted thread, and the thread then carries on. */
START_TEST(isr_nests_on_running_thread) {
  tlog_t log = {0};
  irq_test_t t = {0};
  PKTHREAD thr;
  sim_t *S = irq_machine(&t, 1, &log, &thr);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.isrs, 1);
  ck_assert_int_eq(t.isr_irql, 7);
  ck_assert_uint_eq(t.isr_thread, sim_thread_id(thr));
  ck_assert_int_gt(t.loops_at_isr, 0);
  ck_assert_int_lt(t.loops_at_isr, 10);
  int isr = tlog_find(&log, TRC_ISR, 0);
  ck_assert_int_ge(isr, 0);
  ck_assert_int_eq(log.v[isr].frame, TRC_FRAME_ISR);
  ck_assert_int_eq(log.v[isr].irql, 7);
  ck_assert_uint_eq(log.v[isr].thread, sim_thread_id(thr));
  int end = tlog_find(&log, TRC_ISR_END, isr);
  ck_assert_int_gt(end, isr);
  ck_assert_int_eq(log.v[end + 1].frame, TRC_FRAME_THREAD); /* back in the thread */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.1 / 12B: an interrupt on the other CPU runs there (on its idle
   loop) while the issuing thread keeps running on its own CPU, never
   switched out. */
START_TEST(interrupt_on_other_cpu_while_thread_runs) {
  tlog_t log = {0};
  irq_test_t t = {.other_cpu = true};
  PKTHREAD thr;
  sim_t *S = irq_machine(&t, 2, &log, &thr);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.isrs, 1);
  ck_assert_int_ne(t.isr_cpu, t.me);
  ck_assert_uint_eq(t.isr_thread, 0);
  ck_assert_int_gt(t.loops_at_isr, 0);
  ck_assert_int_lt(t.loops_at_isr, 10);
  int isr = tlog_find(&log, TRC_ISR, 0);
  ck_assert_int_eq(log.v[isr].cpu, t.isr_cpu);
  ck_assert_uint_eq(log.v[isr].thread, 0);
  /* the thread's only switch is its exit */
  int sw = tlog_find_x(&log, TRC_SWITCH, 0, "busy ->", 0);
  ck_assert_int_gt(sw, tlog_find_x(&log, TRC_THREAD_EXIT, 0, "busy", 0));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* Two coroutine threads handing a token back and forth through two
   synchronization events. */
typedef struct pingpong {
  KEVENT go[2];
  PKTHREAD thr[2];
  int log[20], n;
  bool self_ok;
} pingpong_t;

typedef struct pp_arg {
  pingpong_t *p;
  int me;
} pp_arg_t;

static void pp_thread(PVOID arg) {
  pp_arg_t *a = arg;
  pingpong_t *p = a->p;
  for (int i = 0; i < 5; i++) {
    KeWaitForSingleObject(&p->go[a->me], Executive, KernelMode, FALSE, NULL);
    if (KeGetCurrentThread() != p->thr[a->me]) p->self_ok = false;
    p->log[p->n++] = a->me;
    sim_delay(1000);
    KeSetEvent(&p->go[1 - a->me], IO_NO_INCREMENT, FALSE);
  }
}

/* kernel-facts 6.8 (5) and (2): a thread blocks in a wait (its coroutine is
   switched out) and resumes exactly where it was when the event is set:
   two threads alternate strictly, each always seeing itself as current. */
START_TEST(coroutine_threads_alternate) {
  for (int cpus = 1; cpus <= 2; cpus++) {
    pingpong_t p = {.self_ok = true};
    pp_arg_t a[2] = {{&p, 0}, {&p, 1}};
    sim_t *S = tsim_new(cpus, NULL);
    KeInitializeEvent(&p.go[0], SynchronizationEvent, TRUE);
    KeInitializeEvent(&p.go[1], SynchronizationEvent, FALSE);
    p.thr[1] = sim_thread_create(S, "pong", pp_thread, &a[1]);
    p.thr[0] = sim_thread_create(S, "ping", pp_thread, &a[0]);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(p.n, 10);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(p.log[i], i % 2);
    ck_assert(p.self_ok);
    ck_assert_uint_gt(sim_stats(S).ctx_switches, 10);
    sim_destroy(S);
  }
}
END_TEST

/* A mixed workload on one file: every completion path once. */
static void mixed_thread(PVOID arg) {
  PDEVICE_OBJECT top = arg;
  tread_t r[4] = {
      {.top = top, .options = FILE_SYNCHRONOUS_IO_NONALERT},       /* inline stage 2 */
      {.top = top, .use_event = true, .wait_event = true},         /* APC stage 2 */
      {.top = top, .apc = tread_apc, .alertable_sleep = true},     /* user APC frees */
      {.top = top, .options = FILE_SYNCHRONOUS_IO_NONALERT},
  };
  for (int i = 0; i < 4; i++) tread_thread(&r[i]);
}

/* kernel-facts 5.2.4 (stage 2 frees the IRP, or its user APC's kernel routine
   does) and 5.6.6 (inline stage 2 frees it too): after a run mixing synchronous, overlapped and ReadFileEx reads
   through an MPR filter, every IRP allocated was freed. */
START_TEST(all_irps_freed_after_run) {
  for (int pend = 0; pend < 2; pend++) {
    sim_t *S = tsim_new(2, NULL);
    tdisk_t d = {.mode = pend ? TDISK_PEND : TDISK_COMPLETE, .info = 128};
    tfilter_t f = {.name = "filt1", .lower = "disk0", .sync_forward = true};
    ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
    ck_assert_ptr_nonnull(sim_load_driver(S, "filter", tfilter_entry, &f));
    sim_thread_create(S, "mixed", mixed_thread, f.dev);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    sim_stats_t st = sim_stats(S);
    ck_assert_uint_ge(st.irps_allocated, 4 * 4); /* create, read, cleanup, close */
    ck_assert_uint_eq(st.irps_freed, st.irps_allocated);
    ck_assert_uint_eq(st.irps_live, 0);
    ck_assert_int_eq(d.dispatches, 4);
    sim_destroy(S);
  }
}
END_TEST

TEST_SUITE(sched_suite)
static Suite *sched_suite(void) {
  Suite *s = suite_create("sched");
  TCase *tc = tcase_create("machine");
  tcase_add_test(tc, isr_nests_on_running_thread);
  tcase_add_test(tc, interrupt_on_other_cpu_while_thread_runs);
  tcase_add_test(tc, coroutine_threads_alternate);
  tcase_add_test(tc, all_irps_freed_after_run);
  suite_add_tcase(s, tc);
  return s;
}
