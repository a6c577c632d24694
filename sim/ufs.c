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
#include "sim_int.h"

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

static ufs_t *ufs_of(PDEVICE_OBJECT d) { return d->DriverObject->DriverExtension; }

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
  list_insert_tail(&u->pending, &irp->Tail.Overlay.ListEntry);
  KeSetEvent(&u->have_pending, 0, FALSE);
  return STATUS_PENDING;
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
static void ufs_response(sim_t *S, ufs_t *u, uint32_t hint, NTSTATUS st, ULONG_PTR info, const char *who) {
  PIRP irp = process_find(u, hint);
  char sb[16];
  if (!irp) {
    trc_emit_id(S, TRC_UFS_RESPONSE, hint, 0, u->dev, true, st, "response from %s for IRP %u: not in the Process table, dropped",
                who, hint);
    sim_step(S, COST_STEP);
    return;
  }
  list_remove(&irp->Tail.Overlay.ListEntry);
  TRC(S, TRC_UFS_RESPONSE, irp, u->dev, true, st, "response from %s for IRP %u (%s): found, completing", who, hint,
      iosim_status_name(st, sb));
  irp->IoStatus.Status = st;
  irp->IoStatus.Information = info;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* The kernel half of FSP_FSCTL_TRANSACT: consume the response (if any),
   then wait for a pending IRP, move it to the Process table, return it. */
static bool ufs_transact(sim_t *S, ufs_t *u, const ufs_req_t *rsp, NTSTATUS rsp_st, ufs_req_t *req) {
  TRC(S, TRC_SYSCALL, NULL, u->dev, false, 0, "TRANSACT%s", rsp ? " with a response" : " (no response)");
  sim_step(S, COST_SYSCALL);
  if (rsp) ufs_response(S, u, rsp->hint, rsp_st, rsp->length, u->name_d);
  while (list_empty(&u->pending)) {
    LONGLONG to = -(LONGLONG)(u->cfg.idle_ns / 100);
    if (KeWaitForSingleObject(&u->have_pending, UserRequest, UserMode, FALSE, &to) == STATUS_TIMEOUT) return false;
  }
  PIRP irp = CONTAINING_RECORD(list_pop_head(&u->pending), IRP, Tail.Overlay.ListEntry);
  list_insert_tail(&u->process, &irp->Tail.Overlay.ListEntry); /* before user mode sees it */
  req->hint = irp->SimId;
  req->length = IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
  TRC(S, TRC_UFS_REQUEST, irp, u->dev, false, 0, "request for IRP %u in the Process table, handed to the dispatcher", req->hint);
  sim_step(S, COST_STEP);
  return true;
}

static void ufs_dispatcher(PVOID arg) {
  ufs_t *u = arg;
  sim_t *S = sim_cur();
  ufs_req_t req, rsp;
  bool have_rsp = false;
  while (ufs_transact(S, u, have_rsp ? &rsp : NULL, STATUS_SUCCESS, &req)) {
    have_rsp = false;
    if (!u->cfg.async) { /* answer in the next TRANSACT */
      sim_delay(u->cfg.work_ns);
      rsp = req;
      have_rsp = true;
      continue;
    }
    /* Capture the request for the worker (the buffers are reused at the
       next TRANSACT), start it, and return STATUS_PENDING. */
    ufs_req_t *w = sim_alloc(S, sizeof *w);
    *w = req;
    list_insert_tail(&u->work, &w->link);
    KeSetEvent(&u->have_work, 0, FALSE);
    sim_delay(u->cfg.return_ns);
    trc_emit_id(S, TRC_UFS_PENDING, req.hint, 0, u->dev, true, STATUS_PENDING,
                "the dispatcher's operation returns STATUS_PENDING for IRP %u: its response is zeroed, nothing to send", req.hint);
    sim_step(S, COST_STEP);
  }
}

static void ufs_worker(PVOID arg) {
  ufs_t *u = arg;
  sim_t *S = sim_cur();
  for (;;) {
    while (list_empty(&u->work)) {
      LONGLONG to = -(LONGLONG)(u->cfg.idle_ns / 100);
      if (KeWaitForSingleObject(&u->have_work, UserRequest, UserMode, FALSE, &to) == STATUS_TIMEOUT) return;
    }
    ufs_req_t *w = CONTAINING_RECORD(list_pop_head(&u->work), ufs_req_t, link);
    ufs_req_t r = *w;
    sim_free(S, w, sizeof *w);
    sim_delay(u->cfg.work_ns);
    TRC(S, TRC_SYSCALL, NULL, u->dev, false, 0, "FspFileSystemSendResponse for IRP %u", r.hint);
    sim_step(S, COST_SYSCALL);
    ufs_response(S, u, r.hint, STATUS_SUCCESS, r.length, u->name_w);
  }
}

static NTSTATUS ufs_entry(PDRIVER_OBJECT drv, PVOID arg) {
  ufs_t *u = arg;
  drv->DriverExtension = u;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) drv->MajorFunction[m] = ufs_open;
  drv->MajorFunction[IRP_MJ_READ] = ufs_rw;
  drv->MajorFunction[IRP_MJ_WRITE] = ufs_rw;
  return IoCreateDevice(drv, 0, u->cfg.device, 0, &u->dev);
}

static void ufs_free(void *p) { free(p); }

PDEVICE_OBJECT sim_ufs_create(sim_t *S, const sim_ufs_config_t *cfg) {
  if (!cfg->device || sim_find_device(S, cfg->device) || S->nufs == (int)ARRAY_LEN(S->ufs_free)) return NULL;
  ufs_t *u = calloc(1, sizeof *u);
  if (!u) abort();
  u->cfg = *cfg;
  if (!u->cfg.idle_ns) u->cfg.idle_ns = 1000000;
  list_init(&u->pending);
  list_init(&u->process);
  list_init(&u->work);
  KeInitializeEvent(&u->have_pending, SynchronizationEvent, FALSE);
  KeInitializeEvent(&u->have_work, SynchronizationEvent, FALSE);
  snprintf(u->name_d, sizeof u->name_d, "%s-dispatcher", cfg->device);
  snprintf(u->name_w, sizeof u->name_w, "%s-worker", cfg->device);
  if (!sim_load_driver(S, "usermode-fs", ufs_entry, u)) {
    free(u);
    return NULL;
  }
  S->ufs_free[S->nufs++] = (struct sim_owned){u, ufs_free};
  sim_thread_create(S, u->name_d, ufs_dispatcher, u);
  if (cfg->async) sim_thread_create(S, u->name_w, ufs_worker, u);
  return u->dev;
}
