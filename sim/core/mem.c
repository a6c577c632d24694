/*
 * mem.c - the simulator's memory: an allocator that counts every byte (the
 * machine's statistics), the one growable-array helper, and what an
 * invariant failure prints.
 */
#include "core/core.h"

#include <stdio.h>

/* The one place that runs out of memory. */
void *mem_alloc(sim_t *S, size_t n) {
  if (n == 0) return NULL;
  void *p = malloc(n);
  if (!p) mem_exhausted(n);
  S->stats.bytes_live += n;
  if (S->stats.bytes_live > S->stats.bytes_peak) S->stats.bytes_peak = S->stats.bytes_live;
  return p;
}

void *mem_calloc(sim_t *S, size_t n) {
  void *p = mem_alloc(S, n);
  memset(p, 0, n);
  return p;
}

void mem_free(sim_t *S, void *p, size_t n) {
  if (!p) return;
  S->stats.bytes_live -= n;
  free(p);
}

char *mem_strdup(sim_t *S, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = mem_alloc(S, n);
  memcpy(d, s, n);
  return d;
}

void *vec_grow(sim_t *S, void *v, size_t *cap, size_t need, size_t elem) {
  size_t old = *cap;
  v = iosim_vec_grow(v, cap, need, elem);
  S->stats.bytes_live += (*cap - old) * elem;
  if (S->stats.bytes_live > S->stats.bytes_peak) S->stats.bytes_peak = S->stats.bytes_live;
  return v;
}

void mem_exhausted(size_t bytes) {
  fprintf(stderr, "iosim: out of memory (%zu bytes)\n", bytes);
  abort();
}

bool sim_asserts_enabled(void) {
#ifdef NDEBUG
  return false;
#else
  return true;
#endif
}

void sim_assert_failed(const char *cond, const char *file, int line, const char *func) {
  fprintf(stderr, "iosim: internal invariant violated: %s (%s:%d, %s)\n", cond, file, line, func);
  abort();
}
