/*
 * test_calldriver.c - IofCallDriver (docs/kernel-facts.md §2): one location down, the
 * device recorded in it, dispatch by that location's major function, the
 * dispatch routine's status returned, and the IRQL rules.
 */
#include "drivers.h"
#include "testlib.h"

/* A one-device driver with separate READ and WRITE routines. */
typedef struct cd_obs {
  PDEVICE_OBJECT dev;
  int reads, writes;
  int location;
  bool cur_is_stack, dev_recorded;
  NTSTATUS returns;        /* what the dispatch routine returns */
  NTSTATUS call_ret;       /* what IoCallDriver gave the thread */
  int routine_calls;
  KIRQL raise_to;          /* the thread calls IoCallDriver at this IRQL */
} cd_obs_t;

static void cd_record(PDEVICE_OBJECT dev, PIRP irp) {
  cd_obs_t *o = dev->DriverObject->SimContext;
  o->location = irp->CurrentLocation;
  o->cur_is_stack = IoGetCurrentIrpStackLocation(irp) == &irp->Stack[irp->CurrentLocation - 1];
  o->dev_recorded = IoGetCurrentIrpStackLocation(irp)->DeviceObject == dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS cd_read(PDEVICE_OBJECT dev, PIRP irp) {
  cd_obs_t *o = dev->DriverObject->SimContext;
  o->reads++;
  cd_record(dev, irp);
  return o->returns;
}

static NTSTATUS cd_write(PDEVICE_OBJECT dev, PIRP irp) {
  cd_obs_t *o = dev->DriverObject->SimContext;
  o->writes++;
  cd_record(dev, irp);
  return o->returns;
}

static NTSTATUS cd_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  cd_obs_t *o = arg;
  drv->SimContext = o;
  drv->MajorFunction[IRP_MJ_READ] = cd_read;
  drv->MajorFunction[IRP_MJ_WRITE] = cd_write;
  return sim_create_device(drv, 0, "probe0", &o->dev);
}

static NTSTATUS cd_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dev, (void)irp;
  ((cd_obs_t *)ctx)->routine_calls++;
  return STATUS_MORE_PROCESSING_REQUIRED; /* the creating thread frees it */
}

static void cd_thread(PVOID arg) {
  cd_obs_t *o = arg;
  PIRP irp = IoAllocateIrp(o->dev->StackSize, FALSE);
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_WRITE;
  IoSetCompletionRoutine(irp, cd_done, o, TRUE, TRUE, TRUE);
  KIRQL old = PASSIVE_LEVEL;
  if (o->raise_to) KeRaiseIrql(o->raise_to, &old);
  o->call_ret = IoCallDriver(o->dev, irp);
  if (o->raise_to) KeLowerIrql(old);
  IoFreeIrp(irp);
}

static sim_t *cd_machine(cd_obs_t *o) {
  sim_t *S = tsim_new(1, NULL);
  ck_assert_ptr_nonnull(sim_load_driver(S, "probe", cd_entry, o));
  sim_thread_create(S, "caller", cd_thread, o);
  return S;
}

/* kernel-facts 2.1: IoCallDriver decrements CurrentLocation, records the device
   in the new current location, and calls the routine for THAT location's
   MajorFunction. */
START_TEST(call_moves_down_and_dispatches_by_major) {
  cd_obs_t o = {.returns = STATUS_SUCCESS};
  sim_t *S = cd_machine(&o);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(o.writes, 1);
  ck_assert_int_eq(o.reads, 0);
  ck_assert_int_eq(o.location, 1);
  ck_assert(o.cur_is_stack);
  ck_assert(o.dev_recorded);
  ck_assert_int_eq(o.routine_calls, 1);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 2.2: IoCallDriver returns the dispatch routine's return value
   (not the IRP's IoStatus, which here says success). */
START_TEST(call_returns_dispatch_status) {
  cd_obs_t o = {.returns = STATUS_BUFFER_OVERFLOW};
  sim_t *S = cd_machine(&o);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(o.call_ret, STATUS_BUFFER_OVERFLOW);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 2.2 through a stack: a filter's IoCallDriver gets what the disk's
   dispatch returned, which is not necessarily the completion status. */
START_TEST(filter_sees_lower_dispatch_return) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_SUCCESS, .dispatch_returns = STATUS_END_OF_FILE};
  tfilter_t f = {.mode = TF_COPY};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(f.call_returned, STATUS_END_OF_FILE);
  ck_assert_int_eq(r.ret, STATUS_END_OF_FILE);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS); /* stage 2 copies IoStatus */
  sim_destroy(S);
}
END_TEST

/* kernel-facts 2.1: an N-location IRP supports exactly N nested calls: through a
   3-deep stack the calls land in locations 3, 2, 1 and nothing stops. */
START_TEST(n_locations_n_calls) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.info = 512};
  tfilter_t f1 = {.mode = TF_COPY}, f2 = {.mode = TF_COPY, .routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f1, &f2, &r), SIM_RUN_OK);
  ck_assert_int_eq(sim_irp_info(S, r.irp)->stack_count, 3);
  int i = tlog_find_x(&log, TRC_CALL, r.irp, NULL, 0);
  int want[] = {3, 2, 1};
  for (int k = 0; k < 3; k++) {
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(log.v[i].stack_location, want[k]);
    i = tlog_find_x(&log, TRC_CALL, r.irp, NULL, i + 1);
  }
  ck_assert_int_eq(i, -1);
  ck_assert_ptr_null(sim_bugcheck(S));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 2.3: the highest-level dispatch runs at PASSIVE_LEVEL in the
   requesting thread (and so does a lower one reached synchronously). */
START_TEST(top_dispatch_passive_in_requester) {
  sim_t *S = tsim_new(2, NULL);
  tdisk_t d = {.info = 512};
  tfilter_t f = {.mode = TF_SKIP};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(d.dispatch_irql, PASSIVE_LEVEL);
  ck_assert_uint_ne(r.thread, 0);
  ck_assert_uint_eq(d.dispatch_thread, r.thread);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 2.3: IoCallDriver above DISPATCH_LEVEL is a Verifier I/O violation
   (0xC9, subcode 0x10); the dispatch routine is never reached. */
START_TEST(call_above_dispatch_bugchecks) {
  cd_obs_t o = {.raise_to = 5};
  sim_t *S = cd_machine(&o);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(b->code, DRIVER_VERIFIER_IOMANAGER_VIOLATION);
  ck_assert_uint_eq(b->p[0], 0x10);
  ck_assert_int_eq(o.writes, 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 2.3: at DISPATCH_LEVEL the call is still legal. */
START_TEST(call_at_dispatch_is_legal) {
  cd_obs_t o = {.raise_to = DISPATCH_LEVEL};
  sim_t *S = cd_machine(&o);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(o.writes, 1);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(calldriver_suite)
static Suite *calldriver_suite(void) {
  Suite *s = suite_create("calldriver");
  TCase *tc = tcase_create("IofCallDriver");
  tcase_add_test(tc, call_moves_down_and_dispatches_by_major);
  tcase_add_test(tc, call_returns_dispatch_status);
  tcase_add_test(tc, filter_sees_lower_dispatch_return);
  tcase_add_test(tc, n_locations_n_calls);
  tcase_add_test(tc, top_dispatch_passive_in_requester);
  tcase_add_test(tc, call_above_dispatch_bugchecks);
  tcase_add_test(tc, call_at_dispatch_is_legal);
  suite_add_tcase(s, tc);
  return s;
}
