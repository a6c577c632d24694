/*
 * test_quiz_cover.c - the quiz generator's parts one by one (sim/quiz):
 * the three output formats of a hand-made exercise, byte for byte
 * (docs/quiz.md "Formats"); each question kind's answer computed from a
 * hand-made run (the words, the steps, the `expect` lines, and the
 * refusals that make the generator reject a variant); the race answer
 * over a file's schedules; the runs of a file that does not load or whose
 * token does not fit; and `iosim quiz`'s refusals, message and exit 2.
 * tests/test_quiz.c checks whole generated exercises; this file checks
 * the pieces those rarely or never reach.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/explore.h"
#include "iosim/quiz.h"
#include "iosim/scenario.h"
#include "quiz/quiz_int.h"
#include "testlib.h"

#define FIX "fixtures/quiz-cover/"

static char tmpdir[64];

static void mk_tmp(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/iosim-qcovXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

/* ---------------------------------------------------------------- */
/* emit.c: a hand-made exercise printed in each format                */
/* ---------------------------------------------------------------- */

static char q1_text[] = "Is \"x\" a\tb\\c\x01?";
static char q2_text[] = "Second?";
static char a1_text[] = "ans1", a1_steps[] = "#3 #5", a1_exp[] = "expect a\n";
static char a2_text[] = "ans2", a2_steps[] = "", a2_exp[] = "expect b\n", a2_tok[] = "1:ab:1:4";
static char scen[] = "scenario \"s\"\n";

static void hand_quiz(quiz_t *q, quiz_question_t qs[2], int rejected, bool token) {
  memset(q, 0, sizeof *q);
  memset(qs, 0, 2 * sizeof *qs);
  snprintf(qs[0].id, sizeof qs[0].id, "q1");
  qs[0].text = q1_text;
  qs[0].answer = (quiz_answer_t){a1_text, a1_steps, a1_exp, NULL};
  snprintf(qs[1].id, sizeof qs[1].id, "q2");
  qs[1].text = q2_text;
  qs[1].answer = (quiz_answer_t){a2_text, a2_steps, a2_exp, token ? a2_tok : NULL};
  q->opts = (quiz_opts_t){.seed = 7, .topic = QUIZ_T_CANCEL, .level = 3};
  q->rejected = rejected;
  snprintf(q->rejections, sizeof q->rejections, "%s", rejected ? "variant 1: a\nvariant 2: b\n" : "");
  snprintf(q->name, sizeof q->name, "quiz-7");
  q->scenario = scen;
  q->nquestions = 2;
  q->questions = qs;
}

enum { F_TEXT, F_JSON, F_PL };

static char *print(const quiz_t *q, int fmt, const char *path, bool answers) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  ck_assert_ptr_nonnull(f);
  if (fmt == F_TEXT)
    quiz_print_text(f, q, path, answers);
  else if (fmt == F_JSON)
    quiz_print_json(f, q, path, answers);
  else
    quiz_print_prairielearn(f, q);
  fclose(f);
  return buf;
}

#define HEAD "iosim quiz generator 1.0 (compatible 1), seed 7, topic cancel (cancel routines and CancelIoEx), level 3\n"
#define QS "\nQuestions\n  q1. Is \"x\" a\tb\\c\x01?\n  q2. Second?\n"
#define ANS                                                                                                            \
  "\nAnswers (from running the scenario; steps of its first seed)\n  q1. ans1\n      steps: #3 #5\n  q2. ans2\n"
#define INLINE "\n----- the scenario -----\nscenario \"s\"\n----- end of the scenario -----\n"
#define FILE_Q                                                                                                         \
  "scenario \\\"s\\\"\\n\\n# Questions (iosim quiz --seed 7 --topic cancel --level 3):\\n#  q1. Is \\\"x\\\" "         \
  "a\\tb\\\\c\\u0001?\\n#  q2. Second?\\n"
#define FILE_A                                                                                                         \
  "\\n# Answers, computed by running this file; `iosim check` verifies them.\\n# q1\\nexpect a\\n# q2\\nexpect b\\n"
#define JQ1 "\n  {\"id\": \"q1\", \"text\": \"Is \\\"x\\\" a\\tb\\\\c\\u0001?\""
#define JQ2 "\n  {\"id\": \"q2\", \"text\": \"Second?\""

static const struct emit_case {
  int fmt, rejected;
  bool token, answers;
  const char *path, *want;
} emit_cases[] = {
    /* text: the scenario inline, no answers, nothing rejected */
    {F_TEXT, 0, false, false, NULL, HEAD INLINE QS},
    /* one rejection is "variant", two "variants"; the answers with their
       steps (none printed when the proof is the run's end) */
    {F_TEXT, 1, false, true, NULL, HEAD "(1 ambiguous variant rejected)\n" INLINE QS ANS},
    /* with -o: the path, and the answers file named after it */
    {F_TEXT, 2, false, true, "/tmp/lab/quiz-7.iosim",
     HEAD
     "(2 ambiguous variants rejected)\n\nscenario: /tmp/lab/quiz-7.iosim   (run it: iosim run /tmp/lab/quiz-7.iosim "
     "--explain)\n" QS ANS "\nThe answers are `expect` lines at the end of /tmp/lab/quiz-7-answers.iosim: iosim check "
     "/tmp/lab/quiz-7-answers.iosim\n"},
    /* a path without the .iosim suffix (or nothing before it) is kept whole */
    {F_TEXT, 0, false, true, "lab/q.txt",
     HEAD
     "\nscenario: lab/q.txt   (run it: iosim run lab/q.txt --explain)\n" QS ANS
     "\nThe answers are `expect` lines at the end of lab/q.txt-answers.iosim: iosim check lab/q.txt-answers.iosim\n"},
    {F_TEXT, 0, false, true, ".iosim",
     HEAD "\nscenario: .iosim   (run it: iosim run .iosim --explain)\n" QS ANS
          "\nThe answers are `expect` lines at the end of .iosim-answers.iosim: iosim check .iosim-answers.iosim\n"},
    /* json: every string escaped; no answers, no file */
    {F_JSON, 0, false, false, NULL,
     "{\"generator\": \"1.0\", \"compat\": 1, \"seed\": 7, \"topic\": \"cancel\", \"level\": 3, \"rejected\": 0, "
     "\"rejections\": \"\", \"file\": null,\n \"scenario\": \"" FILE_Q "\",\n \"questions\": [" JQ1 "}," JQ2 "}]}\n"},
    /* json with answers, the file, the rejections and a race's token */
    {F_JSON, 2, true, true, "d/quiz-7.iosim",
     "{\"generator\": \"1.0\", \"compat\": 1, \"seed\": 7, \"topic\": \"cancel\", \"level\": 3, \"rejected\": 2, "
     "\"rejections\": \"variant 1: a\\nvariant 2: b\\n\", \"file\": \"d/quiz-7.iosim\",\n \"scenario\": \"" FILE_Q
         FILE_A "\",\n \"questions\": [" JQ1
     ", \"answer\": \"ans1\", \"steps\": \"#3 #5\", \"expect\": \"expect a\\n\"}," JQ2
     ", \"answer\": \"ans2\", \"steps\": \"\", \"expect\": \"expect b\\n\", \"token\": \"1:ab:1:4\"}]}\n"},
    /* prairielearn: the question file without answers; the key of a race
       question is its token, of any other its words */
    {F_PL, 0, false, true, NULL,
     "{\"params\": {\"generator\": \"1.0\", \"seed\": 7, \"topic\": \"cancel\", \"level\": 3, \"scenario\": \"" FILE_Q
     "\", \"q1_text\": \"Is \\\"x\\\" a\\tb\\\\c\\u0001?\", \"q2_text\": \"Second?\"},\n \"correct_answers\": {\"q1\": "
     "\"ans1\", \"q2\": \"ans2\"}}\n"},
    {F_PL, 1, true, true, NULL,
     "{\"params\": {\"generator\": \"1.0\", \"seed\": 7, \"topic\": \"cancel\", \"level\": 3, \"scenario\": \"" FILE_Q
     "\", \"q1_text\": \"Is \\\"x\\\" a\\tb\\\\c\\u0001?\", \"q2_text\": \"Second?\"},\n \"correct_answers\": {\"q1\": "
     "\"ans1\", \"q2\": \"1:ab:1:4\"}}\n"},
};

START_TEST(emit_formats) {
  for (size_t i = 0; i < sizeof emit_cases / sizeof emit_cases[0]; i++) {
    const struct emit_case *c = &emit_cases[i];
    quiz_t q;
    quiz_question_t qs[2];
    hand_quiz(&q, qs, c->rejected, c->token);
    char *got = print(&q, c->fmt, c->path, c->answers);
    ck_assert_msg(!strcmp(got, c->want), "case %zu:\n--- got\n%s--- want\n%s", i, got, c->want);
    free(got);
  }
}
END_TEST

/* quiz_file_text: the question file, and with the answers their expect
   lines after it, each under its question's id. */
START_TEST(file_text) {
  quiz_t q;
  quiz_question_t qs[2];
  hand_quiz(&q, qs, 0, false);
  char *t = quiz_file_text(&q, false);
  ck_assert_str_eq(t, "scenario \"s\"\n\n# Questions (iosim quiz --seed 7 --topic cancel --level 3):\n#  q1. Is \"x\" "
                      "a\tb\\c\x01?\n#  q2. Second?\n");
  free(t);
  t = quiz_file_text(&q, true);
  ck_assert_str_eq(t, "scenario \"s\"\n\n# Questions (iosim quiz --seed 7 --topic cancel --level 3):\n#  q1. Is \"x\" "
                      "a\tb\\c\x01?\n#  q2. Second?\n\n# Answers, computed by running this file; `iosim check` "
                      "verifies them.\n# q1\nexpect a\n# q2\nexpect b\n");
  free(t);
}
END_TEST

/* ---------------------------------------------------------------- */
/* quiz.c: topic names, options                                      */
/* ---------------------------------------------------------------- */

