/*
 * iocompletion.c - I/O completion ports, the I/O manager's side: creating
 * a port, binding a file to it and setting its completion notification
 * modes, packets for finished I/O and posted ones, and the dequeuing
 * thread finishing a port-bound IRP.  The queueing rules
 * (FIFO packets, LIFO waiters, the concurrency count) are the KQUEUE's
 * (ke/queue.c).
 */
#include "io/io.h"

static sim_port_t *port_new(sim_t *S, ULONG Concurrency, const char *Name) {
  sim_port_t *p = mem_calloc(S, sizeof *p);
  p->id = ++S->nports;
  p->name = mem_strdup(S, Name ? Name : "port");
  /* 0 means "as many as CPUs" */
  KeInitializeQueue(&p->Queue, Concurrency ? Concurrency : (ULONG)S->ncpu, p->id, p->name);
  p->next = S->ports;
  S->ports = p;
  return p;
}

/* A port that exists before the machine starts (a scenario's `port`): one
   object, whichever thread uses it first. */
sim_port_t *sim_port_create(sim_t *S, ULONG Concurrency, const char *Name) {
  return port_new(S, Concurrency, Name);
}

sim_port_t *NtCreateIoCompletion(ULONG Concurrency, const char *Name) {
  sim_t *S = ctx_sim();
  sim_port_t *p = port_new(S, Concurrency, Name);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_PORT_CREATED, NULL, NULL);
    e.port = p->id, e.limit = (int)p->Queue.MaximumCount;
    e.service = "NtCreateIoCompletion";
    trc_send(S, &e, "completion port %s created, concurrency %lu", p->name, (unsigned long)p->Queue.MaximumCount);
  }
  sched_step(S, COST_SYSCALL);
  return p;
}

NTSTATUS NtSetCompletionPort(PFILE_OBJECT File, sim_port_t *Port, ULONG_PTR Key) {
  sim_t *S = ctx_sim();
  if (File->Flags & FO_SYNCHRONOUS_IO) { /* overlapped handles only */
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, File->DeviceObject);
      e.service = "NtSetInformationFile", e.file = File->SimId, e.port = Port->id;
      trc_set_status(&e, STATUS_INVALID_PARAMETER);
      trc_send(S, &e, "CreateIoCompletionPort refuses %s: a synchronous file cannot be bound to a port",
               File->SimName);
    }
    sched_step(S, COST_SYSCALL);
    return STATUS_INVALID_PARAMETER;
  }
  File->CompletionContext.Port = Port;
  File->CompletionContext.Key = (PVOID)Key;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_PORT_BOUND, NULL, File->DeviceObject);
    e.service = "NtSetInformationFile", e.file = File->SimId, e.port = Port->id;
    trc_send(S, &e, "file %s associated with port %s, key %lu", File->SimName, Port->name, (unsigned long)Key);
  }
  sched_step(S, COST_SYSCALL);
  return STATUS_SUCCESS;
}

/* SetFileCompletionNotificationModes: the modes are file object flags,
   read by stage 2 (kernel-facts 7.8); a mode once set stays set. */
NTSTATUS NtSetCompletionNotificationModes(PFILE_OBJECT File, UCHAR Flags) {
  sim_t *S = ctx_sim();
  char sb[16];
  trc_event_t e = trc_ev(TRC_SYSCALL, NULL, File->DeviceObject);
  e.service = "NtSetInformationFile", e.file = File->SimId;
  if (trc_on(S))
    trc_send(S, &e, "SetFileCompletionNotificationModes(%s,%s%s)", File->SimName,
             (Flags & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) ? " FILE_SKIP_COMPLETION_PORT_ON_SUCCESS" : "",
             (Flags & FILE_SKIP_SET_EVENT_ON_HANDLE) ? " FILE_SKIP_SET_EVENT_ON_HANDLE" : "");
  sched_step(S, COST_SYSCALL);
  NTSTATUS st = STATUS_SUCCESS;
  if (Flags & ~(FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE)) st = STATUS_INVALID_PARAMETER;
  else {
    if (Flags & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) File->Flags |= FO_SKIP_COMPLETION_PORT;
    if (Flags & FILE_SKIP_SET_EVENT_ON_HANDLE) File->Flags |= FO_SKIP_SET_EVENT;
  }
  if (trc_on(S)) {
    e.kind = TRC_SYSCALL_RETURN;
    trc_set_status(&e, st);
    trc_send(S, &e, "SetFileCompletionNotificationModes returns %s", iosim_status_name(st, sb));
  }
  return st;
}

ULONG sim_port_running(const sim_port_t *Port) { return Port->Queue.CurrentCount; }
ULONG sim_port_queued(const sim_port_t *Port) { return Port->Queue.EntryCount; }

static void port_insert(sim_t *S, sim_port_t *p, port_packet_t *pk) {
  PKQUEUE q = &p->Queue;
  /* Traced before a hand-off wakes its thread, after a queueing. */
  bool handoff = !list_empty(&q->WaitListHead) && q->CurrentCount < q->MaximumCount;
  trc_event_t ev = trc_event_make(TRC_PORT_QUEUED);
  ev.irp = pk->irp ? pk->irp->SimId : 0;
  ev.stack_location = pk->irp ? pk->irp->CurrentLocation : 0;
  ev.port = p->id;
  if (handoff) {
    if (trc_on(S)) {
      ev.target_thread = CONTAINING_RECORD(q->WaitListHead.Blink, KTHREAD, queue_link)->id;
      ev.running = (int)q->CurrentCount, ev.limit = (int)q->MaximumCount, ev.count = (int)q->EntryCount;
      trc_send(S, &ev, "packet for port %s (key %lu): a waiting thread takes it", p->name, (unsigned long)pk->key);
    }
    KeInsertQueue(S, q, &pk->link);
    return;
  }
  KeInsertQueue(S, q, &pk->link);
  if (trc_on(S)) {
    ev.running = (int)q->CurrentCount, ev.limit = (int)q->MaximumCount, ev.count = (int)q->EntryCount;
    trc_send(S, &ev, "packet for port %s (key %lu) queued: %lu waiting, %lu of %lu running", p->name,
             (unsigned long)pk->key, (unsigned long)q->EntryCount, (unsigned long)q->CurrentCount,
             (unsigned long)q->MaximumCount);
  }
}

