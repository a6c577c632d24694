/*
 * ntio.c - the system services a user-mode program calls: NtCreateFile,
 * NtReadFile, NtWriteFile, NtDeviceIoControlFile, NtClose.  They build the
 * IRP, queue it on the calling thread, call the top of the device stack, and
 * either finish stage 2 inline or leave it to the completion APC; on a
 * synchronous file they hold its lock (io/iosync.c) and wait for the file
 * object's event.  NtClose sends the cleanup and close IRPs, which have no
 * stage 2.  Every service returns through KiServiceExit, where due user
 * APCs run.
 */
#include "fsrtl/fsrtl.h"
#include "io/io.h"

PDEVICE_OBJECT io_top(PDEVICE_OBJECT d) {
  while (d->AttachedDevice) d = d->AttachedDevice;
  return d;
}

static PIRP io_build(sim_t *S, PKTHREAD t, const io_req_t *r) {
  PDEVICE_OBJECT top = io_top(r->fo->DeviceObject);
  PIRP irp = irp_alloc(S, top->StackSize, r->major);
  sched_step(S, COST_IRP_ALLOC);
  irp->Tail.Overlay.Thread = t;
  irp->Tail.Overlay.OriginalFileObject = r->fo;
  irp->RequestorMode = UserMode;
  irp->UserIosb = r->iosb;
  irp->UserEvent = r->event;
  irp->AsynchronousParameters.UserApcRoutine = r->apc;
  irp->AsynchronousParameters.UserApcContext = r->apc_ctx;
  irp->Flags |= r->flags;
  /* Vista+: an asynchronous request on a port-bound file that will produce
     a packet belongs to the file, not the thread (thread-agnostic I/O). */
  irp->SimPortBound = r->fo->CompletionContext.Port && r->apc_ctx && !r->apc &&
                      !(r->fo->Flags & FO_SYNCHRONOUS_IO);
  PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
  next->MajorFunction = r->major;
  next->FileObject = r->fo;
  switch (r->major) {
  case IRP_MJ_READ:
  case IRP_MJ_WRITE:
    next->Parameters.Read.Length = r->length;
    next->Parameters.Read.ByteOffset.QuadPart = r->offset;
    irp->Flags |= (r->major == IRP_MJ_READ ? IRP_READ_OPERATION : IRP_WRITE_OPERATION) |
                  IRP_DEFER_IO_COMPLETION;
    IopSetReadWriteBuffer(S, irp, top, r->major, r->buffer, r->length);
    break;
  case IRP_MJ_DEVICE_CONTROL:
    next->Parameters.DeviceIoControl.IoControlCode = r->code;
    next->Parameters.DeviceIoControl.InputBufferLength = r->in_len;
    next->Parameters.DeviceIoControl.OutputBufferLength = r->length;
    IopSetControlBuffers(S, irp, next, r->code, r->in_buffer, r->in_len, r->buffer, r->length);
    /* IOCTLs are not deferred: device drivers' IOCTL paths are trusted less
       to get the pending mark right, so stage 2 always comes by APC. */
    break;
  default:
    /* Cleanup and close are finished inside IofCompleteRequest instead
       (IRP_CLOSE_OPERATION): nothing to defer. */
    if (!(r->flags & IRP_CLOSE_OPERATION)) irp->Flags |= IRP_DEFER_IO_COMPLETION;
    break;
  }
  return irp;
}

/* A dispatch that returned a real status promised that the IRP is
   complete and that nobody queued its stage 2.  Marked pending (so stage 2
   is queued as an APC or a port packet, or already ran and freed it), or
   not completed at all: running stage 2 inline now would finish the IRP
   twice or too early.  Windows corrupts memory there; the simulated
   machine stops. */
static void io_check_inline(sim_t *S, PIRP irp, uint32_t id, NTSTATUS st) {
  char sb[16];
  if (!sim_irp_alive(S, irp, id))
    bugcheck(S, MULTIPLE_IRP_COMPLETE_REQUESTS, id, 0, 0, 0,
             "IRP %u: the dispatch returned %s, but the IRP's stage 2 already ran (it was marked pending): "
             "the system service would finish it a second time", id, iosim_status_name(st, sb));
  if (irp->PendingReturned || irp->SimStage2Queued)
    bugcheck(S, MULTIPLE_IRP_COMPLETE_REQUESTS, id, 0, 0, 0,
             "IRP %u: marked pending but the dispatch returned %s: stage 2 would run twice (inline and by APC)",
             id, iosim_status_name(st, sb));
  if (!irp->SimCompletes)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0, id, 0, 0,
             "IRP %u: the dispatch returned %s without completing the IRP or returning STATUS_PENDING "
             "(no Verifier subcode: iosim stops where Windows would go on to free an IRP still in use)",
             id, iosim_status_name(st, sb));
}

