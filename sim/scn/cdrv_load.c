/*
 * cdrv_load.c - C drivers in a run: each run opens the driver's shared
 * object afresh (so its global variables start as the file has them, and
 * every seed and schedule runs the same driver), calls its DriverEntry
 * from the System thread of the simulated machine, gives the scenario's
 * `device` lines the devices the driver made (or has AddDevice make them,
 * or makes them itself), and closes the object when the run has gone.
 */
#include <dlfcn.h>

#include "run_int.h"

bool scn_loads_c_drivers(const scn_t *sc) {
  for (const driver_decl_t *d = sc->drivers; d; d = d->next)
    if (d->load_path) return true;
  return false;
}

/* dlerror() says "FILE: undefined symbol: ZwQueryValueKey"; a driver's
   author wants to hear which kernel routine iosim lacks. */
static const char *missing_symbol(const char *msg) {
  const char *u = msg ? strstr(msg, "undefined symbol: ") : NULL;
  return u ? u + strlen("undefined symbol: ") : NULL;
}

int cdrv_open_all(run_state_t *rs, scn_error_t *err) {
  int n = 0;
  for (const driver_decl_t *d = rs->sc->drivers; d; d = d->next) n += d->load_path != NULL;
  rs->cdrv = ar_alloc(&rs->ar, sizeof *rs->cdrv * (size_t)(n ? n : 1));
  for (const driver_decl_t *d = rs->sc->drivers; d; d = d->next) {
    if (!d->load_path) continue;
    cdrv_t *c = &rs->cdrv[rs->ncdrv];
    c->decl = d;
    c->rs = rs;
    c->handle = dlopen(d->load_path, RTLD_NOW | RTLD_LOCAL);
    if (!c->handle) {
      const char *e = dlerror();
      const char *sym = missing_symbol(e);
      if (sym)
        return rs_build_error(err, &d->at, "driver %s calls %s, which iosim does not provide (docs/wdk.md lists what it has)",
                          d->name, sym);
      return rs_build_error(err, &d->at, "driver %s: cannot load %s: %s", d->name, d->load_src, e ? e : "unknown error");
    }
    rs->ncdrv++;
    /* dlsym hands back a data pointer; the entry point is code. */
    void *sym = dlsym(c->handle, "DriverEntry");
    if (!sym) return rs_build_error(err, &d->at, "driver %s: %s has no DriverEntry", d->name, d->load_src);
    memcpy(&c->entry, &sym, sizeof c->entry);
    scn_crash_note_driver(d->name, d->load_path);
  }
  return SIM_OK;
}

void cdrv_close_all(run_state_t *rs) {
  for (int i = 0; i < rs->ncdrv; i++) dlclose(rs->cdrv[i].handle);
  rs->ncdrv = 0;
}

cdrv_t *cdrv_of(run_state_t *rs, const driver_decl_t *d) {
  for (int i = 0; i < rs->ncdrv; i++)
    if (rs->cdrv[i].decl == d) return &rs->cdrv[i];
  return NULL;
}

/* What the System thread calls as the driver's DriverEntry: the driver's
   own, with its status kept for the message if it fails. */
static NTSTATUS cdrv_entry(PDRIVER_OBJECT Driver, PUNICODE_STRING RegistryPath) {
  cdrv_t *c = sim_driver_context(Driver);
  c->status = c->entry(Driver, RegistryPath);
  return c->status;
}

int cdrv_load(cdrv_t *c, scn_error_t *err) {
  const driver_decl_t *d = c->decl;
  c->status = STATUS_SUCCESS;
  c->driver = sim_load_driver(c->rs->S, d->name, cdrv_entry, c);
  if (c->driver) return SIM_OK;
  char sb[16];
  if (NT_SUCCESS(c->status)) return rs_build_error(err, &d->at, "driver %s cannot be loaded (out of memory)", d->name);
  return rs_build_error(err, &d->at, "driver %s: its DriverEntry failed with %s, so Windows would not load it", d->name,
                    iosim_status_name(c->status, sb));
}

/* The device a `device NAME driver CDRIVER [on LOWER]` line names:
   one the driver made in DriverEntry under that name (\Device\NAME), else
   the one its AddDevice adds on LOWER, else one iosim makes for it. */
int cdrv_device(cdrv_t *c, const device_decl_t *d, scn_error_t *err) {
  sim_t *S = c->rs->S;
  PDRIVER_OBJECT drv = c->driver;
  PDEVICE_OBJECT lower = d->on ? sim_find_device(S, d->on) : NULL;
  PDEVICE_OBJECT dev = sim_find_device(S, d->name);
  if (dev) {
    if (dev->DriverObject != drv)
      return rs_build_error(err, &d->at, "device %s belongs to driver %s, not %s", d->name, dev->DriverObject->SimName,
                        drv->SimName);
    if (lower && !IoAttachDeviceToDeviceStack(dev, lower))
      return rs_build_error(err, &d->at, "device %s cannot be attached on %s", d->name, d->on);
    return SIM_OK;
  }
  if (drv->DriverExtension->AddDevice) {
    if (!lower)
      return rs_build_error(err, &d->at,
                        "driver %s adds its devices in AddDevice: say which device it is added on (device %s driver %s "
                        "on LOWER)", drv->SimName, d->name, drv->SimName);
    NTSTATUS st = drv->DriverExtension->AddDevice(drv, lower);
    char sb[16];
    if (!NT_SUCCESS(st))
      return rs_build_error(err, &d->at, "driver %s: its AddDevice failed with %s", drv->SimName, iosim_status_name(st, sb));
    PDEVICE_OBJECT top = IoGetAttachedDevice(lower);
    if (top == lower || top->DriverObject != drv)
      return rs_build_error(err, &d->at, "driver %s: its AddDevice attached no device on %s", drv->SimName, d->on);
    sim_name_device(top, d->name);
    return SIM_OK;
  }
  if (sim_create_device(drv, 0, d->name, &dev) != STATUS_SUCCESS)
    return rs_build_error(err, &d->at, "cannot create device %s (out of memory)", d->name);
  dev->Flags &= ~(ULONG)DO_DEVICE_INITIALIZING;
  if (lower && !IoAttachDeviceToDeviceStack(dev, lower))
    return rs_build_error(err, &d->at, "device %s cannot be attached on %s", d->name, d->on);
  return SIM_OK;
}
