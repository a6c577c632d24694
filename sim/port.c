/*
 * port.c - I/O completion ports (the kernel's KQUEUE): packets queue FIFO,
 * waiting threads are released LIFO, and a concurrency value limits how
 * many associated threads run at once.  The running count drops when an
 * associated thread blocks anywhere else (so another may be released) and
 * rises whenever one is woken, even above the limit.
 */
#include "sim_int.h"

sim_port_t *NtCreateIoCompletion(ULONG Concurrency, const char *Name) {
  sim_t *S = sim_cur();
  sim_port_t *p = sim_calloc(S, sizeof *p);
  p->id = ++S->nports;
  p->name = sim_strdup(S, Name ? Name : "port");
  p->max = Concurrency ? Concurrency : (ULONG)S->ncpu; /* 0 means "as many as CPUs" */
  list_init(&p->entries);
  list_init(&p->waiters);
  p->next = S->ports;
  S->ports = p;
  TRC(S, TRC_NOTE, NULL, NULL, false, 0, "completion port %s created, concurrency %lu", p->name,
      (unsigned long)p->max);
  sim_step(S, COST_SYSCALL);
  return p;
}

NTSTATUS NtSetCompletionPort(PFILE_OBJECT File, sim_port_t *Port, ULONG_PTR Key) {
  sim_t *S = sim_cur();
  if (File->Flags & FO_SYNCHRONOUS_IO) { /* overlapped handles only */
    TRC(S, TRC_SYSCALL_RETURN, NULL, File->DeviceObject, true, STATUS_INVALID_PARAMETER,
        "CreateIoCompletionPort refuses %s: a synchronous file cannot be bound to a port", File->SimName);
    sim_step(S, COST_SYSCALL);
    return STATUS_INVALID_PARAMETER;
  }
  File->CompletionContext.Port = Port;
  File->CompletionContext.Key = (PVOID)Key;
  TRC(S, TRC_NOTE, NULL, File->DeviceObject, false, 0, "file %s associated with port %s, key %lu",
      File->SimName, Port->name, (unsigned long)Key);
  sim_step(S, COST_SYSCALL);
  return STATUS_SUCCESS;
}

ULONG sim_port_running(const sim_port_t *Port) { return Port->running; }
ULONG sim_port_queued(const sim_port_t *Port) { return Port->nentries; }

/* Hands a packet to the most recent waiter; the wake-up counts it running. */
static void port_handoff(sim_t *S, sim_port_t *p, port_packet_t *pk) {
  LIST_ENTRY *e = p->waiters.Blink; /* the last thread to start waiting */
  list_remove(e);
  PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, port_link);
  t->port_packet = pk;
  thr_unwait(S, t, STATUS_SUCCESS);
}

/* KiActivateWaiterQueue's second half: a slot may have opened. */
static void port_release(sim_t *S, sim_port_t *p) {
  if (p->running < p->max && p->nentries && !list_empty(&p->waiters)) {
    port_packet_t *pk = CONTAINING_RECORD(list_pop_head(&p->entries), port_packet_t, link);
    p->nentries--;
    port_handoff(S, p, pk);
  }
}

void port_thread_stops(sim_t *S, PKTHREAD t) {
  if (!t->port || !t->port_counted) return;
  t->port_counted = false;
  t->port->running--;
  if (!t->in_port_wait) port_release(S, t->port);
}

void port_thread_runs(sim_t *S, PKTHREAD t) {
  (void)S;
  if (!t->port || t->port_counted) return;
  t->port_counted = true;
  t->port->running++;
}

static void port_insert(sim_t *S, sim_port_t *p, port_packet_t *pk) {
  if (!list_empty(&p->waiters) && p->running < p->max) {
    TRC(S, TRC_PORT_QUEUED, pk->irp, NULL, false, 0, "packet for port %s (key %lu): a waiting thread takes it",
        p->name, (unsigned long)pk->key);
    port_handoff(S, p, pk);
    return;
  }
  list_insert_tail(&p->entries, &pk->link);
  p->nentries++;
  TRC(S, TRC_PORT_QUEUED, pk->irp, NULL, false, 0, "packet for port %s (key %lu) queued: %lu waiting, %lu of %lu running",
      p->name, (unsigned long)pk->key, (unsigned long)p->nentries, (unsigned long)p->running,
      (unsigned long)p->max);
}

void port_queue_irp(sim_t *S, PIRP irp) {
  PFILE_OBJECT fo = irp->Tail.Overlay.OriginalFileObject;
  port_packet_t *pk = sim_calloc(S, sizeof *pk);
  pk->irp = irp;
  pk->key = (ULONG_PTR)fo->CompletionContext.Key;
  pk->context = irp->AsynchronousParameters.UserApcContext;
  port_insert(S, fo->CompletionContext.Port, pk);
  sim_step(S, COST_STEP);
}