START_TEST(topic_names) {
  static const struct {
    const char *name;
    int topic;
  } cases[] = {
      {"completion-walk", QUIZ_T_WALK},
      {"pending", QUIZ_T_PENDING},
      {"mpr", QUIZ_T_MPR},
      {"notification", QUIZ_T_NOTIFY},
      {"iocp", QUIZ_T_IOCP},
      {"cancel", QUIZ_T_CANCEL},
      {"associated", QUIZ_T_ASSOC},
      {"fast-io", QUIZ_T_FASTIO},
      {"usermode-fs", QUIZ_T_UFS},
      {"Cancel", -1},
      {"", -1},
      {"cancel ", -1},
      {"nosuch", -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ck_assert_msg(quiz_topic_parse(cases[i].name) == cases[i].topic, "'%s'", cases[i].name);
    if (cases[i].topic >= 0) ck_assert_str_eq(quiz_topic_name((quiz_topic_t)cases[i].topic), cases[i].name);
  }
  ck_assert_str_eq(quiz_topic_about(QUIZ_T_MPR), "STATUS_MORE_PROCESSING_REQUIRED and re-completion");
  /* no topic: "?" rather than a read past the table */
  ck_assert_str_eq(quiz_topic_name(QUIZ_TOPIC_COUNT), "?");
  ck_assert_str_eq(quiz_topic_name((quiz_topic_t)-1), "?");
  ck_assert_str_eq(quiz_topic_about(QUIZ_TOPIC_COUNT), "?");
  ck_assert_str_eq(quiz_topic_about((quiz_topic_t)-1), "?");
  quiz_free(NULL); /* as free(NULL) */
}
END_TEST

START_TEST(generate_options) {
  mk_tmp();
  char err[1400];
  /* a work folder that does not exist: refused, nothing made */
  quiz_opts_t o = {.seed = 3, .topic = QUIZ_T_WALK, .level = 1};
  err[0] = '\0';
  ck_assert_ptr_null(quiz_generate(&o, "/nonexistent/quiz-cover", err, sizeof err));
  ck_assert_str_eq(err, "/nonexistent/quiz-cover: cannot create a scratch file");
  /* a level outside 1..3 means the default, 2 */
  o.level = 2;
  quiz_t *ref = quiz_generate(&o, tmpdir, err, sizeof err);
  ck_assert_ptr_nonnull(ref);
  ck_assert_str_eq(ref->name, "quiz-3");
  static const int levels[] = {0, 4, -1, 99};
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
    o.level = levels[i];
    quiz_t *q = quiz_generate(&o, tmpdir, err, sizeof err);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(q->opts.level, 2);
    ck_assert_str_eq(q->scenario, ref->scenario);
    quiz_free(q);
  }
  quiz_free(ref);
  /* a topic out of range is chosen from the seed, as -1 is */
  o.level = 1;
  o.topic = -1;
  quiz_t *a = quiz_generate(&o, tmpdir, err, sizeof err);
  o.topic = QUIZ_TOPIC_COUNT;
  quiz_t *b = quiz_generate(&o, tmpdir, err, sizeof err);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_ge(a->opts.topic, 0);
  ck_assert_int_lt(a->opts.topic, QUIZ_TOPIC_COUNT);
  ck_assert_int_eq(a->opts.topic, b->opts.topic);
  ck_assert_str_eq(a->scenario, b->scenario);
  quiz_free(a);
  quiz_free(b);
  /* the scratch files are removed: the folder is empty again */
  char cmd[160];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
  rm_tmp();
}
END_TEST

/* ---------------------------------------------------------------- */
/* answer.c: each question kind answered from a hand-made run        */
/* ---------------------------------------------------------------- */

/* The steps of a run (qz_ev_t); only the facts a question reads are set. */
#define EVS(...) .ev = (qz_ev_t[]){__VA_ARGS__}, .nev = sizeof((qz_ev_t[]){__VA_ARGS__}) / sizeof(qz_ev_t)
#define CC(s, d, i, f, ...)                                                                                            \
  { .seq = s, .kind = TRC_COMPLETION_CALL, .irp = "r1", .dev = d, .irql = i, .frame = f, __VA_ARGS__ }
#define SETC(s, i, d)                                                                                                  \
  { .seq = s, .kind = TRC_SET_COMPLETION, .irp = i, .dev = d }
#define ST(s, k, ...)                                                                                                  \
  { .seq = s, .kind = k, __VA_ARGS__ }

typedef struct acase {
  const char *name;
  qz_q_t q;
  qz_ev_t *ev;
  size_t nev;
  sim_outcome_t outcome;
  uint32_t bugcheck;
  vrf_finding_t *findings;
  int nfindings;
  const char *threads[4][2]; /* name, state at the end */
  int rc;
  const char *text, *steps, *expects, *why;
} acase_t;

#define FINDINGS(...)                                                                                                  \
  .findings = (vrf_finding_t[]){__VA_ARGS__},                                                                          \
  .nfindings = sizeof((vrf_finding_t[]){__VA_ARGS__}) / sizeof(vrf_finding_t)

