/*
 * test_drivers_c.c - the C test drivers of tests/drivers-c/, written as
 * real WDM drivers are and built with the WDK headers (each one's
 * DriverEntry renamed NAME_DriverEntry by the test build), loaded by a
 * program thread and driven with the native calls: the answers, statuses
 * and bytes Windows gives, cancellation by CancelIoEx and by closing the
 * handle, StartIo's one-packet-at-a-time, timers completing requests, and
 * a filter's synchronous and asynchronous forwarding.  Also the device
 * queue routines on their own.
 */
#include "drivers.h"
#include "testlib.h"

#ifndef FILE_ANY_ACCESS
#define FILE_ANY_ACCESS 0
#endif
#include "drivers-c/drvctl.h"

NTSTATUS startio_DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
NTSTATUS fwdfilter_DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
NTSTATUS bufioctl_DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
NTSTATUS csqread_DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
NTSTATUS notify_DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);

static const LONGLONG zero_offset = 0;

/* ---- startio.c: IoStartPacket, the device queue, IoStartNextPacket from a DPC ---- */

typedef struct sio_app {
  sim_t *S;
  bool filter; /* open through fwdfilter.c */
  NTSTATUS load_st, cancel_st, st[3], stats_st, probe_st;
  ULONG_PTR info[3];
  char buf[3][32];
  FILTER_STATS stats;
  FILTER_PROBE probe;
  char after[16];
  ULONG_PTR after_info;
} sio_app_t;

static void sio_program(PVOID arg) {
  sio_app_t *a = arg;
  sim_t *S = a->S;
  a->load_st = sim_load_driver(S, "startio", startio_DriverEntry, NULL) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
  if (a->filter && !sim_load_driver(S, "fwdfilter", fwdfilter_DriverEntry, NULL)) a->load_st = STATUS_UNSUCCESSFUL;
  if (a->load_st) return;
  PFILE_OBJECT f;
  NtCreateFile(&f, sim_find_device(S, "StartIoDev"), 0, "f");
  IO_STATUS_BLOCK iosb[3];
  KEVENT ev[3];
  for (int i = 0; i < 3; i++) {
    KeInitializeEvent(&ev[i], NotificationEvent, FALSE);
    NtReadFile(f, &ev[i], NULL, NULL, &iosb[i], a->buf[i], 8 + 4 * i, &zero_offset);
  }
  a->cancel_st = NtCancelIoFileEx(f, &iosb[2]); /* still in the device queue */
  for (int i = 0; i < 3; i++) {
    KeWaitForSingleObject(&ev[i], Executive, KernelMode, FALSE, NULL);
    a->st[i] = iosb[i].Status;
    a->info[i] = iosb[i].Information;
  }
  KeClearEvent(&ev[0]);
  a->stats_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_SIO_STATS, NULL, 0, &a->stats,
                                      a->filter ? sizeof a->stats : sizeof(ULONG));
  if (a->filter) {
    KeClearEvent(&ev[0]);
    a->probe_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_FILTER_PROBE, NULL, 0, &a->probe,
                                        sizeof a->probe);
    if (a->probe_st == STATUS_PENDING) KeWaitForSingleObject(&ev[0], Executive, KernelMode, FALSE, NULL);
    a->probe_st = iosb[0].Status;
  }
  KeClearEvent(&ev[0]);
  NtReadFile(f, &ev[0], NULL, NULL, &iosb[0], a->after, 8, &zero_offset);
  KeWaitForSingleObject(&ev[0], Executive, KernelMode, FALSE, NULL);
  a->after_info = iosb[0].Information;
  NtClose(f);
}

static void sio_run(sio_app_t *a, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  a->S = S;
  sim_thread_create(S, "app", sio_program, a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a->load_st, STATUS_SUCCESS);
  ck_assert_int_eq(tlog_count(log, TRC_UNLOAD_LEFTOVER), 0);
  ck_assert_uint_eq(sim_pool_outstanding(S, NULL, 0), 0);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
}

