/*
 * testlib.h - what every Check test file shares: suite registration (each
 * file registers its suites from a constructor, so adding a file needs no
 * edit elsewhere) and small helpers for building machines in tests.
 */
#ifndef IOSIM_TESTLIB_H
#define IOSIM_TESTLIB_H

#include <check.h>

typedef Suite *test_suite_fn(void);
void tests_register(test_suite_fn *fn);

#define TEST_SUITE(fn)                                                   \
  static Suite *fn(void);                                                \
  __attribute__((constructor)) static void register_##fn(void) { tests_register(fn); }

#endif