static const char *io_service_name(UCHAR major) {
  switch (major) {
  case IRP_MJ_READ: return "NtReadFile";
  case IRP_MJ_WRITE: return "NtWriteFile";
  case IRP_MJ_DEVICE_CONTROL: return "NtDeviceIoControlFile";
  case IRP_MJ_CREATE: return "NtCreateFile";
  case IRP_MJ_CLEANUP:
  case IRP_MJ_CLOSE: return "NtClose";
  default: return iosim_major_name(major);
  }
}

static void trace_service_return(sim_t *S, const io_req_t *r, uint32_t irp, NTSTATUS st) {
  if (!trc_on(S)) return;
  char sb[16];
  trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, r->fo->DeviceObject);
  e.irp = irp;
  e.service = io_service_name(r->major);
  e.major = r->major;
  e.file = r->fo->SimId;
  trc_set_status(&e, st);
  trc_send(S, &e, "returns %s", iosim_status_name(st, sb));
}

/* After IoCallDriver: a request that was not pended is finished here, at
   APC_LEVEL, without an APC (unless the drivers broke the contract); a
   synchronous file waits for the file object's event.  If a user APC or
   an alert ends that wait (FILE_SYNCHRONOUS_IO_ALERT), the request is
   cancelled and waited for, so the status returned is its own
   (kernel-facts 5.9).  A `locked` file object is let go last. */
static NTSTATUS IopSynchronousServiceTail(sim_t *S, PIRP irp, uint32_t id, NTSTATUS st, bool deferred,
                                          PFILE_OBJECT fo, bool locked) {
  /* Without the deferred flag the IRP may already be freed by its APC. */
  if (st != STATUS_PENDING && deferred) {
    io_check_inline(S, irp, id, st);
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    IopCompleteRequest(S, irp, TRC_STAGE2_INLINE);
    KeLowerIrql(old);
  }
  if ((fo->Flags & FO_SYNCHRONOUS_IO) && st == STATUS_PENDING) {
    NTSTATUS w = KeWaitForSingleObject(&fo->Event, Executive, UserMode, (fo->Flags & FO_ALERTABLE_IO) != 0, NULL);
    if (w == STATUS_USER_APC || w == STATUS_ALERTED) IopCancelAlertedRequest(S, &fo->Event, irp, id);
    st = fo->FinalStatus;
  }
  if (locked) IopUnlockFileObject(S, fo);
  return st;
}

/* The services that take a synchronous file object's lock here: read,
   write and device control (kernel-facts 5.8). */
static bool io_serialized(UCHAR major) {
  return major == IRP_MJ_READ || major == IRP_MJ_WRITE || major == IRP_MJ_DEVICE_CONTROL;
}

/* The common body of the I/O system services: build the IRP, queue it to
   the thread, call the top of the stack, and the service tail. */
