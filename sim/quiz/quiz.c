/*
 * quiz.c - an exercise from a seed: draw a variant, run it over the
 * scenario's three seeds, answer every question from each run, and keep
 * the variant only if every answer is the same in all three (an answer
 * must not hang on a choice the student cannot know: a tie in time, which
 * CPU picks what) and `iosim check` of the file with the answers as
 * expectations holds.  Otherwise retry with a derived seed.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quiz_int.h"
#include "iosim/alloc.h"

#define QZ_ATTEMPTS 64
#define QZ_SEEDS 3 /* the scenario says `seed 1 seeds 3` */

static const char *const topic_names[] = {
#define QUIZ_X(e, s, d) s,
    QUIZ_TOPIC_MAP(QUIZ_X)
#undef QUIZ_X
};
static const char *const topic_about[] = {
#define QUIZ_X(e, s, d) d,
    QUIZ_TOPIC_MAP(QUIZ_X)
#undef QUIZ_X
};

const char *quiz_topic_name(quiz_topic_t t) { return (unsigned)t < QUIZ_TOPIC_COUNT ? topic_names[t] : "?"; }
const char *quiz_topic_about(quiz_topic_t t) { return (unsigned)t < QUIZ_TOPIC_COUNT ? topic_about[t] : "?"; }
int quiz_topic_parse(const char *name) {
  for (int i = 0; i < QUIZ_TOPIC_COUNT; i++)
    if (!strcmp(name, topic_names[i])) return i;
  return -1;
}

static void free_questions(quiz_question_t *qs, int n) {
  for (int i = 0; i < n; i++) {
    free(qs[i].text);
    free(qs[i].answer.text);
    free(qs[i].answer.steps);
    free(qs[i].answer.expects);
    free(qs[i].answer.token);
  }
  free(qs);
}

void quiz_free(quiz_t *q) {
  if (!q) return;
  free(q->scenario);
  free_questions(q->questions, q->nquestions);
  free(q);
}

char *quiz_file_text(const quiz_t *q, bool answers) {
  qz_buf_t b = {0};
  qz_printf(&b, "%s", q->scenario);
  qz_printf(&b, "\n# Questions (iosim quiz --seed %llu --topic %s --level %d):\n", (unsigned long long)q->opts.seed,
            quiz_topic_name((quiz_topic_t)q->opts.topic), q->opts.level);
  for (int i = 0; i < q->nquestions; i++) qz_printf(&b, "#  %s. %s\n", q->questions[i].id, q->questions[i].text);
  if (answers) {
    qz_printf(&b, "\n# Answers, computed by running this file; `iosim check` verifies them.\n");
    for (int i = 0; i < q->nquestions; i++) qz_printf(&b, "# %s\n%s", q->questions[i].id, q->questions[i].answer.expects);
  }
  return qz_take(&b);
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int bad = fputs(text, f) < 0;
  return fclose(f) || bad ? -1 : 0;
}

/* `iosim check` of an explored file: every schedule within its bound. */
static int check_explored(const char *path, char *why, size_t wn) {
  scn_error_t e;
  scn_t *sc = scn_load(path, NULL, &e);
  if (!sc) {
    snprintf(why, wn, "check: does not load: line %d: %.400s", e.line, e.msg);
    return -1;
  }
  xp_opts_t o;
  xp_opts_default(&o);
  o.bound = scn_explore_bound(sc) == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : scn_explore_bound(sc);
  xp_report_t r;
  int rc = xp_explore(sc, &o, &r, &e);
  if (rc == SIM_OK) {
    rc = xp_verdict(&r) ? -1 : 0;
    if (rc) snprintf(why, wn, "check: the explored file fails (%llu failing schedules)", (unsigned long long)r.failing);
    xp_report_free(&r);
  } else snprintf(why, wn, "check: cannot explore");
  scn_free(sc);
  return rc ? -1 : 0;
}

