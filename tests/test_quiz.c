/*
 * test_quiz.c - `iosim quiz` (sim/quiz): every topic generates scenarios
 * that load, run, and whose answers `iosim check` confirms (the answers
 * are the file's expect lines, checked over its three seeds); the same
 * seed gives the same exercise; the JSON and PrairieLearn outputs have
 * the published shape; the command line.
 *
 * `make test` runs 1,000 seeds spread over the topics and levels;
 * `make quiz-check` runs 1,000 seeds per topic (QUIZ_SEEDS_PER_TOPIC).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/explore.h"
#include "iosim/quiz.h"
#include "iosim/scenario.h"
#include "testlib.h"

static char tmpdir[64];

static void mk_tmp(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/iosim-quizXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

static int count_lines_starting(const char *s, const char *prefix) {
  int n = 0;
  size_t pl = strlen(prefix);
  for (const char *p = s; p && *p;) {
    if (!strncmp(p, prefix, pl)) n++;
    p = strchr(p, '\n');
    if (p) p++;
  }
  return n;
}

/* Generates seed/topic/level, writes the file with its answers, checks it
   as `iosim check` does (every seed the file asks for, verifier on). */
static void generate_and_check(uint64_t seed, int topic, int level) {
  quiz_opts_t o = {.seed = seed, .topic = topic, .level = level};
  char err[1400];
  quiz_t *q = quiz_generate(&o, tmpdir, err, sizeof err);
  ck_assert_msg(q != NULL, "seed %llu topic %s level %d: %s", (unsigned long long)seed,
                quiz_topic_name((quiz_topic_t)topic), level, err);
  /* the generator's own check never disagreed with its answers */
  ck_assert_msg(!strstr(q->rejections, "check:"), "seed %llu: %s", (unsigned long long)seed, q->rejections);
  ck_assert_int_gt(q->nquestions, 0);
  char *text = quiz_file_text(q, true);
  int nexpect = 0;
  for (int i = 0; i < q->nquestions; i++) {
    ck_assert_msg(q->questions[i].answer.text[0], "empty answer");
    nexpect += count_lines_starting(q->questions[i].answer.expects, "expect ");
  }
  char path[128];
  snprintf(path, sizeof path, "%s/q.iosim", tmpdir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  scn_error_t e;
  scn_t *sc = scn_load(path, NULL, &e);
  ck_assert_msg(sc != NULL, "seed %llu: %s:%d:%d: %s\n%s", (unsigned long long)seed, e.file, e.line, e.col, e.msg, text);
  if (q->explored) {
    /* checked over every schedule within its bound, as `iosim check` does */
    ck_assert_int_ne(scn_explore_bound(sc), SCN_EXPLORE_NONE);
    xp_opts_t xo;
    xp_opts_default(&xo);
    xo.bound = scn_explore_bound(sc);
    xp_report_t xr;
    ck_assert_int_eq(xp_explore(sc, &xo, &xr, &e), SIM_OK);
    ck_assert_msg(xp_verdict(&xr) == 0, "seed %llu: the explored file fails\n%s", (unsigned long long)seed, text);
    ck_assert_int_eq(xr.nexpects, nexpect);
    xp_report_free(&xr);
    /* a race's key replays, on the question file, to a bad end */
    for (int i = 0; i < q->nquestions; i++) {
      if (!q->questions[i].answer.token) continue;
      char qpath[128];
      snprintf(qpath, sizeof qpath, "%s/question.iosim", tmpdir);
      char *qt = quiz_file_text(q, false);
      FILE *qf = fopen(qpath, "w");
      fputs(qt, qf);
      fclose(qf);
      free(qt);
      scn_t *qs = scn_load(qpath, NULL, &e);
      ck_assert_ptr_nonnull(qs);
      xp_schedule_t key = {0};
      char terr[256];
      ck_assert_int_eq(xp_token_parse(q->questions[i].answer.token, &key, terr, sizeof terr), 0);
      ck_assert_int_eq(xp_token_check(qs, &key, terr, sizeof terr), 0);
      scn_result_t rr;
      bool diverged = true;
      ck_assert_int_eq(xp_run_schedule(qs, &key, NULL, &rr, &diverged, &e), SIM_OK);
      ck_assert(!diverged);
      ck_assert(rr.outcome == SIM_RUN_BUGCHECK || rr.finding_total > 0);
      scn_result_free(&rr);
      xp_schedule_free(&key);
      scn_free(qs);
    }
    scn_free(sc);
    free(text);
    quiz_free(q);
    return;
  }
  ck_assert_uint_eq(scn_seed_count(sc), 3);
  for (uint64_t s = scn_seed(sc); s < scn_seed(sc) + scn_seed_count(sc); s++) {
    scn_result_t r;
    scn_run_opts_t ro = {.has_seed = true, .seed = s};
    ck_assert_int_eq(scn_run(sc, &ro, &r, &e), SIM_OK);
    ck_assert_int_eq(r.expect_total, nexpect);
    for (int k = 0; k < r.expect_total; k++)
      ck_assert_msg(r.expects[k].passed, "seed %llu/%llu topic %s: %s fails (%s)\n%s", (unsigned long long)seed,
                    (unsigned long long)s, quiz_topic_name((quiz_topic_t)topic), r.expects[k].text, r.expects[k].facts,
                    text);
    ck_assert_int_eq(r.finding_unexpected, 0);
    ck_assert_int_ne(r.outcome, SIM_RUN_LIMIT);
    scn_result_free(&r);
  }
  scn_free(sc);
  free(text);
  quiz_free(q);
}

START_TEST(every_topic_checks) {
  mk_tmp();
  const char *per = getenv("QUIZ_SEEDS_PER_TOPIC");
  if (per) {
    int n = atoi(per);
    for (int t = 0; t < QUIZ_TOPIC_COUNT; t++)
      for (int i = 0; i < n; i++) generate_and_check((uint64_t)i + 1, t, QUIZ_LEVEL_MIN + i % 3);
  } else {
    /* 1,000 seeds, each topic and level in turn */
    for (int i = 0; i < 1000; i++)
      generate_and_check(1000 + (uint64_t)i, i % QUIZ_TOPIC_COUNT, QUIZ_LEVEL_MIN + (i / QUIZ_TOPIC_COUNT) % 3);
  }
  rm_tmp();
}
END_TEST

START_TEST(same_seed_same_exercise) {
  mk_tmp();
  char err[1400];
  int differ = 0;
  for (int t = 0; t < QUIZ_TOPIC_COUNT; t++) {
    quiz_opts_t o = {.seed = 42, .topic = t, .level = 2};
    quiz_t *a = quiz_generate(&o, tmpdir, err, sizeof err), *b = quiz_generate(&o, tmpdir, err, sizeof err);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(a->scenario, b->scenario);
    ck_assert_int_eq(a->nquestions, b->nquestions);
    for (int i = 0; i < a->nquestions; i++) {
      ck_assert_str_eq(a->questions[i].text, b->questions[i].text);
      ck_assert_str_eq(a->questions[i].answer.text, b->questions[i].answer.text);
      ck_assert_str_eq(a->questions[i].answer.steps, b->questions[i].answer.steps);
      ck_assert_str_eq(a->questions[i].answer.expects, b->questions[i].answer.expects);
    }
    /* the file names the generator's version */
    ck_assert_ptr_nonnull(strstr(a->scenario, "(generator " QUIZ_VERSION ")"));
    o.seed = 43;
    quiz_t *c = quiz_generate(&o, tmpdir, err, sizeof err);
    ck_assert_ptr_nonnull(c);
    differ += strcmp(a->scenario, c->scenario) != 0;
    quiz_free(a);
    quiz_free(b);
    quiz_free(c);
  }
  ck_assert_int_ge(differ, QUIZ_TOPIC_COUNT - 1); /* another seed, another exercise */
  /* no topic: chosen from the seed, the same every time */
  quiz_opts_t o = {.seed = 5, .topic = -1, .level = 1};
  quiz_t *a = quiz_generate(&o, tmpdir, err, sizeof err), *b = quiz_generate(&o, tmpdir, err, sizeof err);
  ck_assert_int_eq(a->opts.topic, b->opts.topic);
  ck_assert_str_eq(a->scenario, b->scenario);
  quiz_free(a);
  quiz_free(b);
  rm_tmp();
}
END_TEST

/* ---- a small JSON reader: enough to check a document's shape ---- */
typedef struct jv {
  char type; /* 'o' object, 'a' array, 's' string, 'n' number, 'l' literal */
  int nkeys;
  char keys[64][32];
  char types[64];
  char strs[64][8]; /* first bytes of string values, to see they are not empty */
} jv_t;

static void ws(const char **p) {
  while (isspace((unsigned char)**p)) (*p)++;
}

static bool jstring(const char **p, char *out, size_t n) {
  if (**p != '"') return false;
  size_t k = 0;
  for ((*p)++; **p && **p != '"'; (*p)++) {
    if ((unsigned char)**p < 0x20) return false;
    if (**p == '\\') {
      (*p)++;
      if (!strchr("\"\\/bfnrtu", **p)) return false;
      if (**p == 'u')
        for (int i = 0; i < 4; i++)
          if (!isxdigit((unsigned char)*++(*p))) return false;
    }
    if (out && k + 1 < n) out[k++] = **p;
  }
  if (out) out[k] = '\0';
  if (**p != '"') return false;
  (*p)++;
  return true;
}

/* Parses one value; if `top` is given, records an object's keys and the
   type of each value. */
static bool jvalue(const char **p, jv_t *top) {
  ws(p);
  if (top) top->type = **p == '{' ? 'o' : **p == '[' ? 'a' : **p == '"' ? 's' : 'n';
  if (**p == '{') {
    (*p)++;
    ws(p);
    if (**p == '}') return (*p)++, true;
    for (;;) {
      ws(p);
      char key[32];
      if (!jstring(p, key, sizeof key)) return false;
      ws(p);
      if (*(*p)++ != ':') return false;
      ws(p);
      if (top && top->nkeys < 64) {
        snprintf(top->keys[top->nkeys], 32, "%s", key);
        top->types[top->nkeys] = **p == '{' ? 'o' : **p == '[' ? 'a' : **p == '"' ? 's' : 'n';
        if (**p == '"') {
          const char *q = *p;
          jstring(&q, top->strs[top->nkeys], 8);
        }
        top->nkeys++;
      }
      if (!jvalue(p, NULL)) return false;
      ws(p);
      if (**p == ',') {
        (*p)++;
        continue;
      }
      if (**p == '}') return (*p)++, true;
      return false;
    }
  }
  if (**p == '[') {
    (*p)++;
    ws(p);
    if (**p == ']') return (*p)++, true;
    for (;;) {
      if (!jvalue(p, NULL)) return false;
      ws(p);
      if (**p == ',') {
        (*p)++;
        continue;
      }
      if (**p == ']') return (*p)++, true;
      return false;
    }
  }
  if (**p == '"') return jstring(p, NULL, 0);
  if (!strncmp(*p, "null", 4) || !strncmp(*p, "true", 4)) return *p += 4, true;
  if (!strncmp(*p, "false", 5)) return *p += 5, true;
  char *end;
  strtod(*p, &end);
  if (end == *p) return false;
  *p = end;
  return true;
}

/* The value of key `key` of the object at text `s` (a pointer into s). */
static const char *jfind(const char *s, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; s[i]; i++)
    if (s[i] == '"' && !strncmp(s + i + 1, key, kl) && s[i + 1 + kl] == '"' && s[i + 2 + kl] == ':') return s + i + kl + 3;
  return NULL;
}

