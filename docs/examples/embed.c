/*
 * embed.c - the README's embedding example: a three-layer stack (file
 * system -> volume -> disk) written as C drivers against wdm.h, one
 * asynchronous read from a simulated thread, and the trace on stdout.
 *   cc -Iinclude docs/examples/embed.c build/libiosim.a -o embed && ./embed
 */
#include <stdio.h>

#include "iosim/sim.h"

/* Disk: marks the IRP pending and starts the hardware; the ISR asks for
   a DPC; the DPC completes the IRP. */
static NTSTATUS disk_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoMarkIrpPending(irp);
  sim_hw_start(dev->SimHardware, irp, sim_hw_latency(dev->SimHardware));
  return STATUS_PENDING;
}
static BOOLEAN disk_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  (void)ctx;
  IoRequestDpc(sim_hw_device(hw), irp, NULL);
  return TRUE;
}
static void disk_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)dev, (void)ctx;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
  IoCompleteRequest(irp, IO_DISK_INCREMENT);
}
static NTSTATUS disk_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  (void)RegistryPath;
  PDEVICE_OBJECT dev;
  sim_create_device(drv, 0, "disk0", &dev);
  drv->MajorFunction[IRP_MJ_READ] = disk_read;
  IoInitializeDpcRequest(dev, disk_dpc);
  sim_hw_create(drv->Sim, dev, 200000, 0, 5, disk_isr, NULL); /* 200 us, CPU 0, IRQL 5 */
  return STATUS_SUCCESS;
}

/* Volume and file system: pass every request down; the volume skips its
   location, the file system copies it and watches the completion. */
static NTSTATUS pass_create(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}
static NTSTATUS vol_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoSkipCurrentIrpStackLocation(irp);
  return IoCallDriver(dev->SimLowerDevice, irp);
}
static NTSTATUS fs_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dev, (void)ctx;
  if (irp->PendingReturned) IoMarkIrpPending(irp);
  return STATUS_CONTINUE_COMPLETION;
}
static NTSTATUS fs_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoCopyCurrentIrpStackLocationToNext(irp);
  IoSetCompletionRoutine(irp, fs_done, NULL, TRUE, TRUE, TRUE);
  return IoCallDriver(dev->SimLowerDevice, irp);
}
static NTSTATUS layer_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  (void)RegistryPath;
  const char *const *names = sim_driver_context(drv); /* {device, lower device}: sim_load_driver's arg */
  PDEVICE_OBJECT dev;
  sim_create_device(drv, 0, names[0], &dev);
  IoAttachDeviceToDeviceStack(dev, sim_find_device(drv->Sim, names[1]));
  drv->MajorFunction[IRP_MJ_CREATE] = pass_create;
  drv->MajorFunction[IRP_MJ_READ] = names[0][0] == 'f' ? fs_read : vol_read;
  return STATUS_SUCCESS;
}

/* The application: an overlapped read with an event, then a wait. */
static void app(PVOID arg) {
  PDEVICE_OBJECT fs = arg;
  PFILE_OBJECT f;
  KEVENT done;
  IO_STATUS_BLOCK iosb = {STATUS_PENDING, 0};
  LONGLONG offset = 0;
  NtCreateFile(&f, fs, 0, "data.bin");
  KeInitializeEvent(&done, NotificationEvent, FALSE);
  sim_name_object(&done, "done");
  NTSTATUS st = NtReadFile(f, &done, NULL, NULL, &iosb, NULL, 4096, &offset);
  sim_note("NtReadFile returned 0x%X", (unsigned)st);
  KeWaitForSingleObject(&done, UserRequest, UserMode, FALSE, NULL);
  sim_note("read finished: status 0x%X, %lu bytes", (unsigned)iosb.Status, (unsigned long)iosb.Information);
}

int main(void) {
  sim_config_t cfg = {.cpus = 2, .seed = 1};
  sim_t *S = sim_create(&cfg);
  trc_sink_t console = sim_console_sink(S, stdout);
  sim_set_sink(S, &console);
  static const char *const vol[] = {"vol0", "disk0"}, *const fs[] = {"fs0", "vol0"};
  sim_load_driver(S, "disk", disk_entry, NULL);
  sim_load_driver(S, "volume", layer_entry, (PVOID)vol);
  sim_load_driver(S, "fsd", layer_entry, (PVOID)fs);
  sim_thread_create(S, "app", app, sim_find_device(S, "fs0"));
  sim_outcome_t o = sim_run(S);
  printf("outcome: %s\n", sim_outcome_name(o));
  sim_destroy(S);
  return o == SIM_RUN_OK ? 0 : 1;
}
