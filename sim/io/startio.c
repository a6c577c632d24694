/*
 * startio.c - IoStartPacket, IoStartNextPacket(ByKey) and the driver's
 * StartIo routine (kernel-facts 13.11): the I/O manager's way of feeding a
 * device one packet at a time.  The device queue (ke/devqueue.c) holds the
 * waiting IRPs in Tail.Overlay.DeviceQueueEntry; DeviceObject->CurrentIrp
 * is the one StartIo works on.  StartIo runs at DISPATCH_LEVEL; the driver
 * calls IoStartNextPacket when it is done with CurrentIrp (from StartIo or,
 * usually, from its DPC).  A cancel routine given to IoStartPacket is set
 * under the cancel spin lock, and an IRP found cancelled as it is queued
 * has that routine called at once, as WRK's iosubs.c does.
 */
#include "io/io.h"

#include <stdio.h>

static void startio_trace(sim_t *S, trc_kind_t kind, PIRP irp, PDEVICE_OBJECT dev, const char *routine,
                          const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(kind, irp, dev);
  e.service = routine;
  e.routine_device = dev->SimId;
  trc_send(S, &e, "%s", what);
}

/* IoStartNextPacket's work: CurrentIrp is done; the next queued packet
   becomes it (NULL: the queue was empty and the device is idle now). */
static PIRP take_next(sim_t *S, PDEVICE_OBJECT dev, BOOLEAN cancelable, bool by_key, ULONG key) {
  KIRQL ci = PASSIVE_LEVEL;
  if (cancelable) IoAcquireCancelSpinLock(&ci);
  dev->CurrentIrp = NULL;
  PKDEVICE_QUEUE_ENTRY q = KiRemoveDeviceQueue(S, &dev->DeviceQueue, by_key, key, dev);
  PIRP irp = q ? CONTAINING_RECORD(q, IRP, Tail.Overlay.DeviceQueueEntry) : NULL;
  dev->CurrentIrp = irp;
  if (irp && cancelable && dev->SimStartIoNoCancel) irp->CancelRoutine = NULL;
  if (cancelable) IoReleaseCancelSpinLock(ci);
  return irp;
}

/* Calls StartIo for `irp`, now the device's CurrentIrp; afterwards, a
   deferred IoStartNextPacket that StartIo asked for starts the next one
   (a loop here rather than StartIo inside StartIo). */
static void call_startio(sim_t *S, PDEVICE_OBJECT dev, PIRP irp, const char *routine) {
  PDRIVER_STARTIO sio = dev->DriverObject->DriverStartIo;
  if (!sio)
    bugcheck(S, KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(uint32_t)STATUS_ACCESS_VIOLATION, 0, 0, (ULONG_PTR)irp->SimId,
             "%s on %s: its driver has no StartIo routine (DriverObject->DriverStartIo is NULL)", routine,
             dev->SimName);
  while (irp) {
    char what[128];
    snprintf(what, sizeof what, "%s calls the StartIo routine of %s with IRP %u", routine, dev->SimName, irp->SimId);
    startio_trace(S, TRC_START_IO, irp, dev, routine, what);
    ke_check_stack(S, "IoStartPacket, calling StartIo");
    sched_step(S, COST_STEP);
    uint32_t id = irp->SimId;
    dev->SimStartIoDepth++;
    sio(dev, irp);
    dev->SimStartIoDepth--;
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_START_IO_END, NULL, dev);
      e.irp = id;
      e.service = routine;
      e.routine_device = dev->SimId;
      trc_send(S, &e, "StartIo of %s returned (IRP %u)", dev->SimName, id);
    }
    if (dev->SimStartIoDepth > 0 || !dev->SimStartIoRequested) return;
    /* A deferred request: start the next packet now that StartIo is out. */
    dev->SimStartIoRequested = FALSE;
    irp = take_next(S, dev, dev->SimStartIoCancelable, dev->SimStartIoByKey, dev->SimStartIoKey);
    routine = dev->SimStartIoByKey ? "IoStartNextPacketByKey" : "IoStartNextPacket";
  }
}

