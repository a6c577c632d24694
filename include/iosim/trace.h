/*
 * trace.h - the trace: one record per simulated step, and the sink
 * interface every consumer (console table, in-memory log, SQLite) plugs into.
 */
#ifndef IOSIM_TRACE_H
#define IOSIM_TRACE_H

#include <stdint.h>
#include <stdio.h>

/* Event kinds, named after what happened.  X(ENUM, "name"). */
#define TRC_KIND_MAP(X)                                     \
  X(TRC_RUN_START, "run-start")                             \
  X(TRC_RUN_END, "run-end")                                 \
  X(TRC_IRP_OUTSTANDING, "irp-outstanding")                 \
  X(TRC_THREAD_STUCK, "thread-stuck")                       \
  X(TRC_IRP_ALLOC, "irp-alloc")                             \
  X(TRC_IRP_FREE, "irp-free")                               \
  X(TRC_IRP_ASSOCIATED, "irp-associated")                   \
  X(TRC_ASSOCIATED_DONE, "associated-done")                 \
  X(TRC_IRP_QUEUE_THREAD, "irp-queued-to-thread")           \
  X(TRC_IRP_UNQUEUE_THREAD, "irp-unqueued-from-thread")     \
  X(TRC_CALL, "call-driver")                                \
  X(TRC_DISPATCH, "dispatch")                               \
  X(TRC_RETURN, "dispatch-return")                          \
  X(TRC_COPY_STACK, "copy-stack")                           \
  X(TRC_SKIP_STACK, "skip-stack")                           \
  X(TRC_SET_COMPLETION, "set-completion")                   \
  X(TRC_MARK_PENDING, "mark-pending")                       \
  X(TRC_COMPLETE, "complete")                               \
  X(TRC_COMPLETION_CALL, "completion-routine")              \
  X(TRC_COMPLETION_RETURN, "completion-return")             \
  X(TRC_PENDING_PROPAGATED, "pending-propagated")           \
  X(TRC_WALK_STOPPED, "walk-stopped")                       \
  X(TRC_WALK_DONE, "walk-done")                             \
  X(TRC_STAGE2, "stage2")                                   \
  X(TRC_IOSB_WRITTEN, "iosb-written")                       \
  X(TRC_SET_CANCEL, "set-cancel-routine")                   \
  X(TRC_CANCEL, "cancel")                                   \
  X(TRC_CANCEL_ROUTINE, "cancel-routine")                   \
  X(TRC_CANCEL_LOCK, "cancel-lock")                         \
  X(TRC_THREAD_IO_RUNDOWN, "thread-io-rundown")             \
  X(TRC_HW_START, "hw-start")                               \
  X(TRC_INTERRUPT, "interrupt")                             \
  X(TRC_ISR, "isr")                                         \
  X(TRC_ISR_END, "isr-end")                                 \
  X(TRC_CLOCK_TICK, "clock-tick")                           \
  X(TRC_DPC_QUEUED, "dpc-queued")                           \
  X(TRC_DPC_NOT_QUEUED, "dpc-already-queued")               \
  X(TRC_DPC_RUN, "dpc")                                     \
  X(TRC_DPC_END, "dpc-end")                                 \
  X(TRC_APC_QUEUED, "apc-queued")                           \
  X(TRC_APC_RUN, "apc")                                     \
  X(TRC_APC_END, "apc-end")                                 \
  X(TRC_REGION_ENTER, "region-enter")                       \
  X(TRC_REGION_LEAVE, "region-leave")                       \
  X(TRC_APC_RUNDOWN, "apc-rundown")                         \
  X(TRC_IRQL_RAISE, "irql-raise")                           \
  X(TRC_IRQL_LOWER, "irql-lower")                           \
  X(TRC_THREAD_START, "thread-start")                       \
  X(TRC_THREAD_EXIT, "thread-exit")                         \
  X(TRC_SWITCH, "thread-switch")                            \
  X(TRC_WAIT, "wait")                                       \
  X(TRC_WAKE, "wake")                                       \
  X(TRC_WAIT_DONE, "wait-done")                             \
  X(TRC_SLEEP, "sleep")                                     \
  X(TRC_SLEEP_DONE, "sleep-done")                           \
  X(TRC_EVENT_SET, "event-set")                             \
  X(TRC_EVENT_CLEAR, "event-clear")                         \
  X(TRC_SPINLOCK_ACQUIRE, "spinlock-acquire")               \
  X(TRC_SPINLOCK_SPIN, "spinlock-spin")                     \
  X(TRC_SPINLOCK_RELEASE, "spinlock-release")               \
  X(TRC_TIMER_SET, "timer-set")                             \
  X(TRC_TIMER_FIRED, "timer-fired")                         \
  X(TRC_TIMER_CANCELLED, "timer-cancelled")                 \
  X(TRC_SEMAPHORE_RELEASE, "semaphore-release")             \
  X(TRC_MUTEX_RELEASE, "mutex-release")                     \
  X(TRC_FAST_MUTEX_ACQUIRE, "fast-mutex-acquire")           \
  X(TRC_FAST_MUTEX_RELEASE, "fast-mutex-release")           \
  X(TRC_THREAD_CREATE, "thread-create")                     \
  X(TRC_WORK_QUEUED, "work-item-queued")                    \
  X(TRC_WORK_RUN, "work-item")                              \
  X(TRC_WORK_END, "work-item-end")                          \
  X(TRC_CSQ_INSERT, "csq-insert")                           \
  X(TRC_CSQ_REMOVE, "csq-remove")                           \
  X(TRC_REMOVE_LOCK, "remove-lock")                         \
  X(TRC_POOL_ALLOC, "pool-alloc")                           \
  X(TRC_POOL_FREE, "pool-free")                             \
  X(TRC_DBGPRINT, "dbgprint")                               \
  X(TRC_DRIVER_ENTRY, "driver-entry")                       \
  X(TRC_DRIVER_ENTRY_DONE, "driver-entry-done")             \
  X(TRC_DRIVER_UNLOAD, "driver-unload")                     \
  X(TRC_DRIVER_UNLOAD_DONE, "driver-unload-done")           \
  X(TRC_UNLOAD_LEFTOVER, "unload-leftover")                 \
  X(TRC_OP, "op")                                           \
  X(TRC_QUEUE_DROPPED, "queue-dropped")                     \
  X(TRC_SYSCALL, "syscall")                                 \
  X(TRC_SYSCALL_RETURN, "syscall-return")                   \
  X(TRC_FILE_LOCK_WAIT, "file-lock-wait")                   \
  X(TRC_FILE_LOCK_ACQUIRED, "file-lock-acquired")           \
  X(TRC_FILE_LOCK_RELEASED, "file-lock-released")           \
  X(TRC_USER_CALLBACK, "user-callback")                     \
  X(TRC_NOTE, "note")                                       \
  X(TRC_PORT_CREATED, "port-created")                       \
  X(TRC_PORT_BOUND, "port-bound")                           \
  X(TRC_PORT_QUEUED, "port-queued")                         \
  X(TRC_PORT_DEQUEUED, "port-dequeued")                     \
  X(TRC_PORT_WAIT, "port-wait")                             \
  X(TRC_PORT_CLOSED, "port-closed")                         \
  X(TRC_PORT_PACKET_FREED, "port-packet-freed")             \
  X(TRC_FASTIO, "fast-io")                                  \
  X(TRC_FASTIO_SERVED, "fast-io-served")                    \
  X(TRC_FASTIO_DECLINED, "fast-io-declined")                \
  X(TRC_CACHE, "cache")                                     \
  X(TRC_UFS_REQUEST, "ufs-request")                         \
  X(TRC_UFS_PENDING, "ufs-pending-return")                  \
  X(TRC_UFS_RESPONSE, "ufs-response")                       \
  X(TRC_UFS_DROPPED, "ufs-response-dropped")                \
  X(TRC_BUGCHECK, "bugcheck")                               \
  X(TRC_BUFFER_COPY, "buffer-copy")                         \
  X(TRC_DEVICE_QUEUE, "device-queue")                       \
  X(TRC_START_IO, "start-io")                               \
  X(TRC_START_IO_END, "start-io-end")

