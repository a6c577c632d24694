/*
 * perfetto.c - the Chrome / Perfetto trace-event JSON of a run, so a trace
 * opens in ui.perfetto.dev or chrome://tracing.
 *
 *   process "CPUs"     one track per CPU: one complete slice per frame
 *                      (frames.c), and inside it one slice per step of an
 *                      IRP's journey (IoCallDriver, dispatch, the ISR, the
 *                      DPC, IoCompleteRequest, a completion routine, the
 *                      APC...); counters: each CPU's IRQL and DPC queue.
 *   process "I/O"      counters: live IRPs, each completion port's queue.
 *   one process per    track "on CPU": where it ran (its thread and APC
 *   simulated thread   frames); track "calls and waits": its system calls
 *                      with the waits inside them; counter: its APC queue.
 *   flow arrows        each IRP, from step slice to step slice.
 *
 * Viewers require the slices of one track to nest (a slice inside another
 * ends before it does).  Frames tile a CPU's time and a step's slice ends
 * before the next step of its CPU, so a CPU track nests by construction;
 * a thread's slices are placed by lanes(), which opens another track when
 * a slice would straddle one already there.  Times are microseconds with
 * nanosecond decimals, as the format wants.
 */
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "viz_int.h"

#define PID_CPUS 1
#define PID_IO 2
#define PID_THREAD0 10 /* thread N is process PID_THREAD0 + N */

/* Microseconds from nanoseconds, exactly: "204.090".  Times and
   durations are not negative (vizdb.c refuses a step earlier than the one
   before it). */
static void put_us(vz_str_t *b, int64_t ns) {
  vz_printf(b, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
}

static void meta_name(vz_str_t *b, int pid, int tid, const char *what, const char *name) {
  vz_printf(b, ",\n{\"ph\":\"M\",\"pid\":%d", pid);
  if (tid >= 0) vz_printf(b, ",\"tid\":%d", tid);
  vz_printf(b, ",\"name\":\"%s\",\"args\":{\"name\":\"", what);
  vz_put_json(b, name);
  vz_puts(b, "\"}}");
}

static void meta_sort(vz_str_t *b, int pid, int tid, const char *what, int sort) {
  vz_printf(b, ",\n{\"ph\":\"M\",\"pid\":%d", pid);
  if (tid >= 0) vz_printf(b, ",\"tid\":%d", tid);
  vz_printf(b, ",\"name\":\"%s\",\"args\":{\"sort_index\":%d}}", what, sort);
}

/* Opens a complete slice; the caller adds ",\"args\":{...}}" or "}". */
static void slice(vz_str_t *b, const char *cat, const char *name, int pid, int tid, int64_t t0, int64_t t1) {
  vz_printf(b, ",\n{\"ph\":\"X\",\"cat\":\"%s\",\"name\":\"", cat);
  vz_put_json(b, name);
  vz_printf(b, "\",\"pid\":%d,\"tid\":%d,\"ts\":", pid, tid);
  put_us(b, t0);
  vz_puts(b, ",\"dur\":");
  put_us(b, t1 - t0);
}

/* A counter sample: track `name` of process pid, series `key`. */
static void counter(vz_str_t *b, int pid, const char *name, const char *key, int64_t t, int64_t v) {
  vz_printf(b, ",\n{\"ph\":\"C\",\"pid\":%d,\"name\":\"", pid);
  vz_put_json(b, name);
  vz_puts(b, "\",\"ts\":");
  put_us(b, t);
  vz_printf(b, ",\"args\":{\"%s\":%lld}}", key, (long long)v);
}

/* ---- the CPUs ---- */

/* The name a frame's slice gets: "thread app", "APC app", "DPC", "ISR", "idle". */
static void frame_name(const vz_model_t *m, const vz_block_t *k, char *buf, size_t n) {
  char tb[32];
  if (k->kind == VZ_F_THREAD || k->kind == VZ_F_APC)
    snprintf(buf, n, "%s %s", k->kind == VZ_F_THREAD ? "thread" : "APC", vz_thread_name(m, k->thread, tb, sizeof tb));
  else snprintf(buf, n, "%s", vz_frame_name(k->kind));
}

static void frames_json(vz_str_t *b, const vz_model_t *m, const vz_block_t *blk, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const vz_block_t *k = &blk[i];
    char name[96], tb[32], ib[16];
    frame_name(m, k, name, sizeof name);
    slice(b, "frame", name, PID_CPUS, k->cpu + 1, k->t0, k->t1);
    vz_printf(b, ",\"args\":{\"cpu\":%d,\"frame\":\"%s\",\"irql\":\"%s\",\"thread\":\"", k->cpu,
              vz_frame_name(k->kind), vz_irql_name(k->irql, ib));
    vz_put_json(b, k->thread ? vz_thread_name(m, k->thread, tb, sizeof tb) : "-");
    vz_printf(b, "\",\"steps\":%zu", k->nev);
    if (k->nev) vz_printf(b, ",\"first_seq\":%lld", (long long)m->ev[k->first_ev].seq);
    vz_puts(b, "}}");
  }
}

