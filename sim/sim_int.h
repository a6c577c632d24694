/*
 * sim_int.h - the simulation context and the engine's private structures.
 * Only files under sim/ (not sim/scn/) include this.
 */
#ifndef IOSIM_SIM_INT_H
#define IOSIM_SIM_INT_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/sim.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- intrusive doubly linked lists (Windows' LIST_ENTRY) ---- */
static inline void list_init(LIST_ENTRY *h) { h->Flink = h->Blink = h; }
static inline bool list_empty(const LIST_ENTRY *h) { return h->Flink == h; }
static inline void list_insert_tail(LIST_ENTRY *h, LIST_ENTRY *e) {
  e->Flink = h;
  e->Blink = h->Blink;
  h->Blink->Flink = e;
  h->Blink = e;
}
static inline void list_insert_head(LIST_ENTRY *h, LIST_ENTRY *e) {
  e->Blink = h;
  e->Flink = h->Flink;
  h->Flink->Blink = e;
  h->Flink = e;
}
static inline void list_remove(LIST_ENTRY *e) {
  e->Blink->Flink = e->Flink;
  e->Flink->Blink = e->Blink;
  e->Flink = e->Blink = e;
}
static inline LIST_ENTRY *list_pop_head(LIST_ENTRY *h) {
  LIST_ENTRY *e = h->Flink;
  if (e == h) return NULL;
  list_remove(e);
  return e;
}

/* ---- coroutines (ctx.c) ---- */
typedef struct ctx {
  void *sp;            /* saved stack pointer while suspended */
  void *stack;         /* base of the allocation, NULL for the main context */
  size_t size;
  void (*entry)(void *);
  void *arg;
  void *asan_fake;     /* ASan fake-stack handle across a switch */
  const void *asan_bottom;
  size_t asan_size;
} ctx_t;
#define CTX_STACK_SIZE ((size_t)256 * 1024) /* also the alignment */
#define CTX_MAGIC 0x494f53494d435458ull     /* "IOSIMCTX" */
/* Sits at the lowest address of every coroutine stack; the stack is
   aligned to its size, so running code finds its simulation by masking its
   stack pointer.  That is how WDM routines without a context argument
   (KeGetCurrentIrql, IoAllocateIrp...) know which machine they run in,
   without any global variable. */
typedef struct ctx_stack_hdr {
  uint64_t magic;
  sim_t *S;
} ctx_stack_hdr_t;

int ctx_init(sim_t *S, ctx_t *c, void (*entry)(void *), void *arg);
void ctx_free(sim_t *S, ctx_t *c);
void ctx_init_main(ctx_t *c);
/* Suspends `from` and resumes `to`. */
void ctx_switch(ctx_t *from, ctx_t *to);
/* Finds the simulation whose coroutine is running; aborts if none. */
sim_t *sim_cur(void);

/* ---- event queue (evq.c): a min-heap ordered by (time, class, seq) ---- */
typedef enum { EV_INTERRUPT, EV_TIMER } ev_kind_t;
typedef struct evq_item {
  uint64_t t;
  uint64_t seq;
  uint32_t kind;
  uint32_t gen; /* the owner's generation when queued; stale = ignored */
  void *obj;
} evq_item_t;
typedef struct evq {
  evq_item_t *a;
  size_t n, cap;
} evq_t;
void evq_push(sim_t *S, evq_item_t it);
bool evq_pop(evq_t *q, evq_item_t *out);
const evq_item_t *evq_peek(const evq_t *q);
void evq_free(sim_t *S, evq_t *q);

/* ---- the chooser (choose.c) ---- */
typedef struct chooser {
  uint64_t s[4];       /* xoshiro256** state */
  const uint32_t *replay;
  size_t replay_n, replay_i;
  bool logging;        /* keep `log` (off for long runs: memory) */
  uint32_t *log;       /* choices made, for replay tokens */
  size_t log_n, log_cap;
} chooser_t;
void chs_seed(chooser_t *c, uint64_t seed);
/* A choice among n > 1 alternatives; recorded. */
uint32_t chs_choose(sim_t *S, uint32_t n);
uint64_t chs_next(chooser_t *c);

/* ---- CPUs (cpu.c) ---- */
typedef struct frame {
  trc_frame_t kind;
  KIRQL prev_irql;
} frame_t;

typedef struct cpu {
  int id;
  KIRQL irql;
  frame_t frames[24];
  int depth;
  PKTHREAD thread;          /* the thread it runs, NULL when idle */
  ctx_t idle_ctx;
  ctx_t *ctx;               /* the coroutine bound to this CPU */
  bool idle;                /* parked in the idle loop, no step queued */
  LIST_ENTRY dpc_queue;
  int dpc_depth;
  bool dpc_requested;       /* a DISPATCH_LEVEL software interrupt is pending */
  bool dpc_draining;
  LIST_ENTRY irq_pending;   /* interrupts raised, waiting for a low enough IRQL */
  bool step_live;         /* a step is due at step_end */
  uint64_t step_end;
  uint64_t busy_ns;
} cpu_t;