static char *print_to_string(const quiz_t *q, int which) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (which == 0) quiz_print_prairielearn(f, q);
  else quiz_print_json(f, q, NULL, true);
  fclose(f);
  return buf;
}

START_TEST(prairielearn_shape) {
  mk_tmp();
  char err[1400];
  for (int t = 0; t < QUIZ_TOPIC_COUNT; t++) {
    quiz_opts_t o = {.seed = 7 + (uint64_t)t, .topic = t, .level = 1 + t % 3};
    quiz_t *q = quiz_generate(&o, tmpdir, err, sizeof err);
    ck_assert_ptr_nonnull(q);
    char *s = print_to_string(q, 0);
    /* one JSON object, nothing after it */
    const char *p = s;
    jv_t top = {0};
    ck_assert_msg(jvalue(&p, &top), "not JSON: %s", s);
    ws(&p);
    ck_assert_int_eq(*p, '\0');
    /* PrairieLearn's generate(data) fills data["params"] and
       data["correct_answers"]: exactly those two objects */
    ck_assert_int_eq(top.type, 'o');
    ck_assert_int_eq(top.nkeys, 2);
    ck_assert_str_eq(top.keys[0], "params");
    ck_assert_str_eq(top.keys[1], "correct_answers");
    ck_assert_int_eq(top.types[0], 'o');
    ck_assert_int_eq(top.types[1], 'o');
    jv_t params = {0}, answers = {0};
    const char *pp = jfind(s, "params");
    ck_assert(jvalue(&pp, &params));
    const char *ap = jfind(s, "correct_answers");
    ck_assert(jvalue(&ap, &answers));
    /* params: JSON scalars only (templates read them as {{params.x}}) */
    for (int i = 0; i < params.nkeys; i++) ck_assert(params.types[i] == 's' || params.types[i] == 'n');
    ck_assert_ptr_nonnull(jfind(s, "scenario"));
    /* one answer per question, keyed by its answers-name, a non-empty
       string; each question's words are a param */
    ck_assert_int_eq(answers.nkeys, q->nquestions);
    for (int i = 0; i < answers.nkeys; i++) {
      ck_assert_str_eq(answers.keys[i], q->questions[i].id);
      for (const char *c = answers.keys[i]; *c; c++) ck_assert(isalnum((unsigned char)*c) || *c == '_');
      ck_assert_int_eq(answers.types[i], 's');
      ck_assert(answers.strs[i][0] != '\0');
      char key[40];
      snprintf(key, sizeof key, "%s_text", q->questions[i].id);
      bool found = false;
      for (int k = 0; k < params.nkeys; k++) found |= !strcmp(params.keys[k], key);
      ck_assert_msg(found, "no param %s", key);
    }
    free(s);
    /* the JSON format parses too, and carries every answer */
    char *s2 = print_to_string(q, 1);
    const char *p2 = s2;
    jv_t js = {0};
    ck_assert_msg(jvalue(&p2, &js), "not JSON: %s", s2);
    ck_assert_int_eq(js.type, 'o');
    ck_assert_int_eq(count_lines_starting(s2, "  {\"id\": "), q->nquestions);
    free(s2);
    quiz_free(q);
  }
  rm_tmp();
}
END_TEST

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_quiz: ../iosim is not built, skipping\n");
  return false;
}

