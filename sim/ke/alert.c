/*
 * alert.c - what one user-mode thread can do to another's waits:
 * NtQueueApcThread (QueueUserAPC) queues a user APC to it, and
 * NtAlertThread alerts it.  Both end an alertable user-mode wait at once;
 * otherwise the APC waits in the thread's user queue, and the alert in its
 * Alerted flag, for the next alertable wait (kernel-facts 6.9, 6.11).
 */
#include "ke/ke.h"

typedef struct user_apc {
  KAPC Apc;
  KNORMAL_ROUTINE *Routine; /* the caller's routine, run in user mode */
} user_apc_t;

/* Like PspQueueApcSpecialApc: the kernel routine frees the APC object
   before the user routine runs (its arguments are copied out already). */
static void user_apc_free(PKAPC Apc, PVOID *Normal, PVOID *NormalCtx, PVOID *A1, PVOID *A2) {
  (void)Normal, (void)NormalCtx, (void)A1, (void)A2;
  sim_t *S = Apc->Thread->S;
  mem_free(S, CONTAINING_RECORD(Apc, user_apc_t, Apc), sizeof(user_apc_t));
}

static void user_apc_rundown(PKAPC Apc) { user_apc_free(Apc, NULL, NULL, NULL, NULL); }

static void syscall_trace(sim_t *S, const char *service, PKTHREAD target, NTSTATUS st, bool ret) {
  if (!trc_on(S)) return;
  char sb[16];
  trc_event_t e = trc_ev(ret ? TRC_SYSCALL_RETURN : TRC_SYSCALL, NULL, NULL);
  e.service = service;
  e.target_thread = target->id;
  if (ret) {
    trc_set_status(&e, st);
    trc_send(S, &e, "%s returns %s", service, iosim_status_name(st, sb));
  } else {
    trc_send(S, &e, "%s to thread %s", service, target->name);
  }
}

NTSTATUS NtQueueApcThread(PKTHREAD Thread, KNORMAL_ROUTINE *Routine, PVOID Arg1, PVOID Arg2, PVOID Arg3,
                          const char *Name) {
  sim_t *S = ctx_sim();
  syscall_trace(S, "NtQueueApcThread", Thread, 0, false);
  sched_step(S, COST_SYSCALL);
  /* A thread that has exited takes no APC (Windows: the insert fails). */
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  if (Thread->state != THR_TERMINATED) {
    user_apc_t *u = mem_calloc(S, sizeof *u);
    u->Routine = Routine;
    KeInitializeApc(&u->Apc, Thread, user_apc_free, user_apc_rundown, Routine, UserMode, Arg1);
    u->Apc.Name = Name ? Name : "QueueUserAPC routine";
    st = KeInsertQueueApc(&u->Apc, Arg2, Arg3, 0) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
    if (!NT_SUCCESS(st)) mem_free(S, u, sizeof *u);
  }
  syscall_trace(S, "NtQueueApcThread", Thread, st, true);
  return st;
}

/* KeAlertThread(Thread, UserMode): a thread in an alertable user-mode wait
   is woken with STATUS_ALERTED; any other is only marked, and its next
   alertable user-mode wait returns STATUS_ALERTED at once. */
NTSTATUS NtAlertThread(PKTHREAD Thread) {
  sim_t *S = ctx_sim();
  syscall_trace(S, "NtAlertThread", Thread, 0, false);
  sched_step(S, COST_SYSCALL);
  if (Thread->state != THR_TERMINATED && !Thread->alerted) {
    if (Thread->state == THR_WAITING && Thread->wait_alertable && Thread->wait_mode == UserMode)
      KiUnwaitThread(S, Thread, STATUS_ALERTED);
    else
      Thread->alerted = true;
  }
  syscall_trace(S, "NtAlertThread", Thread, STATUS_SUCCESS, true);
  return STATUS_SUCCESS;
}
