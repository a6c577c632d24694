/*
 * ptrmap.c - a map from addresses to numbers, for what the engine must know
 * about memory a driver owns (a spin lock's trace id, a pool block's record,
 * an object's reference count, a remove lock's shadow): open addressing,
 * linear probing, tombstones for removals.  Only looked up, never iterated,
 * so its order cannot leak into a run.
 */
#include "core/core.h"

enum { SLOT_EMPTY, SLOT_FULL, SLOT_GONE };

static size_t ptrmap_hash(uintptr_t k, size_t cap) {
  uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
  return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* The slot holding `k`, or where it would go (the first tombstone passed
   or the empty slot that ended the probe); SIZE_MAX when the table is empty. */
static size_t ptrmap_slot(const ptrmap_t *m, uintptr_t k, bool *found) {
  *found = false;
  if (!m->cap) return SIZE_MAX;
  size_t i = ptrmap_hash(k, m->cap), gone = SIZE_MAX;
  /* ptrmap_put keeps a quarter of the slots empty (its load factor counts
     the tombstones): every probe ends at an empty slot at the latest. */
  for (;; i = (i + 1) & (m->cap - 1)) {
    if (m->state[i] == SLOT_EMPTY) return gone != SIZE_MAX ? gone : i;
    if (m->state[i] == SLOT_GONE) {
      if (gone == SIZE_MAX) gone = i;
    } else if (m->keys[i] == k) {
      *found = true;
      return i;
    }
  }
}

bool ptrmap_get(const ptrmap_t *m, const void *key, uintptr_t *val) {
  bool found;
  size_t i = ptrmap_slot(m, (uintptr_t)key, &found);
  if (found && val) *val = m->vals[i];
  return found;
}

/* Rehashes, dropping tombstones: into twice the room when the live keys
   fill half of it, else into the same room - a map whose keys come and go
   (live IRPs by id) must not grow with every key it ever held. */
static void ptrmap_grow(sim_t *S, ptrmap_t *m) {
  ptrmap_t n = {.cap = !m->cap ? 16 : (m->used + 1) * 2 > m->cap ? m->cap * 2 : m->cap};
  n.keys = mem_calloc(S, n.cap * sizeof *n.keys);
  n.vals = mem_calloc(S, n.cap * sizeof *n.vals);
  n.state = mem_calloc(S, n.cap);
  for (size_t i = 0; i < m->cap; i++)
    if (m->state[i] == SLOT_FULL) {
      bool found;
      size_t j = ptrmap_slot(&n, m->keys[i], &found);
      n.keys[j] = m->keys[i], n.vals[j] = m->vals[i], n.state[j] = SLOT_FULL;
      n.used++;
    }
  ptrmap_free(S, m);
  *m = n;
}

void ptrmap_put(sim_t *S, ptrmap_t *m, const void *key, uintptr_t val) {
  bool found;
  size_t i = ptrmap_slot(m, (uintptr_t)key, &found);
  if (!found && (i == SIZE_MAX || (m->used + m->gone + 1) * 4 > m->cap * 3)) {
    ptrmap_grow(S, m);
    i = ptrmap_slot(m, (uintptr_t)key, &found);
  }
  if (!found) {
    if (m->state[i] == SLOT_GONE) m->gone--;
    m->state[i] = SLOT_FULL;
    m->keys[i] = (uintptr_t)key;
    m->used++;
  }
  m->vals[i] = val;
}

bool ptrmap_del(ptrmap_t *m, const void *key) {
  bool found;
  size_t i = ptrmap_slot(m, (uintptr_t)key, &found);
  if (!found) return false;
  m->state[i] = SLOT_GONE;
  m->used--;
  m->gone++;
  return true;
}

void ptrmap_free(sim_t *S, ptrmap_t *m) {
  mem_free(S, m->keys, m->cap * sizeof *m->keys);
  mem_free(S, m->vals, m->cap * sizeof *m->vals);
  mem_free(S, m->state, m->cap);
  *m = (ptrmap_t){0};
}
