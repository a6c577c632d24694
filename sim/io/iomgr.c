/*
 * iomgr.c - the I/O manager's state as a whole: what it frees with the
 * machine (drivers and devices, file objects, ports and their packets,
 * IRPs still alive, the IRP pools).
 */
#include "io/io.h"

static void free_pools(sim_t *S) {
  for (size_t i = 0; i < ARRAY_LEN(S->irp_pool); i++) {
    void *p = S->irp_pool[i].free;
    while (p) {
      void *n = *(void **)p;
      free(p);
      p = n;
    }
  }
}

void io_destroy(sim_t *S) {
  for (size_t i = 0; i < S->ndrivers; i++) {
    PDRIVER_OBJECT d = S->drivers[i];
    for (PDEVICE_OBJECT dev = d->DeviceObject, n; dev; dev = n) {
      n = dev->NextDevice;
      free(dev);
    }
    free((void *)d->SimName);
    free(d->DriverName.Buffer);
    free(d->DriverExtension->ServiceKeyName.Buffer);
    free(d);
  }
  free(S->drivers);
  for (PDEVICE_OBJECT dev = S->deleted_devices, n; dev; dev = n) {
    n = dev->NextDevice;
    free(dev);
  }
  io_symlinks_free(S);
  for (PFILE_OBJECT f = S->files, n; f; f = n) {
    n = f->SimNextFile;
    free((void *)f->SimName);
    free(f);
  }
  for (sim_port_t *p = S->ports, *n; p; p = n) {
    n = p->next;
    while (!list_empty(&p->packets)) /* queued or not: handed off, being delivered */
      free(CONTAINING_RECORD(list_pop_head(&p->packets), port_packet_t, all));
    free(p->name);
    free(p);
  }
  free(S->irp_info);
  /* IRPs still allocated (never completed, or stopped mid-flight): their
     SystemBuffer and MDLs go with them. */
  while (!list_empty(&S->live_irps)) {
    PIRP irp = CONTAINING_RECORD(list_pop_head(&S->live_irps), IRP, SimLink);
    IopReleaseBuffers(S, irp);
    free(irp);
  }
  free_pools(S);
}
