/*
 * test_cdriver.c - C drivers loaded by scenarios (`driver NAME load`) and
 * built with `iosim cc`: a driver's globals start afresh in every run; a
 * filter attaching in AddDevice sits on a scripted disk; `unload` waits
 * for the last close; the errors a driver developer meets (a source that
 * does not compile, no DriverEntry, a routine iosim lacks, a DriverEntry
 * that fails, a file outside the scenario tree, a driver loaded twice)
 * are clear and exit 2; a driver that crashes the process is reported
 * with its name, the routine and the last steps.  The command-line tests
 * are skipped (with a note) when ../iosim is not built, as under
 * `make asan`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "testlib.h"

START_TEST(c_driver_globals_start_afresh_each_run) {
  scn_error_t err;
  scn_t *sc = scn_load(FIX "c-fresh-globals.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  for (int i = 0; i < 3; i++) {
    scn_result_t r;
    ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
    ck_assert_int_eq(r.expect_total, 3);
    ck_assert_int_eq(r.expect_failed, 0); /* "load 1" and Information 1, every time */
    scn_result_free(&r);
  }
  scn_free(sc);
}
END_TEST

/* The C test drivers of tests/drivers-c, each loaded from its source as a
   scenario loads a driver (compiled with `iosim cc`'s flags) and driven by
   the scenario beside it. */
START_TEST(test_drivers_from_scenarios) {
  tfix_holds("drivers-c/bufioctl.iosim", 8);
  tfix_holds("drivers-c/startio.iosim", 8);
  tfix_holds("drivers-c/fwdfilter.iosim", 4);
  tfix_holds("drivers-c/csqread.iosim", 6);
  tfix_holds("drivers-c/notify.iosim", 4);
}
END_TEST

START_TEST(adddevice_filter_on_a_scripted_disk) { tfix_holds(FIX "c-adddevice-filter.iosim", 5); }
END_TEST

START_TEST(unload_waits_for_the_last_close) { tfix_holds(FIX "c-unload-while-open.iosim", 4); }
END_TEST

/* ---- the command line ---- */

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_cdriver: ../iosim is not built, skipping\n");
  return false;
}

typedef struct out {
  int rc;
  char text[8192];
} out_t;

/* Runs a shell command; its exit status and its output (stdout and
   stderr together). */
