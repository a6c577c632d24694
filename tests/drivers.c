/*
 * drivers.c - the engine suites' shared test drivers, trace recorder and
 * user program (see drivers.h).  Driver code here records what it saw into
 * the test's structs; the tests assert after sim_run.
 */
#include "drivers.h"
#include "iosim/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- in-memory trace ---- */

static void tlog_event(void *ud, const trc_event_t *ev) {
  tlog_t *log = ud;
  if (!IOSIM_VEC_RESERVE(log->v, log->cap, log->n + 1)) abort(); /* a test cannot go on */
  tev_t *e = &log->v[log->n++];
  e->seq = ev->seq;
  e->t_ns = ev->t_ns;
  e->cpu = ev->cpu;
  e->irql = ev->irql;
  e->frame = ev->frame;
  e->thread = ev->thread;
  e->irp = ev->irp;
  e->device = ev->device;
  e->stack_location = ev->stack_location;
  e->kind = ev->kind;
  e->has_status = ev->has_status;
  e->status = ev->status;
  e->pending_returned = ev->pending_returned;
  e->count = ev->count;
  /* The detail is borrowed for the duration of the call only. */
  snprintf(e->detail, sizeof e->detail, "%s", ev->detail);
}

trc_sink_t tlog_sink(tlog_t *log) {
  return (trc_sink_t){.event = tlog_event, .close = NULL, .ud = log};
}

void tlog_free(tlog_t *log) {
  free(log->v);
  log->v = NULL;
  log->n = log->cap = 0;
}

int tlog_find_x(const tlog_t *log, trc_kind_t kind, uint32_t irp, const char *sub, int from) {
  for (size_t i = from < 0 ? 0 : (size_t)from; i < log->n; i++) {
    const tev_t *e = &log->v[i];
    if (e->kind != kind || (irp && e->irp != irp)) continue;
    if (sub && !strstr(e->detail, sub)) continue;
    return (int)i;
  }
  return -1;
}

int tlog_find(const tlog_t *log, trc_kind_t kind, int from) {
  return tlog_find_x(log, kind, 0, NULL, from);
}

int tlog_count_x(const tlog_t *log, trc_kind_t kind, uint32_t irp, const char *sub) {
  int n = 0;
  for (int i = tlog_find_x(log, kind, irp, sub, 0); i >= 0; i = tlog_find_x(log, kind, irp, sub, i + 1))
    n++;
  return n;
}

int tlog_count(const tlog_t *log, trc_kind_t kind) { return tlog_count_x(log, kind, 0, NULL); }

char *tlog_text(const tlog_t *log) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) abort();
  for (size_t i = 0; i < log->n; i++) {
    const tev_t *e = &log->v[i];
    fprintf(f, "%llu %llu %d %d %d %u %u %u %d %s %d %08X %s\n", (unsigned long long)e->seq,
            (unsigned long long)e->t_ns, e->cpu, e->irql, (int)e->frame, e->thread, e->irp,
            e->device, e->stack_location, trc_kind_name(e->kind), e->has_status,
            (unsigned)e->status, e->detail);
  }
  fclose(f);
  return buf;
}

/* ---- machines ---- */

sim_t *tsim_new(int cpus, tlog_t *log) {
  sim_config_t cfg = {.cpus = cpus, .seed = 1};
  sim_t *S = sim_create(&cfg);
  if (!S) abort();
  sim_keep_irp_info(S, true);
  if (log) {
    trc_sink_t sink = tlog_sink(log);
    sim_set_sink(S, &sink);
  }
  return S;
}

uint32_t tsim_find_irp(sim_t *S, UCHAR major) {
  for (uint32_t id = 1; id <= sim_irp_count(S); id++) {
    const sim_irp_info_t *in = sim_irp_info(S, id);
    if (in && in->major_set && in->major == major) return id;
  }
  return 0;
}

/* ---- the test disk ---- */

static tdisk_t *disk_of(PDEVICE_OBJECT dev) { return dev->DriverObject->SimContext; }

static NTSTATUS tdisk_open_close(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

/* Sets the configured status and completes (twice, for the bug). */
static void tdisk_finish(tdisk_t *d, PIRP irp, int8_t boost) {
  irp->IoStatus.Status = d->status;
  irp->IoStatus.Information = d->info;
  if (d->set_cancel) irp->Cancel = TRUE;
  IoCompleteRequest(irp, boost);
  if (d->complete_twice) IoCompleteRequest(irp, boost);
}

static NTSTATUS tdisk_io(PDEVICE_OBJECT dev, PIRP irp) {
  tdisk_t *d = disk_of(dev);
  PKTHREAD t = KeGetCurrentThread();
  d->dispatches++;
  d->dispatch_location = irp->CurrentLocation;
  d->dispatch_irql = KeGetCurrentIrql();
  d->dispatch_thread = t ? sim_thread_id(t) : 0;
  if (d->mode == TDISK_PEND) {
    if (!d->no_mark) IoMarkIrpPending(irp);
    sim_hw_start(dev->SimHardware, irp, d->latency_ns);
    return STATUS_PENDING;
  }
  NTSTATUS st = d->status; /* the IRP may be gone after completion */
  tdisk_finish(d, irp, IO_NO_INCREMENT);
  return d->dispatch_returns ? d->dispatch_returns : st;
}

static BOOLEAN tdisk_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  tdisk_t *d = ctx;
  d->isrs++;
  d->done[d->done_tail++ % 32] = irp; /* "saves context" for the DPC */
  IoRequestDpc(sim_hw_device(hw), irp, NULL);
  return TRUE;
}