/* The steps of an IRP's journey that get a slice and a point of its flow. */
static const char *journey_name(const vz_ev_t *e) {
  static const struct {
    const char *kind, *name;
  } k[] = {{"call-driver", "IoCallDriver"},
           {"dispatch", "dispatch"},
           {"dispatch-return", "dispatch returns"},
           {"hw-start", "starts the hardware"},
           {"isr", "ISR"},
           {"dpc", "DPC"},
           {"complete", "IoCompleteRequest"},
           {"completion-routine", "completion routine"},
           {"walk-stopped", "walk stopped"},
           {"walk-done", "walk done"},
           {"stage2", "stage 2"},
           {"apc", "special kernel APC"},
           {"port-queued", "completion packet queued"},
           {"port-dequeued", "completion packet taken"},
           {"cancel", "cancelled"},
           {"cancel-routine", "cancel routine"}};
  if (!e->irp || e->cpu < 0) return NULL;
  for (size_t i = 0; i < sizeof k / sizeof *k; i++)
    if (!strcmp(e->kind, k[i].kind)) return k[i].name;
  return NULL;
}

/* One slice per journey step, inside its frame on its CPU's track: from
   the step to the next later step of that CPU, or the frame's end.  Steps
   of one CPU at the same nanosecond share the first one's slice.  Returns,
   per event, whether it has its own slice (the flow's points). */
static bool *steps_json(vz_str_t *b, const vz_model_t *m, const vz_block_t *blk, const size_t *evb) {
  bool *own = iosim_calloc(m->nev ? m->nev : 1, sizeof *own);
  size_t *next = iosim_malloc((m->nev ? m->nev : 1) * sizeof *next);
  int maxcpu = -1;
  for (size_t i = 0; i < m->nev; i++)
    if (m->ev[i].cpu > maxcpu) maxcpu = m->ev[i].cpu;
  size_t *later = iosim_malloc(((size_t)maxcpu + 2) * sizeof *later);
  /* next[i]: the first step of i's CPU later than i (SIZE_MAX: none). */
  for (int c = 0; c <= maxcpu; c++) later[c] = SIZE_MAX;
  for (size_t i = m->nev; i-- > 0;) {
    const vz_ev_t *e = &m->ev[i];
    if (e->cpu < 0) continue;
    size_t n = later[e->cpu];
    next[i] = n;
    if (n != SIZE_MAX && m->ev[n].t_ns == e->t_ns) next[i] = next[n];
    later[e->cpu] = i;
  }
  int64_t *last_t = iosim_malloc(((size_t)maxcpu + 2) * sizeof *last_t);
  for (int c = 0; c <= maxcpu; c++) last_t[c] = -1;
  char name[160], tb[32], ib[16];
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    const char *what = journey_name(e);
    if (!what || evb[i] == SIZE_MAX || last_t[e->cpu] == e->t_ns) continue;
    last_t[e->cpu] = e->t_ns;
    own[i] = true;
    int64_t end = blk[evb[i]].t1;
    if (next[i] != SIZE_MAX && m->ev[next[i]].t_ns < end) end = m->ev[next[i]].t_ns;
    if (end < e->t_ns) end = e->t_ns;
    const vz_irp_t *p = vz_irp(m, e->irp);
    const vz_device_t *d = e->device ? vz_device(m, e->device) : NULL;
    snprintf(name, sizeof name, "%s%s%s (IRP %u%s%s)", what, d ? " " : "", d ? d->name : "", e->irp,
             p && p->tag[0] ? " " : "", p && p->tag[0] ? p->tag : "");
    slice(b, "irp", name, PID_CPUS, e->cpu + 1, e->t_ns, end);
    vz_printf(b, ",\"args\":{\"seq\":%lld,\"step\":\"", (long long)e->seq);
    vz_put_json(b, e->kind);
    vz_printf(b, "\",\"irp\":%u,\"irql\":\"%s\"", e->irp, vz_irql_name(e->irql, ib));
    if (e->status[0]) {
      vz_puts(b, ",\"status\":\"");
      vz_put_json(b, e->status);
      vz_puts(b, "\"");
    }
    if (e->thread) {
      vz_puts(b, ",\"thread\":\"");
      vz_put_json(b, vz_thread_name(m, e->thread, tb, sizeof tb));
      vz_puts(b, "\"");
    }
    vz_puts(b, "}}");
  }
  free(next);
  free(later);
  free(last_t);
  return own;
}

