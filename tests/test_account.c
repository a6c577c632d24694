/*
 * test_account.c - the end of a run (issue 14): the end-of-run account
 * (irp-outstanding and thread-stuck steps, include/iosim/trace.h), the
 * verifier's irp-leaked rule and sim_irp_keep, pending-not-marked on the
 * path where a filter takes the IRP back with STATUS_MORE_PROCESSING_REQUIRED
 * and completes it again from its DPC, and three event-pattern facts: a
 * driver's note carries its device, wait-done is not a sleep's end, and a
 * status is a pattern argument.  Runs from tests/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "iosim/verify.h"
#include "testlib.h"

/* ---- a filter that finishes reads later, from its own DPC ---- */

typedef struct dfilt {
  /* configuration */
  bool mark;       /* IoMarkIrpPending in the dispatch routine (the fix) */
  bool recomplete; /* the DPC completes the IRP again (else it keeps it) */
  bool keep;       /* ... and says so with sim_irp_keep */
  /* observations */
  PDEVICE_OBJECT dev;
  uint32_t irp;
} dfilt_t;

static NTSTATUS df_pass(PDEVICE_OBJECT dev, PIRP irp) {
  IoSkipCurrentIrpStackLocation(irp);
  return IoCallDriver(dev->SimLowerDevice, irp);
}

static NTSTATUS df_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)ctx;
  IoRequestDpc(dev, irp, NULL); /* finish it in our DPC... */
  return STATUS_MORE_PROCESSING_REQUIRED; /* ...so take it back now */
}

static void df_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)ctx;
  dfilt_t *f = dev->DriverObject->SimContext;
  f->irp = irp->SimId;
  if (f->recomplete) IoCompleteRequest(irp, IO_NO_INCREMENT);
  else if (f->keep) sim_irp_keep(irp, "held by the test");
}

static NTSTATUS df_read(PDEVICE_OBJECT dev, PIRP irp) {
  dfilt_t *f = dev->DriverObject->SimContext;
  if (f->mark) IoMarkIrpPending(irp);
  IoCopyCurrentIrpStackLocationToNext(irp);
  IoSetCompletionRoutine(irp, df_done, NULL, TRUE, TRUE, TRUE);
  (void)IoCallDriver(dev->SimLowerDevice, irp);
  return STATUS_PENDING;
}

static NTSTATUS df_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  dfilt_t *f = arg;
  PDEVICE_OBJECT lower = sim_find_device(drv->Sim, "disk0");
  NTSTATUS st = sim_create_device(drv, 0, "defer0", &f->dev);
  if (!NT_SUCCESS(st)) return st;
  IoAttachDeviceToDeviceStack(f->dev, lower);
  IoInitializeDpcRequest(f->dev, df_dpc);
  drv->SimContext = f;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = df_pass;
  drv->MajorFunction[IRP_MJ_READ] = df_read;
  return STATUS_SUCCESS;
}

/* The steps of the end-of-run account, as a sink sees them. */
typedef struct acct_log {
  int irps, threads, after_run_end;
  bool run_ended;
  trc_irp_state_t state;
  uint32_t irp, thread, stuck_thread, device;
  char text[64];
  int stuck_count;
} acct_log_t;

static void acct_event(void *ud, const trc_event_t *ev) {
  acct_log_t *a = ud;
  if (ev->kind == TRC_RUN_END) a->run_ended = true;
  if (ev->kind != TRC_IRP_OUTSTANDING && ev->kind != TRC_THREAD_STUCK) return;
  a->after_run_end += a->run_ended;
  ck_assert_int_eq(ev->cpu, -1); /* the run's own steps */
  if (ev->kind == TRC_THREAD_STUCK) {
    a->threads++;
    a->stuck_thread = ev->target_thread;
    a->stuck_count = ev->count;
    return;
  }
  a->irps++;
  a->state = ev->irp_state;
  a->irp = ev->irp;
  a->thread = ev->target_thread;
  a->device = ev->device;
  snprintf(a->text, sizeof a->text, "%s", ev->text ? ev->text : "");
}

