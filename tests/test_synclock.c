/*
 * test_synclock.c - synchronous file objects (kernel-facts 5.8, 5.9) and
 * the delivery of user APCs on the way back from a system service
 * (kernel-facts 6.10): two threads sharing a synchronous handle take turns
 * and each gets its own status; an alertable synchronous read broken by a
 * user APC is cancelled and waited for before NtReadFile returns, and the
 * APC runs on that return, not in a later non-alertable wait; a user APC
 * queued during a non-alertable wait stays queued.  The scenario fixtures
 * show the same in the trace.
 */
#include <stdio.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "fixture.h"
#include "testlib.h"

/* ---- a device that pends every read and ends the k-th with status[k] ---- */

typedef struct stape {
  NTSTATUS status[4];      /* the status of the 1st, 2nd, ... read completed */
  int completed, in_flight, max_in_flight;
  PIRP done[4];
  unsigned head, tail;
} stape_t;

static stape_t *tape_of(PDEVICE_OBJECT dev) { return dev->DriverObject->SimContext; }

static NTSTATUS stape_read(PDEVICE_OBJECT dev, PIRP irp) {
  stape_t *t = tape_of(dev);
  if (++t->in_flight > t->max_in_flight) t->max_in_flight = t->in_flight;
  IoMarkIrpPending(irp);
  sim_hw_start(dev->SimHardware, irp, 100000);
  return STATUS_PENDING;
}

static BOOLEAN stape_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  stape_t *t = ctx;
  t->done[t->tail++ % 4] = irp;
  IoRequestDpc(sim_hw_device(hw), irp, NULL);
  return TRUE;
}

static void stape_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)irp, (void)ctx;
  stape_t *t = tape_of(dev);
  while (t->head != t->tail) {
    PIRP r = t->done[t->head++ % 4];
    t->in_flight--;
    r->IoStatus.Status = t->status[t->completed++ % 4];
    r->IoStatus.Information = NT_SUCCESS(r->IoStatus.Status) ? 512 : 0;
    IoCompleteRequest(r, IO_NO_INCREMENT);
  }
}

