/*
 * minimise.c - the smallest schedule that still fails the same way: fewest
 * preemptions first (each of the schedule's choices is put back to the
 * default in turn, and kept there when the run still ends in the same
 * outcome), then fewest steps (a preemption's option is lowered when that
 * keeps the outcome with fewer steps).  Greedy, one run per attempt.
 */
#include "explore_int.h"

/* Runs `s`; true when it fits the run and ends in outcome `sig_hash`. */
static bool same_failure(const scn_t *sc, xp_run_t *run, const xp_schedule_t *s, uint64_t sig_hash, bool verify,
                         sim_stack_cache_t *stacks, uint64_t *steps) {
  xp_sig_t sig = {0};
  scn_result_t res;
  run->sparse = s;
  run->prefix = NULL;
  run->nprefix = 0;
  run->policy = XP_POL_DEFAULT;
  run->cache = NULL;
  int rc = xp_run_once(sc, run, stacks, verify, &res, &sig, steps, NULL);
  run->sparse = NULL;
  if (rc != SIM_OK) return false;
  scn_result_free(&res);
  bool same = !run->diverged && run->finished && sig.text && sig.hash == sig_hash;
  free(sig.text);
  return same;
}

/* s without its pair j. */
static void without(const xp_schedule_t *s, size_t j, xp_schedule_t *out) {
  xp_schedule_t c = {.hash = s->hash, .seed = s->seed};
  for (size_t i = 0; i < s->n; i++)
    if (i != j) xp_schedule_push(&c, s->at[i], s->opt[i]);
  xp_schedule_free(out);
  *out = c;
}

void xp_minimise(const scn_t *sc, uint64_t sig_hash, bool verify, xp_schedule_t *s, uint64_t *steps,
                 sim_stack_cache_t *stacks) {
  xp_run_t run;
  xp_run_init(&run);
  run.garble = true;
  xp_schedule_t cand = {0};
  uint64_t cs = 0;
  /* Fewer preemptions: drop one at a time, from the last (the later a
     preemption, the less it usually matters). */
  for (bool again = true; again;) {
    again = false;
    for (size_t j = s->n; j-- > 0;) {
      without(s, j, &cand);
      if (same_failure(sc, &run, &cand, sig_hash, verify, stacks, &cs)) {
        xp_schedule_copy(s, &cand);
        *steps = cs;
        again = true;
        break;
      }
    }
  }
  /* Then fewer steps: a lower option at each preemption. */
  for (size_t j = 0; j < s->n; j++) {
    for (uint32_t opt = 1; opt < s->opt[j]; opt++) {
      xp_schedule_copy(&cand, s);
      cand.opt[j] = opt;
      if (same_failure(sc, &run, &cand, sig_hash, verify, stacks, &cs) && cs < *steps) {
        xp_schedule_copy(s, &cand);
        *steps = cs;
        break;
      }
    }
  }
  xp_schedule_free(&cand);
  xp_run_free(&run);
}