static int run(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(command_line) {
  if (!have_cli()) return;
  mk_tmp();
  char cmd[512];
  /* the exercise, its file, and check agreeing with the answers */
  snprintf(cmd, sizeof cmd, "../iosim quiz --seed 7 --topic cancel --answers -o %s > %s/out.txt", tmpdir, tmpdir);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "grep -q 'generator " QUIZ_VERSION "' %s/out.txt && grep -q 'steps: #' %s/out.txt", tmpdir,
           tmpdir);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim check %s/quiz-7-answers.iosim > /dev/null", tmpdir);
  ck_assert_int_eq(run(cmd), 0);
  /* without --answers the file has no expectations (nothing to give away) */
  snprintf(cmd, sizeof cmd, "! grep -q '^expect' %s/quiz-7.iosim && diff %s/quiz-7.iosim %s/quiz-7-answers.iosim | grep -q '^> expect'",
           tmpdir, tmpdir, tmpdir);
  ck_assert_int_eq(run(cmd), 0);
  /* a race: the key token printed replays on the question file */
  snprintf(cmd, sizeof cmd,
           "../iosim quiz --seed 2 --topic cancel --level 3 --answers -o %s | grep -o 'replay 1:[0-9a-f:.,]*' > %s/tok"
           " && ../iosim run %s/quiz-2.iosim --replay \"$(cut -d' ' -f2 %s/tok)\" --quiet | grep -q '^outcome: bugcheck'",
           tmpdir, tmpdir, tmpdir, tmpdir);
  ck_assert_int_eq(run(cmd), 0);
  /* twice the same output */
  snprintf(cmd, sizeof cmd,
           "../iosim quiz --seed 9 --format prairielearn > %s/a.json && ../iosim quiz --seed 9 --format prairielearn > "
           "%s/b.json && cmp -s %s/a.json %s/b.json",
           tmpdir, tmpdir, tmpdir, tmpdir);
  ck_assert_int_eq(run(cmd), 0);
  /* bad input: exit 2 */
  ck_assert_int_eq(run("../iosim quiz --topic cancel > /dev/null 2>&1"), 2);
  ck_assert_int_eq(run("../iosim quiz --seed 1 --topic nosuch > /dev/null 2>&1"), 2);
  ck_assert_int_eq(run("../iosim quiz --seed 1 --level 4 > /dev/null 2>&1"), 2);
  ck_assert_int_eq(run("../iosim quiz --seed x > /dev/null 2>&1"), 2);
  ck_assert_int_eq(run("../iosim quiz --seed 1 --format yaml > /dev/null 2>&1"), 2);
  ck_assert_int_eq(run("../iosim quiz --seed 1 -o /nonexistent/dir > /dev/null 2>&1"), 2);
  ck_assert_int_eq(run("../iosim quiz --help | grep -q prairielearn"), 0);
  rm_tmp();
}
END_TEST

