/*
 * iobuild.c - the IRPs a driver builds for the device below it
 * (kernel-facts 14.5): IoBuildAsynchronousFsdRequest,
 * IoBuildSynchronousFsdRequest, IoBuildDeviceIoControlRequest, and the
 * helpers around sending an IRP down - IoReuseIrp,
 * IoForwardIrpSynchronously, IoSetCompletionRoutineEx.  As in WRK and
 * ReactOS: the builders fill the first (next) stack location and describe
 * the buffer as the target device or the control code's method asks; the
 * synchronous and device-control IRPs are threaded (on the caller's IRP
 * list, so a thread that exits cancels them) and carry the caller's event
 * and status block, which stage 2 sets and writes; the asynchronous one is
 * not on the list and is for the caller's completion routine to free.
 */
#include "io/io.h"

static PIRP build_fsd(sim_t *S, ULONG major, PDEVICE_OBJECT dev, PVOID buf, ULONG len, PLARGE_INTEGER off,
                      PIO_STATUS_BLOCK iosb, const char *routine) {
  ke_check_irql(S, APC_LEVEL, routine);
  PIRP irp = irp_alloc(S, dev->StackSize, (int)major);
  sched_step(S, COST_IRP_ALLOC);
  PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
  sp->MajorFunction = (UCHAR)major;
  if (major != IRP_MJ_FLUSH_BUFFERS && major != IRP_MJ_SHUTDOWN && major != IRP_MJ_PNP && major != IRP_MJ_POWER) {
    IopSetReadWriteBuffer(S, irp, dev, (UCHAR)major, buf, len);
    if (major == IRP_MJ_READ || major == IRP_MJ_WRITE) {
      /* Read and Write have one layout: Length, Key, ByteOffset. */
      sp->Parameters.Read.Length = len;
      sp->Parameters.Read.ByteOffset.QuadPart = off ? off->QuadPart : 0;
    }
  }
  irp->UserIosb = iosb;
  irp->Tail.Overlay.Thread = thr_current(S);
  return irp;
}

PIRP IoBuildAsynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer, ULONG Length,
                                   PLARGE_INTEGER StartingOffset, PIO_STATUS_BLOCK IoStatusBlock) {
  return build_fsd(ctx_sim(), MajorFunction, DeviceObject, Buffer, Length, StartingOffset, IoStatusBlock,
                   "IoBuildAsynchronousFsdRequest");
}

PIRP IoBuildSynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer, ULONG Length,
                                  PLARGE_INTEGER StartingOffset, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, PASSIVE_LEVEL, "IoBuildSynchronousFsdRequest");
  PIRP irp = build_fsd(S, MajorFunction, DeviceObject, Buffer, Length, StartingOffset, IoStatusBlock,
                       "IoBuildSynchronousFsdRequest");
  irp->UserEvent = Event;
  IopQueueIrpToThread(S, irp, irp->Tail.Overlay.Thread);
  return irp;
}

PIRP IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject, PVOID InputBuffer,
                                   ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                   BOOLEAN InternalDeviceIoControl, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, PASSIVE_LEVEL, "IoBuildDeviceIoControlRequest");
  UCHAR major = InternalDeviceIoControl ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL;
  PIRP irp = irp_alloc(S, DeviceObject->StackSize, major);
  sched_step(S, COST_IRP_ALLOC);
  PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
  sp->MajorFunction = major;
  sp->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
  sp->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
  sp->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;
  /* The same description of the buffers as NtDeviceIoControlFile's, in
     kernel mode (the MDL is probed for KernelMode). */
  IopSetControlBuffers(S, irp, sp, IoControlCode, InputBuffer, InputBufferLength, OutputBuffer, OutputBufferLength);
  irp->UserIosb = IoStatusBlock;
  irp->UserEvent = Event;
  irp->Tail.Overlay.Thread = thr_current(S);
  IopQueueIrpToThread(S, irp, irp->Tail.Overlay.Thread);
  return irp;
}

/* IoInitializeIrp over the same allocation, keeping its size: a driver's
   IRP (IoAllocateIrp) that is not on a thread's list and has no cancel
   routine (WRK asserts both). */
