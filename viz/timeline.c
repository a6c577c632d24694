/*
 * timeline.c - the machine's timeline: one lane per CPU and per thread,
 * the frames each CPU executed (frames.c) as coloured blocks along time,
 * thread waits, arrows from an ISR to the DPC it requested and from a
 * DPC to the APC that finished its IRP, and a mark at each clock tick that
 * requested a DPC drain.  Blocks and arrows are placed by
 * hand (points) and Graphviz's "nop2" engine only draws them, so the
 * layout is linear in the number of blocks.
 *
 * A run's interesting steps are nanoseconds apart while a disk takes
 * hundreds of microseconds, so the time axis is not linear: each interval
 * between two frame boundaries gets a width growing with the logarithm of
 * its length, and the ticks say the real times.  Past
 * VIZ_TIMELINE_MAX_FRAMES frames the picture is summarised instead: time is
 * cut into equal bins and each lane shows the frame kind that ran longest
 * in each bin, which the picture states.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "viz_int.h"

#define FONT "Helvetica,Arial,sans-serif"
#define PLOT_W 820.0 /* points of time axis */
#define LANE_H 30.0
#define LANE_GAP 12.0
#define LABEL_X -12.0 /* right edge of the lane names */
#define SUMMARY_BINS 160

/* Colours per frame kind (idle, thread, APC, DPC, ISR), as in docs/diagrams.md. */
static const char *const fill[VZ_F_COUNT] = {"#E6E6E6", "#4C78A8", "#54A24B", "#F58518", "#E45756"};
static const char *const ink[VZ_F_COUNT] = {"#555555", "white", "white", "black", "white"};
#define C_WAIT "#FFFFFF"
#define C_ISR_DPC "#C8102E"
#define C_DPC_APC "#2E7D32"
#define C_CLOCK "#6A3D9A"

typedef struct lane {
  char name[48];
  int cpu;         /* >= 0: a CPU lane */
  uint32_t thread; /* a thread lane; 0 with cpu < 0: "other threads" */
  double y;        /* centre */
} lane_t;

typedef struct tl {
  const vz_model_t *m;
  Agraph_t *g;
  lane_t *lane;
  int nlane;
  int ncpu_lanes;
  uint32_t *tlane; /* per thread table index: its lane, -1: the "other" lane */
  double *bx;      /* boundary x, for the detailed axis */
  int64_t *bt;     /* boundary times */
  size_t nbound;
  int nodes;
  char tb[32];
} tl_t;

static double lane_y(int i) { return -(i * (LANE_H + LANE_GAP)); }

/* The lane of thread `id`: its own, or the shared one past the limit. */
static int thread_lane(const tl_t *t, uint32_t id) {
  for (size_t i = 0; i < t->m->nthr; i++)
    if (t->m->thr[i].id == id) return (int)t->tlane[i];
  return -1;
}

static void setup_lanes(tl_t *t, const vz_block_t *blk, size_t nb) {
  int cpus = t->m->cpus;
  for (size_t i = 0; i < nb; i++)
    if (blk[i].cpu + 1 > cpus) cpus = blk[i].cpu + 1;
  size_t shown = t->m->nthr < VIZ_TIMELINE_MAX_THREADS ? t->m->nthr : VIZ_TIMELINE_MAX_THREADS;
  bool other = t->m->nthr > shown;
  t->lane = iosim_calloc((size_t)cpus + shown + 1, sizeof *t->lane);
  t->tlane = iosim_calloc(t->m->nthr ? t->m->nthr : 1, sizeof *t->tlane);
  for (int c = 0; c < cpus; c++) {
    lane_t *l = &t->lane[t->nlane];
    snprintf(l->name, sizeof l->name, "CPU %d", c);
    l->cpu = c;
    l->y = lane_y(t->nlane++);
  }
  t->ncpu_lanes = cpus;
  for (size_t i = 0; i < t->m->nthr; i++) {
    if (i < shown) {
      lane_t *l = &t->lane[t->nlane];
      snprintf(l->name, sizeof l->name, "thread %.38s", t->m->thr[i].name);
      l->cpu = -1;
      l->thread = t->m->thr[i].id;
      l->y = lane_y(t->nlane) - LANE_GAP; /* a gap between CPUs and threads */
      t->tlane[i] = (uint32_t)t->nlane++;
    } else {
      t->tlane[i] = (uint32_t)t->nlane; /* the "other" lane, made below */
    }
  }
  if (other) {
    lane_t *l = &t->lane[t->nlane];
    snprintf(l->name, sizeof l->name, "%zu other threads", t->m->nthr - shown);
    l->cpu = -1;
    l->y = lane_y(t->nlane++) - LANE_GAP;
  }
}

