/*
 * main.c - the test runner: every registered Check suite, one summary line.
 * Run from tests/ (scenario paths are relative to it).  CK_FORK=no for gdb.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"

#define MAX_SUITES 128

/* Filled by constructors before main runs; the runner's only mutable global. */
static test_suite_fn *suites[MAX_SUITES];
static int nsuites;

void tests_register(test_suite_fn *fn) {
  if (nsuites == MAX_SUITES) {
    fprintf(stderr, "too many suites\n");
    abort();
  }
  suites[nsuites++] = fn;
}

int main(void) {
  if (nsuites == 0) {
    fprintf(stderr, "no test suites registered\n");
    return 1;
  }
  /* A hang guard, not a timing assertion: generous, because the machines
     running CI are shared (an explicit CK_DEFAULT_TIMEOUT still wins). */
  setenv("CK_DEFAULT_TIMEOUT", "60", 0);
  SRunner *sr = srunner_create(suites[0]());
  for (int i = 1; i < nsuites; i++) srunner_add_suite(sr, suites[i]());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
