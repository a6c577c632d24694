/*
 * fwdfilter.c - a legacy filter driver over startio.c's device, written as
 * WDM filters are: it attaches by name (IoAttachDevice), copies the lower
 * device's buffering flags, and passes requests down three ways.
 *  - Reads go down asynchronously with a completion routine
 *    (IoSetCompletionRoutineEx) that propagates the pending mark and
 *    turns the bytes read to capitals.
 *  - Writes go down untouched (IoSkipCurrentIrpStackLocation).
 *  - IOCTL_SIO_STATS goes down synchronously (IoForwardIrpSynchronously):
 *    the filter adds its own count to the lower driver's answer and
 *    completes the IRP itself.
 *  - IOCTL_FILTER_PROBE is answered by requests of the filter's own: an
 *    IoBuildDeviceIoControlRequest and an IoBuildSynchronousFsdRequest
 *    (threaded IRPs: the I/O manager writes their status blocks and sets
 *    their events), an IoBuildAsynchronousFsdRequest freed by its
 *    completion routine, and one IoAllocateIrp IRP sent twice with
 *    IoReuseIrp in between.
 * Built with the WDK headers only; run by tests/test_drivers_c.c.
 */
#include <ntddk.h>
#include "drvctl.h"

#define FLT_TAG 'tlFf'

typedef struct _FLT_EXTENSION {
  PDEVICE_OBJECT Lower;
  LONG ReadsSeen;
} FLT_EXTENSION, *PFLT_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD FltUnload;
DRIVER_DISPATCH FltPass, FltRead, FltDeviceControl;
IO_COMPLETION_ROUTINE FltReadDone, FltSignal, FltAsyncDone;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  UNICODE_STRING name, target;
  PDEVICE_OBJECT dev;
  RtlInitUnicodeString(&name, L"\\Device\\FwdFilter");
  NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FLT_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev);
  if (!NT_SUCCESS(status)) return status;
  PFLT_EXTENSION ext = dev->DeviceExtension;
  RtlInitUnicodeString(&target, L"\\Device\\StartIoDev");
  status = IoAttachDevice(dev, &target, &ext->Lower);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(dev);
    return status;
  }
  /* Now the top of the stack: what a new open of the device reaches. */
  PDEVICE_OBJECT top = IoGetAttachedDeviceReference(ext->Lower);
  BOOLEAN onTop = top == dev;
  ObDereferenceObject(top);
  if (!onTop) {
    IoDetachDevice(ext->Lower);
    IoDeleteDevice(dev);
    return STATUS_UNSUCCESSFUL;
  }
  dev->Flags |= ext->Lower->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO);
  dev->DeviceType = ext->Lower->DeviceType;
  dev->Flags &= ~DO_DEVICE_INITIALIZING;
  for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++) DriverObject->MajorFunction[i] = FltPass;
  DriverObject->MajorFunction[IRP_MJ_READ] = FltRead;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = FltDeviceControl;
  DriverObject->DriverUnload = FltUnload;
  return STATUS_SUCCESS;
}

NTSTATUS FltPass(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PFLT_EXTENSION ext = DeviceObject->DeviceExtension;
  IoSkipCurrentIrpStackLocation(Irp);
  return IoCallDriver(ext->Lower, Irp);
}

NTSTATUS FltRead(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PFLT_EXTENSION ext = DeviceObject->DeviceExtension;
  IoCopyCurrentIrpStackLocationToNext(Irp);
  NTSTATUS status = IoSetCompletionRoutineEx(DeviceObject, Irp, FltReadDone, ext, TRUE, TRUE, TRUE);
  if (!NT_SUCCESS(status)) {
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
  }
  return IoCallDriver(ext->Lower, Irp);
}

/* Stage 1 of the read's completion, at IRQL <= DISPATCH_LEVEL. */
NTSTATUS FltReadDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  PFLT_EXTENSION ext = Context;
  if (Irp->PendingReturned) IoMarkIrpPending(Irp);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    PUCHAR p = Irp->AssociatedIrp.SystemBuffer;
    for (ULONG_PTR i = 0; i < Irp->IoStatus.Information; i++)
      if (p[i] >= 'a' && p[i] <= 'z') p[i] = (UCHAR)(p[i] - 'a' + 'A');
    InterlockedIncrement(&ext->ReadsSeen);
  }
  return STATUS_CONTINUE_COMPLETION;
}

/* The routine of a request the filter waits for itself: the IRP stays the
   filter's (its caller still needs it). */
NTSTATUS FltSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

typedef struct _FLT_ASYNC {
  KEVENT Done;
  IO_STATUS_BLOCK Iosb;
} FLT_ASYNC, *PFLT_ASYNC;

/* An asynchronous FSD request's end: the filter frees it here, so the I/O
   manager must not go on with it. */