/* docs/quiz.md's commands work as written (from the top of the tree):
   every line of its ```sh blocks exits 0 - `iosim explore` of a question
   file 1, as the page says. */
START_TEST(documented_commands_work) {
  if (!have_cli()) return;
  FILE *f = fopen("../docs/quiz.md", "r");
  ck_assert_ptr_nonnull(f);
  char line[1024];
  bool in = false;
  int ran = 0;
  while (fgets(line, sizeof line, f)) {
    if (!in) {
      in = !strcmp(line, "```sh\n");
      continue;
    }
    if (!strcmp(line, "```\n")) {
      in = false;
      continue;
    }
    line[strcspn(line, "\n")] = '\0';
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd .. && (%s) > /dev/null 2>&1", line);
    int want = strstr(line, "iosim explore") ? 1 : 0;
    ck_assert_msg(run(cmd) == want, "docs/quiz.md: `%s` does not exit %d", line, want);
    ran++;
  }
  fclose(f);
  ck_assert_int_ge(ran, 9);
}
END_TEST

TEST_SUITE(quiz_suite)
static Suite *quiz_suite(void) {
  Suite *s = suite_create("quiz");
  TCase *tc = tcase_create("generated exercises");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, every_topic_checks);
  tcase_add_test(tc, same_seed_same_exercise);
  tcase_add_test(tc, prairielearn_shape);
  tcase_add_test(tc, command_line);
  tcase_add_test(tc, documented_commands_work);
  suite_add_tcase(s, tc);
  return s;
}
