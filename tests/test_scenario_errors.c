/*
 * test_scenario_errors.c - malformed scenarios: scn_load refuses each one
 * with the exact file, line, column and message (docs/scenario-language.md
 * section 8), and the `iosim check` command line turns that into exit
 * status 2 and "file:line:col: message" on stderr; 1 for a scenario whose
 * expectation fails, 0 for a passing lesson.  Language behaviours (waiting
 * for a thread, cost order, count(...), completion contexts) are run from
 * fixtures whose expectations hold only when the behaviour works.  Fixtures: tests/bad/ and
 * tests/fixtures/ (paths relative to tests/, the runner's cwd).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "fixture.h"
#include "testlib.h"


START_TEST(unknown_statement) {
  tfix_refused(BAD "unknown-statement.iosim", BAD "unknown-statement.iosim", 2, 1, "unknown statement 'devise'");
}
END_TEST

START_TEST(bad_number) {
  tfix_refused(BAD "bad-number.iosim", BAD "bad-number.iosim", 7, 30, "bad number '20xs'");
}
END_TEST

START_TEST(missing_driver) {
  tfix_refused(BAD "missing-driver.iosim", BAD "missing-driver.iosim", 2, 8,
               "device d0 uses driver 'nodrv', which is not declared");
}
END_TEST

/* a includes b includes a: reported at b's include of a, naming the chain. */
START_TEST(include_loop) {
  tfix_refused(BAD "include-loop-a.iosim", BAD "include-loop-b.iosim", 3, 9,
               "include loop: include-loop-a.iosim includes include-loop-b.iosim includes include-loop-a.iosim");
}
END_TEST

