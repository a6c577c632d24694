/*
 * test_predict.c - predict mode and grading, as a user meets them on the
 * command line: `iosim run --blank` prints the same table as `iosim run`
 * with the chosen cells as `?` (only after --blank-after N); `iosim grade`
 * takes the filled-in table or short answer lines, says right or wrong per
 * row with the correct values and why, exit 0 / 1, and refuses a bad answer
 * file with `file:line:col:` and exit 2; `iosim check --format gradescope |
 * junit | json` writes shapes a grader reads (JSON parsed by python3, the
 * JUnit XML checked with xmllint), with weights and visibility from the
 * scenario's comments.  Skipped (with a note) when ../iosim is not built.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define L02 "../scenarios/lessons/02-async-read.iosim"

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_predict: ../iosim is not built, skipping\n");
  return false;
}

/* Runs `cmd` through the shell (stderr joined), its output in *out. */
static int capture(const char *cmd, char **out) {
  char full[2400];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 4096, n = 0, got;
  char *s = malloc(cap);
  while ((got = fread(s + n, 1, cap - n - 1, p)) > 0) {
    n += got;
    if (cap - n < 2) s = realloc(s, cap *= 2);
  }
  s[n] = '\0';
  int st = pclose(p);
  *out = s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void tmpdir(char dir[32]) {
  snprintf(dir, 32, "/tmp/iosim-predXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rmdir_all(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* The rows (lines starting "  #N" or " #N") of a table, from step `from` on. */
static char *rows_of(const char *text, int from, int to) {
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  for (const char *l = text; *l;) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    const char *h = l + strspn(l, " ");
    int step = 0;
    if (h - l <= 4 && *h == '#' && sscanf(h + 1, "%d", &step) == 1 && step >= from && step <= to)
      fprintf(m, "%.*s\n", (int)n, l);
    l += n + (nl != NULL);
  }
  fclose(m);
  return out;
}

START_TEST(blank_table_is_the_table_with_question_marks) {
  if (!have_cli()) return;
  char *plain, *blank;
  ck_assert_int_eq(capture("../iosim run " L02 " --width 0", &plain), 0);
  ck_assert_int_eq(capture("../iosim run " L02 " --width 0 --blank irql,thread --blank-after 40", &blank), 0);
  /* Up to step 40 the rows are the console sink's, byte for byte. */
  char *a = rows_of(plain, 1, 40), *b = rows_of(blank, 1, 40);
  ck_assert_uint_gt(strlen(a), 2000);
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
  /* After it: irql and thread are ?, unless the cell has no value. */
  a = rows_of(plain, 59, 59);
  b = rows_of(blank, 59, 59);
  ck_assert_ptr_nonnull(strstr(a, " APC      apc    app "));
  ck_assert_ptr_nonnull(strstr(b, " ?        apc    ?   "));
  free(a);
  free(b);
  b = rows_of(blank, 45, 45); /* a DPC borrows no thread: "-" stays */
  ck_assert_ptr_nonnull(strstr(b, " ?        dpc    -   "));
  free(b);
  /* The `blank` line grade reads back, and no expectation gives answers away. */
  ck_assert_ptr_nonnull(strstr(blank, "\nblank irql,thread after 40 seed 7\n"));
  ck_assert_ptr_null(strstr(blank, "  PASS "));
  free(plain);
  free(blank);
  ck_assert_int_eq(capture("../iosim run " L02 " --blank irql,colour", &blank), 2);
  ck_assert_ptr_nonnull(strstr(blank, "'colour' is no column of the step table"));
  free(blank);
}
END_TEST

START_TEST(grade_takes_the_filled_in_table) {
  if (!have_cli()) return;
  char dir[32], cmd[600], *out;
  tmpdir(dir);
  /* The unblanked table is a perfectly filled-in one. */
  snprintf(cmd, sizeof cmd,
           "(echo 'blank irql,frame,thread,status after 40 seed 7'; ../iosim run " L02 " --width 0) > %s/full.txt"
           " && ../iosim grade " L02 " %s/full.txt",
           dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "grade: 74 of 74 cells right; 28 of 28 rows right\n"));
  ck_assert_ptr_nonnull(strstr(out, "  #49    right     irql DISPATCH, frame dpc, status STATUS_SUCCESS\n"));
  free(out);
  /* Three rows made wrong (the DPC at PASSIVE), six taken out. */
  snprintf(cmd, sizeof cmd,
           "sed -e 's/^\\(  #4[5-7].*\\)DISPATCH/\\1PASSIVE /' -e '/#6[0-5] /d' %s/full.txt > %s/f2.txt"
           " && ../iosim grade " L02 " %s/f2.txt",
           dir, dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 1);
  ck_assert_ptr_nonnull(strstr(out, "  #45    wrong     irql DISPATCH (not PASSIVE), frame dpc - why: The DPC runs at"
                                    " DISPATCH_LEVEL"));
  ck_assert_ptr_nonnull(strstr(out, "  #60    no answer irql APC, frame apc, thread app, status STATUS_SUCCESS"));
  ck_assert_ptr_nonnull(strstr(out, "grade: 51 of 74 cells right; 19 of 28 rows right, 6 not answered\n"));
  free(out);
  /* Another seed's table does not fit the run: refused, with where. */
  snprintf(cmd, sizeof cmd, "sed '/#50 /s/ fs0 / disk1 /' %s/full.txt"
           " > %s/f3.txt && ../iosim grade " L02 " %s/f3.txt", dir, dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_ptr_nonnull(strstr(out, "/f3.txt:"));
  ck_assert_ptr_nonnull(strstr(out, "'disk1' where the run has 'fs0'"));
  free(out);
  rmdir_all(dir);
}
END_TEST

START_TEST(grade_takes_short_answer_lines) {
  if (!have_cli()) return;
  char dir[32], cmd[900], *out;
  tmpdir(dir);
  snprintf(cmd, sizeof cmd,
           "printf 'blank irql,thread after 56 seed 7\\n# my guesses\\n#57 DISPATCH_LEVEL\\n58 passive app\\n#59 APC"
           " app\\n#60 DISPATCH app\\n' > %s/a.txt && ../iosim grade " L02 " %s/a.txt",
           dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 1);
  ck_assert_ptr_nonnull(strstr(out, "  #57    right     irql DISPATCH\n"));
  ck_assert_ptr_nonnull(strstr(out, "  #58    right     irql PASSIVE, thread app\n"));
  ck_assert_ptr_nonnull(strstr(out, "  #60    wrong     irql APC (not DISPATCH), thread app - why: IopCompleteRequest"));
  ck_assert_ptr_nonnull(strstr(out, "  #61    no answer irql APC, thread app"));
  /* Short answers are graded from the typed steps, never from the detail
     text: the same report with every detail garbled (tests/garble.sh). */
  char *garbled;
  snprintf(cmd, sizeof cmd, "IOSIM_GARBLE_DETAILS=1 ../iosim grade " L02 " %s/a.txt", dir);
  ck_assert_int_eq(capture(cmd, &garbled), 1);
  ck_assert_str_eq(garbled, out);
  free(garbled);
  free(out);
  /* --blank on the command line instead of the blank line: all right. */
  snprintf(cmd, sizeof cmd, "printf '#67 PASSIVE app\\n#68 PASSIVE\\n' > %s/b.txt && ../iosim grade " L02
           " %s/b.txt --blank irql,thread --blank-after 66", dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "grade: 3 of 3 cells right; 2 of 2 rows right\n"));
  free(out);
  rmdir_all(dir);
}
END_TEST

/* Each bad answer file: exit 2 and the message at its line and column. */
START_TEST(grade_refuses_bad_answer_files) {
  if (!have_cli()) return;
  static const struct {
    const char *text, *where, *msg;
  } bad[] = {
      {"blank irql,thread after 56\\n#57 DISPATCH dpc\\n", ":2:1: ", "this line gives 2 values; the step's blanks are: irql"},
      {"blank irql,thread after 56\\n#570 DISPATCH\\n", ":2:1: ", "step #570 is not in the run (it has 69 steps)"},
      {"blank irql,thread after 56\\n#12 PASSIVE app\\n", ":2:1: ", "step #12 has no blanks to fill in"},
      {"blank irql after 56\\n#57 DISPATCH\\n57 APC\\n", ":3:1: ", "step 57 was answered already, in line 2"},
      {"blank irql after 56\\nhello #57\\n", ":2:1: ", "'hello': an answer line starts with the step"},
      {"blank iql after 56\\n", ":1:7: ", "the blank line names the columns blanked: 'iql' is no column"},
      {"blank irql later 56\\n", ":1:12: ", "'later': the blank line goes on with `after N` and `seed S`"},
      {"#57 DISPATCH\\n", ":1:1: ", "no `blank` line says which cells were blanked"},
  };
  char dir[32], cmd[700], want[200], *out;
  tmpdir(dir);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(cmd, sizeof cmd, "printf '%s' > %s/x.txt && ../iosim grade " L02 " %s/x.txt", bad[i].text, dir, dir);
    ck_assert_int_eq(capture(cmd, &out), 2);
    snprintf(want, sizeof want, "%s/x.txt%s%s", dir, bad[i].where, bad[i].msg);
    ck_assert_msg(strstr(out, want) != NULL, "case %zu: want \"%s\", got:\n%s", i, want, out);
    free(out);
  }
  rmdir_all(dir);
}
END_TEST

