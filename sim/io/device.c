/*
 * device.c - driver and device objects, and stacking them: what
 * DriverEntry / AddDevice do on Windows.  These run at setup time, before
 * the machine starts, so they take their context from the driver object.
 */
#include "io/io.h"

#include <stdio.h>

static NTSTATUS io_invalid_request(PDEVICE_OBJECT Dev, PIRP Irp) {
  (void)Dev;
  Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_INVALID_DEVICE_REQUEST;
}

/* "\Driver\NAME" and the registry path DriverEntry receives, as UTF-16. */
static void uni_set(sim_t *S, PUNICODE_STRING u, const char *prefix, const char *name) {
  size_t n = strlen(prefix) + strlen(name);
  u->Buffer = mem_calloc(S, (n + 1) * sizeof(WCHAR));
  size_t k = 0;
  for (const char *p = prefix; *p; p++) u->Buffer[k++] = (WCHAR)(unsigned char)*p;
  k += ustr_from_utf8(name, u->Buffer + k, n + 1 - k);
  u->Length = (USHORT)(k * sizeof(WCHAR));
  u->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
}

PDRIVER_OBJECT sim_load_driver(sim_t *S, const char *name, DRIVER_INITIALIZE *entry, PVOID arg) {
  VEC_RESERVE(S, S->drivers, S->drivers_cap, S->ndrivers + 1);
  PDRIVER_OBJECT d = mem_calloc(S, sizeof *d + sizeof(DRIVER_EXTENSION));
  d->SimName = mem_strdup(S, name);
  d->Sim = S;
  d->SimId = (uint32_t)S->ndrivers + 1;
  d->SimContext = arg;
  d->DriverInit = entry;
  d->DriverExtension = (PDRIVER_EXTENSION)(d + 1);
  d->DriverExtension->DriverObject = d;
  uni_set(S, &d->DriverName, "\\Driver\\", name);
  uni_set(S, &d->DriverExtension->ServiceKeyName, "", name);
  for (size_t i = 0; i < ARRAY_LEN(d->MajorFunction); i++) d->MajorFunction[i] = io_invalid_request;
  S->drivers[S->ndrivers++] = d;
  if (entry) {
    UNICODE_STRING reg;
    uni_set(S, &reg, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\", name);
    /* Loaded by a thread of the running machine (a C driver of a
       scenario, in the System thread): its DriverEntry is a step of the
       trace.  Scripted drivers load before the machine starts. */
    bool traced = thr_current(S) && trc_on(S);
    if (traced) {
      trc_event_t e = trc_ev(TRC_DRIVER_ENTRY, NULL, NULL);
      e.text = d->SimName;
      trc_send(S, &e, "DriverEntry of %s", d->SimName);
    }
    if (thr_current(S)) sched_step(S, COST_STEP);
    NTSTATUS st = entry(d, &reg);
    free(reg.Buffer);
    if (traced) {
      trc_event_t e = trc_ev(TRC_DRIVER_ENTRY_DONE, NULL, NULL);
      e.text = d->SimName;
      e.has_status = 1;
      e.status = st;
      char sb[16];
      trc_send(S, &e, "DriverEntry of %s returned %s", d->SimName, iosim_status_name(st, sb));
    }
    /* Windows never calls the unload routine of a driver whose
       DriverEntry failed: the driver is simply not loaded. */
    if (!NT_SUCCESS(st)) {
      d->SimUnloaded = TRUE;
      return NULL;
    }
  }
  return d;
}

PVOID sim_driver_context(PDRIVER_OBJECT Driver) { return Driver->SimContext; }

/* Devices are found by name in constant time (setup of 100,000 devices
   stays linear): a map from the name's hash; never 0. */
static uintptr_t device_name_hash(const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
  return (uintptr_t)(h ? h : 1);
}

NTSTATUS sim_create_device(PDRIVER_OBJECT Driver, ULONG ExtensionSize, const char *Name, PDEVICE_OBJECT *Out) {
  sim_t *S = Driver->Sim;
  *Out = NULL;
  if (!Name || !*Name) return STATUS_OBJECT_NAME_INVALID;
  if (sim_find_device(S, Name)) return STATUS_OBJECT_NAME_COLLISION;
  PDEVICE_OBJECT d = mem_calloc(S, sizeof *d + ExtensionSize);
  d->DriverObject = Driver;
  d->DeviceType = FILE_DEVICE_UNKNOWN;
  d->StackSize = 1;
  d->Sim = S;
  d->SimId = name_add(S, &S->device_names, Name);
  d->SimName = name_get(&S->device_names, d->SimId);
  d->DeviceExtension = ExtensionSize ? (void *)(d + 1) : NULL;
  KeInitializeDeviceQueue(&d->DeviceQueue);
  d->NextDevice = Driver->DeviceObject;
  Driver->DeviceObject = d;
  uintptr_t h = device_name_hash(Name);
  if (ptrmap_get(&S->device_by_hash, (const void *)h, NULL)) S->device_hash_clash = true;
  else ptrmap_put(S, &S->device_by_hash, (const void *)h, (uintptr_t)d);
  *Out = d;
  return STATUS_SUCCESS;
}

/* The trace name of a device: its name without the \Device\ prefix, or
   DRIVER#N for an unnamed one (N counts the driver's devices). */
static void device_trace_name(PDRIVER_OBJECT Driver, PUNICODE_STRING DeviceName, char *buf, size_t n) {
  if (DeviceName && DeviceName->Length) {
    char full[256];
    iosim_unicode_to_utf8(DeviceName, full, sizeof full);
    const char *p = full;
    if (!strncmp(p, "\\Device\\", 8)) p += 8;
    snprintf(buf, n, "%s", p);
    return;
  }
  ULONG k = 1;
  for (PDEVICE_OBJECT d = Driver->DeviceObject; d; d = d->NextDevice) k++;
  for (;; k++) {
    snprintf(buf, n, "%s#%lu", Driver->SimName, (unsigned long)k);
    if (!sim_find_device(Driver->Sim, buf)) return;
  }
}

NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                        DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject) {
  char name[256];
  device_trace_name(DriverObject, DeviceName, name, sizeof name);
  NTSTATUS st = sim_create_device(DriverObject, DeviceExtensionSize, name, DeviceObject);
  if (!NT_SUCCESS(st)) return st;
  PDEVICE_OBJECT d = *DeviceObject;
  d->DeviceType = DeviceType;
  d->Characteristics = DeviceCharacteristics;
  /* Windows sets DO_DEVICE_INITIALIZING; the driver clears it (the I/O
     manager does for devices made in DriverEntry). */
  d->Flags = (Exclusive ? DO_EXCLUSIVE : 0) | DO_DEVICE_INITIALIZING;
  return STATUS_SUCCESS;
}

