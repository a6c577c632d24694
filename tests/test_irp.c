/*
 * test_irp.c - IRP layout and the stack-location helpers (docs/kernel-facts.md §1):
 * 1-based locations, the plain pointer arithmetic of the helpers, and where
 * completion routines live.
 */
#include "drivers.h"
#include "testlib.h"

/* What a thread saw of a driver-allocated IRP; asserted after sim_run. */
typedef struct irp_obs {
  int step;                       /* which probe the thread runs */
  int stack_count, cur_loc, cur_loc2, cur_loc3;
  bool cur_past_end, next_is_top, list_empty, zeroed;
  bool cur_matches, next_matches, cur_back;
  IO_STACK_LOCATION cur, next;    /* copies taken after the operation */
  PIO_COMPLETION_ROUTINE next_routine;
  PDRIVER_CANCEL r1, r2, r3;
} irp_obs_t;

static NTSTATUS probe_routine_a(PDEVICE_OBJECT d, PIRP i, PVOID c) {
  (void)d, (void)i, (void)c;
  return STATUS_SUCCESS;
}
static NTSTATUS probe_routine_b(PDEVICE_OBJECT d, PIRP i, PVOID c) {
  (void)d, (void)i, (void)c;
  return STATUS_SUCCESS;
}
static void probe_cancel(PDEVICE_OBJECT d, PIRP i) { (void)d, (void)i; }

static void probe_layout(irp_obs_t *o, PIRP irp) {
  const char *p = (const char *)&irp->IoStatus;
  o->stack_count = irp->StackCount;
  o->cur_loc = irp->CurrentLocation;
  o->cur_past_end = irp->Tail.Overlay.CurrentStackLocation == &irp->Stack[3];
  o->next_is_top = IoGetNextIrpStackLocation(irp) == &irp->Stack[2];
  o->list_empty = irp->ThreadListEntry.Flink == &irp->ThreadListEntry &&
                  irp->ThreadListEntry.Blink == &irp->ThreadListEntry;
  o->zeroed = true;
  for (size_t i = 0; i < sizeof irp->IoStatus; i++) o->zeroed &= p[i] == 0;
  for (int k = 0; k < 3; k++)
    o->zeroed &= irp->Stack[k].Control == 0 && irp->Stack[k].CompletionRoutine == NULL;
  o->zeroed &= !irp->PendingReturned && !irp->Cancel && irp->CancelRoutine == NULL;
}

static void probe_moves(irp_obs_t *o, PIRP irp) {
  IoSetNextIrpStackLocation(irp);
  o->cur_loc = irp->CurrentLocation;
  o->cur_matches = IoGetCurrentIrpStackLocation(irp) == &irp->Stack[irp->CurrentLocation - 1];
  o->next_matches = IoGetNextIrpStackLocation(irp) == &irp->Stack[irp->CurrentLocation - 2];
  IoSetNextIrpStackLocation(irp);
  o->cur_loc2 = irp->CurrentLocation;
  IoSkipCurrentIrpStackLocation(irp);
  o->cur_loc3 = irp->CurrentLocation;
  o->cur_back = IoGetCurrentIrpStackLocation(irp) == &irp->Stack[2];
}

static void probe_copy(irp_obs_t *o, PIRP irp) {
  IoSetNextIrpStackLocation(irp); /* own location 3, like a dispatch routine */
  PIO_STACK_LOCATION cur = IoGetCurrentIrpStackLocation(irp), next = IoGetNextIrpStackLocation(irp);
  cur->MajorFunction = IRP_MJ_WRITE;
  cur->MinorFunction = 3;
  cur->Flags = 0x11;
  cur->Control = SL_PENDING_RETURNED | SL_INVOKE_ON_SUCCESS | SL_INVOKE_ON_ERROR;
  cur->Parameters.Write.Length = 777;
  cur->Parameters.Write.ByteOffset.QuadPart = 4096;
  cur->DeviceObject = (PDEVICE_OBJECT)(uintptr_t)0x1000;
  cur->FileObject = (PFILE_OBJECT)(uintptr_t)0x2000;
  cur->CompletionRoutine = probe_routine_a;
  cur->Context = (PVOID)(uintptr_t)0x3000;
  next->CompletionRoutine = probe_routine_b;
  next->Context = (PVOID)(uintptr_t)0x4000;
  IoCopyCurrentIrpStackLocationToNext(irp);
  o->cur = *cur;
  o->next = *next;
}

