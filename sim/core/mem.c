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
  if (!p) {
    fprintf(stderr, "iosim: out of memory (%zu bytes)\n", n);
    abort();
  }
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

bool vec_reserve(sim_t *S, void **v, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t ncap = *cap ? *cap : 8;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) return false;
    ncap *= 2;
  }
  if (ncap > SIZE_MAX / elem) return false;
  void *nv = mem_alloc(S, ncap * elem);
  if (*cap) memcpy(nv, *v, *cap * elem);
  mem_free(S, *v, *cap * elem);
  *v = nv;
  *cap = ncap;
  return true;
}

void sim_assert_failed(const char *cond, const char *file, int line, const char *func) {
  fprintf(stderr, "iosim: internal invariant violated: %s (%s:%d, %s)\n", cond, file, line, func);
  abort();
}
