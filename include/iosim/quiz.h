/*
 * quiz.h - generated exercises (`iosim quiz`, issue 18 part 2): from a
 * seed, a scenario file, questions about it in a course's words, and the
 * answers, computed by running the scenario (never written by hand) and
 * emitted as `expect` lines so `iosim check` verifies them.
 */
#ifndef IOSIM_QUIZ_H
#define IOSIM_QUIZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The generator's version: a seed gives the same exercise with every
   generator of the same major version (QUIZ_COMPAT). */
#define QUIZ_VERSION "1.0"
#define QUIZ_COMPAT 1

#define QUIZ_TOPIC_MAP(X)                                                  \
  X(QUIZ_T_WALK, "completion-walk", "the completion walk: routines, IRQL, context") \
  X(QUIZ_T_PENDING, "pending", "pending marks, right and wrong")             \
  X(QUIZ_T_MPR, "mpr", "STATUS_MORE_PROCESSING_REQUIRED and re-completion")  \
  X(QUIZ_T_NOTIFY, "notification", "notification methods: wait, event, APC") \
  X(QUIZ_T_IOCP, "iocp", "completion ports and their workers")             \
  X(QUIZ_T_CANCEL, "cancel", "cancel routines and CancelIoEx")             \
  X(QUIZ_T_ASSOC, "associated", "associated IRPs and their master")        \
  X(QUIZ_T_FASTIO, "fast-io", "fast I/O through the cache")                \
  X(QUIZ_T_UFS, "usermode-fs", "a user-mode file system")

typedef enum {
#define QUIZ_X(e, s, d) e,
  QUIZ_TOPIC_MAP(QUIZ_X)
#undef QUIZ_X
  QUIZ_TOPIC_COUNT
} quiz_topic_t;

const char *quiz_topic_name(quiz_topic_t t);
const char *quiz_topic_about(quiz_topic_t t);
/* -1 if `name` is no topic. */
int quiz_topic_parse(const char *name);

#define QUIZ_LEVEL_MIN 1
#define QUIZ_LEVEL_MAX 3

typedef struct quiz_opts {
  uint64_t seed;
  int topic;     /* a quiz_topic_t, or -1: chosen from the seed */
  int level;     /* QUIZ_LEVEL_MIN..MAX (size of the stack, requests, CPUs) */
} quiz_opts_t;

/* One answer: the words, the trace steps that prove it (of the run with
   the scenario's first seed), and the `expect` lines that assert it. */
typedef struct quiz_answer {
  char *text;
  char *steps;   /* "#12 #31", "" when the proof is the run's end */
  char *expects; /* one or more lines, each "expect ...\n" */
  char *token;   /* a race question's key: the minimised replay token of a bad
                    schedule of the question file (NULL if none) */
} quiz_answer_t;

typedef struct quiz_question {
  char id[16];   /* "q1".. : PrairieLearn's answers-name */
  char *text;
  quiz_answer_t answer;
} quiz_question_t;

typedef struct quiz {
  quiz_opts_t opts;       /* as asked (topic, level resolved) */
  uint64_t variant_seed;  /* the seed the accepted variant was built from */
  int rejected;           /* variants rejected before it */
  char rejections[1024];  /* why, one line each */
  char name[64];          /* "quiz-<seed>" */
  char *scenario;         /* the .iosim text without expectations */
  bool explored;          /* the file asks to be checked over its schedules */
  int nquestions;
  quiz_question_t *questions;
} quiz_t;

/* Builds the exercise; runs its variants in `workdir` (a folder that
   exists; a scratch file is written and removed there).  NULL with `err`
   when no variant could be made. */
quiz_t *quiz_generate(const quiz_opts_t *o, const char *workdir, char *err, size_t errn);
void quiz_free(quiz_t *q);

/* The scenario file: the text, then (answers) every answer's expect lines. */
char *quiz_file_text(const quiz_t *q, bool answers);

/* Outputs.  `path` is where the scenario file was written (or NULL). */
void quiz_print_text(FILE *f, const quiz_t *q, const char *path, bool answers);
void quiz_print_json(FILE *f, const quiz_t *q, const char *path, bool answers);
/* PrairieLearn's generator shape: {"params": {...}, "correct_answers": {...}}. */
void quiz_print_prairielearn(FILE *f, const quiz_t *q);

#endif