START_TEST(startio_serves_one_packet_at_a_time_and_cancels_a_queued_one) {
  sio_app_t a = {0};
  tlog_t log = {0};
  sio_run(&a, &log);
  ck_assert_int_eq(a.cancel_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.st[0], STATUS_SUCCESS);
  ck_assert_uint_eq(a.info[0], 8);
  ck_assert_mem_eq(a.buf[0], "abcdefgh", 8);
  ck_assert_int_eq(a.st[1], STATUS_SUCCESS);
  ck_assert_uint_eq(a.info[1], 12);
  ck_assert_mem_eq(a.buf[1], "abcdefghijkl", 12);
  ck_assert_int_eq(a.st[2], STATUS_CANCELLED); /* taken out of the device queue by the cancel routine */
  ck_assert_uint_eq(a.info[2], 0);
  ck_assert_int_eq(a.stats_st, STATUS_SUCCESS);
  ck_assert_uint_eq(a.stats.Transfers, 2);
  ck_assert_uint_eq(a.after_info, 8);
  /* StartIo ran three times (two reads, the last one); each start after the
     first comes from the DPC of the transfer before it (the timer fired). */
  ck_assert_int_eq(tlog_count(&log, TRC_START_IO), 3);
  int s1 = tlog_find(&log, TRC_START_IO, 0);
  int s2 = tlog_find(&log, TRC_START_IO, s1 + 1);
  ck_assert_int_ge(tlog_find_x(&log, TRC_START_IO, 0, "IoStartPacket", 0), 0);
  int fired = tlog_find(&log, TRC_TIMER_FIRED, s1);
  ck_assert_int_gt(fired, s1);
  ck_assert_int_lt(fired, s2);
  ck_assert_int_ge(tlog_find_x(&log, TRC_START_IO, 0, "IoStartNextPacket", fired), fired);
  /* the device queue: idle -> busy, then two queued, one taken out by the cancel */
  int q = tlog_find_x(&log, TRC_DEVICE_QUEUE, 0, "the device was idle", 0);
  ck_assert_int_ge(q, 0);
  ck_assert_int_ge(tlog_find_x(&log, TRC_DEVICE_QUEUE, 0, "KeRemoveEntryDeviceQueue: the entry taken out", q), q);
  ck_assert_int_ge(tlog_find_x(&log, TRC_DEVICE_QUEUE, 0, "empty: the device is idle", q), q);
  tlog_free(&log);
}
END_TEST

START_TEST(a_filter_forwards_synchronously_and_asynchronously_and_builds_its_own_irps) {
  sio_app_t a = {.filter = true};
  tlog_t log = {0};
  sio_run(&a, &log);
  /* reads forwarded with a completion routine: capitals, the cancelled one too is passed up */
  ck_assert_int_eq(a.st[0], STATUS_SUCCESS);
  ck_assert_mem_eq(a.buf[0], "ABCDEFGH", 8);
  ck_assert_int_eq(a.st[1], STATUS_SUCCESS);
  ck_assert_mem_eq(a.buf[1], "ABCDEFGHIJKL", 12);
  ck_assert_int_eq(a.st[2], STATUS_CANCELLED);
  /* IoForwardIrpSynchronously: the lower driver's count plus the filter's */
  ck_assert_int_eq(a.stats_st, STATUS_SUCCESS);
  ck_assert_uint_eq(a.stats.Transfers, 2);
  ck_assert_uint_eq(a.stats.ReadsSeen, 2);
  /* the filter's own IRPs */
  ck_assert_int_eq(a.probe_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.probe.IoctlStatus, STATUS_SUCCESS);
  ck_assert_uint_eq(a.probe.Transfers, 2);
  ck_assert_int_eq(a.probe.SyncReadStatus, STATUS_SUCCESS);
  ck_assert_uint_eq(a.probe.SyncReadBytes, 8);
  ck_assert_mem_eq(a.probe.SyncData, "abcdefgh", 8); /* below the filter: no capitals */
  ck_assert_int_eq(a.probe.AsyncReadStatus, STATUS_SUCCESS);
  ck_assert_uint_eq(a.probe.AsyncReadBytes, 4);
  ck_assert_uint_eq(a.probe.ReusedWrites, 2);
  ck_assert_uint_eq(a.probe.ReusedBytes, 6);
  /* the writes reached the device: "WX" over "wxyz" */
  ck_assert_mem_eq(a.after, "WXYZEFGH", 8);
  tlog_free(&log);
}
END_TEST

/* ---- bufioctl.c: the four buffering methods ---- */

