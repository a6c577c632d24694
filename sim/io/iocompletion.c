/*
 * iocompletion.c - I/O completion ports, the I/O manager's side: creating
 * a port, binding a file to it and setting its completion notification
 * modes, packets for finished I/O and posted ones, the dequeuing thread
 * finishing a port-bound IRP (one packet, or several at once), and closing
 * the port.  The queueing rules (FIFO packets, LIFO waiters, the
 * concurrency count, the rundown) are the KQUEUE's
 * (ke/queue.c).
 */
#include "io/io.h"

static sim_port_t *port_new(sim_t *S, ULONG Concurrency, const char *Name) {
  sim_port_t *p = mem_calloc(S, sizeof *p);
  p->id = ++S->nports;
  p->name = mem_strdup(S, Name ? Name : "port");
  list_init(&p->packets);
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
  KiServiceExit(S, STATUS_SUCCESS);
  return p;
}

/* A call on a port whose handle was closed fails before it looks at the
   port (ObReferenceObjectByHandle): a syscall-return row with
   STATUS_INVALID_HANDLE, and false. */
static bool port_handle_ok(sim_t *S, sim_port_t *p, const char *service, uint32_t file) {
  if (!p->closed) return true;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, NULL);
    e.service = service, e.port = p->id, e.file = file;
    trc_set_status(&e, STATUS_INVALID_HANDLE);
    trc_send(S, &e, "%s: the handle of port %s is closed", service, p->name);
  }
  return false;
}

NTSTATUS NtSetCompletionPort(PFILE_OBJECT File, sim_port_t *Port, ULONG_PTR Key) {
  sim_t *S = ctx_sim();
  if (!port_handle_ok(S, Port, "NtSetInformationFile", File->SimId)) {
    sched_step(S, COST_SYSCALL);
    return KiServiceExit(S, STATUS_INVALID_HANDLE);
  }
  if (File->Flags & FO_SYNCHRONOUS_IO) { /* overlapped handles only */
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, File->DeviceObject);
      e.service = "NtSetInformationFile", e.file = File->SimId, e.port = Port->id;
      trc_set_status(&e, STATUS_INVALID_PARAMETER);
      trc_send(S, &e, "CreateIoCompletionPort refuses %s: a synchronous file cannot be bound to a port",
               File->SimName);
    }
    sched_step(S, COST_SYSCALL);
    return KiServiceExit(S, STATUS_INVALID_PARAMETER);
  }
  File->CompletionContext.Port = Port;
  File->CompletionContext.Key = (PVOID)Key;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_PORT_BOUND, NULL, File->DeviceObject);
    e.service = "NtSetInformationFile", e.file = File->SimId, e.port = Port->id;
    trc_send(S, &e, "file %s associated with port %s, key %lu", File->SimName, Port->name, (unsigned long)Key);
  }
  sched_step(S, COST_SYSCALL);
  return KiServiceExit(S, STATUS_SUCCESS);
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

/* A packet nobody can take any more, its port's handle being closed: it
   is freed, an I/O packet's IRP with it - unfinished: no status block is
   written, no event set - as the port object's deletion frees them
   (IopDeleteIoCompletion: IoFreeIrp). */
static void port_packet_free(sim_t *S, sim_port_t *p, port_packet_t *pk) {
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_PORT_PACKET_FREED, pk->irp, NULL);
    e.port = p->id;
    trc_send(S, &e, "packet for closed port %s (key %lu) freed unread%s", p->name, (unsigned long)pk->key,
             pk->irp ? ", with its IRP" : "");
  }
  if (pk->irp) irp_free(S, pk->irp);
  list_remove(&pk->all);
  mem_free(S, pk, sizeof *pk);
}

static void port_insert(sim_t *S, sim_port_t *p, port_packet_t *pk) {
  PKQUEUE q = &p->Queue;
  if (p->closed) { /* a file still bound to it completed a request */
    port_packet_free(S, p, pk);
    return;
  }
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
  list_insert_tail(&((sim_port_t *)fo->CompletionContext.Port)->packets, &pk->all);
  port_insert(S, fo->CompletionContext.Port, pk);
  sched_step(S, COST_STEP);
}

NTSTATUS NtSetIoCompletion(sim_port_t *Port, ULONG_PTR Key, PVOID Context, NTSTATUS Status, ULONG_PTR Information) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
    e.service = "NtSetIoCompletion", e.port = Port->id;
    trc_set_status(&e, Status);
    e.has_info = 1, e.info = Information;
    trc_send(S, &e, "PostQueuedCompletionStatus to %s", Port->name);
  }
  sched_step(S, COST_SYSCALL);
  if (!port_handle_ok(S, Port, "NtSetIoCompletion", 0)) return KiServiceExit(S, STATUS_INVALID_HANDLE);
  port_packet_t *pk = mem_calloc(S, sizeof *pk);
  pk->key = Key;
  pk->context = Context;
  pk->iosb.Status = Status;
  pk->iosb.Information = Information;
  list_insert_tail(&Port->packets, &pk->all);
  port_insert(S, Port, pk);
  return KiServiceExit(S, STATUS_SUCCESS);
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

/* Hands one dequeued packet to the caller: finishes its IRP here (stage 2
   in the dequeuing thread), traces it, copies it out and frees it. */
static void port_deliver(sim_t *S, sim_port_t *Port, PKTHREAD t, LIST_ENTRY *e, PFILE_IO_COMPLETION_INFORMATION out) {
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
  out->KeyContext = pk->key;
  out->ApcContext = pk->context;
  out->IoStatusBlock = pk->iosb;
  list_remove(&pk->all);
  mem_free(S, pk, sizeof *pk);
  sched_step(S, COST_STEP);
}

