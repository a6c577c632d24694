/*
 * test_fsrtl.c - FsRtlCopyRead as a C driver's FastIoRead (kernel-facts
 * 9.2-9.3): a cached, unlocked range is served with no IRP; a range another
 * handle has locked, or one not in the cache, takes the IRP path.
 */
#include "drivers.h"
#include "testlib.h"

static FAST_IO_DISPATCH copy_read_fastio = {sizeof(FAST_IO_DISPATCH), FsRtlCopyRead, NULL};

typedef struct fsrtl_case {
  PDEVICE_OBJECT dev;
  NTSTATUS hit, locked, miss;          /* what each read returned */
  ULONG_PTR hit_bytes;
  uint32_t irps_before_hit, irps_after_hit, irps_after_locked, irps_after_miss;
} fsrtl_case_t;

static void fsrtl_app(PVOID arg) {
  fsrtl_case_t *c = arg;
  sim_t *S = c->dev->DriverObject->Sim;
  PFILE_OBJECT f, other;
  ck_assert_int_eq(NtCreateFile(&f, c->dev, FILE_SYNCHRONOUS_IO_NONALERT, "f"), STATUS_SUCCESS);
  ck_assert_int_eq(NtCreateFile(&other, c->dev, FILE_SYNCHRONOUS_IO_NONALERT, "other"), STATUS_SUCCESS);
  CcInitializeCacheMap(f);
  sim_cache_fill(f, 0, 8192);
  IO_STATUS_BLOCK iosb = {0};
  LONGLONG at = 0;
  c->irps_before_hit = sim_irp_count(S);
  c->hit = NtReadFile(f, NULL, NULL, NULL, &iosb, NULL, 4096, &at);
  c->hit_bytes = iosb.Information;
  c->irps_after_hit = sim_irp_count(S);
  ck_assert_int_eq(NtLockFile(other, 4096, 4096), STATUS_SUCCESS);
  at = 4096;
  c->locked = NtReadFile(f, NULL, NULL, NULL, &iosb, NULL, 4096, &at);
  c->irps_after_locked = sim_irp_count(S);
  at = 65536;
  c->miss = NtReadFile(f, NULL, NULL, NULL, &iosb, NULL, 4096, &at);
  c->irps_after_miss = sim_irp_count(S);
}

START_TEST(copy_read_serves_cached_unlocked_ranges) {
  sim_t *S = tsim_new(1, NULL);
  PDRIVER_OBJECT drv = sim_load_driver(S, "fsd", tnow_entry, (PVOID)(uintptr_t)"fs0");
  ck_assert_ptr_nonnull(drv);
  drv->FastIoDispatch = &copy_read_fastio;
  fsrtl_case_t c = {.dev = drv->DeviceObject};
  sim_thread_create(S, "app", fsrtl_app, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.hit, STATUS_SUCCESS);
  ck_assert_uint_eq(c.hit_bytes, 4096);
  ck_assert_uint_eq(c.irps_after_hit, c.irps_before_hit); /* served: no IRP at all */
  ck_assert_int_eq(c.locked, STATUS_SUCCESS);
  ck_assert_uint_eq(c.irps_after_locked, c.irps_after_hit + 1); /* locked by another handle: an IRP */
  ck_assert_int_eq(c.miss, STATUS_SUCCESS);
  ck_assert_uint_eq(c.irps_after_miss, c.irps_after_locked + 1); /* not in the cache: an IRP */
  sim_destroy(S);
}
END_TEST

TEST_SUITE(fsrtl_suite)
static Suite *fsrtl_suite(void) {
  Suite *s = suite_create("fsrtl");
  TCase *tc = tcase_create("FsRtlCopyRead");
  tcase_add_test(tc, copy_read_serves_cached_unlocked_ranges);
  suite_add_tcase(s, tc);
  return s;
}
