/*
 * test_service_checks.c - what NtReadFile / NtWriteFile refuse before any
 * IRP exists (kernel-facts 5.6.1, 5.6.2): an APC routine on a file bound to a
 * completion port, and a read or write with no byte offset on a file
 * opened for asynchronous I/O.  Both fail with STATUS_INVALID_PARAMETER and
 * allocate nothing.
 */
#include "drivers.h"
#include "testlib.h"

static void never_called(PVOID ctx, PIO_STATUS_BLOCK iosb, ULONG reserved) {
  (void)ctx, (void)iosb, (void)reserved;
  ck_abort_msg("the APC of a refused request ran");
}

typedef struct checks {
  PDEVICE_OBJECT dev;
  NTSTATUS apc_on_port, no_offset_read, no_offset_write, with_offset, sync_no_offset;
  uint32_t irps_before, irps_after_refusals;
} checks_t;

static void app(PVOID arg) {
  checks_t *c = arg;
  sim_t *S = c->dev->DriverObject->Sim;
  PFILE_OBJECT ov, bound, sync;
  ck_assert_int_eq(NtCreateFile(&ov, c->dev, 0, "ov"), STATUS_SUCCESS);
  ck_assert_int_eq(NtCreateFile(&bound, c->dev, 0, "bound"), STATUS_SUCCESS);
  ck_assert_int_eq(NtCreateFile(&sync, c->dev, FILE_SYNCHRONOUS_IO_NONALERT, "sync"), STATUS_SUCCESS);
  sim_port_t *p = NtCreateIoCompletion(1, "P");
  ck_assert_int_eq(NtSetCompletionPort(bound, p, 7), STATUS_SUCCESS);
  IO_STATUS_BLOCK iosb = {0};
  LONGLONG at = 0;
  c->irps_before = sim_irp_count(S);
  c->apc_on_port = NtReadFile(bound, NULL, never_called, NULL, &iosb, NULL, 16, &at);
  c->no_offset_read = NtReadFile(ov, NULL, NULL, NULL, &iosb, NULL, 16, NULL);
  c->no_offset_write = NtWriteFile(ov, NULL, NULL, NULL, &iosb, NULL, 16, NULL);
  c->irps_after_refusals = sim_irp_count(S);
  c->with_offset = NtReadFile(ov, NULL, NULL, NULL, &iosb, NULL, 16, &at);
  c->sync_no_offset = NtReadFile(sync, NULL, NULL, NULL, &iosb, NULL, 16, NULL); /* its current position */
}

START_TEST(refused_before_any_irp) {
  sim_t *S = tsim_new(1, NULL);
  PDRIVER_OBJECT drv = sim_load_driver(S, "dev", tnow_entry, (PVOID)(uintptr_t)"d0");
  ck_assert_ptr_nonnull(drv);
  checks_t c = {.dev = drv->DeviceObject};
  sim_thread_create(S, "app", app, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.apc_on_port, STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(c.no_offset_read, STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(c.no_offset_write, STATUS_INVALID_PARAMETER);
  ck_assert_uint_eq(c.irps_after_refusals, c.irps_before); /* no IRP for any of them */
  ck_assert_int_eq(c.with_offset, STATUS_SUCCESS);
  ck_assert_int_eq(c.sync_no_offset, STATUS_SUCCESS);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(service_checks_suite)
static Suite *service_checks_suite(void) {
  Suite *s = suite_create("service-checks");
  TCase *tc = tcase_create("NtReadFile parameters");
  tcase_add_test(tc, refused_before_any_irp);
  suite_add_tcase(s, tc);
  return s;
}