static void probe_set_completion(irp_obs_t *o, PIRP irp) {
  IoSetNextIrpStackLocation(irp);
  PIO_STACK_LOCATION cur = IoGetCurrentIrpStackLocation(irp), next = IoGetNextIrpStackLocation(irp);
  cur->Control = SL_INVOKE_ON_ERROR;
  next->Control = SL_PENDING_RETURNED | SL_INVOKE_ON_ERROR;
  IoSetCompletionRoutine(irp, probe_routine_a, (PVOID)(uintptr_t)0x55, TRUE, FALSE, TRUE);
  o->cur = *cur;
  o->next = *next;
  IoSetCompletionRoutine(irp, probe_routine_b, NULL, FALSE, TRUE, FALSE);
  o->cur_loc = next->Control;
  o->next_routine = next->CompletionRoutine;
}

static void probe_mark(irp_obs_t *o, PIRP irp) {
  IoSetNextIrpStackLocation(irp);
  PIO_STACK_LOCATION cur = IoGetCurrentIrpStackLocation(irp), next = IoGetNextIrpStackLocation(irp);
  cur->Control = SL_INVOKE_ON_ERROR;
  next->Control = SL_INVOKE_ON_SUCCESS;
  IoMarkIrpPending(irp);
  o->cur = *cur;
  o->next = *next;
}

static void probe_cancel_routine(irp_obs_t *o, PIRP irp) {
  o->r1 = IoSetCancelRoutine(irp, probe_cancel);
  o->r2 = IoSetCancelRoutine(irp, NULL);
  o->r3 = irp->CancelRoutine;
}

/* A thread that allocates a 3-location IRP, runs one probe, frees it. */
static void probe_thread(PVOID arg) {
  irp_obs_t *o = arg;
  PIRP irp = IoAllocateIrp(3, FALSE);
  switch (o->step) {
  case 0: probe_layout(o, irp); break;
  case 1: probe_moves(o, irp); break;
  case 2: probe_copy(o, irp); break;
  case 3: probe_set_completion(o, irp); break;
  case 4: probe_mark(o, irp); break;
  case 5: probe_cancel_routine(o, irp); break;
  }
  IoFreeIrp(irp);
}

static sim_outcome_t run_probe(irp_obs_t *o) {
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "prober", probe_thread, o);
  sim_outcome_t out = sim_run(S);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  return out;
}

/* kernel-facts 1.1: a fresh N-location IRP has StackCount=N, CurrentLocation=N+1,
   CurrentStackLocation one past the array, an empty ThreadListEntry and
   everything else zeroed. */
START_TEST(fresh_irp_layout) {
  irp_obs_t o = {.step = 0};
  ck_assert_int_eq(run_probe(&o), SIM_RUN_OK);
  ck_assert_int_eq(o.stack_count, 3);
  ck_assert_int_eq(o.cur_loc, 4);
  ck_assert(o.cur_past_end);
  ck_assert(o.next_is_top); /* the first driver called gets location N */
  ck_assert(o.list_empty);
  ck_assert(o.zeroed);
}
END_TEST

/* kernel-facts 1.4: IoSetNextIrpStackLocation decrements both CurrentLocation and
   CurrentStackLocation; location k is stack[k-1]; IoSkipCurrentIrpStackLocation
   increments both. */
START_TEST(set_next_and_skip_move_both) {
  irp_obs_t o = {.step = 1};
  ck_assert_int_eq(run_probe(&o), SIM_RUN_OK);
  ck_assert_int_eq(o.cur_loc, 3);
  ck_assert(o.cur_matches);
  ck_assert(o.next_matches);
  ck_assert_int_eq(o.cur_loc2, 2);
  ck_assert_int_eq(o.cur_loc3, 3);
  ck_assert(o.cur_back);
}
END_TEST

/* kernel-facts 1.4: IoCopyCurrentIrpStackLocationToNext copies everything before
   CompletionRoutine, then zeroes the next Control; the next location's
   CompletionRoutine/Context are not touched. */
