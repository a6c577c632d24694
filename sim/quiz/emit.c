/*
 * emit.c - an exercise on paper: as text for people, as JSON for tools,
 * and in PrairieLearn's generator shape ({"params", "correct_answers"},
 * what a question's server.py generate() fills in), so a course can wrap
 * it in a question.
 */
#include <stdlib.h>
#include <string.h>

#include "quiz_int.h"

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20) fprintf(f, "\\u%04x", *p);
      else fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void head(FILE *f, const quiz_t *q) {
  fprintf(f, "iosim quiz generator %s (compatible %d), seed %llu, topic %s (%s), level %d\n", QUIZ_VERSION, QUIZ_COMPAT,
          (unsigned long long)q->opts.seed, quiz_topic_name((quiz_topic_t)q->opts.topic),
          quiz_topic_about((quiz_topic_t)q->opts.topic), q->opts.level);
}

void quiz_print_text(FILE *f, const quiz_t *q, const char *path, bool answers) {
  head(f, q);
  if (q->rejected) fprintf(f, "(%d ambiguous variant%s rejected)\n", q->rejected, q->rejected == 1 ? "" : "s");
  if (path) fprintf(f, "\nscenario: %s   (run it: iosim run %s --explain)\n", path, path);
  else fprintf(f, "\n----- the scenario -----\n%s----- end of the scenario -----\n", q->scenario);
  fprintf(f, "\nQuestions\n");
  for (int i = 0; i < q->nquestions; i++) fprintf(f, "  %s. %s\n", q->questions[i].id, q->questions[i].text);
  if (!answers) return;
  fprintf(f, "\nAnswers (from running the scenario; steps of its first seed)\n");
  for (int i = 0; i < q->nquestions; i++) {
    const quiz_answer_t *a = &q->questions[i].answer;
    fprintf(f, "  %s. %s\n", q->questions[i].id, a->text);
    if (a->steps[0]) fprintf(f, "      steps: %s\n", a->steps);
  }
  if (path) {
    size_t n = strlen(path);
    if (n > 6 && !strcmp(path + n - 6, ".iosim")) n -= 6;
    fprintf(f, "\nThe answers are `expect` lines at the end of %.*s-answers.iosim: iosim check %.*s-answers.iosim\n",
            (int)n, path, (int)n, path);
  }
}

void quiz_print_json(FILE *f, const quiz_t *q, const char *path, bool answers) {
  fprintf(f, "{\"generator\": ");
  json_str(f, QUIZ_VERSION);
  fprintf(f, ", \"compat\": %d, \"seed\": %llu, \"topic\": ", QUIZ_COMPAT, (unsigned long long)q->opts.seed);
  json_str(f, quiz_topic_name((quiz_topic_t)q->opts.topic));
  fprintf(f, ", \"level\": %d, \"rejected\": %d, \"rejections\": ", q->opts.level, q->rejected);
  json_str(f, q->rejections);
  fprintf(f, ", \"file\": ");
  if (path) json_str(f, path);
  else fputs("null", f);
  char *text = quiz_file_text(q, answers);
  fprintf(f, ",\n \"scenario\": ");
  json_str(f, text);
  free(text);
  fprintf(f, ",\n \"questions\": [");
  for (int i = 0; i < q->nquestions; i++) {
    const quiz_question_t *qq = &q->questions[i];
    fprintf(f, "%s\n  {\"id\": ", i ? "," : "");
    json_str(f, qq->id);
    fprintf(f, ", \"text\": ");
    json_str(f, qq->text);
    if (answers) {
      fprintf(f, ", \"answer\": ");
      json_str(f, qq->answer.text);
      fprintf(f, ", \"steps\": ");
      json_str(f, qq->answer.steps);
      fprintf(f, ", \"expect\": ");
      json_str(f, qq->answer.expects);
      if (qq->answer.token) {
        fprintf(f, ", \"token\": ");
        json_str(f, qq->answer.token);
      }
    }
    fputc('}', f);
  }
  fprintf(f, "]}\n");
}

void quiz_print_prairielearn(FILE *f, const quiz_t *q) {
  char *text = quiz_file_text(q, false);
  fprintf(f, "{\"params\": {\"generator\": ");
  json_str(f, QUIZ_VERSION);
  fprintf(f, ", \"seed\": %llu, \"topic\": ", (unsigned long long)q->opts.seed);
  json_str(f, quiz_topic_name((quiz_topic_t)q->opts.topic));
  fprintf(f, ", \"level\": %d, \"scenario\": ", q->opts.level);
  json_str(f, text);
  free(text);
  for (int i = 0; i < q->nquestions; i++) {
    fprintf(f, ", ");
    char key[32];
    snprintf(key, sizeof key, "%s_text", q->questions[i].id);
    json_str(f, key);
    fprintf(f, ": ");
    json_str(f, q->questions[i].text);
  }
  fprintf(f, "},\n \"correct_answers\": {");
  for (int i = 0; i < q->nquestions; i++) {
    fprintf(f, "%s", i ? ", " : "");
    json_str(f, q->questions[i].id);
    fprintf(f, ": ");
    /* a race question's key is its token (iosim run FILE --replay TOKEN
       decides any other a student gives) */
    json_str(f, q->questions[i].answer.token ? q->questions[i].answer.token : q->questions[i].answer.text);
  }
  fprintf(f, "}}\n");
}