static const acase_t answer_cases[] = {
    /* ---- the completion routines of r1 ---- */
    {"cr: none runs; a routine set but never called, once (set twice, other IRPs and unnamed devices ignored)",
     {.kind = QK_CR_ORDER, .req = {"r1"}, .nreq = 1},
     EVS(SETC(5, "r1", "flt2"), SETC(6, "r2", "flt3"), SETC(7, "r1", ""), SETC(8, "r1", "flt2")),
     .rc = 0,
     .text = "No completion routine runs for r1. flt2 set a routine (step #5) that is not called: its invoke-on flags "
             "do not match how the IRP completed.",
     .steps = "#5",
     .expects = "expect never completion(r1)\nexpect never completion(flt2, r1)\n"},
    {"cr: five routines in every context; the thread only where it is one",
     {.kind = QK_CR_ORDER, .req = {"r1"}, .nreq = 1},
     EVS(SETC(9, "r1", "flt2"), CC(10, "flt3", 2, TRC_FRAME_DPC),
         ST(11, TRC_COMPLETION_CALL, .irp = "r2", .dev = "flt9"), CC(12, "flt2", 0, TRC_FRAME_THREAD, .thread = "app"),
         CC(14, "flt1", 5, TRC_FRAME_ISR), CC(16, "flt4", 1, TRC_FRAME_APC), CC(18, "flt5", -1, TRC_FRAME_IDLE),
         CC(19, "flt6", 0, TRC_FRAME_THREAD)),
     .rc = 0,
     .text = "1. flt3's routine (step #10): IRQL DISPATCH, in a DPC: arbitrary thread context. "
             "2. flt2's routine (step #12): IRQL PASSIVE, in thread app's context. "
             "3. flt1's routine (step #14): IRQL DIRQL5, in an ISR. "
             "4. flt4's routine (step #16): IRQL APC, in a kernel APC in thread ?. "
             "5. flt5's routine (step #18): IRQL DIRQL-1, on an idle CPU. "
             "6. flt6's routine (step #19): IRQL PASSIVE, in thread ?'s context.",
     .steps = "#10 #12 #14 #16 #18 #19",
     .expects =
         "expect order completion(flt3, r1) < completion(flt2, r1) < completion(flt1, r1) < completion(flt4, r1) < "
         "completion(flt5, r1) < completion(flt6, r1)\n"
         "expect completion(flt3, r1).irql == DISPATCH_LEVEL\nexpect completion(flt3, r1).frame == dpc\n"
         "expect completion(flt2, r1).irql == PASSIVE_LEVEL\nexpect completion(flt2, r1).frame == thread\n"
         "expect completion(flt2, r1).thread == app\n"
         "expect completion(flt1, r1).irql == 5\nexpect completion(flt1, r1).frame == isr\n"
         "expect completion(flt4, r1).irql == APC_LEVEL\nexpect completion(flt4, r1).frame == apc\n"
         "expect completion(flt4, r1).thread == none\n"
         "expect completion(flt5, r1).irql == -1\nexpect completion(flt5, r1).frame == idle\n"
         "expect completion(flt6, r1).irql == PASSIVE_LEVEL\nexpect completion(flt6, r1).frame == thread\n"
         "expect completion(flt6, r1).thread == none\n"},
    {"cr: one routine: no order",
     {.kind = QK_CR_ORDER, .req = {"r1"}, .nreq = 1},
     EVS(CC(4, "flt1", 2, TRC_FRAME_DPC)),
     .rc = 0,
     .text = "1. flt1's routine (step #4): IRQL DISPATCH, in a DPC: arbitrary thread context.",
     .steps = "#4",
     .expects = "expect completion(flt1, r1)\nexpect completion(flt1, r1).irql == DISPATCH_LEVEL\n"
                "expect completion(flt1, r1).frame == dpc\n"},
    {"cr: a routine that runs twice makes the question ambiguous",
     {.kind = QK_CR_ORDER, .req = {"r1"}, .nreq = 1},
     EVS(CC(4, "flt1", 2, TRC_FRAME_DPC), CC(6, "flt2", 2, TRC_FRAME_DPC), CC(8, "flt1", 2, TRC_FRAME_DPC)),
     .rc = -1,
     .why = "flt1's routine runs twice for r1"},

    /* ---- the I/O status block ---- */
    {"iosb: never written, no APC (another IRP's and a non-stage-2 one ignored), no stage 2",
     {.kind = QK_IOSB, .req = {"r1"}, .nreq = 1},
     EVS(ST(3, TRC_APC_QUEUED, .irp = "r1", .count = 1, .target = "app"),
         ST(4, TRC_APC_QUEUED, .irp = "r2", .target = "app"), ST(5, TRC_IOSB_WRITTEN, .irp = "r2", .thread = "app")),
     .rc = 0,
     .text = "Nobody: r1's I/O status block is never written. No special kernel APC is queued: stage 2 runs nowhere.",
     .steps = "",
     .expects = "expect never iosb-written(r1)\nexpect never apc-queued(r1, count == 0)\n"},
    {"iosb: written in a DPC by no thread; stage 2 inline",
     {.kind = QK_IOSB, .req = {"r1"}, .nreq = 1},
     EVS(ST(18, TRC_STAGE2, .irp = "r1"), ST(20, TRC_IOSB_WRITTEN, .irp = "r1", .irql = 2, .frame = TRC_FRAME_DPC)),
     .rc = 0,
     .text = "no thread writes it at step #20 (in a DPC: arbitrary thread context, IRQL DISPATCH). No special kernel "
             "APC is queued: stage 2 runs inline, in the system service.",
     .steps = "#20",
     .expects = "expect iosb-written(r1).thread == none\nexpect iosb-written(r1).frame == dpc\n"
                "expect never apc-queued(r1, count == 0)\n"},
    {"iosb: written by the APC queued to the requester",
     {.kind = QK_IOSB, .req = {"r1"}, .nreq = 1},
     EVS(ST(25, TRC_APC_QUEUED, .irp = "r1", .target = "app"),
         ST(30, TRC_IOSB_WRITTEN, .irp = "r1", .irql = 1, .frame = TRC_FRAME_APC, .thread = "app")),
     .rc = 0,
     .text = "app writes it at step #30 (in a kernel APC in thread app, IRQL APC). A special kernel APC "
             "(IopCompleteRequest) is queued to app at step #25.",
     .steps = "#25 #30",
     .expects = "expect iosb-written(r1).thread == app\nexpect iosb-written(r1).frame == apc\n"
                "expect apc-queued(r1, count == 0, target == app)\n"},

    /* ---- what ReadFile returns ---- */
    {"sysret: never",
     {.kind = QK_SYSRET, .req = {"r1"}, .nreq = 1},
     EVS(ST(2, TRC_SYSCALL_RETURN, .irp = "r2")),
     .rc = 0,
     .text = "ReadFile never returns for r1.",
     .steps = "",
     .expects = "expect never syscall-return(r1)\n"},
    {"sysret: pending",
     {.kind = QK_SYSRET, .req = {"r1"}, .nreq = 1},
     EVS(ST(7, TRC_SYSCALL_RETURN, .irp = "r1", .status = STATUS_PENDING)),
     .rc = 0,
     .text = "The system service returns STATUS_PENDING at step #7: ReadFile returns FALSE with GetLastError() == "
             "ERROR_IO_PENDING.",
     .steps = "#7",
     .expects = "expect syscall-return(r1).status == STATUS_PENDING\n"},
    {"sysret: success",
     {.kind = QK_SYSRET, .req = {"r1"}, .nreq = 1},
     EVS(ST(7, TRC_SYSCALL_RETURN, .irp = "r1", .status = STATUS_SUCCESS)),
     .rc = 0,
     .text = "The system service returns STATUS_SUCCESS at step #7: ReadFile returns TRUE.",
     .steps = "#7",
     .expects = "expect syscall-return(r1).status == STATUS_SUCCESS\n"},
    {"sysret: an error",
     {.kind = QK_SYSRET, .req = {"r1"}, .nreq = 1},
     EVS(ST(7, TRC_SYSCALL_RETURN, .irp = "r1", .status = STATUS_END_OF_FILE)),
     .rc = 0,
     .text = "The system service returns STATUS_END_OF_FILE at step #7: ReadFile returns FALSE with the error.",
     .steps = "#7",
     .expects = "expect syscall-return(r1).status == STATUS_END_OF_FILE\n"},

    /* ---- waits and sleeps: the n-th of either kind ---- */
    {"wait: the second never returns",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 2},
     EVS(ST(3, TRC_WAIT_DONE, .thread = "app"), ST(4, TRC_WAIT_DONE, .thread = "w1"), ST(5, TRC_WAIT, .thread = "app")),
     .rc = 0,
     .text = "Wait 2 of app never returns: the thread hangs in it.",
     .steps = "",
     .expects = "expect thread app waiting\n"},
    {"wait: an alertable sleep ended by user APCs",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 2},
     EVS(ST(3, TRC_WAIT_DONE, .thread = "app"),
         ST(40, TRC_SLEEP_DONE, .thread = "app", .status = STATUS_USER_APC, .count = 1)),
     .rc = 0,
     .text = "It returns STATUS_USER_APC at step #40: user APCs (the completion routines) ran in it.",
     .steps = "#40",
     .expects = "expect sleep-done(app, 1).status == STATUS_USER_APC\n"},
    {"wait: a sleep whose time ran out, without blocking",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 1},
     EVS(ST(41, TRC_SLEEP_DONE, .thread = "app", .status = STATUS_SUCCESS, .count = 0)),
     .rc = 0,
     .text = "It returns STATUS_SUCCESS at step #41: its time ran out, without blocking.",
     .steps = "#41",
     .expects = "expect sleep-done(app, 1).status == STATUS_SUCCESS\n"},
    {"wait: a timeout",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 1},
     EVS(ST(42, TRC_WAIT_DONE, .thread = "app", .status = STATUS_TIMEOUT, .count = 1)),
     .rc = 0,
     .text = "It returns STATUS_TIMEOUT at step #42: it timed out.",
     .steps = "#42",
     .expects = "expect wait-done(app, 1).status == STATUS_TIMEOUT\n"},
    {"wait: for all",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 1, .line = 30, .stmt = "wait e1 e2 all"},
     EVS(ST(43, TRC_WAIT_DONE, .thread = "app", .count = 1, .object = "e1")),
     .rc = 0,
     .text = "It returns STATUS_SUCCESS at step #43: every object it waits for is signalled.",
     .steps = "#43",
     .expects = "expect wait-done(app, 1).status == STATUS_SUCCESS\n"},
    {"wait: for any, which object",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 1, .line = 30, .stmt = "wait e1 e2 any"},
     EVS(ST(44, TRC_WAIT_DONE, .thread = "app", .count = 1, .object = "e2", .wait_index = 1, .status = 1)),
     .rc = 0,
     .text = "It returns STATUS_WAIT_1 at step #44: e2 is signalled (index 1).",
     .steps = "#44",
     .expects = "expect wait-done(app, 1).status == STATUS_WAIT_1\n"},
    {"wait: no index, or no object: nothing more said",
     {.kind = QK_WAIT, .thr = {"app"}, .nthr = 1, .n = 2},
     EVS(ST(45, TRC_WAIT_DONE, .thread = "app", .count = 1, .object = "e2", .wait_index = -1),
         ST(46, TRC_WAIT_DONE, .thread = "app", .count = 1, .wait_index = 0)),
     .rc = 0,
     .text = "It returns STATUS_SUCCESS at step #46.",
     .steps = "#46",
     .expects = "expect wait-done(app, 2).status == STATUS_SUCCESS\n"},

    /* ---- does the thread hang ---- */
    {"hang: waiting, for what, and the IRP never finished",
     {.kind = QK_HANG, .thr = {"app"}, .nthr = 1},
     EVS(ST(30, TRC_THREAD_STUCK, .target = "app", .object = "f"),
         ST(31, TRC_THREAD_STUCK, .target = "w1", .object = "g"), ST(32, TRC_THREAD_STUCK, .target = "app"),
         ST(33, TRC_IRP_OUTSTANDING, .irp = "r1"), ST(34, TRC_IRP_OUTSTANDING)),
     .outcome = SIM_RUN_STALLED,
     .threads = {{"w1", "terminated"}, {"app", "waiting"}},
     .rc = 0,
     .text = "Yes: app is still waiting when the run ends (stalled). It waits for f (step #30). It waits for a request "
             "(step #32). r1 is never finished (step #33).",
     .steps = "#30 #32 #33",
     .expects = "expect thread app waiting\nexpect irp-outstanding(r1)\nexpect outcome stalled\n"},
    {"hang: no, it exits (the last exit step, its own or naming it)",
     {.kind = QK_HANG, .thr = {"app"}, .nthr = 1},
     EVS(ST(50, TRC_THREAD_EXIT, .thread = "app"), ST(51, TRC_THREAD_EXIT, .thread = "w1"),
         ST(52, TRC_THREAD_EXIT, .thread = "sys", .target = "app")),
     .outcome = SIM_RUN_OK,
     .threads = {{"app", "terminated"}},
     .rc = 0,
     .text = "No: app exits at step #52; the run ends ok.",
     .steps = "#52",
     .expects = "expect thread app finished\nexpect outcome ok\n"},
    {"hang: no, finished with no exit step; an outcome beyond the table",
     {.kind = QK_HANG, .thr = {"app"}, .nthr = 1},
     EVS(ST(1, TRC_THREAD_EXIT, .thread = "w1")),
     .outcome = (sim_outcome_t)(SIM_RUN_STOPPED + 1),
     .threads = {{"app", "terminated"}},
     .rc = 0,
     .text = "No: app finishes; the run ends ?.",
     .steps = "",
     .expects = "expect thread app finished\nexpect outcome ?\n"},
    {"hang: a bugcheck first (the thread unknown)",
     {.kind = QK_HANG, .thr = {"app"}, .nthr = 1},
     EVS(ST(1, TRC_NOTE)),
     .outcome = SIM_RUN_BUGCHECK,
     .rc = 0,
     .text = "It cannot finish: the machine stops with a bugcheck first.",
     .steps = "",
     .expects = "expect outcome bugcheck\n"},
    {"hang: still running at a limit",
     {.kind = QK_HANG, .thr = {"app"}, .nthr = 1},
     EVS(ST(1, TRC_NOTE)),
     .outcome = SIM_RUN_LIMIT,
     .threads = {{"app", "ready"}},
     .rc = 0,
     .text = "app is ready when the run ends (limit).",
     .steps = "",
     .expects = "expect thread app running\nexpect outcome limit\n"},

    /* ---- which rule fires, and where the bug is ---- */
    {"findings: none",
     {.kind = QK_FINDINGS},
     EVS(ST(1, TRC_NOTE)),
     .rc = 0,
     .text = "None: the verifier finds nothing wrong.",
     .steps = "",
     .expects = "expect no finding\n"},
    {"findings: each once, where and when; the bug's line in its driver",
     {.kind = QK_FINDINGS, .dev = {"flt1"}, .ndev = 1, .req = {"r1"}, .nreq = 1, .line = 26},
     EVS(ST(1, TRC_NOTE)),
     FINDINGS({.name = "pending-not-marked", .irp_tag = "r1", .device_name = "flt1", .seq = 21},
              {.name = "irp-leaked", .irp_tag = "r1", .device_name = "flt2"}, {.name = "deadlock"},
              {.name = "pending-not-marked", .irp_tag = "r1", .device_name = "flt1", .seq = 22},
              {.name = "pending-not-marked", .irp_tag = "r2", .device_name = "flt1", .seq = 23}),
     .outcome = SIM_RUN_STALLED,
     .rc = 0,
     .text =
         "pending-not-marked for r1 in flt1's driver at step #21. irp-leaked for r1 in flt2's driver at the end of the "
         "run. deadlock at the end of the run. pending-not-marked for r2 in flt1's driver at step #23. The bug is in "
         "line 26, in flt1's driver.",
     .steps = "#21 #23",
     .expects = "expect finding pending-not-marked r1\nexpect finding irp-leaked r1\nexpect finding deadlock\n"
                "expect finding pending-not-marked r2\n"},
    {"findings: the bug's own IRP, charged to no device; a bugcheck",
     {.kind = QK_FINDINGS, .dev = {"fs0"}, .ndev = 1, .req = {"r2"}, .nreq = 1, .line = 12},
     EVS(ST(1, TRC_NOTE)),
     FINDINGS({.name = "double-completion", .irp_tag = "r2", .seq = 33}),
     .outcome = SIM_RUN_BUGCHECK,
     .bugcheck = 0x44,
     .rc = 0,
     .text =
         "double-completion for r2 at step #33. The machine stops with bugcheck 0x44. The bug is in line 12, in fs0's "
         "driver.",
     .steps = "#33",
     .expects = "expect finding double-completion r2\nexpect bugcheck 0x44\n"},
    {"findings: the generated bug shows none of its own: ambiguous",
     {.kind = QK_FINDINGS, .dev = {"flt3"}, .ndev = 1, .req = {"r9"}, .nreq = 1, .line = 40},
     EVS(ST(1, TRC_NOTE)),
     FINDINGS({.name = "deadlock"}, {.name = "irp-leaked", .irp_tag = "r1", .device_name = "flt2"}),
     .rc = -1,
     .why = "the generated bug (line 40) shows no finding of flt3"},
    {"findings: some, with no generated bug and no hang asked: ambiguous",
     {.kind = QK_FINDINGS},
     EVS(ST(1, TRC_NOTE)),
     FINDINGS({.name = "deadlock"}),
     .rc = -1,
     .why = "findings without a generated bug"},
    {"findings: some, with no generated bug, a hang being asked",
     {.kind = QK_FINDINGS, .n = 1},
     EVS(ST(1, TRC_NOTE)),
     FINDINGS({.name = "deadlock"}),
     .rc = 0,
     .text = "deadlock at the end of the run.",
     .steps = "",
     .expects = "expect finding deadlock\n"},

    /* ---- STATUS_MORE_PROCESSING_REQUIRED ---- */
    {"mpr: stopped, completed twice, the second IRP's routine and free",
     {.kind = QK_MPR, .req = {"r1", "r2"}, .nreq = 2},
     EVS(ST(9, TRC_COMPLETE, .irp = "r1", .status = STATUS_SUCCESS), ST(10, TRC_WALK_STOPPED, .irp = "r1"),
         ST(20, TRC_COMPLETION_CALL, .irp = "r2", .frame = TRC_FRAME_DPC), ST(21, TRC_IRP_FREE, .irp = "r2"),
         ST(28, TRC_COMPLETE, .irp = "r1", .status = STATUS_END_OF_FILE), ST(30, TRC_WALK_DONE, .irp = "r1")),
     .rc = 0,
     .text =
         "r1's walk stops at step #10 (STATUS_MORE_PROCESSING_REQUIRED). r1 is completed 2 times. Its walk finishes at "
         "step #30 with STATUS_END_OF_FILE. r2's routine runs at step #20, in a DPC: arbitrary thread context. r2 is "
         "freed by its creator's routine (step #21).",
     .steps = "#10 #20 #21 #30",
     .expects = "expect walk-stopped(r1)\nexpect count complete(r1) == 2\nexpect r1.status == STATUS_END_OF_FILE\n"
                "expect completion(r2).frame == dpc\nexpect irp-free(r2)\n"},
    {"mpr: stopped, never completed again",
     {.kind = QK_MPR, .req = {"r1", "r2"}, .nreq = 2},
     EVS(ST(9, TRC_COMPLETE, .irp = "r1"), ST(10, TRC_WALK_STOPPED, .irp = "r1")),
     .rc = 0,
     .text = "r1's walk stops at step #10 (STATUS_MORE_PROCESSING_REQUIRED). r1 is completed 1 time. Its walk never "
             "finishes: nobody completes it again.",
     .steps = "#10",
     .expects = "expect walk-stopped(r1)\nexpect count complete(r1) == 1\nexpect r1 not completed\n"},
    {"mpr: a walk that never stops and finishes with no completion seen",
     {.kind = QK_MPR, .req = {"r1", "r2"}, .nreq = 2},
     EVS(ST(5, TRC_WALK_DONE, .irp = "r1")),
     .rc = 0,
     .text = "r1's walk never stops. r1 is completed 0 times. Its walk finishes at step #5 with ?.",
     .steps = "#5",
     .expects = "expect never walk-stopped(r1)\nexpect count complete(r1) == 0\n"},

    /* ---- completion ports ---- */
    {"port: who takes which packet; timeouts; a packet with no IRP; a worker with nothing",
     {.kind = QK_PORT, .req = {"r1", "r2"}, .nreq = 2, .thr = {"w1", "w2"}, .nthr = 2},
     EVS(ST(10, TRC_PORT_DEQUEUED, .irp = "r1", .thread = "w1"), ST(11, TRC_WAIT_DONE, .thread = "w1"),
         ST(12, TRC_WAIT_DONE, .thread = "w1", .status = STATUS_TIMEOUT), ST(14, TRC_PORT_DEQUEUED, .thread = "w1"),
         ST(15, TRC_NOTE, .thread = "w2")),
     .threads = {{"w1", "terminated"}, {"w2", "waiting"}},
     .rc = 0,
     .text =
         "r1's packet goes to w1 (step #10). r2's packet is taken by nobody. w1's GetQueuedCompletionStatus calls "
         "return: r1's packet, STATUS_TIMEOUT (step #12), a packet; w1 does not hang. w2's GetQueuedCompletionStatus "
         "calls return: nothing; w2 hangs: it waits on the port with no timeout, and no packet is left for it.",
     .steps = "#10 #12 #14",
     .expects = "expect port-dequeued(r1).thread == w1\nexpect never port-dequeued(r2)\n"
                "expect count port-dequeued(w1) == 2\nexpect count wait-done(w1, STATUS_TIMEOUT) == 1\n"
                "expect thread w1 finished\nexpect count port-dequeued(w2) == 0\n"
                "expect count wait-done(w2, STATUS_TIMEOUT) == 0\nexpect thread w2 waiting\n"},
    {"port: the first request's packet taken by nobody; a timeout first, then a packet with no IRP",
     {.kind = QK_PORT, .req = {"r3"}, .nreq = 1, .thr = {"w1"}, .nthr = 1},
     EVS(ST(12, TRC_WAIT_DONE, .thread = "w1", .status = STATUS_TIMEOUT), ST(14, TRC_PORT_DEQUEUED, .thread = "w1")),
     .threads = {{"w1", "terminated"}},
     .rc = 0,
     .text =
         "r3's packet is taken by nobody. w1's GetQueuedCompletionStatus calls return: STATUS_TIMEOUT (step #12), a "
         "packet; w1 does not hang.",
     .steps = "#12 #14",
     .expects = "expect never port-dequeued(r3)\nexpect count port-dequeued(w1) == 1\nexpect count wait-done(w1, "
                "STATUS_TIMEOUT) == 1\n"
                "expect thread w1 finished\n"},

    /* ---- ReadFileEx routines ---- */
    {"callbacks: none",
     {.kind = QK_CALLBACKS, .req = {"r1"}, .nreq = 1, .thr = {"app"}, .nthr = 1},
     EVS(ST(3, TRC_USER_CALLBACK, .irp = "r7", .thread = "app")),
     .rc = 0,
     .text = "No completion routine runs.",
     .steps = "",
     .expects = "expect never user-callback\n"},
    {"callbacks: in order, one never runs",
     {.kind = QK_CALLBACKS, .req = {"r1", "r2", "r3"}, .nreq = 3, .thr = {"app"}, .nthr = 1},
     EVS(ST(30, TRC_USER_CALLBACK, .irp = "r2", .thread = "app"),
         ST(31, TRC_USER_CALLBACK, .irp = "r9", .thread = "app"),
         ST(32, TRC_USER_CALLBACK, .irp = "r1", .thread = "app")),
     .rc = 0,
     .text = "They run in app, in this order: r2 (step #30) r1 (step #32). r3's routine never runs.",
     .steps = "#30 #32",
     .expects = "expect order user-callback(r2) < user-callback(r1)\nexpect user-callback(r2).thread == app\n"
                "expect user-callback(r1).thread == app\nexpect never user-callback(r3)\n"},
    {"callbacks: one",
     {.kind = QK_CALLBACKS, .req = {"r1"}, .nreq = 1, .thr = {"app"}, .nthr = 1},
     EVS(ST(30, TRC_USER_CALLBACK, .irp = "r1", .thread = "app")),
     .rc = 0,
     .text = "They run in app, in this order: r1 (step #30).",
     .steps = "#30",
     .expects = "expect user-callback(r1)\nexpect user-callback(r1).thread == app\n"},

    /* ---- cancel ---- */
    {"cancel: finished before the cancel; what the cancel calls return (app's only)",
     {.kind = QK_CANCEL, .req = {"r1"}, .nreq = 1},
     EVS(ST(8, TRC_COMPLETE, .irp = "r1", .status = STATUS_SUCCESS), ST(9, TRC_WALK_DONE, .irp = "r1"),
         ST(10, TRC_SYSCALL_RETURN, .thread = "app", .service = "NtReadFile"),
         ST(11, TRC_SYSCALL_RETURN, .thread = "w1", .service = "NtCancelIoFileEx"),
         ST(12, TRC_SYSCALL, .thread = "app", .service = "NtCancelIoFileEx"),
         ST(13, TRC_SYSCALL_RETURN, .thread = "app", .service = "NtCancelIoFileEx", .status = STATUS_NOT_FOUND),
         ST(14, TRC_SYSCALL_RETURN, .thread = "app", .service = "NtCancelIoFile", .status = STATUS_SUCCESS)),
     .rc = 0,
     .text = "r1 is never cancelled (it is finished when the cancel comes). r1 finishes with STATUS_SUCCESS. "
             "NtCancelIoFileEx 1 returns STATUS_NOT_FOUND. NtCancelIoFile 2 returns STATUS_SUCCESS.",
     .steps = "#8 #13 #14",
     .expects = "expect never cancel(r1)\nexpect r1.status == STATUS_SUCCESS\n"
                "expect syscall-return(app, service == NtCancelIoFileEx, 1).status == STATUS_NOT_FOUND\n"
                "expect syscall-return(app, service == NtCancelIoFile, 2).status == STATUS_SUCCESS\n"},
    {"cancel: a cancel routine runs; the walk ends with no completion seen",
     {.kind = QK_CANCEL, .req = {"r1"}, .nreq = 1},
     EVS(ST(10, TRC_CANCEL, .irp = "r1", .cancel_routine = 1),
         ST(11, TRC_CANCEL_ROUTINE, .irp = "r1", .irql = 2, .thread = "app"), ST(12, TRC_WALK_DONE, .irp = "r1")),
     .rc = 0,
     .text =
         "IoCancelIrp sets r1's Cancel at step #10 and finds a cancel routine. The cancel routine runs at step #11 at "
         "IRQL DISPATCH in app. r1 finishes with ?.",
     .steps = "#10 #11",
     .expects = "expect cancel(r1, routine == set)\nexpect cancel-routine(r1).irql == DISPATCH_LEVEL\n"
                "expect cancel-routine(r1).thread == app\n"},
    {"cancel: no cancel routine, never finished",
     {.kind = QK_CANCEL, .req = {"r1"}, .nreq = 1},
     EVS(ST(10, TRC_CANCEL, .irp = "r1")),
     .rc = 0,
     .text = "IoCancelIrp sets r1's Cancel at step #10 and finds no cancel routine (the driver will finish it as "
             "usual). r1 never finishes.",
     .steps = "#10",
     .expects = "expect cancel(r1, routine == none)\nexpect never cancel-routine(r1)\nexpect r1 not completed\n"},

    /* ---- associated IRPs ---- */
    {"assoc: which disk first, and the master's completion",
     {.kind = QK_ASSOC, .req = {"r1"}, .nreq = 1, .dev = {"d0", "d1"}, .ndev = 2},
     EVS(ST(5, TRC_IRP_ASSOCIATED), ST(6, TRC_IRP_ASSOCIATED), ST(19, TRC_DPC_RUN, .dev = "x9"),
         ST(20, TRC_DPC_RUN, .dev = "d1"), ST(22, TRC_ASSOCIATED_DONE, .count = 1), ST(30, TRC_DPC_RUN, .dev = "d0"),
         ST(31, TRC_DPC_RUN, .dev = "d1"), ST(32, TRC_ASSOCIATED_DONE, .count = 0),
         ST(33, TRC_COMPLETE, .irp = "r1", .frame = TRC_FRAME_DPC)),
     .rc = 0,
     .text =
         "The volume makes 2 associated IRPs. d1's part finishes first (its DPC at step #20), then d0's (step #30). "
         "The last associated IRP (step #32) makes the I/O manager complete the master r1 at step #33, in a DPC: "
         "arbitrary thread context.",
     .steps = "#20 #30 #32 #33",
     .expects = "expect count irp-associated == 2\nexpect order dpc(d1) < dpc(d0)\n"
                "expect order associated-done(count == 0) < complete(r1)\nexpect complete(r1).frame == dpc\n"
                "expect count complete(r1) == 1\n"},
    {"assoc: d0 first",
     {.kind = QK_ASSOC, .req = {"r1"}, .nreq = 1, .dev = {"d0", "d1"}, .ndev = 2},
     EVS(ST(20, TRC_DPC_RUN, .dev = "d0"), ST(30, TRC_DPC_RUN, .dev = "d1"), ST(32, TRC_ASSOCIATED_DONE, .count = 0),
         ST(33, TRC_COMPLETE, .irp = "r1", .frame = TRC_FRAME_THREAD, .thread = "app")),
     .rc = 0,
     .text =
         "The volume makes 0 associated IRPs. d0's part finishes first (its DPC at step #20), then d1's (step #30). "
         "The last associated IRP (step #32) makes the I/O manager complete the master r1 at step #33, in thread "
         "app's context.",
     .steps = "#20 #30 #32 #33",
     .expects = "expect count irp-associated == 0\nexpect order dpc(d0) < dpc(d1)\n"
                "expect order associated-done(count == 0) < complete(r1)\nexpect complete(r1).frame == thread\n"
                "expect count complete(r1) == 1\n"},
    {"assoc: a disk's DPC never runs",
     {.kind = QK_ASSOC, .req = {"r1"}, .nreq = 1, .dev = {"d0", "d1"}, .ndev = 2},
     EVS(ST(20, TRC_DPC_RUN, .dev = "d0")),
     .rc = -1,
     .why = "a disk's DPC never runs"},
    {"assoc: the other disk's DPC never runs",
     {.kind = QK_ASSOC, .req = {"r1"}, .nreq = 1, .dev = {"d0", "d1"}, .ndev = 2},
     EVS(ST(20, TRC_DPC_RUN, .dev = "d1")),
     .rc = -1,
     .why = "a disk's DPC never runs"},
    {"assoc: no last associated IRP",
     {.kind = QK_ASSOC, .req = {"r1"}, .nreq = 1, .dev = {"d0", "d1"}, .ndev = 2},
     EVS(ST(20, TRC_DPC_RUN, .dev = "d1"), ST(30, TRC_DPC_RUN, .dev = "d0"), ST(33, TRC_COMPLETE, .irp = "r1")),
     .rc = -1,
     .why = "the master never completes"},
    {"assoc: the master never completes",
     {.kind = QK_ASSOC, .req = {"r1"}, .nreq = 1, .dev = {"d0", "d1"}, .ndev = 2},
     EVS(ST(20, TRC_DPC_RUN, .dev = "d1"), ST(30, TRC_DPC_RUN, .dev = "d0"), ST(32, TRC_ASSOCIATED_DONE, .count = 0)),
     .rc = -1,
     .why = "the master never completes"},

    /* ---- fast I/O ---- */
    {"fastio: served, declined, not tried",
     {.kind = QK_FASTIO, .n = 3},
     EVS(ST(10, TRC_NOTE, .text = "read 1"), ST(11, TRC_FASTIO_SERVED), ST(12, TRC_FASTIO_SERVED),
         ST(20, TRC_NOTE, .text = "read 2"), ST(21, TRC_FASTIO_DECLINED),
         ST(22, TRC_DISPATCH, .major = IRP_MJ_READ, .dev = "fs0"), ST(23, TRC_FASTIO_DECLINED),
         ST(30, TRC_NOTE, .text = "read 3"), ST(31, TRC_DISPATCH, .major = 0, .dev = "fs0"),
         ST(32, TRC_DISPATCH, .major = IRP_MJ_READ, .dev = "disk0"),
         ST(33, TRC_DISPATCH, .major = IRP_MJ_READ, .dev = "fs0"),
         ST(34, TRC_DISPATCH, .major = IRP_MJ_READ, .dev = "fs0"), ST(35, TRC_NOTE, .text = "x"),
         ST(40, TRC_NOTE, .text = "end")),
     .rc = 0,
     .text =
         "Read 1: served by fast I/O, no IRP (step #11). Read 2: fast I/O declines (step #21), an IRP does it (step "
         "#22). Read 3: no fast I/O attempt, an IRP (step #33). In all: 2 fast I/O attempts, 1 served, 2 read IRPs.",
     .steps = "#11 #21 #33",
     .expects =
         "expect order note(\"read 1\") < fast-io-served < note(\"read 2\")\n"
         "expect order note(\"read 2\") < fast-io-declined < dispatch(fs0, major == IRP_MJ_READ) < note(\"read 3\")\n"
         "expect order note(\"read 3\") < dispatch(fs0, major == IRP_MJ_READ) < note(\"end\")\n"
         "expect count fast-io == 2\nexpect count fast-io-served == 1\n"
         "expect count dispatch(fs0, major == IRP_MJ_READ) == 2\n"},

    {"fastio: no notes at all: ambiguous",
     {.kind = QK_FASTIO, .n = 1},
     EVS(ST(11, TRC_DISPATCH, .major = IRP_MJ_READ, .dev = "fs0")),
     .rc = -1,
     .why = "read 1: no fast I/O and no read IRP"},
    {"fastio: declined, and no IRP follows: ambiguous",
     {.kind = QK_FASTIO, .n = 2},
     EVS(ST(10, TRC_NOTE, .text = "read 1"), ST(11, TRC_FASTIO_SERVED), ST(20, TRC_NOTE, .text = "read 2"),
         ST(21, TRC_FASTIO_DECLINED), ST(40, TRC_NOTE, .text = "end"),
         ST(41, TRC_DISPATCH, .major = IRP_MJ_READ, .dev = "fs0")),
     .rc = -1,
     .why = "read 2: no fast I/O and no read IRP"},

    /* ---- a user-mode file system ---- */
    {"ufs: no response: ambiguous",
     {.kind = QK_UFS, .req = {"r1"}, .nreq = 1},
     EVS(ST(20, TRC_UFS_RESPONSE, .irp = "r2")),
     .rc = -1,
     .why = "no response"},
    {"ufs: the response first",
     {.kind = QK_UFS, .req = {"r1"}, .nreq = 1},
     EVS(ST(20, TRC_UFS_RESPONSE, .irp = "r1", .thread = "ufs1"), ST(25, TRC_UFS_PENDING, .irp = "r1")),
     .rc = 0,
     .text = "ufs1 sends the response (step #20). The dispatcher's pending return comes after it (step #25).",
     .steps = "#20 #25",
     .expects = "expect ufs-response(r1).thread == ufs1\nexpect order ufs-response(r1) < ufs-pending-return(r1)\n"},
    {"ufs: the pending return first",
     {.kind = QK_UFS, .req = {"r1"}, .nreq = 1},
     EVS(ST(25, TRC_UFS_PENDING, .irp = "r1"), ST(30, TRC_UFS_RESPONSE, .irp = "r1", .thread = "ufs2")),
     .rc = 0,
     .text = "ufs2 sends the response (step #30). The dispatcher's pending return comes before it (step #25).",
     .steps = "#25 #30",
     .expects = "expect ufs-response(r1).thread == ufs2\nexpect order ufs-pending-return(r1) < ufs-response(r1)\n"},
    {"ufs: answered by the dispatcher itself",
     {.kind = QK_UFS, .req = {"r1"}, .nreq = 1},
     EVS(ST(20, TRC_UFS_RESPONSE, .irp = "r1", .thread = "ufs1")),
     .rc = 0,
     .text = "ufs1 sends the response (step #20). The dispatcher answers itself: no pending return.",
     .steps = "#20",
     .expects = "expect ufs-response(r1).thread == ufs1\nexpect never ufs-pending-return(r1)\n"},

    /* ---- a race is no one run's answer ---- */
    {"race: not from one run",
     {.kind = QK_RACE, .req = {"r1"}, .nreq = 1},
     EVS(ST(1, TRC_NOTE)),
     .rc = -1,
     .why = "a race is answered over its schedules"},
};

