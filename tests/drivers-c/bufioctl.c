/*
 * bufioctl.c - a device-control driver that answers on all four buffering
 * methods, as Microsoft's general/ioctl sample does but written for these
 * tests: each control code takes a string and answers "<METHOD>:" and the
 * string in capitals, reading and writing the buffers where the method
 * puts them - the SystemBuffer (METHOD_BUFFERED; the direct methods'
 * input), the MDL of the output buffer (METHOD_IN_DIRECT,
 * METHOD_OUT_DIRECT), or the caller's own pointers, probed inside __try
 * (METHOD_NEITHER).  An output buffer too small for the answer gets
 * STATUS_BUFFER_TOO_SMALL and nothing.  It has a symbolic link, as drivers
 * that applications open by name do.  Built with the WDK headers only; run
 * by tests/test_drivers_c.c.
 */
#include <ntddk.h>
#include "drvctl.h"

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD BufUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH BufCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH BufDeviceControl;

#define BUF_LINK L"\\DosDevices\\BufIoctl"

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  UNICODE_STRING name, link;
  PDEVICE_OBJECT dev;
  RtlInitUnicodeString(&name, L"\\Device\\BufIoctl");
  NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &dev);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&link, BUF_LINK);
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(dev);
    return status;
  }
  dev->Flags &= ~DO_DEVICE_INITIALIZING;
  DriverObject->MajorFunction[IRP_MJ_CREATE] = BufCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = BufCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = BufDeviceControl;
  DriverObject->DriverUnload = BufUnload;
  return STATUS_SUCCESS;
}

NTSTATUS BufCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

/* Writes the answer into out (room bytes); the answer's length, or 0 when
   it does not fit.  in and out may be the same buffer (METHOD_BUFFERED):
   the input is read into a local copy first. */
static ULONG BufAnswer(const char *method, const UCHAR *in, ULONG inLen, PUCHAR out, ULONG room) {
  UCHAR copy[64];
  ULONG m = (ULONG)strlen(method);
  if (inLen > sizeof copy) inLen = sizeof copy;
  if (m + 1 + inLen > room) return 0;
  RtlCopyMemory(copy, in, inLen);
  RtlCopyMemory(out, method, m);
  out[m] = ':';
  for (ULONG i = 0; i < inLen; i++) out[m + 1 + i] = (copy[i] >= 'a' && copy[i] <= 'z') ? copy[i] - 'a' + 'A' : copy[i];
  return m + 1 + inLen;
}

NTSTATUS BufDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  ULONG inLen = sp->Parameters.DeviceIoControl.InputBufferLength;
  ULONG outLen = sp->Parameters.DeviceIoControl.OutputBufferLength;
  NTSTATUS status = STATUS_SUCCESS;
  ULONG n = 0;
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
  case IOCTL_BUF_METHOD_BUFFERED: {
    PUCHAR sys = Irp->AssociatedIrp.SystemBuffer; /* input in, answer out: one buffer */
    n = sys ? BufAnswer("BUFFERED", sys, inLen, sys, outLen) : 0;
    break;
  }
  case IOCTL_BUF_METHOD_IN_DIRECT:
  case IOCTL_BUF_METHOD_OUT_DIRECT: {
    const char *method =
        sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_BUF_METHOD_IN_DIRECT ? "IN_DIRECT" : "OUT_DIRECT";
    PUCHAR out = Irp->MdlAddress ? MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute)
                                 : NULL;
    if (!out || !Irp->AssociatedIrp.SystemBuffer) {
      status = STATUS_INSUFFICIENT_RESOURCES;
      break;
    }
    n = BufAnswer(method, Irp->AssociatedIrp.SystemBuffer, inLen, out, MmGetMdlByteCount(Irp->MdlAddress));
    break;
  }
  case IOCTL_BUF_METHOD_NEITHER: {
    PUCHAR in = sp->Parameters.DeviceIoControl.Type3InputBuffer, out = Irp->UserBuffer;
    __try {
      ProbeForRead(in, inLen, sizeof(UCHAR));
      ProbeForWrite(out, outLen, sizeof(UCHAR));
      n = BufAnswer("NEITHER", in, inLen, out, outLen);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
      status = GetExceptionCode();
    }
    break;
  }
  default:
    status = STATUS_INVALID_DEVICE_REQUEST;
    break;
  }
  if (NT_SUCCESS(status) && n == 0) status = STATUS_BUFFER_TOO_SMALL;
  Irp->IoStatus.Status = status;
  Irp->IoStatus.Information = NT_SUCCESS(status) ? n : 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

VOID BufUnload(PDRIVER_OBJECT DriverObject) {
  UNICODE_STRING link;
  RtlInitUnicodeString(&link, BUF_LINK);
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(DriverObject->DeviceObject);
}