/* One flow point: "s" (start), "t" (step) or "f" (finish, bound to the
   enclosing slice) at step q, on q's CPU track. */
static void flow_point(vz_str_t *b, const char *ph, const char *name, uint32_t id, const vz_ev_t *q) {
  vz_printf(b, ",\n{\"ph\":\"%s\",%s\"cat\":\"irp\",\"name\":\"", ph, ph[0] == 'f' ? "\"bp\":\"e\"," : "");
  vz_put_json(b, name);
  vz_printf(b, "\",\"id\":%u,\"pid\":%d,\"tid\":%d,\"ts\":", id, PID_CPUS, q->cpu + 1);
  put_us(b, q->t_ns);
  vz_puts(b, ",\"args\":{\"step\":\"");
  vz_put_json(b, q->kind);
  vz_puts(b, "\"}}");
}

/* Each IRP as one flow through its journey's slices: IoCallDriver,
   dispatch, ..., the completion routines, the APC.  Points are written one
   behind, so that the last one can be the "f"; an IRP with fewer than two
   such steps has no flow. */
static void flows_json(vz_str_t *b, const vz_model_t *m, const bool *own) {
  for (size_t p = 0; p < m->nirp; p++) {
    const vz_irp_t *irp = &m->irp[p];
    size_t prev = SIZE_MAX, npts = 0;
    char name[64];
    if (irp->tag[0]) snprintf(name, sizeof name, "IRP %u (%s) %s", irp->id, irp->tag, irp->major);
    else snprintf(name, sizeof name, "IRP %u %s", irp->id, irp->major);
    for (size_t i = 0; i < m->nev; i++) {
      if (m->ev[i].irp != irp->id || !own[i]) continue;
      if (prev != SIZE_MAX) flow_point(b, npts == 1 ? "s" : "t", name, irp->id, &m->ev[prev]);
      prev = i;
      npts++;
    }
    if (npts >= 2) flow_point(b, "f", name, irp->id, &m->ev[prev]);
  }
}

/* ---- the threads ---- */

typedef struct tslice {
  int64_t t0, t1;
  int group; /* 0: on a CPU; 1: system calls and waits */
  int order; /* creation order, the last tie-break */
  const char *cat; /* "thread", "syscall", "wait" */
  char name[64];
  char args[96];      /* JSON members */
  const char *key;    /* one more member, a string from the database: its */
  const char *value;  /* name and value (written escaped), or NULL */
} tslice_t;

typedef struct lane {
  int group;
  int64_t *open; /* ends of the slices open at the current time, outermost first */
  size_t nopen, cap;
} lane_t;

static int cmp_tslice(const void *a, const void *b) {
  const tslice_t *x = a, *y = b;
  if (x->group != y->group) return x->group - y->group;
  if (x->t0 != y->t0) return x->t0 < y->t0 ? -1 : 1;
  if (x->t1 != y->t1) return x->t1 > y->t1 ? -1 : 1; /* the enclosing one first */
  return x->order - y->order;
}

static tslice_t *add_tslice(tslice_t **v, size_t *n, size_t *cap, const char *cat, int64_t t0, int64_t t1) {
  VZ_RESERVE(*v, *cap, *n + 1);
  tslice_t *s = &(*v)[*n];
  *s = (tslice_t){.t0 = t0, .t1 = t1 < t0 ? t0 : t1, .group = strcmp(cat, "thread") != 0, .order = (int)*n, .cat = cat};
  (*n)++;
  return s;
}

/* The lane of its group a slice nests in: the first whose open slices,
   once those ended by t0 are closed, leave one enclosing it (or none); a
   new lane when every lane would be straddled.  Returns the lane's index. */