/* ---- drawing primitives (positions in points) ---- */

static Agnode_t *block_node(tl_t *t, double x0, double x1, double y, const char *fillc, const char *label,
                     const char *fontc, const char *tooltip) {
  char name[24], pos[64], w[32], h[32];
  snprintf(name, sizeof name, "b%d", t->nodes++);
  Agnode_t *n = vz_node(t->g, name);
  double wid = x1 - x0 < 2 ? 2 : x1 - x0;
  snprintf(pos, sizeof pos, "%.2f,%.2f!", x0 + wid / 2, y);
  snprintf(w, sizeof w, "%.4f", wid / 72.0);
  snprintf(h, sizeof h, "%.4f", LANE_H / 72.0);
  vz_set(n, "pos", pos);
  vz_set(n, "width", w);
  vz_set(n, "height", h);
  vz_set(n, "fillcolor", fillc);
  vz_set(n, "fontcolor", fontc);
  /* A label only where it fits (about 7.2 points per character at 12 pt);
     "APC CPU 0" falls back to its first word, "APC". */
  char first[32];
  snprintf(first, sizeof first, "%.*s", (int)strcspn(label, " "), label);
  vz_set(n, "label", strlen(label) * 7.2 + 6 <= wid ? label : strlen(first) * 7.2 + 6 <= wid ? first : "");
  vz_set(n, "tooltip", tooltip);
  return n;
}

static void text_at(tl_t *t, double x, double y, const char *s, const char *just, int size) {
  char name[24], pos[64], fs[16];
  snprintf(name, sizeof name, "t%d", t->nodes++);
  Agnode_t *n = vz_node(t->g, name);
  /* Plaintext nodes are centred: shift by an estimate of half the width. */
  double half = strlen(s) * size * 0.28;
  double cx = !strcmp(just, "r") ? x - half : !strcmp(just, "l") ? x + half : x;
  snprintf(pos, sizeof pos, "%.2f,%.2f!", cx, y);
  snprintf(fs, sizeof fs, "%d", size);
  vz_set(n, "shape", "plaintext");
  vz_set(n, "style", "");
  vz_set(n, "fixedsize", "false");
  vz_set(n, "pos", pos);
  vz_set(n, "fontsize", fs);
  vz_set(n, "width", "0.01");
  vz_set(n, "height", "0.01");
  vz_set(n, "margin", "0");
  vz_set(n, "label", s);
}

/* Frame label and tooltip: "DPC", "thread app", "APC app". */
static void describe(tl_t *t, const vz_block_t *k, bool on_thread_lane, char *label, size_t ln, char *tip,
                     size_t tn) {
  char nb[32], ib[16], t0[32], t1[32];
  const char *who = k->thread ? vz_thread_name(t->m, k->thread, nb, sizeof nb) : NULL;
  if (on_thread_lane)
    snprintf(label, ln, "%s%sCPU %d", k->kind == VZ_F_THREAD ? "" : vz_frame_name(k->kind),
             k->kind == VZ_F_THREAD ? "" : " ", k->cpu);
  else if (k->kind == VZ_F_THREAD || k->kind == VZ_F_APC)
    snprintf(label, ln, "%s %s", k->kind == VZ_F_THREAD ? "thread" : "APC", who ? who : "?");
  else snprintf(label, ln, "%s", vz_frame_name(k->kind));
  snprintf(tip, tn, "%s on CPU %d%s%s, %s to %s, IRQL up to %s, %zu steps from #%lld", vz_frame_name(k->kind),
           k->cpu, who ? (k->kind == VZ_F_ISR || k->kind == VZ_F_DPC ? " over " : " in ") : "", who ? who : "",
           vz_time(k->t0, t0), vz_time(k->t1, t1), vz_irql_name(k->irql, ib), k->nev,
           k->nev ? (long long)t->m->ev[k->first_ev].seq : 0LL);
}