typedef enum {
#define TRC_X(e, s) e,
  TRC_KIND_MAP(TRC_X)
#undef TRC_X
  TRC_KIND_COUNT
} trc_kind_t;

/* What a CPU is executing when a step happens. */
typedef enum {
  TRC_FRAME_IDLE,
  TRC_FRAME_THREAD,
  TRC_FRAME_APC,
  TRC_FRAME_DPC,
  TRC_FRAME_ISR
} trc_frame_t;

/* How stage 2 (IopCompleteRequest) reached the requester. */
typedef enum {
  TRC_STAGE2_NONE,   /* not a stage-2 step */
  TRC_STAGE2_INLINE, /* run by the system service itself, no APC */
  TRC_STAGE2_APC     /* run by the special kernel APC queued to the thread */
} trc_stage2_t;

/* How the run ended, on the run-end step.  Same order as sim_outcome_t. */
typedef enum {
  TRC_OUTCOME_NONE = -1, /* not a run-end step */
  TRC_OUTCOME_OK,
  TRC_OUTCOME_STALLED,
  TRC_OUTCOME_BUGCHECK,
  TRC_OUTCOME_LIMIT,
  TRC_OUTCOME_STOPPED
} trc_outcome_t;

/* Where an IRP still allocated at the end of a run is (irp-outstanding). */
typedef enum {
  TRC_IRPST_NONE,       /* not an irp-outstanding step */
  TRC_IRPST_DRIVER,     /* at a stack location: the driver of `device` has it (never
                           completed, or taken back with STATUS_MORE_PROCESSING_REQUIRED) */
  TRC_IRPST_CREATOR,    /* above its top location: its creator has it (never sent, or
                           taken back by the creator's own completion routine) */
  TRC_IRPST_APC,        /* walk finished; the stage-2 APC to `target_thread` never ran */
  TRC_IRPST_PORT,       /* walk finished; a completion packet on `port` nobody took */
  TRC_IRPST_NO_STAGE2,  /* walk finished with PendingReturned clear, no stage 2 queued:
                           only the system service could finish it, and it did not */
  TRC_IRPST_KEPT        /* a driver keeps it on purpose (sim_irp_keep); `text` says why */
} trc_irp_state_t;
/* "driver", "creator", "apc", "port", "no-stage2", "kept"; NULL for NONE. */
const char *trc_irp_state_name(trc_irp_state_t s);
/* Returns -1 if the name is not a state. */
int trc_irp_state_parse(const char *name);

