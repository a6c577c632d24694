/*
 * state_print.c - the machine-state model's views as text (state.h): the
 * step, the CPUs and their DPC queues, threads as !thread shows them, an
 * IRP as !irp, every live IRP as !irpfind, completion ports, device stacks
 * as !devstack.  The command line prints these; the HTML explorer embeds
 * them.
 */
#include <string.h>

#include "state_int.h"

static const char *irql_name(int irql, char buf[16]) { return trc_irql_name(irql, buf); }

/* "2 (r1)" or "2" */
static const char *irp_label(const mst_run_t *r, uint32_t id, char buf[80]) {
  const char *tag = mst_irp_tag(r, id);
  if (*tag) snprintf(buf, 80, "%u (%s)", id, tag);
  else snprintf(buf, 80, "%u", id);
  return buf;
}

static const char *thread_label(const mst_run_t *r, uint32_t id, char buf[80]) {
  const char *n = mst_thread_name(r, id);
  if (!id) snprintf(buf, 80, "none");
  else if (*n) snprintf(buf, 80, "%s (%u)", n, id);
  else snprintf(buf, 80, "thread %u", id);
  return buf;
}

static const char *object_label(const mst_run_t *r, uint32_t id, char buf[80]) {
  const char *n = mst_object_name(r, id);
  if (*n) snprintf(buf, 80, "%s (object %u)", n, id);
  else snprintf(buf, 80, "object %u", id);
  return buf;
}

static const char *major_name(int major) { return major >= 0 ? iosim_major_name((UCHAR)major) : "IRP_MJ_?"; }

void mst_print_step(const mst_t *m, FILE *out) {
  const trc_event_t *e = mst_run_event(m->r, m->step);
  char tb[32], ib[16], lb[80];
  if (!e) {
    fprintf(out, "step #0 of %llu: before the first step\n", (unsigned long long)mst_run_steps(m->r));
    return;
  }
  fprintf(out, "step #%llu of %llu at %s: %s", (unsigned long long)m->step, (unsigned long long)mst_run_steps(m->r),
          mst_time(e->t_ns, tb), trc_kind_name(e->kind));
  if (e->cpu >= 0) fprintf(out, ", CPU %d %s %s", e->cpu, irql_name(e->irql, ib), trc_frame_name(e->frame));
  if (e->thread) fprintf(out, ", thread %s", thread_label(m->r, e->thread, lb));
  if (e->irp) fprintf(out, ", IRP %s", irp_label(m->r, e->irp, lb));
  if (e->device) fprintf(out, ", %s", mst_device_name(m->r, e->device));
  fputc('\n', out);
}

static void print_frame(const mst_t *m, const mst_frame_t *f, FILE *out) {
  char lb[80];
  switch (f->kind) {
  case TRC_FRAME_IDLE: fprintf(out, "idle loop"); break;
  case TRC_FRAME_THREAD: fprintf(out, "thread %s", thread_label(m->r, f->thread, lb)); break;
  case TRC_FRAME_APC:
    fprintf(out, "APC %s in thread %s", f->name ? f->name : "?", thread_label(m->r, f->thread, lb));
    break;
  case TRC_FRAME_DPC: fprintf(out, "DPC %s", f->name ? f->name : f->device ? mst_device_name(m->r, f->device) : "?"); break;
  case TRC_FRAME_ISR: fprintf(out, "ISR of %s", f->device ? mst_device_name(m->r, f->device) : "?"); break;
  }
  if (f->irp && f->kind != TRC_FRAME_THREAD) fprintf(out, ", IRP %s", irp_label(m->r, f->irp, lb));
  if (f->since) fprintf(out, "  (since #%llu)", (unsigned long long)f->since);
  fputc('\n', out);
}