static out_t run_cmd(const char *cmd) {
  out_t o = {.rc = -1};
  char full[2048];
  snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
  FILE *p = popen(full, "r");
  if (!p) return o;
  size_t n = fread(o.text, 1, sizeof o.text - 1, p);
  o.text[n] = 0;
  int st = pclose(p);
  o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

/* A scenario folder of its own, holding `scenario` and, in drivers/,
   the C file `c_src` under the name `c_name`. */
static void make_case(char *dir, const char *scenario, const char *c_name, const char *c_src) {
  strcpy(dir, "/tmp/iosim-cdrvXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char p[512];
  snprintf(p, sizeof p, "%s/drivers", dir);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  snprintf(p, sizeof p, "%s/t.iosim", dir);
  FILE *f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs(scenario, f);
  fclose(f);
  if (!c_name) return;
  snprintf(p, sizeof p, "%s/drivers/%s", dir, c_name);
  f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs(c_src, f);
  fclose(f);
}

static void remove_case(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

START_TEST(iosim_cc_builds_a_driver_and_reports_compiler_errors) {
  if (!have_cli()) return;
  char dir[64], cmd[1024];
  make_case(dir, "", "bad.c", "#include <ntddk.h>\nNTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r) {\n"
                              "  return ZwNotARoutine(d, r);\n}\n");
  /* A real driver builds: lesson 26's RAM disk, from the tree. */
  snprintf(cmd, sizeof cmd, "../iosim cc ../scenarios/lib/drivers/ramdisk.c -o %s/ramdisk.so", dir);
  out_t o = run_cmd(cmd);
  ck_assert_msg(o.rc == 0, "%s", o.text);
  char so[256];
  snprintf(so, sizeof so, "%s/ramdisk.so", dir);
  ck_assert_int_eq(access(so, R_OK), 0);
  /* A routine iosim lacks is the compiler's error, shown, and exit 2,
     with no output left behind. */
  snprintf(cmd, sizeof cmd, "../iosim cc %s/drivers/bad.c -o %s/bad.so", dir, dir);
  o = run_cmd(cmd);
  ck_assert_int_eq(o.rc, 2);
  ck_assert_msg(strstr(o.text, "bad.c:3:") && strstr(o.text, "ZwNotARoutine"), "%s", o.text);
  ck_assert_msg(strstr(o.text, "iosim cc: the C compiler failed"), "%s", o.text);
  snprintf(so, sizeof so, "%s/bad.so", dir);
  ck_assert_int_ne(access(so, F_OK), 0);
  /* Bad command lines. */
  o = run_cmd("../iosim cc x.c");
  ck_assert_int_eq(o.rc, 2);
  o = run_cmd("../iosim cc x.txt -o x.so");
  ck_assert_int_eq(o.rc, 2);
  ck_assert_msg(strstr(o.text, "is not a C source"), "%s", o.text);
  o = run_cmd("../iosim cc --cflags");
  ck_assert_int_eq(o.rc, 0);
  ck_assert_msg(strstr(o.text, "-fshort-wchar") && strstr(o.text, "wdk"), "%s", o.text);
  remove_case(dir);
}
END_TEST

START_TEST(a_built_shared_object_loads) {
  if (!have_cli()) return;
  char dir[64], cmd[1024];
  make_case(dir,
            "scenario \"so\"\ndriver counter load \"counter.so\"\ndevice Counter0 driver counter\n"
            "thread app\n  open f Counter0\n  read f 4 as r1\nend\nexpect r1.information == 1\n",
            NULL, NULL);
  snprintf(cmd, sizeof cmd, "../iosim cc fixtures/scenarios/cdrivers/counter.c -o %s/counter.so", dir);
  out_t o = run_cmd(cmd);
  ck_assert_msg(o.rc == 0, "%s", o.text);
  snprintf(cmd, sizeof cmd, "../iosim check %s/t.iosim", dir);
  o = run_cmd(cmd);
  ck_assert_msg(o.rc == 0 && strstr(o.text, "1 expectation, 0 failed"), "%s", o.text);
  remove_case(dir);
}
END_TEST

/* The first line of the output that holds `part`, or fails. */
static void expect_line(const out_t *o, int rc, const char *part) {
  ck_assert_msg(o->rc == rc, "exit %d, not %d:\n%.3000s", o->rc, rc, o->text);
  ck_assert_msg(strstr(o->text, part), "no '%s' in:\n%.3000s", part, o->text);
}

static const char run_one[] = "thread app\n  open f Buggy0\n  read f 4 as r1\nend\n";

START_TEST(load_errors_are_clear) {
  if (!have_cli()) return;
  char dir[64], cmd[1024];
  /* No such file. */
  make_case(dir, "scenario \"x\"\ndriver d load \"drivers/none.c\"\nthread app\nend\n", NULL, NULL);
  snprintf(cmd, sizeof cmd, "../iosim run %s/t.iosim", dir);
  out_t o = run_cmd(cmd);
  expect_line(&o, 2, "t.iosim:2:15: cannot load \"drivers/none.c\"");
  remove_case(dir);
  /* Not a driver file. */
  make_case(dir, "scenario \"x\"\ndriver d load \"drivers/d.txt\"\nthread app\nend\n", "d.txt", "text\n");
  snprintf(cmd, sizeof cmd, "../iosim run %s/t.iosim", dir);
  o = run_cmd(cmd);
  expect_line(&o, 2, "t.iosim:2:15: load \"drivers/d.txt\": a driver is loaded from its C source");
  remove_case(dir);
  /* Outside the scenario tree. */
  make_case(dir, "scenario \"x\"\ndriver d load \"/etc/hostname\"\nthread app\nend\n", NULL, NULL);
  snprintf(cmd, sizeof cmd, "../iosim run %s/t.iosim", dir);
  o = run_cmd(cmd);
  expect_line(&o, 2, "leaves the scenario tree");
  remove_case(dir);
  /* A source that does not compile: the compiler's message, then ours. */
  make_case(dir, "scenario \"x\"\ndriver d load \"drivers/d.c\"\nthread app\nend\n", "d.c", "int x = ;\n");
  snprintf(cmd, sizeof cmd, "../iosim run %s/t.iosim", dir);
  o = run_cmd(cmd);
  expect_line(&o, 2, "d.c:1:");
  expect_line(&o, 2, "t.iosim:2:15: driver d: drivers/d.c does not build");
  remove_case(dir);
  /* No DriverEntry (the fixtures' folder is the scenario tree of these). */
  o = run_cmd("printf 'scenario \"x\"\\ndriver d load \"cdrivers/noentry.c\"\\nthread app\\nend\\n' > "
              "fixtures/scenarios/.noentry.iosim && ../iosim run fixtures/scenarios/.noentry.iosim; "
              "st=$?; rm -f fixtures/scenarios/.noentry.iosim; exit $st");
  expect_line(&o, 2, ".noentry.iosim:2:8: driver d: cdrivers/noentry.c has no DriverEntry");
  /* A DriverEntry that fails. */
  o = run_cmd("printf 'scenario \"x\"\\ndriver f load \"cdrivers/failing.c\"\\nthread app\\nend\\n' > "
              "fixtures/scenarios/.failing.iosim && ../iosim run fixtures/scenarios/.failing.iosim; "
              "st=$?; rm -f fixtures/scenarios/.failing.iosim; exit $st");
  expect_line(&o, 2, "driver f: its DriverEntry failed with STATUS_INSUFFICIENT_RESOURCES");
  /* The same image twice. */
  o = run_cmd("printf 'scenario \"x\"\\ndriver a load \"cdrivers/counter.c\"\\ndriver b load \"cdrivers/counter.c\"\\n"
              "thread app\\nend\\n' > fixtures/scenarios/.twice.iosim && ../iosim run fixtures/scenarios/.twice.iosim; "
              "st=$?; rm -f fixtures/scenarios/.twice.iosim; exit $st");
  expect_line(&o, 2, ".twice.iosim:3:15: cdrivers/counter.c is already loaded as driver a");
}
END_TEST

START_TEST(a_routine_iosim_lacks_is_named_at_load) {
  if (!have_cli()) return;
  char dir[64], cmd[1024];
  /* Built by hand (iosim cc would refuse the implicit declaration): the
     loader names the missing routine. */
  make_case(dir, "scenario \"x\"\ndriver m load \"drivers/m.so\"\nthread app\nend\n", "m.c",
            "int ZwQueryNothing(void);\nint DriverEntry(void *d, void *r) { (void)d; (void)r; return ZwQueryNothing(); }\n");
  snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o %s/drivers/m.so %s/drivers/m.c && ../iosim run %s/t.iosim", dir, dir,
           dir);
  out_t o = run_cmd(cmd);
  expect_line(&o, 2, "t.iosim:2:8: driver m calls ZwQueryNothing, which iosim does not provide");
  remove_case(dir);
}
END_TEST

START_TEST(a_crashing_driver_is_reported) {
  if (!have_cli()) return;
  char scn[512];
  snprintf(scn, sizeof scn, "scenario \"crash\"\ndriver buggy load \"cdrivers/nullderef.c\"\ndevice Buggy0 driver buggy\n%s",
           run_one);
  FILE *f = fopen("fixtures/scenarios/.crash.iosim", "w");
  ck_assert_ptr_nonnull(f);
  fputs(scn, f);
  fclose(f);
  out_t o = run_cmd("../iosim run fixtures/scenarios/.crash.iosim");
  expect_line(&o, 2, ".crash.iosim: driver buggy crashed the simulator's process: SIGSEGV");
  expect_line(&o, 2, "in BuggyDispatch+0x");
  expect_line(&o, 2, "nullderef.c:12");    /* the line of the bug */
  expect_line(&o, 2, "the last steps before it:");
  expect_line(&o, 2, "dispatch               buggy dispatch IRP_MJ_READ");
  /* what the run printed before the crash is there too */
  expect_line(&o, 2, "NtReadFile on f");
  /* check and explore report it the same way */
  o = run_cmd("../iosim check fixtures/scenarios/.crash.iosim");
  expect_line(&o, 2, "driver buggy crashed");
  o = run_cmd("../iosim explore fixtures/scenarios/.crash.iosim --quiet");
  expect_line(&o, 2, "driver buggy crashed");
  unlink("fixtures/scenarios/.crash.iosim");
}
END_TEST

/* A reader that goes away (| head) ends the run as it would end any
   program: no driver is blamed. */
START_TEST(a_closed_pipe_is_not_a_crash) {
  if (!have_cli()) return;
  out_t o = run_cmd("../iosim run drivers-c/startio.iosim 2>&1 >/dev/null | head -c0; "
                    "../iosim run drivers-c/startio.iosim 2>/tmp/iosim-pipe-err.txt | head -1 >/dev/null; "
                    "cat /tmp/iosim-pipe-err.txt; rm -f /tmp/iosim-pipe-err.txt");
  ck_assert_msg(!strstr(o.text, "crashed"), "%s", o.text);
}
END_TEST

TEST_SUITE(cdriver_suite)
static Suite *cdriver_suite(void) {
  Suite *s = suite_create("cdriver");
  TCase *tc = tcase_create("cdriver");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, c_driver_globals_start_afresh_each_run);
  tcase_add_test(tc, adddevice_filter_on_a_scripted_disk);
  tcase_add_test(tc, test_drivers_from_scenarios);
  tcase_add_test(tc, unload_waits_for_the_last_close);
  tcase_add_test(tc, iosim_cc_builds_a_driver_and_reports_compiler_errors);
  tcase_add_test(tc, a_built_shared_object_loads);
  tcase_add_test(tc, load_errors_are_clear);
  tcase_add_test(tc, a_routine_iosim_lacks_is_named_at_load);
  tcase_add_test(tc, a_crashing_driver_is_reported);
  tcase_add_test(tc, a_closed_pipe_is_not_a_crash);
  suite_add_tcase(s, tc);
  return s;
}