static void lane_names(tl_t *t, const vz_block_t *blk, size_t nb) {
  for (int i = 0; i < t->nlane; i++) {
    text_at(t, LABEL_X, t->lane[i].y, t->lane[i].name, "r", 13);
    bool used = false;
    for (size_t k = 0; k < nb && !used; k++) used = t->lane[i].cpu >= 0 ? blk[k].cpu == t->lane[i].cpu : true;
    if (!used) text_at(t, 8, t->lane[i].y, "(no step ran on this CPU)", "l", 12);
  }
}

/* A clock tick that requested a DPC drain (a clock-tick step; ticks that
   found no DPC waiting are not in the trace): a thin mark across its CPU's
   lane at x, where the drain it requested begins. */
static void clock_mark(tl_t *t, const vz_ev_t *e, double x) {
  if (e->cpu < 0 || e->cpu >= t->ncpu_lanes) return;
  char name[24], pos[64], h[32], tip[160], tb[32];
  snprintf(name, sizeof name, "k%d", t->nodes++);
  Agnode_t *n = vz_node(t->g, name);
  snprintf(pos, sizeof pos, "%.2f,%.2f!", x, t->lane[e->cpu].y);
  snprintf(h, sizeof h, "%.4f", (LANE_H + 14) / 72.0);
  vz_set(n, "pos", pos);
  vz_set(n, "width", "0.045");
  vz_set(n, "height", h);
  vz_set(n, "fillcolor", C_CLOCK);
  vz_set(n, "color", C_CLOCK);
  vz_set(n, "label", "");
  snprintf(tip, sizeof tip, "clock tick on CPU %d at %s: %d DPC%s waiting, none requested: DISPATCH interrupt requested",
           e->cpu, vz_time(e->t_ns, tb), e->count, e->count == 1 ? "" : "s");
  vz_set(n, "tooltip", tip);
}

/* ---- the detailed timeline ---- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* x of time `ns` on the log-compressed axis: ns is a boundary, or between
   two (interpolated); 0 and the run's end are boundaries, and every time
   drawn lies between them (vizdb.c makes the end the last step's time if
   the run row says less). */
static double x_of(const tl_t *t, int64_t ns) {
  size_t lo = 0, hi = t->nbound;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (t->bt[mid] < ns) lo = mid + 1;
    else hi = mid;
  }
  if (t->bt[lo] == ns) return t->bx[lo];
  double f = (double)(ns - t->bt[lo - 1]) / (double)(t->bt[lo] - t->bt[lo - 1]);
  return t->bx[lo - 1] + f * (t->bx[lo] - t->bx[lo - 1]);
}

/* Waits of each thread: wait .. wait-done (a sleep: sleep .. sleep-done),
   or to the end (a hang). */
typedef struct wait_iv {
  uint32_t thread;
  int64_t t0, t1;
  bool ended;
} wait_iv_t;

static size_t collect_waits(const vz_model_t *m, wait_iv_t **out) {
  size_t n = 0, cap = 0;
  wait_iv_t *w = NULL;
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    bool start = !strcmp(e->kind, "wait") || !strcmp(e->kind, "sleep");
    bool end = !strcmp(e->kind, "wait-done") || !strcmp(e->kind, "sleep-done");
    if (!e->thread || (!start && !end)) continue;
    if (start) {
      VZ_RESERVE(w, cap, n + 1);
      w[n++] = (wait_iv_t){.thread = e->thread, .t0 = e->t_ns, .t1 = m->end_ns};
    } else {
      for (size_t k = n; k-- > 0;)
        if (w[k].thread == e->thread && !w[k].ended) {
          w[k].t1 = e->t_ns;
          w[k].ended = true;
          break;
        }
    }
  }
  *out = w;
  return n;
}

