/*
 * state_why.c - "why does this field hold this value?" (state.h, mst_why):
 * finds the step that last set a field of an IRP (IoStatus.Status,
 * Information, PendingReturned, a location's Control, CurrentLocation,
 * Cancel), an event's state or a thread's wait, names the routine or
 * driver that did it, and follows the copies back to the origin: a status
 * a completion routine copied from an IRP of its own, PendingReturned
 * taken from the pending bit of the location the walk left, a pending mark
 * a completion routine or the I/O manager copied up from PendingReturned.
 *
 * The step is found by replaying the model (state.c) and watching the
 * field: the last step whose `writes` bits name it, or that changed it.
 * Only typed facts are read.
 */
#include <string.h>

#include "state_int.h"

typedef struct link {
  mst_field_t f;
  uint32_t id;
  int loc;
  uint64_t at; /* the moment asked about: after this step */
} link_t;

/* The field's value in m; *known false when it has none yet. */
static int64_t value_of(const mst_t *m, mst_field_t f, uint32_t id, int loc, bool *known) {
  *known = true;
  const mst_irp_t *v = NULL;
  if (f != MST_F_EVENT && f != MST_F_WAIT) {
    v = mst_irp(m, id);
    if (!v || !v->loc) return *known = false, 0;
  }
  switch (f) {
  case MST_F_STATUS: *known = v->has_status; return v->status;
  case MST_F_INFORMATION: *known = v->has_info; return (int64_t)v->info;
  case MST_F_PENDING_RETURNED: return v->pending_returned;
  case MST_F_CONTROL: return loc >= 1 && loc <= v->n ? (int64_t)v->loc[loc].control : (*known = false, 0);
  case MST_F_CURRENT_LOCATION: return v->cur;
  case MST_F_CANCEL: return v->cancel;
  case MST_F_EVENT: {
    const mst_object_t *o = mst_object(m, id);
    if (!o || o->signalled < 0) return *known = false, 0;
    return o->signalled;
  }
  case MST_F_WAIT: break;
  }
  const mst_thread_t *t = mst_thread(m, id);
  if (!t) return *known = false, 0;
  return (int64_t)(t->state == MST_T_WAITING) << 40 | (int64_t)t->wait_step << 1 | t->woken;
}

/* Whether step e writes the field by its `writes` bits. */
static bool writes_field(const trc_event_t *e, mst_field_t f, uint32_t id, int loc) {
  if (f == MST_F_EVENT) return (e->kind == TRC_EVENT_SET || e->kind == TRC_EVENT_CLEAR) && e->object == id;
  if (f == MST_F_WAIT)
    return e->target_thread == id && (e->kind == TRC_WAIT || e->kind == TRC_SLEEP || e->kind == TRC_WAIT_DONE ||
                                      e->kind == TRC_SLEEP_DONE || e->kind == TRC_WAKE);
  if (e->irp != id) return false;
  switch (f) {
  /* walk-done reports what the walk's last level (the top location) set. */
  case MST_F_PENDING_RETURNED: return (e->writes & TRC_W_PENDING_RETURNED) || e->kind == TRC_WALK_DONE;
  case MST_F_CONTROL: return (e->writes & TRC_W_CONTROL) && e->loc_to == loc;
  case MST_F_CURRENT_LOCATION: return (e->writes & TRC_W_CURRENT_LOCATION) != 0;
  case MST_F_CANCEL: return (e->writes & TRC_W_CANCEL) != 0;
  default: /* MST_F_STATUS, MST_F_INFORMATION (EVENT and WAIT returned above) */
    /* A driver writes them in its own code; IoCompleteRequest is where
       the trace sees what it wrote. */
    return e->kind == TRC_COMPLETE || (e->writes & (f == MST_F_STATUS ? TRC_W_STATUS : TRC_W_INFORMATION));
  }
}

/* The last step <= upto that set the field; 0 when none did.  *val gets
   the value after `upto`. */
static uint64_t last_set(const mst_run_t *r, const link_t *q, int64_t *val, bool *known) {
  mst_t *m = mst_new(r);
  uint64_t last = 0;
  bool k0;
  int64_t before = value_of(m, q->f, q->id, q->loc, &k0);
  while (m->step < q->at && mst_next(m)) {
    bool k;
    int64_t now = value_of(m, q->f, q->id, q->loc, &k);
    const trc_event_t *e = mst_run_event(r, m->step);
    if ((k && (!k0 || now != before)) || (k && writes_field(e, q->f, q->id, q->loc))) last = m->step;
    /* A new IRP with the same number starts afresh. */
    if (e->kind == TRC_IRP_ALLOC && e->irp == q->id && q->f != MST_F_EVENT && q->f != MST_F_WAIT) last = m->step;
    before = now;
    k0 = k;
  }
  *val = value_of(m, q->f, q->id, q->loc, known);
  mst_free(m);
  return last;
}