static void tdisk_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)ctx;
  tdisk_t *d = disk_of(dev);
  d->dpcs++;
  d->dpc_irql = KeGetCurrentIrql();
  d->dpc_cpu = (int)KeGetCurrentProcessorNumber();
  d->dpc_irp = irp;
  /* The IRP argument is only the first request of a coalesced run: finish
     every transfer the ISR recorded (the ring may grow while we complete). */
  while (d->done_head != d->done_tail) tdisk_finish(d, d->done[d->done_head++ % 32], IO_DISK_INCREMENT);
}

NTSTATUS tdisk_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  tdisk_t *d = arg;
  if (!d->name) d->name = "disk0";
  if (!d->latency_ns) d->latency_ns = 100000;
  NTSTATUS st = sim_create_device(drv, 0, d->name, &d->dev);
  if (!NT_SUCCESS(st)) return st;
  drv->SimContext = d;
  drv->MajorFunction[IRP_MJ_CREATE] = tdisk_open_close;
  drv->MajorFunction[IRP_MJ_CLEANUP] = tdisk_open_close;
  drv->MajorFunction[IRP_MJ_CLOSE] = tdisk_open_close;
  drv->MajorFunction[IRP_MJ_READ] = tdisk_io;
  drv->MajorFunction[IRP_MJ_WRITE] = tdisk_io;
  drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = tdisk_io;
  IoInitializeDpcRequest(d->dev, tdisk_dpc);
  if (!sim_hw_create(drv->Sim, d->dev, d->latency_ns, d->hw_cpu, 5, tdisk_isr, d))
    return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

/* ---- the test filter ---- */

static tfilter_t *filter_of(PDEVICE_OBJECT dev) { return dev->DriverObject->SimContext; }

