/*
 * test_bugcheck.c - what Windows crashes on stops the simulated machine
 * (docs/kernel-facts.md §2.1, 3.1, 6.2): the run ends with SIM_RUN_BUGCHECK and the
 * right code and parameters, and the test process carries on.
 */
#include <stdlib.h>

#include "drivers.h"
#include "testlib.h"

static const sim_bugcheck_t *expect_bugcheck(sim_t *S, sim_outcome_t o, ULONG code) {
  ck_assert_int_eq(o, SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(b->code, code);
  return b;
}

/* kernel-facts 3.1: completing an IRP whose walk already finished
   (CurrentLocation == StackCount+2) is MULTIPLE_IRP_COMPLETE_REQUESTS (0x44);
   parameter 1 identifies the IRP. */
START_TEST(double_completion_in_dispatch_0x44) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.complete_twice = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  const sim_bugcheck_t *b = expect_bugcheck(S, trun_read(S, &d, NULL, NULL, &r),
                                            MULTIPLE_IRP_COMPLETE_REQUESTS);
  uint32_t irp = tsim_find_irp(S, IRP_MJ_READ);
  ck_assert_uint_ne(irp, 0);
  ck_assert_uint_eq(b->p[0], irp);
  ck_assert_int_eq(tlog_count_x(&log, TRC_COMPLETE, irp, NULL), 1); /* the 2nd never started */
  ck_assert_int_ge(tlog_find(&log, TRC_BUGCHECK, 0), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 3.1: the same check fires when the DPC completes twice, and the
   bugcheck records where: DISPATCH_LEVEL, in a DPC frame. */
START_TEST(double_completion_in_dpc_0x44) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND, .complete_twice = true};
  tread_t r = {.use_event = true, .wait_event = true};
  const sim_bugcheck_t *b = expect_bugcheck(S, trun_read(S, &d, NULL, NULL, &r),
                                            MULTIPLE_IRP_COMPLETE_REQUESTS);
  ck_assert_int_eq(b->irql, DISPATCH_LEVEL);
  ck_assert_int_eq(b->frame, TRC_FRAME_DPC);
  ck_assert_uint_eq(b->p[0], r.irp);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.1: an MPR stop followed by one legitimate re-completion is NOT
   a double completion (no bugcheck) – see test_complete for the full
   scenario; here the contrast: a third completion is. */
typedef struct thrice {
  PDEVICE_OBJECT dev;
  int completes;
} thrice_t;

static NTSTATUS thrice_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dev, (void)irp, (void)ctx;
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static void thrice_thread(PVOID arg) {
  thrice_t *t = arg;
  PIRP irp = IoAllocateIrp(2, FALSE);
  /* As a system service's IRP: the finished walk leaves it for the caller
     to finish, so it is still there for the third call. */
  irp->Flags |= IRP_DEFER_IO_COMPLETION;
  IoSetNextIrpStackLocation(irp); /* own location 2, like a filter */
  IoCopyCurrentIrpStackLocationToNext(irp);
  IoGetCurrentIrpStackLocation(irp)->MajorFunction = IRP_MJ_READ;
  IoSetCompletionRoutine(irp, thrice_done, NULL, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp); /* "the lower driver": location 1 */
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT); /* routine returns MPR: CL=2 */
  t->completes++;
  IoCompleteRequest(irp, IO_NO_INCREMENT); /* the owner: legal, walk ends */
  t->completes++;
  IoCompleteRequest(irp, IO_NO_INCREMENT); /* one too many */
  t->completes++;
}

START_TEST(third_completion_after_mpr_0x44) {
  sim_t *S = tsim_new(1, NULL);
  thrice_t t = {0};
  sim_thread_create(S, "owner", thrice_thread, &t);
  expect_bugcheck(S, sim_run(S), MULTIPLE_IRP_COMPLETE_REQUESTS);
  ck_assert_int_eq(t.completes, 2);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 2.1: an IRP with fewer locations than the stack is deep runs out:
   the call that brings CurrentLocation to 0 is NO_MORE_IRP_STACK_LOCATIONS
   (0x35), raised before the lower dispatch routine runs. */
typedef struct short_irp {
  PDEVICE_OBJECT top;
} short_irp_t;

static void short_thread(PVOID arg) {
  short_irp_t *s = arg;
  PIRP irp = IoAllocateIrp(1, FALSE); /* the stack needs 2 */
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_READ;
  IoCallDriver(s->top, irp);
  IoFreeIrp(irp);
}

/* A forwarder that passes the IRP on without preparing a location (copying
   would already write in front of a 1-location IRP's array). */
static NTSTATUS fwd_read(PDEVICE_OBJECT dev, PIRP irp) {
  int *calls = dev->DriverObject->SimContext;
  (*calls)++;
  return IoCallDriver(dev->SimLowerDevice, irp);
}

static NTSTATUS fwd_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  PDEVICE_OBJECT dev;
  drv->SimContext = arg;
  NTSTATUS st = sim_create_device(drv, 0, "fwd0", &dev);
  IoAttachDeviceToDeviceStack(dev, sim_find_device(drv->Sim, "disk0"));
  drv->MajorFunction[IRP_MJ_READ] = fwd_read;
  return st;
}

