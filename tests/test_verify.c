/*
 * test_verify.c - the verifier (include/iosim/verify.h): every rule fires
 * on its bug scenario and stays silent on the fixed twin; no lesson has a
 * finding it does not predict; findings are deterministic; the rule
 * table; `expect finding` parsing; and the verifier on C drivers written
 * against wdm.h, without the scenario language.  Runs from tests/.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "iosim/scenario.h"
#include "iosim/verify.h"
#include "testlib.h"

#define BUGS "../scenarios/bugs/"

static void run_file(const char *path, scn_result_t *r) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert_int_eq(scn_run(sc, NULL, r, &err), 0);
  scn_free(sc);
}

static bool has_finding(const scn_result_t *r, const char *rule) {
  for (int i = 0; i < r->finding_total; i++)
    if (!strcmp(r->findings[i].name, rule)) return true;
  return false;
}

/* Loop index = rule: its bug scenario reports it (and every finding there
   is predicted by an expect line), its fixed twin reports nothing. */
START_TEST(rule_fires_on_bug_not_on_fix) {
  const vrf_rule_info_t *ri = vrf_rule_info((vrf_rule_t)_i);
  char bug[256], fix[256];
  snprintf(bug, sizeof bug, BUGS "%s.iosim", ri->name);
  snprintf(fix, sizeof fix, BUGS "%s-fixed.iosim", ri->name);
  scn_result_t r;
  run_file(bug, &r);
  ck_assert_msg(has_finding(&r, ri->name), "%s: no %s finding", bug, ri->name);
  ck_assert_msg(r.finding_unexpected == 0, "%s: %d unpredicted finding(s)", bug, r.finding_unexpected);
  ck_assert_int_eq(r.expect_failed, 0);
  if (ri->bugcheck) {
    ck_assert_int_eq(r.outcome, SIM_RUN_BUGCHECK);
    ck_assert_uint_eq(r.bugcheck.code, ri->bugcheck);
    if (ri->subcode) ck_assert_uint_eq(r.bugcheck.p[0], ri->subcode);
    ck_assert_ptr_nonnull(r.last_steps); /* the crash analysis' last steps */
    ck_assert_ptr_nonnull(strstr(r.last_steps, "bugcheck"));
  }
  for (int i = 0; i < r.finding_total; i++) {
    ck_assert(r.findings[i].what[0] != '\0');
    if (r.findings[i].rule != VRF_DEADLOCK) ck_assert_uint_gt(r.findings[i].irp, 0);
  }
  scn_result_free(&r);
  run_file(fix, &r);
  ck_assert_msg(r.finding_total == 0, "%s: %d finding(s), first %s: %s", fix, r.finding_total,
                r.finding_total ? r.findings[0].name : "", r.finding_total ? r.findings[0].what : "");
  ck_assert_int_eq(r.expect_failed, 0);
  ck_assert_int_ne(r.outcome, SIM_RUN_BUGCHECK);
  scn_result_free(&r);
}
END_TEST

/* The lessons teach correct drivers, except where a lesson shows a bug on
   purpose - and then it says so with `expect finding`. */
START_TEST(lessons_have_no_unpredicted_finding) {
  static const char *const lessons[] = {"01-sync-read", "02-async-read", "03-more-processing",
                                        "04-pending-propagation", "05-forward-sync", "06-two-cpus"};
  for (size_t i = 0; i < sizeof lessons / sizeof lessons[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "../scenarios/lessons/%s.iosim", lessons[i]);
    scn_result_t r;
    run_file(path, &r);
    ck_assert_msg(r.finding_unexpected == 0, "%s: %s", path, r.finding_total ? r.findings[0].what : "");
    if (i != 3) ck_assert_msg(r.finding_total == 0, "%s has a finding", path);
    scn_result_free(&r);
  }
}
END_TEST

START_TEST(lesson_04_names_the_forgetful_routine) {
  scn_result_t r;
  run_file("../scenarios/lessons/04-pending-propagation.iosim", &r);
  ck_assert_int_eq(r.finding_total, 3);
  ck_assert_str_eq(r.findings[0].name, "pending-not-propagated");
  ck_assert_str_eq(r.findings[0].irp_tag, "rc");
  ck_assert_str_eq(r.findings[0].device_name, "fltC");
  ck_assert_uint_gt(r.findings[0].seq, 0);
  /* rc is never freed: no stage 2 runs for it; the routine that lost the
     mark is named again. */
  ck_assert_str_eq(r.findings[1].name, "irp-leaked");
  ck_assert_str_eq(r.findings[1].irp_tag, "rc");
  ck_assert_str_eq(r.findings[1].device_name, "fltC");
  ck_assert_str_eq(r.findings[2].name, "deadlock");
  ck_assert_ptr_nonnull(strstr(r.findings[2].what, "thread c waits for h"));
  ck_assert_uint_eq(r.findings[2].seq, 0); /* found at the end of the run */
  scn_result_free(&r);
}
END_TEST

