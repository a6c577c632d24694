/*
 * ke.h - the kernel's dispatcher (ke/): CPUs and IRQL, DPCs, APCs, threads
 * and waits, KQUEUE, bugchecks.  ke/ never calls into io/ except through
 * S->hooks (core.h).
 */
#include "core/core.h" /* outside the guard: core.h includes this file */
#ifndef IOSIM_KE_H
#define IOSIM_KE_H

/* Nesting on one CPU: thread, APC, DPC, and one ISR per DIRQL above it. */
#define CPU_MAX_FRAMES 40
/* Spin locks one CPU may hold at once (nested acquisitions). */
#define CPU_MAX_LOCKS 16

/* ---- CPUs (ke/cpu.c) ---- */
typedef struct frame {
  trc_frame_t kind;
  KIRQL prev_irql;
  int line; /* scenario line running in this frame (trc_event_t.line); the
               base frame (thread, idle) keeps it in its coroutine instead */
} frame_t;

typedef struct cpu {
  int id;
  KIRQL irql;
  frame_t frames[CPU_MAX_FRAMES];
  int depth;
  PKTHREAD thread;          /* the thread it runs, NULL when idle */
  ctx_t idle_ctx;
  ctx_t *ctx;               /* the coroutine bound to this CPU */
  bool idle;                /* parked in the idle loop, no step queued */
  LIST_ENTRY dpc_queue;
  int dpc_depth;
  bool dpc_requested;       /* a DISPATCH_LEVEL software interrupt is pending */
  bool dpc_draining;
  /* DPC moderation, KPRCB's fields of those names (ke/clock.c) */
  uint32_t dpc_count;       /* DpcCount: DPCs ever queued here */
  uint32_t dpc_last_count;  /* DpcLastCount: DpcCount at the last tick */
  uint32_t dpc_request_rate;/* DpcRequestRate: DPCs queued a tick, averaged */
  uint32_t max_dpc_depth;   /* MaximumDpcQueueDepth: this depth drains at once */
  uint32_t adjust_dpc_threshold; /* AdjustDpcThreshold: ticks until it grows back */
  uint64_t ticks_done;      /* the last tick accounted for (tick k is at k * period) */
  uint64_t tick_at;         /* the next tick to deliver, UINT64_MAX = none */
  uint64_t clock_pending;   /* the tick whose clock interrupt waits for IRQL
                               below CLOCK_LEVEL, 0 = none */
  const char *next_irp_tag;  /* sim_tag_next_irp in a DPC or ISR on this CPU */
  LIST_ENTRY irq_pending;   /* interrupts raised, waiting for a low enough IRQL */
  bool step_live;         /* a step is due at step_end */
  uint64_t step_end;
  uint64_t busy_ns;
  /* the kernel library (ke/spinlock.c, ke/timerobj.c) */
  PKSPIN_LOCK held[CPU_MAX_LOCKS]; /* spin locks this CPU holds, innermost last */
  int nheld;
  LIST_ENTRY timers_due;    /* its timers that expired, for its expiration DPC */
  KDPC timer_dpc;           /* KiTimerExpiration, queued by the clock */
} cpu_t;

/* Hardware waiting for its interrupt (hal/hw.c). */
struct hw_irq;

/* ---- threads (ke/thread.c, ke/wait.c, ke/apc.c) ---- */
typedef enum { THR_INIT, THR_READY, THR_RUNNING, THR_WAITING, THR_TERMINATED } thr_state_t;
#define OBJ_EVENT_NOTIFICATION 1
#define OBJ_EVENT_SYNCHRONIZATION 2
#define OBJ_THREAD 3
/* The kernel library's dispatcher objects (ke/dispobj.c): what a satisfied
   wait does to them differs from an event's. */
#define OBJ_TIMER_NOTIFICATION 4
#define OBJ_TIMER_SYNCHRONIZATION 5
#define OBJ_SEMAPHORE 6
#define OBJ_MUTANT 7

typedef struct wait_block {
  LIST_ENTRY link;     /* in the object's WaitListHead */
  PKTHREAD thread;
  DISPATCHER_HEADER *obj;
  int index;
} wait_block_t;