void IoDeleteDevice(PDEVICE_OBJECT DeviceObject) {
  sim_t *S = DeviceObject->Sim;
  PDRIVER_OBJECT drv = DeviceObject->DriverObject;
  if (DeviceObject->SimDeleted)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x0F, (ULONG_PTR)DeviceObject, 0, 0,
             "IoDeleteDevice on %s, a device already deleted", DeviceObject->SimName);
  for (PDEVICE_OBJECT *pp = &drv->DeviceObject; *pp; pp = &(*pp)->NextDevice)
    if (*pp == DeviceObject) {
      *pp = DeviceObject->NextDevice;
      break;
    }
  uintptr_t v;
  if (ptrmap_get(&S->device_by_hash, (const void *)device_name_hash(DeviceObject->SimName), &v) &&
      v == (uintptr_t)DeviceObject)
    ptrmap_del(&S->device_by_hash, (const void *)device_name_hash(DeviceObject->SimName));
  DeviceObject->SimDeleted = TRUE;
  /* Kept until the machine is freed: an IRP or a trace row may still name it. */
  DeviceObject->NextDevice = S->deleted_devices;
  S->deleted_devices = DeviceObject;
}

void IoDetachDevice(PDEVICE_OBJECT TargetDevice) {
  PDEVICE_OBJECT top = TargetDevice->AttachedDevice;
  if (!top) return;
  TargetDevice->AttachedDevice = NULL;
  top->SimLowerDevice = NULL;
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

void sim_name_device(PDEVICE_OBJECT Dev, const char *Name) {
  sim_t *S = Dev->Sim;
  uintptr_t v;
  if (ptrmap_get(&S->device_by_hash, (const void *)device_name_hash(Dev->SimName), &v) && v == (uintptr_t)Dev)
    ptrmap_del(&S->device_by_hash, (const void *)device_name_hash(Dev->SimName));
  Dev->SimId = name_add(S, &S->device_names, Name);
  Dev->SimName = name_get(&S->device_names, Dev->SimId);
  uintptr_t h = device_name_hash(Name);
  if (ptrmap_get(&S->device_by_hash, (const void *)h, NULL)) S->device_hash_clash = true;
  else ptrmap_put(S, &S->device_by_hash, (const void *)h, (uintptr_t)Dev);
}

/* The legacy filter's way in: attach by the target's name.  Windows opens
   the target (an IRP_MJ_CREATE down its stack, then the close) to find its
   device object; iosim looks the name up, so no create or close IRP
   reaches the target's drivers. */
NTSTATUS IoAttachDevice(PDEVICE_OBJECT SourceDevice, PUNICODE_STRING TargetDevice, PDEVICE_OBJECT *AttachedDevice) {
  char name[256];
  *AttachedDevice = NULL;
  if (!TargetDevice || !TargetDevice->Length) return STATUS_OBJECT_NAME_INVALID;
  device_trace_name(SourceDevice->DriverObject, TargetDevice, name, sizeof name);
  PDEVICE_OBJECT target = sim_find_device(SourceDevice->Sim, name);
  if (!target) return STATUS_OBJECT_NAME_NOT_FOUND;
  PDEVICE_OBJECT below = IoAttachDeviceToDeviceStack(SourceDevice, target);
  if (!below) return STATUS_INSUFFICIENT_RESOURCES;
  *AttachedDevice = below;
  return STATUS_SUCCESS;
}

PDEVICE_OBJECT sim_find_device(sim_t *S, const char *name) {
  uintptr_t v;
  if (ptrmap_get(&S->device_by_hash, (const void *)device_name_hash(name), &v) &&
      !strcmp(((PDEVICE_OBJECT)v)->SimName, name))
    return (PDEVICE_OBJECT)v;
  if (!S->device_hash_clash) return NULL;
  for (size_t i = 0; i < S->ndrivers; i++)
    for (PDEVICE_OBJECT d = S->drivers[i]->DeviceObject; d; d = d->NextDevice)
      if (strcmp(d->SimName, name) == 0) return d;
  return NULL;
}

PDRIVER_OBJECT sim_driver_by_name(sim_t *S, const char *name) {
  for (size_t i = 0; i < S->ndrivers; i++)
    if (strcmp(S->drivers[i]->SimName, name) == 0) return S->drivers[i];
  return NULL;
}

/* Whether a file is open on a device of the driver, or on one attached
   above them: the IRPs of such a file still reach the driver's code. */
static bool driver_referenced(PDRIVER_OBJECT Driver) {
  for (PDEVICE_OBJECT d = Driver->DeviceObject; d; d = d->NextDevice)
    for (PDEVICE_OBJECT up = d; up; up = up->AttachedDevice)
      if (up->ReferenceCount > 0) return true;
  return false;
}

NTSTATUS io_request_unload(sim_t *S, PDRIVER_OBJECT Driver) {
  if (Driver->SimUnloaded || Driver->SimUnloadPending) return STATUS_SUCCESS;
  if (!Driver->DriverUnload) return STATUS_INVALID_DEVICE_REQUEST;
  Driver->SimUnloadPending = TRUE;
  S->unloaded_midrun = true;
  if (driver_referenced(Driver)) {
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_NOTE, NULL, NULL);
      e.text = Driver->SimName;
      trc_send(S, &e, "unload of %s pending: a file is still open on its devices", Driver->SimName);
    }
    return STATUS_SUCCESS;
  }
  io_unload_driver(S, Driver);
  return STATUS_SUCCESS;
}