START_TEST(copy_to_next_stops_before_routine) {
  irp_obs_t o = {.step = 2};
  ck_assert_int_eq(run_probe(&o), SIM_RUN_OK);
  ck_assert_uint_eq(o.next.MajorFunction, IRP_MJ_WRITE);
  ck_assert_uint_eq(o.next.MinorFunction, 3);
  ck_assert_uint_eq(o.next.Flags, 0x11);
  ck_assert_uint_eq(o.next.Control, 0);
  ck_assert_uint_eq(o.next.Parameters.Write.Length, 777);
  ck_assert(o.next.Parameters.Write.ByteOffset.QuadPart == 4096);
  ck_assert_ptr_eq(o.next.DeviceObject, (PVOID)(uintptr_t)0x1000);
  ck_assert_ptr_eq(o.next.FileObject, (PVOID)(uintptr_t)0x2000);
  ck_assert(o.next.CompletionRoutine == probe_routine_b);
  ck_assert_ptr_eq(o.next.Context, (PVOID)(uintptr_t)0x4000);
  /* the source keeps its own bits */
  ck_assert_uint_eq(o.cur.Control, SL_PENDING_RETURNED | SL_INVOKE_ON_SUCCESS | SL_INVOKE_ON_ERROR);
}
END_TEST

/* kernel-facts 1.4: IoSetCompletionRoutine writes routine, context and the whole
   Control byte of the NEXT location (an earlier pending bit is lost); the
   current location is untouched. */
START_TEST(set_completion_overwrites_next_control) {
  irp_obs_t o = {.step = 3};
  ck_assert_int_eq(run_probe(&o), SIM_RUN_OK);
  ck_assert(o.next.CompletionRoutine == probe_routine_a);
  ck_assert_ptr_eq(o.next.Context, (PVOID)(uintptr_t)0x55);
  ck_assert_uint_eq(o.next.Control, SL_INVOKE_ON_SUCCESS | SL_INVOKE_ON_CANCEL);
  ck_assert_uint_eq(o.cur.Control, SL_INVOKE_ON_ERROR);
  ck_assert(o.cur.CompletionRoutine == NULL);
  ck_assert_int_eq(o.cur_loc, SL_INVOKE_ON_ERROR); /* second call: error only */
  ck_assert(o.next_routine == probe_routine_b);
}
END_TEST

/* kernel-facts 1.4: IoMarkIrpPending ORs SL_PENDING_RETURNED into the CURRENT
   location only. */
START_TEST(mark_pending_sets_current_bit_only) {
  irp_obs_t o = {.step = 4};
  ck_assert_int_eq(run_probe(&o), SIM_RUN_OK);
  ck_assert_uint_eq(o.cur.Control, SL_INVOKE_ON_ERROR | SL_PENDING_RETURNED);
  ck_assert_uint_eq(o.next.Control, SL_INVOKE_ON_SUCCESS);
}
END_TEST

/* kernel-facts 1.4: IoSetCancelRoutine exchanges Irp->CancelRoutine and returns
   the previous value. */
START_TEST(set_cancel_routine_returns_previous) {
  irp_obs_t o = {.step = 5};
  ck_assert_int_eq(run_probe(&o), SIM_RUN_OK);
  ck_assert(o.r1 == NULL);
  ck_assert(o.r2 == probe_cancel);
  ck_assert(o.r3 == NULL);
}
END_TEST

/* kernel-facts 1.5: a routine registered by the owner of location k runs with
   CurrentLocation==k, so IoGetCurrentIrpStackLocation is the registrant's own
   location, and its DeviceObject argument is the registrant's device. */
START_TEST(routine_sees_own_location) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.info = 512};
  tfilter_t f = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(f.routine_calls, 1);
  ck_assert_int_eq(f.routine_location, 2);
  ck_assert(f.routine_cur_is_own);
  ck_assert_ptr_eq(f.routine_dev, f.dev);
  ck_assert_int_eq(d.dispatch_location, 1); /* the lowest driver: location 1 */
  sim_destroy(S);
}
END_TEST