typedef struct drun {
  sim_outcome_t outcome;
  acct_log_t acct;
  int nf;
  vrf_rule_t rules[8];
  uint32_t irps[8];
  char device[8][32];
  char account[1024];
  uint64_t live;
} drun_t;

/* One overlapped read from "app" through the deferring filter over a
   pending disk; the thread waits for the read's event when `wait`. */
static void drun(dfilt_t *f, bool wait, drun_t *out) {
  memset(out, 0, sizeof *out);
  sim_t *S = sim_create(&(sim_config_t){.cpus = 1, .seed = 1, .max_time_ns = 5000000});
  ck_assert_ptr_nonnull(S);
  sim_keep_irp_info(S, true);
  vrf_t *v = vrf_new(S);
  trc_sink_t vs = vrf_sink(v), as = {.event = acct_event, .ud = &out->acct};
  sim_add_sink(S, &vs);
  sim_add_sink(S, &as);
  tdisk_t d = {.mode = TDISK_PEND, .status = STATUS_SUCCESS, .info = 512, .latency_ns = 20000};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
  ck_assert_ptr_nonnull(sim_load_driver(S, "defer", df_entry, f));
  tread_t r = {.top = f->dev, .use_event = true, .wait_event = wait};
  sim_thread_create(S, "app", tread_thread, &r);
  out->outcome = sim_run(S);
  vrf_finish(v, S);
  out->nf = (int)vrf_count(v);
  ck_assert_int_le(out->nf, 8);
  for (int i = 0; i < out->nf; i++) {
    out->rules[i] = vrf_get(v, i)->rule;
    out->irps[i] = vrf_get(v, i)->irp;
    snprintf(out->device[i], sizeof out->device[i], "%s", vrf_get(v, i)->device_name);
  }
  snprintf(out->account, sizeof out->account, "%s", vrf_account(v));
  out->live = sim_stats(S).irps_live;
  sim_destroy(S);
  vrf_free(v);
}

static int find_rule(const drun_t *d, vrf_rule_t rule) {
  for (int i = 0; i < d->nf; i++)
    if (d->rules[i] == rule) return i;
  return -1;
}

/* The bug of scenarios/bugs/irp-leaked.iosim, in C: STATUS_PENDING without
   IoMarkIrpPending, taken back, completed again from the DPC.  The second
   walk leaves the filter's location unmarked: pending-not-marked (decided
   there, not at the return), and the IRP - walk done, no stage 2 - leaks. */
START_TEST(mpr_then_dpc_without_mark_leaks) {
  dfilt_t f = {.mark = false, .recomplete = true};
  drun_t d;
  drun(&f, true, &d);
  ck_assert_int_eq(d.outcome, SIM_RUN_STALLED); /* app waits for an event nobody sets */
  int pm = find_rule(&d, VRF_PENDING_NOT_MARKED), lk = find_rule(&d, VRF_IRP_LEAKED);
  ck_assert_int_ge(pm, 0);
  ck_assert_int_ge(lk, 0);
  ck_assert_int_ge(find_rule(&d, VRF_DEADLOCK), 0);
  ck_assert_int_eq(d.nf, 3);
  ck_assert_uint_eq(d.irps[pm], f.irp);
  ck_assert_str_eq(d.device[pm], "defer0");
  ck_assert_uint_eq(d.irps[lk], f.irp);
  ck_assert_str_eq(d.device[lk], "defer0"); /* whose mark went missing */
  /* The account: that IRP, lost; app, waiting. */
  ck_assert_uint_eq(d.live, 1);
  ck_assert_int_eq(d.acct.irps, 1);
  ck_assert_int_eq(d.acct.state, TRC_IRPST_NO_STAGE2);
  ck_assert_uint_eq(d.acct.irp, f.irp);
  ck_assert_uint_eq(d.acct.thread, 1);
  ck_assert_int_eq(d.acct.threads, 1);
  ck_assert_uint_eq(d.acct.stuck_thread, 1);
  ck_assert_int_eq(d.acct.stuck_count, 1);
  ck_assert_int_eq(d.acct.after_run_end, 0); /* before the run-end step */
  ck_assert_ptr_nonnull(strstr(d.account, "at the end: 1 IRP still allocated, 1 thread still waiting"));
  ck_assert_ptr_nonnull(strstr(d.account, "lost [irp-leaked]"));
  ck_assert_ptr_nonnull(strstr(d.account, "thread app waits for"));
}
END_TEST

