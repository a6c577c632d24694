/*
 * test_cancel.c - associated IRPs (kernel-facts 4), cancellation (8.1-8.6) and
 * fast I/O (9.2): the master completes once, after its last child; a
 * cancel after completion does nothing; IoCancelIrp without a routine
 * returns FALSE; a thread with I/O outstanding is not terminated before its
 * IRPs complete; a fast I/O hit allocates no IRP.
 */
#include "drivers.h"
#include "iosim/scenario.h"
#include "testlib.h"

/* ---- a driver that keeps IRPs until told, with an optional cancel routine ---- */
typedef struct holder {
  PDEVICE_OBJECT dev;
  PIRP held;
  bool with_cancel;
  int cancels;            /* cancel routine runs */
  KIRQL cancel_irql;      /* the IRQL the cancel routine was called at */
  BOOLEAN cancel_ret[4];  /* what IoCancelIrp returned, in order */
  int ncancel;
  NTSTATUS final;
  bool cancel_flag_after; /* Irp->Cancel seen set after a FALSE IoCancelIrp */
  /* the issuing thread */
  PKTHREAD issuer;
  bool issuer_done_at_completion;
  KEVENT go;              /* the completer thread waits for this */
} holder_t;

static holder_t *holder_of(PDEVICE_OBJECT d) { return d->DriverObject->SimContext; }