static void build_axis(tl_t *t, const vz_block_t *blk, size_t nb, const wait_iv_t *w, size_t nw) {
  size_t cap = 2 * nb + 2 * nw + 2;
  t->bt = iosim_malloc(cap * sizeof *t->bt);
  t->bx = iosim_malloc(cap * sizeof *t->bx);
  size_t n = 0;
  t->bt[n++] = 0;
  t->bt[n++] = t->m->end_ns;
  for (size_t i = 0; i < nb; i++) t->bt[n++] = blk[i].t0, t->bt[n++] = blk[i].t1;
  for (size_t i = 0; i < nw; i++) t->bt[n++] = w[i].t0, t->bt[n++] = w[i].t1;
  qsort(t->bt, n, sizeof *t->bt, cmp_i64);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || t->bt[i] != t->bt[u - 1]) t->bt[u++] = t->bt[i];
  t->nbound = u;
  /* Width of each interval: 1 + log2(1 + dt / 50 ns), then scaled to the plot. */
  double total = 0;
  t->bx[0] = 0;
  for (size_t i = 1; i < u; i++) {
    total += 1.0 + log2(1.0 + (double)(t->bt[i] - t->bt[i - 1]) / 50.0);
    t->bx[i] = total;
  }
  double k = total > 0 ? PLOT_W / total : 1;
  for (size_t i = 0; i < u; i++) t->bx[i] *= k;
}

static void tick(tl_t *t, size_t i, double y) {
  char b[32];
  vz_time(t->bt[i], b);
  text_at(t, t->bx[i], y, "|", "c", 12);
  text_at(t, t->bx[i], y + 14, b, "c", 12);
}

/* Ticks at frame boundaries, as many as fit; the start and the end always. */
static void axis_ticks(tl_t *t, double y) {
  double end = t->bx[t->nbound - 1], last = -1e9;
  for (size_t i = 0; i + 1 < t->nbound; i++) {
    if (t->bx[i] - last < 80 || end - t->bx[i] < 80) continue;
    tick(t, i, y);
    last = t->bx[i];
  }
  tick(t, t->nbound - 1, y);
}

/* An arrow arcing over the lanes from the top of frame a to the top of
   frame b, laid out here (Graphviz's own edge routers are not needed for a
   few arcs and leak memory in the "curved" mode of this version). */
static void arrow(tl_t *t, Agnode_t *a, Agnode_t *b, const double *ax, const double *bx, double ay, double by,
                  const char *color, const char *tip) {
  double x0 = (ax[0] + ax[1]) / 2, x1 = (bx[0] + bx[1]) / 2;
  double y0 = ay + LANE_H / 2, y1 = by + LANE_H / 2;
  double lift = 18 + (y0 > y1 ? y0 - y1 : y1 - y0) / 3;
  char pos[256];
  /* "e,tip" then one cubic Bezier ending where the arrowhead starts. */
  snprintf(pos, sizeof pos, "e,%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f", x1, y1, x0, y0,
           x0 + (x1 - x0) * 0.25, (y0 > y1 ? y0 : y1) + lift, x1 - (x1 - x0) * 0.1, (y0 > y1 ? y0 : y1) + lift,
           x1, y1 + 8);
  Agedge_t *e = vz_edge(t->g, a, b);
  vz_set(e, "pos", pos);
  vz_set(e, "color", color);
  vz_set(e, "penwidth", "2");
  vz_set(e, "tooltip", tip);
}

