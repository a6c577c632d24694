/*
 * state.c - the machine-state model (state.h): applies a run's steps one
 * at a time, by their typed facts, to a picture of the machine - CPUs with
 * their frames and DPC queues, threads with their waits, IRP lists and APC
 * queues, completion ports, event objects, and every IRP's stack locations
 * (the same rules as `iosim irp`'s replay, tracedb_irp.c).
 */
#include <stdlib.h>
#include <string.h>

#include "state_int.h"
#include "iosim/alloc.h"

/* Grows a vector to hold one more item (iosim_realloc exits on
   exhaustion: a half-applied step would be a lie). */
static void *grow(void *v, size_t *cap, size_t n, size_t sz) {
  if (n < *cap) return v;
  size_t c = *cap ? *cap * 2 : 8;
  void *p = iosim_realloc(v, c * sz);
  *cap = c;
  return p;
}

const char *mst_time(uint64_t ns, char buf[32]) {
  snprintf(buf, 32, "%llu.%03llu us", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
  return buf;
}

/* ---- lookups (sorted arrays, inserted in id order) ---- */

static mst_thread_t *thr_get(mst_t *m, uint32_t id) {
  if (!id) return NULL;
  size_t i = 0;
  while (i < m->nthr && m->thr[i].id < id) i++;
  if (i < m->nthr && m->thr[i].id == id) return &m->thr[i];
  m->thr = grow(m->thr, &m->capthr, m->nthr, sizeof *m->thr);
  memmove(&m->thr[i + 1], &m->thr[i], (m->nthr - i) * sizeof *m->thr);
  m->nthr++;
  m->thr[i] = (mst_thread_t){.id = id, .state = MST_T_INIT, .cpu = -1, .wait_kind = TRC_WAIT};
  return &m->thr[i];
}

static mst_irp_t *irp_get(mst_t *m, uint32_t id, bool create) {
  if (!id) return NULL;
  size_t lo = 0, hi = m->nirp;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (m->irp[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  if (lo < m->nirp && m->irp[lo].id == id) return &m->irp[lo];
  if (!create) return NULL;
  m->irp = grow(m->irp, &m->capirp, m->nirp, sizeof *m->irp);
  memmove(&m->irp[lo + 1], &m->irp[lo], (m->nirp - lo) * sizeof *m->irp);
  m->nirp++;
  m->irp[lo] = (mst_irp_t){.id = id, .major = -1};
  return &m->irp[lo];
}

static mst_port_t *port_get(mst_t *m, uint32_t id) {
  if (!id) return NULL;
  for (size_t i = 0; i < m->nport; i++)
    if (m->port[i].id == id) return &m->port[i];
  m->port = grow(m->port, &m->capport, m->nport, sizeof *m->port);
  m->port[m->nport] = (mst_port_t){.id = id, .running = -1, .limit = -1};
  return &m->port[m->nport++];
}

static mst_object_t *obj_get(mst_t *m, uint32_t id) {
  if (!id) return NULL;
  for (size_t i = 0; i < m->nobj; i++)
    if (m->obj[i].id == id) return &m->obj[i];
  m->obj = grow(m->obj, &m->capobj, m->nobj, sizeof *m->obj);
  m->obj[m->nobj] = (mst_object_t){.id = id, .signalled = -1};
  return &m->obj[m->nobj++];
}

/* ---- CPUs ---- */

static void push_frame(mst_cpu_t *c, mst_frame_t f) {
  if (c->depth < MST_MAX_FRAMES) c->frame[c->depth++] = f;
}

/* Brings the frame stack in line with what the step says the CPU runs. */
static void reconcile(mst_t *m, mst_cpu_t *c, const trc_event_t *e) {
  while (c->depth > 1 && c->frame[c->depth - 1].kind != e->frame) c->depth--;
  mst_frame_t *top = &c->frame[c->depth - 1];
  if (c->depth == 1 && top->kind != e->frame) {
    if (e->frame == TRC_FRAME_THREAD || e->frame == TRC_FRAME_IDLE) {
      top->kind = e->frame;
      top->since = m->step;
    } else {
      push_frame(c, (mst_frame_t){.kind = e->frame, .thread = e->thread, .since = m->step});
    }
  }
  /* The thread underneath: the one running, or interrupted. */
  if (c->frame[0].thread != e->thread) {
    c->frame[0].thread = e->thread;
    c->frame[0].since = m->step;
    if (c->frame[0].kind == TRC_FRAME_IDLE && e->thread) c->frame[0].kind = TRC_FRAME_THREAD;
  }
}

static void pop_frame(mst_cpu_t *c, trc_frame_t kind) {
  if (c->depth > 1 && c->frame[c->depth - 1].kind == kind) c->depth--;
}

static void dpc_remove(mst_cpu_t *c, const trc_event_t *e) {
  size_t hit = c->ndpc;
  for (size_t i = 0; i < c->ndpc && hit == c->ndpc; i++)
    if (c->dpc[i].device == e->device && c->dpc[i].irp == e->irp &&
        (c->dpc[i].name == e->service || (c->dpc[i].name && e->service && !strcmp(c->dpc[i].name, e->service))))
      hit = i;
  for (size_t i = 0; i < c->ndpc && hit == c->ndpc; i++)
    if (c->dpc[i].name && e->service && !strcmp(c->dpc[i].name, e->service)) hit = i;
  if (hit == c->ndpc) return; /* a timer's DPC: queued by the clock, untraced */
  memmove(&c->dpc[hit], &c->dpc[hit + 1], (c->ndpc - hit - 1) * sizeof *c->dpc);
  c->ndpc--;
}

static bool same_dpc(const trc_event_t *q, const trc_event_t *e) {
  return q->device == e->device && q->irp == e->irp &&
         (q->service == e->service || (q->service && e->service && !strcmp(q->service, e->service)));
}

/* The trace says where a DPC was queued and when it ran, not whether it
   went to the head of the queue (KeInsertQueueDpc puts a HighImportance
   DPC there).  The order the DPCs ran in tells: replay the queues with
   every DPC at the tail; one that runs while others queued before it wait
   went to the head.  Marked, and replayed again until all run in order. */
void mst_dpc_order(mst_run_t *r) {
  r->dpc_head = iosim_calloc(r->nev + 1, sizeof *r->dpc_head);
  uint64_t **q = iosim_calloc((size_t)r->cpus, sizeof *q);
  size_t *n = iosim_calloc((size_t)r->cpus, sizeof *n), *cap = iosim_calloc((size_t)r->cpus, sizeof *cap);
  for (int pass = 0; pass < 1024; pass++) {
    bool again = false;
    memset(n, 0, (size_t)r->cpus * sizeof *n);
    for (size_t k = 0; k < r->nev && !again; k++) {
      const trc_event_t *e = &r->ev[k];
      int c = e->target_cpu >= 0 ? e->target_cpu : e->cpu; /* both < r->cpus (mst_load) */
      if (c < 0) continue;
      if (e->kind == TRC_DPC_QUEUED) {
        q[c] = grow(q[c], &cap[c], n[c], sizeof **q);
        size_t at = r->dpc_head[k + 1] ? 0 : n[c];
        memmove(&q[c][at + 1], &q[c][at], (n[c] - at) * sizeof **q);
        q[c][at] = k + 1;
        n[c]++;
      } else if (e->kind == TRC_DPC_RUN) {
        size_t i = 0;
        while (i < n[c] && !same_dpc(&r->ev[q[c][i] - 1], e)) i++;
        if (i == n[c]) continue; /* a timer's DPC */
        if (i > 0) {
          r->dpc_head[q[c][i]] = true;
          again = true;
          break;
        }
        memmove(&q[c][0], &q[c][1], (n[c] - 1) * sizeof **q);
        n[c]--;
      }
    }
    if (!again) break;
  }
  for (int c = 0; c < r->cpus; c++) free(q[c]);
  free(q);
  free(n);
  free(cap);
}

static void apply_cpu(mst_t *m, const trc_event_t *e) {
  if (e->cpu < 0) return; /* setup; mst_load counted every CPU a step names */
  mst_cpu_t *c = &m->cpu[e->cpu];
  c->irql = e->irql;
  c->last = m->step;
  switch (e->kind) {
  case TRC_ISR:
    reconcile(m, c, &(trc_event_t){.frame = c->frame[c->depth - 1].kind, .thread = e->thread});
    push_frame(c, (mst_frame_t){.kind = TRC_FRAME_ISR, .thread = e->thread, .device = e->device, .irp = e->irp,
                                .since = m->step});
    break;
  case TRC_DPC_RUN:
    if (c->frame[c->depth - 1].kind != TRC_FRAME_DPC)
      push_frame(c, (mst_frame_t){.kind = TRC_FRAME_DPC, .thread = e->thread, .since = m->step});
    c->frame[c->depth - 1].device = e->device;
    c->frame[c->depth - 1].irp = e->irp;
    c->frame[c->depth - 1].name = e->service;
    c->frame[c->depth - 1].since = m->step;
    break;
  case TRC_APC_RUN:
    push_frame(c, (mst_frame_t){.kind = TRC_FRAME_APC, .thread = e->target_thread, .irp = e->irp, .name = e->service,
                                .since = m->step});
    break;
  case TRC_ISR_END: pop_frame(c, TRC_FRAME_ISR); break;
  case TRC_DPC_END: pop_frame(c, TRC_FRAME_DPC); break;
  case TRC_APC_END:
    /* A user APC's normal routine runs in the thread's frame. */
    if (c->depth > 1) c->depth--;
    break;
  case TRC_USER_CALLBACK: break;
  default: reconcile(m, c, e); break;
  }
  if (e->kind == TRC_DPC_QUEUED) {
    int t = e->target_cpu >= 0 ? e->target_cpu : e->cpu;
    mst_cpu_t *q = &m->cpu[t];
    q->dpc = grow(q->dpc, &q->capdpc, q->ndpc, sizeof *q->dpc);
    size_t at = m->r->dpc_head && m->r->dpc_head[m->step] ? 0 : q->ndpc;
    memmove(&q->dpc[at + 1], &q->dpc[at], (q->ndpc - at) * sizeof *q->dpc);
    q->dpc[at] = (mst_dpc_t){.name = e->service, .device = e->device, .irp = e->irp, .queued = m->step};
    q->ndpc++;
  } else if (e->kind == TRC_DPC_RUN) {
    int t = e->target_cpu >= 0 ? e->target_cpu : e->cpu;
    dpc_remove(&m->cpu[t], e);
  }
}

/* ---- threads ---- */

static void thr_run_on(mst_t *m, mst_thread_t *t, int cpu) {
  if (!t || t->state == MST_T_TERMINATED) return;
  /* Whoever ran there before is ready now (unless it waits or ended). */
  for (size_t i = 0; i < m->nthr; i++)
    if (&m->thr[i] != t && m->thr[i].cpu == cpu && m->thr[i].state == MST_T_RUNNING) {
      m->thr[i].state = MST_T_READY;
      m->thr[i].cpu = -1;
    }
  t->state = MST_T_RUNNING;
  t->cpu = cpu;
}

static void port_unwait(mst_t *m, uint32_t thread) {
  for (size_t p = 0; p < m->nport; p++) {
    mst_port_t *q = &m->port[p];
    for (size_t i = 0; i < q->nwaiter; i++)
      if (q->waiter[i] == thread) {
        memmove(&q->waiter[i], &q->waiter[i + 1], (q->nwaiter - i - 1) * sizeof *q->waiter);
        q->nwaiter--;
        break;
      }
  }
}

static void irp_unlist(mst_t *m, uint32_t irp) {
  for (size_t k = 0; k < m->nthr; k++) {
    mst_thread_t *t = &m->thr[k];
    for (size_t i = 0; i < t->nirp; i++)
      if (t->irp[i] == irp) {
        memmove(&t->irp[i], &t->irp[i + 1], (t->nirp - i - 1) * sizeof *t->irp);
        t->nirp--;
        return;
      }
  }
}

static void apc_remove(mst_thread_t *t, const trc_event_t *e) {
  if (!t) return;
  size_t hit = t->napc;
  for (size_t i = 0; i < t->napc && hit == t->napc; i++)
    if (t->apc[i].irp == e->irp &&
        (t->apc[i].name == e->service || (t->apc[i].name && e->service && !strcmp(t->apc[i].name, e->service))))
      hit = i;
  if (hit == t->napc) return;
  memmove(&t->apc[hit], &t->apc[hit + 1], (t->napc - hit - 1) * sizeof *t->apc);
  t->napc--;
}

static void apply_thread(mst_t *m, const trc_event_t *e) {
  mst_thread_t *t = e->target_thread ? thr_get(m, e->target_thread) : NULL;
  switch (e->kind) {
  case TRC_THREAD_CREATE: break; /* thr_get made it: not started */
  case TRC_THREAD_START: thr_run_on(m, t, e->cpu); break;
  case TRC_SWITCH:
    if (t) thr_run_on(m, t, e->cpu);
    else
      for (size_t i = 0; i < m->nthr; i++)
        if (m->thr[i].cpu == e->cpu && m->thr[i].state == MST_T_RUNNING) m->thr[i].state = MST_T_READY, m->thr[i].cpu = -1;
    break;
  case TRC_WAIT:
  case TRC_SLEEP:
    if (!t) break;
    /* KeRemoveQueue's wait follows its port-wait: it stays a port wait. */
    if (!(t->wait_kind == TRC_PORT_WAIT && t->state == MST_T_WAITING)) {
      t->wait_kind = e->kind;
      t->wait_port = 0;
    }
    t->state = MST_T_WAITING;
    t->wait_count = e->count < 0 ? 0 : e->count;
    t->wait_object = e->object;
    if (t->wait_kind != TRC_PORT_WAIT) t->wait_step = m->step;
    t->woken = false;
    break;
  case TRC_PORT_WAIT: {
    mst_thread_t *w = thr_get(m, e->thread);
    mst_port_t *p = port_get(m, e->port);
    if (w) {
      w->state = MST_T_WAITING;
      w->wait_kind = TRC_PORT_WAIT;
      w->wait_port = e->port;
      w->wait_count = 1;
      w->wait_object = 0;
      w->wait_step = m->step;
      w->woken = false;
    }
    if (p && w) {
      p->waiter = grow(p->waiter, &p->capwaiter, p->nwaiter, sizeof *p->waiter);
      p->waiter[p->nwaiter++] = w->id;
    }
    if (p && e->running >= 0) p->running = e->running, p->limit = e->limit;
    break;
  }
  case TRC_WAKE:
    if (t && t->state == MST_T_WAITING) t->state = MST_T_READY, t->cpu = -1;
    if (t) t->woken = true;
    break;
  case TRC_WAIT_DONE:
  case TRC_SLEEP_DONE:
    if (!t) break;
    thr_run_on(m, t, e->cpu);
    t->woken = false;
    t->done_step = m->step;
    t->done_status = e->has_status ? e->status : 0;
    port_unwait(m, t->id);
    break;
  case TRC_THREAD_EXIT:
    if (!t) break;
    t->state = MST_T_TERMINATED;
    t->cpu = -1;
    port_unwait(m, t->id);
    break;
  case TRC_IRP_QUEUE_THREAD:
    if (!t) break;
    t->irp = grow(t->irp, &t->capirp, t->nirp, sizeof *t->irp);
    memmove(&t->irp[1], &t->irp[0], t->nirp * sizeof *t->irp); /* InsertHeadList */
    t->irp[0] = e->irp;
    t->nirp++;
    break;
  case TRC_IRP_UNQUEUE_THREAD: irp_unlist(m, e->irp); break;
  case TRC_APC_QUEUED:
    if (!t) break;
    t->apc = grow(t->apc, &t->capapc, t->napc, sizeof *t->apc);
    t->apc[t->napc++] = (mst_apc_t){.kind = e->count == 2 ? MST_APC_USER : e->count == 1 ? MST_APC_KERNEL : MST_APC_SPECIAL,
                                    .name = e->service, .irp = e->irp, .queued = m->step};
    break;
  case TRC_APC_RUN:
  case TRC_APC_RUNDOWN: apc_remove(t, e); break;
  default: break;
  }
  /* A step in a thread's frame shows who runs on that CPU. */
  if (e->cpu >= 0 && e->frame == TRC_FRAME_THREAD && e->thread && e->kind != TRC_THREAD_EXIT) {
    mst_thread_t *r = thr_get(m, e->thread);
    if (r->state != MST_T_RUNNING && r->state != MST_T_TERMINATED && r->state != MST_T_WAITING) thr_run_on(m, r, e->cpu);
  }
}

/* ---- ports and objects ---- */

static void pk_remove(mst_port_t *p, uint32_t irp) {
  size_t hit = p->npk;
  for (size_t i = 0; i < p->npk && hit == p->npk; i++)
    if (p->pk[i].irp == irp) hit = i;
  if (hit == p->npk && p->npk) hit = 0;
  if (hit == p->npk) return;
  memmove(&p->pk[hit], &p->pk[hit + 1], (p->npk - hit - 1) * sizeof *p->pk);
  p->npk--;
}

static void apply_port(mst_t *m, const trc_event_t *e) {
  mst_port_t *p = NULL;
  switch (e->kind) {
  case TRC_PORT_CREATED:
    p = port_get(m, e->port);
    p->created = true;
    p->limit = e->limit;
    p->running = 0;
    break;
  case TRC_PORT_QUEUED:
    p = port_get(m, e->port);
    if (e->target_thread) { /* handed straight to a waiting thread */
      port_unwait(m, e->target_thread);
    } else {
      p->pk = grow(p->pk, &p->cappk, p->npk, sizeof *p->pk);
      p->pk[p->npk++] = (mst_packet_t){.irp = e->irp, .queued = m->step};
    }
    if (e->irp) irp_get(m, e->irp, true)->port = e->port;
    break;
  case TRC_PORT_DEQUEUED:
    p = port_get(m, e->port);
    pk_remove(p, e->irp);
    port_unwait(m, e->target_thread);
    if (e->irp) irp_get(m, e->irp, true)->port = 0;
    break;
  case TRC_PORT_PACKET_FREED:
    p = port_get(m, e->port);
    pk_remove(p, e->irp);
    break;
  case TRC_PORT_CLOSED:
    p = port_get(m, e->port);
    p->closed = true;
    p->npk = 0;
    p->nwaiter = 0;
    break;
  case TRC_EVENT_SET:
  case TRC_EVENT_CLEAR: {
    mst_object_t *o = obj_get(m, e->object);
    if (o) o->signalled = e->kind == TRC_EVENT_SET, o->changed = m->step;
    break;
  }
  default: break;
  }
  if (p && e->running >= 0) p->running = e->running;
  if (p && e->limit >= 0) p->limit = e->limit;
}

/* ---- IRPs ---- */

/* The walk moved the IRP up from cur to `to`: it consumed each location's
   pending bit into PendingReturned and cleared it. */
static void walk_to(mst_irp_t *v, int to) {
  /* cur >= 1: it starts at n + 1 and only a step's location (> 0) moves it. */
  for (int l = v->cur; l < to && l <= v->n; l++) {
    v->pending_returned = (v->loc[l].control & SL_PENDING_RETURNED) != 0;
    v->loc[l].control &= SL_ERROR_RETURNED;
    v->loc[l].walked = true;
  }
}

static mst_loc_t *loc_at(mst_irp_t *v, int l) { return l >= 1 && l <= v->n ? &v->loc[l] : NULL; }

static void irp_alloc(mst_t *m, mst_irp_t *v, const trc_event_t *e) {
  const mst_name_t *row = mst_irp_row(m->r, v->id);
  int n = e->stack_size > 0 && e->stack_size <= 255 ? e->stack_size : 1;
  free(v->loc);
  *v = (mst_irp_t){.id = v->id, .live = true, .n = n, .cur = n + 1, .major = -1, .alloc = m->step};
  v->loc = iosim_calloc((size_t)n + 2, sizeof *v->loc);
  for (int l = 0; l <= n + 1; l++) v->loc[l].major = v->loc[l].minor = -1, v->loc[l].offset = -1;
  if (row) {
    v->major = (int)row->a;
    v->thread = (uint32_t)row->b;
    v->file = (uint32_t)row->c;
    v->master = (uint32_t)row->d;
  }
  if (e->target_irp) v->master = e->target_irp;
  /* The I/O manager allocates a system service's IRP first thing: the
     top location gets the service's parameters. */
  for (size_t i = 0; i < m->nargs; i++)
    if (m->args[i].thread == e->thread && e->thread) {
      mst_loc_t *top = &v->loc[n];
      top->major = m->args[i].major;
      if (v->major < 0) v->major = top->major;
      if (m->args[i].major == IRP_MJ_READ || m->args[i].major == IRP_MJ_WRITE ||
          m->args[i].major == IRP_MJ_DEVICE_CONTROL) {
        top->has_args = true;
        top->length = m->args[i].length;
        top->offset = m->args[i].offset;
      }
      m->args[i] = m->args[--m->nargs];
      break;
    }
}

static void apply_irp(mst_t *m, const trc_event_t *e) {
  if (e->kind == TRC_SYSCALL && e->thread && e->major >= 0) {
    size_t i = 0;
    while (i < m->nargs && m->args[i].thread != e->thread) i++;
    if (i == m->nargs) {
      m->args = grow(m->args, &m->capargs, m->nargs, sizeof *m->args);
      m->nargs++;
    }
    m->args[i] = (struct mst_pending_args){.thread = e->thread, .major = e->major,
                                           .length = e->count < 0 ? 0 : (uint64_t)e->count, .offset = e->offset};
    return;
  }
  if (e->kind == TRC_SYSCALL_RETURN) {
    for (size_t i = 0; i < m->nargs; i++)
      if (m->args[i].thread == e->thread) m->args[i] = m->args[--m->nargs];
    return;
  }
  if (!e->irp) return;
  mst_irp_t *v = irp_get(m, e->irp, e->kind == TRC_IRP_ALLOC);
  if (!v) return;
  if (e->kind == TRC_IRP_ALLOC) irp_alloc(m, v, e);
  if (!v->loc) return; /* allocated before the trace began: nothing known */
  v->last = m->step;
  /* A step's stack_location is the IRP's CurrentLocation, except where it
     reports where a call or routine began. */
  int sl = e->stack_location;
  if (sl > 0 && e->kind != TRC_RETURN && !(e->kind == TRC_COMPLETION_RETURN && e->has_status &&
                                            e->status == (int32_t)STATUS_MORE_PROCESSING_REQUIRED)) {
    if (v->walking && sl > v->cur) walk_to(v, sl);
    v->cur = sl;
  }
  mst_loc_t *l;
  switch (e->kind) {
  case TRC_CALL:
    if ((l = loc_at(v, e->loc_to ? e->loc_to : sl))) {
      l->filled = true;
      l->walked = false;
      l->device = e->device;
      if (e->major >= 0) l->major = e->major, l->minor = e->minor;
    }
    if (v->major < 0) v->major = e->major;
    break;
  case TRC_COPY_STACK:
    if ((l = loc_at(v, e->loc_to))) {
      const mst_loc_t *from = loc_at(v, e->loc_from);
      l->filled = true;
      l->walked = false;
      l->control = e->control >= 0 ? (unsigned)e->control : 0u;
      l->routine = false;
      l->major = e->major, l->minor = e->minor;
      if (from) l->has_args = from->has_args, l->length = from->length, l->offset = from->offset;
    }
    break;
  case TRC_SET_COMPLETION:
    if ((l = loc_at(v, e->loc_to))) {
      l->control = e->control >= 0 ? (unsigned)e->control : 0u;
      l->routine = true;
      l->routine_device = e->routine_device;
    }
    break;
  case TRC_MARK_PENDING:
  case TRC_PENDING_PROPAGATED:
    if ((l = loc_at(v, e->loc_to ? e->loc_to : sl)))
      l->control = e->control >= 0 ? (unsigned)e->control : l->control | SL_PENDING_RETURNED;
    if (e->pending_returned >= 0) v->pending_returned = e->pending_returned;
    break;
  case TRC_COMPLETE:
    v->walking = true;
    v->stopped = false;
    v->completed = false;
    break;
  case TRC_COMPLETION_CALL:
  case TRC_COMPLETION_RETURN:
    if (e->pending_returned >= 0) v->pending_returned = e->pending_returned;
    break;
  case TRC_WALK_STOPPED:
    v->walking = false;
    v->stopped = true;
    break;
  case TRC_WALK_DONE:
    v->walking = false;
    v->completed = true;
    if (e->pending_returned >= 0) v->pending_returned = e->pending_returned;
    break;
  case TRC_SET_CANCEL:
    if (e->cancel_routine >= 0) v->cancel_routine = e->cancel_routine != 0;
    break;
  case TRC_CANCEL:
    v->cancel = true;
    if (e->writes & TRC_W_CANCEL_ROUTINE) v->cancel_routine = false; /* IoCancelIrp takes it to call it */
    break;
  case TRC_IRP_OUTSTANDING: v->outstanding = e->irp_state; break;
  case TRC_IRP_FREE:
    v->live = false;
    v->freed = m->step;
    break;
  default: break;
  }
  /* The steps that report the IRP's IoStatus (not a routine's or a
     dispatch routine's return value, nor a wait's). */
  bool reports = e->kind == TRC_COMPLETE || e->kind == TRC_COMPLETION_CALL || e->kind == TRC_WALK_DONE ||
                 e->kind == TRC_STAGE2 || e->kind == TRC_IOSB_WRITTEN;
  if (reports && e->has_status) v->has_status = true, v->status = e->status;
  if (reports && e->has_info) v->has_info = true, v->info = e->info;
}

/* ---- the machine ---- */

mst_t *mst_new(const mst_run_t *r) {
  mst_t *m = iosim_calloc(1, sizeof *m);
  m->r = r;
  m->ncpu = mst_run_cpus(r);
  m->cpu = iosim_calloc((size_t)m->ncpu, sizeof *m->cpu);
  for (int i = 0; i < m->ncpu; i++) m->cpu[i].depth = 1, m->cpu[i].frame[0].kind = TRC_FRAME_IDLE;
  /* Every thread and port the run knows, from its first step. */
  for (size_t i = 1; i < r->threads.n; i++)
    if (r->threads.v[i].name) thr_get(m, (uint32_t)i);
  return m;
}

static void reset(mst_t *m) {
  for (int i = 0; i < m->ncpu; i++) {
    free(m->cpu[i].dpc);
    m->cpu[i] = (mst_cpu_t){.depth = 1};
    m->cpu[i].frame[0].kind = TRC_FRAME_IDLE;
  }
  for (size_t i = 0; i < m->nthr; i++) free(m->thr[i].irp), free(m->thr[i].apc);
  for (size_t i = 0; i < m->nirp; i++) free(m->irp[i].loc);
  for (size_t i = 0; i < m->nport; i++) free(m->port[i].pk), free(m->port[i].waiter);
  m->nthr = m->nirp = m->nport = m->nobj = m->nargs = 0;
  m->step = 0;
  for (size_t i = 1; i < m->r->threads.n; i++)
    if (m->r->threads.v[i].name) thr_get(m, (uint32_t)i);
}

void mst_free(mst_t *m) {
  if (!m) return;
  reset(m);
  free(m->cpu);
  free(m->thr);
  free(m->irp);
  free(m->port);
  free(m->obj);
  free(m->args);
  free(m);
}

const mst_run_t *mst_run(const mst_t *m) { return m->r; }
uint64_t mst_step(const mst_t *m) { return m->step; }

bool mst_next(mst_t *m) {
  const trc_event_t *e = mst_run_event(m->r, m->step + 1);
  if (!e) return false;
  m->step++;
  apply_cpu(m, e);
  apply_thread(m, e);
  apply_port(m, e);
  apply_irp(m, e);
  return true;
}

void mst_seek(mst_t *m, uint64_t step) {
  if (step > mst_run_steps(m->r)) step = mst_run_steps(m->r);
  if (step < m->step) reset(m);
  while (m->step < step && mst_next(m)) {
  }
}

const mst_cpu_t *mst_cpu(const mst_t *m, int cpu) { return cpu >= 0 && cpu < m->ncpu ? &m->cpu[cpu] : NULL; }
size_t mst_nthreads(const mst_t *m) { return m->nthr; }
const mst_thread_t *mst_thread_at(const mst_t *m, size_t i) { return i < m->nthr ? &m->thr[i] : NULL; }
const mst_thread_t *mst_thread(const mst_t *m, uint32_t id) {
  for (size_t i = 0; i < m->nthr; i++)
    if (m->thr[i].id == id) return &m->thr[i];
  return NULL;
}
size_t mst_nirps(const mst_t *m) { return m->nirp; }
const mst_irp_t *mst_irp_at(const mst_t *m, size_t i) { return i < m->nirp ? &m->irp[i] : NULL; }
const mst_irp_t *mst_irp(const mst_t *m, uint32_t id) { return irp_get((mst_t *)m, id, false); }
size_t mst_nports(const mst_t *m) { return m->nport; }
const mst_port_t *mst_port_at(const mst_t *m, size_t i) { return i < m->nport ? &m->port[i] : NULL; }
const mst_port_t *mst_port(const mst_t *m, uint32_t id) {
  for (size_t i = 0; i < m->nport; i++)
    if (m->port[i].id == id) return &m->port[i];
  return NULL;
}
const mst_object_t *mst_object(const mst_t *m, uint32_t id) {
  for (size_t i = 0; i < m->nobj; i++)
    if (m->obj[i].id == id) return &m->obj[i];
  return NULL;
}
