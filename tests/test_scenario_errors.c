/*
 * test_scenario_errors.c - malformed scenarios: scn_load refuses each one
 * with the exact file, line, column and message (docs/scenario-language.md
 * section 8), and the `iosim check` command line turns that into exit
 * status 2 and "file:line:col: message" on stderr; 1 for a scenario whose
 * expectation fails, 0 for a passing lesson.  Fixtures: tests/bad/ and
 * tests/fixtures/ (paths relative to tests/, the runner's cwd).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "testlib.h"

#define BAD "bad/scenarios/"

/* Loads `path` (which must fail) and checks where and why. */
static void expect_error(const char *path, const char *file, int line, int col, const char *msg_part) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (sc) scn_free(sc);
  ck_assert_msg(sc == NULL, "%s loaded, but it should have been refused", path);
  ck_assert_str_eq(err.file, file);
  ck_assert_msg(err.line == line && err.col == col, "%s: error at %d:%d (%s), want %d:%d", path, err.line,
                err.col, err.msg, line, col);
  ck_assert_msg(strstr(err.msg, msg_part) != NULL, "%s: message \"%s\" lacks \"%s\"", path, err.msg, msg_part);
}

START_TEST(unknown_statement) {
  expect_error(BAD "unknown-statement.iosim", BAD "unknown-statement.iosim", 2, 1, "unknown statement 'devise'");
}
END_TEST

START_TEST(bad_number) {
  expect_error(BAD "bad-number.iosim", BAD "bad-number.iosim", 7, 30, "bad number '20xs'");
}
END_TEST

START_TEST(missing_driver) {
  expect_error(BAD "missing-driver.iosim", BAD "missing-driver.iosim", 2, 8,
               "device d0 uses driver 'nodrv', which is not declared");
}
END_TEST

/* a includes b includes a: reported at b's include of a, naming the chain. */
START_TEST(include_loop) {
  expect_error(BAD "include-loop-a.iosim", BAD "include-loop-b.iosim", 3, 9,
               "include loop: include-loop-a.iosim includes include-loop-b.iosim includes include-loop-a.iosim");
}
END_TEST

START_TEST(include_escape) {
  expect_error(BAD "include-escape.iosim", BAD "include-escape.iosim", 2, 9,
               "include \"../outside.iosim\" leaves the scenario tree");
}
END_TEST

/* The same include is allowed when --include-dir names the folder. */
START_TEST(include_escape_allowed_by_extra_dir) {
  scn_error_t err;
  scn_t *sc = scn_load(BAD "include-escape.iosim", "bad", &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_free(sc);
}
END_TEST

START_TEST(unterminated_driver) {
  expect_error(BAD "unterminated-driver.iosim", BAD "unterminated-driver.iosim", 3, 8,
               "'driver nul' block is never closed with 'end'");
}
END_TEST

START_TEST(unterminated_thread) {
  expect_error(BAD "unterminated-thread.iosim", BAD "unterminated-thread.iosim", 2, 8,
               "'thread app' block is never closed with 'end'");
}
END_TEST

START_TEST(unterminated_if) {
  expect_error(BAD "unterminated-if.iosim", BAD "unterminated-if.iosim", 8, 5, "'if' block is never closed with 'end'");
}
END_TEST

START_TEST(unterminated_string) {
  expect_error(BAD "unterminated-string.iosim", BAD "unterminated-string.iosim", 2, 10, "unterminated string");
}
END_TEST

/* A file with a NUL byte on its second line, written to a fresh folder. */
START_TEST(not_text) {
  char dir[] = "/tmp/iosim-notext-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/binary.iosim", dir);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  static const char bytes[] = "thread app\n  sl\0eep 1us\nend\n";
  fwrite(bytes, 1, sizeof bytes - 1, f);
  fclose(f);
  expect_error(path, path, 2, 5, "this is not a text file (byte 0x00 at offset 15)");
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(unknown_operation) {
  expect_error(BAD "unknown-operation.iosim", BAD "unknown-operation.iosim", 4, 5,
               "unknown operation 'complete-request' in a driver routine");
}
END_TEST

/* Reported at the field itself. */
START_TEST(unknown_field) {
  expect_error(BAD "unknown-field.iosim", BAD "unknown-field.iosim", 5, 24, "unknown field 'colour'");
}
END_TEST

START_TEST(duplicate_device) {
  expect_error(BAD "duplicate-device.iosim", BAD "duplicate-device.iosim", 8, 10, "device 'd0' is already declared");
}
END_TEST

START_TEST(unknown_request) {
  expect_error(BAD "unknown-request.iosim", BAD "unknown-request.iosim", 5, 1, "no request is named 'r9'");
}
END_TEST

START_TEST(unknown_file) {
  expect_error(BAD "unknown-file.iosim", BAD "unknown-file.iosim", 3, 3, "no file named 'g' is opened by any thread");
}
END_TEST

START_TEST(empty_file) {
  expect_error(BAD "empty.iosim", BAD "empty.iosim", 1, 1, "declares no thread");
}
END_TEST

START_TEST(no_thread) {
  expect_error(BAD "no-thread.iosim", BAD "no-thread.iosim", 1, 1, "declares no thread");
}
END_TEST

START_TEST(missing_file) {
  scn_error_t err;
  ck_assert_ptr_null(scn_load(BAD "no-such-file.iosim", NULL, &err));
  ck_assert_str_eq(err.file, BAD "no-such-file.iosim");
  ck_assert_int_eq(err.line, 0);
  ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
}
END_TEST

/* ---- the command line ---- */

#define IOSIM "../iosim"

/* Runs `../iosim check FILE`; returns its exit status, stderr in `err`. */
static int run_check(const char *file, char *err, size_t n) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, IOSIM " check %s 2>&1 >/dev/null", file);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t got = fread(err, 1, n - 1, p);
  err[got] = 0;
  int st = pclose(p);
  ck_assert_msg(WIFEXITED(st), "%s did not exit normally", cmd);
  return WEXITSTATUS(st);
}