static NTSTATUS done_at_once(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS stape_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  PDEVICE_OBJECT dev;
  NTSTATUS st = sim_create_device(drv, 0, "tape0", &dev);
  if (!NT_SUCCESS(st)) return st;
  drv->SimContext = arg;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = done_at_once;
  drv->MajorFunction[IRP_MJ_READ] = stape_read;
  IoInitializeDpcRequest(dev, stape_dpc);
  return sim_hw_create(drv->Sim, dev, 100000, 0, 5, stape_isr, arg) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

/* ---- 5.8: two threads, one synchronous handle ---- */

typedef struct shared {
  PDEVICE_OBJECT dev;
  PFILE_OBJECT f;
  NTSTATUS ret[2];
  IO_STATUS_BLOCK iosb[2];
  uint64_t returned_at[2];
  uint32_t irp[2];
} shared_t;

static void reader(shared_t *s, int i) {
  LONGLONG at = 0;
  s->iosb[i].Status = STATUS_PENDING;
  s->ret[i] = NtReadFile(s->f, NULL, NULL, NULL, &s->iosb[i], NULL, 512, &at);
  s->irp[i] = sim_last_irp_id();
  s->returned_at[i] = sim_now(s->dev->DriverObject->Sim);
}

static void first_reader(PVOID arg) {
  shared_t *s = arg;
  NtCreateFile(&s->f, s->dev, FILE_SYNCHRONOUS_IO_NONALERT, "f");
  reader(s, 0);
}

static void second_reader(PVOID arg) {
  shared_t *s = arg;
  LONGLONG later = -200; /* 20 us: the first read is at the device by then */
  NtDelayExecution(FALSE, &later);
  reader(s, 1);
}

START_TEST(sync_handle_serializes) {
  sim_t *S = tsim_new(2, NULL);
  stape_t tape = {.status = {STATUS_SUCCESS, STATUS_END_OF_FILE}};
  PDRIVER_OBJECT drv = sim_load_driver(S, "tape", stape_entry, &tape);
  ck_assert_ptr_nonnull(drv);
  shared_t s = {.dev = drv->DeviceObject};
  sim_thread_create(S, "a", first_reader, &s);
  sim_thread_create(S, "b", second_reader, &s);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(tape.max_in_flight, 1); /* never two requests of the file at the device */
  ck_assert_int_eq(s.ret[0], STATUS_SUCCESS);
  ck_assert_int_eq(s.ret[1], STATUS_END_OF_FILE); /* its own request's status, not a's */
  ck_assert_int_eq(s.iosb[0].Status, STATUS_SUCCESS);
  ck_assert_uint_eq(s.iosb[0].Information, 512);
  ck_assert_int_ne(s.irp[0], s.irp[1]);
  /* b's IRP was built after a's NtReadFile had returned. */
  const sim_irp_info_t *second = sim_irp_info(S, s.irp[1]);
  ck_assert_ptr_nonnull(second);
  ck_assert_uint_ge(second->issued_ns, s.returned_at[0]);
  sim_destroy(S);
}
END_TEST

/* ---- 5.9 and 6.10: an alertable synchronous read and a user APC ---- */

/* A device that keeps every read until it is cancelled. */
static void keep_cancel(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  IoReleaseCancelSpinLock(irp->CancelIrql);
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS keep_read(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  IoMarkIrpPending(irp);
  IoSetCancelRoutine(irp, keep_cancel);
  return STATUS_PENDING;
}

static NTSTATUS keep_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  PDEVICE_OBJECT dev;
  NTSTATUS st = sim_create_device(drv, 0, (const char *)arg, &dev);
  if (!NT_SUCCESS(st)) return st;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = done_at_once;
  drv->MajorFunction[IRP_MJ_READ] = keep_read;
  return STATUS_SUCCESS;
}

typedef struct alerted {
  PDEVICE_OBJECT fast, keeper;
  sim_t *S;
  int apcs;
  /* what the thread saw */
  NTSTATUS sync_ret, later_wait, nonalert_sleep, alert_sleep;
  int apcs_at_sync_return, apcs_after_nonalert_sleep;
  uint32_t sync_irp;
  bool sync_irp_done_at_return;
  KEVENT never;
} alerted_t;

static void count_apc(PVOID ctx, PIO_STATUS_BLOCK iosb, ULONG reserved) {
  (void)iosb, (void)reserved;
  ((alerted_t *)ctx)->apcs++;
}

/* ReadFileEx on the fast disk, then a synchronous read on an alertable
   handle that the keeper holds: the first read's APC breaks the wait. */
static void interrupted_reader(PVOID arg) {
  alerted_t *a = arg;
  PFILE_OBJECT ov, sync;
  NtCreateFile(&ov, a->fast, 0, "ov");
  NtCreateFile(&sync, a->keeper, FILE_SYNCHRONOUS_IO_ALERT, "sync");
  IO_STATUS_BLOCK iosb1, iosb2;
  LONGLONG at = 0;
  NtReadFile(ov, NULL, count_apc, a, &iosb1, NULL, 512, &at);
  a->sync_ret = NtReadFile(sync, NULL, NULL, NULL, &iosb2, NULL, 16, &at);
  a->sync_irp = sim_last_irp_id();
  a->apcs_at_sync_return = a->apcs;
  const sim_irp_info_t *in = sim_irp_info(a->S, a->sync_irp);
  a->sync_irp_done_at_return = in && in->completed && in->freed;
  LONGLONG hundred_us = -1000;
  PVOID objs[1] = {&a->never};
  a->later_wait = NtWaitForMultipleObjects(1, objs, WaitAny, FALSE, &hundred_us);
}

START_TEST(alerted_sync_read_cancelled_and_waited_for) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t fast = {.name = "fast0", .mode = TDISK_PEND, .status = STATUS_SUCCESS, .info = 512, .latency_ns = 50000};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &fast));
  PDRIVER_OBJECT keeper = sim_load_driver(S, "keeper", keep_entry, (PVOID)(uintptr_t)"com1");
  ck_assert_ptr_nonnull(keeper);
  alerted_t a = {.fast = fast.dev, .keeper = keeper->DeviceObject, .S = S};
  KeInitializeEvent(&a.never, NotificationEvent, FALSE);
  sim_thread_create(S, "app", interrupted_reader, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  /* The service cancelled its IRP and waited for it: the request's own
     status, the IRP finished and freed before the call returned. */
  ck_assert_int_eq(a.sync_ret, STATUS_CANCELLED);
  ck_assert(a.sync_irp_done_at_return);
  /* The APC that broke the wait ran on the way back to user mode, once;
     the later non-alertable wait found nothing pending and timed out. */
  ck_assert_int_eq(a.apcs_at_sync_return, 1);
  ck_assert_int_eq(a.apcs, 1);
  ck_assert_int_eq(a.later_wait, STATUS_TIMEOUT);
  sim_destroy(S);
}
END_TEST

