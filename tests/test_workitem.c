/*
 * test_workitem.c - I/O work items on the system worker threads
 * (kernel-facts 13.5): queued from DISPATCH_LEVEL, the routine runs at
 * PASSIVE_LEVEL in a system worker thread of the queue asked for, and may
 * free its item; idle workers leave the run `ok`; queueing an item twice
 * or freeing a queued one is WORKER_INVALID; a routine that returns at a
 * raised IRQL is WORKER_THREAD_RETURNED_AT_BAD_IRQL.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct wi_test {
  PDEVICE_OBJECT dev;
  PIO_WORKITEM item;
  WORK_QUEUE_TYPE type;
  int runs;
  KIRQL irql;
  BOOLEAN system;
  PKTHREAD self;
  PDEVICE_OBJECT dev_seen;
  PVOID ctx_seen;
  enum { WI_PLAIN, WI_TWICE, WI_FREE_QUEUED, WI_RETURN_RAISED } mode;
} wi_test_t;

static NTSTATUS wi_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  wi_test_t *t = arg;
  drv->SimContext = t;
  return sim_create_device(drv, 0, "wi0", &t->dev);
}

static void wi_routine(PDEVICE_OBJECT dev, PVOID ctx) {
  wi_test_t *t = ctx;
  t->runs++;
  t->irql = KeGetCurrentIrql();
  t->system = PsIsSystemThread(PsGetCurrentThread());
  t->dev_seen = dev;
  t->ctx_seen = ctx;
  t->self = KeGetCurrentThread();
  if (t->mode == WI_RETURN_RAISED) {
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return;
  }
  IoFreeWorkItem(t->item); /* freeing its own item in the routine is allowed */
}

/* Queues from a DPC-level section of a thread, as a DPC or ISR would. */
static void wi_queuer(PVOID arg) {
  wi_test_t *t = arg;
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  t->item = IoAllocateWorkItem(t->dev);
  IoQueueWorkItem(t->item, wi_routine, t->type, t);
  if (t->mode == WI_TWICE) IoQueueWorkItem(t->item, wi_routine, t->type, t);
  if (t->mode == WI_FREE_QUEUED) IoFreeWorkItem(t->item);
  KeLowerIrql(old);
}

static sim_t *wi_machine(wi_test_t *t, tlog_t *log) {
  sim_t *S = tsim_new(1, log);
  sim_load_driver(S, "wi", wi_entry, t);
  sim_thread_create(S, "queuer", wi_queuer, t);
  return S;
}

START_TEST(work_item_runs_at_passive_in_a_worker_thread) {
  static const struct { WORK_QUEUE_TYPE type; const char *worker; } cases[] = {
      {DelayedWorkQueue, "worker-delayed-"}, {CriticalWorkQueue, "worker-critical-"}};
  for (size_t i = 0; i < 2; i++) {
    wi_test_t t = {.type = cases[i].type, .mode = WI_PLAIN};
    tlog_t log = {0};
    sim_t *S = wi_machine(&t, &log);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK); /* the idle workers are the machine at rest */
    ck_assert_int_eq(t.runs, 1);
    ck_assert_int_eq(t.irql, PASSIVE_LEVEL);
    ck_assert(t.system);
    const char *worker = sim_thread_name(S, sim_thread_id(t.self));
    ck_assert_msg(strncmp(worker, cases[i].worker, strlen(cases[i].worker)) == 0, "%s", worker);
    ck_assert_ptr_eq(t.dev_seen, t.dev);
    ck_assert_ptr_eq(t.ctx_seen, &t);
    int q = tlog_find(&log, TRC_WORK_QUEUED, 0);
    int run = tlog_find(&log, TRC_WORK_RUN, q);
    int end = tlog_find(&log, TRC_WORK_END, run);
    ck_assert(q >= 0 && run > q && end > run);
    ck_assert_int_eq(log.v[q].irql, DISPATCH_LEVEL);
    ck_assert_int_eq(log.v[run].irql, PASSIVE_LEVEL);
    ck_assert_uint_eq(log.v[run].device, log.v[q].device);
    ck_assert_int_eq(tlog_count(&log, TRC_THREAD_STUCK), 0); /* idle workers are not stuck */
    ck_assert_uint_eq(sim_pool_outstanding(S, NULL, 0), 0); /* the item went back to pool */
    ck_assert(sim_thread_waiting(sim_thread_by_name(S, cases[i].type == DelayedWorkQueue ? "worker-delayed-1"
                                                                                            : "worker-critical-1")));
    sim_destroy(S);
    tlog_free(&log);
  }
}
END_TEST

START_TEST(work_item_misuse_stops) {
  static const struct { int mode; ULONG code, p1; } cases[] = {
      {WI_TWICE, WORKER_INVALID, 0x1},        /* an active item queued again */
      {WI_FREE_QUEUED, WORKER_INVALID, 0x2},  /* a queued item freed */
      {WI_RETURN_RAISED, WORKER_THREAD_RETURNED_AT_BAD_IRQL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    wi_test_t t = {.type = DelayedWorkQueue, .mode = cases[i].mode};
    sim_t *S = wi_machine(&t, NULL);
    ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
    const sim_bugcheck_t *b = sim_bugcheck(S);
    ck_assert_uint_eq(b->code, cases[i].code);
    if (cases[i].code == WORKER_INVALID) {
      ck_assert_uint_eq(b->p[0], cases[i].p1);
      ck_assert_uint_eq(b->p[1], (ULONG_PTR)t.item);
    } else {
      ck_assert_uint_eq(b->p[1], DISPATCH_LEVEL);
    }
    sim_destroy(S);
  }
}
END_TEST

TEST_SUITE(workitem_suite)
static Suite *workitem_suite(void) {
  Suite *s = suite_create("workitem");
  TCase *tc = tcase_create("workitem");
  tcase_add_test(tc, work_item_runs_at_passive_in_a_worker_thread);
  tcase_add_test(tc, work_item_misuse_stops);
  suite_add_tcase(s, tc);
  return s;
}
