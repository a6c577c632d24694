/*
 * test_samples.c - Microsoft's WDM driver samples (Windows-driver-samples,
 * fetched by `make samples` into build/samples, never copied into the
 * tree) compile unmodified with iosim's headers and behave as their
 * scenarios in tests/samples/ expect.  Without the fetched files (they
 * need the network once) each test says so and is skipped; under
 * `make asan` (no ../iosim) too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static void run_sample(const char *scenario, const char *source) {
  char src[256];
  snprintf(src, sizeof src, "../build/samples/%s", source);
  if (access("../iosim", X_OK) != 0 || access(src, R_OK) != 0) {
    fprintf(stderr, "test_samples: %s is not fetched (make samples) or ../iosim is not built: skipped\n", src);
    return;
  }
  char cmd[512];
  snprintf(cmd, sizeof cmd, "../iosim check --include-dir ../build/samples samples/%s > /dev/null 2>&1", scenario);
  int st = system(cmd);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    snprintf(cmd, sizeof cmd, "../iosim check --include-dir ../build/samples samples/%s 2>&1 | tail -30", scenario);
    ck_assert_int_eq(system(cmd), 0);
    ck_abort_msg("%s does not hold: its report is above", scenario);
  }
}

START_TEST(sioctl_four_methods) { run_sample("sioctl.iosim", "general/ioctl/wdm/sys/sioctl.c"); }
END_TEST
START_TEST(cancel_queued_reads) { run_sample("cancel.iosim", "general/cancel/sys/cancel.c"); }
END_TEST
START_TEST(event_timer_cancel_cleanup) { run_sample("event.iosim", "general/event/wdm/event.c"); }
END_TEST

TEST_SUITE(samples_suite)
static Suite *samples_suite(void) {
  Suite *s = suite_create("samples");
  TCase *tc = tcase_create("samples");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, sioctl_four_methods);
  tcase_add_test(tc, cancel_queued_reads);
  tcase_add_test(tc, event_timer_cancel_cleanup);
  suite_add_tcase(s, tc);
  return s;
}