/* IRP fields a step wrote (trc_event_t.writes): what a "why does this
   field hold that value" query walks back to. */
#define TRC_W_STATUS 0x0001u          /* IoStatus.Status */
#define TRC_W_INFORMATION 0x0002u     /* IoStatus.Information */
#define TRC_W_PENDING_RETURNED 0x0004u
#define TRC_W_CURRENT_LOCATION 0x0008u
#define TRC_W_CONTROL 0x0010u         /* a stack location's Control */
#define TRC_W_COMPLETION 0x0020u      /* a stack location's CompletionRoutine */
#define TRC_W_CANCEL 0x0040u          /* Irp->Cancel */
#define TRC_W_CANCEL_ROUTINE 0x0080u
#define TRC_W_USER_IOSB 0x0100u       /* the requester's I/O status block */
#define TRC_W_LOCATION 0x0200u        /* a stack location's parameters (copied) */
#define TRC_W_THREAD_LIST 0x0400u     /* Tail.Overlay.Thread's IRP list */

/* One step.  Strings are borrowed: valid only during the sink call.
   Every fact a program reads is a typed field; `detail` is prose for
   people and nothing but the console and explain printers reads it. */
typedef struct trc_event {
  uint64_t seq;       /* 1, 2, ... in order of occurrence */
  uint64_t t_ns;      /* simulated time */
  int cpu;            /* -1 when no CPU is involved (setup) */
  int irql;
  trc_frame_t frame;
  uint32_t thread;    /* the thread running or interrupted; 0 = none */
  uint32_t irp;       /* 0 = none */
  uint32_t device;    /* 0 = none */
  int stack_location; /* the IRP's CurrentLocation, 0 = n/a */
  trc_kind_t kind;
  int has_status;
  int32_t status;

  /* ---- typed facts; each is "not applicable" unless the kind sets it ---- */
  int major, minor;       /* IRP_MJ_* / IRP_MN_*, -1 = n/a */
  int loc_from, loc_to;   /* stack locations involved (copy from/to, called
                             location, walk from/to), 0 = n/a */
  int control;            /* the location's Control bits (SL_*), -1 = n/a */
  int pending_returned;   /* Irp->PendingReturned, -1 = n/a */
  int has_info;
  uint64_t info;          /* IoStatus.Information when has_info */
  int stack_size;         /* StackSize of an allocated IRP, 0 = n/a */
  uint32_t routine_device;/* completion routine's DeviceObject, 0 = none */
  trc_stage2_t stage2;
  int target_cpu;         /* where a DPC / interrupt was queued, -1 = n/a */
  uint32_t target_thread; /* whom an APC / IRP / packet / switch / wake is for */
  uint32_t target_irp;    /* another IRP involved: the master of an associated IRP */
  uint32_t port;          /* completion port involved, 0 = none */
  uint32_t file;          /* file object involved, 0 = none */
  uint32_t object;        /* dispatcher object set / waited on, 0 = none */
  int wait_index;         /* the object that satisfied a wait, -1 = n/a */
  int count;              /* kind-specific count: objects waited on, packets
                             queued, IRPs left of a master, -1 = n/a */
  int running, limit;     /* port: threads running / concurrency, -1 = n/a */
  int cancel_routine;     /* a cancel routine set (1) or cleared/absent (0), -1 = n/a */
  int touches_irp;        /* a scripted operation reads or writes the IRP */
  int irql_from, irql_to; /* IRQL changes, -1 = n/a */
  trc_outcome_t outcome;
  trc_irp_state_t irp_state; /* irp-outstanding: where the IRP is */
  uint32_t bugcheck_code; /* the stop code of a bugcheck step, 0 = n/a */
  int64_t offset;         /* byte offset of a transfer, -1 = n/a */
  uint32_t writes;        /* TRC_W_* fields of the IRP this step wrote */
  int line;               /* the line of the scenario's own file whose statement
                             or operation was running (a thread statement, a
                             scripted routine's operation, and the engine's steps
                             on its behalf until the next); 0 = none (setup, or
                             code the scenario did not write, as a library
                             driver's DPC) */
  const char *service;    /* the system service or DDI named ("NtReadFile"), or NULL */
  const char *text;       /* the scenario's own words (a note, an op's name), or NULL */

  const char *detail;     /* human-readable particulars, never NULL */
} trc_event_t;

