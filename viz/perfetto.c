/*
 * perfetto.c - the Chrome / Perfetto trace-event JSON of a run, so a trace
 * opens in ui.perfetto.dev or chrome://tracing: process "CPUs" has one
 * track per CPU with one complete slice per frame (frames.c); process
 * "threads" has one track per thread with its running time, its waits and
 * its system calls; each IRP is a flow arrow through the frames it passed.
 * Times are microseconds with nanosecond decimals, as the format wants.
 */
#include <stdlib.h>
#include <string.h>

#include "viz_int.h"

#define PID_CPUS 1
#define PID_THREADS 2

/* Microseconds from nanoseconds, exactly: "204.090". */
static void put_us(vz_str_t *b, int64_t ns) {
  if (ns < 0) {
    vz_puts(b, "-");
    ns = -ns;
  }
  vz_printf(b, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
}

static void meta(vz_str_t *b, int pid, int tid, const char *what, const char *key, const char *name, int sort) {
  vz_printf(b, ",\n{\"ph\":\"M\",\"pid\":%d", pid);
  if (tid >= 0) vz_printf(b, ",\"tid\":%d", tid);
  vz_printf(b, ",\"name\":\"%s\",\"args\":{\"%s\":", what, key);
  if (name) {
    vz_puts(b, "\"");
    vz_put_json(b, name);
    vz_puts(b, "\"}}");
  } else {
    vz_printf(b, "%d}}", sort);
  }
}

/* The name a frame's slice gets: "thread app", "APC app", "DPC", "ISR", "idle". */
static void frame_name(const vz_model_t *m, const vz_block_t *k, char *buf, size_t n) {
  char tb[32];
  if (k->kind == VZ_F_THREAD || k->kind == VZ_F_APC)
    snprintf(buf, n, "%s %s", k->kind == VZ_F_THREAD ? "thread" : "APC", vz_thread_name(m, k->thread, tb, sizeof tb));
  else snprintf(buf, n, "%s", vz_frame_name(k->kind));
}

static void slice(vz_str_t *b, const char *cat, const char *name, int pid, int tid, int64_t t0, int64_t t1) {
  vz_printf(b, ",\n{\"ph\":\"X\",\"cat\":\"%s\",\"name\":\"", cat);
  vz_put_json(b, name);
  vz_printf(b, "\",\"pid\":%d,\"tid\":%d,\"ts\":", pid, tid);
  put_us(b, t0);
  vz_puts(b, ",\"dur\":");
  put_us(b, t1 - t0);
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
    /* The thread's own track shows where it ran: the frames that are its. */
    if (k->thread && (k->kind == VZ_F_THREAD || k->kind == VZ_F_APC)) {
      snprintf(name, sizeof name, "%s on CPU %d", k->kind == VZ_F_THREAD ? "running" : "APC", k->cpu);
      slice(b, "thread", name, PID_THREADS, (int)k->thread, k->t0, k->t1);
      vz_puts(b, "}");
    }
  }
}

/* Waits (wait .. wait-done of the same thread; sleep .. sleep-done) and
   system calls. */
static void threads_json(vz_str_t *b, const vz_model_t *m) {
  for (size_t t = 0; t < m->nthr; t++) {
    uint32_t id = m->thr[t].id;
    int64_t wait_t0 = -1;
    for (size_t i = 0; i < m->nev; i++) {
      const vz_ev_t *e = &m->ev[i];
      if (e->thread != id) continue;
      if (!strcmp(e->kind, "wait") || !strcmp(e->kind, "sleep")) {
        wait_t0 = e->t_ns;
      } else if ((!strcmp(e->kind, "wait-done") || !strcmp(e->kind, "sleep-done")) && wait_t0 >= 0) {
        slice(b, "wait", e->kind[0] == 's' ? "sleeping" : "waiting", PID_THREADS, (int)id, wait_t0, e->t_ns);
        vz_puts(b, ",\"args\":{\"result\":\"");
        vz_put_json(b, e->status);
        vz_puts(b, "\"}}");
        wait_t0 = -1;
      } else if ((!strcmp(e->kind, "syscall") || !strcmp(e->kind, "syscall-return")) && e->frame != VZ_F_NONE) {
        vz_puts(b, ",\n{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"syscall\",\"name\":\"");
        if (e->kind[7] == '-') vz_printf(b, "returns %s", e->status);
        else vz_put_json(b, e->service ? e->service : e->kind);
        vz_printf(b, "\",\"pid\":%d,\"tid\":%u,\"ts\":", PID_THREADS, id);
        put_us(b, e->t_ns);
        vz_puts(b, "}");
      }
    }
    /* A wait that never ended (a hang) lasts to the end of the run. */
    if (wait_t0 >= 0) {
      slice(b, "wait", "waiting (never woken)", PID_THREADS, (int)id, wait_t0, m->end_ns);
      vz_puts(b, "}");
    }
  }
}