NTSTATUS NtSetIoCompletion(sim_port_t *Port, ULONG_PTR Key, PVOID Context, NTSTATUS Status, ULONG_PTR Information) {
  sim_t *S = sim_cur();
  port_packet_t *pk = sim_calloc(S, sizeof *pk);
  pk->key = Key;
  pk->context = Context;
  pk->iosb.Status = Status;
  pk->iosb.Information = Information;
  TRC(S, TRC_SYSCALL, NULL, NULL, false, 0, "PostQueuedCompletionStatus to %s", Port->name);
  sim_step(S, COST_SYSCALL);
  port_insert(S, Port, pk);
  return STATUS_SUCCESS;
}

/* The stage-2 work of a port-bound IRP, done by the thread that dequeues
   it: write the I/O status block (count first, then status), set the
   events, free the IRP. */
static void port_finish_irp(sim_t *S, port_packet_t *pk) {
  PIRP irp = pk->irp;
  PFILE_OBJECT fo = irp->Tail.Overlay.OriginalFileObject;
  char sb[16];
  pk->iosb = irp->IoStatus;
  if (irp->UserIosb) {
    irp->UserIosb->Information = irp->IoStatus.Information;
    irp->UserIosb->Status = irp->IoStatus.Status;
    TRC(S, TRC_IOSB_WRITTEN, irp, NULL, true, irp->IoStatus.Status, "I/O status block = {%s, %llu}, written by the dequeuing thread",
        iosim_status_name(irp->IoStatus.Status, sb), (unsigned long long)irp->IoStatus.Information);
  }
  if (irp->UserEvent) KeSetEvent(irp->UserEvent, 0, FALSE);
  else if (fo) {
    fo->FinalStatus = irp->IoStatus.Status;
    KeSetEvent(&fo->Event, 0, FALSE);
  }
  irp_free(S, irp);
}

NTSTATUS NtRemoveIoCompletion(sim_port_t *Port, ULONG_PTR *Key, PVOID *Context, PIO_STATUS_BLOCK Iosb,
                              const LONGLONG *Timeout) {
  sim_t *S = sim_cur();
  PKTHREAD t = thr_current(S);
  TRC(S, TRC_SYSCALL, NULL, NULL, false, 0, "GetQueuedCompletionStatus on %s", Port->name);
  sim_step(S, COST_SYSCALL);
  if (t->port != Port) { /* (re)associate: leave the old port's count */
    port_thread_stops(S, t);
    t->port = Port;
    t->port_counted = false;
  } else {
    /* Back at its own port: its slot is free, and it gets first claim on
       a queued packet (no other waiter is released for it). */
    t->in_port_wait = true;
    port_thread_stops(S, t);
    t->in_port_wait = false;
  }
  port_packet_t *pk = NULL;
  NTSTATUS st = STATUS_SUCCESS;
  if (Port->nentries && Port->running < Port->max) {
    pk = CONTAINING_RECORD(list_pop_head(&Port->entries), port_packet_t, link);
    Port->nentries--;
    port_thread_runs(S, t);
  } else {
    TRC(S, TRC_PORT_WAIT, NULL, NULL, false, 0, "%s waits on port %s (%lu of %lu running, %lu queued)", t->name,
        Port->name, (unsigned long)Port->running, (unsigned long)Port->max, (unsigned long)Port->nentries);
    list_insert_tail(&Port->waiters, &t->port_link);
    t->in_port_wait = true;
    t->port_packet = NULL;
    st = thr_wait(S, 0, NULL, WaitAny, UserMode, FALSE, Timeout);
    t->in_port_wait = false;
    pk = t->port_packet;
    t->port_packet = NULL;
    if (!pk) {
      list_remove(&t->port_link); /* timed out: still on the waiter list */
      port_thread_runs(S, t);
      return st == STATUS_SUCCESS ? STATUS_TIMEOUT : st;
    }
  }
  uint32_t id = pk->irp ? pk->irp->SimId : 0;
  if (pk->irp) port_finish_irp(S, pk);
  trc_emit_id(S, TRC_PORT_DEQUEUED, id, 0, NULL, true, pk->iosb.Status, "%s took a packet from %s: key %lu, %lu bytes",
      t->name, Port->name, (unsigned long)pk->key, (unsigned long)pk->iosb.Information);
  *Key = pk->key;
  *Context = pk->context;
  *Iosb = pk->iosb;
  sim_free(S, pk, sizeof *pk);
  sim_step(S, COST_STEP);
  return STATUS_SUCCESS;
}
