/*
 * synth.c - a synthetic WDM driver written as Microsoft's samples are
 * (general/cancel, general/event, general/ioctl): the same headers
 * (<ntddk.h>, <wdmsec.h>, <initguid.h>, <dontuse.h>, <devioctl.h>), SAL
 * annotations, the routine typedefs, alloc_text pragmas, SEH, and the
 * routines those samples call outside the buffer methods: a device made
 * with IoCreateDeviceSecure and a symbolic link, a cancel-safe queue of
 * reads served by a polling system thread, a remove lock, a spin lock, a
 * timer with a DPC, pool with a tag, KdPrint, and an unload routine that
 * takes it all down.  It is compiled with iosim's WDK headers and
 * -fshort-wchar (the flags of `iosim cc`) and run by tests/test_wdk.c.
 */
#include <ntddk.h>
#include <wdmsec.h>
#include <initguid.h>
#include "synth.h"
#include <dontuse.h>

#define SYNTH_TAG 'hnyS'

DEFINE_GUID(GUID_DEVCLASS_SYNTH, 0x5d006e1a, 0x2631, 0x466c, 0xb8, 0xa0, 0x32, 0xfd, 0x49, 0x8e, 0x44, 0x24);

typedef struct _DEVICE_EXTENSION {
  IO_CSQ CancelSafeQueue;
  LIST_ENTRY PendingIrpQueue;
  KSPIN_LOCK QueueLock;
  IO_REMOVE_LOCK RemoveLock;
  PVOID ThreadObject;
  BOOLEAN ThreadShouldStop;
  KTIMER Timer;
  KDPC TimerDpc;
  LONG TimerTicks;
  LONG ReadsServed;
  PULONG History;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH SynthCreateClose;
_Dispatch_type_(IRP_MJ_READ) DRIVER_DISPATCH SynthRead;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH SynthIoctl;
DRIVER_UNLOAD SynthUnload;
KSTART_ROUTINE SynthPollingThread;
KDEFERRED_ROUTINE SynthTimerDpc;
IO_CSQ_INSERT_IRP SynthInsertIrp;
IO_CSQ_REMOVE_IRP SynthRemoveIrp;
IO_CSQ_PEEK_NEXT_IRP SynthPeekNextIrp;
IO_CSQ_ACQUIRE_LOCK SynthAcquireLock;
IO_CSQ_RELEASE_LOCK SynthReleaseLock;
IO_CSQ_COMPLETE_CANCELED_IRP SynthCompleteCanceledIrp;

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, SynthCreateClose)
#pragma alloc_text(PAGE, SynthUnload)
#endif

