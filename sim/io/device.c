/*
 * device.c - driver and device objects, and stacking them: what
 * DriverEntry / AddDevice do on Windows.  These run at setup time, before
 * the machine starts, so they take their context from the driver object.
 */
#include "io/io.h"

static NTSTATUS io_invalid_request(PDEVICE_OBJECT Dev, PIRP Irp) {
  (void)Dev;
  Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_INVALID_DEVICE_REQUEST;
}

PDRIVER_OBJECT sim_load_driver(sim_t *S, const char *name, DRIVER_INITIALIZE *entry, PVOID arg) {
  if (!VEC_RESERVE(S, S->drivers, S->drivers_cap, S->ndrivers + 1)) return NULL;
  PDRIVER_OBJECT d = mem_calloc(S, sizeof *d);
  d->DriverName = mem_strdup(S, name);
  d->Sim = S;
  d->SimId = (uint32_t)S->ndrivers + 1;
  for (size_t i = 0; i < ARRAY_LEN(d->MajorFunction); i++) d->MajorFunction[i] = io_invalid_request;
  S->drivers[S->ndrivers++] = d;
  if (entry && !NT_SUCCESS(entry(d, arg))) return NULL;
  return d;
}

NTSTATUS IoCreateDevice(PDRIVER_OBJECT Driver, ULONG ExtensionSize, const char *Name, ULONG Flags,
                        PDEVICE_OBJECT *Out) {
  sim_t *S = Driver->Sim;
  if (!Name || sim_find_device(S, Name)) return STATUS_INVALID_PARAMETER;
  PDEVICE_OBJECT d = mem_calloc(S, sizeof *d + ExtensionSize);
  d->DriverObject = Driver;
  d->Flags = Flags;
  d->StackSize = 1;
  d->Sim = S;
  d->SimId = name_add(S, &S->device_names, Name);
  d->SimName = name_get(&S->device_names, d->SimId);
  d->DeviceExtension = ExtensionSize ? (void *)(d + 1) : NULL;
  d->NextDevice = Driver->DeviceObject;
  Driver->DeviceObject = d;
  *Out = d;
  return STATUS_SUCCESS;
}

/* Attaches Source on top of the stack that Target belongs to; returns the
   device it landed on (the one it must send IRPs to), or NULL when the
   stack would need more stack locations than an IRP can have (StackSize is
   a CCHAR: 127 at most). */
PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT Source, PDEVICE_OBJECT Target) {
  PDEVICE_OBJECT top = Target;
  while (top->AttachedDevice) top = top->AttachedDevice;
  if (top->StackSize >= IRP_MAX_STACK) return NULL;
  top->AttachedDevice = Source;
  Source->StackSize = (int8_t)(top->StackSize + 1);
  Source->SimLowerDevice = top;
  return top;
}

PDEVICE_OBJECT sim_find_device(sim_t *S, const char *name) {
  for (size_t i = 0; i < S->ndrivers; i++)
    for (PDEVICE_OBJECT d = S->drivers[i]->DeviceObject; d; d = d->NextDevice)
      if (strcmp(d->SimName, name) == 0) return d;
  return NULL;
}

PDRIVER_OBJECT sim_driver_by_name(sim_t *S, const char *name) {
  for (size_t i = 0; i < S->ndrivers; i++)
    if (strcmp(S->drivers[i]->DriverName, name) == 0) return S->drivers[i];
  return NULL;
}