struct KTHREAD {
  DISPATCHER_HEADER Header; /* signalled when the thread has terminated */
  sim_t *S;
  uint32_t id;
  char *name;
  /* A service's working memory that lives across a wait (the entries of
     GetQueuedCompletionStatusEx): the thread's, so a run stopped while it
     waits frees it with the thread instead of losing it on the stack. */
  void *scratch;
  size_t scratch_bytes;
  ctx_t ctx;
  thr_state_t state;
  cpu_t *cpu;
  SIM_THREAD_START *start;
  PVOID arg;
  LIST_ENTRY ready_link;
  LIST_ENTRY all_link;
  /* the wait in progress */
  wait_block_t wb[MAXIMUM_WAIT_OBJECTS];
  int wait_count;
  WAIT_TYPE wait_type;
  KPROCESSOR_MODE wait_mode;
  bool wait_alertable;
  KIRQL wait_irql;
  NTSTATUS wait_status;
  uint32_t wait_gen;
  /* APC queues: [KernelMode], [UserMode] */
  LIST_ENTRY apc[2];
  bool user_apc_pending;
  bool kernel_apc_in_progress;
  bool alerted;             /* Alerted[UserMode]: NtAlertThread on a thread not in an alertable wait */
  /* Critical / guarded regions (ke/region.c), as Windows keeps them:
     Enter decrements, Leave increments, anything but 0 holds APCs back. */
  int16_t KernelApcDisable;  /* normal kernel APCs */
  int16_t SpecialApcDisable; /* all kernel APCs */
  bool ApcQueueable;        /* cleared at exit: KeInsertQueueApc then fails */
  LIST_ENTRY irp_list;      /* IRPs issued by this thread (ThreadListEntry) */
  /* KQUEUE (ke/queue.c): Windows' KTHREAD.Queue and QueueListEntry */
  struct KQUEUE *Queue;     /* associated since its first KeRemoveQueue */
  LIST_ENTRY QueueListEntry;/* in Queue->ThreadListHead while associated */
  bool queue_counted;       /* counted in Queue->CurrentCount */
  bool in_queue_wait;       /* blocked in KeRemoveQueue itself, not elsewhere */
  bool wait_is_sleep;       /* the wait in progress is a sleep (no object, not a port) */
  LIST_ENTRY queue_link;    /* in Queue->WaitListHead while blocked there
                               (self-linked otherwise) */
  LIST_ENTRY *queue_entry;  /* the entry handed over while it waited */
  uint32_t last_irp;
  const char *next_irp_tag; /* sim_tag_next_irp: the name of its next IRP */
  /* the kernel library */
  LIST_ENTRY MutantListHead; /* the mutexes it owns (ke/mutex.c) */
  KPRIORITY Priority;        /* recorded by KeSetPriorityThread, not used */
  bool SystemThread;         /* PsCreateSystemThread's: kernel mode only */
  bool idle_worker;          /* a system worker waiting for work: at rest, not stuck */
  struct ps_thread *SimPs;   /* its system-thread record (ps/), or NULL */
};

/* ---- KQUEUE (ke/queue.c): what a completion port is built on ---- */
typedef struct KQUEUE {
  LIST_ENTRY EntryListHead;  /* entries, FIFO */
  ULONG CurrentCount;        /* associated threads running now */
  ULONG MaximumCount;        /* the concurrency value */
  LIST_ENTRY WaitListHead;   /* threads blocked in KeRemoveQueue; released LIFO */
  LIST_ENTRY ThreadListHead; /* associated threads (KTHREAD.QueueListEntry) */
  ULONG EntryCount;
  bool Abandoned;            /* run down (its port closed): no more waits */
  uint32_t SimId;            /* the port's number and name, for the trace */
  const char *SimName;
} KQUEUE, *PKQUEUE;
void KeInitializeQueue(PKQUEUE Queue, ULONG Count, uint32_t Id, const char *Name);
/* Hands the entry to a waiting thread if the concurrency allows, else
   queues it.  Returns whether a waiter took it. */
