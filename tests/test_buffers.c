/*
 * test_buffers.c - the caller's buffer and the I/O manager's three methods
 * (kernel-facts 14): DO_BUFFERED_IO / METHOD_BUFFERED give the driver a
 * SystemBuffer copied in (write, IOCTL input) and copied back at stage 2
 * (read, IOCTL output: Information bytes, not on an error) then freed;
 * DO_DIRECT_IO / METHOD_IN_DIRECT / METHOD_OUT_DIRECT an MDL over the
 * user buffer; METHOD_NEITHER the user pointers themselves.
 */
#include "drivers.h"
#include "iosim/scenario.h"
#include "testlib.h"

#define IOCTL_T(method) CTL_CODE(0x22, 0x800, (method), 0)

/* What the driver saw, and what it answers with. */
typedef struct seen {
  NTSTATUS answer;         /* the status it completes with */
  ULONG_PTR info;          /* its Information, or (ULONG_PTR)-1: the length */
  const char *fill;        /* what it writes into the output buffer */
  ULONG flags;             /* the IRP's Flags */
  PVOID system_buffer, user_buffer, type3, mdl_va, mdl_sys;
  ULONG mdl_bytes;
  bool mdl_locked;
  char got[32];            /* the input it read (write data, IOCTL input) */
} seen_t;

/* The driver's output buffer, found the way a driver finds it. */
static char *out_buffer(PIRP irp, ULONG method_or_flags, bool ioctl) {
  if (ioctl) {
    if (method_or_flags == METHOD_BUFFERED) return irp->AssociatedIrp.SystemBuffer;
    if (method_or_flags == METHOD_NEITHER) return irp->UserBuffer;
    return irp->MdlAddress ? MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority) : NULL;
  }
  if (method_or_flags & DO_BUFFERED_IO) return irp->AssociatedIrp.SystemBuffer;
  if (method_or_flags & DO_DIRECT_IO)
    return irp->MdlAddress ? MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority) : NULL;
  return irp->UserBuffer;
}

static NTSTATUS buf_dispatch(PDEVICE_OBJECT dev, PIRP irp) {
  seen_t *s = dev->DeviceExtension;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  s->flags = irp->Flags;
  s->system_buffer = irp->AssociatedIrp.SystemBuffer;
  s->user_buffer = irp->UserBuffer;
  if (irp->MdlAddress) {
    s->mdl_va = MmGetMdlVirtualAddress(irp->MdlAddress);
    s->mdl_bytes = MmGetMdlByteCount(irp->MdlAddress);
    s->mdl_locked = (irp->MdlAddress->MdlFlags & MDL_PAGES_LOCKED) != 0;
    s->mdl_sys = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
  }
  ULONG len = 0;
  char *out = NULL;
  if (sp->MajorFunction == IRP_MJ_READ) {
    len = sp->Parameters.Read.Length;
    out = out_buffer(irp, dev->Flags, false);
  } else if (sp->MajorFunction == IRP_MJ_WRITE) {
    const char *in = out_buffer(irp, dev->Flags, false);
    if (in) memcpy(s->got, in, sp->Parameters.Write.Length < 31 ? sp->Parameters.Write.Length : 31);
  } else if (sp->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
    ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
    ULONG m = METHOD_FROM_CTL_CODE(code);
    ULONG inl = sp->Parameters.DeviceIoControl.InputBufferLength;
    const char *in = m == METHOD_NEITHER ? sp->Parameters.DeviceIoControl.Type3InputBuffer
                                         : irp->AssociatedIrp.SystemBuffer;
    s->type3 = m == METHOD_NEITHER ? sp->Parameters.DeviceIoControl.Type3InputBuffer : NULL;
    if (in) memcpy(s->got, in, inl < 31 ? inl : 31);
    len = sp->Parameters.DeviceIoControl.OutputBufferLength;
    out = out_buffer(irp, m, true);
  }
  if (out && s->fill) memcpy(out, s->fill, strlen(s->fill) < len ? strlen(s->fill) : len);
  irp->IoStatus.Status = s->answer;
  irp->IoStatus.Information = s->info == (ULONG_PTR)-1 ? len : s->info;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return s->answer;
}

