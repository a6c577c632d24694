/*
 * explain.c - `--explain`: one sentence under each trace step saying why it
 * happened, in the terms a student meets in the Windows documentation.
 */
#include "scn_int.h"

static const char *who(sim_t *S, const trc_event_t *ev) {
  return ev->thread ? sim_thread_name(S, ev->thread) : "no thread (the CPU was idle)";
}

const char *scn_explain(sim_t *S, const trc_event_t *ev, char *b, size_t n) {
  const char *dev = ev->device ? sim_device_name(S, ev->device) : "the device";
  b[0] = 0;
  switch (ev->kind) {
  case TRC_SYSCALL:
    snprintf(b, n, "The thread enters the I/O manager; it resets the file's event (and the caller's), builds an IRP with one stack location per driver in the stack, and queues it on the thread.");
    break;
  case TRC_CALL:
    snprintf(b, n, "IoCallDriver moves the IRP down one stack location (CurrentLocation %d) and calls %s's dispatch routine directly, in the same context: no thread switch.", ev->stack_location, dev);
    break;
  case TRC_DISPATCH:
    if (ev->frame == TRC_FRAME_THREAD)
      snprintf(b, n, "The dispatch routine runs in the caller's context (thread %s, IRQL %d).", who(S, ev), ev->irql);
    else
      snprintf(b, n, "This dispatch routine runs inside a %s at IRQL %d: lower drivers are called in whatever context the upper one was in.", trc_frame_name(ev->frame), ev->irql);
    break;
  case TRC_MARK_PENDING:
    snprintf(b, n, "IoMarkIrpPending sets SL_PENDING_RETURNED in this driver's own stack location: a promise that the routine will return STATUS_PENDING.");
    break;
  case TRC_COPY_STACK:
    snprintf(b, n, "The driver copies its parameters into the next (lower) location; the copy clears Control, so pending and invoke-on bits are not inherited.");
    break;
  case TRC_SKIP_STACK:
    snprintf(b, n, "Skipping moves CurrentLocation back up so the lower driver reuses this location; this driver will never see the completion.");
    break;
  case TRC_SET_COMPLETION:
    snprintf(b, n, "The completion routine is stored in the NEXT location (the lower driver's slot); it runs after the lower driver completes the IRP.");
    break;
  case TRC_RETURN:
    if (ev->status == STATUS_PENDING)
      snprintf(b, n, "STATUS_PENDING goes back up: the IRP is not finished; someone will complete it later, in some other context.");
    else
      snprintf(b, n, "The dispatch routine returns a final status: the IRP was completed (or failed) before it returned.");
    break;
  case TRC_HW_START:
    snprintf(b, n, "The driver programs the hardware and returns; the device works on its own and will interrupt when the transfer ends.");
    break;
  case TRC_INTERRUPT:
    snprintf(b, n, "%s raises its interrupt line; the CPU takes it as soon as its IRQL is below the device's.", dev);
    break;
  case TRC_ISR:
    snprintf(b, n, "The ISR runs at device IRQL on top of whatever CPU %d was doing (%s); it does the minimum and asks for a DPC.", ev->cpu, who(S, ev));
    break;
  case TRC_DPC_QUEUED:
    snprintf(b, n, "The DPC goes into a per-CPU queue; it runs when that CPU's IRQL drops below DISPATCH_LEVEL with a drain requested - at once, or at the latest at that CPU's next clock tick.");
    break;
  case TRC_CLOCK_TICK:
    snprintf(b, n, "CPU %d's clock interrupt (CLOCK_LEVEL): KeUpdateRunTime finds DPCs waiting that requested no drain and requests the DISPATCH_LEVEL interrupt, so no DPC waits more than one tick.", ev->cpu);
    break;
  case TRC_DPC_RUN:
    snprintf(b, n, "The DPC runs at DISPATCH_LEVEL on CPU %d, borrowing %s: arbitrary thread context, so it must not touch the issuer's user memory or wait.", ev->cpu, who(S, ev));
    break;
  case TRC_COMPLETE:
    snprintf(b, n, "IoCompleteRequest starts the walk back up the stack locations, calling each completion routine whose invoke-on flags match the status.");
    break;
  case TRC_COMPLETION_CALL:
    snprintf(b, n, "This completion routine runs in the context of whoever completed the IRP: %s frame, IRQL %d, thread %s - not necessarily the thread that issued the I/O.", trc_frame_name(ev->frame), ev->irql, who(S, ev));
    break;
  case TRC_COMPLETION_RETURN:
    snprintf(b, n, "Any status except STATUS_MORE_PROCESSING_REQUIRED lets the walk continue upward.");
    break;
  case TRC_PENDING_PROPAGATED:
    snprintf(b, n, "No completion routine at this level, so the I/O manager copies the pending mark up itself (a routine, when present, must do it).");
    break;
  case TRC_WALK_STOPPED:
    snprintf(b, n, "STATUS_MORE_PROCESSING_REQUIRED: the walk stops here and the routine's owner has the IRP back; it must complete it again (or free it) later.");
    break;
  case TRC_WALK_DONE:
    snprintf(b, n, "The walk reached the top. PendingReturned (the top location's pending mark) decides stage 2: inline in the caller if not pended, else a special kernel APC to the issuing thread. A cleanup or close IRP has no stage 2: its status block and event are set right here.");
    break;
  case TRC_APC_QUEUED:
    snprintf(b, n, "Stage 2 must run in the issuing thread (its I/O status block and buffers live in that thread's process), so the I/O manager queues an APC to it.");
    break;
  case TRC_APC_RUN:
    snprintf(b, n, "The special kernel APC runs at APC_LEVEL in thread %s, interrupting even a non-alertable wait, which then resumes.", who(S, ev));
    break;
  case TRC_STAGE2:
    snprintf(b, n, "IopCompleteRequest: copy the status into the caller's I/O status block, set the event (or the file's), queue a user APC or port packet if asked, free the IRP.");
    break;
  case TRC_WAKE:
    snprintf(b, n, "A waiting thread becomes ready; an idle CPU picks it up.");
    break;
  case TRC_WAIT:
    snprintf(b, n, "The thread blocks; its CPU switches to another ready thread or to its idle loop.");
    break;
  case TRC_SLEEP:
    snprintf(b, n, "KeDelayExecutionThread: the thread waits for no object, only for its timer (or, alertable, for an APC).");
    break;
  case TRC_IRP_OUTSTANDING:
    snprintf(b, n, "The run is over and this IRP was never freed: the account says where it stopped. Unless a driver keeps it on purpose, the request is lost.");
    break;
  case TRC_THREAD_STUCK:
    snprintf(b, n, "The run is over and this thread still waits: nothing left in the machine will wake it.");
    break;
  case TRC_PORT_QUEUED:
    snprintf(b, n, "The request's file is bound to a completion port: instead of an APC to the issuing thread, a packet goes to the port (thread-agnostic I/O); a waiting worker gets it only while fewer workers than the port's concurrency run.");
    break;
  case TRC_PORT_DEQUEUED:
    snprintf(b, n, "GetQueuedCompletionStatus returns a packet; for I/O that pended, this worker thread - not the issuer - writes the I/O status block and frees the IRP (for I/O that finished at once, the issuer wrote it before its call returned).");
    break;
  case TRC_PORT_WAIT:
    snprintf(b, n, "The worker waits on the port. Waiting workers are released last-in first-out, so the most recently idle (warmest) thread goes first.");
    break;
  case TRC_PORT_CLOSED:
    snprintf(b, n, "The port's last handle is closed (Vista+): its queue is run down, every thread waiting on it returns STATUS_ABANDONED_WAIT_0, and the packets nobody took are thrown away.");
    break;
  case TRC_PORT_PACKET_FREED:
    snprintf(b, n, "A packet for a closed port is freed unread; an I/O packet's IRP goes with it, so that request's status block is never written.");
    break;
  case TRC_APC_RUNDOWN:
    snprintf(b, n, "The thread is exiting with this user APC still queued: it will never run; its rundown routine frees what it carries (a ReadFileEx completion's IRP).");
    break;
  case TRC_CANCEL:
    snprintf(b, n, "IoCancelIrp sets Irp->Cancel and atomically takes the cancel routine away: whoever swaps it to NULL owns the IRP.");
    break;
  case TRC_CANCEL_ROUTINE:
    snprintf(b, n, "The cancel routine runs at DISPATCH_LEVEL holding the cancel spin lock; it must release it (IoReleaseCancelSpinLock) before completing the IRP as cancelled.");
    break;
  case TRC_FILE_LOCK_WAIT:
    snprintf(b, n, "A synchronous file object serves one request at a time: another thread's request holds its lock, so this thread waits for it before any IRP is built (alertably if the file was opened FILE_SYNCHRONOUS_IO_ALERT).");
    break;
  case TRC_FILE_LOCK_ACQUIRED:
    snprintf(b, n, "The thread owns the file object now; its request may go to the driver, and no other thread's request on this handle can until it returns.");
    break;
  case TRC_FILE_LOCK_RELEASED:
    snprintf(b, n, "The request is over and the service lets go of the file object; if other threads wait for it, its Lock event wakes one.");
    break;
  case TRC_FASTIO:
    snprintf(b, n, "A synchronous read on a cached file: before building any IRP, the I/O manager offers it to the file system's fast I/O routine.");
    break;
  case TRC_FASTIO_SERVED:
    snprintf(b, n, "Served straight from the cache: no IRP, no driver below, no pending, no APC - the cheapest I/O there is.");
    break;
  case TRC_FASTIO_DECLINED:
    snprintf(b, n, "Fast I/O said no (not cached, or a byte-range lock makes it questionable): the I/O manager builds an IRP as usual.");
    break;
  case TRC_UFS_REQUEST:
    snprintf(b, n, "The user-mode file system's dispatcher fetched a request; the IRP moved into the kernel's Process table before user mode could see it.");
    break;
  case TRC_UFS_PENDING:
    snprintf(b, n, "The dispatcher's operation returned STATUS_PENDING: its response is emptied, so there is nothing for the kernel to act on.");
    break;
  case TRC_UFS_RESPONSE:
    snprintf(b, n, "A response reaches the kernel: it looks the IRP up by its hint in the Process table; found, it completes it; not found, the response is dropped.");
    break;
  case TRC_SPINLOCK_SPIN:
    snprintf(b, n, "Another CPU holds the spin lock: this one spins at DISPATCH_LEVEL, doing nothing useful and running no DPC or thread, until the holder releases it.");
    break;
  case TRC_TIMER_FIRED:
    snprintf(b, n, "The timer is due: the CPU whose timer table holds it expires it at DISPATCH_LEVEL, signals it (waiters wake) and calls its DPC there.");
    break;
  case TRC_WORK_RUN:
    snprintf(b, n, "A system worker thread runs the work item's routine at PASSIVE_LEVEL: the way a DPC or ISR gets work done that may wait or touch paged memory.");
    break;
  case TRC_DBGPRINT:
    snprintf(b, n, "The driver's own debug output (DbgPrint): what a kernel debugger would show.");
    break;
  case TRC_BUGCHECK:
    snprintf(b, n, "Windows would crash here (a bugcheck): the machine stops.");
    break;
  default:
    break;
  }
  return b;
}