static NTSTATUS tfilter_routine(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  tfilter_t *f = ctx;
  PIO_STACK_LOCATION cur = IoGetCurrentIrpStackLocation(irp), below = cur - 1;
  f->routine_calls++;
  if (f->clock) f->routine_stamp = ++*f->clock;
  f->routine_dev = dev;
  f->routine_pending_returned = irp->PendingReturned;
  f->routine_location = irp->CurrentLocation;
  f->routine_cur_is_own = cur->DeviceObject == f->dev;
  f->routine_irql = KeGetCurrentIrql();
  f->routine_status_seen = irp->IoStatus.Status;
  f->lower_control_seen = below->Control;
  f->lower_fileobject_seen = below->FileObject;
  f->lower_routine_kept = below->CompletionRoutine == tfilter_routine;
  if (f->routine_sets_status) irp->IoStatus.Status = f->new_status;
  if (f->sync_forward) {
    /* Scenario C: signal only if the lower driver pended; never mark. */
    if (irp->PendingReturned) KeSetEvent(&f->ev, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  if (!f->no_propagate && irp->PendingReturned) IoMarkIrpPending(irp);
  return f->routine_returns;
}

static NTSTATUS tfilter_pass(PDEVICE_OBJECT dev, PIRP irp) {
  IoSkipCurrentIrpStackLocation(irp);
  return IoCallDriver(dev->SimLowerDevice, irp);
}

static void tfilter_prepare(tfilter_t *f, PIRP irp) {
  bool any = f->inv_success || f->inv_error || f->inv_cancel;
  switch (f->mode) {
  case TF_SKIP:
    IoSkipCurrentIrpStackLocation(irp);
    break;
  case TF_SKIP_THEN_SET:
    IoSkipCurrentIrpStackLocation(irp);
    IoSetCompletionRoutine(irp, tfilter_routine, f, TRUE, TRUE, TRUE);
    break;
  case TF_COPY:
    IoCopyCurrentIrpStackLocationToNext(irp);
    if (f->sync_forward) {
      KeInitializeEvent(&f->ev, NotificationEvent, FALSE);
      IoSetCompletionRoutine(irp, tfilter_routine, f, TRUE, TRUE, TRUE);
    } else if (f->routine) {
      IoSetCompletionRoutine(irp, tfilter_routine, f, any ? f->inv_success : TRUE,
                             any ? f->inv_error : TRUE, any ? f->inv_cancel : TRUE);
    }
    break;
  }
}

static NTSTATUS tfilter_io(PDEVICE_OBJECT dev, PIRP irp) {
  tfilter_t *f = filter_of(dev);
  f->dispatches++;
  tfilter_prepare(f, irp);
  NTSTATUS st = IoCallDriver(dev->SimLowerDevice, irp);
  f->call_returned = st;
  if (!f->sync_forward) return st;
  if (st == STATUS_PENDING) KeWaitForSingleObject(&f->ev, Executive, KernelMode, FALSE, NULL);
  st = irp->IoStatus.Status;
  f->recompletes++;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return st;
}

NTSTATUS tfilter_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  tfilter_t *f = arg;
  PDEVICE_OBJECT lower = sim_find_device(drv->Sim, f->lower);
  if (!lower) return STATUS_NOT_FOUND;
  NTSTATUS st = sim_create_device(drv, 0, f->name, &f->dev);
  if (!NT_SUCCESS(st)) return st;
  IoAttachDeviceToDeviceStack(f->dev, lower);
  drv->SimContext = f;
  drv->MajorFunction[IRP_MJ_CREATE] = tfilter_pass;
  drv->MajorFunction[IRP_MJ_CLEANUP] = tfilter_pass;
  drv->MajorFunction[IRP_MJ_CLOSE] = tfilter_pass;
  drv->MajorFunction[IRP_MJ_READ] = tfilter_io;
  drv->MajorFunction[IRP_MJ_WRITE] = tfilter_io;
  drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = tfilter_io;
  return STATUS_SUCCESS;
}

/* ---- a user program ---- */

void tread_apc(PVOID ctx, PIO_STATUS_BLOCK iosb, ULONG reserved) {
  (void)reserved;
  tread_t *r = ctx;
  r->apc_calls++;
  r->apc_iosb = iosb;
  r->apc_ctx = ctx;
}

void tread_thread(PVOID arg) {
  tread_t *r = arg;
  PFILE_OBJECT f;
  r->thread = sim_thread_id(KeGetCurrentThread());
  r->created = NtCreateFile(&f, r->top, r->options, "file");
  if (!NT_SUCCESS(r->created)) return;
  r->fo_event_after_create = KeReadStateEvent(&f->Event);
  r->iosb.Status = TREAD_IOSB_SENTINEL;
  r->iosb.Information = 0x5A5A;
  KeInitializeEvent(&r->event, NotificationEvent, TRUE);
  LONGLONG off = 0;
  r->ret = NtReadFile(f, r->use_event ? &r->event : NULL, r->apc, r->apc ? r : NULL, &r->iosb, NULL,
                      r->length ? r->length : 512, &off);
  r->irp = sim_last_irp_id();
  r->event_after_call = KeReadStateEvent(&r->event);
  if (r->ret == STATUS_PENDING && r->wait_event)
    r->wait_ret = KeWaitForSingleObject(&r->event, UserRequest, UserMode, FALSE, NULL);
  else if (r->ret == STATUS_PENDING && r->wait_file)
    r->wait_ret = KeWaitForSingleObject(&f->Event, UserRequest, UserMode, FALSE, NULL);
  if (r->alertable_sleep) {
    LONGLONG one_second = -10 * 1000 * 1000;
    r->sleep_ret = NtDelayExecution(TRUE, &one_second); /* SleepEx(1000, TRUE) */
  }
  r->event_final = KeReadStateEvent(&r->event);
  r->fo_event_final = KeReadStateEvent(&f->Event);
  r->fo_final_status = f->FinalStatus;
  NtClose(f);
}

sim_outcome_t trun_read(sim_t *S, tdisk_t *d, tfilter_t *f1, tfilter_t *f2, tread_t *r) {
  if (!sim_load_driver(S, "disk", tdisk_entry, d)) abort();
  PDEVICE_OBJECT top = d->dev;
  if (f1) {
    if (!f1->name) f1->name = "filt1";
    if (!f1->lower) f1->lower = d->name;
    if (!sim_load_driver(S, "filter1", tfilter_entry, f1)) abort();
    top = f1->dev;
  }
  if (f2) {
    if (!f2->name) f2->name = "filt2";
    if (!f2->lower) f2->lower = f1 ? f1->name : d->name;
    if (!sim_load_driver(S, "filter2", tfilter_entry, f2)) abort();
    top = f2->dev;
  }
  r->top = top;
  sim_thread_create(S, "app", tread_thread, r);
  return sim_run(S);
}

NTSTATUS tnow_dispatch(PDEVICE_OBJECT Dev, PIRP Irp) {
  (void)Dev;
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = IoGetCurrentIrpStackLocation(Irp)->Parameters.Read.Length;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

NTSTATUS tnow_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = tnow_dispatch;
  PDEVICE_OBJECT dev;
  return sim_create_device(drv, 0, (const char *)arg, &dev);
}