START_TEST(out_of_stack_locations_0x35) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {0};
  int fwd_calls = 0;
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
  ck_assert_ptr_nonnull(sim_load_driver(S, "fwd", fwd_entry, &fwd_calls));
  short_irp_t s = {.top = sim_find_device(S, "fwd0")};
  ck_assert_int_eq(s.top->StackSize, 2);
  sim_thread_create(S, "caller", short_thread, &s);
  const sim_bugcheck_t *b = expect_bugcheck(S, sim_run(S), NO_MORE_IRP_STACK_LOCATIONS);
  ck_assert_int_eq(fwd_calls, 1);
  ck_assert_int_eq(d.dispatches, 0);
  ck_assert_uint_ne(b->p[0], 0);
  sim_destroy(S);
}
END_TEST

/* Threads that misuse IRQL and waits (kernel-facts 6.2). */
typedef struct irql_misuse {
  int which;
  NTSTATUS ret;
  bool returned;
} irql_misuse_t;

static void irql_thread(PVOID arg) {
  irql_misuse_t *m = arg;
  KEVENT ev;
  KIRQL old;
  LARGE_INTEGER zero = {.QuadPart = 0};
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  switch (m->which) {
  case 0: /* infinite wait at DISPATCH_LEVEL */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    m->ret = KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
    break;
  case 1: /* zero-timeout poll at DISPATCH_LEVEL: legal */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    m->ret = KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, &zero);
    KeLowerIrql(old);
    break;
  case 2: /* KeRaiseIrql to a lower level */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeRaiseIrql(APC_LEVEL, &old);
    break;
  case 3: /* KeLowerIrql to a higher level */
    KeLowerIrql(APC_LEVEL);
    break;
  }
  m->returned = true;
}

static sim_t *irql_run(irql_misuse_t *m, sim_outcome_t *o) {
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "misuser", irql_thread, m);
  *o = sim_run(S);
  return S;
}

/* kernel-facts 6.2: a wait at DISPATCH_LEVEL with a nonzero (here infinite)
   timeout stops the machine (IRQL_NOT_LESS_OR_EQUAL); the wait never returns. */