/* An IOCTL and its wait: the status block is written at stage 2. */
static NTSTATUS ioctl_wait(PFILE_OBJECT f, ULONG code, PVOID in, ULONG in_len, PVOID out, ULONG out_len,
                           ULONG_PTR *info) {
  IO_STATUS_BLOCK iosb = {0};
  KEVENT ev;
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  NTSTATUS st = NtDeviceIoControlFile(f, &ev, NULL, NULL, &iosb, code, in, in_len, out, out_len);
  if (st == STATUS_PENDING || NT_SUCCESS(st)) {
    KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
    st = iosb.Status;
  }
  *info = iosb.Information;
  return st;
}

typedef struct buf_app {
  sim_t *S;
  NTSTATUS load_st, st[4], small_st[2];
  ULONG_PTR info[4], small_info[2];
  char out[4][32], small[2][8];
} buf_app_t;

static const ULONG buf_codes[4] = {IOCTL_BUF_METHOD_BUFFERED, IOCTL_BUF_METHOD_IN_DIRECT, IOCTL_BUF_METHOD_OUT_DIRECT,
                                   IOCTL_BUF_METHOD_NEITHER};

static void buf_program(PVOID arg) {
  buf_app_t *a = arg;
  sim_t *S = a->S;
  a->load_st = sim_load_driver(S, "bufioctl", bufioctl_DriverEntry, NULL) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
  if (a->load_st) return;
  PFILE_OBJECT f;
  NtCreateFile(&f, sim_find_device(S, "BufIoctl"), 0, "f");
  char in[] = "hello, io";
  for (int i = 0; i < 4; i++)
    a->st[i] = ioctl_wait(f, buf_codes[i], in, (ULONG)strlen(in), a->out[i], sizeof a->out[i], &a->info[i]);
  for (int i = 0; i < 2; i++) {
    memcpy(a->small[i], "zzzzzzzz", 8);
    a->small_st[i] = ioctl_wait(f, buf_codes[i * 3], in, (ULONG)strlen(in), a->small[i], 8, &a->small_info[i]);
  }
  NtClose(f);
}

START_TEST(a_buffered_ioctl_driver_answers_on_all_four_methods) {
  buf_app_t a = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(2, &log);
  a.S = S;
  sim_thread_create(S, "app", buf_program, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a.load_st, STATUS_SUCCESS);
  static const char *want[4] = {"BUFFERED:HELLO, IO", "IN_DIRECT:HELLO, IO", "OUT_DIRECT:HELLO, IO",
                                "NEITHER:HELLO, IO"};
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(a.st[i], STATUS_SUCCESS);
    ck_assert_uint_eq(a.info[i], strlen(want[i]));
    ck_assert_mem_eq(a.out[i], want[i], strlen(want[i]));
  }
  /* an output buffer too small: the error, no bytes (stage 2 copies none
     back on an error, and the driver wrote none) */
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(a.small_st[i], STATUS_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(a.small_info[i], 0);
    ck_assert_mem_eq(a.small[i], "zzzzzzzz", 8);
  }
  /* only METHOD_BUFFERED's answer is copied back by stage 2 */
  ck_assert_int_eq(tlog_count(&log, TRC_BUFFER_COPY), 1);
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 0);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- csqread.c: a cancel-safe queue served by a polling system thread ---- */

typedef struct csq_app {
  sim_t *S;
  NTSTATUS load_st, cancel_st, st[5], wst[3];
  ULONG_PTR info[5], winfo[3];
  char buf[5][8];
  bool r4_done_before_close; /* f2's read still queued when f1 was closed */
} csq_app_t;

static NTSTATUS write_wait(PFILE_OBJECT f, const char *data, ULONG_PTR *info) {
  IO_STATUS_BLOCK iosb = {0};
  KEVENT ev;
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  NTSTATUS st = NtWriteFile(f, &ev, NULL, NULL, &iosb, (PVOID)data, (ULONG)strlen(data), &zero_offset);
  if (st == STATUS_PENDING || NT_SUCCESS(st)) {
    KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
    st = iosb.Status;
  }
  *info = iosb.Information;
  return st;
}