/* `make test` builds ../iosim; `make asan` does not, so skip without it. */
static bool have_iosim(void) {
  if (access(IOSIM, X_OK) == 0) return true;
  fprintf(stderr, "test_scenario_errors: %s not built, command-line checks skipped\n", IOSIM);
  return false;
}

START_TEST(cli_bad_file_exits_2) {
  if (!have_iosim()) return;
  char err[1024];
  ck_assert_int_eq(run_check(BAD "bad-number.iosim", err, sizeof err), 2);
  ck_assert_str_eq(err, BAD "bad-number.iosim:7:30: bad number '20xs' (write e.g. 42, 0x44, 200us, 4k)\n");
  ck_assert_int_eq(run_check(BAD "missing-driver.iosim", err, sizeof err), 2);
  ck_assert_str_eq(err, BAD "missing-driver.iosim:2:8: device d0 uses driver 'nodrv', which is not declared\n");
}
END_TEST

START_TEST(cli_passing_lesson_exits_0) {
  if (!have_iosim()) return;
  char err[1024];
  ck_assert_int_eq(run_check("../scenarios/lessons/02-async-read.iosim", err, sizeof err), 0);
  ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(cli_false_expectation_exits_1) {
  if (!have_iosim()) return;
  char err[1024];
  ck_assert_int_eq(run_check("fixtures/scenarios/false-expectation.iosim", err, sizeof err), 1);
  ck_assert_str_eq(err, "");
  char out[4096];
  FILE *p = popen(IOSIM " check fixtures/scenarios/false-expectation.iosim", "r");
  ck_assert_ptr_nonnull(p);
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = 0;
  pclose(p);
  ck_assert_ptr_nonnull(strstr(out, "FAIL fixtures/scenarios/false-expectation.iosim:8: expect thread app waiting"));
  ck_assert_ptr_nonnull(strstr(out, "PASS fixtures/scenarios/false-expectation.iosim:7: expect thread app finished"));
}
END_TEST

/* Several files: a bad one makes the whole check exit 2, even after a failure. */
START_TEST(cli_bad_wins_over_failed) {
  if (!have_iosim()) return;
  char err[1024];
  ck_assert_int_eq(run_check("fixtures/scenarios/false-expectation.iosim " BAD "empty.iosim", err, sizeof err), 2);
  ck_assert_str_eq(err, BAD "empty.iosim:1:1: the scenario declares no thread, so nothing would run\n");
}
END_TEST

TEST_SUITE(scenario_errors_suite)
static Suite *scenario_errors_suite(void) {
  Suite *s = suite_create("scenario-errors");
  TCase *load = tcase_create("load");
  tcase_add_test(load, unknown_statement);
  tcase_add_test(load, bad_number);
  tcase_add_test(load, missing_driver);
  tcase_add_test(load, include_loop);
  tcase_add_test(load, include_escape);
  tcase_add_test(load, include_escape_allowed_by_extra_dir);
  tcase_add_test(load, unterminated_driver);
  tcase_add_test(load, unterminated_thread);
  tcase_add_test(load, unterminated_if);
  tcase_add_test(load, unterminated_string);
  tcase_add_test(load, not_text);
  tcase_add_test(load, unknown_operation);
  tcase_add_test(load, unknown_field);
  tcase_add_test(load, duplicate_device);
  tcase_add_test(load, unknown_request);
  tcase_add_test(load, unknown_file);
  tcase_add_test(load, empty_file);
  tcase_add_test(load, no_thread);
  tcase_add_test(load, missing_file);
  suite_add_tcase(s, load);
  TCase *cli = tcase_create("cli");
  tcase_set_timeout(cli, 30);
  tcase_add_test(cli, cli_bad_file_exits_2);
  tcase_add_test(cli, cli_passing_lesson_exits_0);
  tcase_add_test(cli, cli_false_expectation_exits_1);
  tcase_add_test(cli, cli_bad_wins_over_failed);
  suite_add_tcase(s, cli);
  return s;
}
