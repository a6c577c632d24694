/*
 * notify.c - a timer-driven notification driver in the manner of
 * Microsoft's general/event sample (written anew for these tests).  A
 * request names a delay; the driver arms a KTIMER whose DPC then either
 * completes the pending IRP (IOCTL_NOTIFY_IRP) or signals an event the
 * application passed by handle (IOCTL_NOTIFY_EVENT: the driver takes its
 * own reference with ObReferenceObjectByHandle and completes the request
 * at once).  A pending IRP has a cancel routine; whoever clears it first -
 * the DPC or the cancel routine - completes the IRP, and the record
 * holding the timer and DPC is freed by whichever of the two runs last.
 * Closing a handle (IRP_MJ_CLEANUP) cancels its pending notifications.
 * Built with the WDK headers only; run by tests/test_drivers_c.c.
 */
#include <ntddk.h>
#include "drvctl.h"

#define NTF_TAG 'yftN'

typedef struct _NTF_EXTENSION {
  KSPIN_LOCK Lock;     /* the list and each record's flags */
  LIST_ENTRY Pending;  /* records still waiting for their timer */
} NTF_EXTENSION, *PNTF_EXTENSION;

typedef struct _NTF_RECORD {
  LIST_ENTRY Entry;
  PNTF_EXTENSION Ext;
  PIRP Irp;            /* IOCTL_NOTIFY_IRP */
  PKEVENT Event;       /* IOCTL_NOTIFY_EVENT (referenced) */
  PFILE_OBJECT File;
  KTIMER Timer;
  KDPC Dpc;
  BOOLEAN Listed;      /* on Pending */
  BOOLEAN DpcDone;     /* the DPC has run its part */
  BOOLEAN CancelDone;  /* the cancel path has run its part */
} NTF_RECORD, *PNTF_RECORD;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD NtfUnload;
DRIVER_DISPATCH NtfCreateClose, NtfDeviceControl, NtfCleanup;
DRIVER_CANCEL NtfCancel;
KDEFERRED_ROUTINE NtfTimerDpc;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  UNICODE_STRING name;
  PDEVICE_OBJECT dev;
  RtlInitUnicodeString(&name, L"\\Device\\Notify");
  NTSTATUS status = IoCreateDevice(DriverObject, sizeof(NTF_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev);
  if (!NT_SUCCESS(status)) return status;
  PNTF_EXTENSION ext = dev->DeviceExtension;
  KeInitializeSpinLock(&ext->Lock);
  InitializeListHead(&ext->Pending);
  dev->Flags &= ~DO_DEVICE_INITIALIZING;
  DriverObject->MajorFunction[IRP_MJ_CREATE] = NtfCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = NtfCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = NtfDeviceControl;
  DriverObject->MajorFunction[IRP_MJ_CLEANUP] = NtfCleanup;
  DriverObject->DriverUnload = NtfUnload;
  return STATUS_SUCCESS;
}

static NTSTATUS NtfFinish(PIRP Irp, NTSTATUS status) {
  Irp->IoStatus.Status = status;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

NTSTATUS NtfCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  return NtfFinish(Irp, STATUS_SUCCESS);
}

NTSTATUS NtfDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PNTF_EXTENSION ext = DeviceObject->DeviceExtension;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  ULONG inLen = sp->Parameters.DeviceIoControl.InputBufferLength;
  LONG delayMs;
  PKEVENT event = NULL;
  if (code == IOCTL_NOTIFY_IRP && inLen >= sizeof(LONG)) {
    delayMs = *(LONG *)Irp->AssociatedIrp.SystemBuffer;
  } else if (code == IOCTL_NOTIFY_EVENT && inLen >= sizeof(NOTIFY_EVENT_INPUT)) {
    NOTIFY_EVENT_INPUT *in = Irp->AssociatedIrp.SystemBuffer;
    delayMs = in->DelayMs;
    NTSTATUS status = ObReferenceObjectByHandle(in->Event, SYNCHRONIZE | EVENT_MODIFY_STATE, *ExEventObjectType,
                                                Irp->RequestorMode, &event, NULL);
    if (!NT_SUCCESS(status)) return NtfFinish(Irp, status);
  } else {
    return NtfFinish(Irp, STATUS_INVALID_PARAMETER);
  }
  PNTF_RECORD rec = ExAllocatePoolZero(NonPagedPoolNx, sizeof *rec, NTF_TAG);
  if (!rec) {
    if (event) ObDereferenceObject(event);
    return NtfFinish(Irp, STATUS_INSUFFICIENT_RESOURCES);
  }
  rec->Ext = ext;
  rec->Event = event;
  rec->File = sp->FileObject;
  KeInitializeTimer(&rec->Timer);
  KeInitializeDpc(&rec->Dpc, NtfTimerDpc, rec);
  LARGE_INTEGER due;
  due.QuadPart = -10000LL * delayMs;
  KIRQL irql;
  if (!event) {
    rec->Irp = Irp;
    Irp->Tail.Overlay.DriverContext[0] = rec;
    IoMarkIrpPending(Irp);
    KeAcquireSpinLock(&ext->Lock, &irql);
    IoSetCancelRoutine(Irp, NtfCancel);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
      /* Cancelled before the routine was in place: ours to complete. */
      KeReleaseSpinLock(&ext->Lock, irql);
      ExFreePoolWithTag(rec, NTF_TAG);
      NtfFinish(Irp, STATUS_CANCELLED);
      return STATUS_PENDING;
    }
    InsertTailList(&ext->Pending, &rec->Entry);
    rec->Listed = TRUE;
    KeSetTimer(&rec->Timer, due, &rec->Dpc);
    KeReleaseSpinLock(&ext->Lock, irql);
    return STATUS_PENDING;
  }
  KeAcquireSpinLock(&ext->Lock, &irql);
  InsertTailList(&ext->Pending, &rec->Entry);
  rec->Listed = TRUE;
  KeSetTimer(&rec->Timer, due, &rec->Dpc);
  KeReleaseSpinLock(&ext->Lock, irql);
  return NtfFinish(Irp, STATUS_SUCCESS);
}