static NTSTATUS buf_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  (void)RegistryPath;
  ULONG flags = (ULONG)(uintptr_t)sim_driver_context(drv);
  PDEVICE_OBJECT dev;
  NTSTATUS st = sim_create_device(drv, 0, "bufdev", &dev);
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++)
    drv->MajorFunction[m] =
        m == IRP_MJ_READ || m == IRP_MJ_WRITE || m == IRP_MJ_DEVICE_CONTROL ? buf_dispatch : tnow_dispatch;
  dev->Flags |= flags;
  dev->DeviceExtension = NULL;
  return st;
}

typedef struct app {
  PDEVICE_OBJECT dev;
  seen_t *seen;
  UCHAR major;
  ULONG code, in_len, out_len, options;
  const char *in;
  char user[32];           /* the program's buffer */
  IO_STATUS_BLOCK iosb;
  NTSTATUS ret;
  uint64_t bytes_before, bytes_after;
} app_t;

static void app_main(PVOID arg) {
  app_t *a = arg;
  sim_t *S = a->dev->DriverObject->Sim;
  PFILE_OBJECT f;
  ck_assert_int_eq(NtCreateFile(&f, a->dev, a->options, "f"), STATUS_SUCCESS);
  LONGLONG at = 0;
  memset(a->user, '.', sizeof a->user);
  if (a->in && a->major == IRP_MJ_WRITE) memcpy(a->user, a->in, strlen(a->in));
  char input[32];
  if (a->major == IRP_MJ_DEVICE_CONTROL && a->in) snprintf(input, sizeof input, "%s", a->in);
  a->bytes_before = sim_stats(S).bytes_live;
  if (a->major == IRP_MJ_READ) a->ret = NtReadFile(f, NULL, NULL, NULL, &a->iosb, a->user, a->out_len, &at);
  else if (a->major == IRP_MJ_WRITE)
    a->ret = NtWriteFile(f, NULL, NULL, NULL, &a->iosb, a->user, (ULONG)strlen(a->in), &at);
  else
    a->ret = NtDeviceIoControlFile(f, NULL, NULL, NULL, &a->iosb, a->code, a->in ? input : NULL, a->in_len,
                                   a->user, a->out_len);
  a->bytes_after = sim_stats(S).bytes_live;
  NtClose(f);
}