static void print_dpc_queue(const mst_t *m, const mst_cpu_t *c, FILE *out) {
  char lb[80];
  if (!c->ndpc) {
    fprintf(out, "  DPC queue: empty\n");
    return;
  }
  fprintf(out, "  DPC queue (%zu, head first):\n", c->ndpc);
  for (size_t i = 0; i < c->ndpc; i++) {
    const mst_dpc_t *d = &c->dpc[i];
    fprintf(out, "    %zu. %s", i + 1, d->name ? d->name : d->device ? mst_device_name(m->r, d->device) : "DPC");
    if (d->device && (!d->name || strcmp(d->name, mst_device_name(m->r, d->device)) != 0))
      fprintf(out, " for %s", mst_device_name(m->r, d->device));
    if (d->irp) fprintf(out, ", IRP %s", irp_label(m->r, d->irp, lb));
    fprintf(out, ", queued at #%llu\n", (unsigned long long)d->queued);
  }
}

void mst_print_cpus(const mst_t *m, FILE *out) {
  char ib[16];
  for (int i = 0; i < m->ncpu; i++) {
    const mst_cpu_t *c = &m->cpu[i];
    fprintf(out, "CPU %d  IRQL %s\n", i, c->last ? irql_name(c->irql, ib) : "PASSIVE");
    fprintf(out, "  frames (innermost first):\n");
    for (int d = c->depth - 1; d >= 0; d--) {
      fprintf(out, "    ");
      print_frame(m, &c->frame[d], out);
    }
    print_dpc_queue(m, c, out);
  }
}

void mst_print_dpcs(const mst_t *m, FILE *out) {
  for (int i = 0; i < m->ncpu; i++) {
    fprintf(out, "CPU %d", i);
    const mst_cpu_t *c = &m->cpu[i];
    if (c->depth > 1 && c->frame[c->depth - 1].kind == TRC_FRAME_DPC)
      fprintf(out, " (running DPC %s)", c->frame[c->depth - 1].name ? c->frame[c->depth - 1].name : "?");
    fputc('\n', out);
    print_dpc_queue(m, c, out);
  }
}

/* ---- threads ---- */

static const char *tstate_name(mst_tstate_t s) {
  static const char *const names[] = {
      [MST_T_INIT] = "Initialized (not started)", [MST_T_READY] = "Ready", [MST_T_RUNNING] = "Running",
      [MST_T_WAITING] = "Waiting", [MST_T_TERMINATED] = "Terminated"};
  return names[s];
}

/* Where an IRP is, in a few words. */
static void irp_where_now(const mst_t *m, const mst_irp_t *v, FILE *out) {
  char lb[80];
  if (!v->live) {
    fprintf(out, "freed at #%llu", (unsigned long long)v->freed);
    return;
  }
  if (v->port) {
    fprintf(out, "completion packet on port %s", mst_port_name(m->r, v->port));
    return;
  }
  for (size_t i = 0; i < m->nthr; i++)
    for (size_t k = 0; k < m->thr[i].napc; k++)
      if (m->thr[i].apc[k].irp == v->id && v->completed) {
        fprintf(out, "stage-2 APC queued to %s", thread_label(m->r, m->thr[i].id, lb));
        return;
      }
  if (v->walking) fprintf(out, "being completed (walk at location %d)", v->cur);
  else if (v->completed && v->master)
    fprintf(out, "walk finished: an associated IRP, to be counted off master IRP %u and freed", v->master);
  else if (v->completed && !v->pending_returned)
    fprintf(out, "walk finished with PendingReturned 0, no stage 2 queued: only the system service can finish it");
  else if (v->completed) fprintf(out, "walk finished, stage 2 to come");
  else if (v->stopped && v->cur <= v->n)
    fprintf(out, "taken back by %s's completion routine (walk stopped at location %d)",
            mst_device_name(m->r, v->cur >= 1 && v->cur <= v->n ? v->loc[v->cur].device : 0), v->cur);
  else if (v->stopped) fprintf(out, "taken back by its creator's completion routine");
  else if (v->cur >= 1 && v->cur <= v->n && v->loc[v->cur].device)
    fprintf(out, "at %s, location %d%s", mst_device_name(m->r, v->loc[v->cur].device), v->cur,
            v->loc[v->cur].control & SL_PENDING_RETURNED ? ", marked pending" : "");
  else fprintf(out, "with its creator, not sent yet");
}