static void holder_cancel(PDEVICE_OBJECT dev, PIRP irp) {
  holder_t *h = holder_of(dev);
  h->cancel_irql = KeGetCurrentIrql();
  IoReleaseCancelSpinLock(irp->CancelIrql);
  h->cancels++;
  h->held = NULL;
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS holder_open(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS holder_read(PDEVICE_OBJECT dev, PIRP irp) {
  holder_t *h = holder_of(dev);
  IoMarkIrpPending(irp);
  h->held = irp;
  if (h->with_cancel) IoSetCancelRoutine(irp, holder_cancel);
  KeSetEvent(&h->go, 0, FALSE);
  return STATUS_PENDING;
}

static NTSTATUS holder_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  holder_t *h = arg;
  drv->SimContext = h;
  drv->MajorFunction[IRP_MJ_CREATE] = holder_open;
  drv->MajorFunction[IRP_MJ_CLEANUP] = holder_open;
  drv->MajorFunction[IRP_MJ_CLOSE] = holder_open;
  drv->MajorFunction[IRP_MJ_READ] = holder_read;
  KeInitializeEvent(&h->go, NotificationEvent, FALSE);
  return sim_create_device(drv, 0, "hold0", &h->dev);
}

/* Completes the held IRP (taking the cancel routine back first), then
   tries to cancel it: too late. */
static void completer(PVOID arg) {
  holder_t *h = arg;
  KeWaitForSingleObject(&h->go, Executive, KernelMode, FALSE, NULL);
  LARGE_INTEGER later = {.QuadPart = -2000};
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  PIRP irp = h->held;
  if (!irp) return;
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  if (!h->with_cancel || IoSetCancelRoutine(irp, NULL)) {
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 7;
    h->issuer_done_at_completion = sim_thread_finished(h->issuer);
    h->held = NULL;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
  }
  KeLowerIrql(old);
}

typedef struct issue {
  holder_t *h;
  bool cancel_first;      /* cancel before the completer runs */
  bool exit_early;        /* return with the read in flight */
  IO_STATUS_BLOCK iosb;
  KEVENT ev;
} issue_t;

static void issuer(PVOID arg) {
  issue_t *t = arg;
  PFILE_OBJECT f;
  NtCreateFile(&f, t->h->dev, 0, "f");
  KeInitializeEvent(&t->ev, NotificationEvent, FALSE);
  LONGLONG off = 0;
  NtReadFile(f, &t->ev, NULL, NULL, &t->iosb, NULL, 64, &off);
  if (t->exit_early) return; /* IoCancelThreadIo takes over */
  if (t->cancel_first) {
    PIRP irp = t->h->held;
    t->h->cancel_ret[t->h->ncancel++] = IoCancelIrp(irp);
    if (t->h->held) t->h->cancel_flag_after = irp->Cancel;
  }
  KeWaitForSingleObject(&t->ev, UserRequest, UserMode, FALSE, NULL);
  t->h->final = t->iosb.Status;
  /* the IRP is complete (and freed): CancelIoEx finds nothing */
  t->h->cancel_ret[t->h->ncancel++] = NtCancelIoFileEx(f, &t->iosb) == STATUS_NOT_FOUND;
}

static sim_t *hold_machine(holder_t *h, issue_t *t, bool completer_on) {
  sim_t *S = tsim_new(1, NULL);
  sim_load_driver(S, "holder", holder_entry, h);
  t->h = h;
  h->issuer = sim_thread_create(S, "issuer", issuer, t);
  if (completer_on) sim_thread_create(S, "completer", completer, h);
  return S;
}

/* kernel-facts 8.1: no cancel routine - IoCancelIrp sets Cancel, returns FALSE. */
START_TEST(cancel_without_routine_returns_false) {
  holder_t h = {.with_cancel = false};
  issue_t t = {.cancel_first = true};
  sim_t *S = hold_machine(&h, &t, true);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(!h.cancel_ret[0]);
  ck_assert(h.cancel_flag_after);
  ck_assert_int_eq(h.cancels, 0);
  ck_assert_int_eq(h.final, STATUS_SUCCESS); /* the completion went ahead */
  sim_destroy(S);
}
END_TEST

/* kernel-facts 8.1-8.2: with a routine, IoCancelIrp calls it; it completes
   with STATUS_CANCELLED. */
START_TEST(cancel_with_routine_completes_cancelled) {
  holder_t h = {.with_cancel = true};
  issue_t t = {.cancel_first = true};
  sim_t *S = hold_machine(&h, &t, true);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(h.cancel_ret[0]);
  ck_assert_int_eq(h.cancels, 1);
  ck_assert_int_eq(h.final, STATUS_CANCELLED);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 8.3 / 8.5: a cancel after completion does nothing. */
START_TEST(cancel_after_completion_does_nothing) {
  holder_t h = {.with_cancel = true};
  issue_t t = {.cancel_first = false};
  sim_t *S = hold_machine(&h, &t, true);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(h.final, STATUS_SUCCESS);
  ck_assert_int_eq(h.cancels, 0);
  ck_assert(h.cancel_ret[0]); /* CancelIoEx: STATUS_NOT_FOUND */
  sim_destroy(S);
}
END_TEST

/* kernel-facts 8.6: a thread that exits with I/O outstanding cancels it and
   is not terminated before its IRPs complete. */
START_TEST(exiting_thread_waits_for_its_irps) {
  holder_t h = {.with_cancel = false};
  issue_t t = {.exit_early = true};
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  sim_load_driver(S, "holder", holder_entry, &h);
  t.h = &h;
  h.issuer = sim_thread_create(S, "issuer", issuer, &t);
  sim_thread_create(S, "completer", completer, &h);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(!h.issuer_done_at_completion);
  int cancel = tlog_find(&log, TRC_CANCEL, 0), done = tlog_find(&log, TRC_WALK_DONE, cancel);
  int exit = tlog_find_x(&log, TRC_THREAD_EXIT, 0, "issuer", 0);
  ck_assert_int_ge(cancel, 0);
  ck_assert_int_gt(done, cancel);
  ck_assert_int_gt(exit, done);
  ck_assert(sim_thread_finished(h.issuer));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 8.1-8.2: the cancel routine is called at DISPATCH_LEVEL with
   the cancel spin lock held, and gets back the caller's IRQL in CancelIrql. */
START_TEST(cancel_routine_runs_at_dispatch) {
  holder_t h = {.with_cancel = true};
  issue_t t = {.cancel_first = true};
  sim_t *S = hold_machine(&h, &t, true);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(h.cancel_irql, DISPATCH_LEVEL);
  sim_destroy(S);
}
END_TEST

/* ---- the user-mode cancel calls ---- */

typedef struct ucancel {
  holder_t h;
  bool sync_file;        /* the issuer reads through a synchronous handle */
  bool use_cancel_io;    /* the issuer itself calls CancelIo */
  NTSTATUS read_status, cancel_status, second_status;
  bool cancel_io_returned_after_completion;
  PKTHREAD issuer;
} ucancel_t;

static void uc_issuer(PVOID arg) {
  ucancel_t *u = arg;
  PFILE_OBJECT f;
  NtCreateFile(&f, u->h.dev, u->sync_file ? FILE_SYNCHRONOUS_IO_NONALERT : 0, "f");
  IO_STATUS_BLOCK iosb = {STATUS_PENDING, 0};
  KEVENT ev;
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  LONGLONG off = 0;
  u->read_status = NtReadFile(f, u->sync_file ? NULL : &ev, NULL, NULL, &iosb, NULL, 64, &off);
  if (u->use_cancel_io) {
    u->cancel_status = NtCancelIoFile(f, NULL);
    /* CancelIo waits until its requests have left the thread's list */
    u->cancel_io_returned_after_completion = u->h.cancels == 1;
  }
  if (!u->sync_file) KeWaitForSingleObject(&ev, UserRequest, UserMode, FALSE, NULL);
  u->h.final = iosb.Status;
}

/* CancelSynchronousIo from another thread: the issuer is blocked inside
   its synchronous read; a second call finds nothing. */
static void uc_canceller(PVOID arg) {
  ucancel_t *u = arg;
  KeWaitForSingleObject(&u->h.go, Executive, KernelMode, FALSE, NULL);
  LARGE_INTEGER later = {.QuadPart = -500};
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  u->cancel_status = NtCancelSynchronousIoFile(u->issuer);
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  u->second_status = NtCancelSynchronousIoFile(u->issuer);
}

/* kernel-facts 8.5: CancelIo cancels the calling thread's requests on the
   file and returns only when they are gone. */
START_TEST(cancel_io_waits_for_its_requests) {
  ucancel_t u = {.h = {.with_cancel = true}, .use_cancel_io = true};
  sim_t *S = tsim_new(1, NULL);
  sim_load_driver(S, "holder", holder_entry, &u.h);
  u.issuer = sim_thread_create(S, "issuer", uc_issuer, &u);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(u.read_status, STATUS_PENDING);
  ck_assert_int_eq(u.cancel_status, STATUS_SUCCESS);
  ck_assert(u.cancel_io_returned_after_completion);
  ck_assert_int_eq(u.h.final, STATUS_CANCELLED);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 8.5: CancelSynchronousIo cancels another thread's synchronous
   request; with none in progress it returns STATUS_NOT_FOUND. */
START_TEST(cancel_synchronous_io) {
  ucancel_t u = {.h = {.with_cancel = true}, .sync_file = true};
  sim_t *S = tsim_new(2, NULL);
  sim_load_driver(S, "holder", holder_entry, &u.h);
  u.issuer = sim_thread_create(S, "issuer", uc_issuer, &u);
  sim_thread_create(S, "canceller", uc_canceller, &u);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(u.cancel_status, STATUS_SUCCESS);
  ck_assert_int_eq(u.read_status, STATUS_CANCELLED);
  ck_assert_int_eq(u.second_status, STATUS_NOT_FOUND);
  sim_destroy(S);
}
END_TEST

/* ---- scenario-level checks ---- */
static void run_lesson(const char *path, tlog_t *log, sim_stats_t *stats, scn_result_t *r);

static void grab(void *ud, sim_t *S, const scn_result_t *r) {
  (void)r;
  *(sim_stats_t *)ud = sim_stats(S);
}

typedef struct both {
  tlog_t *log;
  sim_stats_t *stats;
} both_t;

static void start_log(void *ud, sim_t *S) {
  both_t *b = ud;
  trc_sink_t s = tlog_sink(b->log);
  sim_add_sink(S, &s);
}
static void finish_stats(void *ud, sim_t *S, const scn_result_t *r) {
  both_t *b = ud;
  grab(b->stats, S, r);
}

static void run_lesson(const char *path, tlog_t *log, sim_stats_t *stats, scn_result_t *r) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  both_t b = {log, stats};
  scn_run_opts_t o = {.on_start = start_log, .on_finish = finish_stats, .ud = &b};
  ck_assert_int_eq(scn_run(sc, &o, r, &err), 0);
  scn_free(sc);
}

/* kernel-facts 4.3: the master completes once, and only after its last
   associated IRP; children get no stage 2. */
START_TEST(master_completes_after_last_child) {
  tlog_t log = {0};
  sim_stats_t st;
  scn_result_t r;
  run_lesson("../scenarios/lessons/14-associated-irps.iosim", &log, &st, &r);
  ck_assert_int_eq(r.expect_failed, 0);
  int last_child = -1;
  for (size_t i = 0; i < log.n && last_child < 0; i++)
    if (log.v[i].kind == TRC_ASSOCIATED_DONE && log.v[i].count == 0) last_child = (int)i;
  ck_assert_int_ge(last_child, 0);
  uint32_t master = 0;
  int first_master_done = -1;
  for (size_t i = 0; i < log.n; i++)
    if (log.v[i].kind == TRC_WALK_DONE && log.v[i].pending_returned == 1 && log.v[i].irp &&
        tlog_count_x(&log, TRC_APC_RUN, log.v[i].irp, NULL) == 1) {
      master = log.v[i].irp;
      first_master_done = (int)i;
      break;
    }
  ck_assert_uint_ne(master, 0);
  ck_assert_int_gt(first_master_done, last_child);
  ck_assert_int_eq(tlog_count_x(&log, TRC_WALK_DONE, master, NULL), 1);
  ck_assert_int_eq(tlog_count(&log, TRC_APC_RUN), 1); /* only the master's stage 2 */
  scn_result_free(&r);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 9.2: a fast I/O hit allocates no IRP. */
START_TEST(fast_io_hit_allocates_no_irp) {
  tlog_t log = {0};
  sim_stats_t st;
  scn_result_t r;
  run_lesson("../scenarios/lessons/19-fast-io.iosim", &log, &st, &r);
  ck_assert_int_eq(r.expect_failed, 0);
  int served = tlog_find(&log, TRC_FASTIO_SERVED, 0);
  ck_assert_int_ge(served, 0);
  int tried = tlog_find(&log, TRC_FASTIO, 0);
  /* between the attempt and the answer: no IRP came to be */
  for (int i = tried; i <= served; i++) ck_assert_int_ne(log.v[i].kind, TRC_IRP_ALLOC);
  ck_assert_uint_eq(st.irps_allocated, 7); /* 3 opens + 4 reads; the hit built none */
  scn_result_free(&r);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(suite_cancel)
static Suite *suite_cancel(void) {
  Suite *s = suite_create("cancel");
  TCase *tc = tcase_create("cancel, associated, fast I/O");
  tcase_add_test(tc, cancel_without_routine_returns_false);
  tcase_add_test(tc, cancel_with_routine_completes_cancelled);
  tcase_add_test(tc, cancel_after_completion_does_nothing);
  tcase_add_test(tc, exiting_thread_waits_for_its_irps);
  tcase_add_test(tc, cancel_routine_runs_at_dispatch);
  tcase_add_test(tc, cancel_io_waits_for_its_requests);
  tcase_add_test(tc, cancel_synchronous_io);
  tcase_add_test(tc, master_completes_after_last_child);
  tcase_add_test(tc, fast_io_hit_allocates_no_irp);
  suite_add_tcase(s, tc);
  return s;
}