/* ---- describing a step ---- */

static const char *dev_driver(const mst_run_t *r, uint32_t dev, char buf[160]) {
  if (!dev) snprintf(buf, 160, "the IRP's creator");
  else snprintf(buf, 160, "%s (\\Driver\\%s)", mst_device_name(r, dev), mst_driver_name(r, dev));
  return buf;
}

/* "in a DPC on CPU 0", "in thread app on CPU 1", "in an APC in thread app" */
static void where(const mst_run_t *r, const trc_event_t *e, FILE *out) {
  const char *tn = mst_thread_name(r, e->thread);
  switch (e->frame) {
  case TRC_FRAME_THREAD: fprintf(out, "in thread %s", *tn ? tn : "?"); break;
  case TRC_FRAME_APC: fprintf(out, "in an APC in thread %s", *tn ? tn : "?"); break;
  case TRC_FRAME_DPC: fprintf(out, "in a DPC"); break;
  case TRC_FRAME_ISR: fprintf(out, "in an ISR"); break;
  case TRC_FRAME_IDLE: fprintf(out, "in the idle loop"); break;
  }
  if (e->cpu >= 0) fprintf(out, " on CPU %d", e->cpu);
}

static void step_head(const mst_run_t *r, uint64_t s, FILE *out) {
  const trc_event_t *e = mst_run_event(r, s);
  char tb[32];
  fprintf(out, "  #%-5llu %-12s %-20s ", (unsigned long long)s, mst_time(e->t_ns, tb), trc_kind_name(e->kind));
}

/* The completion routine running for `irp` (if other is false) or for
   another IRP (other true) on e's CPU at step s: its completion-routine
   step, 0 if none. */
static uint64_t open_routine(const mst_run_t *r, uint64_t s, int cpu, uint32_t irp, bool other) {
  int depth = 0;
  for (uint64_t k = s; k >= 1; k--) {
    const trc_event_t *e = mst_run_event(r, k);
    if (e->cpu != cpu) continue;
    if (e->kind == TRC_COMPLETION_RETURN && k != s) depth++;
    if (e->kind == TRC_COMPLETION_CALL) {
      if (depth > 0) {
        depth--;
        continue;
      }
      if (other ? e->irp != irp : e->irp == irp) return k;
    }
    if (e->kind == TRC_DPC_RUN || e->kind == TRC_APC_RUN || e->kind == TRC_ISR || e->kind == TRC_SWITCH) return 0;
  }
  return 0;
}

static void val_text(mst_field_t f, int64_t v, char buf[64]) {
  char sb[16];
  switch (f) {
  case MST_F_STATUS: snprintf(buf, 64, "%s", iosim_status_name((NTSTATUS)v, sb)); break;
  case MST_F_CONTROL: snprintf(buf, 64, "%02llx", (unsigned long long)v); break;
  case MST_F_EVENT: snprintf(buf, 64, "%s", v ? "signalled" : "not signalled"); break;
  default: snprintf(buf, 64, "%lld", (long long)v); break;
  }
}

static const char *field_name(mst_field_t f, int loc, char buf[40]) {
  static const char *const n[] = {"IoStatus.Status", "IoStatus.Information", "PendingReturned", "Control",
                                  "CurrentLocation", "Cancel", "state", "wait"};
  if (f == MST_F_CONTROL) snprintf(buf, 40, "loc[%d].Control", loc);
  else snprintf(buf, 40, "%s", n[f]);
  return buf;
}

/* Explains step s, which set q's field; fills *next with the link to
   follow (a copy's source) and returns whether there is one. */