/* One flow point: "s" (start), "t" (step) or "f" (finish, bound to the
   enclosing slice) at step q, on q's CPU track. */
static void flow_point(vz_str_t *b, const char *ph, const char *name, uint32_t id, const vz_ev_t *q) {
  vz_printf(b, ",\n{\"ph\":\"%s\",%s\"cat\":\"irp\",\"name\":\"", ph, ph[0] == 'f' ? "\"bp\":\"e\"," : "");
  vz_put_json(b, name);
  vz_printf(b, "\",\"id\":%u,\"pid\":%d,\"tid\":%d,\"ts\":", id, PID_CPUS, q->cpu + 1);
  put_us(b, q->t_ns);
  vz_printf(b, ",\"args\":{\"step\":\"%s\"}}", q->kind);
}

/* Each IRP as one flow, with a point in every frame it passed through (at
   the first step it had there).  Points are written one behind, so that
   the last one can be the "f"; an IRP seen in one frame only has no flow. */
static void flows_json(vz_str_t *b, const vz_model_t *m, const size_t *evb) {
  for (size_t p = 0; p < m->nirp; p++) {
    const vz_irp_t *irp = &m->irp[p];
    size_t prev = SIZE_MAX, last_block = SIZE_MAX, npts = 0;
    char name[64];
    if (irp->tag[0]) snprintf(name, sizeof name, "IRP %u (%s) %s", irp->id, irp->tag, irp->major);
    else snprintf(name, sizeof name, "IRP %u %s", irp->id, irp->major);
    for (size_t i = 0; i < m->nev; i++) {
      if (m->ev[i].irp != irp->id || evb[i] == SIZE_MAX || evb[i] == last_block) continue;
      last_block = evb[i];
      if (prev != SIZE_MAX) flow_point(b, npts == 1 ? "s" : "t", name, irp->id, &m->ev[prev]);
      prev = i;
      npts++;
    }
    if (npts >= 2) flow_point(b, "f", name, irp->id, &m->ev[prev]);
  }
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
  if (rc == VIZ_OK && vz_frames(&m, &blk, &nb, &evb) != VIZ_OK)
    rc = vz_fail(err, errlen, VIZ_ENOMEM, db, "out of memory");
  vz_str_t b = {0};
  if (rc == VIZ_OK) {
    vz_puts(&b, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"scenario\":\"");
    vz_put_json(&b, m.scenario);
    vz_printf(&b, "\",\"seed\":\"%lld\",\"run\":\"%lld\",\"outcome\":\"", (long long)m.seed, (long long)m.run);
    vz_put_json(&b, m.outcome);
    vz_printf(&b, "\",\"frames\":\"%zu\"},\n\"traceEvents\":[\n", nb);
    vz_printf(&b, "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":\"CPUs\"}}", PID_CPUS);
    meta(&b, PID_CPUS, -1, "process_sort_index", "sort_index", NULL, 0);
    meta(&b, PID_THREADS, -1, "process_name", "name", "threads", 0);
    meta(&b, PID_THREADS, -1, "process_sort_index", "sort_index", NULL, 1);
    int cpus = m.cpus;
    for (size_t i = 0; i < nb; i++)
      if (blk[i].cpu + 1 > cpus) cpus = blk[i].cpu + 1;
    for (int c = 0; c < cpus; c++) {
      char name[16];
      snprintf(name, sizeof name, "CPU %d", c);
      meta(&b, PID_CPUS, c + 1, "thread_name", "name", name, 0);
      meta(&b, PID_CPUS, c + 1, "thread_sort_index", "sort_index", NULL, c);
    }
    for (size_t t = 0; t < m.nthr; t++) {
      meta(&b, PID_THREADS, (int)m.thr[t].id, "thread_name", "name", m.thr[t].name, 0);
      meta(&b, PID_THREADS, (int)m.thr[t].id, "thread_sort_index", "sort_index", NULL, (int)m.thr[t].id);
    }
    frames_json(&b, &m, blk, nb);
    threads_json(&b, &m);
    flows_json(&b, &m, evb);
    vz_puts(&b, "\n]}\n");
    if (b.oom) rc = vz_fail(err, errlen, VIZ_ENOMEM, out_path, "out of memory");
  }
  if (rc == VIZ_OK) {
    vz_out_t o;
    rc = vz_out_begin(&o, out_path, err, errlen);
    if (rc == VIZ_OK) {
      bool ok = fwrite(b.s, 1, b.len, o.f) == b.len;
      rc = vz_out_end(&o, ok, err, errlen);
      if (!ok && rc == VIZ_OK) rc = vz_fail(err, errlen, VIZ_EIO, out_path, "cannot write");
    }
  }
  vz_str_free(&b);
  free(blk);
  free(evb);
  vz_close(&m);
  return rc;
}