/* NtUnloadDriver(L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\NAME"),
   as `sc stop` reaches it: the driver is found by its service key's name. */
NTSTATUS NtUnloadDriver(PUNICODE_STRING DriverServiceName) {
  sim_t *S = ctx_sim();
  char key[512];
  iosim_unicode_to_utf8(DriverServiceName, key, sizeof key);
  const char *name = strrchr(key, '\\');
  name = name ? name + 1 : key;
  PDRIVER_OBJECT d = sim_driver_by_name(S, name);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
    e.service = "NtUnloadDriver";
    e.text = d ? d->SimName : NULL;
    trc_send(S, &e, "NtUnloadDriver(%s)", key);
  }
  sched_step(S, COST_SYSCALL);
  NTSTATUS st = d ? io_request_unload(S, d) : STATUS_OBJECT_NAME_NOT_FOUND;
  if (trc_on(S)) {
    char sb[16];
    trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, NULL);
    e.service = "NtUnloadDriver";
    e.text = d ? d->SimName : NULL;
    trc_set_status(&e, st);
    trc_send(S, &e, "returns %s", iosim_status_name(st, sb));
  }
  return KiServiceExit(S, st);
}

void io_unload_pending(sim_t *S) {
  for (size_t i = 0; i < S->ndrivers; i++) {
    PDRIVER_OBJECT d = S->drivers[i];
    if (d->SimUnloadPending && !d->SimUnloaded && !driver_referenced(d)) io_unload_driver(S, d);
  }
}

bool io_unload_driver(sim_t *S, PDRIVER_OBJECT Driver) {
  if (Driver->SimUnloaded || !Driver->DriverUnload) return false;
  Driver->SimUnloaded = TRUE; /* before the call: an unload routine runs once */
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_DRIVER_UNLOAD, NULL, NULL);
    e.text = Driver->SimName;
    trc_send(S, &e, "DriverUnload of %s", Driver->SimName);
  }
  sched_step(S, COST_STEP);
  Driver->DriverUnload(Driver);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_DRIVER_UNLOAD_DONE, NULL, NULL);
    e.text = Driver->SimName;
    trc_send(S, &e, "DriverUnload of %s returned", Driver->SimName);
  }
  return true;
}
