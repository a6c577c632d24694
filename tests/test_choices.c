/*
 * test_choices.c - every nondeterministic choice goes through one chooser
 * (design.md §3): the choices of a run can be recorded and replayed, which
 * is what schedule exploration builds on.  Replaying a run's own choices
 * reproduces it; changing one choice changes the interleaving.
 */
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "testlib.h"

/* Two threads on two CPUs racing for the same synchronization event: who
   gets it first is decided at ties by the chooser. */
typedef struct race {
  KEVENT ev;
  int order[4];
  int n;
} race_t;

static void racer(PVOID arg) {
  race_t *r = arg;
  PKTHREAD me = KeGetCurrentThread();
  for (int i = 0; i < 2; i++) {
    KeWaitForSingleObject(&r->ev, Executive, KernelMode, FALSE, NULL);
    r->order[r->n++] = (int)sim_thread_id(me);
    KeSetEvent(&r->ev, 0, FALSE);
  }
}

static char *run_race(uint64_t seed, const uint32_t *replay, size_t nreplay, uint32_t **choices, size_t *nchoices) {
  tlog_t log = {0};
  sim_config_t cfg = {.cpus = 2, .seed = seed};
  sim_t *S = sim_create(&cfg);
  trc_sink_t sink = tlog_sink(&log);
  sim_set_sink(S, &sink);
  sim_record_choices(S, true);
  if (replay) sim_replay_choices(S, replay, nreplay);
  race_t r = {.n = 0};
  KeInitializeEvent(&r.ev, SynchronizationEvent, TRUE);
  sim_thread_create(S, "a", racer, &r);
  sim_thread_create(S, "b", racer, &r);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  if (choices) {
    const uint32_t *c = sim_choices(S, nchoices);
    *choices = malloc(*nchoices * sizeof **choices + 1);
    memcpy(*choices, c, *nchoices * sizeof **choices);
  }
  char *text = tlog_text(&log);
  sim_destroy(S);
  tlog_free(&log);
  /* drop the first row: it names the seed */
  char *nl = strchr(text, '\n');
  memmove(text, nl ? nl + 1 : text, strlen(nl ? nl + 1 : text) + 1);
  return text;
}

START_TEST(replaying_choices_reproduces_the_run) {
  uint32_t *c;
  size_t n;
  char *first = run_race(3, NULL, 0, &c, &n);
  ck_assert_uint_gt(n, 0); /* two CPUs due at once: the chooser was asked */
  char *again = run_race(99, c, n, NULL, NULL); /* another seed, same choices */
  ck_assert_str_eq(first, again);
  free(again);
  /* flip the first choice: the other CPU goes first, the trace differs */
  c[0] = c[0] ? 0 : 1;
  char *other = run_race(3, c, n, NULL, NULL);
  ck_assert_str_ne(first, other);
  free(other);
  free(first);
  free(c);
}
END_TEST

/* A chooser may end the run at its very first question, before any CPU
   ran (the explorer does when Ctrl-C lands between two schedules): the run
   ends STOPPED with nothing run.  It used to switch to a coroutine that did
   not exist and crash.  A stop asked for before sim_run ends the same way. */
static uint32_t stop_at_once(void *ud, const sim_choice_t *c) {
  (void)c;
  ++*(int *)ud;
  return SIM_CHOICE_STOP;
}

START_TEST(a_chooser_can_stop_at_the_first_question) {
  for (int ask = 0; ask < 2; ask++) {
    sim_config_t cfg = {.cpus = 2, .seed = 1};
    sim_t *S = sim_create(&cfg);
    race_t r = {.n = 0};
    KeInitializeEvent(&r.ev, SynchronizationEvent, TRUE);
    sim_thread_create(S, "a", racer, &r);
    sim_thread_create(S, "b", racer, &r);
    int asked = 0;
    if (ask) sim_set_chooser(S, stop_at_once, &asked);
    else sim_request_stop(S);
    ck_assert_int_eq(sim_run(S), SIM_RUN_STOPPED);
    ck_assert_int_eq(r.n, 0); /* no thread got the event */
    ck_assert_int_eq(asked, ask);
    sim_destroy(S);
  }
}
END_TEST

TEST_SUITE(suite_choices)
static Suite *suite_choices(void) {
  Suite *s = suite_create("choices");
  TCase *tc = tcase_create("record and replay");
  tcase_add_test(tc, replaying_choices_reproduces_the_run);
  tcase_add_test(tc, a_chooser_can_stop_at_the_first_question);
  suite_add_tcase(s, tc);
  return s;
}