bool KeInsertQueue(sim_t *S, PKQUEUE Queue, LIST_ENTRY *Entry);
/* KeRemoveQueueEx: the calling thread takes up to Count entries (at least
   one, FIFO) into Entries[], waiting - alertably if asked - when none may be
   had now; the thread becomes the queue's.  Returns how many it took; 0
   with *Status STATUS_TIMEOUT, STATUS_USER_APC, STATUS_ALERTED or
   STATUS_ABANDONED_WAIT_0 (the queue was run down). */
ULONG KeRemoveQueueEx(sim_t *S, PKQUEUE Queue, KPROCESSOR_MODE Mode, BOOLEAN Alertable, const LONGLONG *Timeout,
                      LIST_ENTRY **Entries, ULONG Count, NTSTATUS *Status);
/* KeRundownQueue (Vista+, as the close of a port's last handle runs it):
   marks the queue abandoned, moves every queued entry onto `Entries` (an
   initialised list head the caller frees from), forgets the associated
   threads and releases the waiting ones with STATUS_ABANDONED_WAIT_0. */
void KeRundownQueue(sim_t *S, PKQUEUE Queue, LIST_ENTRY *Entries);
/* An associated thread blocks somewhere else: its slot frees, and another
   waiter may be released. */
void KiActivateWaiterQueue(sim_t *S, PKTHREAD t);
/* An associated thread was woken: it counts as running again. */
void KiQueueThreadRuns(sim_t *S, PKTHREAD t);
/* A thread blocked in KeRemoveQueue is woken for anything but an entry
   (a kernel APC, a timeout...): it leaves the waiter list at once, so no
   entry can be handed to it while it is not waiting. */
void KiQueueWaiterUnlink(PKTHREAD t);
/* KeTerminateThread's part: an exiting thread leaves its queue. */
void KiQueueThreadExit(sim_t *S, PKTHREAD t);

/* ---- the clock and DPC moderation (ke/clock.c) ---- */
/* DPCs wait in the CPU's queue with no drain requested or running: what
   makes a clock tick matter (KeUpdateRunTime's test). */
static inline bool ke_dpcs_waiting(const cpu_t *c) {
  return c->dpc_depth > 0 && !c->dpc_requested && !c->dpc_draining;
}
void ke_clock_init_cpu(sim_t *S, cpu_t *c);
/* Brings the CPU's DpcRequestRate, MaximumDpcQueueDepth and
   AdjustDpcThreshold up to the present: every tick up to now that has not
   been accounted for found nothing to request. */
void ke_clock_account(sim_t *S, cpu_t *c);
/* DPCs now wait on `c`: its next tick must be delivered. */
void ke_clock_arm(sim_t *S, cpu_t *c);
/* The scheduler reached c's armed tick: raise the clock interrupt there
   if DPCs still wait (else the tick is only accounted for later). */
void ke_clock_fire(sim_t *S, cpu_t *c);
/* The clock interrupt, taken below CLOCK_LEVEL: the DPC part of
   KeUpdateRunTime. */
void KeUpdateRunTime(sim_t *S, cpu_t *c);

/* ---- CPU work (ke/cpu.c) ---- */
void cpu_service(sim_t *S, cpu_t *c);
void cpu_push_frame(sim_t *S, cpu_t *c, trc_frame_t kind, KIRQL irql);
void cpu_pop_frame(sim_t *S, cpu_t *c);
trc_frame_t cpu_frame(const cpu_t *c);
void cpu_idle_main(void *arg);
void KiRetireDpcList(sim_t *S, cpu_t *c);
bool apc_deliverable(const PKTHREAD t);
void KiDeliverApc(sim_t *S, cpu_t *c, PKTHREAD t);

/* ---- threads (ke/thread.c, ke/wait.c) ---- */
void KiReadyThread(sim_t *S, PKTHREAD t);
/* Wakes an idle CPU (the chooser's pick among several) to take a ready thread. */
void KiWakeIdleProcessor(sim_t *S);
/* Blocks the current thread (already marked waiting); returns when it runs again. */
void KiSwapThread(sim_t *S, PKTHREAD t);
void KiUnwaitThread(sim_t *S, PKTHREAD t, NTSTATUS status);
PKTHREAD thr_current(sim_t *S);
void thr_timeout(sim_t *S, PKTHREAD t, uint32_t gen);
NTSTATUS thr_wait(sim_t *S, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type,
                  KPROCESSOR_MODE mode, BOOLEAN alertable, const LONGLONG *timeout);