static void run(app_t *a, ULONG dev_flags) {
  sim_t *S = tsim_new(1, NULL);
  PDRIVER_OBJECT drv = sim_load_driver(S, "bufdrv", buf_entry, (PVOID)(uintptr_t)dev_flags);
  ck_assert_ptr_nonnull(drv);
  drv->DeviceObject->DeviceExtension = a->seen;
  a->dev = drv->DeviceObject;
  sim_thread_create(S, "app", app_main, a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  sim_destroy(S);
}

/* A buffered read: the driver fills the SystemBuffer, not the user's;
   stage 2 copies Information bytes back and frees the SystemBuffer. */
START_TEST(buffered_read_copied_back) {
  seen_t s = {.answer = STATUS_SUCCESS, .info = 5, .fill = "hello world"};
  app_t a = {.seen = &s, .major = IRP_MJ_READ, .out_len = 16, .options = FILE_SYNCHRONOUS_IO_NONALERT};
  run(&a, DO_BUFFERED_IO);
  ck_assert_ptr_nonnull(s.system_buffer);
  ck_assert_ptr_ne(s.system_buffer, a.user);
  ck_assert_ptr_eq(s.user_buffer, a.user);
  ck_assert_uint_eq(s.flags & (IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER | IRP_INPUT_OPERATION),
                    IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER | IRP_INPUT_OPERATION);
  ck_assert_int_eq(a.ret, STATUS_SUCCESS);
  ck_assert_uint_eq(a.iosb.Information, 5);
  ck_assert(!memcmp(a.user, "hello......", 11)); /* Information bytes, not the 11 filled */
  ck_assert_uint_eq(a.bytes_after, a.bytes_before); /* SystemBuffer and IRP freed */
}
END_TEST

/* A buffered read that fails: nothing is copied back (NT_ERROR), though
   the driver wrote its buffer and set Information; a warning is copied. */
START_TEST(buffered_read_error_not_copied) {
  seen_t s = {.answer = STATUS_INVALID_DEVICE_REQUEST, .info = 5, .fill = "hello"};
  app_t a = {.seen = &s, .major = IRP_MJ_READ, .out_len = 16, .options = FILE_SYNCHRONOUS_IO_NONALERT};
  run(&a, DO_BUFFERED_IO);
  ck_assert_int_eq(a.ret, STATUS_INVALID_DEVICE_REQUEST);
  ck_assert(!memcmp(a.user, "................", 16));
  ck_assert_uint_eq(a.bytes_after, a.bytes_before);
  seen_t w = {.answer = STATUS_BUFFER_OVERFLOW, .info = 3, .fill = "hello"};
  app_t b = {.seen = &w, .major = IRP_MJ_READ, .out_len = 16, .options = FILE_SYNCHRONOUS_IO_NONALERT};
  run(&b, DO_BUFFERED_IO);
  ck_assert_int_eq(b.ret, STATUS_BUFFER_OVERFLOW);
  ck_assert(!memcmp(b.user, "hel.", 4));
}
END_TEST

/* A buffered write: the data is in the SystemBuffer before dispatch. */
START_TEST(buffered_write_copied_in) {
  seen_t s = {.answer = STATUS_SUCCESS, .info = (ULONG_PTR)-1};
  app_t a = {.seen = &s, .major = IRP_MJ_WRITE, .in = "abcdef", .options = FILE_SYNCHRONOUS_IO_NONALERT};
  run(&a, DO_BUFFERED_IO);
  ck_assert_ptr_ne(s.system_buffer, a.user);
  ck_assert_str_eq(s.got, "abcdef");
  ck_assert_uint_eq(s.flags & IRP_INPUT_OPERATION, 0);
  ck_assert_uint_eq(a.bytes_after, a.bytes_before);
}
END_TEST

/* Direct I/O: an MDL over the user buffer, pages locked, its system
   address the buffer itself; no SystemBuffer; the device writes in place. */
START_TEST(direct_read_write_by_mdl) {
  seen_t s = {.answer = STATUS_SUCCESS, .info = 4, .fill = "data"};
  app_t a = {.seen = &s, .major = IRP_MJ_READ, .out_len = 8, .options = FILE_SYNCHRONOUS_IO_NONALERT};
  run(&a, DO_DIRECT_IO);
  ck_assert_ptr_null(s.system_buffer);
  ck_assert_ptr_eq(s.mdl_va, a.user);
  ck_assert_ptr_eq(s.mdl_sys, a.user);
  ck_assert_uint_eq(s.mdl_bytes, 8);
  ck_assert(s.mdl_locked);
  ck_assert(!memcmp(a.user, "data....", 8));
  ck_assert_uint_eq(a.bytes_after, a.bytes_before); /* the MDL freed */
  seen_t w = {.answer = STATUS_SUCCESS, .info = (ULONG_PTR)-1};
  app_t b = {.seen = &w, .major = IRP_MJ_WRITE, .in = "xyz", .options = FILE_SYNCHRONOUS_IO_NONALERT};
  run(&b, DO_DIRECT_IO);
  ck_assert_ptr_eq(w.mdl_va, b.user);
  ck_assert_str_eq(w.got, "xyz");
}
END_TEST

/* METHOD_BUFFERED: one SystemBuffer of max(in, out), the input copied in,
   Information bytes of it copied to the output buffer at stage 2 (by APC
   on an overlapped file: IOCTLs are not deferred). */
START_TEST(method_buffered_ioctl) {
  seen_t s = {.answer = STATUS_SUCCESS, .info = 3, .fill = "OUTPUT"};
  app_t a = {.seen = &s, .major = IRP_MJ_DEVICE_CONTROL, .code = IOCTL_T(METHOD_BUFFERED), .in = "in!",
             .in_len = 3, .out_len = 8};
  run(&a, 0);
  ck_assert_str_eq(s.got, "in!");
  ck_assert_ptr_ne(s.system_buffer, a.user);
  ck_assert_ptr_eq(s.user_buffer, a.user);
  ck_assert_uint_eq(s.flags & IRP_INPUT_OPERATION, IRP_INPUT_OPERATION);
  ck_assert_uint_eq(a.iosb.Information, 3);
  ck_assert(!memcmp(a.user + 3, ".....", 5));
  ck_assert(!memcmp(a.user, "OUT", 3)); /* "in!" was only in the system copy */
  ck_assert_uint_eq(a.bytes_after, a.bytes_before);
}
END_TEST

/* METHOD_IN_DIRECT / METHOD_OUT_DIRECT: input in the SystemBuffer, output
   behind a locked MDL, written in place (nothing to copy at stage 2). */
START_TEST(method_direct_ioctls) {
  ULONG methods[] = {METHOD_IN_DIRECT, METHOD_OUT_DIRECT};
  for (int i = 0; i < 2; i++) {
    seen_t s = {.answer = STATUS_SUCCESS, .info = 0, .fill = "XY"};
    app_t a = {.seen = &s, .major = IRP_MJ_DEVICE_CONTROL, .code = IOCTL_T(methods[i]), .in = "key",
               .in_len = 3, .out_len = 4};
    run(&a, 0);
    ck_assert_str_eq(s.got, "key");
    ck_assert_ptr_nonnull(s.system_buffer);
    ck_assert_ptr_eq(s.mdl_va, a.user);
    ck_assert_uint_eq(s.mdl_bytes, 4);
    ck_assert(s.mdl_locked);
    ck_assert_uint_eq(s.flags & IRP_INPUT_OPERATION, 0);
    ck_assert(!memcmp(a.user, "XY..", 4)); /* in place, though Information is 0 */
    ck_assert_uint_eq(a.bytes_after, a.bytes_before);
  }
}
END_TEST

/* METHOD_NEITHER: the driver gets the user's own pointers. */
START_TEST(method_neither_user_pointers) {
  seen_t s = {.answer = STATUS_SUCCESS, .info = 0, .fill = "raw"};
  app_t a = {.seen = &s, .major = IRP_MJ_DEVICE_CONTROL, .code = IOCTL_T(METHOD_NEITHER), .in = "ptr",
             .in_len = 3, .out_len = 4};
  run(&a, 0);
  ck_assert_ptr_null(s.system_buffer);
  ck_assert_ptr_eq(s.user_buffer, a.user);
  ck_assert_ptr_nonnull(s.type3);
  ck_assert_str_eq(s.got, "ptr");
  ck_assert(!memcmp(a.user, "raw.", 4));
}
END_TEST

/* The MDL routines a driver calls itself (from a simulated thread: they
   find the machine by their context). */
static void mdl_thread(PVOID arg) {
  int *ok = arg;
  static char buf[10000];
  PMDL m = IoAllocateMdl(buf + 4100, 300, FALSE, FALSE, NULL);
  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_eq(MmGetMdlVirtualAddress(m), buf + 4100);
  ck_assert_uint_eq(MmGetMdlByteCount(m), 300);
  ck_assert_uint_eq(MmGetMdlByteOffset(m), (uintptr_t)(buf + 4100) & 4095);
  MmProbeAndLockPages(m, KernelMode, IoWriteAccess);
  ck_assert(m->MdlFlags & MDL_PAGES_LOCKED);
  ck_assert_ptr_eq(MmGetSystemAddressForMdlSafe(m, NormalPagePriority), buf + 4100);
  MmUnlockPages(m);
  ck_assert(!(m->MdlFlags & MDL_PAGES_LOCKED));
  ck_assert_ptr_null(IoAllocateMdl(buf, 0, FALSE, FALSE, NULL));
  IoFreeMdl(m);
  *ok = 1;
}

START_TEST(mdl_routines) {
  sim_t *S = tsim_new(1, NULL);
  int ok = 0;
  sim_thread_create(S, "drv", mdl_thread, &ok);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(ok, 1);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(buffers_suite)
static Suite *buffers_suite(void) {
  Suite *s = suite_create("buffers");
  TCase *tc = tcase_create("the I/O manager's buffer methods");
  tcase_add_test(tc, buffered_read_copied_back);
  tcase_add_test(tc, buffered_read_error_not_copied);
  tcase_add_test(tc, buffered_write_copied_in);
  tcase_add_test(tc, direct_read_write_by_mdl);
  tcase_add_test(tc, method_buffered_ioctl);
  tcase_add_test(tc, method_direct_ioctls);
  tcase_add_test(tc, method_neither_user_pointers);
  tcase_add_test(tc, mdl_routines);
  suite_add_tcase(s, tc);
  return s;
}

/* ---- the scenario language: data, fill, buffered-io/direct-io, NAME.data ---- */

static scn_result_t run_scenario(const char *path) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
  scn_free(sc);
  return r;
}

/* The lesson: the three methods side by side; every expectation holds. */
START_TEST(lesson_three_methods) {
  scn_result_t r = run_scenario("../scenarios/lessons/25-buffers.iosim");
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  ck_assert_int_eq(r.expect_total, 13);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
}
END_TEST

/* METHOD_BUFFERED echo through the SystemBuffer, hex data; the last
   expectation (all six input bytes) must fail: only Information came back. */
START_TEST(scenario_echo_and_a_failing_data_expectation) {
  scn_result_t r = run_scenario("fixtures/scenarios/buffers-echo.iosim");
  ck_assert_int_eq(r.expect_total, 7);
  for (int i = 0; i < 6; i++) ck_assert_msg(r.expects[i].passed, "%s: %s", r.expects[i].text, r.expects[i].facts);
  ck_assert(!r.expects[6].passed);
  ck_assert_ptr_nonnull(strstr(r.expects[6].facts, "0x6162630000000000"));
  ck_assert_int_eq(r.expect_failed, 1);
  scn_result_free(&r);
}
END_TEST

static void refused(const char *path, int line, int col, const char *msg) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (sc) scn_free(sc);
  ck_assert_msg(sc == NULL, "%s loaded", path);
  ck_assert_msg(err.line == line && err.col == col, "%s: %d:%d (%s)", path, err.line, err.col, err.msg);
  ck_assert_ptr_nonnull(strstr(err.msg, msg));
}

START_TEST(scenario_bad_bytes) {
  refused("bad/scenarios/fill-odd-hex.iosim", 4, 10, "0x followed by pairs of hex digits");
  refused("bad/scenarios/write-data-too-long.iosim", 11, 18, "3 bytes of data do not fit in a write of 2");
  refused("bad/scenarios/expect-data-number.iosim", 13, 19, "expected bytes here");
}
END_TEST

TEST_SUITE(buffers_scn_suite)
static Suite *buffers_scn_suite(void) {
  Suite *s = suite_create("buffers-scenarios");
  TCase *tc = tcase_create("data, fill and NAME.data");
  tcase_add_test(tc, lesson_three_methods);
  tcase_add_test(tc, scenario_echo_and_a_failing_data_expectation);
  tcase_add_test(tc, scenario_bad_bytes);
  suite_add_tcase(s, tc);
  return s;
}