void IoStartPacket(PDEVICE_OBJECT DeviceObject, PIRP Irp, PULONG Key, PDRIVER_CANCEL CancelFunction) {
  sim_t *S = Irp->Sim;
  const char *routine = "IoStartPacket";
  ke_check_irql(S, DISPATCH_LEVEL, routine);
  KIRQL old, ci = PASSIVE_LEVEL;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  if (CancelFunction) {
    IoAcquireCancelSpinLock(&ci);
    IoSetCancelRoutine(Irp, CancelFunction);
  }
  BOOLEAN queued = KiInsertDeviceQueue(S, &DeviceObject->DeviceQueue, &Irp->Tail.Overlay.DeviceQueueEntry, Key != NULL,
                                       Key ? *Key : 0, Irp, DeviceObject);
  if (!queued) {
    DeviceObject->CurrentIrp = Irp;
    if (CancelFunction) {
      if (DeviceObject->SimStartIoNoCancel) Irp->CancelRoutine = NULL;
      IoReleaseCancelSpinLock(ci);
    }
    call_startio(S, DeviceObject, Irp, routine);
  } else if (CancelFunction) {
    if (Irp->Cancel) {
      /* Cancelled before its cancel routine was in place (IoCancelIrp found
         none): call it now, with the cancel spin lock held, as IoCancelIrp
         would have. */
      Irp->CancelIrql = ci;
      Irp->CancelRoutine = NULL;
      if (trc_on(S)) {
        trc_event_t e = trc_ev(TRC_CANCEL_ROUTINE, Irp, DeviceObject);
        e.routine_device = DeviceObject->SimId;
        e.service = routine;
        trc_send(S, &e, "IoStartPacket: IRP %u was cancelled before it was queued: its cancel routine runs now",
                 Irp->SimId);
      }
      sched_step(S, COST_COMPLETION_ROUTINE);
      CancelFunction(DeviceObject, Irp); /* it releases the cancel spin lock */
    } else {
      IoReleaseCancelSpinLock(ci);
    }
  }
  KeLowerIrql(old);
}

static void start_next(sim_t *S, PDEVICE_OBJECT dev, BOOLEAN cancelable, bool by_key, ULONG key, const char *routine) {
  if (dev->SimStartIoDeferred && dev->SimStartIoDepth > 0) {
    /* Called from inside StartIo: remembered, done when StartIo returns. */
    dev->SimStartIoRequested = TRUE;
    dev->SimStartIoByKey = by_key;
    dev->SimStartIoKey = key;
    dev->SimStartIoCancelable = cancelable;
    startio_trace(S, TRC_DEVICE_QUEUE, dev->CurrentIrp, dev, routine,
                  "deferred StartIo: the next packet starts when this StartIo returns");
    return;
  }
  PIRP irp = take_next(S, dev, cancelable, by_key, key);
  if (irp) call_startio(S, dev, irp, routine);
}

/* At DISPATCH_LEVEL (WRK: the device queue asserts it); the driver's DPC
   or its StartIo calls it. */
void IoStartNextPacket(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable) {
  start_next(DeviceObject->Sim, DeviceObject, Cancelable, false, 0, "IoStartNextPacket");
}

void IoStartNextPacketByKey(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable, ULONG Key) {
  start_next(DeviceObject->Sim, DeviceObject, Cancelable, true, Key, "IoStartNextPacketByKey");
}

void IoSetStartIoAttributes(PDEVICE_OBJECT DeviceObject, BOOLEAN DeferredStartIo, BOOLEAN NonCancelable) {
  if (DeferredStartIo) DeviceObject->SimStartIoDeferred = TRUE;
  if (NonCancelable) DeviceObject->SimStartIoNoCancel = TRUE;
}
