/*
 * core.h - the simulator core's private interface: the simulation context,
 * lists, coroutines, the event queue, the chooser, memory, the scheduler's
 * step and trace emission.  Every engine component (core, ke, hal, io, cc,
 * fsrtl) includes it; nothing outside the engine may (make check-layers).
 */
#ifndef IOSIM_CORE_H
#define IOSIM_CORE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/sim.h"
#include "iosim/vec.h"

/* The simulator's own invariants: checked in test and sanitizer builds,
   compiled out of the benchmark build (-DNDEBUG).  A failure is a bug in
   iosim, never in the simulated driver (those are bugchecks). */
#ifdef NDEBUG
/* Not evaluated, but its names count as used: the same code builds
   warning-free either way. */
#define SIM_ASSERT(cond) ((void)sizeof(!(cond)))
#else
#define SIM_ASSERT(cond) \
  ((cond) ? (void)0 : sim_assert_failed(#cond, __FILE__, __LINE__, __func__))
#endif
void sim_assert_failed(const char *cond, const char *file, int line, const char *func)
    __attribute__((noreturn));

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
static inline bool list_linked(const LIST_ENTRY *e) {
  return e->Flink && e->Blink && e->Flink->Blink == e && e->Blink->Flink == e;
}
static inline void list_remove(LIST_ENTRY *e) {
  SIM_ASSERT(list_linked(e));
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

/* ---- growable arrays: one helper for every table that grows ---- */
/* include/iosim/vec.h's helper, counting the bytes in the machine's
   statistics (core/mem.c).  Makes `arr` hold at least `need` elements; it
   cannot fail: memory running out, or a size past what size_t counts, ends
   the process as out of memory (alloc.h), like every engine allocation.
   Free with mem_free(S, arr, capv * sizeof *arr).  Arguments are evaluated
   more than once (see vec.h). */
void *vec_grow(sim_t *S, void *v, size_t *cap, size_t need, size_t elem);
#define VEC_RESERVE(S, arr, capv, need) ((void)((arr) = vec_grow((S), (arr), &(capv), (need), sizeof *(arr))))
/* Memory ran out where the engine cannot carry on: says so and aborts. */
void mem_exhausted(size_t bytes) __attribute__((noreturn));
/* The exit of iosim_oom, once back on the host's stack. */
void mem_oom_exit(void) __attribute__((noreturn));

/* ---- coroutines (core/ctx.c) ---- */
typedef struct ctx {
  void *sp;            /* saved stack pointer while suspended */
  void *stack;         /* base of the allocation, NULL for the main context */
  size_t size;
  void (*entry)(void *);
  void *arg;
  void *asan_fake;     /* ASan fake-stack handle across a switch */
  const void *asan_bottom;
  size_t asan_size;
  size_t floor;        /* offset of the lowest usable byte (above the guard) */
  uint32_t calls;      /* IoCallDriver calls nested on this stack, for the
                          stack-overflow bugcheck's message */
  uintptr_t low_water; /* below this stack pointer less than CTX_STACK_MARGIN
                          is left (0: not a coroutine stack): the cheap test */
  sim_t **cell;        /* the header's machine cell (ctx_stack_hdr_t.S) */
  int src_line;        /* the scenario line its thread is running (trc_event_t.line):
                          kept here so it follows the thread across switches */
  unsigned vg_stack;   /* Valgrind's id for the stack (IOSIM_VALGRIND builds) */
} ctx_t;
#define CTX_STACK_SIZE ((size_t)256 * 1024) /* also the alignment */
#define CTX_MAGIC 0x494f53494d435458ull     /* "IOSIMCTX" */
/* A coroutine stack, lowest address first: one page holding the header
   (read-only once written), the guard (PROT_NONE, at least this many
   bytes: an overflow faults there before it can reach the header, even
   with a frame of a few KiB), then the stack proper, growing down from the
   top.  What remains usable is ~236 KiB with 4 KiB pages. */
#define CTX_GUARD_SIZE ((size_t)16 * 1024)
/* The proactive check (ke_check_stack): below this much stack left, the
   machine bugchecks 0x7F instead of letting the next call run into the
   guard.  It must cover the deepest path between two checks that iosim
   itself runs (a step: tracing into every sink - SQLite included -, the
   scheduler, the bugcheck report), with room for ASan's larger frames. */
#define CTX_STACK_MARGIN ((size_t)48 * 1024)
/* Sits at the lowest address of every coroutine stack; the stack is
   aligned to its size, so running code finds its simulation by masking its
   stack pointer.  That is how WDM routines without a context argument
   (KeGetCurrentIrql, IoAllocateIrp...) know which machine they run in,
   without any global variable.  The guard below it and its read-only page
   mean an overflow can never corrupt it before ctx_sim checks the magic. */
typedef struct ctx_stack_hdr {
  uint64_t magic;
  sim_t **S;           /* a cell beside the stack holding its machine: a stack
                          cache (sim.h) re-points it without unprotecting this page */
  size_t floor;        /* [base, base + floor): header page and guard */
} ctx_stack_hdr_t;

int ctx_init(sim_t *S, ctx_t *c, void (*entry)(void *), void *arg);
void ctx_free(sim_t *S, ctx_t *c);
void ctx_init_main(ctx_t *c);
/* Suspends `from` and resumes `to`. */
void ctx_switch(ctx_t *from, ctx_t *to);
/* Finds the simulation whose coroutine is running; aborts if none. */
sim_t *ctx_sim(void);
/* The same, or NULL when not running on a simulated CPU's stack. */
sim_t *ctx_sim_if_any(void);
/* Bytes of stack left between the stack pointer and `c`'s guard; SIZE_MAX
   when the caller does not run on `c`'s stack (the host's own stack). */
size_t ctx_stack_left(const ctx_t *c);

/* ---- address maps (core/ptrmap.c): what the engine knows about driver memory ---- */
typedef struct ptrmap {
  uintptr_t *keys, *vals;
  uint8_t *state;      /* empty, full, or a tombstone */
  size_t cap, used, gone;
} ptrmap_t;
/* Whether `key` is in the map; its value in *val (if not NULL). */
bool ptrmap_get(const ptrmap_t *m, const void *key, uintptr_t *val);
void ptrmap_put(sim_t *S, ptrmap_t *m, const void *key, uintptr_t val);
/* Removes `key`; false if it was not there. */
bool ptrmap_del(ptrmap_t *m, const void *key);
void ptrmap_free(sim_t *S, ptrmap_t *m);

/* ---- event queue (core/evq.c): a min-heap ordered by (time, class, seq) ---- */
/* EV_KTIMER: a KTIMER reaches its due time (ke/timerobj.c). */
typedef enum { EV_INTERRUPT, EV_TIMER, EV_KTIMER } ev_kind_t;
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
/* Takes out the item of `kind` for `obj` (a cancelled timer), keeping the
   heap ordered; false if there is none. */
bool evq_remove_obj(evq_t *q, uint32_t kind, const void *obj);
/* Takes out the item queued with `seq`, wherever it is in the heap (a
   chooser may run any pending event first); false if there is none. */
bool evq_remove(evq_t *q, uint64_t seq, evq_item_t *out);

/* ---- the chooser (core/choose.c) ---- */
typedef struct chooser {
  uint64_t s[4];       /* xoshiro256** state */
  const uint32_t *replay;
  size_t replay_n, replay_i;
  bool logging;        /* keep `log` (off for long runs: memory) */
  uint32_t *log;       /* choices made, for replay tokens */
  size_t log_n, log_cap;
  sim_chooser_fn *fn;  /* sim_set_chooser: asked at every scheduling point */
  void *ud;
  sim_candidate_t *cand; /* the candidates offered to fn, grown as needed */
  size_t cand_cap;
} chooser_t;
void chs_seed(chooser_t *c, uint64_t seed);
/* A choice among n > 1 alternatives; recorded. */
uint32_t chs_choose(sim_t *S, uint32_t n);
uint64_t chs_next(chooser_t *c);
/* Which of the n CPUs in `cpus` (n > 1): the installed chooser's answer
   (SIM_CHOICE_IRQ_CPU or SIM_CHOICE_IDLE_CPU), else chs_choose. */
uint32_t chs_place(sim_t *S, sim_choice_kind_t kind, const int *cpus, uint32_t n);
/* Asks the installed chooser which of the n candidates in S->chs.cand goes
   next; SIM_CHOICE_STOP to end the run. */
uint32_t chs_next_candidate(sim_t *S, uint32_t n);

/* ---- names kept for the trace ---- */
typedef struct name_tab {
  char **v;
  uint32_t n;
  size_t cap;
} name_tab_t;

typedef struct pool {
  void *free;
  size_t size;
} pool_t;

/* Hooks through which the lower kernel (core, ke, hal) reaches the I/O
   manager without depending on it; installed by ex/machine.c. */
typedef struct sim_hooks {
  /* A thread is terminating: cancel its IRPs and wait for them. */
  void (*thread_exit_io)(sim_t *S, PKTHREAD t);
  /* The run ended ok, stalled or at a limit: trace what is left (the IRPs
     still allocated, the threads still waiting) before the run-end step. */
  void (*run_end_account)(sim_t *S);
  /* The last program thread (not a system thread) has ended, or nothing
     is left to run and no thread is stuck: the drivers' DriverUnload may
     run now.  True when it started work (the run goes on). */
  bool (*run_idle)(sim_t *S);
} sim_hooks_t;

/* What a component asked to be freed with the machine (sim_on_destroy). */
typedef struct sim_owned {
  void *p;
  void (*free)(void *);
} sim_owned_t;

/* CPUs, threads, KQUEUE: the dispatcher's types. */
#include "ke/ke.h"

/* IRPs are pooled by size class: 1-8, 9-16, 17-32, 33-64, 65-128 locations. */
#define IRP_POOL_CLASSES 5

struct sim {
  sim_config_t cfg;
  uint64_t now;
  uint64_t steps;
  const char *limit;         /* which limit stopped the run (sim_limit_reached) */
  bool out_of_memory;        /* iosim_oom on a simulated CPU: sim_run exits from the host's stack */
  uint64_t wall_deadline_ns; /* CLOCK_MONOTONIC, 0 = none */
  uint64_t wall_next_check;  /* the step count at which to read the clock again */
  uint64_t evseq;
  evq_t evq;
  chooser_t chs;
  uint32_t cost[COST_COUNT];
  int ncpu;
  cpu_t cpu[SIM_MAX_CPUS];
  cpu_t *cur_cpu;
  ctx_t *cur_ctx;
  ctx_t main_ctx;
  /* sim_run's way back when the run stops at its very first decision,
     still on the host's stack (a chooser that stops at once, a stop asked
     for before the run): there is no coroutine to switch away from. */
  jmp_buf stop_jmp;
  LIST_ENTRY ready;
  LIST_ENTRY threads;
  uint32_t nthreads_live;
  uint32_t nsystem_threads_live; /* of them, PsCreateSystemThread's (counted, not walked) */
  name_tab_t thread_names, device_names;
  name_tab_t object_names;   /* dispatcher and file objects, by trace id */
  PDRIVER_OBJECT *drivers;
  size_t ndrivers, drivers_cap;
  PDEVICE_OBJECT deleted_devices; /* IoDeleteDevice'd, freed with the machine (via NextDevice) */
  struct io_symlink *symlinks;    /* IoCreateSymbolicLink's links (io/symlink.c) */
  bool unloaded_midrun;           /* a scenario's `unload` asked for one (io/device.c) */
  bool unload_started;            /* the end-of-run unload thread was created (ex/unload.c) */
  sim_hw_t *hw;
  uint32_t nhw;
  /* IRPs */
  uint32_t next_irp_id;
  pool_t irp_pool[IRP_POOL_CLASSES];
  LIST_ENTRY live_irps;
  sim_irp_info_t *irp_info; /* indexed by id, only when keep_irp_info */
  size_t irp_info_cap;
  bool keep_irp_info;
  const char *setup_irp_tag; /* sim_tag_next_irp outside any CPU */
  uint32_t freed_in_walk;     /* an IRP freed by its own completion routine */
  PFILE_OBJECT files;
  struct sim_port *ports;
  uint32_t nports;
  struct sim_fcb *fcbs;      /* cache maps and locks, one per file (cc/, fsrtl/) */
  sim_owned_t *owned;        /* freed with the machine (sim_on_destroy) */
  size_t nowned, owned_cap;
  sim_hooks_t hooks;
  /* the cancel spin lock: an ordinary KSPIN_LOCK (ke/spinlock.c) */
  KSPIN_LOCK cancel_lock;
  /* trace */
  trc_sink_t *sinks;
  size_t nsinks, sinks_cap;
  uint64_t trace_seq;
  bool garble_detail;        /* sim_garble_details: every detail is "x" */
  /* run state */
  bool started, stopping;
  bool stop_requested;       /* sim_request_stop: end at the next scheduling point */
  sim_outcome_t outcome;
  bool has_bugcheck;
  sim_bugcheck_t bugcheck;
  sim_stats_t stats;
  uint64_t bytes_charged; /* held by sinks for the run: sim_charge_memory */
  /* the kernel library around the IRP path (docs/kernel-facts.md §13) */
  char dbg_line[512];        /* DbgPrint output waiting for its newline (ke/debug.c) */
  size_t dbg_len;
  const void *dbg_who;       /* the thread (or CPU) that printed it */
  ptrmap_t dbg_ptrs;         /* pointers DbgPrint's %p printed -> their made-up address */
  uint64_t dbg_nptrs;
  ptrmap_t live_irp_ids;     /* a live IRP's SimId -> the IRP: finding one by id,
                                or checking one is alive, without walking live_irps */
  ptrmap_t device_by_hash;   /* a live device's name hash -> the device (io/device.c) */
  bool device_hash_clash;    /* two names with one hash: look up by walking */
  ptrmap_t lock_ids;         /* spin lock address -> its id among the objects */
  ptrmap_t queued_locks;     /* spin locks held as queued ones -> holder CPU + 1
                                (0 while handed over) */
  LIST_ENTRY timers;         /* KTIMERs set and not yet expired (ke/timerobj.c) */
  uint32_t nthreads_idle;    /* system worker threads waiting for work: the
                                machine's rest, not a stall (ex/work.c) */
  uint32_t nsystem_threads;  /* PsCreateSystemThread's count, for names */
  struct ps_thread *ps_threads; /* the system threads' records (ps/) */
  struct ex_pool *pool;      /* pool blocks and their tags (ex/pool.c) */
  struct ex_work *work;      /* the system worker queues (ex/work.c) */
  struct ob_state *ob;       /* handles and references (ob/) */
  struct io_lib *iolib;      /* remove-lock shadows (io/remlock.c) */
};

extern const uint32_t sim_cost_defaults[COST_COUNT];

/* ---- memory (core/mem.c): the one place that runs out of memory ---- */
void *mem_alloc(sim_t *S, size_t n);
void *mem_calloc(sim_t *S, size_t n);
void mem_free(sim_t *S, void *p, size_t n);
char *mem_strdup(sim_t *S, const char *s);

/* ---- scheduling (core/sched.c) ---- */
/* Ends the current step: charges `cost` ns to the current CPU, lets every
   other CPU and device catch up, then delivers what became deliverable
   (interrupts, DPCs, APCs).  The heart of interleaving. */
void sched_step(sim_t *S, sim_cost_t cost);
void sched_step_ns(sim_t *S, uint64_t ns);
/* Runs the scheduler loop until the current coroutine is due again. */
void sched_next(sim_t *S);
/* Makes `c` run its pending work now (an interrupt, a DPC, a ready thread). */
void cpu_poke(sim_t *S, cpu_t *c);
/* The same, cutting the step `c` is in even when `c` is the CPU that
   entered the scheduler: for an interrupt that must be taken at this
   instant (the clock tick). */
void cpu_interrupt_now(sim_t *S, cpu_t *c);
void sched_stop(sim_t *S) __attribute__((noreturn));
bool sched_over_limit(sim_t *S);
/* The cheap test before cpu_service: anything to deliver at all? */
static inline bool cpu_has_work(const sim_t *S, const cpu_t *c) {
  return !S->stopping && (!list_empty(&c->irq_pending) || c->dpc_requested || c->clock_pending ||
                          (c->thread && !list_empty(&c->thread->apc[KernelMode])));
}

/* ---- trace emission (core/trace.c) ---- */
/* Fills the machine's state (time, CPU, IRQL, frame, thread) into `ev`,
   formats the detail and hands the step to every sink.  `ev` carries the
   typed facts; start it from trc_event_make(). */
void trc_send(sim_t *S, trc_event_t *ev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline bool trc_on(const sim_t *S) { return S->nsinks > 0; }
/* A step about `irp` (its number and CurrentLocation; NULL = none) on
   `dev` (NULL = none), every other fact "not applicable". */
static inline trc_event_t trc_ev(trc_kind_t kind, const IRP *irp, const DEVICE_OBJECT *dev) {
  trc_event_t e = trc_event_make(kind);
  if (irp) {
    e.irp = irp->SimId;
    e.stack_location = irp->CurrentLocation;
  }
  e.device = dev ? dev->SimId : 0;
  return e;
}
static inline void trc_set_status(trc_event_t *e, NTSTATUS st) {
  e->has_status = 1;
  e->status = st;
}
uint32_t name_add(sim_t *S, name_tab_t *t, const char *name);
const char *name_get(const name_tab_t *t, uint32_t id);
uint32_t obj_id(sim_t *S, DISPATCHER_HEADER *h);

#endif