static void fake_run(const acase_t *c, qz_run_t *r) {
  memset(r, 0, sizeof *r);
  r->ev = c->ev;
  r->nev = c->nev;
  r->res.outcome = c->outcome;
  r->res.bugcheck.code = c->bugcheck;
  r->res.findings = c->findings;
  r->res.finding_total = c->nfindings;
  for (int i = 0; i < 4 && c->threads[i][0]; i++, r->nthreads++) {
    snprintf(r->names[i], sizeof r->names[i], "%s", c->threads[i][0]);
    snprintf(r->states[i], sizeof r->states[i], "%s", c->threads[i][1]);
  }
}

static void free_answer(quiz_question_t *a) {
  free(a->answer.text);
  free(a->answer.steps);
  free(a->answer.expects);
  free(a->answer.token);
}

START_TEST(answers_from_runs) {
  for (size_t i = 0; i < sizeof answer_cases / sizeof answer_cases[0]; i++) {
    const acase_t *c = &answer_cases[i];
    qz_run_t r;
    fake_run(c, &r);
    quiz_question_t a = {0};
    char why[256] = "";
    int rc = qz_answer(&c->q, &r, &a, why, sizeof why);
    ck_assert_msg(rc == c->rc, "%s: rc %d (%s)", c->name, rc, why);
    if (rc)
      ck_assert_msg(!strcmp(why, c->why), "%s: why\n got: %s\nwant: %s", c->name, why, c->why);
    else {
      ck_assert_msg(!strcmp(a.answer.text, c->text), "%s: text\n got: %s\nwant: %s", c->name, a.answer.text, c->text);
      ck_assert_msg(!strcmp(a.answer.steps, c->steps), "%s: steps\n got: %s\nwant: %s", c->name, a.answer.steps,
                    c->steps);
      ck_assert_msg(!strcmp(a.answer.expects, c->expects), "%s: expects\n got: %s\nwant: %s", c->name, a.answer.expects,
                    c->expects);
    }
    free_answer(&a);
  }
}
END_TEST

