/*
 * test_limits.c - the machine's limits end in clear reports, never in a
 * crash of the simulator: the deepest device stack an IRP can serve (127
 * locations) works and the 128th attach is refused; a driver that recurses
 * (through IoCallDriver, or from its completion routine) stops the machine
 * with UNEXPECTED_KERNEL_MODE_TRAP (0x7F, parameter 1 = 8, double fault),
 * as Windows reports a kernel stack overflow, before the coroutine's guard
 * page is reached; recursion that slips between the checks hits the guard
 * and the process exits with SIM_EXIT_STACK_OVERFLOW and a message; and
 * the simulator's own invariant checks (SIM_ASSERT) are on in this build.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "testlib.h"

#define CHAIN_DEVICES 127 /* the disk and 126 filters: StackSize 127 */

/* ---- a chain of pass-through devices ---- */

typedef struct chain {
  PDEVICE_OBJECT lowest;    /* attached to first */
  int filters;              /* how many to attach */
  PDEVICE_OBJECT top;       /* observations */
  int attached, passes;
  PDEVICE_OBJECT refused;   /* one more device, whose attach must fail */
  PDEVICE_OBJECT refused_on;
} chain_t;

static NTSTATUS chain_pass(PDEVICE_OBJECT dev, PIRP irp) {
  chain_t *c = dev->DriverObject->SimContext;
  c->passes++;
  /* Copy, not skip: each layer uses a location of its own, so the disk
     gets the last one (skipping would reuse the same location all the
     way down). */
  IoCopyCurrentIrpStackLocationToNext(irp);
  return IoCallDriver(dev->SimLowerDevice, irp);
}

static NTSTATUS chain_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  chain_t *c = arg;
  drv->SimContext = c;
  for (int i = 0; i < IRP_MJ_MAXIMUM_FUNCTION + 1; i++) drv->MajorFunction[i] = chain_pass;
  PDEVICE_OBJECT below = c->lowest;
  for (int i = 0; i < c->filters; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%d", i + 1);
    PDEVICE_OBJECT dev;
    NTSTATUS st = sim_create_device(drv, 0, name, &dev);
    if (!NT_SUCCESS(st)) return st;
    if (!IoAttachDeviceToDeviceStack(dev, below)) return STATUS_INVALID_PARAMETER;
    c->attached++;
    below = dev;
  }
  c->top = below;
  PDEVICE_OBJECT extra;
  NTSTATUS st = sim_create_device(drv, 0, "one-too-many", &extra);
  if (!NT_SUCCESS(st)) return st;
  c->refused = extra;
  c->refused_on = IoAttachDeviceToDeviceStack(extra, c->lowest);
  return STATUS_SUCCESS;
}

/* A read through 127 devices completes: the I/O manager builds an IRP of
   127 locations for the top device, every filter passes it on, the disk
   sees location 1.  A 128th device cannot attach (StackSize is a CCHAR). */
START_TEST(read_through_127_devices) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_SUCCESS, .info = 512};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
  chain_t c = {.lowest = d.dev, .filters = CHAIN_DEVICES - 1};
  ck_assert_ptr_nonnull(sim_load_driver(S, "chain", chain_entry, &c));
  ck_assert_int_eq(c.attached, CHAIN_DEVICES - 1);
  ck_assert_int_eq(c.top->StackSize, CHAIN_DEVICES);
  ck_assert_ptr_null(c.refused_on);          /* the 128th attach is refused */
  ck_assert_ptr_null(c.refused->SimLowerDevice);
  ck_assert_ptr_null(c.top->AttachedDevice); /* and left the stack as it was */
  tread_t r = {.top = c.top, .options = FILE_SYNCHRONOUS_IO_NONALERT};
  sim_thread_create(S, "app", tread_thread, &r);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_ptr_null(sim_bugcheck(S));
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(r.iosb.Information, 512);
  ck_assert_int_eq(d.dispatches, 1);
  ck_assert_int_eq(d.dispatch_location, 1); /* 126 filters above used 127..2 */
  ck_assert_int_ge(c.passes, CHAIN_DEVICES - 1);
  const sim_irp_info_t *in = sim_irp_info(S, r.irp);
  ck_assert_ptr_nonnull(in);
  sim_destroy(S);
}
END_TEST

/* ---- drivers that recurse ---- */

typedef struct recurse {
  PDEVICE_OBJECT dev;
  int depth, max_depth;     /* nested dispatch or routine calls */
  bool from_routine;        /* recurse from the completion routine */
} recurse_t;

