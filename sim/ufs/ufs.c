/*
 * ufs.c - a user-mode file system in WinFsp's shape, and the race it is
 * famous for.  Kernel side: reads and writes wait in a Pending queue; the
 * dispatcher's TRANSACT call takes one, moves it into the Process table and
 * only then returns it to user mode.  User side: the dispatcher answers in
 * its next TRANSACT, or hands the request to a worker and returns
 * STATUS_PENDING (its response is then empty, so the kernel ignores it);
 * the worker sends the real response by itself.  Because the IRP is in the
 * Process table before user mode can see it, the worker's response may
 * arrive before the dispatcher has even returned STATUS_PENDING: the kernel
 * finds the IRP by its hint and completes it, exactly once, either way.
 */
#include <stdio.h>
#include <stdlib.h>

#include "iosim/alloc.h"
#include "iosim/sim.h"

typedef struct ufs_req {
  LIST_ENTRY link;
  uint32_t hint;        /* the IRP's number: FSP_FSCTL_TRANSACT_REQ.Hint */
  ULONG length;
} ufs_req_t;

typedef struct ufs {
  sim_ufs_config_t cfg;
  PDEVICE_OBJECT dev;
  LIST_ENTRY pending;   /* IRPs waiting for the dispatcher (Tail.Overlay.ListEntry) */
  LIST_ENTRY process;   /* IRPs user mode is working on */
  KEVENT have_pending;  /* synchronization: a request arrived */
  LIST_ENTRY work;      /* user-mode queue: requests handed to the worker */
  KEVENT have_work;
  char name_d[64], name_w[64];
} ufs_t;

static ufs_t *ufs_of(PDEVICE_OBJECT d) { return d->DriverObject->SimContext; }