/* Bounds: at most 16 completion routines are looked at and more than 8
   are refused; at most 6 ReadFileEx routines; the proof lists at most 64
   steps, in order, each once. */
START_TEST(answer_bounds) {
  static qz_ev_t ev[80];
  qz_run_t r = {.ev = ev};
  quiz_question_t a = {0};
  char why[256] = "";
  /* 17 routines, each in another driver */
  for (int i = 0; i < 17; i++) {
    ev[i] = (qz_ev_t){
        .seq = (uint64_t)(i + 1), .kind = TRC_COMPLETION_CALL, .irp = "r1", .frame = TRC_FRAME_DPC, .irql = 2};
    snprintf(ev[i].dev, sizeof ev[i].dev, "flt%d", i);
  }
  r.nev = 17;
  qz_q_t q = {.kind = QK_CR_ORDER, .req = {"r1"}, .nreq = 1};
  ck_assert_int_eq(qz_answer(&q, &r, &a, why, sizeof why), -1);
  ck_assert_str_eq(why, "more than 8 completion routines");
  free_answer(&a);
  /* 8 are answered */
  r.nev = 8;
  memset(&a, 0, sizeof a);
  ck_assert_int_eq(qz_answer(&q, &r, &a, why, sizeof why), 0);
  ck_assert_str_eq(a.answer.steps, "#1 #2 #3 #4 #5 #6 #7 #8");
  free_answer(&a);
  /* 7 user callbacks for 6 requests: the first 6 are told */
  qz_q_t cb = {.kind = QK_CALLBACKS, .req = {"r1", "r2", "r3", "r4", "r5", "r6"}, .nreq = 6, .thr = {"app"}, .nthr = 1};
  for (int i = 0; i < 7; i++) {
    ev[i] = (qz_ev_t){.seq = (uint64_t)(10 - i), .kind = TRC_USER_CALLBACK, .thread = "app"};
    snprintf(ev[i].irp, sizeof ev[i].irp, "r%d", 1 + i % 6);
  }
  r.nev = 7;
  memset(&a, 0, sizeof a);
  ck_assert_int_eq(qz_answer(&cb, &r, &a, why, sizeof why), 0);
  ck_assert_str_eq(a.answer.text,
                   "They run in app, in this order: r1 (step #10) r2 (step #9) r3 (step #8) r4 (step #7) r5 "
                   "(step #6) r6 (step #5).");
  ck_assert_str_eq(a.answer.steps, "#5 #6 #7 #8 #9 #10");
  free_answer(&a);
  /* 70 packets for one worker: the steps are sorted, and the first 64 kept */
  qz_q_t port = {.kind = QK_PORT, .thr = {"w1"}, .nthr = 1};
  for (int i = 0; i < 70; i++) ev[i] = (qz_ev_t){.seq = (uint64_t)(100 - i), .kind = TRC_PORT_DEQUEUED, .thread = "w1"};
  r.nev = 70;
  memset(&a, 0, sizeof a);
  ck_assert_int_eq(qz_answer(&port, &r, &a, why, sizeof why), 0);
  char want[512] = "";
  for (int s = 37; s <= 100; s++)
    snprintf(want + strlen(want), sizeof want - strlen(want), "%s#%d", s > 37 ? " " : "", s);
  ck_assert_str_eq(a.answer.steps, want);
  ck_assert_ptr_nonnull(strstr(a.answer.expects, "expect count port-dequeued(w1) == 70\n"));
  free_answer(&a);
  /* names beyond QZ_NAMES are not kept */
  qz_q_t full = {0};
  for (int i = 0; i < QZ_NAMES + 2; i++) {
    qz_add_req(&full, "r");
    qz_add_thr(&full, "t");
    qz_add_dev(&full, "d");
  }
  ck_assert_int_eq(full.nreq, QZ_NAMES);
  ck_assert_int_eq(full.nthr, QZ_NAMES);
  ck_assert_int_eq(full.ndev, QZ_NAMES);
}
END_TEST