static void detailed(tl_t *t, const vz_block_t *blk, size_t nb, const size_t *evb) {
  const vz_model_t *m = t->m;
  wait_iv_t *w = NULL;
  size_t nw = collect_waits(m, &w);
  build_axis(t, blk, nb, w, nw);
  Agnode_t **bn = iosim_calloc(nb ? nb : 1, sizeof *bn);
  double *bx = iosim_calloc(nb ? 2 * nb : 2, sizeof *bx); /* each frame's x0, x1 on its CPU lane */
  axis_ticks(t, LANE_H / 2 + 8);
  lane_names(t, blk, nb);
  char label[64], tip[256];
  /* Waits first, so that what the thread ran while waiting (an APC) is drawn over them. */
  for (size_t i = 0; i < nw; i++) {
    int tl = thread_lane(t, w[i].thread);
    if (tl < 0) continue;
    char t0[32], t1[32];
    snprintf(tip, sizeof tip, "waiting from %s to %s%s", vz_time(w[i].t0, t0), vz_time(w[i].t1, t1),
             w[i].ended ? "" : " (never woken)");
    Agnode_t *n = block_node(t, x_of(t, w[i].t0), x_of(t, w[i].t1), t->lane[tl].y, C_WAIT,
                      w[i].ended ? "waiting" : "waiting: never woken", "#333333", tip);
    vz_set(n, "style", "filled,dashed");
  }
  for (size_t i = 0; i < nb; i++) {
    const vz_block_t *k = &blk[i];
    describe(t, k, false, label, sizeof label, tip, sizeof tip);
    bx[2 * i] = x_of(t, k->t0);
    bx[2 * i + 1] = x_of(t, k->t1);
    bn[i] = block_node(t, bx[2 * i], bx[2 * i + 1], t->lane[k->cpu].y, fill[k->kind], label, ink[k->kind], tip);
    int tl = k->thread && k->kind != VZ_F_IDLE ? thread_lane(t, k->thread) : -1;
    if (tl >= 0) {
      describe(t, k, true, label, sizeof label, tip, sizeof tip);
      Agnode_t *n = block_node(t, x_of(t, k->t0), x_of(t, k->t1), t->lane[tl].y, fill[k->kind], label, ink[k->kind], tip);
      /* Frames that only interrupt the thread are paler on its lane. */
      if (k->kind == VZ_F_ISR || k->kind == VZ_F_DPC) vz_set(n, "style", "filled,dashed");
    }
  }
  /* ISR -> the DPC it queued (matched by device), DPC -> the APC of the IRP it completed. */
  uint32_t maxdev = 0, maxirp = 0;
  for (size_t i = 0; i < m->nev; i++) {
    if (m->ev[i].device > maxdev) maxdev = m->ev[i].device;
    if (m->ev[i].irp > maxirp) maxirp = m->ev[i].irp;
  }
  size_t *queued = iosim_malloc(((size_t)maxdev + 1) * sizeof *queued);
  size_t *walked = iosim_malloc(((size_t)maxirp + 1) * sizeof *walked);
  for (uint32_t d = 0; d <= maxdev; d++) queued[d] = SIZE_MAX;
  for (uint32_t p = 0; p <= maxirp; p++) walked[p] = SIZE_MAX;
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    if (!strcmp(e->kind, "dpc-queued") && e->device) queued[e->device] = i;
    else if (!strcmp(e->kind, "walk-done") && e->irp) walked[e->irp] = i;
    else if (!strcmp(e->kind, "dpc") && e->device && queued[e->device] != SIZE_MAX) {
      size_t q = queued[e->device];
      queued[e->device] = SIZE_MAX;
      if (evb[q] != SIZE_MAX && evb[i] != SIZE_MAX)
        arrow(t, bn[evb[q]], bn[evb[i]], &bx[2 * evb[q]], &bx[2 * evb[i]], t->lane[blk[evb[q]].cpu].y,
              t->lane[blk[evb[i]].cpu].y, C_ISR_DPC, "the ISR requested this DPC");
    } else if (!strcmp(e->kind, "apc") && e->irp && walked[e->irp] != SIZE_MAX) {
      size_t q = walked[e->irp];
      walked[e->irp] = SIZE_MAX;
      if (evb[q] != SIZE_MAX && evb[i] != SIZE_MAX && evb[q] != evb[i])
        arrow(t, bn[evb[q]], bn[evb[i]], &bx[2 * evb[q]], &bx[2 * evb[i]], t->lane[blk[evb[q]].cpu].y,
              t->lane[blk[evb[i]].cpu].y, C_DPC_APC, "completing the IRP queued this APC");
    }
  }
  for (size_t i = 0; i < m->nev; i++)
    if (!strcmp(m->ev[i].kind, "clock-tick")) clock_mark(t, &m->ev[i], x_of(t, m->ev[i].t_ns));
  free(queued);
  free(walked);
  free(bn);
  free(bx);
  free(w);
}