_Use_decl_annotations_ NTSTATUS DriverEntry(IN PDRIVER_OBJECT DriverObject, IN PUNICODE_STRING RegistryPath) {
  NTSTATUS status;
  UNICODE_STRING ntName, dosName;
  PDEVICE_OBJECT deviceObject = NULL;
  PDEVICE_EXTENSION ext;
  HANDLE threadHandle;
  LARGE_INTEGER due;

  UNREFERENCED_PARAMETER(RegistryPath);
  ExInitializeDriverRuntime(DrvRtPoolNxOptIn);
  KdPrint(("Synth: DriverEntry %wZ\n", RegistryPath));
  KdPrint(("Synth: formats %ws|%S|%I64d|%I64x|%Iu|%5.2f|%-4d|%*d|%c|%%|%s\n", L"wide", L"S", (LONGLONG)-5,
           (ULONGLONG)0xABCDEF012345ULL, (SIZE_T)7, 3.14159, 42, 3, 7, 'z', "narrow"));

  RtlInitUnicodeString(&ntName, L"\\Device\\Synth");
  status = IoCreateDeviceSecure(DriverObject, sizeof(DEVICE_EXTENSION), &ntName, FILE_DEVICE_UNKNOWN,
                                FILE_DEVICE_SECURE_OPEN, FALSE, &SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R,
                                (LPCGUID)&GUID_DEVCLASS_SYNTH, &deviceObject);
  if (!NT_SUCCESS(status)) return status;

  DriverObject->MajorFunction[IRP_MJ_CREATE] = SynthCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = SynthCreateClose;
  DriverObject->MajorFunction[IRP_MJ_READ] = SynthRead;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SynthIoctl;
  DriverObject->DriverUnload = SynthUnload;

  RtlInitUnicodeString(&dosName, L"\\DosDevices\\Synth");
  status = IoCreateSymbolicLink(&dosName, &ntName);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(deviceObject);
    return status;
  }

  ext = deviceObject->DeviceExtension;
  RtlZeroMemory(ext, sizeof *ext);
  InitializeListHead(&ext->PendingIrpQueue);
  KeInitializeSpinLock(&ext->QueueLock);
  IoInitializeRemoveLock(&ext->RemoveLock, SYNTH_TAG, 0, 0);
  IoCsqInitialize(&ext->CancelSafeQueue, SynthInsertIrp, SynthRemoveIrp, SynthPeekNextIrp, SynthAcquireLock,
                  SynthReleaseLock, SynthCompleteCanceledIrp);
  ext->History = ExAllocatePoolZero(NonPagedPoolNx, 8 * sizeof(ULONG), SYNTH_TAG);
  if (ext->History == NULL) {
    IoDeleteSymbolicLink(&dosName);
    IoDeleteDevice(deviceObject);
    return STATUS_INSUFFICIENT_RESOURCES;
  }

  KeInitializeTimer(&ext->Timer);
  KeInitializeDpc(&ext->TimerDpc, SynthTimerDpc, ext);
  due.QuadPart = -10 * 1000; /* 1 ms, then every millisecond */
  KeSetTimerEx(&ext->Timer, due, 1, &ext->TimerDpc);

  status = PsCreateSystemThread(&threadHandle, THREAD_ALL_ACCESS, NULL, NULL, NULL, SynthPollingThread, ext);
  if (!NT_SUCCESS(status)) {
    KeCancelTimer(&ext->Timer);
    ExFreePoolWithTag(ext->History, SYNTH_TAG);
    IoDeleteSymbolicLink(&dosName);
    IoDeleteDevice(deviceObject);
    return status;
  }
  ObReferenceObjectByHandle(threadHandle, THREAD_ALL_ACCESS, NULL, KernelMode, &ext->ThreadObject, NULL);
  ZwClose(threadHandle);
  deviceObject->Flags &= ~DO_DEVICE_INITIALIZING;
  return STATUS_SUCCESS;
}

_Use_decl_annotations_ NTSTATUS SynthCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  PAGED_CODE();
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

_Use_decl_annotations_ NTSTATUS SynthRead(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PDEVICE_EXTENSION ext = DeviceObject->DeviceExtension;
  NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
  if (!NT_SUCCESS(status)) {
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
  }
  IoCsqInsertIrp(&ext->CancelSafeQueue, Irp, NULL); /* marks it pending */
  return STATUS_PENDING;
}

_Use_decl_annotations_ NTSTATUS SynthIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PDEVICE_EXTENSION ext = DeviceObject->DeviceExtension;
  PIO_STACK_LOCATION irpSp = IoGetCurrentIrpStackLocation(Irp);
  NTSTATUS status = STATUS_SUCCESS;
  Irp->IoStatus.Information = 0;
  switch (irpSp->Parameters.DeviceIoControl.IoControlCode) {
  case IOCTL_SYNTH_PING:
    __try {
      ext->History[ext->ReadsServed % 8]++;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
      status = GetExceptionCode();
    }
    break;
  case IOCTL_SYNTH_STATS:
    try {
      if (ext->TimerTicks == 0) leave;
      Irp->IoStatus.Information = (ULONG_PTR)ext->ReadsServed;
    } finally {
      ASSERTMSG("the timer runs", ext->TimerTicks >= 0);
    }
    break;
  default:
    status = STATUS_INVALID_DEVICE_REQUEST;
    break;
  }
  Irp->IoStatus.Status = status;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

_Use_decl_annotations_ void SynthTimerDpc(PKDPC Dpc, PVOID DeferredContext, PVOID SystemArgument1,
                                          PVOID SystemArgument2) {
  PDEVICE_EXTENSION ext = DeferredContext;
  UNREFERENCED_PARAMETER(Dpc);
  UNREFERENCED_PARAMETER(SystemArgument1);
  UNREFERENCED_PARAMETER(SystemArgument2);
  InterlockedIncrement(&ext->TimerTicks);
}