START_TEST(wait_at_dispatch_bugchecks) {
  irql_misuse_t m = {.which = 0};
  sim_outcome_t o;
  sim_t *S = irql_run(&m, &o);
  const sim_bugcheck_t *b = expect_bugcheck(S, o, IRQL_NOT_LESS_OR_EQUAL);
  ck_assert_int_eq(b->irql, DISPATCH_LEVEL);
  ck_assert(!m.returned);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.2: with a zero timeout the same wait is legal and polls. */
START_TEST(zero_timeout_wait_at_dispatch_is_legal) {
  irql_misuse_t m = {.which = 1};
  sim_outcome_t o;
  sim_t *S = irql_run(&m, &o);
  ck_assert_int_eq(o, SIM_RUN_OK);
  ck_assert_int_eq(m.ret, STATUS_TIMEOUT);
  ck_assert_ptr_null(sim_bugcheck(S));
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.2: KeRaiseIrql to a lower level and KeLowerIrql to a higher
   one are fatal. */
START_TEST(irql_direction_misuse_bugchecks) {
  static const ULONG code[] = {IRQL_NOT_GREATER_OR_EQUAL, IRQL_NOT_LESS_OR_EQUAL};
  for (int i = 0; i < 2; i++) {
    irql_misuse_t m = {.which = 2 + i};
    sim_outcome_t o;
    sim_t *S = irql_run(&m, &o);
    expect_bugcheck(S, o, code[i]);
    ck_assert(!m.returned);
    sim_destroy(S);
  }
}
END_TEST

/* A disk with completion bugs (kernel-facts 3.1). */
typedef enum { BAD_COMPLETE_IN_ISR, BAD_CANCEL_ROUTINE_SET } bad_mode_t;

typedef struct bad_disk {
  bad_mode_t mode;
  PDEVICE_OBJECT dev;
} bad_disk_t;

static void bad_cancel(PDEVICE_OBJECT dev, PIRP irp) { (void)dev, (void)irp; }

static NTSTATUS bad_open(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS bad_read(PDEVICE_OBJECT dev, PIRP irp) {
  bad_disk_t *b = dev->DriverObject->SimContext;
  if (b->mode == BAD_COMPLETE_IN_ISR) {
    IoMarkIrpPending(irp);
    sim_hw_start(dev->SimHardware, irp, 10000);
    return STATUS_PENDING;
  }
  IoSetCancelRoutine(irp, bad_cancel);
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static BOOLEAN bad_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  (void)hw, (void)ctx;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT); /* at DIRQL: forbidden */
  return TRUE;
}

static NTSTATUS bad_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  bad_disk_t *b = arg;
  drv->SimContext = b;
  NTSTATUS st = sim_create_device(drv, 0, "bad0", &b->dev);
  drv->MajorFunction[IRP_MJ_CREATE] = bad_open;
  drv->MajorFunction[IRP_MJ_CLEANUP] = bad_open;
  drv->MajorFunction[IRP_MJ_CLOSE] = bad_open;
  drv->MajorFunction[IRP_MJ_READ] = bad_read;
  sim_hw_create(drv->Sim, b->dev, 10000, 0, 6, bad_isr, b);
  return st;
}

static const sim_bugcheck_t *bad_run(sim_t *S, bad_disk_t *b, tread_t *r) {
  ck_assert_ptr_nonnull(sim_load_driver(S, "bad", bad_entry, b));
  r->top = b->dev;
  sim_thread_create(S, "app", tread_thread, r);
  return expect_bugcheck(S, sim_run(S), DRIVER_VERIFIER_IOMANAGER_VIOLATION);
}

/* kernel-facts 3.1: completing above DISPATCH_LEVEL (here in the ISR, at
   DIRQL 6) is Verifier violation 0xC9/0x0E. */
START_TEST(complete_above_dispatch_0xC9_0E) {
  sim_t *S = tsim_new(1, NULL);
  bad_disk_t b = {.mode = BAD_COMPLETE_IN_ISR};
  tread_t r = {.use_event = true, .wait_event = true};
  const sim_bugcheck_t *bc = bad_run(S, &b, &r);
  ck_assert_uint_eq(bc->p[0], 0x0E);
  ck_assert_int_eq(bc->irql, 6);
  ck_assert_int_eq(bc->frame, TRC_FRAME_ISR);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.1 and 8.3: completing with a cancel routine still set is
   Verifier violation 0xC9/0x07. */
START_TEST(complete_with_cancel_routine_0xC9_07) {
  sim_t *S = tsim_new(1, NULL);
  bad_disk_t b = {.mode = BAD_CANCEL_ROUTINE_SET};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  const sim_bugcheck_t *bc = bad_run(S, &b, &r);
  ck_assert_uint_eq(bc->p[0], 0x07);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.1: completing with STATUS_PENDING is Verifier violation
   0xC9/0x06; no completion routine runs. */
START_TEST(complete_with_pending_0xC9_06) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_PENDING};
  tfilter_t f = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  const sim_bugcheck_t *b = expect_bugcheck(S, trun_read(S, &d, &f, NULL, &r),
                                            DRIVER_VERIFIER_IOMANAGER_VIOLATION);
  ck_assert_uint_eq(b->p[0], 0x06);
  ck_assert_int_eq(f.routine_calls, 0);
  /* The report says whose stop it is: Driver Verifier's, not every Windows'. */
  char *text = NULL;
  size_t n = 0;
  FILE *m = open_memstream(&text, &n);
  sim_bugcheck_report(S, m);
  fclose(m);
  ck_assert_ptr_nonnull(strstr(text, "Driver Verifier's stop"));
  free(text);
  sim_destroy(S);
}
END_TEST

/* Stop codes by name, both ways, also above 0x200 (an expectation names
   them: `expect bugcheck THREAD_TERMINATE_HELD_MUTEX`). */
START_TEST(stop_code_names_both_ways) {
  static const ULONG codes[] = {APC_INDEX_MISMATCH, MULTIPLE_IRP_COMPLETE_REQUESTS, KERNEL_SECURITY_CHECK_FAILURE,
                                THREAD_TERMINATE_HELD_MUTEX, DRIVER_VERIFIER_IOMANAGER_VIOLATION};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    ULONG back = 0;
    ck_assert(iosim_bugcheck_parse(iosim_bugcheck_name(codes[i]), &back));
    ck_assert_uint_eq(back, codes[i]);
  }
  ck_assert_str_eq(iosim_bugcheck_name(THREAD_TERMINATE_HELD_MUTEX), "THREAD_TERMINATE_HELD_MUTEX");
  ULONG c = 7;
  ck_assert(!iosim_bugcheck_parse("NOT_A_STOP_CODE", &c));
  ck_assert(!iosim_bugcheck_parse("BUGCHECK", &c)); /* the fallback name is not a code */
  ck_assert_uint_eq(c, 7);
}
END_TEST

TEST_SUITE(bugcheck_suite)
static Suite *bugcheck_suite(void) {
  Suite *s = suite_create("bugcheck");
  TCase *tc = tcase_create("stops");
  tcase_add_test(tc, double_completion_in_dispatch_0x44);
  tcase_add_test(tc, stop_code_names_both_ways);
  tcase_add_test(tc, double_completion_in_dpc_0x44);
  tcase_add_test(tc, third_completion_after_mpr_0x44);
  tcase_add_test(tc, out_of_stack_locations_0x35);
  tcase_add_test(tc, wait_at_dispatch_bugchecks);
  tcase_add_test(tc, zero_timeout_wait_at_dispatch_is_legal);
  tcase_add_test(tc, irql_direction_misuse_bugchecks);
  tcase_add_test(tc, complete_above_dispatch_0xC9_0E);
  tcase_add_test(tc, complete_with_cancel_routine_0xC9_07);
  tcase_add_test(tc, complete_with_pending_0xC9_06);
  suite_add_tcase(s, tc);
  return s;
}
