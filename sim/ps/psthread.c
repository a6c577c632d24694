/*
 * psthread.c - system threads (kernel-facts 13.4): PsCreateSystemThread
 * starts a kernel-mode thread of the system process running a driver's
 * routine at PASSIVE_LEVEL, handing back a kernel handle to it; the thread
 * ends when the routine returns or calls PsTerminateSystemThread (which
 * does not return: the thread's stack is unwound to its start, then it
 * exits as every thread does - its IRPs cancelled and waited for, its
 * region counts and mutexes checked, its object signalled).  A thread
 * object is waitable, and referenced through ObReferenceObjectByHandle.
 */
#include "ob/ob.h"
#include "ps/ps.h"

#include <setjmp.h>
#include <stdio.h>

/* The system process's id, as on Windows. */
#define SYSTEM_PROCESS_ID 4

struct ps_thread {
  PKTHREAD thread;
  PKSTART_ROUTINE routine;
  PVOID ctx;
  NTSTATUS exit_status;
  jmp_buf exit;              /* PsTerminateSystemThread unwinds to here */
  struct ps_thread *next;    /* the machine's system threads */
};

/* The system thread's own frame: runs the routine, and is where
   PsTerminateSystemThread comes back to - the one longjmp of the engine,
   since ending a thread from deep in its calls is exactly what the routine
   is for; the frames it skips are the thread's own, never resumed. */
static void ps_thread_main(PVOID arg) {
  struct ps_thread *p = arg;
  if (setjmp(p->exit) == 0) p->routine(p->ctx);
  ob_release(p->thread->S, p->thread); /* the running thread's reference to itself */
}

PKTHREAD ps_create_system_thread(sim_t *S, const char *name, PKSTART_ROUTINE routine, PVOID ctx) {
  char buf[32];
  if (!name) {
    snprintf(buf, sizeof buf, "system-%u", ++S->nsystem_threads);
    name = buf;
  }
  struct ps_thread *p = mem_calloc(S, sizeof *p);
  p->routine = routine;
  p->ctx = ctx;
  PKTHREAD t = sim_thread_create(S, name, ps_thread_main, p);
  p->thread = t;
  p->next = S->ps_threads;
  S->ps_threads = p;
  t->SystemThread = true;
  S->nsystem_threads_live++;
  t->SimPs = p;
  ob_insert_object(S, t, ob_thread_type(), 1);
  KiReadyNewThread(S, t);
  return t;
}

static HANDLE thread_id_handle(const KTHREAD *t) { return (HANDLE)(ULONG_PTR)(t->id * 4); }

NTSTATUS PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                              HANDLE ProcessHandle, PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine,
                              PVOID StartContext) {
  (void)ObjectAttributes, (void)ProcessHandle; /* one process: the system's */
  sim_t *S = ctx_sim();
  ke_check_irql(S, PASSIVE_LEVEL, "PsCreateSystemThread");
  if (!ThreadHandle || !StartRoutine) return STATUS_INVALID_PARAMETER;
  PKTHREAD t = ps_create_system_thread(S, NULL, StartRoutine, StartContext);
  *ThreadHandle = ob_create_handle(S, t, DesiredAccess);
  if (ClientId) {
    ClientId->UniqueProcess = (HANDLE)(ULONG_PTR)SYSTEM_PROCESS_ID;
    ClientId->UniqueThread = thread_id_handle(t);
  }
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_THREAD_CREATE, NULL, NULL);
    e.target_thread = t->id;
    e.service = "PsCreateSystemThread";
    trc_send(S, &e, "system thread %s created", t->name);
  }
  sched_step(S, COST_STEP);
  return STATUS_SUCCESS;
}

NTSTATUS PsTerminateSystemThread(NTSTATUS ExitStatus) {
  sim_t *S = ctx_sim();
  PKTHREAD t = thr_current(S);
  if (!t || !t->SystemThread) return STATUS_INVALID_PARAMETER;
  ke_check_irql(S, PASSIVE_LEVEL, "PsTerminateSystemThread");
  if (t->cpu->depth != 0)
    ke_verifier_stop(S, 0xE5, t->cpu->irql, 0, 0,
                     "PsTerminateSystemThread from inside an APC of thread %s (only its own code may end it)",
                     t->name);
  t->SimPs->exit_status = ExitStatus;
  longjmp(t->SimPs->exit, 1);
}

PETHREAD PsGetCurrentThread(void) { return thr_current(ctx_sim()); }

HANDLE PsGetCurrentThreadId(void) { return thread_id_handle(thr_current(ctx_sim())); }

BOOLEAN PsIsSystemThread(PETHREAD Thread) { return Thread->SystemThread; }

void ps_destroy(sim_t *S) {
  for (struct ps_thread *p = S->ps_threads, *n; p; p = n) {
    n = p->next;
    mem_free(S, p, sizeof *p);
  }
  S->ps_threads = NULL;
}
