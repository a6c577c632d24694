/*
 * test_close_notify.c - the notification of a request on every path, and
 * closing a handle (kernel-facts 5.3, 5.4, 5.10, 7.8): a port-bound request
 * that fails at once gets no packet and no status block write, one that
 * succeeds at once has its status block written before the service returns
 * and still queues its packet; NtClose sends cleanup then close whatever the
 * driver does with cleanup, requests a cleanup routine completes notify like
 * any overlapped request, and cleanup and close IRPs are finished inside
 * IofCompleteRequest (no stage 2, no APC); SetFileCompletionNotificationModes.
 *
 * The driver ("keeper") and the programs record what they see; every
 * assertion runs after sim_run, never on a simulated thread's stack.
 */
#include <string.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "testlib.h"

#define KEEP_MAX 8

/* ---- the driver ---- */

typedef struct keeper {
  /* configuration */
  bool read_inline;        /* reads succeed in the dispatch, else they wait */
  NTSTATUS ioctl_status;   /* IOCTLs complete at once with this */
  bool has_cleanup;        /* a cleanup routine: it cancels the file's waiting reads */
  bool close_pends;        /* the close routine pends; the completer thread finishes it */
  /* state and observations */
  PDEVICE_OBJECT dev;
  PIRP held[KEEP_MAX];
  int nheld;
  int cleanups, closes;
  PIRP close_irp;
  KEVENT close_go;
} keeper_t;

static keeper_t *keeper_of(PDEVICE_OBJECT dev) { return dev->DriverObject->SimContext; }

static NTSTATUS finish(PIRP irp, NTSTATUS st, ULONG_PTR info) {
  irp->IoStatus.Status = st;
  irp->IoStatus.Information = info;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return st;
}

