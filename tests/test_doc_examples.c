/*
 * test_doc_examples.c - every ```iosim example in docs/scenario-language.md
 * is a scenario that loads, runs and holds all its expectations, so the
 * reference cannot drift from the language.  Each example is written to a
 * temporary folder next to a link to the standard drivers, so its
 * `include "../lib/disk.iosim"` works as it does from scenarios/lessons/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "testlib.h"

#define DOC "../docs/scenario-language.md"
#define MAX_EXAMPLES 256

typedef struct example {
  char *text;
  int line; /* of the opening fence, for messages */
} example_t;

static example_t examples[MAX_EXAMPLES];
static int nexamples;

static void load_examples(void) {
  FILE *f = fopen(DOC, "r");
  if (!f) return;
  char buf[4096];
  int line = 0;
  char *cur = NULL;
  size_t len = 0;
  FILE *out = NULL;
  while (fgets(buf, sizeof buf, f)) {
    line++;
    if (!out && !strcmp(buf, "```iosim\n") && nexamples < MAX_EXAMPLES) {
      out = open_memstream(&cur, &len);
      examples[nexamples].line = line;
    } else if (out && !strcmp(buf, "```\n")) {
      fclose(out);
      out = NULL;
      examples[nexamples++].text = cur;
      cur = NULL;
    } else if (out) {
      fputs(buf, out);
    }
  }
  if (out) { /* an unclosed fence: keep it, the test reports it */
    fclose(out);
    examples[nexamples++].text = cur;
  }
  fclose(f);
}

START_TEST(doc_example_holds) {
  const example_t *ex = &examples[_i];
  char dir[] = "/tmp/iosim-docXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char sub[256], lib[256], link[256], path[256];
  snprintf(sub, sizeof sub, "%s/ex", dir);
  snprintf(link, sizeof link, "%s/lib", dir);
  snprintf(path, sizeof path, "%s/ex/example.iosim", dir);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  ck_assert_ptr_nonnull(realpath("../scenarios/lib", lib));
  ck_assert_int_eq(symlink(lib, link), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(ex->text, f);
  fclose(f);
  scn_error_t err;
  scn_t *sc = scn_load(path, lib, &err);
  ck_assert_msg(sc != NULL, DOC ":%d: the example does not load: line %d:%d: %s", ex->line, err.line, err.col,
                err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_msg(r.expect_total > 0, DOC ":%d: the example asserts nothing", ex->line);
  for (int i = 0; i < r.expect_total; i++)
    ck_assert_msg(r.expects[i].passed || r.expects[i].sometimes, DOC ":%d: example line %d fails: %s\n    %s",
                  ex->line, r.expects[i].line, r.expects[i].text, r.expects[i].facts);
  scn_result_free(&r);
  scn_free(sc);
  remove(path);
  remove(link);
  rmdir(sub);
  rmdir(dir);
}
END_TEST

START_TEST(doc_has_examples) {
  ck_assert_int_ge(nexamples, 40); /* the reference shows every statement */
  ck_assert_int_lt(nexamples, MAX_EXAMPLES);
}
END_TEST

TEST_SUITE(doc_examples_suite)
static Suite *doc_examples_suite(void) {
  if (!nexamples) load_examples();
  Suite *s = suite_create("doc-examples");
  TCase *tc = tcase_create("doc-examples");
  tcase_add_test(tc, doc_has_examples);
  tcase_add_loop_test(tc, doc_example_holds, 0, nexamples);
  suite_add_tcase(s, tc);
  return s;
}