static NTSTATUS recurse_routine(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx);

/* Sends a fresh read to the driver's own device. */
static NTSTATUS recurse_send(recurse_t *r) {
  PIRP irp = IoAllocateIrp(r->dev->StackSize, FALSE);
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_READ;
  if (r->from_routine) IoSetCompletionRoutine(irp, recurse_routine, r, TRUE, TRUE, TRUE);
  return IoCallDriver(r->dev, irp);
}

/* Completes the IRP it was given; from_routine = false: first sends
   another one to itself (a dispatch routine recursing through
   IoCallDriver, the classic filter that re-enters its own stack). */
static NTSTATUS recurse_read(PDEVICE_OBJECT dev, PIRP irp) {
  recurse_t *r = dev->DriverObject->SimContext;
  if (++r->depth > r->max_depth) r->max_depth = r->depth;
  if (!r->from_routine && r->depth < 100000) recurse_send(r);
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  r->depth--;
  return STATUS_SUCCESS;
}

/* The completion routine of each IRP sends the next one: the recursion
   runs through IoCompleteRequest -> routine -> IoCallDriver -> dispatch ->
   IoCompleteRequest... */
static NTSTATUS recurse_routine(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dev;
  recurse_t *r = ctx;
  if (++r->depth > r->max_depth) r->max_depth = r->depth;
  if (r->depth < 100000) recurse_send(r);
  r->depth--;
  IoFreeIrp(irp);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS recurse_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  recurse_t *r = arg;
  drv->SimContext = r;
  drv->MajorFunction[IRP_MJ_READ] = recurse_read;
  return sim_create_device(drv, 0, "loop0", &r->dev);
}

static void recurse_thread(PVOID arg) { recurse_send(arg); }