static void irp_where(const mst_t *m, const mst_irp_t *v, FILE *out) {
  irp_where_now(m, v, out);
  if (v->live && v->outstanding != TRC_IRPST_NONE)
    fprintf(out, " [end of run: %s]", trc_irp_state_name(v->outstanding));
}

static void print_wait(const mst_t *m, const mst_thread_t *t, FILE *out) {
  char lb[80];
  if (t->wait_kind == TRC_SLEEP) fprintf(out, "a sleep (KeDelayExecutionThread)");
  else if (t->wait_kind == TRC_PORT_WAIT) fprintf(out, "GetQueuedCompletionStatus on port %s", mst_port_name(m->r, t->wait_port));
  else {
    fprintf(out, "%d object(s)", t->wait_count);
    if (t->wait_object) {
      const mst_object_t *o = mst_object(m, t->wait_object);
      fprintf(out, ": %s", object_label(m->r, t->wait_object, lb));
      if (o && o->signalled >= 0) fprintf(out, " (SignalState %d)", o->signalled);
      if (t->wait_count > 1) fprintf(out, " and %d more", t->wait_count - 1);
    }
  }
}

static void print_one_thread(const mst_t *m, const mst_thread_t *t, FILE *out) {
  char lb[80], sb[16];
  fprintf(out, "THREAD %s  %s", thread_label(m->r, t->id, lb), tstate_name(t->state));
  if (t->state == MST_T_RUNNING && t->cpu >= 0) fprintf(out, " on CPU %d", t->cpu);
  fputc('\n', out);
  if (t->state == MST_T_WAITING || (t->state == MST_T_READY && t->woken)) {
    fprintf(out, "  %s on ", t->state == MST_T_WAITING ? "Waiting" : "Woken, not yet back from its wait");
    print_wait(m, t, out);
    fprintf(out, " since #%llu\n", (unsigned long long)t->wait_step);
  } else if (t->done_step) {
    fprintf(out, "  Last wait: ");
    print_wait(m, t, out);
    fprintf(out, ", ended at #%llu with %s\n", (unsigned long long)t->done_step, iosim_status_name(t->done_status, sb));
  }
  if (!t->nirp) fprintf(out, "  IRP List: empty\n");
  else fprintf(out, "  IRP List:\n");
  for (size_t i = 0; i < t->nirp; i++) {
    const mst_irp_t *v = mst_irp(m, t->irp[i]);
    fprintf(out, "    %-10s %-22s ", irp_label(m->r, t->irp[i], lb), v ? major_name(v->major) : "IRP_MJ_?");
    if (v) irp_where(m, v, out);
    fputc('\n', out);
  }
  static const char *const qn[] = {"Kernel APC queue", "User APC queue"};
  for (int q = 0; q < 2; q++) {
    size_t n = 0;
    for (size_t i = 0; i < t->napc; i++) n += (t->apc[i].kind == MST_APC_USER) == (q == 1);
    fprintf(out, "  %s:%s\n", qn[q], n ? "" : " empty");
    for (size_t i = 0; i < t->napc; i++) {
      const mst_apc_t *a = &t->apc[i];
      if ((a->kind == MST_APC_USER) != (q == 1)) continue;
      fprintf(out, "    %s%s", a->name ? a->name : "APC",
              a->kind == MST_APC_SPECIAL ? " (special)" : a->kind == MST_APC_KERNEL ? " (normal)" : "");
      if (a->irp) fprintf(out, ", IRP %s", irp_label(m->r, a->irp, lb));
      fprintf(out, ", queued at #%llu\n", (unsigned long long)a->queued);
    }
  }
}