static NTSTATUS ufs_open(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

/* Reads and writes go to user mode: park the IRP and return pending. */
static NTSTATUS ufs_rw(PDEVICE_OBJECT dev, PIRP irp) {
  ufs_t *u = ufs_of(dev);
  IoMarkIrpPending(irp);
  InsertTailList(&u->pending, &irp->Tail.Overlay.ListEntry);
  KeSetEvent(&u->have_pending, 0, FALSE);
  return STATUS_PENDING;
}

/* A step of the file system about IRP `hint`, on its device. */
static trc_event_t ufs_event(trc_kind_t kind, const ufs_t *u, uint32_t hint, NTSTATUS st) {
  trc_event_t ev = trc_event_make(kind);
  ev.irp = hint;
  ev.device = u->dev->SimId;
  ev.has_status = 1;
  ev.status = st;
  return ev;
}

static PIRP process_find(ufs_t *u, uint32_t hint) {
  for (LIST_ENTRY *e = u->process.Flink; e != &u->process; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
    if (irp->SimId == hint) return irp;
  }
  return NULL;
}

/* FspIoqEndProcessingIrp: take the IRP out by its hint and complete it;
   a response whose IRP is gone is dropped silently. */
static void ufs_response(ufs_t *u, uint32_t hint, NTSTATUS st, ULONG_PTR info, const char *who) {
  PIRP irp = process_find(u, hint);
  char sb[16];
  if (!irp) {
    trc_event_t ev = ufs_event(TRC_UFS_DROPPED, u, hint, st);
    sim_trace(&ev, "response from %s for IRP %u: not in the Process table, dropped", who, hint);
    sim_charge(COST_STEP);
    return;
  }
  RemoveEntryList(&irp->Tail.Overlay.ListEntry);
  trc_event_t ev = ufs_event(TRC_UFS_RESPONSE, u, hint, st);
  ev.stack_location = irp->CurrentLocation;
  ev.has_info = 1, ev.info = info;
  sim_trace(&ev, "response from %s for IRP %u (%s): found, completing", who, hint, iosim_status_name(st, sb));
  irp->IoStatus.Status = st;
  irp->IoStatus.Information = info;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* The kernel half of FSP_FSCTL_TRANSACT: consume the response (if any),
   then wait for a pending IRP, move it to the Process table, return it. */
static bool ufs_transact(ufs_t *u, const ufs_req_t *rsp, NTSTATUS rsp_st, ufs_req_t *req) {
  trc_event_t ev = ufs_event(TRC_SYSCALL, u, 0, 0);
  ev.has_status = 0;
  ev.service = "FSP_FSCTL_TRANSACT";
  ev.count = rsp != NULL; /* responses carried */
  sim_trace(&ev, "TRANSACT%s", rsp ? " with a response" : " (no response)");
  sim_charge(COST_SYSCALL);
  if (rsp) ufs_response(u, rsp->hint, rsp_st, rsp->length, u->name_d);
  while (IsListEmpty(&u->pending)) {
    LARGE_INTEGER to = {.QuadPart = -(LONGLONG)(u->cfg.idle_ns / 100)};
    if (KeWaitForSingleObject(&u->have_pending, UserRequest, UserMode, FALSE, &to) == STATUS_TIMEOUT) return false;
  }
  PIRP irp = CONTAINING_RECORD(RemoveHeadList(&u->pending), IRP, Tail.Overlay.ListEntry);
  InsertTailList(&u->process, &irp->Tail.Overlay.ListEntry); /* before user mode sees it */
  req->hint = irp->SimId;
  req->length = IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
  ev = ufs_event(TRC_UFS_REQUEST, u, req->hint, 0);
  ev.has_status = 0;
  ev.stack_location = irp->CurrentLocation;
  sim_trace(&ev, "request for IRP %u in the Process table, handed to the dispatcher", req->hint);
  sim_charge(COST_STEP);
  return true;
}

static void ufs_dispatcher(PVOID arg) {
  ufs_t *u = arg;
  ufs_req_t req, rsp;
  bool have_rsp = false;
  while (ufs_transact(u, have_rsp ? &rsp : NULL, STATUS_SUCCESS, &req)) {
    have_rsp = false;
    if (!u->cfg.async) { /* answer in the next TRANSACT */
      sim_delay(u->cfg.work_ns);
      rsp = req;
      have_rsp = true;
      continue;
    }
    /* Capture the request for the worker (the buffers are reused at the
       next TRANSACT), start it, and return STATUS_PENDING. */
    ufs_req_t *w = iosim_malloc(sizeof *w);
    *w = req;
    InsertTailList(&u->work, &w->link);
    KeSetEvent(&u->have_work, 0, FALSE);
    sim_delay(u->cfg.return_ns);
    trc_event_t ev = ufs_event(TRC_UFS_PENDING, u, req.hint, STATUS_PENDING);
    sim_trace(&ev, "the dispatcher's operation returns STATUS_PENDING for IRP %u: its response is zeroed, nothing to send",
              req.hint);
    sim_charge(COST_STEP);
  }
}

static void ufs_worker(PVOID arg) {
  ufs_t *u = arg;
  for (;;) {
    while (IsListEmpty(&u->work)) {
      LARGE_INTEGER to = {.QuadPart = -(LONGLONG)(u->cfg.idle_ns / 100)};
      if (KeWaitForSingleObject(&u->have_work, UserRequest, UserMode, FALSE, &to) == STATUS_TIMEOUT) return;
    }
    ufs_req_t *w = CONTAINING_RECORD(RemoveHeadList(&u->work), ufs_req_t, link);
    ufs_req_t r = *w;
    free(w);
    sim_delay(u->cfg.work_ns);
    trc_event_t ev = ufs_event(TRC_SYSCALL, u, 0, 0);
    ev.has_status = 0;
    ev.service = "FspFileSystemSendResponse";
    sim_trace(&ev, "FspFileSystemSendResponse for IRP %u", r.hint);
    sim_charge(COST_SYSCALL);
    ufs_response(u, r.hint, STATUS_SUCCESS, r.length, u->name_w);
  }
}

static NTSTATUS ufs_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  ufs_t *u = arg;
  drv->SimContext = u;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = ufs_open;
  drv->MajorFunction[IRP_MJ_READ] = ufs_rw;
  drv->MajorFunction[IRP_MJ_WRITE] = ufs_rw;
  return sim_create_device(drv, 0, u->cfg.device, &u->dev);
}

static void ufs_free(void *p) {
  ufs_t *u = p;
  while (!IsListEmpty(&u->work)) free(CONTAINING_RECORD(RemoveHeadList(&u->work), ufs_req_t, link));
  free(u);
}

PDEVICE_OBJECT sim_ufs_create(sim_t *S, const sim_ufs_config_t *cfg) {
  if (!cfg->device || sim_find_device(S, cfg->device)) return NULL;
  ufs_t *u = iosim_calloc(1, sizeof *u);
  u->cfg = *cfg;
  if (!u->cfg.idle_ns) u->cfg.idle_ns = 1000000;
  InitializeListHead(&u->pending);
  InitializeListHead(&u->process);
  InitializeListHead(&u->work);
  KeInitializeEvent(&u->have_pending, SynchronizationEvent, FALSE);
  KeInitializeEvent(&u->have_work, SynchronizationEvent, FALSE);
  snprintf(u->name_d, sizeof u->name_d, "%s-dispatcher", cfg->device);
  snprintf(u->name_w, sizeof u->name_w, "%s-worker", cfg->device);
  if (!sim_load_driver(S, "usermode-fs", ufs_entry, u)) {
    free(u);
    return NULL;
  }
  sim_on_destroy(S, u, ufs_free); /* cannot fail: it has a routine */
  sim_thread_create(S, u->name_d, ufs_dispatcher, u);
  if (cfg->async) sim_thread_create(S, u->name_w, ufs_worker, u);
  return u->dev;
}
