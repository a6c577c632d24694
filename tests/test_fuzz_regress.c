/*
 * test_fuzz_regress.c - every input a fuzzer ever kept (tests/fuzz/regress/
 * TARGET/), replayed through the same harness entry points libFuzzer calls,
 * built here with the ordinary compiler (docs/fuzzing.md).  An input that
 * crashes, trips a sanitizer (under make asan) or aborts fails its target's
 * test, named on stderr.  Inputs listed in regress/PENDING (one
 * "TARGET/NAME reason" a line) wait for a fix in another branch: they are
 * skipped, and counted, so the list is seen.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "testlib.h"

typedef int target_fn(const uint8_t *data, size_t n);

static int pending(const char *target, const char *name) {
  char path[600], line[600], want[600];
  snprintf(path, sizeof path, "%s/tests/fuzz/regress/PENDING", fz_srcdir());
  snprintf(want, sizeof want, "%s/%s", target, name);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    size_t k = strcspn(line, " \t\n");
    found = k == strlen(want) && !strncmp(line, want, k);
  }
  fclose(f);
  return found;
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot read %s", path);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  ck_assert_int_ge(len, 0);
  rewind(f);
  unsigned char *b = malloc((size_t)len + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* Replays the folder; returns how many inputs ran. */
static int replay(const char *target, target_fn *fn) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/%s", fz_srcdir(), target);
  struct dirent **names;
  int n = scandir(dir, &names, NULL, alphasort);
  ck_assert_msg(n >= 0, "no folder %s", dir);
  int ran = 0, skipped = 0;
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (name[0] != '.') {
      if (pending(target, name)) {
        skipped++;
      } else {
        char path[800];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        size_t len;
        unsigned char *b = slurp(path, &len);
        setenv("IOSIM_FUZZ_INPUT", path, 1); /* for a debugger or a core file */
        ck_assert_int_eq(fn(b, len), 0);
        free(b);
        ran++;
      }
    }
    free(names[i]);
  }
  free(names);
  if (skipped)
    fprintf(stderr, "fuzz regress %s: %d input(s) skipped, listed in tests/fuzz/regress/PENDING\n", target, skipped);
  return ran;
}

START_TEST(regress_scenario) { ck_assert_int_gt(replay("scenario", fz_scenario_one), 0); }
END_TEST

START_TEST(regress_tracedb) { ck_assert_int_gt(replay("tracedb", fz_tracedb_one), 0); }
END_TEST

START_TEST(regress_token) { ck_assert_int_gt(replay("token", fz_token_one), 0); }
END_TEST

START_TEST(regress_replay) { ck_assert_int_gt(replay("replay", fz_replay_one), 0); }
END_TEST

/* The mutator itself: it edits most inputs, and some edits nest or stack
   hundreds deep (the inputs are not run here: that is the fuzzer's job). */
static size_t no_fallback(uint8_t *data, size_t size, size_t max) {
  (void)data, (void)max;
  return size;
}

START_TEST(mutator_reaches_depth) {
  static const char src[] = "scenario \"m\"\ninclude \"../lib/disk.iosim\"\ndevice d0 driver disk latency 100us\n"
                            "thread t\n  open f d0\n  read f 512 as r1\nend\n";
  size_t max = 1 << 20, deepest = 0;
  uint8_t *b = malloc(max);
  ck_assert_ptr_nonnull(b);
  int changed = 0;
  for (unsigned seed = 1; seed < 400; seed++) {
    memcpy(b, src, sizeof src - 1);
    size_t n = fz_scenario_mutate(b, sizeof src - 1, max, seed, no_fallback);
    ck_assert_uint_le(n, max);
    changed += n != sizeof src - 1 || memcmp(b, src, n) != 0;
    if (n > deepest) deepest = n;
  }
  free(b);
  ck_assert_int_gt(changed, 200);
  ck_assert_uint_gt(deepest, 4000); /* some edit nested or stacked hundreds deep */
}
END_TEST

TEST_SUITE(fuzz_regress_suite)
static Suite *fuzz_regress_suite(void) {
  Suite *s = suite_create("fuzz_regress");
  TCase *tc = tcase_create("replay");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, regress_scenario);
  tcase_add_test(tc, regress_tracedb);
  tcase_add_test(tc, regress_token);
  tcase_add_test(tc, regress_replay);
  tcase_add_test(tc, mutator_reaches_depth);
  suite_add_tcase(s, tc);
  return s;
}