/* ---- the summary of a long run ---- */

typedef struct bin_acc {
  int64_t ns[VZ_F_COUNT + 1]; /* the last slot: waiting */
} bin_acc_t;

/* Adds [t0, t1) to the bins it overlaps.  binw = end / SUMMARY_BINS + 1, so
   SUMMARY_BINS bins reach past the run's end and every time falls in one;
   each bin overlapped gets a part of at least a nanosecond. */
static void add_span(bin_acc_t *row, int64_t binw, int64_t t0, int64_t t1, int kind) {
  if (t1 <= t0) return;
  for (int64_t b = t0 / binw; b <= (t1 - 1) / binw; b++) {
    int64_t lo = b * binw > t0 ? b * binw : t0, hi = (b + 1) * binw < t1 ? (b + 1) * binw : t1;
    row[b].ns[kind] += hi - lo;
  }
}

static size_t summarised(tl_t *t, const vz_block_t *blk, size_t nb) {
  const vz_model_t *m = t->m;
  int64_t binw = m->end_ns / SUMMARY_BINS + 1;
  bin_acc_t *acc = iosim_calloc((size_t)t->nlane * SUMMARY_BINS, sizeof *acc);
  wait_iv_t *w = NULL;
  size_t nw = collect_waits(m, &w);
  for (size_t i = 0; i < nb; i++) {
    const vz_block_t *k = &blk[i];
    add_span(&acc[(size_t)k->cpu * SUMMARY_BINS], binw, k->t0, k->t1, k->kind);
    int tl = k->thread && k->kind != VZ_F_IDLE ? thread_lane(t, k->thread) : -1;
    if (tl >= 0) add_span(&acc[(size_t)tl * SUMMARY_BINS], binw, k->t0, k->t1, k->kind);
  }
  for (size_t i = 0; i < nw; i++) {
    int tl = thread_lane(t, w[i].thread);
    if (tl >= 0) add_span(&acc[(size_t)tl * SUMMARY_BINS], binw, w[i].t0, w[i].t1, VZ_F_COUNT);
  }
  free(w);
  lane_names(t, blk, nb);
  double bw = PLOT_W / SUMMARY_BINS;
  size_t blocks = 0;
  static const char *const what[VZ_F_COUNT + 1] = {"idle", "thread", "APC", "DPC", "ISR", "waiting"};
  for (int l = 0; l < t->nlane; l++) {
    /* Each bin is a stack of the shares of time each kind of frame had,
       in twelfths of the lane's height; neighbouring bins with the same
       shares are drawn as one wider stack. */
    int prev[VZ_F_COUNT + 1] = {0}, start = 0;
    bool have = false;
    for (int b = 0; b <= SUMMARY_BINS; b++) {
      int q[VZ_F_COUNT + 1] = {0};
      if (b < SUMMARY_BINS) {
        const bin_acc_t *a = &acc[(size_t)l * SUMMARY_BINS + b];
        int64_t span = binw;
        if (b == SUMMARY_BINS - 1 && m->end_ns - b * binw > 0) span = m->end_ns - b * binw;
        for (int k = 0; k <= VZ_F_COUNT; k++) q[k] = (int)((a->ns[k] * 12 + span / 2) / span);
      }
      if (have && b < SUMMARY_BINS && !memcmp(q, prev, sizeof q)) continue;
      if (have) {
        double y = t->lane[l].y - LANE_H / 2;
        for (int k = 0; k <= VZ_F_COUNT; k++) {
          if (!prev[k]) continue;
          double h = LANE_H * (prev[k] > 12 ? 12 : prev[k]) / 12.0;
          char tip[160], t0[32], t1[32];
          snprintf(tip, sizeof tip, "%s about %d%% of the time from %s to %s", what[k], prev[k] * 100 / 12,
                   vz_time(start * binw, t0), vz_time((int64_t)b * binw < m->end_ns ? (int64_t)b * binw : m->end_ns, t1));
          Agnode_t *n = block_node(t, start * bw, b * bw, y + h / 2, k == VZ_F_COUNT ? C_WAIT : fill[k], "",
                                   "black", tip);
          char hs[32];
          snprintf(hs, sizeof hs, "%.4f", h / 72.0);
          vz_set(n, "height", hs);
          vz_set(n, "penwidth", "0");
          if (k == VZ_F_COUNT) vz_set(n, "style", "filled,dashed");
          y += h;
          blocks++;
        }
      }
      memcpy(prev, q, sizeof q);
      start = b;
      have = true;
    }
    /* A frame for the lane, so an empty stretch still reads as part of it. */
    char name[24], pos[64], ws[32], hs[32];
    snprintf(name, sizeof name, "f%d", t->nodes++);
    Agnode_t *f = vz_node(t->g, name);
    snprintf(pos, sizeof pos, "%.2f,%.2f!", PLOT_W / 2, t->lane[l].y);
    snprintf(ws, sizeof ws, "%.4f", PLOT_W / 72.0);
    snprintf(hs, sizeof hs, "%.4f", LANE_H / 72.0);
    vz_set(f, "pos", pos);
    vz_set(f, "width", ws);
    vz_set(f, "height", hs);
    vz_set(f, "style", "");
    vz_set(f, "label", "");
  }
  free(acc);
  for (size_t i = 0; i < m->nev; i++)
    if (!strcmp(m->ev[i].kind, "clock-tick"))
      clock_mark(t, &m->ev[i], m->end_ns ? PLOT_W * (double)m->ev[i].t_ns / (double)m->end_ns : 0);
  /* A linear axis here: eight ticks. */
  for (int i = 0; i <= 8; i++) {
    char b[32];
    text_at(t, PLOT_W * i / 8, LANE_H / 2 + 8, "|", "c", 12);
    text_at(t, PLOT_W * i / 8, LANE_H / 2 + 22, vz_time(m->end_ns * i / 8, b), "c", 12);
  }
  return blocks;
}

