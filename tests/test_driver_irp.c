/*
 * test_driver_irp.c - a driver-allocated IRP (IoAllocateIrp: no thread)
 * whose completion walk reaches the top of its stack without a routine
 * returning STATUS_MORE_PROCESSING_REQUIRED stops the machine: stage 2 has
 * no thread (kernel-facts 3.6).  At PASSIVE_LEVEL that is an access
 * violation, KMODE_EXCEPTION_NOT_HANDLED (0x1E, STATUS_ACCESS_VIOLATION).
 */
#include "drivers.h"
#include "testlib.h"

typedef struct own_irp {
  PDEVICE_OBJECT target;
  bool reclaim;  /* set the routine that frees it and returns MPR */
  bool routine_ran;
} own_irp_t;

static NTSTATUS reclaim(PDEVICE_OBJECT Dev, PIRP Irp, PVOID Ctx) {
  (void)Dev;
  ((own_irp_t *)Ctx)->routine_ran = true;
  IoFreeIrp(Irp);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static void sender(PVOID arg) {
  own_irp_t *o = arg;
  PIRP irp = IoAllocateIrp(o->target->StackSize, FALSE);
  ck_assert_ptr_nonnull(irp);
  PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
  next->MajorFunction = IRP_MJ_READ;
  next->Parameters.Read.Length = 512;
  if (o->reclaim) IoSetCompletionRoutine(irp, reclaim, o, TRUE, TRUE, TRUE);
  IoCallDriver(o->target, irp);
}

static sim_t *run_sender(own_irp_t *o) {
  sim_t *S = tsim_new(1, NULL);
  PDRIVER_OBJECT low = sim_load_driver(S, "low", tnow_entry, (PVOID)(uintptr_t)"low0");
  ck_assert_ptr_nonnull(low);
  o->target = low->DeviceObject;
  sim_thread_create(S, "sender", sender, o);
  sim_run(S);
  return S;
}

START_TEST(unreclaimed_driver_irp_is_an_access_violation) {
  own_irp_t o = {.reclaim = false};
  sim_t *S = run_sender(&o);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(b->code, KMODE_EXCEPTION_NOT_HANDLED);
  ck_assert_uint_eq((NTSTATUS)b->p[0], STATUS_ACCESS_VIOLATION);
  ck_assert_ptr_nonnull(strstr(b->reason, "allocated by a driver"));
  sim_destroy(S);
}
END_TEST

START_TEST(reclaimed_driver_irp_is_fine) {
  own_irp_t o = {.reclaim = true};
  sim_t *S = run_sender(&o);
  ck_assert_ptr_null(sim_bugcheck(S));
  ck_assert(o.routine_ran);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(driver_irp_suite)
static Suite *driver_irp_suite(void) {
  Suite *s = suite_create("driver-irp");
  TCase *tc = tcase_create("IoAllocateIrp without a thread");
  tcase_add_test(tc, unreclaimed_driver_irp_is_an_access_violation);
  tcase_add_test(tc, reclaimed_driver_irp_is_fine);
  suite_add_tcase(s, tc);
  return s;
}