/* Every scenario of the lessons, bug and exercise folders: each finding is
   predicted by an `expect finding` line (what `iosim check` demands). */
START_TEST(every_scenario_predicts_its_findings) {
  static const char *const dirs[] = {"../scenarios/lessons", "../scenarios/bugs", "../scenarios/exercises"};
  int files = 0;
  for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
    DIR *dir = opendir(dirs[d]);
    ck_assert_ptr_nonnull(dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
      size_t n = strlen(e->d_name);
      if (n < 7 || strcmp(e->d_name + n - 6, ".iosim")) continue;
      char path[512];
      snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
      if (tfix_failing_exercise(path)) continue; /* fails on purpose: test_exercises.c */
      scn_result_t r;
      run_file(path, &r);
      ck_assert_msg(r.finding_unexpected == 0, "%s: %d unpredicted finding(s)", path, r.finding_unexpected);
      scn_result_free(&r);
      files++;
    }
    closedir(dir);
  }
  ck_assert_int_ge(files, 2 * VRF_RULE_COUNT + 3);
}
END_TEST

/* Same scenario, same seed: the same findings, field for field. */
START_TEST(findings_are_deterministic) {
  scn_result_t a, b;
  run_file(BUGS "touched-after-release.iosim", &a);
  run_file(BUGS "touched-after-release.iosim", &b);
  ck_assert_int_eq(a.finding_total, b.finding_total);
  for (int i = 0; i < a.finding_total; i++) {
    ck_assert_str_eq(a.findings[i].name, b.findings[i].name);
    ck_assert_uint_eq(a.findings[i].seq, b.findings[i].seq);
    ck_assert_str_eq(a.findings[i].what, b.findings[i].what);
  }
  scn_result_free(&a);
  scn_result_free(&b);
}
END_TEST

START_TEST(rule_table) {
  for (int i = 0; i < VRF_RULE_COUNT; i++) {
    const vrf_rule_info_t *ri = vrf_rule_info((vrf_rule_t)i);
    ck_assert_int_eq(ri->rule, i);
    ck_assert_ptr_eq(vrf_rule_by_name(ri->name), ri);
    ck_assert_uint_gt(strlen(ri->explain), 200); /* a paragraph, with the fix */
    ck_assert_ptr_nonnull(strstr(ri->explain, "Fix"));
  }
  ck_assert_ptr_null(vrf_rule_by_name("no-such-rule"));
  ck_assert_ptr_null(vrf_rule_info(VRF_RULE_COUNT));
}
END_TEST

static scn_t *load_text(const char *text, scn_error_t *err) {
  char dir[] = "/tmp/iosim-vrfXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/t.iosim", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  scn_t *sc = scn_load(path, NULL, err);
  remove(path);
  rmdir(dir);
  return sc;
}

