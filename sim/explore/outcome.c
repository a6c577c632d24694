/*
 * outcome.c - what a schedule ended in, as one line of text, and the table
 * of distinct outcomes: how the machine ended (bugcheck code and first
 * parameter), the final status of every named request, which thread got
 * which completion packet, the verifier's findings, the plain expect lines
 * that failed and the threads left waiting.  Two schedules with the same
 * line are one outcome; each outcome keeps a count and its best
 * representative (fewest preemptions, then fewest steps).
 */
#include <stdarg.h>
#include <stdio.h>

#include "iosim/alloc.h"
#include "explore_int.h"

typedef struct sbuf {
  char *s;
  size_t n, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    if (b->s && b->n + (size_t)w < b->cap) {
      b->n += (size_t)w;
      return;
    }
    b->cap = (b->cap + (size_t)w + 64) * 2;
    b->s = xp_xrealloc(b->s, b->cap);
  }
}

typedef struct req {
  const char *tag;
  uint32_t id;
} req_t;

static int cmp_req(const void *a, const void *b) {
  const req_t *x = a, *y = b;
  int c = strcmp(x->tag, y->tag);
  return c ? c : (x->id > y->id) - (x->id < y->id);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void xp_signature(sim_t *S, const scn_result_t *res, const xp_run_t *run, bool verify, xp_sig_t *out) {
  sbuf_t b = {0};
  char nb[16];
  if (res->outcome == SIM_RUN_BUGCHECK)
    sb_printf(&b, "bugcheck 0x%X %s (0x%llX)", (unsigned)res->bugcheck.code, iosim_bugcheck_name(res->bugcheck.code),
              (unsigned long long)res->bugcheck.p[0]);
  else sb_printf(&b, "%s", sim_outcome_name(res->outcome));
  /* Named requests, by name (IRP numbers may differ between schedules). */
  uint32_t nirp = sim_irp_count(S);
  req_t *reqs = xp_xalloc((nirp + 1) * sizeof *reqs);
  size_t nr = 0;
  for (uint32_t id = 1; id <= nirp; id++) {
    const sim_irp_info_t *in = sim_irp_info(S, id);
    if (in && in->tag) reqs[nr++] = (req_t){in->tag, id};
  }
  qsort(reqs, nr, sizeof *reqs, cmp_req);
  for (size_t i = 0; i < nr; i++) {
    const sim_irp_info_t *in = sim_irp_info(S, reqs[i].id);
    if (in->completed)
      sb_printf(&b, "; %s = %s", reqs[i].tag, iosim_status_name(in->final.Status, nb));
    else sb_printf(&b, "; %s not completed", reqs[i].tag);
  }
  free(reqs);
  if (run && run->npackets) sb_printf(&b, "; packets %s", run->packets);
  /* Findings, sorted and without repeats. */
  out->finding = false;
  if (res->finding_total) {
    char **f = xp_xalloc((size_t)res->finding_total * sizeof *f);
    int nf = 0;
    for (int i = 0; i < res->finding_total; i++) {
      const vrf_finding_t *x = &res->findings[i];
      char t[96];
      snprintf(t, sizeof t, "%s%s%s%s", x->name, x->irp_tag[0] || x->irp ? " " : "", x->irp_tag,
               !x->irp_tag[0] && x->irp ? "irp" : "");
      f[nf++] = iosim_strdup(t);
      if (!x->predicted) out->finding = true;
    }
    qsort(f, (size_t)nf, sizeof *f, cmp_str);
    sb_printf(&b, "; finding%s", nf == 1 ? "" : "s");
    for (int i = 0; i < nf; i++) {
      if (i == 0 || strcmp(f[i], f[i - 1])) sb_printf(&b, "%s %s", i ? "," : "", f[i]);
    }
    for (int i = 0; i < nf; i++) free(f[i]);
    free(f);
  }
  /* Threads left waiting (a stall, or a bugcheck's frozen machine). */
  if (res->outcome == SIM_RUN_STALLED) {
    sb_printf(&b, "; waiting:");
    for (uint32_t t = 1; t <= sim_thread_count(S); t++)
      if (!strcmp(sim_thread_state(S, t), "waiting")) sb_printf(&b, " %s", sim_thread_name(S, t));
  }
  out->expect_failed = false;
  for (int i = 0; i < res->expect_total; i++)
    if (!res->expects[i].passed && !res->expects[i].sometimes) {
      sb_printf(&b, "%s%d", out->expect_failed ? "," : "; fails line ", res->expects[i].line);
      out->expect_failed = true;
    }
  if (!verify) out->finding = false;
  out->failing = out->expect_failed || out->finding;
  free(out->text);
  out->text = b.s ? b.s : iosim_strdup("");
  out->hash = xp_hash_str(0, out->text);
}

/* ---- the table of distinct outcomes ---- */
#define XP_MAX_OUTCOMES 4096

typedef struct xp_group {
  xp_outcome_t o;
  uint64_t hash;
} xp_group_t;

struct xp_table {
  xp_group_t *v;
  size_t n, cap;
  uint64_t other;
};

xp_table_t *xp_table_new(void) { return xp_xalloc(sizeof(xp_table_t)); }

/* After xp_table_export, which moved the outcomes (their texts and
   schedules) into the report: only the table's own memory is left. */
void xp_table_free(xp_table_t *t) {
  free(t->v);
  free(t);
}

int xp_table_find(const xp_table_t *t, uint64_t sig_hash) {
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].hash == sig_hash) return (int)i;
  return -1;
}

/* Fewer preemptions, then fewer steps. */
static bool better(unsigned pa, uint64_t sa, unsigned pb, uint64_t sb) { return pa != pb ? pa < pb : sa < sb; }

void xp_table_add(xp_table_t *t, const xp_sig_t *sig, const xp_run_t *run, uint64_t steps, uint64_t hash,
                  uint64_t seed) {
  int i = xp_table_find(t, sig->hash);
  if (i < 0) {
    if (t->n == XP_MAX_OUTCOMES) {
      t->other++;
      return;
    }
    if (t->n == t->cap) {
      t->cap = t->cap ? t->cap * 2 : 16;
      t->v = xp_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    xp_group_t *g = &t->v[t->n++];
    memset(g, 0, sizeof *g);
    g->hash = sig->hash;
    g->o.text = iosim_strdup(sig->text);
    g->o.failing = sig->failing;
    g->o.count = 1;
    xp_run_to_schedule(run, hash, seed, &g->o.rep);
    g->o.rep_steps = steps;
    return;
  }
  xp_group_t *g = &t->v[i];
  g->o.count++;
  if (better(run->cost, steps, (unsigned)g->o.rep.n, g->o.rep_steps)) {
    xp_run_to_schedule(run, hash, seed, &g->o.rep);
    g->o.rep_steps = steps;
  }
}

void xp_table_export(xp_table_t *t, xp_report_t *r) {
  r->outcomes = xp_xalloc((t->n ? t->n : 1) * sizeof *r->outcomes);
  for (size_t i = 0; i < t->n; i++) {
    r->outcomes[i] = t->v[i].o;
    memset(&t->v[i].o, 0, sizeof t->v[i].o);
  }
  r->noutcomes = t->n;
  r->other_outcomes = t->other;
  t->n = 0;
}
