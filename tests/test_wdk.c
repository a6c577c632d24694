/*
 * test_wdk.c - a driver written against the WDK's headers runs on the
 * simulated machine: tests/drivers-c/synth.c, built with include/wdk and
 * -fshort-wchar (the Makefile's WDK_CFLAGS, as `iosim cc` builds drivers),
 * is loaded by a program thread; its DriverEntry gets the registry path
 * (printed with %wZ), creates its device with IoCreateDeviceSecure and a
 * symbolic link, starts a polling system thread and a periodic timer; its
 * DbgPrint formats Windows' %wZ, %ws, %S, I64 and I conversions; its
 * control codes (CTL_CODE, SEH blocks) and queued reads are served, a
 * cancelled read completes as cancelled; when the program has ended its
 * DriverUnload stops the thread and takes everything down: nothing is
 * left behind.
 */
#include "drivers.h"
#include "testlib.h"

/* What an application's winioctl.h gives it to build control codes (the
   engine's header has CTL_CODE and the methods already). */
#ifndef FILE_ANY_ACCESS
#define FILE_ANY_ACCESS 0
#define FILE_READ_ACCESS 1
#endif
#include "drivers-c/synth.h"

/* The driver's entry point: DriverEntry in a .so, renamed by the test
   build (-DDriverEntry=synth_DriverEntry) so that several drivers link. */
NTSTATUS synth_DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);

typedef struct wdk_app {
  NTSTATUS load_st, ping_st, stats_st, bad_st, read_st[3];
  ULONG_PTR stats_info, read_info[3];
  PDRIVER_OBJECT drv;
  sim_t *S;
} wdk_app_t;

static void wdk_program(PVOID arg) {
  wdk_app_t *a = arg;
  sim_t *S = a->S;
  a->drv = sim_load_driver(S, "synth", synth_DriverEntry, NULL);
  a->load_st = a->drv ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
  if (!a->drv) return;
  PFILE_OBJECT f;
  NtCreateFile(&f, sim_find_device(S, "Synth"), 0, "f");
  IO_STATUS_BLOCK iosb[3];
  KEVENT ev[3];
  for (int i = 0; i < 3; i++) KeInitializeEvent(&ev[i], NotificationEvent, FALSE);
  a->ping_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_SYNTH_PING, NULL, 0, NULL, 0);
  a->bad_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], CTL_CODE(SYNTH_DEVICE_TYPE, 0x999, 0, 0), NULL,
                                    0, NULL, 0);
  LONGLONG off = 0;
  static char buf[3][64];
  for (int i = 0; i < 3; i++) NtReadFile(f, &ev[i], NULL, NULL, &iosb[i], buf[i], 16 * (i + 1), &off);
  NtCancelIoFileEx(f, &iosb[2]); /* before the polling thread's next pass */
  for (int i = 0; i < 3; i++) {
    KeWaitForSingleObject(&ev[i], Executive, KernelMode, FALSE, NULL);
    a->read_st[i] = iosb[i].Status;
    a->read_info[i] = iosb[i].Information;
  }
  LARGE_INTEGER later = {.QuadPart = -30000}; /* 3 ms: a few timer ticks */
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  KeClearEvent(&ev[0]);
  a->stats_st = NtDeviceIoControlFile(f, &ev[0], NULL, NULL, &iosb[0], IOCTL_SYNTH_STATS, NULL, 0, NULL, 0);
  a->stats_info = iosb[0].Information;
  NtClose(f);
}

START_TEST(a_wdk_style_driver_loads_serves_and_unloads_cleanly) {
  wdk_app_t a = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(2, &log);
  a.S = S;
  sim_thread_create(S, "app", wdk_program, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(a.load_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.ping_st, STATUS_SUCCESS);
  ck_assert_int_eq(a.bad_st, STATUS_INVALID_DEVICE_REQUEST);
  ck_assert_int_eq(a.read_st[0], STATUS_SUCCESS);
  ck_assert_uint_eq(a.read_info[0], 16);
  ck_assert_int_eq(a.read_st[1], STATUS_SUCCESS);
  ck_assert_uint_eq(a.read_info[1], 32);
  ck_assert_int_eq(a.read_st[2], STATUS_CANCELLED);
  ck_assert_int_eq(a.stats_st, STATUS_SUCCESS);
  ck_assert_uint_eq(a.stats_info, 2); /* the reads served, read under try/finally */
  ck_assert_int_ge(tlog_find_x(&log, TRC_DBGPRINT, 0,
                               "Synth: DriverEntry \\Registry\\Machine\\System\\CurrentControlSet\\Services\\synth", 0),
                   0);
  /* Windows' conversions (%ws, %S, I64, I) beside C's, from a driver built with 16-bit wchar_t */
  ck_assert_int_ge(tlog_find_x(&log, TRC_DBGPRINT, 0, "Synth: formats wide|S|-5|abcdef012345|7| 3.14|42  |  7|z|%|narrow", 0),
                   0);
  int un = tlog_find(&log, TRC_DRIVER_UNLOAD, 0);
  ck_assert_int_gt(un, tlog_find_x(&log, TRC_THREAD_EXIT, 0, "app", 0));
  ck_assert_int_gt(tlog_find_x(&log, TRC_DBGPRINT, 0, "Synth: unloading after 2 reads, ", un), un);
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 0);
  ck_assert_ptr_null(sim_find_device(S, "Synth"));
  ck_assert_uint_eq(sim_pool_outstanding(S, NULL, 0), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(wdk_suite)
static Suite *wdk_suite(void) {
  Suite *s = suite_create("wdk");
  TCase *tc = tcase_create("wdk");
  tcase_add_test(tc, a_wdk_style_driver_loads_serves_and_unloads_cleanly);
  suite_add_tcase(s, tc);
  return s;
}