static void expect_stack_overflow(sim_t *S, sim_outcome_t o, const recurse_t *r) {
  ck_assert_int_eq(o, SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(b->code, UNEXPECTED_KERNEL_MODE_TRAP);
  ck_assert_uint_eq(b->p[0], EXCEPTION_DOUBLE_FAULT);
  ck_assert_msg(strstr(b->reason, "kernel stack overflowed"), "reason: %s", b->reason);
  /* Deep, but stopped well before the driver's own 100000 bound. */
  ck_assert_int_gt(r->max_depth, 50);
  ck_assert_int_lt(r->max_depth, 100000);
  ck_assert_uint_gt(b->p[1], 0);              /* bytes of stack used */
  ck_assert_uint_gt(b->p[2], 50);             /* IoCallDriver calls deep */
  char depth[32];
  snprintf(depth, sizeof depth, "%lu IoCallDriver calls deep", (unsigned long)b->p[2]);
  ck_assert_msg(strstr(b->reason, depth), "reason: %s", b->reason);
}

/* A dispatch routine that calls IoCallDriver on its own device again and
   again: 0x7F double fault, not a SIGSEGV. */
START_TEST(dispatch_recursion_is_0x7f_double_fault) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  recurse_t r = {0};
  ck_assert_ptr_nonnull(sim_load_driver(S, "loop", recurse_entry, &r));
  sim_thread_create(S, "app", recurse_thread, &r);
  expect_stack_overflow(S, sim_run(S), &r);
  ck_assert_int_ge(tlog_find_x(&log, TRC_BUGCHECK, 0, "UNEXPECTED_KERNEL_MODE_TRAP", 0), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A completion routine that sends a fresh IRP to the same device, whose
   dispatch completes it at once: the same end. */
START_TEST(completion_routine_recursion_is_0x7f_double_fault) {
  sim_t *S = tsim_new(1, NULL);
  recurse_t r = {.from_routine = true};
  ck_assert_ptr_nonnull(sim_load_driver(S, "loop", recurse_entry, &r));
  sim_thread_create(S, "app", recurse_thread, &r);
  expect_stack_overflow(S, sim_run(S), &r);
  sim_destroy(S);
}
END_TEST

/* The report says so, and the crash analysis printer copes with it. */
START_TEST(stack_overflow_crash_report) {
  sim_t *S = tsim_new(1, NULL);
  recurse_t r = {0};
  ck_assert_ptr_nonnull(sim_load_driver(S, "loop", recurse_entry, &r));
  sim_thread_create(S, "app", recurse_thread, &r);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(f);
  sim_bugcheck_report(S, f);
  fclose(f);
  ck_assert_msg(strstr(text, "*** STOP: 0x0000007F (0x8,"), "%s", text);
  ck_assert_msg(strstr(text, "UNEXPECTED_KERNEL_MODE_TRAP"), "%s", text);
  ck_assert_msg(strstr(text, "kernel stack overflowed"), "%s", text);
  free(text);
  sim_destroy(S);
}
END_TEST

/* ---- the scenario language can recurse too ---- */

/* A driver whose read dispatch sends a read to its own device (`send ...
   to`): the scenario runs to the same bugcheck. */
START_TEST(scenario_recursion_is_0x7f) {
  scn_error_t err;
  scn_t *sc = scn_load("../scenarios/bugs/recursion-overflows-stack.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_run_opts_t o = {0};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), 0);
  ck_assert_int_gt(r.expect_total, 0);
  for (int i = 0; i < r.expect_total; i++)
    ck_assert_msg(r.expects[i].passed, "%d: %s\n    %s", r.expects[i].line, r.expects[i].text,
                  r.expects[i].facts);
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* ---- the backstop: the guard page ---- */

/* Recursion that never passes through a kernel call: no check sees it, the
   guard page faults.  volatile keeps the frames (and their size). */
static int plain_recursion(volatile char *prev, int n, int limit) {
  volatile char buf[512];
  buf[0] = (char)n;
  buf[511] = prev ? prev[0] : 0;
  if (n == limit) return buf[0]; /* never: limit is far beyond any stack */
  return plain_recursion(buf, n + 1, limit) + buf[511];
}

static NTSTATUS runaway_read(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = (NTSTATUS)plain_recursion(NULL, 0, 1 << 30);
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS runaway_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  recurse_t *r = arg;
  drv->SimContext = r;
  drv->MajorFunction[IRP_MJ_READ] = runaway_read;
  return sim_create_device(drv, 0, "runaway0", &r->dev);
}

/* The machine runs in a child process whose stderr goes to a pipe: it
   must end with the documented status - not a signal - having said which
   thread overflowed and how Windows would name it. */
START_TEST(guard_page_exits_with_documented_status) {
  int fd[2];
  ck_assert_int_eq(pipe(fd), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], STDERR_FILENO);
    sim_t *S = tsim_new(1, NULL);
    recurse_t r = {0};
    if (!sim_load_driver(S, "runaway", runaway_entry, &r)) _exit(100);
    sim_thread_create(S, "runaway-app", recurse_thread, &r);
    sim_run(S);
    _exit(101); /* came back from an infinite recursion */
  }
  close(fd[1]);
  char out[4096];
  size_t n = 0;
  ssize_t k;
  while (n < sizeof out - 1 && (k = read(fd[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)k;
  out[n] = 0;
  close(fd[0]);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status), "the child died of signal %d:\n%s", WTERMSIG(status), out);
  ck_assert_msg(WEXITSTATUS(status) == SIM_EXIT_STACK_OVERFLOW, "exit %d:\n%s", WEXITSTATUS(status), out);
  ck_assert_msg(strstr(out, "UNEXPECTED_KERNEL_MODE_TRAP (0x7F) double fault"), "%s", out);
  ck_assert_msg(strstr(out, "simulated thread 'runaway-app'"), "%s", out);
  ck_assert_msg(strstr(out, "overflowed"), "%s", out);
}
END_TEST

/* ---- the simulator's own invariants ---- */

/* SIM_ASSERT is compiled out only by -DNDEBUG (the benchmark build): the
   test build must not define it, and the engine it links must say its
   checks are on. */
START_TEST(sim_assert_is_on_in_the_test_build) {
#ifdef NDEBUG
  ck_abort_msg("the test build defines NDEBUG: SIM_ASSERT is compiled out");
#endif
  ck_assert_msg(sim_asserts_enabled(), "the engine was built with SIM_ASSERT compiled out");
}
END_TEST

TEST_SUITE(limits_suite)
static Suite *limits_suite(void) {
  Suite *s = suite_create("limits");
  TCase *tc = tcase_create("limits");
  tcase_add_test(tc, read_through_127_devices);
  tcase_add_test(tc, dispatch_recursion_is_0x7f_double_fault);
  tcase_add_test(tc, completion_routine_recursion_is_0x7f_double_fault);
  tcase_add_test(tc, stack_overflow_crash_report);
  tcase_add_test(tc, scenario_recursion_is_0x7f);
  tcase_add_test(tc, guard_page_exits_with_documented_status);
  tcase_add_test(tc, sim_assert_is_on_in_the_test_build);
  suite_add_tcase(s, tc);
  return s;
}