static int place(lane_t **lanes, size_t *nl, size_t *capl, const tslice_t *s) {
  for (size_t i = 0; i < *nl; i++) {
    lane_t *l = &(*lanes)[i];
    if (l->group != s->group) continue;
    while (l->nopen && l->open[l->nopen - 1] <= s->t0) l->nopen--;
    if (l->nopen && l->open[l->nopen - 1] < s->t1) continue;
    VZ_RESERVE(l->open, l->cap, l->nopen + 1);
    l->open[l->nopen++] = s->t1;
    return (int)i;
  }
  VZ_RESERVE(*lanes, *capl, *nl + 1);
  lane_t *l = &(*lanes)[*nl];
  *l = (lane_t){.group = s->group};
  VZ_RESERVE(l->open, l->cap, 1);
  l->open[l->nopen++] = s->t1;
  return (int)(*nl)++;
}

/* A thread's slices: where it ran (its thread and APC frames), its system
   calls (syscall .. syscall-return) and its waits (wait .. wait-done). */
static void thread_slices(const vz_model_t *m, const vz_block_t *blk, size_t nb, uint32_t id, tslice_t **out,
                          size_t *n) {
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  for (size_t i = 0; i < nb; i++) {
    const vz_block_t *k = &blk[i];
    if (k->thread != id || (k->kind != VZ_F_THREAD && k->kind != VZ_F_APC)) continue;
    tslice_t *s = add_tslice(out, n, &cap, "thread", k->t0, k->t1);
    snprintf(s->name, sizeof s->name, "%s on CPU %d", k->kind == VZ_F_THREAD ? "running" : "APC", k->cpu);
    snprintf(s->args, sizeof s->args, "\"cpu\":%d", k->cpu);
  }
  /* Open system calls and waits, innermost last. */
  size_t calls[16], ncalls = 0, waits[16], nwaits = 0;
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    if (e->thread != id || e->frame == VZ_F_NONE) continue;
    bool sleep = !strcmp(e->kind, "sleep");
    if (sleep || !strcmp(e->kind, "wait")) {
      tslice_t *s = add_tslice(out, n, &cap, "wait", e->t_ns, m->end_ns);
        snprintf(s->name, sizeof s->name, sleep ? "sleeping (never woken)" : "waiting (never woken)");
      snprintf(s->args, sizeof s->args, "\"objects\":%d", e->count > 0 ? e->count : 1);
      if (nwaits < sizeof waits / sizeof *waits) waits[nwaits++] = *n - 1;
    } else if ((!strcmp(e->kind, "wait-done") || !strcmp(e->kind, "sleep-done")) && nwaits) {
      tslice_t *s = &(*out)[waits[--nwaits]];
      s->t1 = e->t_ns;
      snprintf(s->name, sizeof s->name, e->kind[0] == 's' ? "sleeping" : "waiting");
      s->key = "result";
      s->value = e->status[0] ? e->status : "-";
    } else if (!strcmp(e->kind, "syscall") && e->frame == VZ_F_THREAD) {
      tslice_t *s = add_tslice(out, n, &cap, "syscall", e->t_ns, m->end_ns);
        snprintf(s->name, sizeof s->name, "%s", e->service ? e->service : "system call");
      snprintf(s->args, sizeof s->args, "\"seq\":%lld", (long long)e->seq);
      s->key = "returned";
      s->value = "never";
      if (ncalls < sizeof calls / sizeof *calls) calls[ncalls++] = *n - 1;
    } else if (!strcmp(e->kind, "syscall-return") && ncalls) {
      tslice_t *s = &(*out)[calls[--ncalls]];
      s->t1 = e->t_ns;
      s->value = e->status[0] ? e->status : "-";
    }
  }
}