/* The steps of a wait, for KeRemoveQueueEx's own loop (ke/queue.c) as for
   thr_wait: the absolute deadline of a timeout (UINT64_MAX: none); the
   bugchecks of a wait at DISPATCH_LEVEL or outside a thread; the `wait`
   row and its cost; checks (3)-(4), returning the early status (0: none)
   with its `wait-done` row (`blocked`: the wait had blocked before a kernel
   APC woke it); (5) blocking until woken, returning the wake
   status (a `wait-done` row unless it is STATUS_KERNEL_APC, after which the
   caller decides); and a `wait-done` row for an end the caller found. */
uint64_t wait_deadline(sim_t *S, const LONGLONG *timeout);
void wait_check_context(sim_t *S, PKTHREAD t, const LONGLONG *timeout);
void wait_begin(sim_t *S, PKTHREAD t, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type, BOOLEAN alertable,
                bool sleep);
NTSTATUS wait_early(sim_t *S, PKTHREAD t, KPROCESSOR_MODE mode, BOOLEAN alertable, uint64_t deadline,
                    bool blocked);
NTSTATUS wait_block(sim_t *S, PKTHREAD t, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type,
                    KPROCESSOR_MODE mode, BOOLEAN alertable, KIRQL wait_irql, uint64_t deadline);
void wait_done(sim_t *S, PKTHREAD t, NTSTATUS st, bool blocked, const char *why);
void obj_init(DISPATCHER_HEADER *h, uint8_t type, int32_t state);
void obj_signal(sim_t *S, DISPATCHER_HEADER *h);
/* Whether `h` would satisfy a wait of thread `t` now: signalled, or a
   mutex `t` already owns (it may take it again). */
static inline bool obj_ready(const DISPATCHER_HEADER *h, const KTHREAD *t) {
  return h->SignalState > 0 || (h->Type == OBJ_MUTANT && ((const KMUTANT *)h)->OwnerThread == t);
}
/* What a satisfied wait of `t` does to a timer, semaphore or mutex
   (ke/dispobj.c): a synchronization timer resets, a semaphore's count
   drops, a mutex becomes (more) owned by `t`. */
void KiWaitSatisfyObject(DISPATCHER_HEADER *h, PKTHREAD t);
/* Runs queued user APCs of the current thread (user mode, after STATUS_USER_APC). */
int KiUserApcDispatcher(sim_t *S, PKTHREAD t);
/* A system service returning to user mode: a thread still inside a
   critical or guarded region is a bugcheck (ke/region.c). */
void KiCheckServiceExit(sim_t *S, PKTHREAD t, const char *service);
/* A thread exiting: the same check, KERNEL_APC_PENDING_DURING_EXIT. */
void KiCheckThreadExit(sim_t *S, PKTHREAD t);
/* Every user-mode system service returns through this: it delivers the
   thread's user APCs if UserApcPending is set, and returns `status`. */
NTSTATUS KiServiceExit(sim_t *S, NTSTATUS status);
/* Thread exit's APC rundown (PspExitThread): delivers the kernel APCs still
   deliverable, stops the thread accepting APCs, then flushes its user APCs,
   calling each one's rundown routine (or dropping it when it has none). */
void KiRundownThreadApcs(sim_t *S, PKTHREAD t);

/* ---- bugchecks (ke/bugcheck.c) ---- */
void bugcheck(sim_t *S, ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3,
              ULONG_PTR p4, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 7, 8)));

/* Bugchecks UNEXPECTED_KERNEL_MODE_TRAP (0x7F, parameter 1 =
   EXCEPTION_DOUBLE_FAULT) when the running coroutine has less than
   CTX_STACK_MARGIN of stack left: Windows' report of a kernel stack
   overflow, raised before the guard page is reached.  Called where drivers
   nest: IoCallDriver, before a completion routine, pushing a CPU frame.
   `where` names the place for the message. */