static NTSTATUS keep_create(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  return finish(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS keep_read(PDEVICE_OBJECT dev, PIRP irp) {
  keeper_t *k = keeper_of(dev);
  if (k->read_inline) return finish(irp, STATUS_SUCCESS, 512);
  IoMarkIrpPending(irp);
  k->held[k->nheld++] = irp;
  return STATUS_PENDING;
}

static NTSTATUS keep_ioctl(PDEVICE_OBJECT dev, PIRP irp) {
  keeper_t *k = keeper_of(dev);
  return finish(irp, k->ioctl_status, NT_ERROR(k->ioctl_status) ? 0 : 64);
}

/* Completes the cleanup IRP, then every waiting read of the same file
   object with STATUS_CANCELLED (what drivers' cleanup routines do). */
static NTSTATUS keep_cleanup(PDEVICE_OBJECT dev, PIRP irp) {
  keeper_t *k = keeper_of(dev);
  PFILE_OBJECT fo = IoGetCurrentIrpStackLocation(irp)->FileObject;
  k->cleanups++;
  PIRP mine[KEEP_MAX];
  int n = 0, left = 0;
  for (int i = 0; i < k->nheld; i++) {
    if (IoGetCurrentIrpStackLocation(k->held[i])->FileObject == fo) mine[n++] = k->held[i];
    else k->held[left++] = k->held[i];
  }
  k->nheld = left;
  finish(irp, STATUS_SUCCESS, 0);
  for (int i = 0; i < n; i++) finish(mine[i], STATUS_CANCELLED, 0);
  return STATUS_SUCCESS;
}

static NTSTATUS keep_close(PDEVICE_OBJECT dev, PIRP irp) {
  keeper_t *k = keeper_of(dev);
  k->closes++;
  if (!k->close_pends) return finish(irp, STATUS_SUCCESS, 0);
  IoMarkIrpPending(irp);
  k->close_irp = irp;
  KeSetEvent(&k->close_go, 0, FALSE);
  return STATUS_PENDING;
}

static NTSTATUS keep_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  keeper_t *k = arg;
  drv->SimContext = k;
  drv->MajorFunction[IRP_MJ_CREATE] = keep_create;
  drv->MajorFunction[IRP_MJ_READ] = keep_read;
  drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = keep_ioctl;
  if (k->has_cleanup) drv->MajorFunction[IRP_MJ_CLEANUP] = keep_cleanup;
  drv->MajorFunction[IRP_MJ_CLOSE] = keep_close;
  KeInitializeEvent(&k->close_go, NotificationEvent, FALSE);
  return sim_create_device(drv, 0, "keep0", &k->dev);
}

/* Finishes a pended close a while later, from another thread. */
static void completer(PVOID arg) {
  keeper_t *k = arg;
  KeWaitForSingleObject(&k->close_go, Executive, KernelMode, FALSE, NULL);
  LARGE_INTEGER later = {.QuadPart = -500}; /* 50 us */
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  finish(k->close_irp, STATUS_SUCCESS, 0);
}

/* ---- the program's side ---- */

typedef struct prog {
  sim_t *S;
  keeper_t *k;
  sim_port_t *port;
  PKTHREAD issuer;
  /* what the issuer saw */
  NTSTATUS ret[4];
  IO_STATUS_BLOCK iosb[4];     /* each request's status block (also its OVERLAPPED) */
  IO_STATUS_BLOCK seen[4];     /* the status block as the call returned */
  uint32_t irp[4];
  NTSTATUS close_ret, wait_ret, sleep_ret;
  uint64_t close_returned_ns;
  bool file_event_after[4];
  KEVENT ev;
  int apcs;
  NTSTATUS apc_status;
  /* what the worker dequeued */
  int packets;
  NTSTATUS packet_status[4];
} prog_t;

static void on_apc(PVOID ctx, PIO_STATUS_BLOCK iosb, ULONG reserved) {
  (void)reserved;
  prog_t *p = ctx;
  p->apcs++;
  p->apc_status = iosb->Status;
}

static void worker(PVOID arg) {
  prog_t *p = arg;
  LONGLONG later = -50; /* 5 us: the issuer creates the port first */
  NtDelayExecution(FALSE, &later);
  while (p->port) {
    ULONG_PTR key;
    PVOID ctx;
    IO_STATUS_BLOCK got;
    LONGLONG to = -10000; /* 1 ms */
    if (NtRemoveIoCompletion(p->port, &key, &ctx, &got, &to) != STATUS_SUCCESS) return;
    if (p->packets < 4) p->packet_status[p->packets] = got.Status;
    p->packets++;
  }
}

static sim_t *machine(keeper_t *k, prog_t *p, SIM_THREAD_START *issuer, tlog_t *log) {
  sim_t *S = tsim_new(1, log);
  PDRIVER_OBJECT drv = sim_load_driver(S, "keeper", keep_entry, k);
  ck_assert_ptr_nonnull(drv);
  p->S = S;
  p->k = k;
  for (int i = 0; i < 4; i++) p->iosb[i].Status = 0x1234; /* "never written" */
  p->issuer = sim_thread_create(S, "issuer", issuer, p);
  sim_thread_create(S, "worker", worker, p);
  return S;
}

/* An overlapped file bound to a new port. */
static PFILE_OBJECT open_bound(prog_t *p, const char *name) {
  PFILE_OBJECT f;
  if (!p->port) p->port = NtCreateIoCompletion(1, "P");
  NtCreateFile(&f, p->k->dev, 0, name);
  NtSetCompletionPort(f, p->port, 1);
  return f;
}

static void note_call(prog_t *p, int i, PFILE_OBJECT f) {
  p->seen[i] = p->iosb[i];
  p->irp[i] = sim_last_irp_id();
  p->file_event_after[i] = KeReadStateEvent(&f->Event) != 0;
}

/* ---- item 5: full versus reduced notification on port-bound handles ---- */

static void ioctl_fails(PVOID arg) {
  prog_t *p = arg;
  PFILE_OBJECT f = open_bound(p, "f");
  p->ret[0] = NtDeviceIoControlFile(f, NULL, NULL, &p->iosb[0], &p->iosb[0], 0x222003, NULL, 0, NULL, 64);
  note_call(p, 0, f);
}

/* kernel-facts 5.3: an IOCTL (not IRP_DEFER_IO_COMPLETION) that the driver
   fails at once on a port-bound overlapped handle queues no packet and
   leaves the status block alone, like a deferred read would. */
START_TEST(port_bound_ioctl_error_notifies_nothing) {
  keeper_t k = {.ioctl_status = STATUS_INVALID_PARAMETER};
  prog_t p = {0};
  tlog_t log = {0};
  sim_t *S = machine(&k, &p, ioctl_fails, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(p.ret[0], STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(p.iosb[0].Status, 0x1234);
  ck_assert_int_eq(p.packets, 0);
  ck_assert_int_eq(tlog_count(&log, TRC_PORT_QUEUED), 0);
  ck_assert_int_eq(tlog_count_x(&log, TRC_IOSB_WRITTEN, p.irp[0], NULL), 0);
  ck_assert_int_eq(tlog_count_x(&log, TRC_IRP_FREE, p.irp[0], NULL), 1); /* not leaked either */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

static void inline_successes(PVOID arg) {
  prog_t *p = arg;
  PFILE_OBJECT f = open_bound(p, "f");
  LONGLONG at = 0;
  p->ret[0] = NtReadFile(f, NULL, NULL, &p->iosb[0], &p->iosb[0], NULL, 512, &at);
  note_call(p, 0, f);
  p->ret[1] = NtDeviceIoControlFile(f, NULL, NULL, &p->iosb[1], &p->iosb[1], 0x222003, NULL, 0, NULL, 64);
  note_call(p, 1, f);
}

/* kernel-facts 5.4: a request on a port-bound handle that succeeds at once
   has its status block written before the call returns (ReadFile reads the
   byte count from it), in the issuing thread, exactly once - and its packet
   is queued all the same; for a read (deferred) and an IOCTL (not). */
START_TEST(port_bound_inline_success_writes_iosb_before_return) {
  keeper_t k = {.read_inline = true, .ioctl_status = STATUS_SUCCESS};
  prog_t p = {0};
  tlog_t log = {0};
  sim_t *S = machine(&k, &p, inline_successes, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  uint32_t issuer = sim_thread_id(p.issuer);
  const ULONG_PTR bytes[2] = {512, 64};
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(p.ret[i], STATUS_SUCCESS);
    ck_assert_int_eq(p.seen[i].Status, STATUS_SUCCESS); /* as the call returned */
    ck_assert_uint_eq(p.seen[i].Information, bytes[i]);
    ck_assert_int_eq(tlog_count_x(&log, TRC_IOSB_WRITTEN, p.irp[i], NULL), 1);
    int w = tlog_find_x(&log, TRC_IOSB_WRITTEN, p.irp[i], NULL, 0);
    int q = tlog_find_x(&log, TRC_PORT_QUEUED, p.irp[i], NULL, 0);
    int r = tlog_find_x(&log, TRC_SYSCALL_RETURN, p.irp[i], NULL, 0);
    ck_assert_int_ge(w, 0);
    ck_assert_int_ge(q, 0);
    ck_assert_int_lt(w, r);
    ck_assert_uint_eq(log.v[w].thread, issuer);
  }
  ck_assert_int_eq(p.packets, 2);
  ck_assert_int_eq(p.packet_status[0], STATUS_SUCCESS);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- item 7: closing a handle ---- */

static void open_close(PVOID arg) {
  prog_t *p = arg;
  PFILE_OBJECT f;
  NtCreateFile(&f, p->k->dev, FILE_SYNCHRONOUS_IO_NONALERT, "f");
  p->close_ret = NtClose(f);
  p->close_returned_ns = sim_now(p->S);
}

/* kernel-facts 5.10: with no cleanup routine the default one fails the
   cleanup (STATUS_INVALID_DEVICE_REQUEST); the close is sent anyway and
   NtClose succeeds. */
START_TEST(close_without_cleanup_routine_still_closes) {
  keeper_t k = {0};
  prog_t p = {0};
  sim_t *S = machine(&k, &p, open_close, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(p.close_ret, STATUS_SUCCESS);
  ck_assert_int_eq(k.closes, 1);
  uint32_t cleanup = tsim_find_irp(S, IRP_MJ_CLEANUP), close = tsim_find_irp(S, IRP_MJ_CLOSE);
  ck_assert_uint_gt(cleanup, 0);
  ck_assert_uint_gt(close, cleanup);
  ck_assert_int_eq(sim_irp_info(S, cleanup)->final.Status, STATUS_INVALID_DEVICE_REQUEST);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.10: a close IRP is finished inside IofCompleteRequest (its
   status block and event), even from another thread long after the
   dispatch pended it: no stage 2, no APC; the closing thread frees it. */
START_TEST(close_irp_finished_without_apc) {
  keeper_t k = {.close_pends = true};
  prog_t p = {0};
  tlog_t log = {0};
  sim_t *S = machine(&k, &p, open_close, &log);
  sim_thread_create(S, "completer", completer, &k);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(p.close_ret, STATUS_SUCCESS);
  uint32_t close = tsim_find_irp(S, IRP_MJ_CLOSE);
  ck_assert_uint_gt(close, 0);
  ck_assert_int_eq(tlog_count_x(&log, TRC_APC_QUEUED, close, NULL), 0);
  ck_assert_int_eq(tlog_count_x(&log, TRC_STAGE2, close, NULL), 0);
  ck_assert_int_eq(tlog_count_x(&log, TRC_IOSB_WRITTEN, close, NULL), 1);
  int w = tlog_find_x(&log, TRC_IOSB_WRITTEN, close, NULL, 0);
  int f = tlog_find_x(&log, TRC_IRP_FREE, close, NULL, 0);
  ck_assert_int_lt(w, f);
  ck_assert_uint_ne(log.v[w].thread, log.v[f].thread); /* completed by the completer, freed by the closer */
  ck_assert_uint_eq(log.v[f].thread, sim_thread_id(p.issuer));
  ck_assert_uint_ge(p.close_returned_ns, log.v[w].t_ns);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

static void close_with_waiting_reads(PVOID arg) {
  prog_t *p = arg;
  PFILE_OBJECT f, g = open_bound(p, "g");
  NtCreateFile(&f, p->k->dev, 0, "f");
  KeInitializeEvent(&p->ev, NotificationEvent, FALSE);
  LONGLONG at = 0;
  p->ret[0] = NtReadFile(f, &p->ev, NULL, NULL, &p->iosb[0], NULL, 16, &at);
  p->ret[1] = NtReadFile(f, NULL, on_apc, p, &p->iosb[1], NULL, 16, &at);
  p->ret[2] = NtReadFile(g, NULL, NULL, &p->iosb[2], &p->iosb[2], NULL, 16, &at);
  NtClose(f);
  NtClose(g);
  LARGE_INTEGER to = {.QuadPart = -10000}; /* 1 ms: the event must already be set */
  p->wait_ret = KeWaitForSingleObject(&p->ev, UserRequest, UserMode, FALSE, &to);
  p->sleep_ret = NtDelayExecution(TRUE, &to.QuadPart);
}

/* kernel-facts 5.10: the requests a cleanup routine completes with
   STATUS_CANCELLED are ordinary overlapped requests: the event, the status
   block, the APC, the port packet. */
START_TEST(cleanup_cancelled_requests_notify) {
  keeper_t k = {.has_cleanup = true};
  prog_t p = {0};
  sim_t *S = machine(&k, &p, close_with_waiting_reads, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(p.ret[i], STATUS_PENDING);
  ck_assert_int_eq(k.cleanups, 2);
  ck_assert_int_eq(k.closes, 2);
  ck_assert_int_eq(p.wait_ret, STATUS_SUCCESS);
  ck_assert_int_eq(p.iosb[0].Status, STATUS_CANCELLED);
  ck_assert_int_eq(p.sleep_ret, STATUS_USER_APC);
  ck_assert_int_eq(p.apcs, 1);
  ck_assert_int_eq(p.apc_status, STATUS_CANCELLED);
  ck_assert_int_eq(p.packets, 1);
  ck_assert_int_eq(p.packet_status[0], STATUS_CANCELLED);
  ck_assert_int_eq(p.iosb[2].Status, STATUS_CANCELLED);
  sim_destroy(S);
}
END_TEST

/* ---- SetFileCompletionNotificationModes (kernel-facts 7.8) ---- */

static void skip_modes(PVOID arg) {
  prog_t *p = arg;
  PFILE_OBJECT f = open_bound(p, "f");
  p->ret[3] = NtSetCompletionNotificationModes(f, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                      FILE_SKIP_SET_EVENT_ON_HANDLE);
  LONGLONG at = 0;
  p->k->read_inline = true;
  p->ret[0] = NtReadFile(f, NULL, NULL, &p->iosb[0], &p->iosb[0], NULL, 512, &at);
  note_call(p, 0, f);
  p->k->read_inline = false;
  KeInitializeEvent(&p->ev, NotificationEvent, FALSE);
  p->ret[1] = NtReadFile(f, &p->ev, NULL, &p->iosb[1], &p->iosb[1], NULL, 16, &at);
  p->ret[2] = NtReadFile(f, NULL, NULL, &p->iosb[2], &p->iosb[2], NULL, 16, &at);
  /* finish both waiting reads from here (a cleanup routine would too) */
  for (int i = 0; i < p->k->nheld; i++) finish(p->k->held[i], STATUS_SUCCESS, 16);
  p->k->nheld = 0;
  LARGE_INTEGER to = {.QuadPart = -20000}; /* 2 ms: the worker dequeues both packets */
  p->wait_ret = KeWaitForSingleObject(&p->ev, UserRequest, UserMode, FALSE, &to);
  NtDelayExecution(FALSE, &to.QuadPart);
  p->file_event_after[3] = KeReadStateEvent(&f->Event) != 0;
}

/* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: no packet for the request that
   succeeded at once (its status block is written before the return), a
   packet for each one that pended.  FILE_SKIP_SET_EVENT_ON_HANDLE: the file
   object's event is never set; an explicit event still is. */
START_TEST(skip_port_and_skip_event) {
  keeper_t k = {0};
  prog_t p = {0};
  tlog_t log = {0};
  sim_t *S = machine(&k, &p, skip_modes, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(p.ret[3], STATUS_SUCCESS);
  ck_assert_int_eq(p.ret[0], STATUS_SUCCESS);
  ck_assert_int_eq(p.seen[0].Status, STATUS_SUCCESS);
  ck_assert_uint_eq(p.seen[0].Information, 512);
  ck_assert_int_eq(tlog_count_x(&log, TRC_PORT_QUEUED, p.irp[0], NULL), 0);
  ck_assert_int_eq(tlog_count_x(&log, TRC_IRP_FREE, p.irp[0], NULL), 1);
  ck_assert_int_eq(p.ret[1], STATUS_PENDING);
  ck_assert_int_eq(p.ret[2], STATUS_PENDING);
  ck_assert_int_eq(p.packets, 2);
  ck_assert_int_eq(p.wait_ret, STATUS_SUCCESS); /* the explicit event */
  ck_assert(!p.file_event_after[0]);            /* not by the inline success */
  ck_assert(!p.file_event_after[3]);            /* nor by the dequeued ones */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

static void sync_skip_event(PVOID arg) {
  prog_t *p = arg;
  PFILE_OBJECT f;
  NtCreateFile(&f, p->k->dev, FILE_SYNCHRONOUS_IO_NONALERT, "f");
  p->ret[3] = NtSetCompletionNotificationModes(f, FILE_SKIP_SET_EVENT_ON_HANDLE);
  p->ret[0] = NtReadFile(f, NULL, NULL, NULL, &p->iosb[0], NULL, 16, NULL);
}

static void finish_held_later(PVOID arg) {
  keeper_t *k = arg;
  LARGE_INTEGER later = {.QuadPart = -500};
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  for (int i = 0; i < k->nheld; i++) finish(k->held[i], STATUS_SUCCESS, 16);
  k->nheld = 0;
}

/* A synchronous request that pends is waited for on the file object's
   event by the I/O manager itself: FILE_SKIP_SET_EVENT_ON_HANDLE does not
   stop that event, or the call would never return. */
START_TEST(skip_event_spares_the_synchronous_wait) {
  keeper_t k = {0};
  prog_t p = {0};
  sim_t *S = machine(&k, &p, sync_skip_event, NULL);
  sim_thread_create(S, "finisher", finish_held_later, &k);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(p.ret[3], STATUS_SUCCESS);
  ck_assert_int_eq(p.ret[0], STATUS_SUCCESS);
  ck_assert_uint_eq(p.iosb[0].Information, 16);
  sim_destroy(S);
}
END_TEST

/* notification-modes needs at least one mode, and knows only two words:
   refused at load with the place of the word. */
static void refused_at(const char *path, int line, int col) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (sc) scn_free(sc);
  ck_assert_msg(sc == NULL, "%s loaded, but it should have been refused", path);
  ck_assert_msg(err.line == line && err.col == col, "%s: error at %d:%d (%s), want %d:%d", path, err.line,
                err.col, err.msg, line, col);
  ck_assert_ptr_nonnull(strstr(err.msg, "expected skip-port-on-success or skip-set-event here"));
}

START_TEST(notification_modes_words) {
  refused_at("bad/scenarios/notification-modes-none.iosim", 11, 23);
  refused_at("bad/scenarios/notification-modes-unknown.iosim", 11, 39);
}
END_TEST

TEST_SUITE(suite_close_notify)
static Suite *suite_close_notify(void) {
  Suite *s = suite_create("close-notify");
  TCase *n = tcase_create("notification");
  tcase_add_test(n, port_bound_ioctl_error_notifies_nothing);
  tcase_add_test(n, port_bound_inline_success_writes_iosb_before_return);
  tcase_add_test(n, skip_port_and_skip_event);
  tcase_add_test(n, skip_event_spares_the_synchronous_wait);
  tcase_add_test(n, notification_modes_words);
  suite_add_tcase(s, n);
  TCase *c = tcase_create("close");
  tcase_add_test(c, close_without_cleanup_routine_still_closes);
  tcase_add_test(c, close_irp_finished_without_apc);
  tcase_add_test(c, cleanup_cancelled_requests_notify);
  suite_add_tcase(s, c);
  return s;
}
