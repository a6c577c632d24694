/*
 * test_program.c - thread programs that do things in an odd order are
 * shown, not fatal: a wait on a file the thread opens only later is
 * skipped with a trace step (it crashed the simulator once).  Scenarios are
 * written to a temporary folder, so no fixture is needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "testlib.h"

/* Writes text to a fresh temporary scenario; *dir receives its folder. */
static void write_scenario(char *dir, size_t dn, char *path, size_t pn, const char *text) {
  snprintf(dir, dn, "%s", "/tmp/iosim-program-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, pn, "%s/s.iosim", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

START_TEST(wait_on_a_file_not_open_yet_is_skipped) {
  static const char text[] =
      "scenario \"wait before open\"\n"
      "driver null\n"
      "  dispatch default\n"
      "    complete STATUS_SUCCESS\n"
      "    return STATUS_SUCCESS\n"
      "  end\n"
      "end\n"
      "device d1 driver null\n"
      "thread app\n"
      "  wait fh\n"
      "  open fh d1 overlapped\n"
      "  note \"after\"\n"
      "end\n"
      "expect note(\"after\")\n"
      "expect thread app finished\n";
  char dir[64], path[128];
  write_scenario(dir, sizeof dir, path, sizeof path, text);
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  scn_free(sc);
  unlink(path);
  rmdir(dir);
}
END_TEST

TEST_SUITE(program_suite)
static Suite *program_suite(void) {
  Suite *s = suite_create("program");
  TCase *tc = tcase_create("odd-order");
  tcase_add_test(tc, wait_on_a_file_not_open_yet_is_skipped);
  suite_add_tcase(s, tc);
  return s;
}