/* The stack-overflow check (bugcheck 0x7F): an inline comparison on the
   hot paths (IoCallDriver, completion routines, CPU frames); the exact
   test and the bugcheck only when the frame is below the low-water mark. */
void ke_stack_low(sim_t *S, const char *where);
#define ke_check_stack(S, where)                                                              \
  do {                                                                                        \
    if ((uintptr_t)__builtin_frame_address(0) < (S)->cur_ctx->low_water) ke_stack_low((S), (where)); \
  } while (0)

/* ---- the kernel library (kernel-facts 13) ---- */
/* A stop of Driver Verifier's (0xC4) with subcode `sub`: the report says
   it is the verifier's. */
void ke_verifier_stop(sim_t *S, ULONG_PTR sub, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 6, 7)));
/* An exception no driver handles (ExRaiseStatus in kernel mode):
   KMODE_EXCEPTION_NOT_HANDLED with the status as parameter 1. */
void ke_raise_stop(sim_t *S, NTSTATUS status, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
/* A failed assertion of a checked build (ASSERT, or iosim's own check of
   a DDI's argument): the message Windows prints, then the breakpoint that
   no debugger takes - KMODE_EXCEPTION_NOT_HANDLED with STATUS_BREAKPOINT. */
/* A DbgPrint line still waiting for its newline, written as it is (the
   end of a run). */
void ke_dbg_flush(sim_t *S);
void ke_assert_failed(sim_t *S, const char *expr, const char *file, unsigned long line, const char *msg)
    __attribute__((noreturn));
/* A DDI called above the IRQL it allows: 0xC4/0xE5. */
void ke_check_irql(sim_t *S, KIRQL max, const char *routine);
/* A spin lock's id among the machine's objects (trace `object`). */
uint32_t ke_lock_id(sim_t *S, const KSPIN_LOCK *lock, const char *name);
/* The spin-lock machinery (ke/spinlock.c), shared with the cancel spin
   lock: spin until the lock is free, then take it (the caller is at
   DISPATCH_LEVEL already); `kind` is the trace kind of the acquire and
   release rows (TRC_SPINLOCK_* or the cancel lock's own). */
void KiAcquireSpinLockTraced(sim_t *S, PKSPIN_LOCK lock, const char *routine, trc_kind_t kind);
void KiReleaseSpinLockTraced(sim_t *S, PKSPIN_LOCK lock, const char *routine, trc_kind_t kind);
/* The device queue routines (ke/devqueue.c) with the IRP and device the
   entry stands for, for the trace row (`irp` may be NULL: a driver's own
   entry); the exported Ke* routines call them with none. */
BOOLEAN KiInsertDeviceQueue(sim_t *S, PKDEVICE_QUEUE q, PKDEVICE_QUEUE_ENTRY e, bool by_key, ULONG key,
                            const IRP *irp, const DEVICE_OBJECT *dev);
PKDEVICE_QUEUE_ENTRY KiRemoveDeviceQueue(sim_t *S, PKDEVICE_QUEUE q, bool by_key, ULONG key, const DEVICE_OBJECT *dev);
/* A KTIMER's due time came (the event queue): its CPU will expire it. */
void KiTimerDue(sim_t *S, PKTIMER timer, uint32_t gen);
/* Whether pool being freed, [p, p + n), holds a timer still set. */
PKTIMER KiTimerInRange(sim_t *S, const void *p, size_t n);
/* Makes a just-created thread runnable: wakes an idle CPU for it. */
void KiReadyNewThread(sim_t *S, PKTHREAD t);
/* A thread exiting owns a mutex: THREAD_TERMINATE_HELD_MUTEX. */
void KiCheckMutantsAtExit(sim_t *S, PKTHREAD t);

void ke_destroy(sim_t *S);

/* ---- counted strings (ke/rtlstr.c) ---- */
/* UTF-8 s into out as UTF-16 (at most cap-1 units, NUL-terminated); the
   number of units written. */
size_t ustr_from_utf8(const char *s, WCHAR *out, size_t cap);

#endif