/* The fix: marked in the dispatch routine, the same path ends clean. */
START_TEST(mpr_then_dpc_with_mark_is_clean) {
  dfilt_t f = {.mark = true, .recomplete = true};
  drun_t d;
  drun(&f, true, &d);
  ck_assert_int_eq(d.outcome, SIM_RUN_OK);
  ck_assert_int_eq(d.nf, 0);
  ck_assert_uint_eq(d.live, 0);
  ck_assert_int_eq(d.acct.irps + d.acct.threads, 0);
  ck_assert_str_eq(d.account, "");
}
END_TEST

/* Taken back and never completed again: without the mark it is
   more-processing-never-completed; with sim_irp_keep it is kept, on
   purpose, and nothing is reported for it. */
START_TEST(kept_irp_is_no_finding) {
  dfilt_t f = {.mark = true, .recomplete = false, .keep = false};
  drun_t d;
  drun(&f, false, &d);
  ck_assert_int_eq(d.outcome, SIM_RUN_LIMIT); /* app cannot exit before its IRP */
  ck_assert_int_eq(d.nf, 1);
  ck_assert_int_eq(d.rules[0], VRF_MPR_NEVER_COMPLETED);
  ck_assert_int_eq(d.acct.state, TRC_IRPST_DRIVER);
  ck_assert_ptr_nonnull(strstr(d.account, "[more-processing-never-completed]"));

  f = (dfilt_t){.mark = true, .recomplete = false, .keep = true};
  drun(&f, false, &d);
  ck_assert_int_eq(d.outcome, SIM_RUN_LIMIT);
  ck_assert_int_eq(d.nf, 0);
  ck_assert_uint_eq(d.live, 1);
  ck_assert_int_eq(d.acct.irps, 1);
  ck_assert_int_eq(d.acct.state, TRC_IRPST_KEPT);
  ck_assert_str_eq(d.acct.text, "held by the test");
  ck_assert_int_eq(d.acct.threads, 1); /* app, sleeping between looks at its IRP list */
  ck_assert_int_eq(d.acct.stuck_count, 0);
  ck_assert_ptr_nonnull(strstr(d.account, "kept on purpose by a driver: held by the test"));
  ck_assert_ptr_null(strstr(d.account, "["));
}
END_TEST

/* ---- scenarios ---- */

static scn_t *load_text(const char *text, scn_error_t *err) {
  char dir[] = "/tmp/iosim-acctXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/t.iosim", dir);
  FILE *fp = fopen(path, "w");
  ck_assert_ptr_nonnull(fp);
  fputs(text, fp);
  fclose(fp);
  scn_t *sc = scn_load(path, NULL, err);
  remove(path);
  rmdir(dir);
  return sc;
}

/* Runs `text`; expectation i held iff want[i] is '+'. */
static void expect_results(const char *text, const char *want) {
  scn_error_t err;
  scn_t *sc = load_text(text, &err);
  ck_assert_msg(sc != NULL, "%d:%d: %s", err.line, err.col, err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.expect_total, (int)strlen(want));
  for (int i = 0; i < r.expect_total; i++)
    ck_assert_msg(r.expects[i].passed == (want[i] == '+'), "line %d: %s: %s (%s)", r.expects[i].line,
                  r.expects[i].text, r.expects[i].passed ? "held" : "failed", r.expects[i].facts);
  scn_result_free(&r);
  scn_free(sc);
}

