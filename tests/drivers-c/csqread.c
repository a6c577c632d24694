/*
 * csqread.c - a driver whose reads wait in a cancel-safe queue until data
 * arrives, served by a polling system thread, in the manner of Microsoft's
 * general/cancel sample (written anew for these tests).  Writes (direct
 * I/O: the bytes come through the MDL) fill a small store under a spin
 * lock; every millisecond the thread moves what the store holds into the
 * oldest queued reads.  A queued read cancelled (CancelIoEx, a thread that
 * exits) leaves the queue through the IoCsq routines' cancel logic; when a
 * handle is closed, IRP_MJ_CLEANUP completes that handle's queued reads as
 * cancelled and leaves the other handles' alone.  DriverUnload stops the
 * thread and waits for it.  Built with the WDK headers only; run by
 * tests/test_drivers_c.c.
 */
#include <ntddk.h>
#include "drvctl.h"

#define CSQ_STORE 64

typedef struct _CSQ_EXTENSION {
  IO_CSQ Csq;
  LIST_ENTRY Reads;
  KSPIN_LOCK QueueLock;
  KSPIN_LOCK StoreLock;
  UCHAR Store[CSQ_STORE];
  ULONG Stored;
  KEVENT Stop;
  PKTHREAD Thread;
} CSQ_EXTENSION, *PCSQ_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD CsqUnload;
DRIVER_DISPATCH CsqCreateClose, CsqRead, CsqWrite, CsqCleanup;
KSTART_ROUTINE CsqPoll;
IO_CSQ_INSERT_IRP CsqInsert;
IO_CSQ_REMOVE_IRP CsqRemove;
IO_CSQ_PEEK_NEXT_IRP CsqPeek;
IO_CSQ_ACQUIRE_LOCK CsqLock;
IO_CSQ_RELEASE_LOCK CsqUnlock;
IO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceled;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  UNICODE_STRING name;
  PDEVICE_OBJECT dev;
  RtlInitUnicodeString(&name, L"\\Device\\CsqRead");
  NTSTATUS status = IoCreateDevice(DriverObject, sizeof(CSQ_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev);
  if (!NT_SUCCESS(status)) return status;
  PCSQ_EXTENSION ext = dev->DeviceExtension;
  InitializeListHead(&ext->Reads);
  KeInitializeSpinLock(&ext->QueueLock);
  KeInitializeSpinLock(&ext->StoreLock);
  KeInitializeEvent(&ext->Stop, NotificationEvent, FALSE);
  IoCsqInitialize(&ext->Csq, CsqInsert, CsqRemove, CsqPeek, CsqLock, CsqUnlock, CsqCompleteCanceled);
  HANDLE h;
  status = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, CsqPoll, ext);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(dev);
    return status;
  }
  ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &ext->Thread, NULL);
  ZwClose(h);
  dev->Flags |= DO_DIRECT_IO;
  dev->Flags &= ~DO_DEVICE_INITIALIZING;
  DriverObject->MajorFunction[IRP_MJ_CREATE] = CsqCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = CsqCreateClose;
  DriverObject->MajorFunction[IRP_MJ_READ] = CsqRead;
  DriverObject->MajorFunction[IRP_MJ_WRITE] = CsqWrite;
  DriverObject->MajorFunction[IRP_MJ_CLEANUP] = CsqCleanup;
  DriverObject->DriverUnload = CsqUnload;
  return STATUS_SUCCESS;
}

static NTSTATUS CsqFinish(PIRP Irp, NTSTATUS status, ULONG_PTR info) {
  Irp->IoStatus.Status = status;
  Irp->IoStatus.Information = info;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

NTSTATUS CsqCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  return CsqFinish(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS CsqRead(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PCSQ_EXTENSION ext = DeviceObject->DeviceExtension;
  if (!Irp->MdlAddress) return CsqFinish(Irp, STATUS_SUCCESS, 0); /* a zero-length read */
  IoCsqInsertIrp(&ext->Csq, Irp, NULL); /* marks it pending */
  return STATUS_PENDING;
}

NTSTATUS CsqWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PCSQ_EXTENSION ext = DeviceObject->DeviceExtension;
  if (!Irp->MdlAddress) return CsqFinish(Irp, STATUS_SUCCESS, 0);
  PUCHAR src = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority);
  if (!src) return CsqFinish(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  ULONG len = MmGetMdlByteCount(Irp->MdlAddress);
  KIRQL irql;
  KeAcquireSpinLock(&ext->StoreLock, &irql);
  ULONG n = len < CSQ_STORE - ext->Stored ? len : CSQ_STORE - ext->Stored;
  RtlCopyMemory(ext->Store + ext->Stored, src, n);
  ext->Stored += n;
  KeReleaseSpinLock(&ext->StoreLock, irql);
  return CsqFinish(Irp, STATUS_SUCCESS, n);
}

/* The handle is being closed: its reads will never be collected. */
NTSTATUS CsqCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PCSQ_EXTENSION ext = DeviceObject->DeviceExtension;
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
  PIRP pending;
  while ((pending = IoCsqRemoveNextIrp(&ext->Csq, file)) != NULL) CsqFinish(pending, STATUS_CANCELLED, 0);
  return CsqFinish(Irp, STATUS_SUCCESS, 0);
}

