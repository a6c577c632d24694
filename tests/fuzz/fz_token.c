/*
 * fz_token.c - fuzz target 3: replay tokens (sim/explore/token.c).
 *
 * Two targets share this file.  `token`: the input is what `iosim run` is
 * given, the text of --replay TOKEN or, when it ends in a new line, a file
 * for --replay-file (read by xp_token_read_file, which skips blank lines);
 * when it parses, printing it back must give a token that parses to the
 * same schedule (the printed form is canonical).  `replay`: the same, then
 * the schedule is replayed over lesson 16, the cancel race, with its hash
 * replaced by the lesson's so the replay runs: its choice points and
 * options may be anything, and the run must take them or say why the token
 * does not fit, never crash.  (Two targets because a run costs a thousand
 * parses: the parser gets its millions of inputs on its own.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "iosim/explore.h"
#include "iosim/scenario.h"

static int same(const xp_schedule_t *a, const xp_schedule_t *b) {
  if (a->hash != b->hash || a->seed != b->seed || a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->at[i] != b->at[i] || a->opt[i] != b->opt[i]) return 0;
  return 1;
}

static const scn_t *lesson(void) {
  static scn_t *sc;
  if (sc) return sc;
  char path[512];
  snprintf(path, sizeof path, "%s/scenarios/lessons/16-cancel-race.iosim", fz_srcdir());
  scn_error_t err;
  sc = scn_load(path, NULL, &err);
  if (!sc) {
    fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
    abort();
  }
  return sc;
}

static void replay_start(void *ud, sim_t *S) { xp_replay_install(ud, S); }

/* Parses; 1 with the schedule in *s when it parses and round-trips. */
static int parse(const uint8_t *data, size_t n, xp_schedule_t *s) {
  char *text = malloc(n + 1);
  if (!text) abort();
  memcpy(text, data, n);
  text[n] = 0;
  xp_schedule_t back = {0};
  char err[600];
  bool file = n > 0 && data[n - 1] == '\n';
  int rc;
  if (file) {
    char path[400];
    snprintf(path, sizeof path, "%s/token", fz_tmpdir());
    if (!fz_write_file(path, data, n)) abort();
    rc = xp_token_read_file(path, s, err, sizeof err);
  } else {
    rc = xp_token_parse(text, s, err, sizeof err);
  }
  free(text);
  if (rc != 0) {
    if (!err[0]) abort(); /* a refusal says why */
    xp_schedule_free(s);
    return 0;
  }
  char *tok = xp_token(s);
  if (xp_token_parse(tok, &back, err, sizeof err) != 0 || !same(s, &back)) {
    fprintf(stderr, "token does not round-trip: %s (%s)\n", tok, err);
    abort();
  }
  free(tok);
  xp_schedule_free(&back);
  return 1;
}

int fz_token_one(const uint8_t *data, size_t n) {
  xp_schedule_t s = {0};
  if (n <= 4096 && parse(data, n, &s)) xp_schedule_free(&s);
  return 0;
}

int fz_replay_one(const uint8_t *data, size_t n) {
  xp_schedule_t s = {0};
  if (n > 4096 || !parse(data, n, &s)) return 0;
  char err[600];
  const scn_t *sc = lesson();
  s.hash = scn_hash(sc);
  if (xp_token_check(sc, &s, err, sizeof err) != 0) abort();
  /* As `iosim run --replay-file` does, with the stacks kept between runs. */
  static sim_stack_cache_t *stacks;
  if (!stacks) stacks = sim_stack_cache_new();
  xp_replay_t *rp = xp_replay_new(&s);
  scn_run_opts_t o = {.on_start = replay_start, .ud = rp, .stacks = stacks};
  scn_result_t res;
  scn_error_t serr;
  if (scn_run(sc, &o, &res, &serr) == 0) {
    char why[200] = "";
    if (xp_replay_diverged(rp, why, sizeof why) && !why[0]) abort(); /* a misfit says why */
    scn_result_free(&res);
  }
  xp_replay_free(rp);
  xp_schedule_free(&s);
  return 0;
}
