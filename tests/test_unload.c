/*
 * test_unload.c - the real driver-object signatures and DriverUnload
 * (kernel-facts 13.10):
 * DriverEntry(DriverObject, RegistryPath) with the embedding program's
 * pointer read through sim_driver_context; IoCreateDevice with a counted
 * UTF-16 name (its trace name is the name without \Device\, unnamed ones
 * are DRIVER#N, a taken name is STATUS_OBJECT_NAME_COLLISION); symbolic
 * links; and the unload when the last program thread ends: DriverUnload
 * runs in a system thread at PASSIVE_LEVEL, and what it left behind
 * (a device, a link, pool, a periodic timer) is one unload-leftover step
 * each, the timer cancelled so that the run ends.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct unl {
  bool tidy;                /* DriverUnload cleans everything up */
  PDEVICE_OBJECT named, unnamed;
  NTSTATUS dup_st, link_st, relink_st;
  KTIMER timer;
  KDPC dpc;
  PVOID block;
  int unload_calls;
  KIRQL unload_irql;
  BOOLEAN unload_in_system_thread;
  char reg[128], drvname[64];
  int ticks;
} unl_t;

/* "Unlt" as !poolused shows it: the first character in the low byte. */
#define UNL_TAG ((ULONG)0x746c6e55)

static UNICODE_STRING dev_name, link_name;

static void unl_dpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2) {
  (void)Dpc, (void)A1, (void)A2;
  ((unl_t *)Context)->ticks++;
}

static void unl_unload(PDRIVER_OBJECT DriverObject) {
  unl_t *u = sim_driver_context(DriverObject);
  u->unload_calls++;
  u->unload_irql = KeGetCurrentIrql();
  u->unload_in_system_thread = PsIsSystemThread(PsGetCurrentThread());
  IoDeleteDevice(u->unnamed);
  if (!u->tidy) return; /* leaves the named device, the link, the pool and the timer */
  KeCancelTimer(&u->timer);
  ExFreePoolWithTag(u->block, UNL_TAG);
  IoDeleteSymbolicLink(&link_name);
  IoDeleteDevice(u->named);
}

static NTSTATUS unl_entry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  unl_t *u = sim_driver_context(DriverObject);
  iosim_unicode_to_utf8(RegistryPath, u->reg, sizeof u->reg);
  iosim_unicode_to_utf8(&DriverObject->DriverName, u->drvname, sizeof u->drvname);
  RtlInitUnicodeString(&dev_name, u"\\Device\\Unl\u00e9");
  RtlInitUnicodeString(&link_name, u"\\DosDevices\\Unl");
  NTSTATUS st = IoCreateDevice(DriverObject, 16, &dev_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                               &u->named);
  if (!NT_SUCCESS(st)) return st;
  PDEVICE_OBJECT dup;
  u->dup_st = IoCreateDevice(DriverObject, 0, &dev_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dup);
  st = IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_DISK, 0, TRUE, &u->unnamed);
  DriverObject->DriverUnload = unl_unload;
  return st;
}

/* The program: what a driver's first open would set up, from a thread. */
static void unl_program(PVOID arg) {
  unl_t *u = arg;
  u->link_st = IoCreateSymbolicLink(&link_name, &dev_name);
  u->relink_st = IoCreateSymbolicLink(&link_name, &dev_name);
  u->block = ExAllocatePoolWithTag(NonPagedPoolNx, 40, UNL_TAG);
  KeInitializeTimer(&u->timer);
  KeInitializeDpc(&u->dpc, unl_dpc, u);
  LARGE_INTEGER due = {.QuadPart = -10000}; /* 1 ms, then every 2 ms */
  KeSetTimerEx(&u->timer, due, 2, &u->dpc);
  LARGE_INTEGER wait = {.QuadPart = -50000};
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
}

static sim_t *unl_machine(unl_t *u, tlog_t *log) {
  sim_t *S = tsim_new(1, log);
  ck_assert_ptr_nonnull(sim_load_driver(S, "unl", unl_entry, u));
  sim_thread_create(S, "app", unl_program, u);
  return S;
}