void port_queue_irp(sim_t *S, PIRP irp, bool notified) {
  PFILE_OBJECT fo = irp->Tail.Overlay.OriginalFileObject;
  port_packet_t *pk = mem_calloc(S, sizeof *pk);
  pk->irp = irp;
  pk->notified = notified;
  pk->key = (ULONG_PTR)fo->CompletionContext.Key;
  pk->context = irp->AsynchronousParameters.UserApcContext;
  port_insert(S, fo->CompletionContext.Port, pk);
  sched_step(S, COST_STEP);
}

NTSTATUS NtSetIoCompletion(sim_port_t *Port, ULONG_PTR Key, PVOID Context, NTSTATUS Status, ULONG_PTR Information) {
  sim_t *S = ctx_sim();
  port_packet_t *pk = mem_calloc(S, sizeof *pk);
  pk->key = Key;
  pk->context = Context;
  pk->iosb.Status = Status;
  pk->iosb.Information = Information;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
    e.service = "NtSetIoCompletion", e.port = Port->id;
    trc_set_status(&e, Status);
    e.has_info = 1, e.info = Information;
    trc_send(S, &e, "PostQueuedCompletionStatus to %s", Port->name);
  }
  sched_step(S, COST_SYSCALL);
  port_insert(S, Port, pk);
  return STATUS_SUCCESS;
}

/* The stage-2 work of a port-bound IRP that pended, done by the thread
   that dequeues it: write the I/O status block (count first, then status),
   set the events, free the IRP.  One that finished at once had all that
   done by its issuer before the service returned: it is only freed. */
static void port_finish_irp(sim_t *S, port_packet_t *pk) {
  PIRP irp = pk->irp;
  PFILE_OBJECT fo = irp->Tail.Overlay.OriginalFileObject;
  char sb[16];
  pk->iosb = irp->IoStatus;
  if (pk->notified) {
    irp_free(S, irp);
    return;
  }
  if (irp->UserIosb) {
    irp->UserIosb->Information = irp->IoStatus.Information;
    irp->UserIosb->Status = irp->IoStatus.Status;
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_IOSB_WRITTEN, irp, NULL);
      trc_set_status(&e, irp->IoStatus.Status);
      e.has_info = 1, e.info = irp->IoStatus.Information;
      e.writes = TRC_W_USER_IOSB;
      e.port = fo && fo->CompletionContext.Port ? ((sim_port_t *)fo->CompletionContext.Port)->id : 0;
      trc_send(S, &e, "I/O status block = {%s, %llu}, written by the dequeuing thread",
               iosim_status_name(irp->IoStatus.Status, sb), (unsigned long long)irp->IoStatus.Information);
    }
  }
  /* Port-bound I/O is asynchronous: FILE_SKIP_SET_EVENT_ON_HANDLE always
     spares the file object's event (kernel-facts 7.8). */
  if (irp->UserEvent) KeSetEvent(irp->UserEvent, 0, FALSE);
  else if (fo && !(fo->Flags & FO_SKIP_SET_EVENT)) {
    fo->FinalStatus = irp->IoStatus.Status;
    KeSetEvent(&fo->Event, 0, FALSE);
  }
  irp_free(S, irp);
}

NTSTATUS NtRemoveIoCompletion(sim_port_t *Port, ULONG_PTR *Key, PVOID *Context, PIO_STATUS_BLOCK Iosb,
                              const LONGLONG *Timeout) {
  sim_t *S = ctx_sim();
  PKTHREAD t = thr_current(S);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
    e.service = "NtRemoveIoCompletion", e.port = Port->id;
    trc_send(S, &e, "GetQueuedCompletionStatus on %s", Port->name);
  }
  sched_step(S, COST_SYSCALL);
  NTSTATUS st;
  LIST_ENTRY *e = KeRemoveQueue(S, &Port->Queue, Timeout, &st);
  if (!e) return st;
  port_packet_t *pk = CONTAINING_RECORD(e, port_packet_t, link);
  uint32_t id = pk->irp ? pk->irp->SimId : 0;
  if (pk->irp) port_finish_irp(S, pk);
  if (trc_on(S)) {
    trc_event_t ev = trc_ev(TRC_PORT_DEQUEUED, NULL, NULL);
    ev.irp = id, ev.port = Port->id, ev.target_thread = t->id;
    trc_set_status(&ev, pk->iosb.Status);
    ev.has_info = 1, ev.info = pk->iosb.Information;
    ev.running = (int)Port->Queue.CurrentCount, ev.limit = (int)Port->Queue.MaximumCount;
    ev.count = (int)Port->Queue.EntryCount;
    trc_send(S, &ev, "%s took a packet from %s: key %lu, %lu bytes", t->name, Port->name, (unsigned long)pk->key,
             (unsigned long)pk->iosb.Information);
  }
  *Key = pk->key;
  *Context = pk->context;
  *Iosb = pk->iosb;
  mem_free(S, pk, sizeof *pk);
  sched_step(S, COST_STEP);
  return STATUS_SUCCESS;
}