START_TEST(include_escape) {
  tfix_refused(BAD "include-escape.iosim", BAD "include-escape.iosim", 2, 9,
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
  tfix_refused(BAD "unterminated-driver.iosim", BAD "unterminated-driver.iosim", 3, 8,
               "'driver nul' block is never closed with 'end'");
}
END_TEST

START_TEST(unterminated_thread) {
  tfix_refused(BAD "unterminated-thread.iosim", BAD "unterminated-thread.iosim", 2, 8,
               "'thread app' block is never closed with 'end'");
}
END_TEST

START_TEST(unterminated_if) {
  tfix_refused(BAD "unterminated-if.iosim", BAD "unterminated-if.iosim", 8, 5, "'if' block is never closed with 'end'");
}
END_TEST

START_TEST(unterminated_string) {
  tfix_refused(BAD "unterminated-string.iosim", BAD "unterminated-string.iosim", 2, 10, "unterminated string");
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
  tfix_refused(path, path, 2, 5, "this is not a text file (byte 0x00 at offset 15)");
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(unknown_operation) {
  tfix_refused(BAD "unknown-operation.iosim", BAD "unknown-operation.iosim", 4, 5,
               "unknown operation 'complete-request' in a driver routine");
}
END_TEST

/* Reported at the field itself. */
START_TEST(unknown_field) {
  tfix_refused(BAD "unknown-field.iosim", BAD "unknown-field.iosim", 5, 24, "unknown field 'colour'");
}
END_TEST

START_TEST(duplicate_device) {
  tfix_refused(BAD "duplicate-device.iosim", BAD "duplicate-device.iosim", 8, 10, "device 'd0' is already declared");
}
END_TEST

START_TEST(unknown_request) {
  tfix_refused(BAD "unknown-request.iosim", BAD "unknown-request.iosim", 5, 1, "no request is named 'r9'");
}
END_TEST

START_TEST(unknown_file) {
  tfix_refused(BAD "unknown-file.iosim", BAD "unknown-file.iosim", 3, 3, "no file named 'g' is opened by any thread");
}
END_TEST

START_TEST(empty_file) {
  tfix_refused(BAD "empty.iosim", BAD "empty.iosim", 1, 1, "declares no thread");
}
END_TEST

START_TEST(no_thread) {
  tfix_refused(BAD "no-thread.iosim", BAD "no-thread.iosim", 1, 1, "declares no thread");
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

/* ---- checks added with the language changes after 6d92bd7 ---- */

/* (3) A cost is 32 bits of nanoseconds: more is refused at the value. */
START_TEST(cost_too_large) {
  tfix_refused(BAD "cost-too-large.iosim", BAD "cost-too-large.iosim", 2, 10,
               "a cost is at most 4.29 s (4294967295 ns)");
}
END_TEST

/* (4) Fields are checked per subject, and reported at the field. */
START_TEST(field_of_request) {
  tfix_refused(BAD "field-of-request.iosim", BAD "field-of-request.iosim", 14, 8,
               "unknown field 'irql' of a request (status, information, pending-returned, data)");
}
END_TEST

START_TEST(field_of_event) {
  tfix_refused(BAD "field-of-event.iosim", BAD "field-of-event.iosim", 6, 24,
               "unknown field 'information' of an event (irql, frame, cpu, thread, status, time)");
}
END_TEST

/* (7) `.thread == NAME` names a declared thread (reported at the expect). */
START_TEST(field_thread_unknown) {
  tfix_refused(BAD "field-thread-unknown.iosim", BAD "field-thread-unknown.iosim", 6, 1,
               "no thread named 'ap' (or write none)");
}
END_TEST

/* (5) count( needs its ')'. */
START_TEST(count_unclosed) {
  tfix_refused(BAD "count-unclosed.iosim", BAD "count-unclosed.iosim", 5, 31, "missing ')' after count(...");
}
END_TEST

/* (14) A block whose `end` is missing is reported where it was opened as
   soon as a line appears that can only start a block or a top-level line. */
START_TEST(unclosed_routine) {
  tfix_refused(BAD "unclosed-routine.iosim", BAD "unclosed-routine.iosim", 4, 3,
               "'dispatch read' block is never closed with 'end' (found 'dispatch' at line 7)");
}
END_TEST

START_TEST(unclosed_thread) {
  tfix_refused(BAD "unclosed-thread.iosim", BAD "unclosed-thread.iosim", 3, 8,
               "'thread app' block is never closed with 'end' (found 'expect' at line 6)");
}
END_TEST

START_TEST(unclosed_driver) {
  tfix_refused(BAD "unclosed-driver.iosim", BAD "unclosed-driver.iosim", 3, 8,
               "'driver nul' block is never closed with 'end' (found 'device' at line 8)");
}
END_TEST

/* The while's missing `end` is taken from its routine, so the routine is
   the block left open when the next routine header appears. */
START_TEST(unclosed_while) {
  tfix_refused(BAD "unclosed-while.iosim", BAD "unclosed-while.iosim", 9, 3,
               "block is never closed with 'end' (found 'isr' at line 14)");
}
END_TEST

/* (15) One isr, one dpc, one default, each major once per driver. */
START_TEST(duplicate_isr) {
  tfix_refused(BAD "duplicate-isr.iosim", BAD "duplicate-isr.iosim", 10, 3,
               "driver d already has its isr routine (line 7)");
}
END_TEST

START_TEST(duplicate_dpc) {
  tfix_refused(BAD "duplicate-dpc.iosim", BAD "duplicate-dpc.iosim", 10, 3, "dpc routine (line 7)");
}
END_TEST

START_TEST(duplicate_default) {
  tfix_refused(BAD "duplicate-default.iosim", BAD "duplicate-default.iosim", 7, 12,
               "driver d already has a default dispatch routine (line 3)");
}
END_TEST

START_TEST(duplicate_major) {
  tfix_refused(BAD "duplicate-major.iosim", BAD "duplicate-major.iosim", 7, 18,
               "driver d already dispatches write (line 3)");
}
END_TEST

/* (16) What a driver uses must exist on each of its devices. */
START_TEST(start_io_no_hardware) {
  tfix_refused(BAD "start-io-no-hardware.iosim", BAD "start-io-no-hardware.iosim", 17, 8,
               "device d0 has no hardware, but driver d starts hardware I/O (" BAD "start-io-no-hardware.iosim:6)");
}
END_TEST

START_TEST(call_lower_no_on) {
  tfix_refused(BAD "call-lower-no-on.iosim", BAD "call-lower-no-on.iosim", 10, 8,
               "device p0 is attached to nothing, but driver pass calls the lower driver (" BAD
               "call-lower-no-on.iosim:6)");
}
END_TEST

START_TEST(send_no_on) {
  tfix_refused(BAD "send-no-on.iosim", BAD "send-no-on.iosim", 22, 8,
               "device p0 is attached to nothing, but driver prober calls the lower driver (" BAD
               "send-no-on.iosim:12)");
}
END_TEST

/* (17) At most 8 queues and 16 counters per driver, at the driver's name. */
START_TEST(too_many_queues) {
  tfix_refused(BAD "too-many-queues.iosim", BAD "too-many-queues.iosim", 3, 8, "driver q uses 9 queues; at most 8");
}
END_TEST

START_TEST(too_many_counters) {
  tfix_refused(BAD "too-many-counters.iosim", BAD "too-many-counters.iosim", 7, 8,
               "driver c uses 17 counters; at most 16");
}
END_TEST

/* ---- behaviours: the fixture's expectations hold only if it works ---- */

#define FIX "fixtures/scenarios/"


/* A scenario's port exists once and a request's name stays with its
   thread, whatever two CPUs do at the same moment (40 seeds). */
START_TEST(port_and_names_race_free) {
  scn_error_t err;
  scn_t *sc = scn_load(FIX "port-first-use-race.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert_uint_eq(scn_seed_count(sc), 40);
  for (unsigned i = 0; i < scn_seed_count(sc); i++) {
    scn_run_opts_t o = {.has_seed = true, .seed = scn_seed(sc) + i};
    scn_result_t r;
    ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
    ck_assert_int_eq(r.expect_total, 6);
    ck_assert_msg(r.expect_failed == 0, "seed %llu: %d failed", (unsigned long long)o.seed, r.expect_failed);
    scn_result_free(&r);
  }
  scn_free(sc);
}
END_TEST

/* CancelIo cancels the caller's port-bound (thread-agnostic) requests on
   the handle too, and waits for them. */
START_TEST(cancel_io_port_bound) {
  tfix_holds(FIX "cancel-io-port-bound.iosim", 4);
}
END_TEST

/* queue-apc and alert from another thread: a user APC ends an alertable
   sleep or waits for the next one; an alert ends it with STATUS_ALERTED
   or is remembered (kernel-facts 6.13). */
START_TEST(user_apc_and_alert) {
  tfix_holds(FIX "user-apc-alert.iosim", 11);
}
END_TEST

/* Waits beyond MAXIMUM_WAIT_OBJECTS and WaitAll on one object twice load,
   and fail at run time as WaitForMultipleObjects does. */
START_TEST(wait_limits_at_run_time) {
  tfix_holds(FIX "wait-limits.iosim", 4);
}
END_TEST

/* A device stack that needs more than 127 stack locations is refused when
   the machine is built, at the device that does not fit. */
START_TEST(stack_deeper_than_an_irp) {
  scn_error_t err;
  scn_t *sc = scn_load(FIX "stack-too-deep.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_run_opts_t o = {0};
  scn_result_t r;
  ck_assert_int_ne(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(err.line, 16 + 127); /* f127 */
  ck_assert_ptr_nonnull(strstr(err.msg, "device f127 cannot be attached on f126"));
  ck_assert_ptr_nonnull(strstr(err.msg, "127 stack locations"));
  scn_free(sc);
}
END_TEST

/* Port and file names in event patterns match the rows that name them;
   a port nobody used matches nothing. */
START_TEST(port_and_file_patterns) {
  tfix_holds(FIX "port-pattern.iosim", 4);
}
END_TEST

START_TEST(with_undeclared) {
  tfix_refused(BAD "with-undeclared.iosim", BAD "with-undeclared.iosim", 8, 8, "names 'with disk9', which is not declared");
}
END_TEST

/* (2) A thread is signalled at exit and stays so: both waiters, which have
   no timeout, wake, and the run ends ok rather than stalled. */
START_TEST(wait_for_thread) {
  scn_result_t r;
  tfix_run(FIX "wait-thread.iosim", NULL, &r, false);
  ck_assert_int_eq(r.expect_total, 5);
  ck_assert_int_eq(r.expect_failed, 0);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  scn_result_free(&r);
}
END_TEST

/* (3) Cost lines apply in file order: after the include the lesson's 50us
   wins; before it, the library's 5us does.  Each fixture's expectation on
   the DPC's timing fails under the other order. */
START_TEST(cost_file_order) {
  tfix_holds(FIX "cost-override.iosim", 2);
  scn_result_t r;
  tfix_run(FIX "cost-overridden.iosim", NULL, &r, false);
  ck_assert_int_eq(r.expect_total, 2);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
}
END_TEST

/* (5) count(PATTERN) counts like count PATTERN (and `none` matches rows
   without a thread); a wrong count in parentheses fails. */
START_TEST(count_with_parentheses) {
  tfix_holds(FIX "count-parens.iosim", 5);
  scn_result_t r;
  tfix_run(FIX "count-parens-false.iosim", NULL, &r, true);
  ck_assert_int_eq(r.expect_total, 1);
  ck_assert_int_eq(r.expect_failed, 1);
  ck_assert_ptr_nonnull(strstr(r.expects[0].facts, "happened 3 times"));
  scn_result_free(&r);
}
END_TEST

/* (10) set-completion ... context N reaches the routine's `if context`. */
START_TEST(completion_context) {
  tfix_holds(FIX "completion-context.iosim", 5);
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
  tcase_add_test(load, with_undeclared);
  tcase_add_test(load, port_and_file_patterns);
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
  tcase_add_test(load, cost_too_large);
  tcase_add_test(load, field_of_request);
  tcase_add_test(load, field_of_event);
  tcase_add_test(load, field_thread_unknown);
  tcase_add_test(load, count_unclosed);
  tcase_add_test(load, unclosed_routine);
  tcase_add_test(load, unclosed_thread);
  tcase_add_test(load, unclosed_driver);
  tcase_add_test(load, unclosed_while);
  tcase_add_test(load, duplicate_isr);
  tcase_add_test(load, duplicate_dpc);
  tcase_add_test(load, duplicate_default);
  tcase_add_test(load, duplicate_major);
  tcase_add_test(load, start_io_no_hardware);
  tcase_add_test(load, call_lower_no_on);
  tcase_add_test(load, send_no_on);
  tcase_add_test(load, too_many_queues);
  tcase_add_test(load, too_many_counters);
  suite_add_tcase(s, load);
  TCase *run = tcase_create("behaviour");
  tcase_set_timeout(run, 30);
  tcase_add_test(run, wait_for_thread);
  tcase_add_test(run, cost_file_order);
  tcase_add_test(run, count_with_parentheses);
  tcase_add_test(run, stack_deeper_than_an_irp);
  tcase_add_test(run, wait_limits_at_run_time);
  tcase_add_test(run, port_and_names_race_free);
  tcase_add_test(run, cancel_io_port_bound);
  tcase_add_test(run, user_apc_and_alert);
  tcase_add_test(run, completion_context);
  suite_add_tcase(s, run);
  TCase *cli = tcase_create("cli");
  tcase_set_timeout(cli, 30);
  tcase_add_test(cli, cli_bad_file_exits_2);
  tcase_add_test(cli, cli_passing_lesson_exits_0);
  tcase_add_test(cli, cli_false_expectation_exits_1);
  tcase_add_test(cli, cli_bad_wins_over_failed);
  suite_add_tcase(s, cli);
  return s;
}