START_TEST(driver_entry_gets_the_real_arguments) {
  unl_t u = {.tidy = true};
  sim_t *S = unl_machine(&u, NULL);
  ck_assert_str_eq(u.reg, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\unl");
  ck_assert_str_eq(u.drvname, "\\Driver\\unl");
  ck_assert_ptr_eq(sim_find_device(S, "Unl\xc3\xa9"), u.named); /* UTF-8 of the UTF-16 name */
  ck_assert_ptr_eq(sim_find_device(S, "unl#2"), u.unnamed);
  ck_assert_int_eq(u.dup_st, STATUS_OBJECT_NAME_COLLISION);
  ck_assert_uint_eq(u.unnamed->DeviceType, FILE_DEVICE_DISK);
  ck_assert_uint_eq(u.unnamed->Flags & DO_EXCLUSIVE, DO_EXCLUSIVE);
  ck_assert_uint_eq(u.named->Characteristics, FILE_DEVICE_SECURE_OPEN);
  ck_assert_ptr_nonnull(u.named->DeviceExtension);
  sim_destroy(S);
}
END_TEST

START_TEST(a_tidy_driver_unloads_with_nothing_left) {
  unl_t u = {.tidy = true};
  tlog_t log = {0};
  sim_t *S = unl_machine(&u, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(u.link_st, STATUS_SUCCESS);
  ck_assert_int_eq(u.relink_st, STATUS_OBJECT_NAME_COLLISION);
  ck_assert_int_eq(u.unload_calls, 1);
  ck_assert_int_eq(u.unload_irql, PASSIVE_LEVEL);
  ck_assert(u.unload_in_system_thread);
  ck_assert_int_ge(u.ticks, 2); /* 1 ms, 3 ms, 5 ms: while the program runs */
  int un = tlog_find(&log, TRC_DRIVER_UNLOAD, 0);
  ck_assert_int_ge(un, 0);
  /* after the program thread ended */
  ck_assert_int_gt(un, tlog_find_x(&log, TRC_THREAD_EXIT, 0, "app", 0));
  ck_assert_int_gt(tlog_find(&log, TRC_DRIVER_UNLOAD_DONE, un), un);
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 0);
  ck_assert_ptr_null(sim_find_device(S, "Unl\xc3\xa9"));
  ck_assert_ptr_null(sim_find_device(S, "unl#2"));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

START_TEST(what_an_untidy_driver_leaves_is_accounted) {
  unl_t u = {.tidy = false};
  tlog_t log = {0};
  sim_t *S = unl_machine(&u, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK); /* the periodic timer does not keep it running */
  ck_assert_int_eq(u.unload_calls, 1);
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 4);
  int done = tlog_find(&log, TRC_DRIVER_UNLOAD_DONE, 0);
  ck_assert_int_gt(tlog_find_x(&log, TRC_UNLOAD_LEFTOVER, 0, "unl left device Unl\xc3\xa9", 0), done);
  ck_assert_int_gt(tlog_find_x(&log, TRC_UNLOAD_LEFTOVER, 0, "symbolic link \\DosDevices\\Unl", 0), done);
  ck_assert_int_gt(tlog_find_x(&log, TRC_UNLOAD_LEFTOVER, 0, "pool tag Unlt: 1 block(s), 40 bytes", 0), done);
  ck_assert_int_gt(tlog_find_x(&log, TRC_UNLOAD_LEFTOVER, 0, "a timer is still set, with a DPC", 0), done);
  ck_assert_int_eq(tlog_count(&log, TRC_UNLOAD_LEFTOVER), 4);
  ck_assert_ptr_nonnull(sim_find_device(S, "Unl\xc3\xa9"));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(unload_suite)
static Suite *unload_suite(void) {
  Suite *s = suite_create("unload");
  TCase *tc = tcase_create("unload");
  tcase_add_test(tc, driver_entry_gets_the_real_arguments);
  tcase_add_test(tc, a_tidy_driver_unloads_with_nothing_left);
  tcase_add_test(tc, what_an_untidy_driver_leaves_is_accounted);
  suite_add_tcase(s, tc);
  return s;
}