static void threads_json(vz_str_t *b, const vz_model_t *m, const vz_block_t *blk, size_t nb) {
  for (size_t t = 0; t < m->nthr; t++) {
    uint32_t id = m->thr[t].id;
    int pid = PID_THREAD0 + (int)id;
    char pname[64];
    snprintf(pname, sizeof pname, "thread %s", m->thr[t].name);
    meta_name(b, pid, -1, "process_name", pname);
    meta_sort(b, pid, -1, "process_sort_index", pid);
    tslice_t *s = NULL;
    size_t n = 0;
    lane_t *lanes = NULL;
    size_t nl = 0, capl = 0;
    thread_slices(m, blk, nb, id, &s, &n);
    if (n) qsort(s, n, sizeof *s, cmp_tslice); /* s is NULL when a thread has no slice */
    int *lane_of = iosim_malloc((n ? n : 1) * sizeof *lane_of);
    for (size_t i = 0; i < n; i++) lane_of[i] = place(&lanes, &nl, &capl, &s[i]);
    /* Lane k is track k + 1: "on CPU", "calls and waits", then "(2)"... */
    int per_group[2] = {0, 0};
    for (size_t k = 0; k < nl; k++) {
      int g = lanes[k].group, nth = ++per_group[g];
      char tname[48];
      snprintf(tname, sizeof tname, "%s", g == 0 ? "on CPU" : "calls and waits");
      if (nth > 1) snprintf(tname + strlen(tname), sizeof tname - strlen(tname), " (%d)", nth);
      meta_name(b, pid, (int)k + 1, "thread_name", tname);
      meta_sort(b, pid, (int)k + 1, "thread_sort_index", (int)k);
    }
    for (size_t i = 0; i < n; i++) {
      slice(b, s[i].cat, s[i].name, pid, lane_of[i] + 1, s[i].t0, s[i].t1);
      vz_printf(b, ",\"args\":{%s", s[i].args);
      if (s[i].key) {
        vz_printf(b, ",\"%s\":\"", s[i].key);
        vz_put_json(b, s[i].value);
        vz_puts(b, "\"");
      }
      vz_puts(b, "}}");
    }
    for (size_t k = 0; k < nl; k++) free(lanes[k].open);
    free(lanes);
    free(lane_of);
    free(s);
  }
}

/* ---- counters ---- */

typedef struct port_name {
  uint32_t id;
  char name[48];
} port_name_t;

/* The completion ports' names (table `port`); "port N" where missing. */
static size_t port_names(const vz_model_t *m, port_name_t **out) {
  *out = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(m->db, "SELECT id, name FROM port WHERE run_id = ?1 ORDER BY id", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_int64(st, 1, m->run);
  while (sqlite3_step(st) == SQLITE_ROW) {
    VZ_RESERVE(*out, cap, n + 1);
    (*out)[n].id = (uint32_t)sqlite3_column_int64(st, 0);
    const unsigned char *s = sqlite3_column_text(st, 1);
    snprintf((*out)[n].name, sizeof (*out)[n].name, "%s", s ? (const char *)s : "");
    n++;
  }
  sqlite3_finalize(st);
  return n;
}

/* Counters, sampled at the steps where they change: each CPU's IRQL (as
   its steps report it) and DPC queue depth (dpc-queued gives the depth,
   each DPC run takes one off), each thread's APC queue (apc-queued, apc),
   live IRPs (irp-alloc, irp-free) and each completion port's queued
   packets and running threads (port-queued, port-dequeued). */
static void counters_json(vz_str_t *b, const vz_model_t *m, int cpus) {
  int *irql = iosim_malloc((size_t)(cpus > 0 ? cpus : 1) * sizeof *irql);
  int *dpcs = iosim_calloc((size_t)(cpus > 0 ? cpus : 1), sizeof *dpcs);
  int *apcs = iosim_calloc(m->nthr ? m->nthr : 1, sizeof *apcs);
  port_name_t *ports = NULL;
  size_t nports = port_names(m, &ports);
  char name[96];
  for (int c = 0; c < cpus; c++) {
    irql[c] = -1;
    snprintf(name, sizeof name, "CPU %d DPC queue", c);
    counter(b, PID_CPUS, name, "depth", 0, 0);
  }
  for (size_t t = 0; t < m->nthr; t++) counter(b, PID_THREAD0 + (int)m->thr[t].id, "APC queue", "depth", 0, 0);
  int64_t live = 0;
  counter(b, PID_IO, "live IRPs", "count", 0, 0);
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    if (e->cpu >= 0 && e->cpu < cpus && e->irql >= 0 && e->irql != irql[e->cpu]) {
      irql[e->cpu] = e->irql;
      snprintf(name, sizeof name, "CPU %d", e->cpu);
      counter(b, PID_CPUS, name, "IRQL", e->t_ns, e->irql);
    }
    int tc = e->target_cpu >= 0 && e->target_cpu < cpus ? e->target_cpu : e->cpu;
    if (!strcmp(e->kind, "dpc-queued") && tc >= 0 && tc < cpus) {
      dpcs[tc] = e->count >= 0 ? e->count : dpcs[tc] + 1;
      snprintf(name, sizeof name, "CPU %d DPC queue", tc);
      counter(b, PID_CPUS, name, "depth", e->t_ns, dpcs[tc]);
    } else if (!strcmp(e->kind, "dpc") && tc >= 0 && tc < cpus && dpcs[tc] > 0) {
      snprintf(name, sizeof name, "CPU %d DPC queue", tc);
      counter(b, PID_CPUS, name, "depth", e->t_ns, --dpcs[tc]);
    } else if (!strcmp(e->kind, "apc-queued") || !strcmp(e->kind, "apc")) {
      uint32_t who = e->target_thread ? e->target_thread : e->thread;
      for (size_t t = 0; t < m->nthr; t++) {
        if (m->thr[t].id != who) continue;
        if (e->kind[3] == '-') apcs[t]++;
        else if (apcs[t] > 0) apcs[t]--;
        counter(b, PID_THREAD0 + (int)who, "APC queue", "depth", e->t_ns, apcs[t]);
      }
    } else if (!strcmp(e->kind, "irp-alloc") || !strcmp(e->kind, "irp-free")) {
      live += e->kind[4] == 'a' ? 1 : live > 0 ? -1 : 0;
      counter(b, PID_IO, "live IRPs", "count", e->t_ns, live);
    } else if ((!strcmp(e->kind, "port-queued") || !strcmp(e->kind, "port-dequeued")) && e->port) {
      const char *pn = NULL;
      for (size_t k = 0; k < nports; k++)
        if (ports[k].id == e->port && ports[k].name[0]) pn = ports[k].name;
      if (pn) snprintf(name, sizeof name, "port %s", pn);
      else snprintf(name, sizeof name, "port %u", e->port);
      vz_printf(b, ",\n{\"ph\":\"C\",\"pid\":%d,\"name\":\"", PID_IO);
      vz_put_json(b, name);
      vz_puts(b, "\",\"ts\":");
      put_us(b, e->t_ns);
      vz_printf(b, ",\"args\":{\"queued\":%d,\"running\":%d}}", e->count > 0 ? e->count : 0,
                e->running > 0 ? e->running : 0);
    }
  }
  free(irql);
  free(dpcs);
  free(apcs);
  free(ports);
}

