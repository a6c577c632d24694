/*
 * frames.c - cutting a run's steps into frames: what each CPU executed
 * (a thread, an ISR, a DPC, an APC, the idle loop) as blocks of time.  The
 * timeline draws them and the Perfetto export makes one slice of each, so
 * both say the same thing; docs/diagrams.md gives the rule.
 */
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "viz_int.h"

/* Steps that begin a frame on top of whatever the CPU was running, and the
   steps that end one (the CPU then resumes the frame underneath). */
static bool begins_frame(const vz_ev_t *e) {
  return !strcmp(e->kind, "isr") || !strcmp(e->kind, "dpc") || !strcmp(e->kind, "apc");
}

static bool ends_frame(const vz_ev_t *e) {
  return !strcmp(e->kind, "isr-end") || !strcmp(e->kind, "dpc-end") || !strcmp(e->kind, "apc-end");
}

#define STACK_MAX 16

/* What one CPU is doing while the steps are replayed. */
typedef struct cpu_state {
  bool known;       /* a frame kind is known (from a step, or resumed) */
  vz_frame_t kind;
  uint32_t thread;
  size_t block;     /* its block, or SIZE_MAX while resumed but not drawn yet */
  int64_t since;    /* when it was resumed */
  struct {
    vz_frame_t kind;
    uint32_t thread;
  } under[STACK_MAX]; /* the frames an ISR / DPC / APC interrupted */
  int depth;
} cpu_state_t;

typedef struct cutter {
  vz_block_t *b;
  size_t n, cap;
} cutter_t;

static size_t open_block(cutter_t *c, int cpu, vz_frame_t kind, uint32_t thread, int irql, int64_t t0,
                         size_t ev) {
  VZ_RESERVE(c->b, c->cap, c->n + 1);
  c->b[c->n] = (vz_block_t){.cpu = cpu, .kind = kind, .thread = thread, .irql = irql, .t0 = t0, .t1 = t0,
                            .first_ev = ev};
  return c->n++;
}

void vz_frames(const vz_model_t *m, vz_block_t **out, size_t *n, size_t **ev_block) {
  *out = NULL;
  *n = 0;
  if (ev_block) *ev_block = NULL;
  int maxcpu = -1;
  for (size_t i = 0; i < m->nev; i++)
    if (m->ev[i].cpu > maxcpu) maxcpu = m->ev[i].cpu;
  cutter_t c = {0};
  cpu_state_t *cs = iosim_calloc((size_t)maxcpu + 2, sizeof *cs);
  size_t *evb = ev_block ? iosim_malloc((m->nev ? m->nev : 1) * sizeof *evb) : NULL;
  for (int cpu = 0; cpu <= maxcpu; cpu++) cs[cpu].block = SIZE_MAX;
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    if (evb) evb[i] = SIZE_MAX;
    if (e->cpu < 0 || e->frame == VZ_F_NONE) continue;
    cpu_state_t *s = &cs[e->cpu];
    bool begins = begins_frame(e);
    bool change = begins || !s->known || s->kind != e->frame || s->thread != e->thread;
    /* A frame resumed earlier becomes a block once time passes in it, or
       when a step happens in it. */
    if (s->known && s->block == SIZE_MAX && (e->t_ns > s->since || !change)) {
      s->block = open_block(&c, e->cpu, s->kind, s->thread, -1, s->since, i);
    }
    if (change) {
      if (begins && s->known && s->depth < STACK_MAX) {
        s->under[s->depth].kind = s->kind;
        s->under[s->depth].thread = s->thread;
        s->depth++;
      }
      if (s->block != SIZE_MAX) c.b[s->block].t1 = e->t_ns;
      s->block = open_block(&c, e->cpu, e->frame, e->thread, e->irql, e->t_ns, i);
      s->known = true;
      s->kind = e->frame;
      s->thread = e->thread;
    }
    vz_block_t *k = &c.b[s->block];
    if (e->irql > k->irql) k->irql = e->irql;
    if (k->nev == 0) k->first_ev = i;
    k->nev++;
    if (evb) evb[i] = s->block;
    if (ends_frame(e)) {
      k->t1 = e->t_ns;
      s->block = SIZE_MAX;
      s->known = s->depth > 0;
      if (s->known) {
        s->depth--;
        s->kind = s->under[s->depth].kind;
        s->thread = s->under[s->depth].thread;
        s->since = e->t_ns;
      }
    }
  }
  /* What is still running runs to the end of the run. */
  for (int cpu = 0; cpu <= maxcpu; cpu++) {
    cpu_state_t *s = &cs[cpu];
    if (s->known && s->block == SIZE_MAX && m->end_ns > s->since) {
      s->block = open_block(&c, cpu, s->kind, s->thread, -1, s->since, m->nev ? m->nev - 1 : 0);
    }
    if (s->block != SIZE_MAX) c.b[s->block].t1 = m->end_ns > c.b[s->block].t0 ? m->end_ns : c.b[s->block].t0;
  }
  free(cs);
  *out = c.b;
  *n = c.n;
  if (ev_block) *ev_block = evb;
}