static void trace_remove_call(sim_t *S, sim_port_t *Port, const char *service, const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
  e.service = service, e.port = Port->id;
  trc_send(S, &e, "%s on %s", what, Port->name);
}

NTSTATUS NtRemoveIoCompletion(sim_port_t *Port, ULONG_PTR *Key, PVOID *Context, PIO_STATUS_BLOCK Iosb,
                              const LONGLONG *Timeout) {
  sim_t *S = ctx_sim();
  PKTHREAD t = thr_current(S);
  trace_remove_call(S, Port, "NtRemoveIoCompletion", "GetQueuedCompletionStatus");
  sched_step(S, COST_SYSCALL);
  if (!port_handle_ok(S, Port, "NtRemoveIoCompletion", 0)) return KiServiceExit(S, STATUS_INVALID_HANDLE);
  NTSTATUS st;
  LIST_ENTRY *e;
  if (!KeRemoveQueueEx(S, &Port->Queue, UserMode, FALSE, Timeout, &e, 1, &st)) {
    return KiServiceExit(S, st);
  }
  FILE_IO_COMPLETION_INFORMATION info;
  port_deliver(S, Port, t, e, &info);
  *Key = info.KeyContext;
  *Context = info.ApcContext;
  *Iosb = info.IoStatusBlock;
  return KiServiceExit(S, STATUS_SUCCESS);
}

static void trace_remove_ex_return(sim_t *S, sim_port_t *Port, NTSTATUS st, ULONG n, int apcs) {
  if (!trc_on(S)) return;
  char sb[16];
  trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, NULL);
  e.service = "NtRemoveIoCompletionEx", e.port = Port->id;
  e.count = (int)n; /* packets removed */
  trc_set_status(&e, st);
  if (st == STATUS_USER_APC)
    trc_send(S, &e, "GetQueuedCompletionStatusEx on %s returns %s (WAIT_IO_COMPLETION) after %d user APC(s)",
             Port->name, iosim_status_name(st, sb), apcs);
  else
    trc_send(S, &e, "GetQueuedCompletionStatusEx on %s returns %s with %lu packet(s)", Port->name,
             iosim_status_name(st, sb), (unsigned long)n);
}

NTSTATUS NtRemoveIoCompletionEx(sim_port_t *Port, PFILE_IO_COMPLETION_INFORMATION Info, ULONG Count,
                                ULONG *Removed, const LONGLONG *Timeout, BOOLEAN Alertable) {
  sim_t *S = ctx_sim();
  PKTHREAD t = thr_current(S);
  trace_remove_call(S, Port, "NtRemoveIoCompletionEx",
                    Alertable ? "GetQueuedCompletionStatusEx (alertable)" : "GetQueuedCompletionStatusEx");
  sched_step(S, COST_SYSCALL);
  *Removed = 0;
  if (!Count) {
    trace_remove_ex_return(S, Port, STATUS_INVALID_PARAMETER, 0, 0);
    return KiServiceExit(S, STATUS_INVALID_PARAMETER);
  }
  if (!port_handle_ok(S, Port, "NtRemoveIoCompletionEx", 0)) return KiServiceExit(S, STATUS_INVALID_HANDLE);
  if (t->scratch_bytes < Count * sizeof(LIST_ENTRY *)) {
    mem_free(S, t->scratch, t->scratch_bytes);
    t->scratch_bytes = Count * sizeof(LIST_ENTRY *);
    t->scratch = mem_alloc(S, t->scratch_bytes);
  }
  LIST_ENTRY **es = t->scratch;
  NTSTATUS st;
  ULONG n = KeRemoveQueueEx(S, &Port->Queue, UserMode, Alertable, Timeout, es, Count, &st);
  for (ULONG i = 0; i < n; i++) port_deliver(S, Port, t, es[i], &Info[i]);
  *Removed = n;
  int apcs = st == STATUS_USER_APC ? KiUserApcDispatcher(S, t) : 0; /* on the way back to user mode */
  trace_remove_ex_return(S, Port, st, n, apcs);
  return KiServiceExit(S, st);
}

NTSTATUS sim_port_close(sim_port_t *Port) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
    e.service = "NtClose", e.port = Port->id;
    trc_send(S, &e, "CloseHandle on port %s", Port->name);
  }
  sched_step(S, COST_SYSCALL);
  if (!port_handle_ok(S, Port, "NtClose", 0)) return KiServiceExit(S, STATUS_INVALID_HANDLE);
  PKQUEUE q = &Port->Queue;
  if (trc_on(S)) {
    trc_event_t e = trc_event_make(TRC_PORT_CLOSED);
    e.port = Port->id;
    e.running = (int)q->CurrentCount, e.limit = (int)q->MaximumCount, e.count = (int)q->EntryCount;
    int waiting = 0;
    for (LIST_ENTRY *w = q->WaitListHead.Flink; w != &q->WaitListHead; w = w->Flink) waiting++;
    trc_send(S, &e, "port %s closed, its queue run down: %d waiting thread(s) released, %lu packet(s) freed",
             Port->name, waiting, (unsigned long)q->EntryCount);
  }
  /* The last handle's close runs the queue down (Vista+): the object may
     live on for files still bound to it, but nobody can wait on it. */
  Port->closed = true;
  LIST_ENTRY dropped;
  list_init(&dropped);
  KeRundownQueue(S, q, &dropped);
  LIST_ENTRY *e;
  while ((e = list_pop_head(&dropped))) port_packet_free(S, Port, CONTAINING_RECORD(e, port_packet_t, link));
  sched_step(S, COST_STEP);
  return KiServiceExit(S, STATUS_SUCCESS);
}