START_TEST(expect_finding_parses) {
  scn_error_t err;
  scn_t *sc = load_text("thread t\n  sleep 1us\nend\nexpect finding pending-not-markd\n", &err);
  ck_assert_ptr_null(sc);
  ck_assert_int_eq(err.line, 4);
  ck_assert_ptr_nonnull(strstr(err.msg, "unknown verifier rule 'pending-not-markd'"));
  ck_assert_ptr_nonnull(strstr(err.msg, "pending-not-marked"));
  sc = load_text("thread t\n  sleep 1us\nend\nexpect finding\n", &err);
  ck_assert_ptr_null(sc);
  sc = load_text("thread t\n  sleep 1us\nend\nexpect no finding\nexpect no finding deadlock\n"
                 "expect finding deadlock\n", &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.expect_total, 3);
  ck_assert(r.expects[0].passed);
  ck_assert(r.expects[1].passed);
  ck_assert(!r.expects[2].passed); /* nothing deadlocked */
  ck_assert_int_eq(r.finding_total, 0);
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* An unpredicted finding counts; `expect finding` makes it predicted. */
START_TEST(unpredicted_findings_are_counted) {
  static const char body[] =
      "driver d\n  dispatch read\n    start-io\n    return STATUS_PENDING\n  end\n"
      "  dispatch default\n    complete STATUS_SUCCESS\n    return STATUS_SUCCESS\n  end\n"
      "  dpc\n    complete STATUS_SUCCESS\n  end\nend\n"
      "device d0 driver d hardware latency 10us irql 5\n"
      "thread t\n  open f d0 synchronous\n  read f 1 as r1\nend\n";
  char text[1024];
  scn_error_t err;
  snprintf(text, sizeof text, "%sexpect outcome stalled\n", body);
  scn_t *sc = load_text(text, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.expect_failed, 0);
  ck_assert_int_eq(r.finding_total, 3); /* pending-not-marked, irp-leaked, deadlock */
  ck_assert_int_eq(r.finding_unexpected, 3);
  scn_result_free(&r);
  scn_free(sc);
  snprintf(text, sizeof text, "%sexpect finding pending-not-marked r1\n", body);
  sc = load_text(text, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.finding_unexpected, 2); /* the leak and the deadlock are still unpredicted */
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* ---- C drivers against wdm.h, verified without a scenario ---- */

typedef struct cdrv {
  bool touch_after;   /* set the status after completing */
} cdrv_t;

static NTSTATUS c_read(PDEVICE_OBJECT dev, PIRP irp) {
  cdrv_t *cfg = dev->DriverObject->SimContext;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  if (cfg->touch_after) (void)IoSetCancelRoutine(irp, NULL); /* the bug: the IRP is not ours */
  return STATUS_SUCCESS;
}

static NTSTATUS c_other(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS c_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  drv->SimContext = arg;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = c_other;
  drv->MajorFunction[IRP_MJ_READ] = c_read;
  PDEVICE_OBJECT dev;
  return sim_create_device(drv, 0, "c0", &dev);
}

static void c_app(PVOID arg) {
  PDEVICE_OBJECT top = arg;
  PFILE_OBJECT f;
  IO_STATUS_BLOCK iosb;
  ck_assert_int_eq(NtCreateFile(&f, top, FILE_SYNCHRONOUS_IO_NONALERT, "f"), STATUS_SUCCESS);
  (void)NtReadFile(f, NULL, NULL, NULL, &iosb, NULL, 512, NULL);
}

static size_t run_c(bool touch_after, vrf_rule_t *first) {
  cdrv_t cfg = {.touch_after = touch_after};
  sim_t *S = sim_create(&(sim_config_t){.cpus = 1, .seed = 1});
  vrf_t *v = vrf_new(S);
  trc_sink_t s = vrf_sink(v);
  sim_add_sink(S, &s);
  sim_load_driver(S, "cdrv", c_entry, &cfg);
  sim_thread_create(S, "app", c_app, sim_find_device(S, "c0"));
  sim_run(S);
  vrf_finish(v, S);
  size_t n = vrf_count(v);
  if (n) *first = vrf_get(v, 0)->rule;
  sim_destroy(S);
  ck_assert_int_eq(vrf_count(v), n); /* findings outlive the machine */
  vrf_free(v);
  return n;
}

START_TEST(c_driver_touch_after_complete) {
  vrf_rule_t r = VRF_RULE_COUNT;
  ck_assert_uint_eq(run_c(false, &r), 0);
  ck_assert_uint_eq(run_c(true, &r), 1);
  ck_assert_int_eq(r, VRF_TOUCHED_AFTER_RELEASE);
}
END_TEST

TEST_SUITE(suite_verify)
static Suite *suite_verify(void) {
  Suite *s = suite_create("verify");
  TCase *tc = tcase_create("rules");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, rule_fires_on_bug_not_on_fix, 0, VRF_RULE_COUNT);
  tcase_add_test(tc, lessons_have_no_unpredicted_finding);
  tcase_add_test(tc, every_scenario_predicts_its_findings);
  tcase_add_test(tc, lesson_04_names_the_forgetful_routine);
  tcase_add_test(tc, findings_are_deterministic);
  tcase_add_test(tc, rule_table);
  tcase_add_test(tc, expect_finding_parses);
  tcase_add_test(tc, unpredicted_findings_are_counted);
  tcase_add_test(tc, c_driver_touch_after_complete);
  suite_add_tcase(s, tc);
  return s;
}