/* Hardware (hw.c) */
struct sim_hw {
  sim_t *S;
  PDEVICE_OBJECT dev;
  uint64_t latency;
  int cpu;
  KIRQL irql;
  SIM_ISR *isr;
  PVOID ctx;
  uint32_t id;
  struct sim_hw *next;
};
typedef struct hw_irq {
  LIST_ENTRY link;
  sim_hw_t *hw;
  PIRP irp;
} hw_irq_t;

/* ---- threads (thread.c, wait.c, apc.c) ---- */
typedef enum { THR_INIT, THR_READY, THR_RUNNING, THR_WAITING, THR_TERMINATED } thr_state_t;
#define OBJ_EVENT_NOTIFICATION 1
#define OBJ_EVENT_SYNCHRONIZATION 2
#define OBJ_THREAD 3

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
  bool alerted;
  LIST_ENTRY irp_list;      /* IRPs issued by this thread (ThreadListEntry) */
  /* completion ports (port.c) */
  struct sim_port *port;    /* associated since its first GetQueuedCompletionStatus */
  bool port_counted;        /* counted in port->running */
  bool in_port_wait;        /* blocked in the port itself, not elsewhere */
  LIST_ENTRY port_link;     /* in port->waiters */
  struct port_packet *port_packet; /* handed over while it waited */
  uint32_t last_irp;
};

/* ---- completion ports (port.c) ---- */
typedef struct port_packet {
  LIST_ENTRY link;
  PIRP irp;            /* an I/O's IRP, finished at dequeue; NULL for a posted packet */
  ULONG_PTR key;
  PVOID context;       /* the OVERLAPPED (ApcContext) */
  IO_STATUS_BLOCK iosb;
} port_packet_t;

struct sim_port {
  uint32_t id;
  char *name;
  ULONG max;           /* NumberOfConcurrentThreads */
  ULONG running;       /* associated threads running now */
  LIST_ENTRY entries;  /* packets, FIFO */
  LIST_ENTRY waiters;  /* threads in GetQueuedCompletionStatus; released LIFO */
  ULONG nentries;
  struct sim_port *next;
};
/* An associated thread stops running (it blocks elsewhere or exits). */
void port_thread_stops(sim_t *S, PKTHREAD t);
/* An associated thread runs again (woken from any wait). */
void port_thread_runs(sim_t *S, PKTHREAD t);
/* Stage 1/2 of a port-bound IRP: queue it to its file's port. */
void port_queue_irp(sim_t *S, PIRP irp);

/* ---- trace (trace.c) ---- */
#define SIM_MAX_SINKS 4

/* ---- names kept for the trace ---- */
typedef struct name_tab {
  char **v;
  uint32_t n, cap;
} name_tab_t;

typedef struct pool {
  void *free;
  size_t size;
} pool_t;

struct sim {
  sim_config_t cfg;
  uint64_t now;
  uint64_t steps;
  uint64_t evseq;
  evq_t evq;
  chooser_t chs;
  uint32_t cost[COST_COUNT];
  int ncpu;
  cpu_t cpu[SIM_MAX_CPUS];
  cpu_t *cur_cpu;
  ctx_t *cur_ctx;
  ctx_t main_ctx;
  LIST_ENTRY ready;
  LIST_ENTRY threads;
  uint32_t nthreads_live;
  name_tab_t thread_names, device_names;
  PDRIVER_OBJECT drivers[64];
  int ndrivers;
  sim_hw_t *hw;
  uint32_t nhw;
  /* IRPs */
  uint32_t next_irp_id;
  pool_t irp_pool[16];
  LIST_ENTRY live_irps;
  sim_irp_info_t *irp_info; /* indexed by id, only when keep_irp_info */
  size_t irp_info_cap;
  bool keep_irp_info;
  uint32_t freed_in_walk;     /* an IRP freed by its own completion routine */
  const char *next_irp_tag;
  PFILE_OBJECT files;
  struct sim_port *ports;
  uint32_t nports;
  struct sim_fcb *fcbs;      /* cache maps and locks, one per file (cache.c) */
  struct sim_owned { void *p; void (*free)(void *); } ufs_free[8]; /* components to free at the end */
  int nufs;
  /* cancel spin lock */
  int cancel_lock_owner;     /* CPU holding the cancel spin lock, -1 if free */
  uint64_t cancel_lock_spins;
  /* trace */
  trc_sink_t sinks[SIM_MAX_SINKS];
  int nsinks;
  uint64_t trace_seq;
  /* run state */
  bool started, stopping;
  bool stop_requested;       /* sim_request_stop: end at the next scheduling point */
  sim_outcome_t outcome;
  bool has_bugcheck;
  sim_bugcheck_t bugcheck;
  sim_stats_t stats;
  uint32_t next_obj_id;
};