static NTSTATUS io_service(sim_t *S, const io_req_t *r) {
  PKTHREAD t = thr_current(S);
  PFILE_OBJECT fo = r->fo;
  bool sync = (fo->Flags & FO_SYNCHRONOUS_IO) != 0;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, fo->DeviceObject);
    e.service = io_service_name(r->major);
    e.major = r->major;
    e.file = fo->SimId;
    e.offset = (r->major == IRP_MJ_READ || r->major == IRP_MJ_WRITE) ? r->offset : -1;
    e.count = (int)r->length;
    trc_send(S, &e, "%s on %s (%s)", e.service, fo->SimName, sync ? "synchronous file" : "overlapped file");
  }
  sched_step(S, COST_SYSCALL);
  /* The service's own checks, before any IRP: a file bound to a completion
     port reports through the port, so an APC routine is refused; a file
     opened for asynchronous I/O has no current position, so a read or
     write must say where (NtReadFile, NtWriteFile in the WRK and ReactOS). */
  NTSTATUS bad = STATUS_SUCCESS;
  if (r->apc && fo->CompletionContext.Port) bad = STATUS_INVALID_PARAMETER;
  else if (!sync && r->no_offset && (r->major == IRP_MJ_READ || r->major == IRP_MJ_WRITE))
    bad = STATUS_INVALID_PARAMETER;
  if (bad != STATUS_SUCCESS) {
    trace_service_return(S, r, 0, bad);
    return bad;
  }
  if (r->event) KeClearEvent(r->event);
  /* One request at a time on a synchronous file object: wait for its lock
     (alertably for FILE_SYNCHRONOUS_IO_ALERT); interrupted, return without
     an IRP.  The current position is read only once it is ours. */
  bool locked = false;
  io_req_t at_pos;
  if (sync && io_serialized(r->major)) {
    NTSTATUS ls = IopLockFileObject(S, fo, UserMode);
    if (ls != STATUS_SUCCESS) {
      trace_service_return(S, r, 0, ls);
      return ls;
    }
    locked = true;
    if (r->no_offset) {
      at_pos = *r;
      at_pos.offset = fo->CurrentByteOffset.QuadPart;
      r = &at_pos;
    }
  }
  NTSTATUS fast;
  if ((r->major == IRP_MJ_READ || r->major == IRP_MJ_WRITE) && fsrtl_try_fast_io(S, r, &fast)) {
    if (locked) IopUnlockFileObject(S, fo);
    trace_service_return(S, r, 0, fast);
    return fast; /* the file object's event is untouched */
  }
  KeClearEvent(&fo->Event);
  PIRP irp = io_build(S, t, r);
  uint32_t id = irp->SimId;
  t->last_irp = id;
  sim_irp_info_t *in = irp_info(S, id);
  if (in) in->file = fo->SimId;
  bool deferred = (irp->Flags & IRP_DEFER_IO_COMPLETION) != 0;
  if (!irp->SimPortBound) IopQueueIrpToThread(S, irp, t);
  NTSTATUS st = IoCallDriver(io_top(fo->DeviceObject), irp);
  st = IopSynchronousServiceTail(S, irp, id, st, deferred, fo, locked);
  trace_service_return(S, r, id, st);
  KiCheckServiceExit(S, t, io_service_name(r->major));
  return st;
}

NTSTATUS NtReadFile(PFILE_OBJECT File, PKEVENT Event, IO_APC_ROUTINE *ApcRoutine, PVOID ApcContext,
                    PIO_STATUS_BLOCK Iosb, PVOID Buffer, ULONG Length, const LONGLONG *ByteOffset) {
  io_req_t r = {.fo = File, .major = IRP_MJ_READ, .event = Event, .apc = ApcRoutine,
                .apc_ctx = ApcContext, .iosb = Iosb, .buffer = Buffer, .length = Length,
                .offset = ByteOffset ? *ByteOffset : File->CurrentByteOffset.QuadPart, .no_offset = !ByteOffset};
  sim_t *S = ctx_sim();
  return KiServiceExit(S, io_service(S, &r));
}

NTSTATUS NtWriteFile(PFILE_OBJECT File, PKEVENT Event, IO_APC_ROUTINE *ApcRoutine, PVOID ApcContext,
                     PIO_STATUS_BLOCK Iosb, PVOID Buffer, ULONG Length, const LONGLONG *ByteOffset) {
  io_req_t r = {.fo = File, .major = IRP_MJ_WRITE, .event = Event, .apc = ApcRoutine,
                .apc_ctx = ApcContext, .iosb = Iosb, .buffer = Buffer, .length = Length,
                .offset = ByteOffset ? *ByteOffset : File->CurrentByteOffset.QuadPart, .no_offset = !ByteOffset};
  sim_t *S = ctx_sim();
  return KiServiceExit(S, io_service(S, &r));
}

NTSTATUS NtDeviceIoControlFile(PFILE_OBJECT File, PKEVENT Event, IO_APC_ROUTINE *ApcRoutine,
                               PVOID ApcContext, PIO_STATUS_BLOCK Iosb, ULONG Code, PVOID InputBuffer,
                               ULONG InLen, PVOID OutputBuffer, ULONG OutLen) {
  io_req_t r = {.fo = File, .major = IRP_MJ_DEVICE_CONTROL, .event = Event, .apc = ApcRoutine,
                .apc_ctx = ApcContext, .iosb = Iosb, .buffer = OutputBuffer, .length = OutLen,
                .in_buffer = InputBuffer, .in_len = InLen,
                .code = Code};
  sim_t *S = ctx_sim();
  return KiServiceExit(S, io_service(S, &r));
}

