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
  VEC_RESERVE(S, q->a, q->cap, q->n + 1);
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

/* Fills the hole at i with `last` (the item taken off the end), moving
   it down, as a pop does at the root. */
static void evq_sift_down(evq_t *q, size_t i, evq_item_t last) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    const evq_item_t *best = &last;
    if (l < q->n && evq_less(&q->a[l], best)) { m = l; best = &q->a[l]; }
    if (l + 1 < q->n && evq_less(&q->a[l + 1], best)) m = l + 1;
    if (m == i) break;
    q->a[i] = q->a[m];
    i = m;
  }
  if (i < q->n) q->a[i] = last;
}

bool evq_pop(evq_t *q, evq_item_t *out) {
  if (q->n == 0) return false;
  *out = q->a[0];
  evq_item_t last = q->a[--q->n];
  evq_sift_down(q, 0, last);
  /* The heap property, cheaply: nothing left comes before what was popped,
     and the new root's children do not come before it. */
  SIM_ASSERT(q->n == 0 || !evq_less(&q->a[0], out));
  SIM_ASSERT(q->n < 2 || !evq_less(&q->a[1], &q->a[0]));
  SIM_ASSERT(q->n < 3 || !evq_less(&q->a[2], &q->a[0]));
  return true;
}

const evq_item_t *evq_peek(const evq_t *q) { return q->n ? &q->a[0] : NULL; }

/* A linear search: only cancelled kernel timers come out early, and the
   queue holds a handful of devices' and timers' items. */
bool evq_remove_obj(evq_t *q, uint32_t kind, const void *obj) {
  for (size_t i = 0; i < q->n; i++) {
    if (q->a[i].kind != kind || q->a[i].obj != obj) continue;
    evq_item_t it;
    return evq_remove(q, q->a[i].seq, &it);
  }
  return false;
}

bool evq_remove(evq_t *q, uint64_t seq, evq_item_t *out) {
  size_t i = 0;
  while (i < q->n && q->a[i].seq != seq) i++;
  if (i == q->n) return false;
  *out = q->a[i];
  evq_item_t last = q->a[--q->n];
  if (i == q->n) return true; /* it was the last one */
  /* `last` goes into the hole: up if it comes before the hole's parent,
     else down. */
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!evq_less(&last, &q->a[p])) break;
    q->a[i] = q->a[p];
    i = p;
  }
  evq_sift_down(q, i, last);
  return true;
}
