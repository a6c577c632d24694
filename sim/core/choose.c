/*
 * choose.c - the one place where nondeterminism enters: which CPU steps
 * first on a tie, which CPU takes an interrupt, which idle CPU picks up a
 * ready thread.  A seeded xoshiro256** by default; a recorded list of
 * choices can be replayed instead; or a chooser installed from outside
 * (sim_set_chooser) answers every scheduling point, which is what schedule
 * exploration (sim/explore) builds on.
 */
#include "core/core.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t chs_next(chooser_t *c) {
  uint64_t *s = c->s;
  uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return r;
}

/* splitmix64 spreads one seed over the four state words. */
void chs_seed(chooser_t *c, uint64_t seed) {
  for (int i = 0; i < 4; i++) {
    uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    c->s[i] = z ^ (z >> 31);
  }
}

uint32_t chs_choose(sim_t *S, uint32_t n) {
  chooser_t *c = &S->chs;
  uint32_t v;
  if (c->replay) {
    v = c->replay_i < c->replay_n ? c->replay[c->replay_i++] : 0;
    if (v >= n) v = n - 1;
  } else {
    v = (uint32_t)(chs_next(c) % n);
  }
  if (!c->logging) return v;
  VEC_RESERVE(S, c->log, c->log_cap, c->log_n + 1);
  c->log[c->log_n++] = v;
  return v;
}

void sim_record_choices(sim_t *S, bool on) { S->chs.logging = on; }

void sim_replay_choices(sim_t *S, const uint32_t *choices, size_t n) {
  S->chs.replay = choices;
  S->chs.replay_n = n;
  S->chs.replay_i = 0;
}

const uint32_t *sim_choices(const sim_t *S, size_t *n) {
  *n = S->chs.log_n;
  return S->chs.log;
}

void sim_set_chooser(sim_t *S, sim_chooser_fn *fn, void *ud) {
  S->chs.fn = fn;
  S->chs.ud = ud;
}

static int chs_last_cpu(const sim_t *S) { return S->cur_cpu ? S->cur_cpu->id : -1; }

uint32_t chs_place(sim_t *S, sim_choice_kind_t kind, const int *cpus, uint32_t n) {
  chooser_t *c = &S->chs;
  if (!c->fn) return chs_choose(S, n);
  sim_choice_t q = {.kind = kind, .n = n, .cpus = cpus, .now = S->now, .last_cpu = chs_last_cpu(S)};
  uint32_t v = c->fn(c->ud, &q);
  if (v == SIM_CHOICE_STOP) {
    S->stop_requested = true; /* placement cannot stop here: the scheduler will */
    return 0;
  }
  SIM_ASSERT(v < n); /* the chooser's contract (sim.h) */
  return v;
}

uint32_t chs_next_candidate(sim_t *S, uint32_t n) {
  chooser_t *c = &S->chs;
  sim_choice_t q = {.kind = SIM_CHOICE_NEXT, .n = n, .cand = c->cand, .now = S->now, .last_cpu = chs_last_cpu(S)};
  uint32_t v = c->fn(c->ud, &q);
  SIM_ASSERT(v == SIM_CHOICE_STOP || v < n); /* the chooser's contract (sim.h) */
  return v;
}
