/*
 * test_teaching.c - docs/teaching.md's commands work as written: every line
 * of its ```sh blocks is run, in order, by the shell in a scratch folder
 * holding ./iosim and a copy of scenarios/ (the top of a source tree, as the
 * page assumes), and must end with the exit status its `# exit N` comment
 * gives (0 without one).  The files one command writes (a predict sheet, a
 * results.json) are there for the next.  Skipped (with a note) when ../iosim
 * is not built.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define DOC "../docs/teaching.md"

START_TEST(teaching_commands_work_as_written) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_teaching: ../iosim is not built, skipping\n");
    return;
  }
  char dir[] = "/tmp/iosim-teachXXXXXX", here[512], cmd[4600];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_ptr_nonnull(getcwd(here, sizeof here));
  snprintf(cmd, sizeof cmd, "ln -s %s/../iosim %s/iosim && cp -r %s/../scenarios %s/scenarios", here, dir, here, dir);
  ck_assert_int_eq(system(cmd), 0);
  FILE *f = fopen(DOC, "r");
  ck_assert_ptr_nonnull(f);
  char line[4096], shown[4096];
  int lineno = 0, run = 0, iosim_runs = 0;
  bool in_sh = false;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\n")] = '\0';
    if (!in_sh) {
      in_sh = !strcmp(line, "```sh");
      continue;
    }
    if (!strcmp(line, "```")) {
      in_sh = false;
      continue;
    }
    if (!line[0] || line[0] == '#') continue;
    snprintf(shown, sizeof shown, "%s", line);
    int want = 0;
    char *ex = strstr(line, "# exit ");
    if (ex) {
      want = atoi(ex + 7);
      *ex = '\0'; /* the comment would swallow the closing brace below */
    }
    snprintf(cmd, sizeof cmd, "cd %s && { %s ; } >/dev/null 2>%s/stderr", dir, line, dir);
    int st = system(cmd);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    ck_assert_msg(rc == want, DOC ":%d: `%s` exited with %d, the page says %d (its stderr is in %s/stderr)", lineno, shown,
                  rc, want, dir);
    run++;
    iosim_runs += strstr(line, "./iosim ") != NULL;
  }
  fclose(f);
  ck_assert_msg(!in_sh, DOC ": a ```sh block is not closed");
  ck_assert_int_ge(run, 10);
  ck_assert_int_ge(iosim_runs, 9);
  /* What the commands wrote is what the page says they write. */
  snprintf(cmd, sizeof cmd,
           "cd %s && grep -q '^blank irql,frame,thread after 56 seed 7$' sheet.txt && grep -q '\"status\": \"passed\"' results.json"
           " && grep -q '<failure ' junit.xml && grep -q '\"failed\": ' report.json && test ! -e scenarios/exercises/mine.iosim",
           dir);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The place the quiz documentation goes is marked. */
START_TEST(teaching_page_marks_the_quiz_section) {
  FILE *f = fopen(DOC, "r");
  ck_assert_ptr_nonnull(f);
  char line[4096];
  bool heading = false;
  while (fgets(line, sizeof line, f)) heading |= !strncmp(line, "## 4. Quizzes", 13);
  fclose(f);
  ck_assert(heading);
}
END_TEST

TEST_SUITE(suite_teaching)
static Suite *suite_teaching(void) {
  Suite *s = suite_create("teaching");
  TCase *tc = tcase_create("teaching");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, teaching_commands_work_as_written);
  tcase_add_test(tc, teaching_page_marks_the_quiz_section);
  suite_add_tcase(s, tc);
  return s;
}