/* ---- the picture ---- */

static void legend(tl_t *t, double y) {
  static const char *const names[VZ_F_COUNT] = {"idle", "thread", "APC", "DPC", "ISR"};
  vz_str_t b = {0};
  vz_puts(&b, "<table border=\"0\" cellspacing=\"4\" cellpadding=\"3\"><tr>");
  for (int k = VZ_F_THREAD; k < VZ_F_COUNT; k++)
    vz_printf(&b, "<td bgcolor=\"%s\"><font color=\"%s\">%s</font></td>", fill[k], ink[k], names[k]);
  vz_printf(&b, "<td bgcolor=\"%s\">idle</td><td border=\"1\" style=\"dashed\">waiting</td>", fill[VZ_F_IDLE]);
  vz_printf(&b, "<td><font color=\"%s\"><b>&#8212;&#9654;</b></font> ISR queued this DPC</td>", C_ISR_DPC);
  vz_printf(&b, "<td><font color=\"%s\"><b>&#8212;&#9654;</b></font> DPC's completion queued this APC</td>", C_DPC_APC);
  vz_printf(&b, "<td><font color=\"%s\"><b>|</b></font> clock tick: drain requested</td>", C_CLOCK);
  vz_puts(&b, "</tr></table>");
  char name[24], pos[64];
  snprintf(name, sizeof name, "legend%d", t->nodes++);
  Agnode_t *n = vz_node(t->g, name);
  snprintf(pos, sizeof pos, "%.2f,%.2f!", PLOT_W / 2, y);
  vz_set(n, "shape", "plaintext");
  vz_set(n, "style", "");
  vz_set(n, "fixedsize", "false");
  vz_set(n, "pos", pos);
  vz_set(n, "fontsize", "12");
  vz_set_html(t->g, n, "label", vz_cstr(&b));
  vz_str_free(&b);
}