int viz_export_perfetto(const char *db, int64_t run, const char *out_path, char *err, size_t errlen) {
  vz_format_t fmt;
  int rc = vz_format(out_path, true, &fmt, err, errlen);
  if (rc != VIZ_OK) return rc;
  vz_model_t m;
  rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  rc = vz_load_events(&m, false, err, errlen);
  vz_block_t *blk = NULL;
  size_t nb = 0, *evb = NULL;
  if (rc == VIZ_OK) vz_frames(&m, &blk, &nb, &evb);
  vz_str_t b = {0};
  if (rc == VIZ_OK) {
    vz_puts(&b, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"scenario\":\"");
    vz_put_json(&b, m.scenario);
    vz_printf(&b, "\",\"seed\":\"%lld\",\"run\":\"%lld\",\"outcome\":\"", (long long)m.seed, (long long)m.run);
    vz_put_json(&b, m.outcome);
    vz_printf(&b, "\",\"frames\":\"%zu\"},\n\"traceEvents\":[\n", nb);
    vz_printf(&b, "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":\"CPUs\"}}", PID_CPUS);
    meta_sort(&b, PID_CPUS, -1, "process_sort_index", PID_CPUS);
    meta_name(&b, PID_IO, -1, "process_name", "I/O");
    meta_sort(&b, PID_IO, -1, "process_sort_index", PID_IO);
    int cpus = m.cpus;
    for (size_t i = 0; i < nb; i++)
      if (blk[i].cpu + 1 > cpus) cpus = blk[i].cpu + 1;
    for (int c = 0; c < cpus; c++) {
      char name[16];
      snprintf(name, sizeof name, "CPU %d", c);
      meta_name(&b, PID_CPUS, c + 1, "thread_name", name);
      meta_sort(&b, PID_CPUS, c + 1, "thread_sort_index", c);
    }
    frames_json(&b, &m, blk, nb);
    bool *own = steps_json(&b, &m, blk, evb);
    flows_json(&b, &m, own);
    free(own);
    threads_json(&b, &m, blk, nb);
    counters_json(&b, &m, cpus);
    vz_puts(&b, "\n]}\n");
  }
  if (rc == VIZ_OK) {
    vz_out_t o;
    rc = vz_out_begin(&o, out_path, err, errlen);
    if (rc == VIZ_OK) {
      fwrite(b.s, 1, b.len, o.f); /* a short write leaves the error flag vz_out_end reports */
      rc = vz_out_end(&o, true, err, errlen);
    }
  }
  vz_str_free(&b);
  free(blk);
  free(evb);
  vz_close(&m);
  return rc;
}
