/*
 * names.c - the scenario's names by kind (devices, drivers, threads...), in
 * a hash table, so that loading and checking a scenario stays linear in its
 * size: every declaration and every use is one lookup, not a walk of a list.
 */
#include "scn_int.h"

static uint64_t name_hash(int kind, const char *s) {
  uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)kind;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

void *names_get(const names_tab_t *t, int kind, const char *name) {
  if (!t->cap || !name) return NULL;
  for (size_t i = name_hash(kind, name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    const name_slot_t *s = &t->v[i];
    if (!s->name) return NULL;
    if (s->kind == kind && !strcmp(s->name, name)) return s->value;
  }
}

/* The table lives in the arena: when it doubles, the old array is left
   there (at most as much again, freed with the scenario). */
void names_put(arena_t *a, names_tab_t *t, int kind, const char *name, void *value) {
  if (2 * (t->n + 1) > t->cap) {
    names_tab_t g = {.cap = t->cap ? 2 * t->cap : 64};
    g.v = ar_alloc(a, g.cap * sizeof *g.v);
    for (size_t i = 0; i < t->cap; i++)
      if (t->v[i].name) names_put(a, &g, t->v[i].kind, t->v[i].name, t->v[i].value);
    *t = g;
  }
  size_t i = name_hash(kind, name) & (t->cap - 1);
  for (; t->v[i].name; i = (i + 1) & (t->cap - 1))
    if (t->v[i].kind == kind && !strcmp(t->v[i].name, name)) {
      t->v[i].value = value;
      return;
    }
  t->v[i] = (name_slot_t){.kind = kind, .name = name, .value = value};
  t->n++;
}

const char *names_routine_key(char *buf, size_t n, const char *driver, const char *routine) {
  snprintf(buf, n, "%s %s", driver, routine); /* a space: in no name */
  return buf;
}