/* The delay is over (DISPATCH_LEVEL). */
VOID NtfTimerDpc(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2) {
  UNREFERENCED_PARAMETER(Dpc);
  UNREFERENCED_PARAMETER(Arg1);
  UNREFERENCED_PARAMETER(Arg2);
  PNTF_RECORD rec = Context;
  PNTF_EXTENSION ext = rec->Ext;
  KeAcquireSpinLockAtDpcLevel(&ext->Lock);
  rec->DpcDone = TRUE;
  if (rec->Event) {
    if (rec->Listed) RemoveEntryList(&rec->Entry);
    KeReleaseSpinLockFromDpcLevel(&ext->Lock);
    KeSetEvent(rec->Event, IO_NO_INCREMENT, FALSE);
    ObDereferenceObject(rec->Event);
    ExFreePoolWithTag(rec, NTF_TAG);
    return;
  }
  PIRP irp = rec->Irp;
  if (IoSetCancelRoutine(irp, NULL) == NULL) {
    /* The cancel routine has the IRP; the record goes with the last of us. */
    BOOLEAN last = rec->CancelDone;
    KeReleaseSpinLockFromDpcLevel(&ext->Lock);
    if (last) ExFreePoolWithTag(rec, NTF_TAG);
    return;
  }
  RemoveEntryList(&rec->Entry);
  rec->Listed = FALSE;
  KeReleaseSpinLockFromDpcLevel(&ext->Lock);
  ExFreePoolWithTag(rec, NTF_TAG);
  NtfFinish(irp, STATUS_SUCCESS);
}

/* Called with the cancel spin lock held. */
VOID NtfCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PNTF_EXTENSION ext = DeviceObject->DeviceExtension;
  IoReleaseCancelSpinLock(Irp->CancelIrql);
  PNTF_RECORD rec = Irp->Tail.Overlay.DriverContext[0];
  KIRQL irql;
  KeAcquireSpinLock(&ext->Lock, &irql);
  if (rec->Listed) {
    RemoveEntryList(&rec->Entry);
    rec->Listed = FALSE;
  }
  rec->CancelDone = TRUE;
  /* Not fired: the DPC never runs.  Fired and run: it left the record to
     us.  Fired, DPC still queued: it will free the record. */
  BOOLEAN mine = KeCancelTimer(&rec->Timer) || rec->DpcDone;
  KeReleaseSpinLock(&ext->Lock, irql);
  if (mine) ExFreePoolWithTag(rec, NTF_TAG);
  NtfFinish(Irp, STATUS_CANCELLED);
}

/* The handle goes: its pending notifications with it.  Each IRP is
   cancelled as IoCancelIrp would, so the cancel routine does the work. */
NTSTATUS NtfCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PNTF_EXTENSION ext = DeviceObject->DeviceExtension;
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
  for (;;) {
    PIRP victim = NULL;
    PNTF_RECORD gone = NULL;
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    for (PLIST_ENTRY e = ext->Pending.Flink; e != &ext->Pending; e = e->Flink) {
      PNTF_RECORD rec = CONTAINING_RECORD(e, NTF_RECORD, Entry);
      if (rec->File != file) continue;
      if (rec->Irp) {
        if (IoSetCancelRoutine(rec->Irp, NULL) == NULL) continue; /* its cancel routine is on the way */
        victim = rec->Irp;
      } else if (!KeCancelTimer(&rec->Timer)) {
        continue; /* the DPC is about to signal it */
      }
      RemoveEntryList(&rec->Entry);
      rec->Listed = FALSE;
      gone = rec;
      break;
    }
    KeReleaseSpinLock(&ext->Lock, irql);
    if (!gone) break;
    if (victim) {
      BOOLEAN mine = KeCancelTimer(&gone->Timer) || gone->DpcDone;
      if (!mine) {
        /* The DPC is queued and will find the cancel routine cleared. */
        KeAcquireSpinLock(&ext->Lock, &irql);
        gone->CancelDone = TRUE;
        mine = gone->DpcDone;
        KeReleaseSpinLock(&ext->Lock, irql);
      }
      if (mine) ExFreePoolWithTag(gone, NTF_TAG);
      NtfFinish(victim, STATUS_CANCELLED);
    } else {
      ObDereferenceObject(gone->Event);
      ExFreePoolWithTag(gone, NTF_TAG);
    }
  }
  return NtfFinish(Irp, STATUS_SUCCESS);
}

VOID NtfUnload(PDRIVER_OBJECT DriverObject) { IoDeleteDevice(DriverObject->DeviceObject); }