void mst_print_thread(const mst_t *m, uint32_t id, FILE *out) {
  bool first = true;
  for (size_t i = 0; i < m->nthr; i++) {
    if (id && m->thr[i].id != id) continue;
    if (!first) fputc('\n', out);
    first = false;
    print_one_thread(m, &m->thr[i], out);
  }
  if (first) fprintf(out, "no thread %u at this step\n", id);
}

/* ---- !irp ---- */

static void print_loc(const mst_t *m, const mst_irp_t *v, int l, FILE *out) {
  const mst_loc_t *s = &v->loc[l];
  char lb[80];
  bool cur = l == v->cur;
  int major = s->major >= 0 ? s->major : v->major;
  /* IopClearStackLocation keeps MajorFunction; it clears the minor. */
  if (s->filled)
    fprintf(out, "%c[%s(%x), N/A(%d)]\n", cur ? '>' : ' ', major_name(major), major < 0 ? 0 : (unsigned)major,
            s->minor > 0 && !s->walked ? s->minor : 0);
  else
    fprintf(out, "%c[N/A(0), N/A(0)]\n", cur ? '>' : ' ');
  char file[16] = "-", ctx[96] = "-", line[300];
  if (s->filled && !s->walked && v->file) snprintf(file, sizeof file, "%u", v->file);
  if (s->routine) snprintf(ctx, sizeof ctx, "%s's routine", s->routine_device ? mst_device_name(m->r, s->routine_device) : "creator");
  int n = snprintf(line, sizeof line, "            0 %2x %-8s %-8s %-18s%s%s%s%s%s", s->control,
                   s->device ? mst_device_name(m->r, s->device) : "-", file, ctx,
                   s->control & SL_INVOKE_ON_SUCCESS ? " Success" : "", s->control & SL_INVOKE_ON_ERROR ? " Error" : "",
                   s->control & SL_INVOKE_ON_CANCEL ? " Cancel" : "", s->control & SL_PENDING_RETURNED ? " pending" : "",
                   s->walked ? " (completed: cleared by the walk)" : "");
  while (n > 0 && line[n - 1] == ' ') line[--n] = '\0';
  fprintf(out, "%s\n", line);
  if (s->device || s->routine) {
    fprintf(out, "\t       \\Driver\\%s", s->device ? mst_driver_name(m->r, s->device) : "?");
    if (s->routine && s->routine_device)
      fprintf(out, "\tcompletion routine of \\Driver\\%s (%s)", mst_driver_name(m->r, s->routine_device),
              mst_device_name(m->r, s->routine_device));
    else if (s->routine)
      fprintf(out, "\tcompletion routine of the IRP's creator");
    fputc('\n', out);
  }
  /* Parameters as the 32-bit !irp shows them: Length, Key, ByteOffset. */
  if (s->walked || !s->filled) fprintf(out, "\t\t\tArgs: 00000000 00000000 00000000 00000000\n");
  else if (s->has_args && major == IRP_MJ_DEVICE_CONTROL)
    fprintf(out, "\t\t\tArgs: %08llx ? ? ?\t(OutputBufferLength; the rest is not in the trace)\n",
            (unsigned long long)s->length);
  else if (s->has_args) {
    uint64_t off = s->offset < 0 ? 0 : (uint64_t)s->offset;
    fprintf(out, "\t\t\tArgs: %08llx 00000000 %08llx %08llx\t(Length %llu, ByteOffset %lld)\n",
            (unsigned long long)s->length, (unsigned long long)(off & 0xFFFFFFFFu), (unsigned long long)(off >> 32),
            (unsigned long long)s->length, (long long)s->offset);
  } else fprintf(out, "\t\t\tArgs: not in the trace (set up by a driver)\n");
  (void)lb;
}