void IoReuseIrp(PIRP Irp, NTSTATUS Iostatus) {
  sim_t *S = Irp->Sim;
  if (Irp->CancelRoutine) ke_assert_failed(S, "Irp->CancelRoutine == NULL", "iosubs.c", 0, "IoReuseIrp");
  if (!IsListEmpty(&Irp->ThreadListEntry))
    ke_assert_failed(S, "IsListEmpty(&Irp->ThreadListEntry)", "iosubs.c", 0, "IoReuseIrp");
  /* A leftover SystemBuffer or MDL would leak on Windows; iosim frees it. */
  IopReleaseBuffers(S, Irp);
  int8_t n = Irp->StackCount;
  uint32_t id = Irp->SimId;
  LIST_ENTRY link = Irp->SimLink;
  memset(Irp, 0, sizeof *Irp + (size_t)n * sizeof(IO_STACK_LOCATION));
  Irp->Size = (uint16_t)(sizeof *Irp + (size_t)n * sizeof(IO_STACK_LOCATION));
  Irp->StackCount = n;
  Irp->CurrentLocation = (int16_t)(n + 1);
  Irp->Tail.Overlay.CurrentStackLocation = &Irp->Stack[n];
  InitializeListHead(&Irp->ThreadListEntry);
  Irp->IoStatus.Status = Iostatus;
  Irp->SimId = id;
  Irp->Sim = S;
  Irp->SimLink = link; /* still on the machine's list of live IRPs, at the same place */
  sched_step(S, COST_STACK_OP);
}

/* The completion routine of IoForwardIrpSynchronously: the caller's wait
   ends; the IRP stays the caller's (STATUS_MORE_PROCESSING_REQUIRED). */
static NTSTATUS IopForwardCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  (void)DeviceObject;
  if (Irp->PendingReturned) KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

BOOLEAN IoForwardIrpSynchronously(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  sim_t *S = Irp->Sim;
  ke_check_irql(S, PASSIVE_LEVEL, "IoForwardIrpSynchronously");
  /* No location for the lower driver, or no current one to copy. */
  if (Irp->CurrentLocation <= 1 || Irp->CurrentLocation > Irp->StackCount) return FALSE;
  KEVENT ev;
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  IoCopyCurrentIrpStackLocationToNext(Irp);
  IoSetCompletionRoutine(Irp, IopForwardCompletion, &ev, TRUE, TRUE, TRUE);
  if (IoCallDriver(DeviceObject, Irp) == STATUS_PENDING)
    KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
  return TRUE;
}

/* Windows allocates a small block that holds a reference on DeviceObject
   until the routine has run, so the driver cannot be unloaded under it.
   iosim unloads drivers only once no request is left, so the routine is
   set as IoSetCompletionRoutine sets it, and the call cannot fail. */
NTSTATUS IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                  PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                  BOOLEAN InvokeOnCancel) {
  (void)DeviceObject;
  IoSetCompletionRoutine(Irp, CompletionRoutine, Context, InvokeOnSuccess, InvokeOnError, InvokeOnCancel);
  return STATUS_SUCCESS;
}

PDEVICE_OBJECT IoGetAttachedDevice(PDEVICE_OBJECT DeviceObject) { return io_top(DeviceObject); }

PDEVICE_OBJECT IoGetAttachedDeviceReference(PDEVICE_OBJECT DeviceObject) {
  PDEVICE_OBJECT top = io_top(DeviceObject);
  ObfReferenceObject(top);
  return top;
}

/* The user-buffer probes: iosim's program buffers are always valid, and
   its __except never runs, so a misaligned buffer (Windows raises
   STATUS_DATATYPE_MISALIGNMENT for the driver's handler) stops the
   machine as an exception nobody handles. */
static void probe(sim_t *S, const volatile void *a, SIZE_T n, ULONG align, const char *routine) {
  ke_check_irql(S, APC_LEVEL, routine);
  if (align != 1 && align != 2 && align != 4 && align != 8 && align != 16)
    ke_assert_failed(S, "(Alignment == 1) || (Alignment == 2) || (Alignment == 4) || (Alignment == 8) || "
                        "(Alignment == 16)", "probe.c", 0, routine);
  if (n && ((uintptr_t)a & (align - 1)))
    ke_raise_stop(S, STATUS_DATATYPE_MISALIGNMENT,
                  "%s: the buffer at %p is not aligned on %lu bytes (Windows raises STATUS_DATATYPE_MISALIGNMENT "
                  "for the driver's __except, which iosim cannot run)", routine, (const void *)a,
                  (unsigned long)align);
  sched_step(S, COST_STEP);
}

void ProbeForRead(const volatile void *Address, SIZE_T Length, ULONG Alignment) {
  probe(ctx_sim(), Address, Length, Alignment, "ProbeForRead");
}

void ProbeForWrite(volatile void *Address, SIZE_T Length, ULONG Alignment) {
  probe(ctx_sim(), Address, Length, Alignment, "ProbeForWrite");
}