static bool explain(const mst_run_t *r, const link_t *q, uint64_t s, int64_t val, FILE *out, link_t *next) {
  const trc_event_t *e = mst_run_event(r, s);
  char db[160], vb[64], fb[40];
  step_head(r, s, out);
  if (e->kind == TRC_IRP_ALLOC && e->irp == q->id && q->f != MST_F_EVENT && q->f != MST_F_WAIT) {
    val_text(q->f, val, vb);
    fprintf(out, "the IRP was allocated ");
    where(r, e, out);
    fprintf(out, " with %s = %s, and nothing changed it since (origin)\n", field_name(q->f, q->loc, fb), vb);
    return false;
  }
  switch (q->f) {
  case MST_F_STATUS:
  case MST_F_INFORMATION: {
    const char *what = q->f == MST_F_STATUS ? "status" : "Information";
    if (e->kind == TRC_COMPLETE) {
      /* A master IRP: the I/O manager completes it when its last
         associated IRP is done, without taking their status. */
      for (uint64_t k = s - 1; k >= 1 && k + 4 > s; k--) {
        const trc_event_t *p = mst_run_event(r, k);
        if (p->cpu == e->cpu && p->kind == TRC_ASSOCIATED_DONE && p->target_irp == q->id && p->count == 0) {
          fprintf(out, "IoCompleteRequest by the I/O manager when its last associated IRP, %u, was done (step #%llu):\n"
                       "         the %s is what the driver stored in the master IRP (the associated IRPs' is not copied) (origin)\n",
                  p->irp, (unsigned long long)k, what);
          return false;
        }
      }
      uint64_t c = open_routine(r, s - 1, e->cpu, q->id, true);
      const trc_event_t *ce = c ? mst_run_event(r, c) : NULL;
      fprintf(out, "IoCompleteRequest by %s ", dev_driver(r, e->device, db));
      where(r, e, out);
      if (ce) {
        /* Completing an IRP inside another IRP's completion routine: the
           value came from that IRP if it holds the same. */
        mst_t *m = mst_new(r);
        mst_seek(m, s);
        bool k;
        int64_t other = value_of(m, q->f, ce->irp, 0, &k);
        mst_free(m);
        if (k && other == val) {
          fprintf(out, ",\n         inside the completion routine of %s for IRP %u%s%s%s (step #%llu), which holds the same %s:\n"
                       "         a routine that passes its own IRP's result up copies it from there\n",
                  dev_driver(r, ce->routine_device, db), ce->irp, *mst_irp_tag(r, ce->irp) ? " (" : "",
                  mst_irp_tag(r, ce->irp), *mst_irp_tag(r, ce->irp) ? ")" : "", (unsigned long long)c, what);
          *next = (link_t){.f = q->f, .id = ce->irp, .at = s};
          return true;
        }
      }
      fprintf(out, ": the driver set the %s before completing the IRP (origin)\n", what);
      return false;
    }
    /* Reported changed after the walk passed a completion routine: the
       routine did it. */
    for (uint64_t k = s - 1; k >= 1; k--) {
      const trc_event_t *p = mst_run_event(r, k);
      if (p->irp == q->id && p->kind == TRC_COMPLETION_CALL) {
        fprintf(out, "the completion routine of %s (called at step #%llu) changed the %s (origin)\n",
                dev_driver(r, p->routine_device, db), (unsigned long long)k, what);
        return false;
      }
      if (p->irp == q->id && p->kind == TRC_IRP_ALLOC) break;
    }
    fprintf(out, "first seen here (origin)\n");
    return false;
  }
  case MST_F_PENDING_RETURNED: {
    int left = e->kind == TRC_PENDING_PROPAGATED || e->kind == TRC_COMPLETION_CALL ? e->loc_from : 0;
    if (!left) { /* the walk's last level: the location it was at */
      mst_t *m = mst_new(r);
      mst_seek(m, s - 1);
      const mst_irp_t *v = mst_irp(m, q->id);
      left = v ? v->cur : 0;
      mst_free(m);
    }
    fprintf(out, "the completion walk (IoCompleteRequest) ");
    where(r, e, out);
    if (left >= 1) {
      fprintf(out, " left location %d and took its SL_PENDING_RETURNED bit into PendingReturned = %lld\n", left,
              (long long)val);
      *next = (link_t){.f = MST_F_CONTROL, .id = q->id, .loc = left, .at = s - 1};
      return true;
    }
    fprintf(out, " set PendingReturned = %lld\n", (long long)val);
    return false;
  }
  case MST_F_CONTROL:
    val_text(q->f, val, vb);
    if (e->kind == TRC_MARK_PENDING && e->loc_to == q->loc) {
      uint64_t c = open_routine(r, s - 1, e->cpu, q->id, false);
      fprintf(out, "IoMarkIrpPending by %s ", dev_driver(r, e->device ? e->device : c ? mst_run_event(r, c)->routine_device : 0, db));
      where(r, e, out);
      if (c) {
        fprintf(out, ",\n         in its completion routine (step #%llu): `if (Irp->PendingReturned) "
                     "IoMarkIrpPending(Irp)` copies the mark up\n", (unsigned long long)c);
        *next = (link_t){.f = MST_F_PENDING_RETURNED, .id = q->id, .at = s - 1};
        return true;
      }
      fprintf(out, ": the driver returns STATUS_PENDING (origin)\n");
      return false;
    }
    if (e->kind == TRC_PENDING_PROPAGATED && e->loc_to == q->loc) {
      fprintf(out, "the I/O manager propagated the pending mark: location %d has no completion routine, so its\n"
                   "         SL_PENDING_RETURNED is copied up to location %d\n", e->loc_from, q->loc);
      *next = (link_t){.f = MST_F_CONTROL, .id = q->id, .loc = e->loc_from, .at = s - 1};
      return true;
    }
    if (e->kind == TRC_SET_COMPLETION && e->loc_to == q->loc) {
      fprintf(out, "IoSetCompletionRoutine by %s: Control = %s (invoke on%s%s%s; any pending bit overwritten) (origin)\n",
              dev_driver(r, e->routine_device, db), vb, val & SL_INVOKE_ON_SUCCESS ? " success" : "",
              val & SL_INVOKE_ON_ERROR ? " error" : "", val & SL_INVOKE_ON_CANCEL ? " cancel" : "");
      return false;
    }
    if (e->kind == TRC_COPY_STACK && e->loc_to == q->loc) {
      fprintf(out, "IoCopyCurrentIrpStackLocationToNext by %s: Control = %s (pending and invoke-on bits are not copied) (origin)\n",
              dev_driver(r, e->device, db), vb);
      return false;
    }
    fprintf(out, "the completion walk left location %d and cleared it (only SL_ERROR_RETURNED stays): Control = %s (origin)\n",
            q->loc, vb);
    return false;
  case MST_F_CURRENT_LOCATION:
    switch (e->kind) {
    case TRC_CALL: fprintf(out, "IoCallDriver(%s) moved the IRP down to location %lld (origin)\n", mst_device_name(r, e->device), (long long)val); break;
    case TRC_SKIP_STACK:
      fprintf(out, "IoSkipCurrentIrpStackLocation by %s moved it back up to %lld (origin)\n",
              dev_driver(r, e->device, db), (long long)val);
      break;
    default:
      fprintf(out, "the completion walk moved the IRP up to location %lld ", (long long)val);
      where(r, e, out);
      fprintf(out, " (origin)\n");
    }
    return false;
  case MST_F_CANCEL: {
    fprintf(out, "IoCancelIrp ");
    where(r, e, out);
    /* The system service it ran in, if any. */
    for (uint64_t k = s - 1; k >= 1; k--) {
      const trc_event_t *p = mst_run_event(r, k);
      if (p->thread != e->thread || !e->thread) break;
      if (p->kind == TRC_SYSCALL_RETURN) break;
      if (p->kind == TRC_SYSCALL) {
        fprintf(out, ", in %s (step #%llu)", p->service ? p->service : "a system service", (unsigned long long)k);
        break;
      }
    }
    fprintf(out, ": Cancel = 1 (origin)\n");
    return false;
  }
  case MST_F_EVENT: {
    fprintf(out, "%s ", e->kind == TRC_EVENT_SET ? "KeSetEvent" : "KeClearEvent");
    where(r, e, out);
    /* Stage 2 sets the requester's event: the last stage-2 step of this frame. */
    for (uint64_t k = s - 1; k >= 1; k--) {
      const trc_event_t *p = mst_run_event(r, k);
      if (p->cpu != e->cpu) continue;
      if (p->kind == TRC_STAGE2) {
        fprintf(out, ", by stage 2 (IopCompleteRequest) of IRP %u%s%s%s: the requester's event", p->irp,
                *mst_irp_tag(r, p->irp) ? " (" : "", mst_irp_tag(r, p->irp), *mst_irp_tag(r, p->irp) ? ")" : "");
        break;
      }
      if (p->kind == TRC_APC_RUN || p->kind == TRC_DPC_RUN || p->kind == TRC_ISR || p->kind == TRC_SWITCH ||
          p->kind == TRC_SYSCALL || p->kind == TRC_OP) {
        if (p->kind == TRC_OP && p->device) fprintf(out, ", by %s", dev_driver(r, p->device, db));
        break;
      }
    }
    fprintf(out, " (origin)\n");
    return false;
  }
  default: { /* MST_F_WAIT */
    char sb[16];
    const char *tn = mst_thread_name(r, q->id);
    if (e->kind == TRC_WAIT || e->kind == TRC_SLEEP) {
      mst_t *pm = mst_new(r);
      mst_seek(pm, q->at);
      const mst_thread_t *t = mst_thread(pm, q->id);
      if (t && t->state == MST_T_WAITING && t->wait_kind == TRC_PORT_WAIT) {
        const mst_port_t *p = mst_port(pm, t->wait_port);
        fprintf(out, "%s waits in GetQueuedCompletionStatus on port %s: %zu packet(s) queued, %d of %d running\n", tn,
                mst_port_name(r, t->wait_port), p ? p->npk : 0, p ? p->running : 0, p ? p->limit : 0);
        mst_free(pm);
        return false;
      }
      mst_free(pm);
      fprintf(out, "%s began to wait (%s)", tn, e->kind == TRC_SLEEP ? "a sleep" : "on its objects");
      if (e->object) {
        fprintf(out, "; the first object, %s, ", *mst_object_name(r, e->object) ? mst_object_name(r, e->object) : "?");
        *next = (link_t){.f = MST_F_EVENT, .id = e->object, .at = q->at};
        mst_t *m = mst_new(r);
        mst_seek(m, q->at);
        const mst_object_t *o = mst_object(m, e->object);
        fprintf(out, "%s at step #%llu\n", !o || o->signalled < 0 ? "was never set or cleared" : o->signalled ? "is signalled" : "is not signalled",
                (unsigned long long)q->at);
        bool have = o && o->signalled >= 0;
        mst_free(m);
        return have;
      }
      fputc('\n', out);
      return false;
    }
    if (e->kind == TRC_WAKE) {
      fprintf(out, "%s was woken (%s) ", tn, e->has_status ? iosim_status_name(e->status, sb) : "?");
      where(r, e, out);
      fputc('\n', out);
      return false;
    }
    fprintf(out, "%s's wait ended with %s", tn, e->has_status ? iosim_status_name(e->status, sb) : "?");
    if (e->object) {
      fprintf(out, ": %s is signalled\n", *mst_object_name(r, e->object) ? mst_object_name(r, e->object) : "its object");
      *next = (link_t){.f = MST_F_EVENT, .id = e->object, .at = s};
      return true;
    }
    fputc('\n', out);
    return false;
  }
  }
}

