/*
 * build.c - the quiz generator's small tools: the text builder that
 * counts lines, derived seeds for retries, and the question list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quiz_int.h"
#include "iosim/alloc.h"

uint64_t qz_derive(uint64_t seed, int attempt) {
  if (attempt == 0) return seed;
  qz_rng_t r = {seed ^ (0xA5A5A5A5ull * (uint64_t)attempt)};
  return qz_next(&r);
}

void qz_vprintf(qz_buf_t *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0) return;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + (size_t)n + 1) cap *= 2;
    char *s = iosim_realloc(b->s, cap);
    b->s = s;
    b->cap = cap;
  }
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  for (size_t i = b->len; i < b->len + (size_t)n; i++)
    if (b->s[i] == '\n') b->lines++;
  b->len += (size_t)n;
}

void qz_printf(qz_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qz_vprintf(b, fmt, ap);
  va_end(ap);
}

char *qz_take(qz_buf_t *b) {
  char *s = b->s ? b->s : iosim_strdup("");
  *b = (qz_buf_t){0};
  return s;
}

qz_q_t *qz_ask(qz_variant_t *v, qz_qkind_t kind) {
  if (v->nq >= QZ_MAXQ) abort(); /* a topic asks at most QZ_MAXQ questions */
  qz_q_t *q = &v->q[v->nq++];
  memset(q, 0, sizeof *q);
  q->kind = kind;
  return q;
}

void qz_add_req(qz_q_t *q, const char *name) {
  if (q->nreq < QZ_NAMES) snprintf(q->req[q->nreq++], sizeof q->req[0], "%s", name);
}
void qz_add_thr(qz_q_t *q, const char *name) {
  if (q->nthr < QZ_NAMES) snprintf(q->thr[q->nthr++], sizeof q->thr[0], "%s", name);
}
void qz_add_dev(qz_q_t *q, const char *name) {
  if (q->ndev < QZ_NAMES) snprintf(q->dev[q->ndev++], sizeof q->dev[0], "%s", name);
}
