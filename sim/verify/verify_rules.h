/*
 * verify_rules.h - the text of each verifier rule: a title and a paragraph
 * saying what the rule is, why Windows has it, and the usual fix.  Kept
 * apart from verify.c so that the prose can be read (and reviewed) on its
 * own; the names and bugcheck codes are in include/iosim/verify.h.
 */
#ifndef IOSIM_VERIFY_RULES_H
#define IOSIM_VERIFY_RULES_H

#define VRF_PENDING_NOT_MARKED_TITLE "STATUS_PENDING returned without IoMarkIrpPending"
#define VRF_PENDING_NOT_MARKED_EXPLAIN                                                             \
  "A dispatch routine that returns STATUS_PENDING promises that the IRP will complete later, and " \
  "the promise is the SL_PENDING_RETURNED bit in its own stack location (IoMarkIrpPending). "      \
  "Without it the completion walk leaves PendingReturned clear, the I/O manager believes the "     \
  "request finished synchronously and queues no APC, while the caller - told STATUS_PENDING - "   \
  "waits for an event nobody sets. Fix: call IoMarkIrpPending(Irp) before queuing or starting "    \
  "the IRP and before returning STATUS_PENDING (SDV rule MarkIrpPending2)."

#define VRF_MARKED_NOT_PENDING_TITLE "IRP marked pending, but the dispatch returned another status"
#define VRF_MARKED_NOT_PENDING_EXPLAIN                                                              \
  "IoMarkIrpPending and returning STATUS_PENDING go together. A routine that marks its location "   \
  "and then returns a real status makes stage 2 of the completion run twice: once as the special "  \
  "kernel APC that the mark asks for, and once inline in the system service that saw a "            \
  "non-pending status - the I/O status block is written twice and the IRP is used after it is "    \
  "freed. Fix: once IoMarkIrpPending is called, return STATUS_PENDING, whatever the lower driver "  \
  "returned (SDV rule MarkIrpPending)."

#define VRF_PENDING_NOT_PROPAGATED_TITLE "completion routine did not propagate the pending mark"
#define VRF_PENDING_NOT_PROPAGATED_EXPLAIN                                                         \
  "Where a driver sets no completion routine the I/O manager copies a lower driver's pending "     \
  "mark up by itself; a completion routine replaces that copy. So a routine that lets the walk "   \
  "go on (any status but STATUS_MORE_PROCESSING_REQUIRED) must do "                                \
  "`if (Irp->PendingReturned) IoMarkIrpPending(Irp);`. If it does not, the top location ends "     \
  "unmarked although the dispatch routines returned STATUS_PENDING: no APC is queued and a "       \
  "synchronous caller hangs. Fix: add the two lines at the start of the routine; a routine that "  \
  "returns STATUS_MORE_PROCESSING_REQUIRED must not mark."

#define VRF_DOUBLE_COMPLETION_TITLE "IRP completed twice"
#define VRF_DOUBLE_COMPLETION_EXPLAIN                                                             \
  "IoCompleteRequest hands the IRP back to the I/O manager, which may free or reuse it at once. "  \
  "A second IoCompleteRequest on the same IRP finds CurrentLocation past the top of the stack "    \
  "and stops the machine. It usually comes from two paths that each think they own the request "  \
  "(a dispatch and a DPC, a cancel routine and a normal completion). Fix: complete in exactly "    \
  "one place, and never touch the IRP after completing it (SDV rule DoubleCompletion)."

#define VRF_TOUCHED_AFTER_RELEASE_TITLE "IRP used after it was passed down or completed"
#define VRF_TOUCHED_AFTER_RELEASE_EXPLAIN                                                           \
  "After IoCallDriver the IRP belongs to the lower driver, which may complete it - and the I/O "     \
  "manager free it - before IoCallDriver even returns; after IoCompleteRequest it belongs to the "  \
  "I/O manager. Reading or writing its stack locations, its status, marking it pending, "           \
  "completing or forwarding it from then on uses memory that may already be another request. "      \
  "Fix: do everything to the IRP before passing it on (mark pending first, then call down), keep "  \
  "the status IoCallDriver returned in a local variable, or take the IRP back with a completion "   \
  "routine that returns STATUS_MORE_PROCESSING_REQUIRED (SDV rule CompleteRequest)."