int mst_field_parse(const char *text, mst_field_t *f, int *loc) {
  static const struct {
    const char *name;
    mst_field_t f;
  } names[] = {{"IoStatus.Status", MST_F_STATUS}, {"Status", MST_F_STATUS},
               {"IoStatus.Information", MST_F_INFORMATION}, {"Information", MST_F_INFORMATION},
               {"PendingReturned", MST_F_PENDING_RETURNED}, {"CurrentLocation", MST_F_CURRENT_LOCATION},
               {"Cancel", MST_F_CANCEL}};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcmp(text, names[i].name) == 0) {
      *f = names[i].f;
      *loc = 0;
      return 0;
    }
  int l = 0, n = 0;
  if (sscanf(text, "loc[%d].Control%n", &l, &n) == 1 && text[n] == '\0' && l >= 1 && l <= 255) {
    *f = MST_F_CONTROL;
    *loc = l;
    return 0;
  }
  return -1;
}

bool mst_why(const mst_t *m, mst_field_t field, uint32_t id, int loc, FILE *out) {
  const mst_run_t *r = m->r;
  link_t q = {.f = field, .id = id, .loc = loc, .at = m->step};
  char fb[40], vb[64];
  bool any = false;
  for (int depth = 0; depth < 16; depth++) {
    int64_t val = 0;
    bool known = false;
    uint64_t s = last_set(r, &q, &val, &known);
    const char *who = q.f == MST_F_EVENT ? mst_object_name(r, q.id) : q.f == MST_F_WAIT ? mst_thread_name(r, q.id) : "";
    if (q.f == MST_F_EVENT) fprintf(out, "event %s (object %u)", *who ? who : "?", q.id);
    else if (q.f == MST_F_WAIT) fprintf(out, "thread %s (%u)", *who ? who : "?", q.id);
    else fprintf(out, "IRP %u%s%s%s", q.id, *mst_irp_tag(r, q.id) ? " (" : "", mst_irp_tag(r, q.id),
                 *mst_irp_tag(r, q.id) ? ")" : "");
    fprintf(out, " %s", field_name(q.f, q.loc, fb));
    if (q.f != MST_F_WAIT) {
      if (known) val_text(q.f, val, vb);
      fprintf(out, " = %s", known ? vb : "(not set)");
    }
    fprintf(out, " after step #%llu:\n", (unsigned long long)q.at);
    if (!s || !known) {
      fprintf(out, "  nothing set it by then\n");
      return any;
    }
    any = true;
    link_t next;
    if (!explain(r, &q, s, val, out, &next)) return true;
    q = next;
  }
  return any;
}