int viz_timeline(const char *db, int64_t run, const char *out_path, const viz_style_t *style, char *err,
                 size_t errlen) {
  vz_format_t fmt;
  int rc = vz_format(out_path, false, &fmt, err, errlen);
  if (rc == VIZ_OK) rc = viz_style_check(style, err, errlen);
  if (rc != VIZ_OK) return rc;
  vz_model_t m;
  rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  rc = vz_load_events(&m, false, err, errlen);
  vz_block_t *blk = NULL;
  size_t nb = 0, *evb = NULL;
  if (rc == VIZ_OK) vz_frames(&m, &blk, &nb, &evb);
  tl_t t = {.m = &m};
  vz_out_t o = {0};
  if (rc == VIZ_OK) rc = vz_out_begin(&o, out_path, err, errlen);
  if (rc == VIZ_OK) {
    setup_lanes(&t, blk, nb);
    /* Graphviz aborts when out of memory; the graph's own memory comes
       from iosim's allocator (gvmem.c), which exits instead. */
    GVC_t *gvc = gvContext();
    Agraph_t *g = t.g = vz_agopen("timeline");
    vz_set(g, "fontname", FONT);
    vz_set(g, "fontsize", "15");
    vz_set(g, "labelloc", "t");
    agattr(g, AGNODE, (char *)"shape", (char *)"box");
    agattr(g, AGNODE, (char *)"style", (char *)"filled");
    agattr(g, AGNODE, (char *)"fixedsize", (char *)"true");
    agattr(g, AGNODE, (char *)"fontname", (char *)FONT);
    agattr(g, AGNODE, (char *)"fontsize", (char *)"12");
    agattr(g, AGNODE, (char *)"penwidth", (char *)"0.6");
    agattr(g, AGNODE, (char *)"color", (char *)"#333333");
    agattr(g, AGEDGE, (char *)"arrowsize", (char *)"0.8");
    size_t blocks = 0;
    bool summary = nb > VIZ_TIMELINE_MAX_FRAMES;
    if (summary) blocks = summarised(&t, blk, nb);
    else detailed(&t, blk, nb, evb);
    vz_str_t title = {0};
    vz_puts(&title, "<b>Timeline</b> of run ");
    vz_printf(&title, "%lld: ", (long long)m.run);
    vz_put_html(&title, m.scenario);
    vz_printf(&title, " (seed %lld, ", (long long)m.seed);
    vz_put_html(&title, m.outcome);
    vz_printf(&title, "), %zu frames, %s<br/><font point-size=\"12\">", nb, vz_time(m.end_ns, t.tb));
    if (summary)
      vz_printf(&title, "<b>summarised: %zu frames merged into %zu blocks</b>: time cut into %d equal bins of %s; "
                "each bin stacks the share of time of each kind of frame; arrows omitted",
                nb, blocks, SUMMARY_BINS, vz_time(m.end_ns / SUMMARY_BINS + 1, t.tb));
    else
      vz_puts(&title, "time axis not to scale: each interval between two frame boundaries is drawn by the "
              "logarithm of its length; the ticks give the real times");
    vz_puts(&title, "</font>");
    vz_set_html(g, g, "label", vz_cstr(&title));
    text_at(&t, 0, LANE_H / 2 + 46, " ", "c", 12); /* room between the title and the axis */
    vz_str_free(&title);
    legend(&t, (t.nlane ? t.lane[t.nlane - 1].y : 0) - LANE_H - 10);
    /* Lanes are sized to their labels and blocks placed by hand, in points:
       a larger font makes the whole timeline larger, in proportion. */
    rc = vz_render(gvc, g, "nop2", &o, fmt, 0.25, vz_scale(style) * vz_font(style) / 12.0, err, errlen);
    agclose(g);
    gvFreeContext(gvc);
    int rc2 = vz_out_end(&o, rc == VIZ_OK, err, errlen);
    if (rc == VIZ_OK) rc = rc2;
  }
  free(t.lane);
  free(t.tlane);
  free(t.bt);
  free(t.bx);
  free(blk);
  free(evb);
  vz_close(&m);
  return rc;
}
