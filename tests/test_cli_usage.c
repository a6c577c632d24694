/*
 * test_cli_usage.c - every command refuses a malformed command line the
 * same way: exit status 2 and, on stderr, the command's usage or a sentence
 * naming the option and the value it did not take; `--help` prints the
 * usage on stdout with status 0.  Skipped (with a note) when ../iosim is
 * not built, as under `make asan`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

/* Runs cmd with stderr captured; its exit status, its stderr in *err. */
static int run_err(const char *cmd, char *err, size_t n) {
  char full[1024];
  snprintf(full, sizeof full, "%s 2>&1 >/dev/null", cmd);
  FILE *p = popen(full, "r");
  ck_assert_ptr_nonnull(p);
  size_t k = fread(err, 1, n - 1, p);
  err[k] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct bad {
  const char *args, *says;
} bad_t;

START_TEST(malformed_command_lines_exit_2) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_cli_usage: ../iosim is not built, skipping\n");
    return;
  }
  static const bad_t bad[] = {
      {"", "usage: iosim COMMAND"},
      {"frobnicate", "usage: iosim COMMAND"},
      {"run", "usage: iosim run FILE"},
      {"run --seed x ../scenarios/lessons/02-async-read.iosim", "--seed needs a number, not 'x'"},
      {"run --width -3 ../scenarios/lessons/02-async-read.iosim", "--width"},
      {"run --no-such-option x.iosim", "usage: iosim run FILE"},
      {"run --replay 1:0:1:- --replay-file t x.iosim", "usage: iosim run FILE"},
      {"run ../scenarios/lessons/02-async-read.iosim --replay nonsense", "not an iosim replay token"},
      {"run ../scenarios/lessons/02-async-read.iosim --replay 1:0:1:- --seed 3", "carries its seed"},
      {"run ../scenarios/lessons/02-async-read.iosim --replay 1:0:1:-", "another version of the scenario"},
      {"check", "usage: iosim check FILE"},
      {"check --width x ../scenarios/lessons/02-async-read.iosim", "--width"},
      {"irp", "usage: iosim irp"},
      {"irp --db t.db --irp 1 --run x", "--run"},
      {"irp --db t.db --irp 1 --at 5", "--at needs a step (#48) or a time with its unit"},
      {"irp --db /nonexistent/t.db --irp 1", "/nonexistent/t.db"},
      {"viz --db t.db", "usage: iosim viz"},
      {"viz --db t.db --irp 1 --timeline -o x.svg", "choose one of --irp, --timeline and --list"},
      {"viz --db t.db --list -o x.svg", "usage: iosim viz"},
      {"viz --db t.db --timeline -o x.svg --scale 0", "--scale needs a positive number, not '0'"},
      {"viz --db t.db --timeline -o x.svg --font-size abc", "--font-size needs a positive number"},
      {"viz --db t.db --timeline -o x.svg --scale 100", "scale"},
      {"viz --db t.db --irp 0 -o x.svg", "--irp needs an IRP id"},
      {"export", "usage: iosim export"},
      {"export --db t.db --format svg -o x.json", "unknown format 'svg'"},
  };
  char cmd[512], err[4096];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(cmd, sizeof cmd, "../iosim %s", bad[i].args);
    int rc = run_err(cmd, err, sizeof err);
    ck_assert_msg(rc == 2, "`%s` exited %d:\n%s", cmd, rc, err);
    ck_assert_msg(strstr(err, bad[i].says), "`%s` did not say \"%s\":\n%s", cmd, bad[i].says, err);
  }
}
END_TEST

START_TEST(help_goes_to_stdout) {
  if (access("../iosim", X_OK) != 0) return;
  static const char *const cmds[] = {"run", "check", "irp", "viz", "export", "explore", "diff", "merge"};
  char cmd[256], err[4096];
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    snprintf(cmd, sizeof cmd, "../iosim %s --help | grep -q '^usage: iosim %s'", cmds[i], cmds[i]);
    ck_assert_msg(run_err(cmd, err, sizeof err) == 0, "`%s`: %s", cmd, err);
  }
  ck_assert_int_eq(run_err("../iosim --help | grep -q '^usage: iosim COMMAND'", err, sizeof err), 0);
  ck_assert_int_eq(run_err("../iosim --version | grep -q '^iosim '", err, sizeof err), 0);
}
END_TEST

TEST_SUITE(cli_usage_suite)
static Suite *cli_usage_suite(void) {
  Suite *s = suite_create("cli_usage");
  TCase *tc = tcase_create("usage");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, malformed_command_lines_exit_2);
  tcase_add_test(tc, help_goes_to_stdout);
  suite_add_tcase(s, tc);
  return s;
}
