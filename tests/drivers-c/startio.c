/*
 * startio.c - a device driver that serves reads and writes one at a time
 * through a StartIo routine, as the classic WDM drivers of slow devices
 * do: the dispatch routine marks the IRP pending and hands it to
 * IoStartPacket with a cancel routine; StartIo (at DISPATCH_LEVEL) makes
 * the packet non-cancelable under the cancel spin lock and starts the
 * "transfer" - a timer standing for the hardware; the timer's DPC moves
 * the bytes, starts the next packet (IoStartNextPacket) and completes the
 * finished one.  A packet cancelled while it waits in the device queue is
 * taken out of it by the cancel routine (KeRemoveEntryDeviceQueue).
 * Built with the WDK headers only; run by tests/test_drivers_c.c.
 */
#include <ntddk.h>
#include "drvctl.h"

#define SIO_DATA 64

typedef struct _SIO_EXTENSION {
  KTIMER Timer;   /* the device's transfer time */
  KDPC Dpc;
  ULONG Transfers;
  UCHAR Data[SIO_DATA];
} SIO_EXTENSION, *PSIO_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD SioUnload;
DRIVER_STARTIO SioStartIo;
DRIVER_CANCEL SioCancel;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH SioCreateClose;
_Dispatch_type_(IRP_MJ_READ) _Dispatch_type_(IRP_MJ_WRITE) DRIVER_DISPATCH SioReadWrite;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH SioDeviceControl;
KDEFERRED_ROUTINE SioTransferDone;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  UNICODE_STRING name;
  PDEVICE_OBJECT dev;
  RtlInitUnicodeString(&name, L"\\Device\\StartIoDev");
  NTSTATUS status = IoCreateDevice(DriverObject, sizeof(SIO_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev);
  if (!NT_SUCCESS(status)) return status;
  PSIO_EXTENSION ext = dev->DeviceExtension;
  for (ULONG i = 0; i < SIO_DATA; i++) ext->Data[i] = (UCHAR)('a' + i % 26);
  KeInitializeTimer(&ext->Timer);
  KeInitializeDpc(&ext->Dpc, SioTransferDone, dev);
  dev->Flags |= DO_BUFFERED_IO;
  dev->Flags &= ~DO_DEVICE_INITIALIZING;
  DriverObject->MajorFunction[IRP_MJ_CREATE] = SioCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = SioCreateClose;
  DriverObject->MajorFunction[IRP_MJ_READ] = SioReadWrite;
  DriverObject->MajorFunction[IRP_MJ_WRITE] = SioReadWrite;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SioDeviceControl;
  DriverObject->DriverStartIo = SioStartIo;
  DriverObject->DriverUnload = SioUnload;
  KdPrint(("StartIo: DriverEntry\n"));
  return STATUS_SUCCESS;
}

NTSTATUS SioCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

NTSTATUS SioReadWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  if (sp->Parameters.Read.Length == 0) {
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
  }
  IoMarkIrpPending(Irp);
  IoStartPacket(DeviceObject, Irp, NULL, SioCancel);
  return STATUS_PENDING;
}

NTSTATUS SioDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PSIO_EXTENSION ext = DeviceObject->DeviceExtension;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  Irp->IoStatus.Information = 0;
  if (sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_SIO_STATS) {
    if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
      status = STATUS_BUFFER_TOO_SMALL;
    } else {
      *(PULONG)Irp->AssociatedIrp.SystemBuffer = ext->Transfers;
      Irp->IoStatus.Information = sizeof(ULONG);
      status = STATUS_SUCCESS;
    }
  }
  Irp->IoStatus.Status = status;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

/* At DISPATCH_LEVEL, with the packet as DeviceObject->CurrentIrp. */
VOID SioStartIo(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PSIO_EXTENSION ext = DeviceObject->DeviceExtension;
  KIRQL cancelIrql;
  IoAcquireCancelSpinLock(&cancelIrql);
  /* The cancel routine may have run before we got the lock: it then
     completed the IRP and started the next packet, so CurrentIrp is no
     longer this one (test that first: the IRP may be gone). */
  if (Irp != DeviceObject->CurrentIrp || Irp->Cancel) {
    IoReleaseCancelSpinLock(cancelIrql);
    return;
  }
  IoSetCancelRoutine(Irp, NULL); /* on the device now: no longer cancelable */
  IoReleaseCancelSpinLock(cancelIrql);
  LARGE_INTEGER due;
  due.QuadPart = -10000; /* 1 ms of transfer */
  KeSetTimer(&ext->Timer, due, &ext->Dpc);
}

/* The transfer is over: move the bytes, start the next packet, complete. */
VOID SioTransferDone(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2) {
  UNREFERENCED_PARAMETER(Dpc);
  UNREFERENCED_PARAMETER(Arg1);
  UNREFERENCED_PARAMETER(Arg2);
  PDEVICE_OBJECT dev = Context;
  PSIO_EXTENSION ext = dev->DeviceExtension;
  PIRP irp = dev->CurrentIrp;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG n = sp->Parameters.Read.Length < SIO_DATA ? sp->Parameters.Read.Length : SIO_DATA;
  if (sp->MajorFunction == IRP_MJ_READ) RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, ext->Data, n);
  else RtlCopyMemory(ext->Data, irp->AssociatedIrp.SystemBuffer, n);
  ext->Transfers++;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = n;
  IoStartNextPacket(dev, TRUE);
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* Called with the cancel spin lock held. */
VOID SioCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  if (Irp == DeviceObject->CurrentIrp) {
    /* Started, but StartIo has not made it non-cancelable yet: it will see
       that CurrentIrp moved on and leave it alone. */
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoStartNextPacket(DeviceObject, TRUE);
    KeLowerIrql(old);
  } else {
    KeRemoveEntryDeviceQueue(&DeviceObject->DeviceQueue, &Irp->Tail.Overlay.DeviceQueueEntry);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
  }
  Irp->IoStatus.Status = STATUS_CANCELLED;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

VOID SioUnload(PDRIVER_OBJECT DriverObject) {
  PDEVICE_OBJECT dev = DriverObject->DeviceObject;
  PSIO_EXTENSION ext = dev->DeviceExtension;
  KeCancelTimer(&ext->Timer);
  IoDeleteDevice(dev);
}