/* A small scenario with weights and visibility in its comments: one line
   holds, one fails, one is a predicted finding. */
static const char graded[] =
    "# visibility after_published\n"
    "scenario \"graded\"\n"
    "machine cpus 1 seed 3\n"
    "driver d\n"
    "  dispatch read\n"
    "    start-io\n"
    "    return STATUS_PENDING\n"
    "  end\n"
    "  dispatch default\n"
    "    complete STATUS_SUCCESS\n"
    "    return STATUS_SUCCESS\n"
    "  end\n"
    "  dpc\n"
    "    complete STATUS_SUCCESS info length\n"
    "  end\n"
    "end\n"
    "device d0 driver d hardware latency 10us\n"
    "thread app\n"
    "  open f d0 synchronous\n"
    "  read f 512 as r1\n"
    "end\n"
    "# weight 3\n"
    "expect r1 completed\n"
    "expect thread app finished   # weight 2.5\n"
    "# the mark is missing:\n"
    "# visibility hidden\n"
    "expect finding pending-not-marked r1\n";

static void write_graded(const char *dir, char *path, size_t n) {
  snprintf(path, n, "%s/graded.iosim", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(graded, f);
  fclose(f);
}

static bool have_python(void) {
  if (system("python3 -c 'import json' >/dev/null 2>&1") == 0) return true;
  fprintf(stderr, "test_predict: no python3 to parse the JSON, skipping its shape\n");
  return false;
}

START_TEST(gradescope_results_have_the_published_shape) {
  if (!have_cli()) return;
  char dir[32], path[96], cmd[2000], *out;
  tmpdir(dir);
  write_graded(dir, path, sizeof path);
  snprintf(cmd, sizeof cmd, "../iosim check %s --format gradescope > %s/results.json", path, dir);
  ck_assert_int_eq(capture(cmd, &out), 1); /* a line fails, findings unpredicted */
  free(out);
  if (have_python()) {
    /* Gradescope's autograder specification: tests[] of name, score,
       max_score, status passed|failed, output, visibility one of four. */
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "d = json.load(open(sys.argv[1]))\n"
             "assert set(d) <= {\"score\",\"execution_time\",\"output\",\"visibility\",\"stdout_visibility\","
             "\"extra_data\",\"tests\",\"leaderboard\",\"output_format\",\"test_output_format\",\"test_name_format\"}, d\n"
             "assert d[\"visibility\"] == \"after_published\"\n"
             "V = {\"hidden\",\"after_due_date\",\"after_published\",\"visible\"}\n"
             "for t in d[\"tests\"]:\n"
             "  assert isinstance(t[\"name\"], str) and isinstance(t[\"output\"], str)\n"
             "  assert isinstance(t[\"score\"], (int, float)) and isinstance(t[\"max_score\"], (int, float))\n"
             "  assert t[\"status\"] in (\"passed\", \"failed\") and (t[\"score\"] == t[\"max_score\"]) == (t[\"status\"] == \"passed\")\n"
             "  assert t.get(\"visibility\", \"visible\") in V\n"
             "T = d[\"tests\"]\n"
             "print(len(T), [t[\"max_score\"] for t in T], [t[\"status\"] for t in T], T[2].get(\"visibility\"))\n"
             "print(T[0][\"output\"])\n"
             "' %s/results.json",
             dir);
    ck_assert_int_eq(capture(cmd, &out), 0);
    ck_assert_msg(!strncmp(out, "4 [3, 2.5, 1, 1] ['passed', 'failed', 'passed', 'failed'] hidden\n", 65), "%s", out);
    /* The trace facts that decided the test are its output. */
    ck_assert_ptr_nonnull(strstr(out, "\nr1 (IRP 2) completed\n"));
    free(out);
  }
  /* A file that does not load is one failed test saying why (exit 2). */
  snprintf(cmd, sizeof cmd, "printf 'scenario \"x\"\\nthred a\\nend\\n' > %s/bad.iosim; ../iosim check %s/bad.iosim"
           " --format gradescope", dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_ptr_nonnull(strstr(out, "\"name\": \""));
  ck_assert_ptr_nonnull(strstr(out, "bad.iosim: the scenario loads and runs\", \"score\": 0, \"max_score\": 1,"
                                    " \"status\": \"failed\", \"output\": \""));
  ck_assert_ptr_nonnull(strstr(out, "bad.iosim:2:1: unknown statement 'thred'"));
  free(out);
  rmdir_all(dir);
}
END_TEST

START_TEST(junit_and_json_reports) {
  if (!have_cli()) return;
  char dir[32], path[96], cmd[1200], *out;
  tmpdir(dir);
  write_graded(dir, path, sizeof path);
  snprintf(cmd, sizeof cmd, "../iosim check %s ../scenarios/lessons/02-async-read.iosim --format junit > %s/j.xml",
           path, dir);
  ck_assert_int_eq(capture(cmd, &out), 1);
  free(out);
  /* Well-formed, and the counts add up: two suites, 4 + 17 test cases, the
     failures counted where they are. */
  snprintf(cmd, sizeof cmd,
           "xmllint --noout %s/j.xml && for q in 'count(/testsuites/testsuite)' 'count(//testcase)'"
           " 'count(//testcase/failure)' 'string(/testsuites/@failures)' 'string(/testsuites/testsuite[1]/@tests)'"
           " 'string(//testcase[failure][1]/@line)'; do xmllint --xpath \"$q\" %s/j.xml; done",
           dir, dir);
  int rc = capture(cmd, &out);
  if (rc == 127 || strstr(out, "not found")) {
    fprintf(stderr, "test_predict: no xmllint, skipping the JUnit checks\n");
  } else {
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(out, "2\n21\n2\n2\n4\n24\n");
  }
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim check %s --format json", path);
  ck_assert_int_eq(capture(cmd, &out), 1);
  ck_assert_ptr_nonnull(strstr(out, "\"tests\": 4,\n  \"passed\": 2,\n  \"failed\": 2,"));
  ck_assert_ptr_nonnull(
      strstr(out, "{\"line\": 24, \"text\": \"expect thread app finished\", \"passed\": false, \"weight\": 2.5, "
                  "\"visibility\": null, \"facts\": \"thread app is waiting\"}"));
  free(out);
  if (have_python()) {
    snprintf(cmd, sizeof cmd, "../iosim check %s --format json | python3 -c 'import json,sys; d=json.load(sys.stdin);"
             " print(d[\"files\"][0][\"tests\"][3][\"facts\"][:18])'", path);
    ck_assert_int_eq(capture(cmd, &out), 0);
    ck_assert_str_eq(out, "irp-leaked r1 at #\n"); /* the predicted finding is no failure */
    free(out);
  }
  /* A bad weight or visibility is bad input. */
  snprintf(cmd, sizeof cmd, "sed 's/# weight 3/# weight lots/' %s > %s/w.iosim && (../iosim check %s/w.iosim --format json"
           " >%s/w.json)", path, dir, dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_ptr_nonnull(strstr(out, "w.iosim:22:1: `# weight` needs a number of points"));
  free(out);
  /* Over several seeds: which seed decided, or that all held. */
  ck_assert_int_eq(capture("../iosim check fixtures/scenarios/port-first-use-race.iosim --format json", &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "\"seeds\": 40, "));
  ck_assert_ptr_nonnull(strstr(out, "\"facts\": \"held in all 40 seeds; seed 0: port-dequeued(w) happened 2 times\""));
  free(out);
  ck_assert_int_eq(capture("../iosim check " L02 " --format tap", &out), 2);
  ck_assert_ptr_nonnull(strstr(out, "unknown format 'tap' (gradescope, junit or json)"));
  free(out);
  rmdir_all(dir);
}
END_TEST

TEST_SUITE(suite_predict)
static Suite *suite_predict(void) {
  Suite *s = suite_create("predict");
  TCase *tc = tcase_create("predict");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, blank_table_is_the_table_with_question_marks);
  tcase_add_test(tc, grade_takes_the_filled_in_table);
  tcase_add_test(tc, grade_takes_short_answer_lines);
  tcase_add_test(tc, grade_refuses_bad_answer_files);
  tcase_add_test(tc, gradescope_results_have_the_published_shape);
  tcase_add_test(tc, junit_and_json_reports);
  suite_add_tcase(s, tc);
  return s;
}