/* Every question kind's words. */
START_TEST(question_words) {
  static const struct {
    qz_q_t q;
    const char *want;
  } cases[] = {
      {{.kind = QK_CR_ORDER, .req = {"r1"}},
       "In what order do the completion routines run for r1, at which IRQL and in which context? Does any routine that "
       "was "
       "set not run?"},
      {{.kind = QK_IOSB, .req = {"r2"}},
       "Which thread writes r2's I/O status block, and when? Is a special kernel APC queued?"},
      {{.kind = QK_SYSRET, .req = {"r1"}}, "What does ReadFile return for r1?"},
      {{.kind = QK_WAIT, .thr = {"app"}, .line = 42, .stmt = "wait e1 e2 any"},
       "What does `wait e1 e2 any` (line 42) return, and what ends it?"},
      {{.kind = QK_WAIT, .thr = {"app"}, .n = 2}, "What does app's wait number 2 (a wait or a sleep) return?"},
      {{.kind = QK_HANG, .thr = {"app"}}, "Does thread app hang? If so, why?"},
      {{.kind = QK_FINDINGS, .line = 12}, "Which verifier rule fires, for which request? In which line is the bug?"},
      {{.kind = QK_FINDINGS}, "Which verifier rule fires, for which request? (Maybe none.)"},
      {{.kind = QK_MPR, .req = {"r1", "r2"}},
       "Does r1's completion walk stop, how many times is r1 completed, and how does it end? Where does r2's "
       "completion "
       "routine run?"},
      {{.kind = QK_PORT, .req = {"r1", "r2", "r3"}, .nreq = 3},
       "Which worker gets which packet (r1, r2, r3)? What does each GetQueuedCompletionStatus return; does a worker "
       "hang?"},
      {{.kind = QK_CALLBACKS}, "In which thread and in which order do the ReadFileEx completion routines run?"},
      {{.kind = QK_CANCEL, .req = {"r1"}},
       "What does cancelling r1 do: is a cancel routine called, at which IRQL and in which thread? How does r1 end, "
       "and "
       "what do the cancel calls return?"},
      {{.kind = QK_ASSOC, .req = {"r1"}},
       "How many associated IRPs are made, which disk finishes first, and when and where is the master r1 completed?"},
      {{.kind = QK_FASTIO, .n = 4},
       "For each read (after note \"read 1\" to \"read 4\"): is it served by fast I/O with no IRP, declined, or not "
       "tried? "
       "How many read IRPs reach fs0?"},
      {{.kind = QK_RACE},
       "Cancel races completion on two CPUs. Is there a schedule (at most 2 preemptions) in which they race badly (a "
       "bugcheck or a broken rule)? If so, answer with its replay token (iosim explore)."},
      {{.kind = QK_UFS, .req = {"r1"}},
       "Which user-mode thread sends the response to r1, and does it come before or after the dispatcher's pending "
       "return?"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *t = qz_question_text(&cases[i].q);
    ck_assert_str_eq(t, cases[i].want);
    free(t);
  }
}
END_TEST

/* ---------------------------------------------------------------- */
/* answer.c qz_run: a file run as the generator runs it               */
/* ---------------------------------------------------------------- */

static char *hash_token(const char *path, const char *choices) {
  scn_error_t e;
  scn_t *sc = scn_load(path, NULL, &e);
  ck_assert_ptr_nonnull(sc);
  char *tok = malloc(96);
  snprintf(tok, 96, "1:%016llx:1:%s", (unsigned long long)scn_hash(sc), choices);
  scn_free(sc);
  return tok;
}

START_TEST(run_errors) {
  static const struct {
    const char *path;
    const char *want; /* the error, as the command line prints it */
  } cases[] = {
      {FIX "nosuch.iosim", FIX "nosuch.iosim: cannot open: No such file or directory"},
      {FIX "bad-syntax.iosim", FIX "bad-syntax.iosim:4:14: expected a CPU count (a number) here"},
      {FIX "entry-fails.iosim",
       FIX "entry-fails.iosim:4:8: driver f: its DriverEntry failed with STATUS_DEVICE_NOT_READY, so Windows would not "
           "load it"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qz_run_t r;
    char err[600] = "";
    ck_assert_int_eq(qz_run(cases[i].path, 1, NULL, &r, err, sizeof err), -1);
    ck_assert_str_eq(err, cases[i].want);
  }
  /* a schedule: of another file (its hash), or naming a choice the run
     never reaches */
  xp_schedule_t s = {0};
  char terr[256], err[600] = "";
  char *tok = hash_token(FIX "race-none.iosim", "-");
  ck_assert_int_eq(xp_token_parse(tok, &s, terr, sizeof terr), 0);
  qz_run_t r;
  ck_assert_int_eq(qz_run(FIX "ramdisk.iosim", 0, &s, &r, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "this token belongs to another version of the scenario"), "%s", err);
  xp_schedule_free(&s);
  free(tok);
  tok = hash_token(FIX "race-none.iosim", "40");
  ck_assert_int_eq(xp_token_parse(tok, &s, terr, sizeof terr), 0);
  ck_assert_int_eq(qz_run(FIX "race-none.iosim", 0, &s, &r, err, sizeof err), -1);
  ck_assert_str_eq(err, "the schedule names choice point 40 but the run had only 2");
  xp_schedule_free(&s);
  free(tok);
}
END_TEST

/* What a run keeps: the typed steps with names, and the threads' end
   states (the first 16). */
START_TEST(run_facts) {
  qz_run_t r;
  char err[600] = "";
  ck_assert_int_eq(qz_run(FIX "ramdisk.iosim", 1, NULL, &r, err, sizeof err), 0);
  ck_assert_int_eq(r.res.outcome, SIM_RUN_OK);
  const qz_ev_t *call = NULL;
  for (size_t i = 0; i < r.nev; i++)
    if (r.ev[i].kind == TRC_COMPLETION_CALL) call = &r.ev[i];
  ck_assert_ptr_nonnull(call);
  ck_assert_str_eq(call->irp, "r1");
  ck_assert_str_eq(call->dev, "flt1");
  ck_assert_str_eq(call->thread, "app");
  ck_assert_int_eq(call->irql, 0);
  /* the open's IRP has no name in the scenario: its steps name none */
  const qz_ev_t *create = NULL;
  for (size_t i = 0; i < r.nev && !create; i++)
    if (r.ev[i].kind == TRC_DISPATCH && r.ev[i].major == IRP_MJ_CREATE) create = &r.ev[i];
  ck_assert_ptr_nonnull(create);
  ck_assert_str_eq(create->irp, "");
  ck_assert_str_eq(create->dev, "flt1");
  bool app_done = false;
  for (int i = 0; i < r.nthreads; i++) app_done |= !strcmp(r.names[i], "app") && !strcmp(r.states[i], "terminated");
  ck_assert(app_done);
  qz_run_free(&r);
  ck_assert_ptr_null(r.ev);
  ck_assert_int_eq(qz_run(FIX "many-threads.iosim", 1, NULL, &r, err, sizeof err), 0);
  ck_assert_int_eq(r.nthreads, 16);
  ck_assert_str_eq(r.states[15], "terminated");
  qz_run_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- */
/* race.c: the race answer over a file's schedules                    */
/* ---------------------------------------------------------------- */

static char *slurp_file(const char *path) {
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char *buf = NULL;
  size_t n = 0;
  FILE *m = open_memstream(&buf, &n);
  int c;
  while ((c = fgetc(f)) != EOF) fputc(c, m);
  fclose(f);
  fclose(m);
  return buf;
}

/* The file with the answer's expect lines holds over its schedules (what
   `iosim check` of the answers file decides). */
static void answer_holds(const char *path, const char *expects) {
  char *text = slurp_file(path);
  char apath[128];
  snprintf(apath, sizeof apath, "%s/answers.iosim", tmpdir);
  FILE *f = fopen(apath, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "%s\n%s", text, expects);
  fclose(f);
  free(text);
  scn_error_t e;
  scn_t *sc = scn_load(apath, NULL, &e);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", e.file, e.line, e.col, e.msg);
  xp_opts_t o;
  xp_opts_default(&o);
  o.bound = scn_explore_bound(sc) == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : scn_explore_bound(sc);
  xp_report_t rep;
  ck_assert_int_eq(xp_explore(sc, &o, &rep, &e), SIM_OK);
  ck_assert_msg(xp_verdict(&rep) == 0, "%s: the answer does not hold:\n%s", path, expects);
  int n = 0; /* every answer line is an expectation the explorer checked */
  for (const char *p = expects; (p = strstr(p, "expect ")); p++) n++;
  ck_assert_int_eq(rep.nexpects, n);
  xp_report_free(&rep);
  scn_free(sc);
}

START_TEST(race_answers) {
  mk_tmp();
  char scratch[128];
  snprintf(scratch, sizeof scratch, "%s/strict.iosim", tmpdir);
  qz_q_t q = {.kind = QK_RACE, .req = {"r1"}, .nreq = 1};
  static const struct {
    const char *path, *scratch; /* NULL: the test's own */
    int rc;
    const char *text, *expects; /* or why, when rc is -1 */
  } cases[] = {
      {FIX "nosuch.iosim", NULL, -1, "the race file does not load or asks for no exploration", NULL},
      {FIX "bad-syntax.iosim", NULL, -1, "the race file does not load or asks for no exploration", NULL},
      {FIX "ramdisk.iosim", NULL, -1, "the race file does not load or asks for no exploration", NULL},
      {FIX "race-none.iosim", NULL, 0,
       "No: all 5 schedules within 2 preemptions end correctly (r1 is completed once, no bugcheck, no finding).",
       "expect sometimes r1.status == STATUS_SUCCESS\nexpect no bugcheck\nexpect count complete(r1) == 1\n"},
      {FIX "race-none-unbounded.iosim", NULL, 0,
       "No: all 66 schedules end correctly (r1 is completed once, no bugcheck, no finding).",
       "expect sometimes r1.status == STATUS_SUCCESS\nexpect no bugcheck\nexpect count complete(r1) == 1\n"},
      /* a bad end exists, but the strict copy cannot be written */
      {FIX "race-findings.iosim", "/nonexistent/quiz-cover/strict.iosim", -1, "cannot write or load the strict copy",
       NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    quiz_question_t a = {0};
    char why[512] = "";
    int rc = qz_answer_race(&q, cases[i].path, cases[i].scratch ? cases[i].scratch : scratch, &a, why, sizeof why);
    ck_assert_msg(rc == cases[i].rc, "%s: rc %d (%s)", cases[i].path, rc, why);
    if (rc)
      ck_assert_str_eq(why, cases[i].text);
    else {
      ck_assert_str_eq(a.answer.text, cases[i].text);
      ck_assert_str_eq(a.answer.expects, cases[i].expects);
      ck_assert_str_eq(a.answer.steps, "");
      ck_assert_ptr_null(a.answer.token);
      answer_holds(cases[i].path, a.answer.expects);
    }
    free_answer(&a);
  }
  rm_tmp();
}
END_TEST

/* A bad end with findings and no bugcheck: the key names the findings,
   replays on the question file to them, its step is the first finding's
   (none when every finding is at the run's end), and the `expect
   sometimes` lines hold over the schedules. */
START_TEST(race_key_findings) {
  static const struct {
    const char *path, *findings, *expects;
    int nfind;
  } cases[] = {
      /* on the open's IRP, which has no name */
      {FIX "race-findings.iosim", "pending-not-marked, irp-leaked, deadlock",
       "expect sometimes finding pending-not-marked\nexpect sometimes finding irp-leaked\n"
       "expect sometimes finding deadlock\n",
       3},
      /* found at the end of the run only */
      {FIX "race-end-findings.iosim", "irp-never-completed r1, deadlock",
       "expect sometimes finding irp-never-completed r1\nexpect sometimes finding deadlock\n", 2},
  };
  mk_tmp();
  char scratch[128];
  snprintf(scratch, sizeof scratch, "%s/strict.iosim", tmpdir);
  qz_q_t q = {.kind = QK_RACE, .req = {"r1"}, .nreq = 1};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    quiz_question_t a = {0};
    char why[512] = "";
    ck_assert_msg(qz_answer_race(&q, cases[i].path, scratch, &a, why, sizeof why) == 0, "%s", why);
    ck_assert_ptr_nonnull(a.answer.token);
    char want[1024];
    snprintf(
        want, sizeof want,
        "Yes. The minimised key: %s (0 preemptions): %s. Any token that replays to a bugcheck or a finding is right "
        "too. Replay the key with: iosim run FILE --replay %s",
        a.answer.token, cases[i].findings, a.answer.token);
    ck_assert_str_eq(a.answer.text, want);
    ck_assert_str_eq(a.answer.expects, cases[i].expects);
    answer_holds(cases[i].path, a.answer.expects);
    /* the key replays, on the question file, to those findings */
    scn_error_t e;
    scn_t *sc = scn_load(cases[i].path, NULL, &e);
    ck_assert_ptr_nonnull(sc);
    xp_schedule_t key = {0};
    char terr[256];
    ck_assert_int_eq(xp_token_parse(a.answer.token, &key, terr, sizeof terr), 0);
    scn_result_t rr;
    bool diverged = true;
    ck_assert_int_eq(xp_run_schedule(sc, &key, NULL, &rr, &diverged, &e), SIM_OK);
    ck_assert(!diverged);
    ck_assert_int_eq(rr.outcome, SIM_RUN_STALLED);
    ck_assert_int_eq(rr.finding_total, cases[i].nfind);
    char step[32] = "";
    for (int k = 0; k < rr.finding_total && !step[0]; k++)
      if (rr.findings[k].seq) snprintf(step, sizeof step, "#%llu", (unsigned long long)rr.findings[k].seq);
    ck_assert_str_eq(a.answer.steps, step);
    scn_result_free(&rr);
    xp_schedule_free(&key);
    scn_free(sc);
    free_answer(&a);
  }
  rm_tmp();
}
END_TEST

/* ---------------------------------------------------------------- */
/* quiz.c: a variant rejected, another drawn                          */
/* ---------------------------------------------------------------- */

/* Seed 67 of iocp at level 3: the first variant's q1 (which worker gets
   which packet) differs between the file's seeds, so it is rejected and
   the one drawn from the derived seed is kept, and its answers hold in
   every seed. */
START_TEST(rejected_variant) {
  mk_tmp();
  char err[1400];
  quiz_opts_t o = {.seed = 67, .topic = QUIZ_T_IOCP, .level = 3};
  quiz_t *q = quiz_generate(&o, tmpdir, err, sizeof err);
  ck_assert_msg(q != NULL, "%s", err);
  ck_assert_int_eq(q->rejected, 1);
  ck_assert_str_eq(q->rejections, "variant 1: q1 depends on the seed (seed 2 differs)\n");
  uint64_t base = o.seed ^ ((uint64_t)o.topic << 56) ^ ((uint64_t)o.level << 48);
  ck_assert(qz_derive(base, 0) == base);
  ck_assert(q->variant_seed == qz_derive(base, 1));
  ck_assert(q->variant_seed != base);
  char vs[64];
  snprintf(vs, sizeof vs, "(variant seed %llu)", (unsigned long long)q->variant_seed);
  ck_assert_ptr_nonnull(strstr(q->scenario, vs));
  /* the kept variant: every expectation holds in each of its seeds */
  char path[128];
  snprintf(path, sizeof path, "%s/a.iosim", tmpdir);
  char *text = quiz_file_text(q, true);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  free(text);
  scn_error_t e;
  scn_t *sc = scn_load(path, NULL, &e);
  ck_assert_ptr_nonnull(sc);
  for (uint64_t s = 1; s <= 3; s++) {
    scn_result_t r;
    scn_run_opts_t ro = {.has_seed = true, .seed = s};
    ck_assert_int_eq(scn_run(sc, &ro, &r, &e), SIM_OK);
    ck_assert_int_gt(r.expect_total, 0);
    ck_assert_int_eq(r.expect_failed, 0);
    ck_assert_int_eq(r.finding_unexpected, 0);
    scn_result_free(&r);
  }
  scn_free(sc);
  /* the text says so */
  char *out = print(q, F_TEXT, NULL, false);
  ck_assert_ptr_nonnull(strstr(out, "), level 3\n(1 ambiguous variant rejected)\n"));
  free(out);
  quiz_free(q);
  rm_tmp();
}
END_TEST

/* ---------------------------------------------------------------- */
/* iosim quiz: refusals, exact message, exit 2, nothing on stdout     */
/* ---------------------------------------------------------------- */

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_quiz_cover: ../iosim is not built, skipping\n");
  return false;
}

static int sh(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define USAGE1 "usage: iosim quiz --seed N [--topic T] [--level L] [--answers] [-o DIR]\n"

START_TEST(cli_refusals) {
  if (!have_cli()) return;
  mk_tmp();
  /* DIR/quiz-5.iosim and DIR/quiz-6-answers.iosim cannot be written (folders) */
  char p[160];
  snprintf(p, sizeof p, "%s/w", tmpdir);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/w/quiz-5.iosim", tmpdir);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/w/quiz-6-answers.iosim", tmpdir);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  static const struct {
    const char *args; /* after "iosim quiz"; W is the folder above */
    const char *err;  /* the whole of stderr; a trailing '*' = its start */
  } cases[] = {
      {"--topic cancel", USAGE1 "*"},
      {"--seed 1 extra", USAGE1 "*"},
      {"--seed 1 --bogus", "quiz: unrecognized option '--bogus'\n" USAGE1 "*"},
      {"--seed x", "iosim quiz: --seed wants a number, not 'x'\n"},
      {"--seed -1", "iosim quiz: --seed wants a number, not '-1'\n"},
      {"--seed ''", "iosim quiz: --seed wants a number, not ''\n"},
      {"--seed 12x", "iosim quiz: --seed wants a number, not '12x'\n"},
      {"--seed 99999999999999999999", "iosim quiz: --seed wants a number, not '99999999999999999999'\n"},
      {"--seed 1 --topic nosuch",
       "iosim quiz: unknown topic 'nosuch' (completion-walk, pending, mpr, notification, iocp, cancel, associated, "
       "fast-io, usermode-fs)\n"},
      {"--seed 1 --level 0", "iosim quiz: --level is 1..3\n"},
      {"--seed 1 --level 4", "iosim quiz: --level is 1..3\n"},
      {"--seed 1 --level two", "iosim quiz: --level is 1..3\n"},
      {"--seed 1 --format yaml", "iosim quiz: --format is text, json or prairielearn\n"},
      {"--seed 1 -o /nonexistent/dir", "iosim quiz: /nonexistent/dir: cannot create a scratch file\n"},
      {"--seed 5 --topic pending -o W", "iosim quiz: cannot write W/quiz-5.iosim\n"},
      {"--seed 6 --topic pending --answers -o W", "iosim quiz: cannot write W/quiz-6-answers.iosim\n"},
      {"--seed 1 --env-tmpdir", "iosim quiz: /nonexistent/tmp: cannot create a scratch file\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char args[512] = "", w[128];
    snprintf(w, sizeof w, "%s/w", tmpdir);
    /* W -> the folder; --env-tmpdir -> TMPDIR names a folder that is not there */
    const char *env = "";
    for (const char *s = cases[i].args; *s;) {
      if (!strncmp(s, "--env-tmpdir", 12)) {
        env = "TMPDIR=/nonexistent/tmp ";
        s += 12;
      } else if (*s == 'W' && (s[1] == '\0' || s[1] == ' ')) {
        snprintf(args + strlen(args), sizeof args - strlen(args), "%s", w);
        s++;
      } else {
        size_t l = strlen(args);
        args[l] = *s++;
        args[l + 1] = '\0';
      }
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s../iosim quiz %s > %s/out 2> %s/err", env, args, tmpdir, tmpdir);
    ck_assert_msg(sh(cmd) == 2, "`iosim quiz %s` does not exit 2", cases[i].args);
    char path[128];
    snprintf(path, sizeof path, "%s/out", tmpdir);
    char *out = slurp_file(path);
    ck_assert_msg(out[0] == '\0', "`iosim quiz %s` wrote to stdout: %s", cases[i].args, out);
    free(out);
    snprintf(path, sizeof path, "%s/err", tmpdir);
    char *err = slurp_file(path);
    char want[512];
    snprintf(want, sizeof want, "%s", cases[i].err);
    char *wp = strstr(want, "W/");
    if (wp) { /* the folder's real name */
      char rest[256];
      snprintf(rest, sizeof rest, "%s", wp + 1);
      snprintf(wp, sizeof want - (size_t)(wp - want), "%s%s", w, rest);
    }
    size_t wl = strlen(want);
    if (want[wl - 1] == '*')
      ck_assert_msg(!strncmp(err, want, wl - 1), "`iosim quiz %s`:\n got: %s\nwant: %s", cases[i].args, err, want);
    else
      ck_assert_msg(!strcmp(err, want), "`iosim quiz %s`:\n got: %s\nwant: %s", cases[i].args, err, want);
    free(err);
  }
  /* nothing was written into the folder (not even quiz-6.iosim, the
     question whose answers file could not be written) */
  char cmd[256];
  snprintf(cmd, sizeof cmd, "test \"$(ls -A %s/w | tr '\\n' ' ')\" = 'quiz-5.iosim quiz-6-answers.iosim '", tmpdir);
  ck_assert_int_eq(sh(cmd), 0);
  rm_tmp();
}
END_TEST

/* What `iosim quiz` prints and writes when all is well. */
START_TEST(cli_outputs) {
  if (!have_cli()) return;
  mk_tmp();
  char cmd[1024];
  /* --help: the usage on stdout, exit 0 */
  snprintf(cmd, sizeof cmd, "../iosim quiz --help > %s/h && head -1 %s/h | grep -qxF '%.*s'", tmpdir, tmpdir,
           (int)strlen(USAGE1) - 1, USAGE1);
  ck_assert_int_eq(sh(cmd), 0);
  /* an empty TMPDIR means /tmp */
  ck_assert_int_eq(sh("TMPDIR= ../iosim quiz --seed 3 --topic pending --level 1 > /dev/null"), 0);
  /* json with -o and --answers: the file is named, both files written,
     the scenario is the answers file */
  snprintf(
      cmd, sizeof cmd,
      "../iosim quiz --seed 4 --topic mpr --level 1 --answers --format json -o %s > %s/q.json && "
      "grep -q '\"file\": \"%s/quiz-4.iosim\"' %s/q.json && test -s %s/quiz-4.iosim && test -s %s/quiz-4-answers.iosim"
      " && grep -q '\"expect\": \"expect ' %s/q.json",
      tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
  ck_assert_int_eq(sh(cmd), 0);
  /* the answers file it wrote is what `iosim check` confirms */
  snprintf(cmd, sizeof cmd, "../iosim check %s/quiz-4-answers.iosim > /dev/null", tmpdir);
  ck_assert_int_eq(sh(cmd), 0);
  /* prairielearn ignores -o's path but still writes the files */
  snprintf(
      cmd, sizeof cmd,
      "../iosim quiz --seed 8 --topic fast-io --format prairielearn -o %s > %s/pl.json && test -s %s/quiz-8.iosim && "
      "test ! -e %s/quiz-8-answers.iosim && grep -q '^{\"params\": {\"generator\": \"1.0\", \"seed\": 8, \"topic\": "
      "\"fast-io\", \"level\": 2, ' %s/pl.json",
      tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
  ck_assert_int_eq(sh(cmd), 0);
  rm_tmp();
}
END_TEST

TEST_SUITE(quiz_cover_suite)
static Suite *quiz_cover_suite(void) {
  Suite *s = suite_create("quiz_cover");
  TCase *tc = tcase_create("parts");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, emit_formats);
  tcase_add_test(tc, file_text);
  tcase_add_test(tc, topic_names);
  tcase_add_test(tc, generate_options);
  tcase_add_test(tc, answers_from_runs);
  tcase_add_test(tc, answer_bounds);
  tcase_add_test(tc, question_words);
  tcase_add_test(tc, run_errors);
  tcase_add_test(tc, run_facts);
  tcase_add_test(tc, race_answers);
  tcase_add_test(tc, race_key_findings);
  tcase_add_test(tc, rejected_variant);
  tcase_add_test(tc, cli_refusals);
  tcase_add_test(tc, cli_outputs);
  suite_add_tcase(s, tc);
  return s;
}