static void expect_load_error(const char *text, int line, const char *msg) {
  scn_error_t err;
  scn_t *sc = load_text(text, &err);
  ck_assert_ptr_null(sc);
  ck_assert_int_eq(err.line, line);
  ck_assert_msg(strstr(err.msg, msg) != NULL, "%s", err.msg);
}

/* The lower driver completes during IoCallDriver: the walk has left the
   filter's location, unmarked, before the filter returns STATUS_PENDING -
   decided at the return.  A pass-through that returns what IoCallDriver
   returned, with the mark copied up by the I/O manager, is fine. */
START_TEST(pending_not_marked_after_the_walk_passed) {
  static const char drivers[] =
      "driver now\n  dispatch default\n    complete STATUS_SUCCESS info length\n    return STATUS_SUCCESS\n  end\nend\n"
      "driver f\n  dispatch read\n    copy-stack\n    call-lower\n    return STATUS_PENDING\n  end\n"
      "  dispatch default\n    skip-stack\n    call-lower\n    return lower-status\n  end\nend\n"
      "device n0 driver now\ndevice f0 driver f on n0\n"
      "event e\n"
      "thread app\n  open f f0 overlapped\n  read f 1 event e as r1\n  wait e timeout 1ms\nend\n";
  char text[2048];
  snprintf(text, sizeof text, "%s%s", drivers,
           "expect order walk-done(r1, pending == no) < return(f0, r1, STATUS_PENDING)\n"
           "expect finding pending-not-marked r1\n"
           "expect finding irp-leaked r1\n"
           "expect wait-done(app, STATUS_TIMEOUT)\n");
  expect_results(text, "++++");
  scn_error_t err;
  scn_t *sc = load_text(text, &err);
  ck_assert_ptr_nonnull(sc);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.finding_total, 2);
  ck_assert_str_eq(r.findings[0].name, "pending-not-marked");
  ck_assert_str_eq(r.findings[0].device_name, "f0");
  ck_assert_str_eq(r.findings[1].name, "irp-leaked");
  ck_assert_str_eq(r.findings[1].device_name, "f0");
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* The same bug as a scenario: its account, and the facts a pattern reads
   from it (`state`, the thread a thread-stuck step is about). */
START_TEST(account_steps_in_patterns) {
  expect_results("driver d\n"
                 "  dispatch read\n    mark-pending\n    queue q\n    return STATUS_PENDING\n  end\n"
                 "  dispatch default\n    complete STATUS_SUCCESS\n    return STATUS_SUCCESS\n  end\n"
                 "end\n"
                 "device d0 driver d\n"
                 "event e\n"
                 "thread app\n  open f d0 overlapped\n  read f 1 event e as r1\n  wait e\nend\n"
                 "expect irp-outstanding(r1, d0, state == driver)\n"
                 "expect irp-outstanding(r1, state == no-stage2)\n"
                 "expect irp-outstanding(target == app)\n"
                 "expect thread-stuck(app, e)\n"
                 "expect thread-stuck(none)\n"
                 "expect order irp-outstanding(r1) < thread-stuck(app) < run-end\n"
                 "expect finding irp-never-completed r1\n"
                 "expect finding deadlock\n"
                 "expect no finding irp-leaked\n",
                 "+-+++++++");
  expect_load_error("thread t\n  sleep 1us\nend\nexpect irp-outstanding(state == lost)\n", 4,
                    "'lost' is not a value of state (driver, creator, apc, port, no-stage2 or kept)");
}
END_TEST

/* No account after a bugcheck (what was in flight was cut off), and none
   when nothing is left. */
START_TEST(no_account_after_bugcheck_or_when_clean) {
  expect_results("driver twice\n  dispatch default\n    complete STATUS_SUCCESS\n    complete STATUS_SUCCESS\n"
                 "    return STATUS_SUCCESS\n  end\nend\n"
                 "device t0 driver twice\n"
                 "thread app\n  open f t0\nend\n"
                 "expect outcome bugcheck\n"
                 "expect finding double-completion\n"
                 "expect never irp-outstanding\n"
                 "expect never thread-stuck\n",
                 "++++");
  expect_results("thread app\n  sleep 1us\nend\n"
                 "expect outcome ok\n"
                 "expect never irp-outstanding\n"
                 "expect never thread-stuck\n",
                 "+++");
}
END_TEST