bool mst_print_irp(const mst_t *m, uint32_t id, FILE *out) {
  const mst_irp_t *v = mst_irp(m, id);
  char lb[80], tb[32], sb[16];
  if (!v || !v->loc) {
    fprintf(out, "IRP %s does not exist yet at step #%llu\n", irp_label(m->r, id, lb), (unsigned long long)m->step);
    return false;
  }
  /* An IRP exists from its allocation step on: m is past step 0. */
  const trc_event_t *at = mst_run_event(m->r, m->step);
  fprintf(out, "IRP %s of run %lld, as of %s (after step #%llu, %s; the IRP's last step: #%llu)\n",
          irp_label(m->r, id, lb), (long long)m->r->run, mst_time(at->t_ns, tb), (unsigned long long)m->step,
          trc_kind_name(at->kind), (unsigned long long)v->last);
  if (!v->live) fprintf(out, "Irp was freed at step #%llu; its last state: %d stacks %d is current\n",
                        (unsigned long long)v->freed, v->n, v->cur);
  else if (v->cur > v->n)
    fprintf(out, "Irp is %s with %d stacks %d is current (%s)\n", v->completed ? "completed" : "active", v->n, v->cur,
            v->completed ? "past the top location: none is marked" : "not yet passed to a driver");
  else fprintf(out, "Irp is active with %d stacks %d is current\n", v->n, v->cur);
  fprintf(out, " %s  Thread %s", major_name(v->major), thread_label(m->r, v->thread, lb));
  if (v->file) fprintf(out, "  File %u", v->file);
  else fprintf(out, "  File none");
  if (v->master) fprintf(out, "  Master IRP %u\n", v->master);
  else fprintf(out, "  Master IRP none\n");
  fprintf(out, " PendingReturned %d  Cancel %d  CancelRoutine %s  ", v->pending_returned, v->cancel,
          v->cancel_routine ? "set" : "none");
  if (v->has_status) fprintf(out, "IoStatus %s, Information %llu\n", iosim_status_name(v->status, sb),
                             (unsigned long long)v->info);
  else fprintf(out, "IoStatus not set yet\n");
  if (v->stopped)
    fprintf(out, " The completion walk stopped: a routine returned STATUS_MORE_PROCESSING_REQUIRED and owns the IRP again\n");
  fprintf(out, "     cmd  flg cl Device   File     Completion-Context\n");
  for (int l = 1; l <= v->n; l++) print_loc(m, v, l, out);
  return true;
}

void mst_print_irpfind(const mst_t *m, FILE *out) {
  char lb[80], tb[80];
  size_t n = 0;
  for (size_t i = 0; i < m->nirp; i++) n += m->irp[i].live;
  fprintf(out, "%zu live IRP%s at step #%llu\n", n, n == 1 ? "" : "s", (unsigned long long)m->step);
  if (!n) return;
  fprintf(out, "  %-10s %-22s %-14s %-9s %s\n", "IRP", "major", "thread", "allocated", "where");
  for (size_t i = 0; i < m->nirp; i++) {
    const mst_irp_t *v = &m->irp[i];
    if (!v->live) continue;
    char at[24];
    snprintf(at, sizeof at, "#%llu", (unsigned long long)v->alloc);
    fprintf(out, "  %-10s %-22s %-14s %-9s ", irp_label(m->r, v->id, lb), major_name(v->major),
            v->thread ? thread_label(m->r, v->thread, tb) : "-", at);
    irp_where(m, v, out);
    fputc('\n', out);
  }
}

/* ---- ports ---- */

