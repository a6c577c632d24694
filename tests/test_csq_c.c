/*
 * test_csq_c.c - the cancel-safe queue routines in C (kernel-facts 8.4,
 * 13.6): a driver queues reads with IoCsqInsertIrp and a worker takes them
 * with IoCsqRemoveNextIrp or IoCsqRemoveIrp; a CancelIoEx racing with the
 * removal on another CPU leaves the IRP owned - and completed - exactly
 * once under every interleaving, both endings happening across seeds; an
 * IRP cancelled before it reached the queue is completed as cancelled by
 * the insertion itself.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct csq_drv {
  IO_CSQ csq;
  LIST_ENTRY queue;
  KSPIN_LOCK lock;
  PDEVICE_OBJECT dev;
  IO_CSQ_IRP_CONTEXT ctx;
  bool use_ctx;               /* insert with a context, remove with IoCsqRemoveIrp */
  uint64_t insert_delay;      /* the dispatch routine dawdles before inserting */
  uint64_t cancel_delay, remove_delay;
  bool canceller, remover;
  int cancelled_completions, normal_completions, removals_empty;
  PFILE_OBJECT file;
  KEVENT opened, queued;
  IO_STATUS_BLOCK iosb;
  KEVENT done;
} csq_drv_t;

static csq_drv_t *drv_of(PIO_CSQ csq) { return CONTAINING_RECORD(csq, csq_drv_t, csq); }