/* The designated initializers of an event with every typed fact "not
   applicable" (for static tables; code builds events with trc_event_make). */
#define TRC_EVENT_INIT                                                                       \
  .major = -1, .minor = -1, .control = -1, .pending_returned = -1, .target_cpu = -1,          \
  .wait_index = -1, .count = -1, .running = -1, .limit = -1, .cancel_routine = -1,            \
  .irql_from = -1, .irql_to = -1, .outcome = TRC_OUTCOME_NONE, .offset = -1

/* An event of `kind` with every typed fact "not applicable". */
static inline trc_event_t trc_event_make(trc_kind_t kind) {
  return (trc_event_t){.kind = kind, .major = -1, .minor = -1, .control = -1, .pending_returned = -1,
                       .target_cpu = -1, .wait_index = -1, .count = -1, .running = -1, .limit = -1,
                       .cancel_routine = -1, .irql_from = -1, .irql_to = -1,
                       .outcome = TRC_OUTCOME_NONE, .offset = -1};
}

typedef struct trc_sink {
  void (*event)(void *ud, const trc_event_t *ev);
  void (*close)(void *ud); /* optional, called by sim_destroy */
  void *ud;
} trc_sink_t;

const char *trc_kind_name(trc_kind_t k);
/* Returns -1 if the name is not a kind. */
int trc_kind_parse(const char *name);
const char *trc_frame_name(trc_frame_t f);
const char *trc_irql_name(int irql, char buf[16]);

#endif
