/*
 * test_garble.c - no program reads a fact from a step's detail text: every
 * lesson and bug scenario gives the same outcome, expectation results,
 * verifier findings, `iosim irp` pages and IRP flow diagrams when every
 * detail is replaced by "x" (tests/garble.sh does one scenario).
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"

static void garble_all(const char *pattern) {
  glob_t g;
  ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
  ck_assert_uint_gt(g.gl_pathc, 0);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sh garble.sh ../iosim %s", g.gl_pathv[i]);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "garble: %s changed when its details were garbled\n", g.gl_pathv[i]);
    ck_assert_msg(rc == 0, "%s: a result depends on detail text", g.gl_pathv[i]);
  }
  globfree(&g);
}

START_TEST(lessons_ignore_detail) { garble_all("../scenarios/lessons/*.iosim"); }
END_TEST

START_TEST(bugs_ignore_detail) { garble_all("../scenarios/bugs/*.iosim"); }
END_TEST

TEST_SUITE(garble_suite)
static Suite *garble_suite(void) {
  Suite *s = suite_create("garble");
  TCase *tc = tcase_create("detail");
  tcase_set_timeout(tc, 900); /* every scenario twice, with its views: minutes on a busy machine */
  tcase_add_test(tc, lessons_ignore_detail);
  tcase_add_test(tc, bugs_ignore_detail);
  suite_add_tcase(s, tc);
  return s;
}
