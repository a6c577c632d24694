/*
 * evq.c - the event queue: a binary min-heap of what devices and timers will
 * do, ordered by (time, kind, seq).  seq only grows, so equal times keep
 * their order.  CPU steps are not here (see sched.c).
 */
#include "core/core.h"

static bool evq_less(const evq_item_t *a, const evq_item_t *b) {
  if (a->t != b->t) return a->t < b->t;
  if (a->kind != b->kind) return a->kind < b->kind;
  return a->seq < b->seq;
}

void evq_push(sim_t *S, evq_item_t it) {
  evq_t *q = &S->evq;
  if (!VEC_RESERVE(S, q->a, q->cap, q->n + 1)) mem_exhausted((q->n + 1) * sizeof *q->a);
  it.seq = S->evseq++;
  size_t i = q->n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!evq_less(&it, &q->a[p])) break;
    q->a[i] = q->a[p];
    i = p;
  }
  q->a[i] = it;
}

bool evq_pop(evq_t *q, evq_item_t *out) {
  if (q->n == 0) return false;
  *out = q->a[0];
  evq_item_t last = q->a[--q->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    const evq_item_t *best = &last;
    if (l < q->n && evq_less(&q->a[l], best)) { m = l; best = &q->a[l]; }
    if (l + 1 < q->n && evq_less(&q->a[l + 1], best)) m = l + 1;
    if (m == i) break;
    q->a[i] = q->a[m];
    i = m;
  }
  if (q->n) q->a[i] = last;
  /* The heap property, cheaply: nothing left comes before what was popped,
     and the new root's children do not come before it. */
  SIM_ASSERT(q->n == 0 || !evq_less(&q->a[0], out));
  SIM_ASSERT(q->n < 2 || !evq_less(&q->a[1], &q->a[0]));
  SIM_ASSERT(q->n < 3 || !evq_less(&q->a[2], &q->a[0]));
  return true;
}

const evq_item_t *evq_peek(const evq_t *q) { return q->n ? &q->a[0] : NULL; }

/* Moves the item at i up or down until the heap is ordered again. */
static void evq_fix(evq_t *q, size_t i) {
  evq_item_t it = q->a[i];
  while (i > 0 && evq_less(&it, &q->a[(i - 1) / 2])) {
    q->a[i] = q->a[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    const evq_item_t *best = &it;
    if (l < q->n && evq_less(&q->a[l], best)) { m = l; best = &q->a[l]; }
    if (l + 1 < q->n && evq_less(&q->a[l + 1], best)) m = l + 1;
    if (m == i) break;
    q->a[i] = q->a[m];
    i = m;
  }
  q->a[i] = it;
}

/* A linear search: only cancelled kernel timers come out early, and the
   queue holds a handful of devices' and timers' items. */
bool evq_remove(evq_t *q, uint32_t kind, const void *obj) {
  for (size_t i = 0; i < q->n; i++) {
    if (q->a[i].kind != kind || q->a[i].obj != obj) continue;
    q->a[i] = q->a[--q->n];
    if (i < q->n) evq_fix(q, i);
    return true;
  }
  return false;
}

void evq_free(sim_t *S, evq_t *q) {
  mem_free(S, q->a, q->cap * sizeof *q->a);
  q->a = NULL;
  q->n = q->cap = 0;
}