/* A user APC queued while the thread waits non-alertably sets no
   UserApcPending: the service returns without delivering it, and it waits
   for the next alertable wait (kernel-facts 6.10). */
static void nonalertable_then_alertable(PVOID arg) {
  alerted_t *a = arg;
  PFILE_OBJECT ov;
  NtCreateFile(&ov, a->fast, 0, "ov");
  IO_STATUS_BLOCK iosb;
  LONGLONG at = 0, two_hundred_us = -2000, one_ms = -10000;
  NtReadFile(ov, NULL, count_apc, a, &iosb, NULL, 512, &at);
  a->nonalert_sleep = NtDelayExecution(FALSE, &two_hundred_us);
  a->apcs_after_nonalert_sleep = a->apcs;
  a->alert_sleep = NtDelayExecution(TRUE, &one_ms);
}

START_TEST(user_apc_waits_without_pending_flag) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t fast = {.name = "fast0", .mode = TDISK_PEND, .status = STATUS_SUCCESS, .info = 512, .latency_ns = 50000};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &fast));
  alerted_t a = {.fast = fast.dev, .S = S};
  sim_thread_create(S, "app", nonalertable_then_alertable, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a.nonalert_sleep, STATUS_SUCCESS);
  ck_assert_int_eq(a.apcs_after_nonalert_sleep, 0);
  ck_assert_int_eq(a.alert_sleep, STATUS_USER_APC);
  ck_assert_int_eq(a.apcs, 1);
  sim_destroy(S);
}
END_TEST

/* ---- the same facts in the trace: scenario fixtures ---- */


START_TEST(fixture_shared_handle) {
  tfix_holds(FIX "sync-handle-shared.iosim", 8);
}
END_TEST

START_TEST(fixture_alert_interrupted) {
  tfix_holds(FIX "sync-alert-interrupted.iosim", 10);
}
END_TEST

START_TEST(fixture_lock_interrupted) {
  tfix_holds(FIX "sync-lock-interrupted.iosim", 6);
}
END_TEST

TEST_SUITE(synclock_suite)
static Suite *synclock_suite(void) {
  Suite *s = suite_create("synclock");
  TCase *lock = tcase_create("file object lock (5.8)");
  tcase_add_test(lock, sync_handle_serializes);
  tcase_add_test(lock, fixture_shared_handle);
  tcase_add_test(lock, fixture_lock_interrupted);
  suite_add_tcase(s, lock);
  TCase *alert = tcase_create("interrupted request, user APC at service exit (5.9, 6.10)");
  tcase_add_test(alert, alerted_sync_read_cancelled_and_waited_for);
  tcase_add_test(alert, user_apc_waits_without_pending_flag);
  tcase_add_test(alert, fixture_alert_interrupted);
  suite_add_tcase(s, alert);
  return s;
}