NTSTATUS FltAsyncDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  PFLT_ASYNC a = Context;
  a->Iosb = Irp->IoStatus;
  IoFreeIrp(Irp);
  KeSetEvent(&a->Done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID FltProbe(PFLT_EXTENSION ext, FILTER_PROBE *out) {
  KEVENT event;
  IO_STATUS_BLOCK iosb;
  ULONG transfers = 0;
  RtlZeroMemory(out, sizeof *out);

  /* 1. A device control of the filter's own, threaded: the I/O manager
     writes iosb and sets the event at stage 2. */
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  PIRP irp = IoBuildDeviceIoControlRequest(IOCTL_SIO_STATS, ext->Lower, NULL, 0, &transfers, sizeof transfers,
                                           FALSE, &event, &iosb);
  NTSTATUS status = IoCallDriver(ext->Lower, irp);
  if (status == STATUS_PENDING) {
    KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = iosb.Status;
  }
  out->IoctlStatus = status;
  out->Transfers = transfers;

  /* 2. A synchronous read: it pends in the lower device's queue; the
     event tells when stage 2 has copied the bytes back. */
  LARGE_INTEGER offset;
  offset.QuadPart = 0;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  irp = IoBuildSynchronousFsdRequest(IRP_MJ_READ, ext->Lower, out->SyncData, sizeof out->SyncData, &offset, &event,
                                     &iosb);
  status = IoCallDriver(ext->Lower, irp);
  if (status == STATUS_PENDING) {
    KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = iosb.Status;
  }
  out->SyncReadStatus = status;
  out->SyncReadBytes = (ULONG)iosb.Information;

  /* 3. An asynchronous read, freed by its completion routine. */
  PFLT_ASYNC a = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *a, FLT_TAG);
  if (a) {
    static UCHAR scratch[4];
    KeInitializeEvent(&a->Done, NotificationEvent, FALSE);
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, ext->Lower, scratch, sizeof scratch, &offset, NULL);
    IoSetCompletionRoutine(irp, FltAsyncDone, a, TRUE, TRUE, TRUE);
    IoCallDriver(ext->Lower, irp);
    KeWaitForSingleObject(&a->Done, Executive, KernelMode, FALSE, NULL);
    out->AsyncReadStatus = a->Iosb.Status;
    out->AsyncReadBytes = (ULONG)a->Iosb.Information;
    ExFreePoolWithTag(a, FLT_TAG);
  }

  /* 4. One IRP of IoAllocateIrp, written twice. */
  irp = IoAllocateIrp(ext->Lower->StackSize, FALSE);
  if (irp) {
    static UCHAR words[2][4] = {{'w', 'x', 'y', 'z'}, {'W', 'X'}};
    for (ULONG k = 0; k < 2; k++) {
      if (k) IoReuseIrp(irp, STATUS_SUCCESS);
      PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
      next->MajorFunction = IRP_MJ_WRITE;
      next->Parameters.Write.Length = k ? 2 : 4;
      irp->AssociatedIrp.SystemBuffer = words[k]; /* the lower device is buffered */
      KeInitializeEvent(&event, NotificationEvent, FALSE);
      IoSetCompletionRoutine(irp, FltSignal, &event, TRUE, TRUE, TRUE);
      if (IoCallDriver(ext->Lower, irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
      if (NT_SUCCESS(irp->IoStatus.Status)) {
        out->ReusedWrites++;
        out->ReusedBytes += (ULONG)irp->IoStatus.Information;
      }
    }
    IoFreeIrp(irp);
  }
}

NTSTATUS FltDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PFLT_EXTENSION ext = DeviceObject->DeviceExtension;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  ULONG outLen = sp->Parameters.DeviceIoControl.OutputBufferLength;
  NTSTATUS status;
  if (code == IOCTL_FILTER_PROBE) {
    if (outLen < sizeof(FILTER_PROBE)) {
      status = STATUS_BUFFER_TOO_SMALL;
      Irp->IoStatus.Information = 0;
    } else {
      FltProbe(ext, Irp->AssociatedIrp.SystemBuffer);
      status = STATUS_SUCCESS;
      Irp->IoStatus.Information = sizeof(FILTER_PROBE);
    }
  } else if (code == IOCTL_SIO_STATS && outLen >= sizeof(FILTER_STATS)) {
    /* Down and back, then the answer is completed here. */
    if (!IoForwardIrpSynchronously(ext->Lower, Irp)) {
      status = STATUS_INVALID_DEVICE_STATE;
      Irp->IoStatus.Information = 0;
    } else {
      status = Irp->IoStatus.Status;
      if (NT_SUCCESS(status)) {
        FILTER_STATS *st = Irp->AssociatedIrp.SystemBuffer;
        st->ReadsSeen = (ULONG)ext->ReadsSeen;
        Irp->IoStatus.Information = sizeof(FILTER_STATS);
      }
    }
  } else {
    return FltPass(DeviceObject, Irp);
  }
  Irp->IoStatus.Status = status;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

VOID FltUnload(PDRIVER_OBJECT DriverObject) {
  PDEVICE_OBJECT dev = DriverObject->DeviceObject;
  PFLT_EXTENSION ext = dev->DeviceExtension;
  IoDetachDevice(ext->Lower);
  IoDeleteDevice(dev);
}