/* Tries one variant; returns the exercise, or NULL with `why`. */
static quiz_t *attempt(const quiz_opts_t *o, uint64_t vseed, const char *scratch, const char *scratch2, char *why,
                       size_t wn) {
  qz_rng_t rng = {vseed};
  qz_variant_t v = {0};
  qz_gen_topic(&v, (quiz_topic_t)o->topic, o->level, vseed, &rng);
  quiz_t *q = iosim_calloc(1, sizeof *q);
  q->opts = *o;
  q->variant_seed = vseed;
  q->scenario = qz_take(&v.text);
  q->explored = v.explored;
  q->nquestions = v.nq;
  q->questions = iosim_calloc((size_t)v.nq, sizeof *q->questions);
  for (int i = 0; i < v.nq; i++) {
    snprintf(q->questions[i].id, sizeof q->questions[i].id, "q%d", i + 1);
    q->questions[i].text = qz_question_text(&v.q[i]);
  }
  /* the question file exactly as `-o` writes it: a race's key token
     carries the hash of its text */
  char *qtext = quiz_file_text(q, false);
  int qw = write_file(scratch, qtext);
  free(qtext);
  if (qw) {
    snprintf(why, wn, "cannot write %.400s", scratch);
    goto bad;
  }
  for (int i = 0; i < v.nq; i++) {
    if (v.q[i].kind != QK_RACE) continue;
    char w[512] = "";
    if (qz_answer_race(&v.q[i], scratch, scratch2, &q->questions[i], w, sizeof w)) {
      snprintf(why, wn, "%s: %.400s", q->questions[i].id, w);
      goto bad;
    }
  }
  for (int s = QZ_SEEDS - 1; s >= 0 && !v.explored; s--) { /* the first seed last: its steps are the ones shown */
    qz_run_t run;
    char err[600];
    if (qz_run(scratch, 1 + (uint64_t)s, NULL, &run, err, sizeof err)) {
      snprintf(why, wn, "does not load: %.400s", err);
      goto bad;
    }
    if (run.res.outcome == SIM_RUN_LIMIT) {
      snprintf(why, wn, "seed %d ends at a limit", s + 1);
      qz_run_free(&run);
      goto bad;
    }
    bool asks_findings = false;
    for (int i = 0; i < v.nq; i++) asks_findings |= v.q[i].kind == QK_FINDINGS;
    if (!asks_findings && (run.res.finding_total || run.res.outcome == SIM_RUN_BUGCHECK)) {
      snprintf(why, wn, "seed %d: a finding (%s) the questions do not ask about", s + 1,
               run.res.finding_total ? run.res.findings[0].name : "bugcheck");
      qz_run_free(&run);
      goto bad;
    }
    for (int i = 0; i < v.nq; i++) {
      quiz_question_t a = {0};
      char w[256] = "";
      int rc = qz_answer(&v.q[i], &run, &a, w, sizeof w);
      quiz_question_t *qq = &q->questions[i];
      if (rc) snprintf(why, wn, "seed %d, %s: %s", s + 1, qq->id, w);
      else if (qq->answer.expects && strcmp(qq->answer.expects, a.answer.expects)) {
        rc = -1;
        snprintf(why, wn, "%s depends on the seed (seed %d differs)", qq->id, s + 1);
      }
      free(qq->answer.text);
      free(qq->answer.steps);
      free(qq->answer.expects);
      qq->answer = a.answer;
      if (rc) {
        qz_run_free(&run);
        goto bad;
      }
    }
    qz_run_free(&run);
  }
  /* `iosim check` of the file with the answers as expectations */
  char *full = quiz_file_text(q, true);
  int wr = write_file(scratch, full);
  free(full);
  if (wr) {
    snprintf(why, wn, "cannot write %.400s", scratch);
    goto bad;
  }
  if (v.explored && check_explored(scratch, why, wn)) goto bad;
  for (int s = 0; s < QZ_SEEDS && !v.explored; s++) {
    qz_run_t run;
    char err[600];
    if (qz_run(scratch, 1 + (uint64_t)s, NULL, &run, err, sizeof err)) {
      snprintf(why, wn, "check: does not load: %.400s", err);
      goto bad;
    }
    int failed = run.res.expect_failed, unexpected = run.res.finding_unexpected;
    char first[600] = "";
    for (int k = 0; k < run.res.expect_total && !first[0]; k++)
      if (!run.res.expects[k].passed) snprintf(first, sizeof first, "%s", run.res.expects[k].text);
    qz_run_free(&run);
    if (failed || unexpected) {
      snprintf(why, wn, "check: seed %d: %d expectations fail (%.300s), %d findings unpredicted", s + 1, failed, first, unexpected);
      goto bad;
    }
  }
  return q;
bad:
  quiz_free(q);
  return NULL;
}

quiz_t *quiz_generate(const quiz_opts_t *o_in, const char *workdir, char *err, size_t errn) {
  quiz_opts_t o = *o_in;
  if (o.level < QUIZ_LEVEL_MIN || o.level > QUIZ_LEVEL_MAX) o.level = 2;
  if (o.topic < 0 || o.topic >= QUIZ_TOPIC_COUNT) {
    qz_rng_t r = {o.seed ^ 0x51u};
    o.topic = (int)(qz_next(&r) % QUIZ_TOPIC_COUNT);
  }
  char scratch[4096];
  snprintf(scratch, sizeof scratch, "%s/.quiz-scratch-%ld-XXXXXX.iosim", workdir, (long)getpid());
  int fd = mkstemps(scratch, 6);
  if (fd < 0) {
    snprintf(err, errn, "%s: cannot create a scratch file", workdir);
    return NULL;
  }
  close(fd);
  char scratch2[4200];
  snprintf(scratch2, sizeof scratch2, "%s.strict", scratch);
  char rej[1024] = "";
  size_t rl = 0;
  quiz_t *q = NULL;
  int a;
  for (a = 0; a < QZ_ATTEMPTS && !q; a++) {
    char why[512] = "";
    q = attempt(&o, qz_derive(o.seed ^ ((uint64_t)o.topic << 56) ^ ((uint64_t)o.level << 48), a), scratch, scratch2, why,
                sizeof why);
    if (!q && rl < sizeof rej - 1) {
      int n = snprintf(rej + rl, sizeof rej - rl, "variant %d: %s\n", a + 1, why);
      if (n > 0) rl += (size_t)n < sizeof rej - rl ? (size_t)n : sizeof rej - rl - 1;
    }
  }
  unlink(scratch);
  unlink(scratch2);
  if (!q) {
    snprintf(err, errn, "no unambiguous variant in %d tries; the last: %s", QZ_ATTEMPTS, rej);
    return NULL;
  }
  q->rejected = a - 1;
  snprintf(q->rejections, sizeof q->rejections, "%s", rej);
  snprintf(q->name, sizeof q->name, "quiz-%llu", (unsigned long long)o.seed);
  return q;
}