/* ---- memory (sim.c) ---- */
void *sim_alloc(sim_t *S, size_t n);
void *sim_calloc(sim_t *S, size_t n);
void sim_free(sim_t *S, void *p, size_t n);
char *sim_strdup(sim_t *S, const char *s);

/* ---- scheduling (sched.c) ---- */
/* Ends the current step: charges `cost` ns to the current CPU, lets every
   other CPU and device catch up, then delivers what became deliverable
   (interrupts, DPCs, APCs).  The heart of interleaving. */
void sim_step(sim_t *S, sim_cost_t cost);
void sim_step_ns(sim_t *S, uint64_t ns);
/* Runs the scheduler loop until the current coroutine is due again. */
void sched_next(sim_t *S);
/* Makes `c` run its pending work now (an interrupt, a DPC, a ready thread). */
void cpu_poke(sim_t *S, cpu_t *c);
void sched_stop(sim_t *S) __attribute__((noreturn));

/* ---- CPU work (cpu.c) ---- */
void cpu_service(sim_t *S, cpu_t *c);
/* The cheap test before cpu_service: anything to deliver at all? */
static inline bool cpu_has_work(const sim_t *S, const cpu_t *c) {
  return !S->stopping && (!list_empty(&c->irq_pending) || c->dpc_requested ||
                          (c->thread && !list_empty(&c->thread->apc[KernelMode])));
}
void cpu_push_frame(sim_t *S, cpu_t *c, trc_frame_t kind, KIRQL irql);
void cpu_pop_frame(sim_t *S, cpu_t *c);
trc_frame_t cpu_frame(const cpu_t *c);
void cpu_idle_main(void *arg);
void dpc_drain(sim_t *S, cpu_t *c);
void hw_interrupt(sim_t *S, hw_irq_t *irq);
void hw_run_isr(sim_t *S, cpu_t *c, hw_irq_t *irq);
bool apc_deliverable(const PKTHREAD t);
void apc_deliver_kernel(sim_t *S, cpu_t *c, PKTHREAD t);

/* ---- threads (thread.c) ---- */
void thr_ready(sim_t *S, PKTHREAD t);
/* Blocks the current thread (already marked waiting); returns when it runs again. */
void thr_block(sim_t *S, PKTHREAD t);
void thr_unwait(sim_t *S, PKTHREAD t, NTSTATUS status);
PKTHREAD thr_current(sim_t *S);
void thr_timeout(sim_t *S, PKTHREAD t, uint32_t gen);
NTSTATUS thr_wait(sim_t *S, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type,
                  KPROCESSOR_MODE mode, BOOLEAN alertable, const LONGLONG *timeout);
void obj_init(DISPATCHER_HEADER *h, uint8_t type, int32_t state);
void obj_signal(sim_t *S, DISPATCHER_HEADER *h);
/* Runs queued user APCs of the current thread (user mode, after STATUS_USER_APC). */
int apc_deliver_user(sim_t *S, PKTHREAD t);

/* ---- trace (trace.c) ---- */
void trc_emit(sim_t *S, trc_kind_t kind, const IRP *irp, const DEVICE_OBJECT *dev,
              bool has_status, NTSTATUS status, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void trc_emit_id(sim_t *S, trc_kind_t kind, uint32_t irp, int loc, const DEVICE_OBJECT *dev,
                 bool has_status, NTSTATUS status, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static inline bool trc_on(const sim_t *S) { return S->nsinks > 0; }
#define TRC(S, ...) \
  do { if (trc_on(S)) trc_emit((S), __VA_ARGS__); } while (0)
uint32_t name_add(sim_t *S, name_tab_t *t, const char *name);
const char *name_get(const name_tab_t *t, uint32_t id);
uint32_t obj_id(sim_t *S, DISPATCHER_HEADER *h);

/* ---- bugchecks (bugcheck.c) ---- */
void bugcheck(sim_t *S, ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3,
              ULONG_PTR p4, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 7, 8)));

/* ---- I/O manager internals ---- */
PIRP irp_alloc(sim_t *S, int8_t stack_size);
void irp_free(sim_t *S, PIRP irp);
sim_irp_info_t *irp_info(sim_t *S, uint32_t id);
void io_stage2(sim_t *S, PIRP irp);      /* IopCompleteRequest body */
void io_queue_irp_to_thread(sim_t *S, PIRP irp, PKTHREAD t);
void io_unqueue_irp(sim_t *S, PIRP irp);
void io_cancel_thread_io(sim_t *S, PKTHREAD t);
void cache_free_all(sim_t *S);
static inline PIO_STACK_LOCATION irp_loc(PIRP irp, int k) { return &irp->Stack[k - 1]; }

#endif