/* The creator of an IRP with no location of its own (kernel-facts 1.5). */
typedef struct creator {
  PDEVICE_OBJECT disk;
  KEVENT done;
  int calls, location;
  bool dev_null;
  KIRQL irql;
  NTSTATUS call_ret;
  int8_t stack_count;
} creator_t;

static NTSTATUS creator_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  creator_t *c = ctx;
  c->calls++;
  c->dev_null = dev == NULL;
  c->location = irp->CurrentLocation;
  c->irql = KeGetCurrentIrql();
  KeSetEvent(&c->done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED; /* the creator frees it */
}

static void creator_thread(PVOID arg) {
  creator_t *c = arg;
  KeInitializeEvent(&c->done, NotificationEvent, FALSE);
  PIRP irp = IoAllocateIrp(c->disk->StackSize, FALSE);
  c->stack_count = irp->StackCount;
  PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
  next->MajorFunction = IRP_MJ_READ;
  next->Parameters.Read.Length = 512;
  IoSetCompletionRoutine(irp, creator_done, c, TRUE, TRUE, TRUE);
  c->call_ret = IoCallDriver(c->disk, irp);
  KeWaitForSingleObject(&c->done, Executive, KernelMode, FALSE, NULL);
  IoFreeIrp(irp);
}

/* kernel-facts 1.5: an IRP creator that allocated exactly the lower StackSize has
   no own location: its routine sits in location N, runs with
   CurrentLocation==N+1 and DeviceObject==NULL (here from the disk's DPC, at
   DISPATCH_LEVEL, kernel-facts 6.1). */
START_TEST(creator_routine_has_no_location) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
  creator_t c = {.disk = d.dev};
  sim_thread_create(S, "creator", creator_thread, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.stack_count, 1);
  ck_assert_int_eq(c.call_ret, STATUS_PENDING);
  ck_assert_int_eq(c.calls, 1);
  ck_assert(c.dev_null);
  ck_assert_int_eq(c.location, 2);
  ck_assert_int_eq(c.irql, DISPATCH_LEVEL);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 1.5: if B skips and calls C, A's routine (in the slot B received)
   runs when C completes, with A's device; C works in that same location. */
START_TEST(skip_reuses_callers_slot) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.info = 512};
  tfilter_t b = {.mode = TF_SKIP}, a = {.mode = TF_COPY, .routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &b, &a, &r), SIM_RUN_OK);
  ck_assert_int_eq(a.routine_calls, 1);
  ck_assert_ptr_eq(a.routine_dev, a.dev);
  ck_assert_int_eq(a.routine_location, 3);
  ck_assert_int_eq(b.routine_calls, 0);
  ck_assert_int_eq(d.dispatch_location, 2); /* L1 unused */
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 1.5: skip then IoSetCompletionRoutine overwrites the upper
   driver's routine: A's routine never runs, B's runs in its place (and is
   handed A's device object, the owner of the location above). */
START_TEST(skip_then_set_overwrites_upper_routine) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.info = 512};
  tfilter_t b = {.mode = TF_SKIP_THEN_SET}, a = {.mode = TF_COPY, .routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &b, &a, &r), SIM_RUN_OK);
  ck_assert_int_eq(a.routine_calls, 0);
  ck_assert_int_eq(b.routine_calls, 1);
  ck_assert_ptr_eq(b.routine_dev, a.dev);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(irp_suite)
static Suite *irp_suite(void) {
  Suite *s = suite_create("irp");
  TCase *tc = tcase_create("stack-locations");
  tcase_add_test(tc, fresh_irp_layout);
  tcase_add_test(tc, set_next_and_skip_move_both);
  tcase_add_test(tc, copy_to_next_stops_before_routine);
  tcase_add_test(tc, set_completion_overwrites_next_control);
  tcase_add_test(tc, mark_pending_sets_current_bit_only);
  tcase_add_test(tc, set_cancel_routine_returns_previous);
  tcase_add_test(tc, routine_sees_own_location);
  tcase_add_test(tc, creator_routine_has_no_location);
  tcase_add_test(tc, skip_reuses_callers_slot);
  tcase_add_test(tc, skip_then_set_overwrites_upper_routine);
  suite_add_tcase(s, tc);
  return s;
}