/* `note(DEVICE, "...")`: a driver's note is a step of its device. */
START_TEST(driver_note_carries_its_device) {
  expect_results("driver d\n  dispatch default\n    note \"in the driver\"\n    complete STATUS_SUCCESS\n"
                 "    return STATUS_SUCCESS\n  end\nend\n"
                 "device d0 driver d\n"
                 "thread app\n  open f d0\n  note \"in the program\"\nend\n"
                 "expect note(d0, \"in the driver\")\n"
                 "expect note(app, \"in the driver\")\n"   /* the thread it ran in */
                 "expect note(d0, \"in the program\")\n"  /* a program's note has no device */
                 "expect note(app, \"in the program\")\n"
                 "expect count note(d0) == 1\n",
                 "++-++");
}
END_TEST

/* A sleep is sleep .. sleep-done: `wait-done(T)` is T's waits only. */
START_TEST(wait_done_is_not_a_sleep) {
  expect_results("event e\n"
                 "thread app\n  sleep 10us\n  wait e timeout 20us\n  sleep 5us alertable\nend\n"
                 "expect count wait-done(app) == 1\n"
                 "expect wait-done(app).time > 30us\n"
                 "expect count sleep(app) == 2\n"
                 "expect count sleep-done(app) == 2\n"
                 "expect sleep-done(app).time < 20us\n"
                 "expect order sleep-done(app) < wait(app, e) < wait-done(app, STATUS_TIMEOUT) < sleep(app, 2)\n"
                 "expect count wait(app) == 1\n",
                 "+++++++");
}
END_TEST

/* A status is a pattern argument: the step's status, as `status == S`. */
START_TEST(status_is_a_pattern_argument) {
  expect_results("driver d\n"
                 "  dispatch read\n    complete STATUS_CANCELLED\n    return STATUS_CANCELLED\n  end\n"
                 "  dispatch default\n    complete STATUS_SUCCESS\n    return STATUS_SUCCESS\n  end\n"
                 "end\n"
                 "device d0 driver d\n"
                 "thread app\n  open f d0\n  read f 1 as r1\nend\n"
                 "expect complete(d0, r1, STATUS_CANCELLED)\n"
                 "expect complete(r1, STATUS_SUCCESS)\n"
                 "expect return(d0, STATUS_CANCELLED, 1).time > 0\n"
                 "expect count return(d0, STATUS_SUCCESS) == 1\n" /* the open's */
                 "expect count complete(STATUS_CANCELLED) == 1\n",
                 "+-+++");
  expect_load_error("thread t\n  sleep 1us\nend\nexpect wait-done(t, STATUS_WAIT_0)\n", 4,
                    "unknown status 'STATUS_WAIT_0'");
  expect_load_error("thread t\n  sleep 1us\nend\nexpect wait-done(status == STATUS_NOPE)\n", 4,
                    "'STATUS_NOPE' is not a value of status");
}
END_TEST
TEST_SUITE(suite_account)
static Suite *suite_account(void) {
  Suite *s = suite_create("account");
  TCase *tc = tcase_create("account");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, mpr_then_dpc_without_mark_leaks);
  tcase_add_test(tc, mpr_then_dpc_with_mark_is_clean);
  tcase_add_test(tc, kept_irp_is_no_finding);
  tcase_add_test(tc, pending_not_marked_after_the_walk_passed);
  tcase_add_test(tc, account_steps_in_patterns);
  tcase_add_test(tc, no_account_after_bugcheck_or_when_clean);
  tcase_add_test(tc, driver_note_carries_its_device);
  tcase_add_test(tc, wait_done_is_not_a_sleep);
  tcase_add_test(tc, status_is_a_pattern_argument);
  suite_add_tcase(s, tc);
  return s;
}