static void csq_program(PVOID arg) {
  csq_app_t *a = arg;
  sim_t *S = a->S;
  a->load_st = sim_load_driver(S, "csqread", csqread_DriverEntry, NULL) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
  if (a->load_st) return;
  PFILE_OBJECT f1, f2;
  NtCreateFile(&f1, sim_find_device(S, "CsqRead"), 0, "f1");
  NtCreateFile(&f2, sim_find_device(S, "CsqRead"), 0, "f2");
  IO_STATUS_BLOCK iosb[5];
  KEVENT ev[5];
  for (int i = 0; i < 5; i++) KeInitializeEvent(&ev[i], NotificationEvent, FALSE);
  for (int i = 0; i < 4; i++) NtReadFile(i == 3 ? f2 : f1, &ev[i], NULL, NULL, &iosb[i], a->buf[i], 8, &zero_offset);
  a->cancel_st = NtCancelIoFileEx(f1, &iosb[1]);
  a->wst[0] = write_wait(f1, "abcdefgh", &a->winfo[0]); /* all of it into the oldest read */
  KeWaitForSingleObject(&ev[0], Executive, KernelMode, FALSE, NULL);
  a->wst[1] = write_wait(f1, "xyz", &a->winfo[1]);
  KeWaitForSingleObject(&ev[2], Executive, KernelMode, FALSE, NULL);
  NtReadFile(f1, &ev[4], NULL, NULL, &iosb[4], a->buf[4], 8, &zero_offset);
  NtClose(f1); /* IRP_MJ_CLEANUP: f1's queued read is cancelled, f2's stays */
  KeWaitForSingleObject(&ev[4], Executive, KernelMode, FALSE, NULL);
  a->r4_done_before_close = KeReadStateEvent(&ev[3]) != 0;
  a->wst[2] = write_wait(f2, "12", &a->winfo[2]);
  for (int i = 0; i < 5; i++) {
    KeWaitForSingleObject(&ev[i], Executive, KernelMode, FALSE, NULL);
    a->st[i] = iosb[i].Status;
    a->info[i] = iosb[i].Information;
  }
  NtClose(f2);
}

START_TEST(a_csq_driver_serves_reads_from_its_thread_and_cancels_by_cancelio_and_close) {
  csq_app_t a = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(2, &log);
  a.S = S;
  sim_thread_create(S, "app", csq_program, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a.load_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.cancel_st, STATUS_SUCCESS);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(a.wst[i], STATUS_SUCCESS);
  ck_assert_uint_eq(a.winfo[0], 8);
  ck_assert_int_eq(a.st[0], STATUS_SUCCESS);
  ck_assert_uint_eq(a.info[0], 8);
  ck_assert_mem_eq(a.buf[0], "abcdefgh", 8);
  ck_assert_int_eq(a.st[1], STATUS_CANCELLED); /* CancelIoEx */
  ck_assert_int_eq(a.st[2], STATUS_SUCCESS);
  ck_assert_uint_eq(a.info[2], 3);
  ck_assert_mem_eq(a.buf[2], "xyz", 3);
  ck_assert_int_eq(a.st[4], STATUS_CANCELLED); /* its handle closed */
  ck_assert(!a.r4_done_before_close);
  ck_assert_int_eq(a.st[3], STATUS_SUCCESS); /* the other handle's read */
  ck_assert_uint_eq(a.info[3], 2);
  ck_assert_mem_eq(a.buf[3], "12", 2);
  /* served by the system thread, out of the cancel-safe queue */
  ck_assert_int_ge(tlog_count(&log, TRC_CSQ_REMOVE), 5);
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 0);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- notify.c: timers and DPCs completing requests, a cancel routine ---- */

typedef struct ntf_app {
  sim_t *S;
  NTSTATUS load_st, timed_st, cancel_st, cancelled_st, event_ioctl_st, event_wait_st, bad_handle_st, closed_st;
  LONGLONG timed_elapsed, cancelled_elapsed, event_elapsed;
} ntf_app_t;

static LONGLONG now_100ns(void) {
  LARGE_INTEGER t;
  KeQuerySystemTime(&t);
  return t.QuadPart;
}