/* Every 2 ms: serve the reads queued meanwhile, until told to stop. */
_Use_decl_annotations_ void SynthPollingThread(PVOID Context) {
  PDEVICE_EXTENSION ext = Context;
  LARGE_INTEGER interval;
  PIRP irp;
  KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY);
  interval.QuadPart = -2 * 10 * 1000;
  for (;;) {
    KeDelayExecutionThread(KernelMode, FALSE, &interval);
    while ((irp = IoCsqRemoveNextIrp(&ext->CancelSafeQueue, NULL)) != NULL) {
      PIO_STACK_LOCATION irpSp = IoGetCurrentIrpStackLocation(irp);
      irp->IoStatus.Status = STATUS_SUCCESS;
      irp->IoStatus.Information = irpSp->Parameters.Read.Length;
      InterlockedIncrement(&ext->ReadsServed);
      IoCompleteRequest(irp, IO_NO_INCREMENT);
      IoReleaseRemoveLock(&ext->RemoveLock, irp);
    }
    if (ext->ThreadShouldStop) PsTerminateSystemThread(STATUS_SUCCESS);
  }
}

_Use_decl_annotations_ void SynthUnload(PDRIVER_OBJECT DriverObject) {
  PDEVICE_OBJECT deviceObject = DriverObject->DeviceObject;
  PDEVICE_EXTENSION ext = deviceObject->DeviceExtension;
  UNICODE_STRING dosName;
  PAGED_CODE();
  ext->ThreadShouldStop = TRUE;
  KeWaitForSingleObject(ext->ThreadObject, Executive, KernelMode, FALSE, NULL);
  ObDereferenceObject(ext->ThreadObject);
  IoAcquireRemoveLock(&ext->RemoveLock, NULL);
  IoReleaseRemoveLockAndWait(&ext->RemoveLock, NULL);
  KeCancelTimer(&ext->Timer);
  KdPrint(("Synth: unloading after %ld reads, %ld ticks\n", (long)ext->ReadsServed, (long)ext->TimerTicks));
  ExFreePoolWithTag(ext->History, SYNTH_TAG);
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\Synth");
  IoDeleteSymbolicLink(&dosName);
  IoDeleteDevice(deviceObject);
}

/* ---- the cancel-safe queue's callbacks ---- */
static PDEVICE_EXTENSION SynthExtension(PIO_CSQ Csq) {
  return CONTAINING_RECORD(Csq, DEVICE_EXTENSION, CancelSafeQueue);
}
_Use_decl_annotations_ void SynthInsertIrp(PIO_CSQ Csq, PIRP Irp) {
  InsertTailList(&SynthExtension(Csq)->PendingIrpQueue, &Irp->Tail.Overlay.ListEntry);
}
_Use_decl_annotations_ void SynthRemoveIrp(PIO_CSQ Csq, PIRP Irp) {
  UNREFERENCED_PARAMETER(Csq);
  RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
}
_Use_decl_annotations_ PIRP SynthPeekNextIrp(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext) {
  PLIST_ENTRY head = &SynthExtension(Csq)->PendingIrpQueue;
  PLIST_ENTRY next = Irp ? Irp->Tail.Overlay.ListEntry.Flink : head->Flink;
  UNREFERENCED_PARAMETER(PeekContext);
  return next == head ? NULL : CONTAINING_RECORD(next, IRP, Tail.Overlay.ListEntry);
}
_IRQL_raises_(DISPATCH_LEVEL) _Acquires_lock_(SynthExtension(Csq)->QueueLock) _Use_decl_annotations_ void
SynthAcquireLock(PIO_CSQ Csq, PKIRQL Irql) {
  KeAcquireSpinLock(&SynthExtension(Csq)->QueueLock, Irql);
}
_IRQL_requires_(DISPATCH_LEVEL) _Releases_lock_(SynthExtension(Csq)->QueueLock) _Use_decl_annotations_ void
SynthReleaseLock(PIO_CSQ Csq, KIRQL Irql) {
  KeReleaseSpinLock(&SynthExtension(Csq)->QueueLock, Irql);
}
_Use_decl_annotations_ void SynthCompleteCanceledIrp(PIO_CSQ Csq, PIRP Irp) {
  Irp->IoStatus.Status = STATUS_CANCELLED;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  IoReleaseRemoveLock(&SynthExtension(Csq)->RemoveLock, Irp);
}