static void q_insert(PIO_CSQ csq, PIRP irp) { InsertTailList(&drv_of(csq)->queue, &irp->Tail.Overlay.ListEntry); }
static void q_remove(PIO_CSQ csq, PIRP irp) {
  (void)csq;
  RemoveEntryList(&irp->Tail.Overlay.ListEntry);
}
static PIRP q_peek(PIO_CSQ csq, PIRP irp, PVOID peek) {
  (void)peek;
  LIST_ENTRY *h = &drv_of(csq)->queue, *e = irp ? irp->Tail.Overlay.ListEntry.Flink : h->Flink;
  return e == h ? NULL : CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
}
static void q_lock(PIO_CSQ csq, PKIRQL irql) { KeAcquireSpinLock(&drv_of(csq)->lock, irql); }
static void q_unlock(PIO_CSQ csq, KIRQL irql) { KeReleaseSpinLock(&drv_of(csq)->lock, irql); }
static void q_complete_cancelled(PIO_CSQ csq, PIRP irp) {
  drv_of(csq)->cancelled_completions++;
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS d_open(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS d_read(PDEVICE_OBJECT dev, PIRP irp) {
  csq_drv_t *d = dev->DriverObject->SimContext;
  if (d->insert_delay) sim_delay(d->insert_delay);
  IoCsqInsertIrp(&d->csq, irp, d->use_ctx ? &d->ctx : NULL);
  KeSetEvent(&d->queued, 0, FALSE);
  return STATUS_PENDING;
}

static NTSTATUS d_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  csq_drv_t *d = arg;
  drv->SimContext = d;
  drv->MajorFunction[IRP_MJ_CREATE] = d_open;
  drv->MajorFunction[IRP_MJ_CLEANUP] = d_open;
  drv->MajorFunction[IRP_MJ_CLOSE] = d_open;
  drv->MajorFunction[IRP_MJ_READ] = d_read;
  InitializeListHead(&d->queue);
  KeInitializeSpinLock(&d->lock);
  IoCsqInitialize(&d->csq, q_insert, q_remove, q_peek, q_lock, q_unlock, q_complete_cancelled);
  return sim_create_device(drv, 0, "csq0", &d->dev);
}

static void app(PVOID arg) {
  csq_drv_t *d = arg;
  NtCreateFile(&d->file, d->dev, 0, "f");
  KeSetEvent(&d->opened, 0, FALSE);
  LONGLONG off = 0;
  NtReadFile(d->file, &d->done, NULL, NULL, &d->iosb, NULL, 64, &off);
  KeWaitForSingleObject(&d->done, UserRequest, UserMode, FALSE, NULL);
  NtClose(d->file);
}

static void canceller(PVOID arg) {
  csq_drv_t *d = arg;
  KeWaitForSingleObject(d->insert_delay ? &d->opened : &d->queued, Executive, KernelMode, FALSE, NULL);
  sim_delay(d->cancel_delay);
  NtCancelIoFileEx(d->file, NULL);
}

/* Takes the IRP out of the queue and completes it. */
static void remover(PVOID arg) {
  csq_drv_t *d = arg;
  KeWaitForSingleObject(&d->queued, Executive, KernelMode, FALSE, NULL);
  sim_delay(d->remove_delay);
  PIRP irp = d->use_ctx ? IoCsqRemoveIrp(&d->csq, &d->ctx) : IoCsqRemoveNextIrp(&d->csq, NULL);
  if (!irp) {
    d->removals_empty++;
    return;
  }
  d->normal_completions++;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 64;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static sim_t *csq_machine(csq_drv_t *d, uint64_t seed, unsigned jitter, tlog_t *log) {
  sim_config_t cfg = {.cpus = 3, .seed = seed, .jitter_pct = jitter};
  sim_t *S = sim_create(&cfg);
  sim_keep_irp_info(S, true);
  if (log) {
    trc_sink_t sink = tlog_sink(log);
    sim_set_sink(S, &sink);
  }
  KeInitializeEvent(&d->opened, NotificationEvent, FALSE);
  KeInitializeEvent(&d->queued, NotificationEvent, FALSE);
  KeInitializeEvent(&d->done, NotificationEvent, FALSE);
  sim_load_driver(S, "csqdrv", d_entry, d);
  sim_thread_create(S, "app", app, d);
  if (d->canceller) sim_thread_create(S, "canceller", canceller, d);
  if (d->remover) sim_thread_create(S, "remover", remover, d);
  return S;
}

/* Without a cancel: the remover takes the queued read and completes it. */
START_TEST(queued_irp_is_removed_and_completed) {
  for (int with_ctx = 0; with_ctx <= 1; with_ctx++) {
    csq_drv_t d = {.remover = true, .use_ctx = with_ctx};
    tlog_t log = {0};
    sim_t *S = csq_machine(&d, 1, 0, &log);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(d.normal_completions, 1);
    ck_assert_int_eq(d.cancelled_completions, 0);
    ck_assert_int_eq(d.iosb.Status, STATUS_SUCCESS);
    ck_assert_int_eq(d.iosb.Information, 64);
    ck_assert(IsListEmpty(&d.queue));
    ck_assert_ptr_null(d.ctx.Irp);
    int ins = tlog_find(&log, TRC_CSQ_INSERT, 0), rem = tlog_find(&log, TRC_CSQ_REMOVE, ins);
    ck_assert(ins >= 0 && rem > ins);
    ck_assert_int_eq(log.v[ins].count, 1);
    ck_assert_int_eq(log.v[rem].count, 1);
    ck_assert_uint_eq(log.v[rem].irp, log.v[ins].irp);
    sim_destroy(S);
    tlog_free(&log);
  }
}
END_TEST

/* CancelIoEx on one CPU, the removal on another, at about the same time,
   under 40 seeds with jitter: the IRP is completed exactly once - by the
   cancel routine (STATUS_CANCELLED, the remover finds nothing) or by the
   remover (STATUS_SUCCESS, the cancel finds no routine) - and both
   endings happen. */
START_TEST(cancel_racing_removal_leaves_the_irp_owned_once) {
  int cancelled = 0, removed = 0;
  for (int with_ctx = 0; with_ctx <= 1; with_ctx++)
    for (uint64_t seed = 1; seed <= 20; seed++) {
      csq_drv_t d = {.canceller = true, .remover = true, .use_ctx = with_ctx, .cancel_delay = 0,
                     .remove_delay = 600};
      sim_t *S = csq_machine(&d, seed, 60, NULL);
      ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
      ck_assert_int_eq(d.cancelled_completions + d.normal_completions, 1);
      if (d.cancelled_completions) {
        ck_assert_int_eq(d.iosb.Status, STATUS_CANCELLED);
        ck_assert_int_eq(d.removals_empty, 1);
        cancelled++;
      } else {
        ck_assert_int_eq(d.iosb.Status, STATUS_SUCCESS);
        removed++;
      }
      ck_assert(IsListEmpty(&d.queue));
      sim_destroy(S);
    }
  ck_assert_int_gt(cancelled, 0);
  ck_assert_int_gt(removed, 0);
}
END_TEST

/* The read is cancelled while its dispatch routine dawdles (no cancel
   routine yet: IoCancelIrp only sets Cancel); IoCsqInsertIrp sees it,
   takes its own routine back and completes the IRP as cancelled instead
   of queueing it. */
START_TEST(irp_cancelled_before_insertion_is_completed_by_it) {
  csq_drv_t d = {.canceller = true, .insert_delay = 20000, .cancel_delay = 5000};
  tlog_t log = {0};
  sim_t *S = csq_machine(&d, 1, 0, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(d.cancelled_completions, 1);
  ck_assert_int_eq(d.iosb.Status, STATUS_CANCELLED);
  ck_assert(IsListEmpty(&d.queue));
  int ins = tlog_find(&log, TRC_CSQ_INSERT, 0);
  ck_assert_int_ge(ins, 0);
  ck_assert_int_eq(log.v[ins].count, 0); /* not queued */
  ck_assert_int_lt(tlog_find(&log, TRC_CANCEL, 0), ins);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(csq_c_suite)
static Suite *csq_c_suite(void) {
  Suite *s = suite_create("csq_c");
  TCase *tc = tcase_create("csq_c");
  tcase_add_test(tc, queued_irp_is_removed_and_completed);
  tcase_add_test(tc, cancel_racing_removal_leaves_the_irp_owned_once);
  tcase_add_test(tc, irp_cancelled_before_insertion_is_completed_by_it);
  suite_add_tcase(s, tc);
  return s;
}