void mst_print_port(const mst_t *m, uint32_t id, FILE *out) {
  char lb[80];
  bool any = false;
  for (size_t i = 0; i < m->nport; i++) {
    const mst_port_t *p = &m->port[i];
    if (id && p->id != id) continue;
    if (any) fputc('\n', out);
    any = true;
    fprintf(out, "PORT %s (%u)%s", mst_port_name(m->r, p->id), p->id, p->closed ? "  closed" : "");
    if (p->limit >= 0) fprintf(out, "  concurrency %d, running %d", p->limit, p->running < 0 ? 0 : p->running);
    fputc('\n', out);
    fprintf(out, "  Packets:%s\n", p->npk ? "" : " none queued");
    for (size_t k = 0; k < p->npk; k++) {
      if (p->pk[k].irp) fprintf(out, "    %zu. IRP %s", k + 1, irp_label(m->r, p->pk[k].irp, lb));
      else fprintf(out, "    %zu. a posted packet (no IRP)", k + 1);
      fprintf(out, ", queued at #%llu\n", (unsigned long long)p->pk[k].queued);
    }
    fprintf(out, "  Waiting threads:%s\n", p->nwaiter ? "" : " none");
    /* A waiter is a thread of the model (state.c, port-wait). */
    for (size_t k = 0; k < p->nwaiter; k++)
      fprintf(out, "    %s, since #%llu\n", thread_label(m->r, p->waiter[k], lb),
              (unsigned long long)mst_thread(m, p->waiter[k])->wait_step);
  }
  if (!any) {
    if (id) fprintf(out, "port %s (%u) is not created yet at step #%llu\n", mst_port_name(m->r, id), id,
                    (unsigned long long)m->step);
    else fprintf(out, "no completion port at step #%llu\n", (unsigned long long)m->step);
  }
}

/* ---- !devstack ---- */

static uint32_t upper_of(const mst_run_t *r, uint32_t dev) {
  for (size_t i = 1; i < r->devices.n; i++)
    if (r->devices.v[i].name && (uint32_t)r->devices.v[i].a == dev) return (uint32_t)i;
  return 0;
}

static void print_stack(const mst_t *m, uint32_t top, uint32_t mark, FILE *out) {
  char lb[80];
  fprintf(out, "  %-10s %-20s %s\n", "!DevObj", "!DrvObj", "IRPs at it now");
  for (uint32_t d = top, guard = 0; d && guard < 64; d = mst_device_lower(m->r, d), guard++) {
    fprintf(out, "%c %-10s \\Driver\\%-12s", d == mark ? '>' : ' ', mst_device_name(m->r, d), mst_driver_name(m->r, d));
    bool any = false;
    for (size_t i = 0; i < m->nirp; i++) {
      const mst_irp_t *v = &m->irp[i];
      if (!v->live || v->cur < 1 || v->cur > v->n || v->loc[v->cur].device != d) continue;
      fprintf(out, "%s%s", any ? ", " : " ", irp_label(m->r, v->id, lb));
      if (v->loc[v->cur].control & SL_PENDING_RETURNED) fprintf(out, " pending");
      any = true;
    }
    fprintf(out, "%s\n", any ? "" : " -");
  }
}

void mst_print_devstack(const mst_t *m, uint32_t id, FILE *out) {
  const mst_run_t *r = m->r;
  if (id) {
    uint32_t top = id;
    for (int guard = 0; upper_of(r, top) && guard < 64; guard++) top = upper_of(r, top);
    print_stack(m, top, id, out);
    return;
  }
  bool first = true;
  for (size_t i = 1; i < r->devices.n; i++) {
    if (!r->devices.v[i].name || upper_of(r, (uint32_t)i)) continue; /* not a top */
    if (!first) fputc('\n', out);
    first = false;
    print_stack(m, (uint32_t)i, 0, out);
  }
  if (first) fprintf(out, "no device in this run\n");
}

void mst_print_machine(const mst_t *m, FILE *out) {
  mst_print_step(m, out);
  fputc('\n', out);
  mst_print_cpus(m, out);
  fputc('\n', out);
  mst_print_thread(m, 0, out);
  if (m->nport) {
    fputc('\n', out);
    mst_print_port(m, 0, out);
  }
  for (size_t i = 0; i < m->nirp; i++)
    if (m->irp[i].live) {
      fputc('\n', out);
      mst_print_irp(m, m->irp[i].id, out);
    }
}