/* Moves stored bytes into the oldest reads, one read per pass of the loop. */
static VOID CsqServe(PCSQ_EXTENSION ext) {
  for (;;) {
    KIRQL irql;
    KeAcquireSpinLock(&ext->StoreLock, &irql);
    BOOLEAN have = ext->Stored > 0;
    KeReleaseSpinLock(&ext->StoreLock, irql);
    if (!have) return;
    PIRP irp = IoCsqRemoveNextIrp(&ext->Csq, NULL);
    if (!irp) return;
    PUCHAR dst = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
    ULONG room = MmGetMdlByteCount(irp->MdlAddress);
    KeAcquireSpinLock(&ext->StoreLock, &irql);
    ULONG n = room < ext->Stored ? room : ext->Stored;
    RtlCopyMemory(dst, ext->Store, n);
    RtlMoveMemory(ext->Store, ext->Store + n, ext->Stored - n);
    ext->Stored -= n;
    KeReleaseSpinLock(&ext->StoreLock, irql);
    CsqFinish(irp, STATUS_SUCCESS, n);
  }
}

VOID CsqPoll(PVOID Context) {
  PCSQ_EXTENSION ext = Context;
  LARGE_INTEGER interval;
  interval.QuadPart = -10000; /* 1 ms */
  KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY);
  while (KeWaitForSingleObject(&ext->Stop, Executive, KernelMode, FALSE, &interval) == STATUS_TIMEOUT) CsqServe(ext);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

VOID CsqInsert(PIO_CSQ Csq, PIRP Irp) {
  PCSQ_EXTENSION ext = CONTAINING_RECORD(Csq, CSQ_EXTENSION, Csq);
  InsertTailList(&ext->Reads, &Irp->Tail.Overlay.ListEntry);
}

VOID CsqRemove(PIO_CSQ Csq, PIRP Irp) {
  UNREFERENCED_PARAMETER(Csq);
  RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
}

/* The IRP after Irp (the first if NULL) whose file object is PeekContext
   (any if NULL). */
PIRP CsqPeek(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext) {
  PCSQ_EXTENSION ext = CONTAINING_RECORD(Csq, CSQ_EXTENSION, Csq);
  PLIST_ENTRY e = Irp ? Irp->Tail.Overlay.ListEntry.Flink : ext->Reads.Flink;
  for (; e != &ext->Reads; e = e->Flink) {
    PIRP next = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
    if (!PeekContext || IoGetCurrentIrpStackLocation(next)->FileObject == (PFILE_OBJECT)PeekContext) return next;
  }
  return NULL;
}

_IRQL_raises_(DISPATCH_LEVEL) VOID CsqLock(PIO_CSQ Csq, PKIRQL Irql) {
  PCSQ_EXTENSION ext = CONTAINING_RECORD(Csq, CSQ_EXTENSION, Csq);
  KeAcquireSpinLock(&ext->QueueLock, Irql);
}

VOID CsqUnlock(PIO_CSQ Csq, KIRQL Irql) {
  PCSQ_EXTENSION ext = CONTAINING_RECORD(Csq, CSQ_EXTENSION, Csq);
  KeReleaseSpinLock(&ext->QueueLock, Irql);
}

VOID CsqCompleteCanceled(PIO_CSQ Csq, PIRP Irp) {
  UNREFERENCED_PARAMETER(Csq);
  CsqFinish(Irp, STATUS_CANCELLED, 0);
}

VOID CsqUnload(PDRIVER_OBJECT DriverObject) {
  PDEVICE_OBJECT dev = DriverObject->DeviceObject;
  PCSQ_EXTENSION ext = dev->DeviceExtension;
  KeSetEvent(&ext->Stop, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(ext->Thread, Executive, KernelMode, FALSE, NULL);
  ObDereferenceObject(ext->Thread);
  IoDeleteDevice(dev);
}