static void ntf_program(PVOID arg) {
  ntf_app_t *a = arg;
  sim_t *S = a->S;
  a->load_st = sim_load_driver(S, "notify", notify_DriverEntry, NULL) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
  if (a->load_st) return;
  PFILE_OBJECT f, g;
  NtCreateFile(&f, sim_find_device(S, "Notify"), 0, "f");
  NtCreateFile(&g, sim_find_device(S, "Notify"), 0, "g");
  IO_STATUS_BLOCK iosb[3];
  KEVENT ev[3];
  for (int i = 0; i < 3; i++) KeInitializeEvent(&ev[i], NotificationEvent, FALSE);
  /* completed by the timer's DPC after 2 ms */
  LONG delay = 2;
  LONGLONG t0 = now_100ns();
  NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_NOTIFY_IRP, &delay, sizeof delay, NULL, 0);
  KeWaitForSingleObject(&ev[0], Executive, KernelMode, FALSE, NULL);
  a->timed_st = iosb[0].Status;
  a->timed_elapsed = now_100ns() - t0;
  /* cancelled long before its 50 ms */
  delay = 50;
  t0 = now_100ns();
  NtDeviceIoControlFile(f, &ev[1], NULL, NULL, &iosb[1], IOCTL_NOTIFY_IRP, &delay, sizeof delay, NULL, 0);
  a->cancel_st = NtCancelIoFileEx(f, &iosb[1]);
  KeWaitForSingleObject(&ev[1], Executive, KernelMode, FALSE, NULL);
  a->cancelled_st = iosb[1].Status;
  a->cancelled_elapsed = now_100ns() - t0;
  /* an event by handle, signalled by the DPC after 3 ms */
  HANDLE h;
  ZwCreateEvent(&h, EVENT_ALL_ACCESS, NULL, NotificationEvent, FALSE);
  PKEVENT user_event;
  ObReferenceObjectByHandle(h, SYNCHRONIZE, *ExEventObjectType, KernelMode, (PVOID *)&user_event, NULL);
  NOTIFY_EVENT_INPUT in = {h, 3};
  t0 = now_100ns();
  KeClearEvent(&ev[0]);
  a->event_ioctl_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_NOTIFY_EVENT, &in, sizeof in,
                                            NULL, 0);
  a->event_wait_st = KeWaitForSingleObject(user_event, Executive, KernelMode, FALSE, NULL);
  a->event_elapsed = now_100ns() - t0;
  ObDereferenceObject(user_event);
  ZwClose(h);
  NOTIFY_EVENT_INPUT bad = {(HANDLE)(ULONG_PTR)0x1234, 1};
  a->bad_handle_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_NOTIFY_EVENT, &bad, sizeof bad,
                                           NULL, 0);
  /* a request on g, pending when g's handle is closed */
  delay = 100;
  NtDeviceIoControlFile(g, &ev[2], NULL, NULL, &iosb[2], IOCTL_NOTIFY_IRP, &delay, sizeof delay, NULL, 0);
  NtClose(g);
  KeWaitForSingleObject(&ev[2], Executive, KernelMode, FALSE, NULL);
  a->closed_st = iosb[2].Status;
  NtClose(f);
}

