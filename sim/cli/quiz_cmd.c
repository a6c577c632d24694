/*
 * quiz_cmd.c - `iosim quiz`: a generated exercise (sim/quiz, quiz.h)
 * printed as text, JSON or PrairieLearn's generator shape, its scenario
 * written into -o DIR.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "iosim/quiz.h"

static const char *const usage_quiz =
    "usage: iosim quiz --seed N [--topic T] [--level L] [--answers] [-o DIR]\n"
    "                  [--format text|json|prairielearn]\n"
    "\n"
    "Generates an exercise from the seed: a scenario (a device stack, its\n"
    "drivers, the application's requests) and questions about it; the same\n"
    "seed, topic and level give the same exercise (docs/quiz.md).\n"
    "  --seed N        the exercise's seed (required)\n"
    "  --topic T       completion-walk, pending, mpr, notification, iocp, cancel,\n"
    "                  associated, fast-io, usermode-fs (default: from the seed)\n"
    "  --level L       1..3, the size: layers, requests, CPUs (default 2)\n"
    "  --answers       also the answers, computed by running the scenario, with\n"
    "                  the steps that prove them (and as `expect` lines that\n"
    "                  `iosim check` verifies: see -o)\n"
    "  -o DIR          write the scenario to DIR/quiz-N.iosim (else it is printed);\n"
    "                  with --answers also DIR/quiz-N-answers.iosim, the same\n"
    "                  with the answers as expect lines\n"
    "  --format F      text (default), json, or prairielearn: {\"params\",\n"
    "                  \"correct_answers\"} for a PrairieLearn question's generate()\n"
    "Exit 0, or 2 on bad input.\n";

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!*s || *s == '-') return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return false;
  *out = v;
  return true;
}

int cli_quiz(int argc, char **argv) {
  static const struct option longs[] = {{"seed", required_argument, 0, 's'},   {"topic", required_argument, 0, 't'},
                                        {"level", required_argument, 0, 'l'},  {"answers", no_argument, 0, 'a'},
                                        {"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
  quiz_opts_t o = {.topic = -1, .level = 2};
  bool has_seed = false, answers = false;
  const char *dir = NULL, *format = "text";
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
    switch (c) {
    case 's':
      if (!parse_u64(optarg, &o.seed)) {
        fprintf(stderr, "iosim quiz: --seed wants a number, not '%s'\n", optarg);
        return 2;
      }
      has_seed = true;
      break;
    case 't':
      o.topic = quiz_topic_parse(optarg);
      if (o.topic < 0) {
        fprintf(stderr, "iosim quiz: unknown topic '%s' (", optarg);
        for (int i = 0; i < QUIZ_TOPIC_COUNT; i++) fprintf(stderr, "%s%s", i ? ", " : "", quiz_topic_name((quiz_topic_t)i));
        fprintf(stderr, ")\n");
        return 2;
      }
      break;
    case 'l': {
      uint64_t l;
      if (!parse_u64(optarg, &l) || l < QUIZ_LEVEL_MIN || l > QUIZ_LEVEL_MAX) {
        fprintf(stderr, "iosim quiz: --level is %d..%d\n", QUIZ_LEVEL_MIN, QUIZ_LEVEL_MAX);
        return 2;
      }
      o.level = (int)l;
      break;
    }
    case 'a': answers = true; break;
    case 'o': dir = optarg; break;
    case 'f':
      if (strcmp(optarg, "text") && strcmp(optarg, "json") && strcmp(optarg, "prairielearn")) {
        fprintf(stderr, "iosim quiz: --format is text, json or prairielearn\n");
        return 2;
      }
      format = optarg;
      break;
    case 'h': fputs(usage_quiz, stdout); return 0;
    default: fputs(usage_quiz, stderr); return 2;
    }
  }
  if (!has_seed || optind != argc) {
    fputs(usage_quiz, stderr);
    return 2;
  }
  const char *work = dir ? dir : getenv("TMPDIR");
  if (!work || !*work) work = "/tmp";
  char err[1400];
  quiz_t *q = quiz_generate(&o, work, err, sizeof err);
  if (!q) {
    fprintf(stderr, "iosim quiz: %s\n", err);
    return 2;
  }
  /* DIR/quiz-N.iosim is the question (what students get; a race's key
     token replays on it); with --answers, DIR/quiz-N-answers.iosim is the
     same text with the answers as expect lines, for `iosim check`. */
  char path[4200], apath[4200], *shown = NULL;
  if (dir) {
    for (int k = 0; k < (answers ? 2 : 1); k++) {
      char *p = k ? apath : path;
      snprintf(p, sizeof path, "%s/%s%s.iosim", dir, q->name, k ? "-answers" : "");
      char *text = quiz_file_text(q, k == 1);
      FILE *f = fopen(p, "w");
      bool bad = !f || fputs(text, f) < 0;
      if (f && fclose(f)) bad = true;
      free(text);
      if (bad) {
        fprintf(stderr, "iosim quiz: cannot write %s\n", p);
        if (k) remove(path); /* nothing written: not the question without its answers */
        quiz_free(q);
        return 2;
      }
    }
    shown = path;
  }
  if (!strcmp(format, "json")) quiz_print_json(stdout, q, shown, answers);
  else if (!strcmp(format, "prairielearn")) quiz_print_prairielearn(stdout, q);
  else quiz_print_text(stdout, q, shown, answers);
  quiz_free(q);
  return 0;
}