/* Create is a synchronous request: an event of the I/O manager's own,
   waited on if the stack pends. */
static NTSTATUS io_sync_request(sim_t *S, PFILE_OBJECT fo, UCHAR major) {
  KEVENT ev;
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  ev.Header.Name = "I/O manager's event";
  IO_STATUS_BLOCK iosb = {STATUS_PENDING, 0};
  ULONG saved = fo->Flags;
  fo->Flags |= FO_SYNCHRONOUS_IO; /* waits on the file object like any sync I/O */
  io_req_t r = {.fo = fo, .major = major, .event = &ev, .iosb = &iosb, .flags = IRP_SYNCHRONOUS_API};
  NTSTATUS st = io_service(S, &r);
  fo->Flags = saved;
  return st;
}

NTSTATUS NtCreateFile(PFILE_OBJECT *File, PDEVICE_OBJECT Target, ULONG Options, const char *Name) {
  sim_t *S = ctx_sim();
  PFILE_OBJECT fo = mem_calloc(S, sizeof *fo);
  fo->DeviceObject = Target;
  fo->SimName = mem_strdup(S, Name ? Name : Target->SimName);
  fo->SimId = name_add(S, &S->object_names, fo->SimName);
  if (Options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT)) fo->Flags |= FO_SYNCHRONOUS_IO;
  if (Options & FILE_SYNCHRONOUS_IO_ALERT) fo->Flags |= FO_ALERTABLE_IO;
  KeInitializeEvent(&fo->Event, NotificationEvent, FALSE);
  fo->Event.Header.Name = fo->SimName;
  KeInitializeEvent(&fo->Lock, SynchronizationEvent, FALSE);
  fo->Lock.Header.Name = "FileObject->Lock";
  fo->SimNextFile = S->files;
  S->files = fo;
  NTSTATUS st = io_sync_request(S, fo, IRP_MJ_CREATE);
  *File = NT_SUCCESS(st) ? fo : NULL;
  if (NT_SUCCESS(st)) Target->ReferenceCount++;
  return KiServiceExit(S, st);
}

/* The requests on `fo` whose completion has not finished, apart from
   `except` (kernel-facts 5.10: on Windows each holds a reference to the
   file object, which delays IRP_MJ_CLOSE). */
static int io_outstanding(sim_t *S, PFILE_OBJECT fo, PIRP except) {
  int n = 0;
  for (LIST_ENTRY *e = S->live_irps.Flink; e != &S->live_irps; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, SimLink);
    const sim_irp_info_t *in = irp_info(S, irp->SimId);
    if (irp != except && in && in->file == fo->SimId && !in->completed) n++;
  }
  return n;
}

static __attribute__((noinline)) void trace_close_early(sim_t *S, PFILE_OBJECT fo, int left) {
  trc_event_t e = trc_ev(TRC_NOTE, NULL, fo->DeviceObject);
  e.file = fo->SimId;
  e.count = left;
  trc_send(S, &e, "%d request%s on %s not finished: on Windows they keep the file object referenced and "
           "IRP_MJ_CLOSE comes when the last one is done; iosim sends it now", left, left == 1 ? "" : "s",
           fo->SimName);
}

/* One IRP of a closing handle, built the way IopCloseFile (cleanup) and
   IopDeleteFile (close) build theirs: kernel mode, IRP_SYNCHRONOUS_API |
   IRP_CLOSE_OPERATION, a local event and status block.  Stage 1 sets the
   event (no stage 2, no APC); this thread waits for it if the driver
   pended, then takes the IRP off its list and frees it.  The status is
   not looked at: closing cannot fail. */
