/*
 * test_layering.c - the dependency check (tests/layering.sh, docs/
 * architecture.md) passes on the real build and fails, naming the culprit,
 * on a build that breaks the rule: a dispatcher object calling the I/O
 * manager directly, and an engine object using the scenario language.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

/* Compiles `code` into DIR/sim/SUB/NAME.o. */
static void object(const char *dir, const char *sub, const char *name, const char *code) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mkdir -p %s/sim/%s && printf '%%s\\n' '%s' > %s/sim/%s/%s.c && "
                            "cc -c -o %s/sim/%s/%s.o %s/sim/%s/%s.c",
           dir, sub, code, dir, sub, name, dir, sub, name, dir, sub, name);
  ck_assert_int_eq(system(cmd), 0);
}

static char *run_check(const char *build, int *status) {
  char cmd[512], *out = NULL;
  size_t n = 0;
  snprintf(cmd, sizeof cmd, "cd .. && sh tests/layering.sh %s 2>&1", build);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  FILE *m = open_memstream(&out, &n);
  char buf[512];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, p)) > 0) fwrite(buf, 1, k, m);
  fclose(m);
  int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

START_TEST(real_build_passes) {
  /* The build this test binary belongs to (build/, or build-asan/ under make asan). */
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ck_assert_int_gt(n, 0);
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  ck_assert_ptr_nonnull(slash);
  *slash = 0;
  int status;
  char *out = run_check(exe, &status);
  ck_assert_msg(status == 0, "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "layering: ok"));
  free(out);
}
END_TEST

START_TEST(broken_build_fails) {
  char dir[] = "/tmp/iosim-layering.XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  const char *clean[] = {"hal", "cc", "fsrtl", "ex", "ps", "ob"};
  for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++)
    object(dir, clean[i], "x", "int x_unused(void); int x_unused(void) { return 0; }");
  object(dir, "io", "iocancel", "void IoCancelThreadIo(void); void IoCancelThreadIo(void) {}");
  object(dir, "ke", "thread", "void IoCancelThreadIo(void); void exit_thread(void); void exit_thread(void) { IoCancelThreadIo(); }");
  object(dir, "scn", "run", "int scn_step(void); int scn_step(void) { return 1; }");
  object(dir, "core", "sched", "int scn_step(void); int sched(void); int sched(void) { return scn_step(); }");
  int status;
  char *out = run_check(dir, &status);
  ck_assert_int_eq(status, 1);
  ck_assert_msg(strstr(out, "sim/ke/thread.o calls IoCancelThreadIo of io/cc/fsrtl/ps/ob (use a hook)"), "%s", out);
  ck_assert_msg(strstr(out, "sim/core/sched.o uses scn_step, defined outside the engine"), "%s", out);
  free(out);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

TEST_SUITE(layering_suite)
static Suite *layering_suite(void) {
  Suite *s = suite_create("layering");
  TCase *tc = tcase_create("check-layers");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, real_build_passes);
  tcase_add_test(tc, broken_build_fails);
  suite_add_tcase(s, tc);
  return s;
}
