/*
 * iocall.c - IofCallDriver: move the IRP one stack location down and call
 * the lower driver's dispatch routine for the major function there.
 */
#include "io/io.h"

/* The trace rows live out of line: IofCallDriver's frame is on the stack
   once per layer of a device stack, so it stays small. */
static __attribute__((noinline)) void trace_call(sim_t *S, trc_kind_t kind, PIRP Irp, PDEVICE_OBJECT Dev,
                                                 const IO_STACK_LOCATION *loc, int where) {
  trc_event_t e = trc_ev(kind, Irp, Dev);
  e.major = loc->MajorFunction, e.minor = loc->MinorFunction;
  e.loc_to = where;
  if (kind == TRC_CALL) {
    e.loc_from = where + 1;
    e.writes = TRC_W_CURRENT_LOCATION;
    trc_send(S, &e, "IoCallDriver(%s, IRP %u) -> location %d", Dev->SimName, Irp->SimId, where);
  } else {
    e.control = loc->Control;
    trc_send(S, &e, "%s dispatch %s", Dev->DriverObject->SimName, iosim_major_name(loc->MajorFunction));
  }
}

/* By number only: the IRP may be gone. */
static __attribute__((noinline)) void trace_return(sim_t *S, PDEVICE_OBJECT Dev, uint32_t id, int where,
                                                   UCHAR major, NTSTATUS st) {
  char sb[16];
  trc_event_t e = trc_ev(TRC_RETURN, NULL, Dev);
  e.irp = id, e.stack_location = where, e.loc_from = where;
  e.major = major;
  trc_set_status(&e, st);
  trc_send(S, &e, "%s returns %s", Dev->SimName, iosim_status_name(st, sb));
}

NTSTATUS IofCallDriver(PDEVICE_OBJECT Dev, PIRP Irp) {
  sim_t *S = Irp->Sim;
  cpu_t *c = S->cur_cpu;
  ke_check_stack(S, "IoCallDriver");
  if (c->irql > DISPATCH_LEVEL)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x10, (ULONG_PTR)Irp->SimId, c->irql, 0,
             "IoCallDriver at IRQL %d, above DISPATCH_LEVEL", c->irql);
  Irp->CurrentLocation--;
  if (Irp->CurrentLocation <= 0)
    bugcheck(S, NO_MORE_IRP_STACK_LOCATIONS, (ULONG_PTR)Irp->SimId, 0, 0, 0,
             "IRP %u has %d stack location%s and was passed to one driver too many (%s)", Irp->SimId,
             Irp->StackCount, Irp->StackCount == 1 ? "" : "s", Dev->SimName);
  if (Irp->CurrentLocation > Irp->StackCount)
    bugcheck(S, NO_MORE_IRP_STACK_LOCATIONS, (ULONG_PTR)Irp->SimId, (ULONG_PTR)Irp->CurrentLocation, 0, 0,
             "IRP %u passed to %s with its location pointer above the top (skipped once too often)", Irp->SimId,
             Dev->SimName);
  PIO_STACK_LOCATION loc = --Irp->Tail.Overlay.CurrentStackLocation;
  loc->DeviceObject = Dev;
  uint32_t id = Irp->SimId;
  int where = Irp->CurrentLocation;
  UCHAR major = loc->MajorFunction;
  sim_irp_info_t *in = irp_info(S, id);
  if (in && !in->major_set) {
    in->major = major;
    in->major_set = true;
  }
  if (trc_on(S)) trace_call(S, TRC_CALL, Irp, Dev, loc, where);
  sched_step(S, COST_CALL_DRIVER);
  if (trc_on(S)) trace_call(S, TRC_DISPATCH, Irp, Dev, loc, where);
  ctx_t *me = S->cur_ctx; /* the stack this call nests on (a dispatch may block: own counter) */
  me->calls++;
  NTSTATUS st = Dev->DriverObject->MajorFunction[major](Dev, Irp);
  me->calls--;
  if (trc_on(S)) trace_return(S, Dev, id, where, major, st);
  sched_step(S, COST_STEP);
  return st;
}