static void io_close_irp(sim_t *S, PFILE_OBJECT fo, UCHAR major) {
  PKTHREAD t = thr_current(S);
  KEVENT ev;
  KeInitializeEvent(&ev, SynchronizationEvent, FALSE);
  ev.Header.Name = "I/O manager's event";
  IO_STATUS_BLOCK iosb = {STATUS_PENDING, 0};
  KeClearEvent(&fo->Event);
  io_req_t r = {.fo = fo, .major = major, .event = &ev, .iosb = &iosb,
                .flags = IRP_SYNCHRONOUS_API | IRP_CLOSE_OPERATION};
  PIRP irp = io_build(S, t, &r);
  irp->RequestorMode = KernelMode;
  uint32_t id = irp->SimId;
  sim_irp_info_t *in = irp_info(S, id);
  if (in) in->file = fo->SimId;
  if (major == IRP_MJ_CLOSE && trc_on(S)) {
    int left = io_outstanding(S, fo, irp);
    if (left) trace_close_early(S, fo, left);
  }
  IopQueueIrpToThread(S, irp, t);
  NTSTATUS st = IoCallDriver(io_top(fo->DeviceObject), irp);
  if (st == STATUS_PENDING) {
    KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
  } else if (!sim_irp_alive(S, irp, id) || !irp->SimCompletes) {
    char sb[16];
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0, id, 0, 0,
             "IRP %u (%s): the dispatch returned %s without completing the IRP or returning STATUS_PENDING "
             "(no Verifier subcode: iosim stops where Windows would go on to free an IRP still in use)",
             id, iosim_major_name(major), iosim_status_name(st, sb));
  }
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  IopUnQueueIrpFromThread(S, irp);
  KeLowerIrql(old);
  irp_free(S, irp);
}

/* CloseHandle on the last handle: IRP_MJ_CLEANUP (IopCloseFile), then,
   the last reference gone, IRP_MJ_CLOSE (IopDeleteFile), whatever the
   driver did with the cleanup - a driver without a cleanup routine gets
   the default one, which fails it (kernel-facts 5.10). */
NTSTATUS NtClose(PFILE_OBJECT File) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, File->DeviceObject);
    e.service = "NtClose";
    e.file = File->SimId;
    trc_send(S, &e, "NtClose on %s", File->SimName);
  }
  sched_step(S, COST_SYSCALL);
  io_close_irp(S, File, IRP_MJ_CLEANUP);
  io_close_irp(S, File, IRP_MJ_CLOSE);
  /* The file's reference on the device goes with it: a driver whose
     unload waited for it is unloaded now, in this thread. */
  File->DeviceObject->ReferenceCount--;
  io_unload_pending(S);
  if (trc_on(S)) {
    char sb[16];
    trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, File->DeviceObject);
    e.service = "NtClose";
    e.file = File->SimId;
    trc_set_status(&e, STATUS_SUCCESS);
    trc_send(S, &e, "returns %s", iosim_status_name(STATUS_SUCCESS, sb));
  }
  return KiServiceExit(S, STATUS_SUCCESS);
}

uint32_t sim_last_irp_id(void) {
  PKTHREAD t = thr_current(ctx_sim());
  return t ? t->last_irp : 0;
}

NTSTATUS NtWaitForMultipleObjects(ULONG Count, PVOID Objects[], WAIT_TYPE Type, BOOLEAN Alertable,
                                  const LONGLONG *Timeout) {
  sim_t *S = ctx_sim();
  /* WaitForMultipleObjects' own checks, before any wait: at most 64
     objects, and WaitAll on one object twice is a contradiction. */
  NTSTATUS bad = STATUS_SUCCESS;
  if (Count > MAXIMUM_WAIT_OBJECTS) bad = STATUS_INVALID_PARAMETER;
  else if (Type == WaitAll)
    for (ULONG i = 0; i < Count && bad == STATUS_SUCCESS; i++)
      for (ULONG k = i + 1; k < Count; k++)
        if (Objects[i] == Objects[k]) bad = STATUS_INVALID_PARAMETER_MIX;
  if (bad != STATUS_SUCCESS) {
    if (trc_on(S)) {
      char sb[16];
      trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, NULL);
      e.service = "NtWaitForMultipleObjects";
      e.count = (int)Count;
      trc_set_status(&e, bad);
      trc_send(S, &e, "WaitForMultipleObjects on %lu object(s)%s returns %s", (unsigned long)Count,
               Type == WaitAll ? " (all)" : "", iosim_status_name(bad, sb));
    }
    sched_step(S, COST_SYSCALL);
    return KiServiceExit(S, bad);
  }
  NTSTATUS st = thr_wait(S, Count, (DISPATCHER_HEADER **)Objects, Type, UserMode, Alertable, Timeout);
  return KiServiceExit(S, st); /* after STATUS_USER_APC, the APCs run here */
}

NTSTATUS NtDelayExecution(BOOLEAN Alertable, const LONGLONG *Interval) {
  sim_t *S = ctx_sim();
  NTSTATUS st = thr_wait(S, 0, NULL, WaitAny, UserMode, Alertable, Interval);
  return KiServiceExit(S, st == STATUS_TIMEOUT ? STATUS_SUCCESS : st);
}