START_TEST(a_timer_driver_completes_by_dpc_signals_events_and_honours_cancel) {
  ntf_app_t a = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(2, &log);
  a.S = S;
  sim_thread_create(S, "app", ntf_program, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a.load_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.timed_st, STATUS_SUCCESS);
  ck_assert_int_ge(a.timed_elapsed, 20000); /* not before its 2 ms */
  ck_assert_int_eq(a.cancel_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.cancelled_st, STATUS_CANCELLED);
  ck_assert_int_lt(a.cancelled_elapsed, 500000);
  ck_assert_int_eq(a.event_ioctl_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.event_wait_st, STATUS_SUCCESS);
  ck_assert_int_ge(a.event_elapsed, 30000);
  ck_assert_int_eq(a.bad_handle_st, STATUS_INVALID_HANDLE);
  ck_assert_int_eq(a.closed_st, STATUS_CANCELLED);
  ck_assert_int_eq(tlog_count(&log, TRC_TIMER_FIRED), 2);
  ck_assert_int_ge(tlog_count_x(&log, TRC_TIMER_CANCELLED, 0, NULL), 2);
  ck_assert_int_ge(tlog_count(&log, TRC_CANCEL_ROUTINE), 1);
  ck_assert_uint_eq(sim_pool_outstanding(S, NULL, 0), 0); /* every record freed, by the DPC or the cancel path */
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 0);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A threaded IRP of IoBuildDeviceIoControlRequest is on its thread's
   list: when the thread ends with it pending, the I/O manager cancels it
   (notify.c's cancel routine completes it) and waits; stage 2 still writes
   the status block and sets the event. */
typedef struct built_app {
  sim_t *S;
  IO_STATUS_BLOCK iosb;
  KEVENT ev;
  NTSTATUS call_st;
  LONGLONG started, ended;
} built_app_t;

static void built_issuer(PVOID arg) {
  built_app_t *a = arg;
  PDEVICE_OBJECT d = sim_find_device(a->S, "Notify");
  LONG delay = 100;
  KeInitializeEvent(&a->ev, NotificationEvent, FALSE);
  a->started = now_100ns();
  PIRP irp = IoBuildDeviceIoControlRequest(IOCTL_NOTIFY_IRP, d, &delay, sizeof delay, NULL, 0, FALSE, &a->ev,
                                           &a->iosb);
  a->call_st = IoCallDriver(d, irp);
  /* returns with the IRP pending: the thread's exit cancels it */
}

static void built_program(PVOID arg) {
  built_app_t *a = arg;
  if (!sim_load_driver(a->S, "notify", notify_DriverEntry, NULL)) return;
  PKTHREAD t = sim_thread_create(a->S, "issuer", built_issuer, a);
  KeWaitForSingleObject(t, Executive, KernelMode, FALSE, NULL);
  KeWaitForSingleObject(&a->ev, Executive, KernelMode, FALSE, NULL);
  a->ended = now_100ns();
}

START_TEST(a_threaded_builder_irp_is_cancelled_when_its_thread_exits) {
  built_app_t a = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(2, &log);
  a.S = S;
  sim_thread_create(S, "app", built_program, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a.call_st, STATUS_PENDING);
  ck_assert_int_eq(a.iosb.Status, STATUS_CANCELLED);
  ck_assert_int_lt(a.ended - a.started, 1000000); /* long before its 100 ms */
  ck_assert_int_ge(tlog_count(&log, TRC_IRP_QUEUE_THREAD), 1);
  ck_assert_int_ge(tlog_count(&log, TRC_THREAD_IO_RUNDOWN), 1);
  ck_assert_int_ge(tlog_count(&log, TRC_IOSB_WRITTEN), 1);
  ck_assert_uint_eq(sim_pool_outstanding(S, NULL, 0), 0);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- deferred StartIo and packets by key ----
 * A device held busy by a first packet (its StartIo arms a timer whose DPC
 * finishes it) while three reads are queued by key (their byte offsets);
 * then each read's StartIo finishes at once and starts the next packet
 * from inside StartIo.  Without IoSetStartIoAttributes(DeferredStartIo)
 * the StartIo calls nest; with it, each starts after the last returned. */

typedef struct fast_ext {
  KTIMER Timer;
  KDPC Dpc;
  int depth, max_depth, n;
  ULONG order[4];
} fast_ext_t;

static void fast_startio(PDEVICE_OBJECT d, PIRP irp) {
  fast_ext_t *x = d->DeviceExtension;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  if (sp->MajorFunction == IRP_MJ_DEVICE_CONTROL) { /* the hold: finished by the DPC */
    LARGE_INTEGER due = {.QuadPart = -10000};
    KeSetTimer(&x->Timer, due, &x->Dpc);
    return;
  }
  if (++x->depth > x->max_depth) x->max_depth = x->depth;
  x->order[x->n++] = (ULONG)sp->Parameters.Read.ByteOffset.QuadPart;
  IoStartNextPacket(d, FALSE);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  x->depth--;
}

static void fast_hold_done(PKDPC Dpc, PVOID Ctx, PVOID A1, PVOID A2) {
  (void)Dpc, (void)A1, (void)A2;
  PDEVICE_OBJECT d = Ctx;
  PIRP irp = d->CurrentIrp;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoStartNextPacket(d, FALSE);
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS fast_dispatch(PDEVICE_OBJECT d, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  if (sp->MajorFunction == IRP_MJ_CREATE || sp->MajorFunction == IRP_MJ_CLOSE || sp->MajorFunction == IRP_MJ_CLEANUP) {
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
  }
  ULONG key = sp->MajorFunction == IRP_MJ_READ ? (ULONG)sp->Parameters.Read.ByteOffset.QuadPart : 0;
  IoMarkIrpPending(irp);
  IoStartPacket(d, irp, &key, NULL);
  return STATUS_PENDING;
}

static NTSTATUS fast_entry(PDRIVER_OBJECT drv, PUNICODE_STRING reg) {
  (void)reg;
  PDEVICE_OBJECT d;
  NTSTATUS st = sim_create_device(drv, sizeof(fast_ext_t), "Fast", &d);
  if (st) return st;
  fast_ext_t *x = d->DeviceExtension;
  KeInitializeTimer(&x->Timer);
  KeInitializeDpc(&x->Dpc, fast_hold_done, d);
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = fast_dispatch;
  drv->DriverStartIo = fast_startio;
  if (sim_driver_context(drv)) IoSetStartIoAttributes(d, TRUE, FALSE);
  return STATUS_SUCCESS;
}

typedef struct fast_app {
  sim_t *S;
  bool deferred;
  fast_ext_t *x;
  NTSTATUS st[4];
  int max_depth; /* read before the machine (and the device) is gone */
} fast_app_t;

static void fast_program(PVOID arg) {
  fast_app_t *a = arg;
  PDRIVER_OBJECT drv = sim_load_driver(a->S, "fast", fast_entry, a->deferred ? (PVOID)a : NULL);
  PDEVICE_OBJECT d = sim_find_device(a->S, "Fast");
  a->x = d->DeviceExtension;
  (void)drv;
  PFILE_OBJECT f;
  NtCreateFile(&f, d, 0, "f");
  IO_STATUS_BLOCK iosb[4];
  KEVENT ev[4];
  static const LONGLONG keys[3] = {5, 1, 3};
  static char buf[3][4];
  for (int i = 0; i < 4; i++) KeInitializeEvent(&ev[i], NotificationEvent, FALSE);
  NtDeviceIoControlFile(f, &ev[3], NULL, NULL, &iosb[3], 0x222000, NULL, 0, NULL, 0); /* the hold */
  for (int i = 0; i < 3; i++) NtReadFile(f, &ev[i], NULL, NULL, &iosb[i], buf[i], 4, &keys[i]);
  for (int i = 0; i < 4; i++) {
    KeWaitForSingleObject(&ev[i], Executive, KernelMode, FALSE, NULL);
    a->st[i] = iosb[i].Status;
  }
  NtClose(f);
}

static void fast_run(fast_app_t *a, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  a->S = S;
  sim_thread_create(S, "app", fast_program, a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  for (int i = 0; i < 4; i++) ck_assert_int_eq(a->st[i], STATUS_SUCCESS);
  /* queued by key, started from the head: ascending byte offsets */
  ck_assert_int_eq(a->x->n, 3);
  ck_assert_uint_eq(a->x->order[0], 1);
  ck_assert_uint_eq(a->x->order[1], 3);
  ck_assert_uint_eq(a->x->order[2], 5);
  ck_assert_int_eq(tlog_count_x(log, TRC_DEVICE_QUEUE, 0, "KeInsertByKeyDeviceQueue: the device is busy: queued"), 3);
  a->max_depth = a->x->max_depth;
  sim_destroy(S);
}

START_TEST(startio_nests_without_deferral_and_not_with_it) {
  fast_app_t a = {0};
  tlog_t log = {0};
  fast_run(&a, &log);
  ck_assert_int_eq(a.max_depth, 3); /* StartIo inside StartIo inside StartIo */
  tlog_free(&log);
  fast_app_t b = {.deferred = true};
  tlog_t log2 = {0};
  fast_run(&b, &log2);
  ck_assert_int_eq(b.max_depth, 1);
  ck_assert_int_eq(tlog_count_x(&log2, TRC_DEVICE_QUEUE, 0, "deferred StartIo"), 3);
  tlog_free(&log2);
}
END_TEST

/* ---- the device queue routines on their own ---- */

typedef struct dq_app {
  ULONG order[6];
  BOOLEAN first, again, not_queued, removed;
  KDEVICE_QUEUE q;
  KDEVICE_QUEUE_ENTRY e[5];
  BOOLEAN idle_after;
} dq_app_t;

static void dq_program(PVOID arg) {
  dq_app_t *a = arg;
  KeInitializeDeviceQueue(&a->q);
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  static const ULONG keys[5] = {9, 5, 1, 5, 3};
  a->first = KeInsertByKeyDeviceQueue(&a->q, &a->e[0], keys[0]); /* idle: not queued */
  for (int i = 1; i < 5; i++) KeInsertByKeyDeviceQueue(&a->q, &a->e[i], keys[i]);
  a->not_queued = KeRemoveEntryDeviceQueue(&a->q, &a->e[0]); /* it never was */
  a->removed = KeRemoveEntryDeviceQueue(&a->q, &a->e[4]);    /* key 3 */
  a->again = KeRemoveEntryDeviceQueue(&a->q, &a->e[4]);
  /* by key 4: the first with a key >= 4 (the first 5), then in order */
  PKDEVICE_QUEUE_ENTRY x = KeRemoveByKeyDeviceQueue(&a->q, 4);
  a->order[0] = x ? (ULONG)(x - a->e) : 99;
  for (int k = 1; k < 4; k++) {
    x = KeRemoveDeviceQueue(&a->q);
    a->order[k] = x ? (ULONG)(x - a->e) : 99;
  }
  a->idle_after = !a->q.Busy;
  KeLowerIrql(old);
}

START_TEST(device_queue_orders_by_key_and_goes_idle_when_empty) {
  dq_app_t a = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  sim_thread_create(S, "app", dq_program, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(!a.first);
  ck_assert(!a.not_queued);
  ck_assert(a.removed);
  ck_assert(!a.again);
  ck_assert_uint_eq(a.order[0], 1); /* key 5, queued before the other 5 */
  ck_assert_uint_eq(a.order[1], 2); /* then from the head: key 1 */
  ck_assert_uint_eq(a.order[2], 3); /* key 5 */
  ck_assert_uint_eq(a.order[3], 99); /* empty: NULL, and the queue is idle */
  ck_assert(a.idle_after);
  ck_assert_int_eq(tlog_count(&log, TRC_DEVICE_QUEUE), 5 + 3 + 4);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- misuse: what Windows' checked build or the hardware would say ---- */

static void probe_misaligned(PVOID arg) {
  (void)arg;
  static ULONG words[4];
  ProbeForRead((char *)words + 1, 4, sizeof(ULONG)); /* STATUS_DATATYPE_MISALIGNMENT, and no __except runs */
}

static void queue_at_passive(PVOID arg) {
  (void)arg;
  static KDEVICE_QUEUE q;
  static KDEVICE_QUEUE_ENTRY e;
  KeInitializeDeviceQueue(&q);
  KeInsertDeviceQueue(&q, &e); /* PASSIVE_LEVEL: the checked build's assertion */
}

static void run_misuse(SIM_THREAD_START *fn, ULONG_PTR p1) {
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "app", fn, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(sim_bugcheck(S)->code, KMODE_EXCEPTION_NOT_HANDLED);
  ck_assert_uint_eq(sim_bugcheck(S)->p[0], p1);
  sim_destroy(S);
}

START_TEST(misaligned_probe_and_device_queue_below_dispatch_stop_the_machine) {
  run_misuse(probe_misaligned, (ULONG_PTR)(ULONG)STATUS_DATATYPE_MISALIGNMENT);
  run_misuse(queue_at_passive, (ULONG_PTR)(ULONG)STATUS_BREAKPOINT);
}
END_TEST

TEST_SUITE(drivers_c_suite)
static Suite *drivers_c_suite(void) {
  Suite *s = suite_create("drivers-c");
  TCase *tc = tcase_create("drivers-c");
  tcase_add_test(tc, startio_serves_one_packet_at_a_time_and_cancels_a_queued_one);
  tcase_add_test(tc, a_filter_forwards_synchronously_and_asynchronously_and_builds_its_own_irps);
  tcase_add_test(tc, device_queue_orders_by_key_and_goes_idle_when_empty);
  tcase_add_test(tc, a_buffered_ioctl_driver_answers_on_all_four_methods);
  tcase_add_test(tc, a_csq_driver_serves_reads_from_its_thread_and_cancels_by_cancelio_and_close);
  tcase_add_test(tc, a_timer_driver_completes_by_dpc_signals_events_and_honours_cancel);
  tcase_add_test(tc, startio_nests_without_deferral_and_not_with_it);
  tcase_add_test(tc, a_threaded_builder_irp_is_cancelled_when_its_thread_exits);
  tcase_add_test(tc, misaligned_probe_and_device_queue_below_dispatch_stop_the_machine);
  suite_add_tcase(s, tc);
  return s;
}