#define VRF_COMPLETION_IN_CURRENT_TITLE "completion routine set in the current stack location"
#define VRF_COMPLETION_IN_CURRENT_EXPLAIN                                                           \
  "IoSetCompletionRoutine writes into the NEXT location, the one the lower driver will use; the "   \
  "walk calls it when the lower driver's location is left. Setting it after "                       \
  "IoSkipCurrentIrpStackLocation (or writing the current location by hand) puts it in the "         \
  "driver's own location instead: it overwrites the routine of the driver above, which is then "    \
  "never called, and it is itself called with the upper driver's device. Fix: to get a "            \
  "completion routine, IoCopyCurrentIrpStackLocationToNext then IoSetCompletionRoutine; skip only " \
  "when you need no routine."

#define VRF_FORWARD_WITHOUT_SETUP_TITLE "IRP forwarded without copying or skipping the stack location"
#define VRF_FORWARD_WITHOUT_SETUP_EXPLAIN                                                           \
  "IoCallDriver moves the IRP one location down; the lower driver reads its parameters (major "     \
  "function, length, offset, file object) from there. A driver that forwards without "              \
  "IoCopyCurrentIrpStackLocationToNext or IoSkipCurrentIrpStackLocation hands down a location "     \
  "nobody filled: stale or zero parameters (here IRP_MJ_CREATE, major 0) and, if it was used "      \
  "before, a stale completion routine. Fix: copy (when setting a completion routine) or skip "      \
  "before every IoCallDriver, including each resend of the same IRP."

#define VRF_NEVER_COMPLETED_TITLE "IRP never completed"
#define VRF_NEVER_COMPLETED_EXPLAIN                                                                 \
  "Every IRP a driver receives must end in IoCompleteRequest - by this driver or one below - and "  \
  "every IRP a driver allocates must be freed. This one was still in a driver's hands when the run " \
  "ended with nothing left to do: a queue nobody drains, a path that returns without completing, "  \
  "a pended request the hardware never answers. The issuing thread waits forever and the IRP "      \
  "cannot be cancelled. Fix: find the path that returns without completing (or queuing with a "     \
  "way out) and complete the request there."

#define VRF_DEADLOCK_TITLE "deadlock: every remaining thread waits forever"
#define VRF_DEADLOCK_EXPLAIN                                                                        \
  "The machine stalled: threads are still waiting, but no CPU has work, no device will interrupt "  \
  "and no timer will fire, so nothing can ever signal what they wait for. Look at what each thread " \
  "waits for and who was supposed to signal it: often a request whose completion never reached "    \
  "stage 2 (a lost pending mark), an event set only on a path that was not taken, or two threads "  \
  "each waiting for the other. Fix the signaller, not the waiter: a timeout only hides the bug."

#define VRF_COMPLETE_BAD_IRQL_TITLE "IRP completed above DISPATCH_LEVEL"
#define VRF_COMPLETE_BAD_IRQL_EXPLAIN                                                               \
  "IoCompleteRequest runs completion routines, takes locks and queues APCs: it may be called at "   \
  "IRQL <= DISPATCH_LEVEL only. An interrupt service routine runs at device IRQL and must not "     \
  "complete the IRP it was interrupted for. Fix: in the ISR, save what the device said and call "   \
  "IoRequestDpc; complete the IRP in the DPC, at DISPATCH_LEVEL."

#define VRF_CALL_BAD_IRQL_TITLE "IoCallDriver above DISPATCH_LEVEL"
#define VRF_CALL_BAD_IRQL_EXPLAIN                                                                   \
  "IoCallDriver calls another driver's dispatch routine, which is written to run at "               \
  "PASSIVE_LEVEL (most majors) or at most DISPATCH_LEVEL (read, write, power, some internal "       \
  "IOCTLs). Calling it from an ISR, at device IRQL, lets the lower driver run with interrupts "     \
  "masked and take locks it cannot. Fix: queue a DPC (or a work item, for majors that need "        \
  "PASSIVE_LEVEL) and forward the IRP from there (SDV rule ForwardedAtBadIrql)."

#define VRF_WAIT_AT_DISPATCH_TITLE "wait at DISPATCH_LEVEL or above"
#define VRF_WAIT_AT_DISPATCH_EXPLAIN                                                                \
  "A thread may block only at PASSIVE_LEVEL or APC_LEVEL: at DISPATCH_LEVEL the scheduler itself "  \
  "is masked, so nothing could switch to another thread - and DPCs and ISRs are not threads at "    \
  "all. A KeWaitFor... with a nonzero timeout there stops Windows with IRQL_NOT_LESS_OR_EQUAL. "    \
  "Fix: never wait in a DPC, an ISR, a completion routine or under a spin lock; let the routine "   \
  "set an event (or queue a work item) and wait in a thread at PASSIVE_LEVEL."

#define VRF_CANCEL_ROUTINE_SET_TITLE "IRP completed with its cancel routine still set"
#define VRF_CANCEL_ROUTINE_SET_EXPLAIN                                                              \
  "A cancel routine says \"this IRP is waiting in my queue and I can cancel it\". Completing the "  \
  "IRP while one is still set lets IoCancelIrp call it for an IRP that no longer exists. Fix: "     \
  "before completing a queued IRP, clear the routine with IoSetCancelRoutine(Irp, NULL) - and if "  \
  "that returns NULL the cancel routine is already running and owns the IRP: leave it alone (or "   \
  "use a cancel-safe queue, IoCsq*, which does all this)."

#define VRF_COMPLETE_PENDING_TITLE "IRP completed with STATUS_PENDING"
#define VRF_COMPLETE_PENDING_EXPLAIN                                                                \
  "STATUS_PENDING is what a dispatch routine returns when the request is NOT finished; it is "      \
  "never a final status. Completing with it writes STATUS_PENDING into the caller's I/O status "    \
  "block as if it were the answer. It usually comes from copying the lower driver's return value "  \
  "into Irp->IoStatus.Status. Fix: complete with the real outcome (STATUS_SUCCESS, an error), "     \
  "taken from Irp->IoStatus in a completion routine, not from IoCallDriver's return."

#define VRF_MPR_NEVER_COMPLETED_TITLE "STATUS_MORE_PROCESSING_REQUIRED, then never completed or freed"
#define VRF_MPR_NEVER_COMPLETED_EXPLAIN                                                             \
  "A completion routine that returns STATUS_MORE_PROCESSING_REQUIRED stops the completion walk and " \
  "takes the IRP back: from then on the driver must either call IoCompleteRequest again (an IRP "   \
  "it received) or IoFreeIrp (an IRP it allocated). Forgetting leaves the caller waiting forever "  \
  "and leaks the IRP. Fix: on every path after the routine (the waiting dispatch routine, the "     \
  "follow-up request's routine), complete or free the IRP exactly once."

#define VRF_DRIVER_IRP_NOT_RECLAIMED_TITLE "driver-allocated IRP came back to the top without STATUS_MORE_PROCESSING_REQUIRED"
#define VRF_DRIVER_IRP_NOT_RECLAIMED_EXPLAIN                                                        \
  "An IRP from IoAllocateIrp belongs to the driver that allocated it and has no thread: nobody is "  \
  "waiting above its top stack location. When the completion walk reaches the top, the I/O "        \
  "manager runs stage 2 for Tail.Overlay.Thread, which is NULL, and the machine crashes (0x1E, or "  \
  "0x0A at DISPATCH_LEVEL). Fix: set a completion routine on every IRP you allocate; in it, take "   \
  "what you need, call IoFreeIrp and return STATUS_MORE_PROCESSING_REQUIRED."

#define VRF_REGION_NOT_LEFT_TITLE "back to user mode inside a critical or guarded region"
#define VRF_REGION_NOT_LEFT_EXPLAIN                                                                 \
  "KeEnterCriticalRegion holds back the thread's normal kernel APCs and KeEnterGuardedRegion all "  \
  "of its kernel APCs (the I/O manager's stage 2 among them) until the matching Leave. A dispatch " \
  "routine that returns on some path without leaving sends the thread back to user mode with its "  \
  "APCs still off; the system service exit checks for that and stops Windows with "               \
  "APC_INDEX_MISMATCH (0x1). Fix: pair every Enter with a Leave on every path out of the routine, " \
  "before it returns."

#define VRF_IRP_LEAKED_TITLE "IRP still allocated at the end of the run"
#define VRF_IRP_LEAKED_EXPLAIN                                                                      \
  "Every IRP ends freed: stage 2 (IopCompleteRequest) frees an IRP the I/O manager built once it "   \
  "has told the caller - status block, event, APC or port packet - and a driver frees the IRPs it " \
  "allocated. This one finished its completion walk but was never freed, so the caller was never "  \
  "told: the issuing thread waits or times out, and the IRP stays on its list, so the thread "      \
  "cannot exit. Usually stage 2 was never started: the walk reached the top with PendingReturned "  \
  "clear while a dispatch routine had returned STATUS_PENDING, so the I/O manager left stage 2 to " \
  "the system service, which had already returned (see the pending-not-marked or "                 \
  "pending-not-propagated finding beside it). Fix: mark the IRP pending wherever STATUS_PENDING is " \
  "returned or propagated - a driver that takes an IRP back and completes it later marks it in its " \
  "dispatch routine. A test driver that keeps IRPs on purpose says so with sim_irp_keep."

#endif
