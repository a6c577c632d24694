/*
 * sim.h - the embedding API: build a simulated machine, load drivers, start
 * threads, run, and read what happened.  Driver code uses wdm.h; user-mode
 * programs (simulated threads) use the Nt* calls at the end of this file.
 */
#ifndef IOSIM_SIM_H
#define IOSIM_SIM_H

#include "iosim/trace.h"
#include "iosim/wdm.h"

#define IOSIM_VERSION "0.1.0"
#define SIM_MAX_CPUS 8

/* Error codes for the world (bad input, limits); bugs abort. */
#define SIM_ERRNO_MAP(X)                             \
  X(SIM_OK, 0, "ok")                                 \
  X(SIM_EINVAL, -1, "invalid argument")              \
  X(SIM_ENOENT, -2, "no such name")                  \
  X(SIM_EEXIST, -3, "name already used")             \
  X(SIM_ESTATE, -4, "not allowed in this state")     \
  X(SIM_EIO, -5, "input/output error")

enum {
#define SIM_X(e, v, s) e = v,
  SIM_ERRNO_MAP(SIM_X)
#undef SIM_X
};
const char *sim_strerror(int err);

/* The exit status of a process whose simulated kernel stack overflowed
   past iosim's checks (a driver recursing, or a huge local buffer, between
   two kernel calls): the guard page faulted and the simulator's SIGSEGV
   handler reported UNEXPECTED_KERNEL_MODE_TRAP (0x7F) double fault on
   stderr instead of crashing.  The usual case - recursion through
   IoCallDriver, completion routines, DPCs, APCs or ISRs - is caught earlier
   and is an ordinary bugcheck 0x7F that ends sim_run. */
#define SIM_EXIT_STACK_OVERFLOW 3
/* The exit status after the system refused memory (iosim_oom,
   include/iosim/alloc.h): "iosim: out of memory" on stderr, as bad input. */
#define SIM_EXIT_OUT_OF_MEMORY 2

/* Whether this engine was built with its invariant checks (SIM_ASSERT):
   on in test and sanitizer builds, off with -DNDEBUG (benchmarks). */
bool sim_asserts_enabled(void);

/* Kernel operations whose simulated CPU cost the cost table gives. */
#define SIM_COST_MAP(X)                                   \
  X(COST_STEP, "step", 20)                                \
  X(COST_CALL_DRIVER, "call-driver", 80)                  \
  X(COST_STACK_OP, "stack-op", 20)                        \
  X(COST_COMPLETE, "complete", 120)                       \
  X(COST_COMPLETION_ROUTINE, "completion-routine", 60)    \
  X(COST_IRP_ALLOC, "irp-alloc", 150)                     \
  X(COST_IRP_FREE, "irp-free", 80)                        \
  X(COST_INTERRUPT, "interrupt", 400)                     \
  X(COST_DPC, "dpc", 250)                                 \
  X(COST_APC, "apc", 300)                                 \
  X(COST_STAGE2, "stage2", 400)                           \
  X(COST_CONTEXT_SWITCH, "context-switch", 1200)          \
  X(COST_WAIT, "wait", 250)                               \
  X(COST_SET_EVENT, "set-event", 100)                     \
  X(COST_SYSCALL, "syscall", 500)                         \
  X(COST_IRQL, "irql", 15)                                \
  X(COST_OP, "op", 50)

typedef enum {
#define SIM_X(e, n, v) e,
  SIM_COST_MAP(SIM_X)
#undef SIM_X
  COST_COUNT
} sim_cost_t;

/* Coroutine stacks kept across machines: a program that builds many
   machines one after another (schedule exploration) gives each the same
   cache, and a destroyed machine's stacks go back to it instead of being
   unmapped and mapped again.  Not shared between host threads. */
typedef struct sim_stack_cache sim_stack_cache_t;
sim_stack_cache_t *sim_stack_cache_new(void);
/* Unmaps every stack it holds.  Safe on NULL; the machines that used it
   must be destroyed first. */
void sim_stack_cache_free(sim_stack_cache_t *c);

typedef struct sim_config {
  int cpus;             /* 1..SIM_MAX_CPUS */
  uint64_t seed;        /* drives every nondeterministic choice */
  unsigned jitter_pct;  /* each step's cost varies by up to this percent */
  uint64_t max_time_ns; /* 0 = 10 s of simulated time */
  uint64_t max_steps;   /* 0 = 10,000,000 */
  /* The clock and DPC moderation (docs/kernel-facts.md §6.12).  The clock
     interrupt's period, SIM_CLOCK_TICK_MIN..SIM_CLOCK_TICK_MAX; 0 = 15.625 ms,
     Windows' default.  dpc_queue_depth: the registry's DpcQueueDepth
     (KiMaximumDpcQueueDepth), 1..SIM_DPC_QUEUE_DEPTH_MAX, 0 = 4.
     minimum_dpc_rate: MinimumDpcRate (KiMinimumDpcRate), used only when
     has_minimum_dpc_rate, else 3; 0 turns the low-rate rule off. */
  uint64_t clock_tick_ns;
  unsigned dpc_queue_depth;
  bool has_minimum_dpc_rate;
  unsigned minimum_dpc_rate;
  sim_stack_cache_t *stacks; /* borrowed; NULL = stacks mapped per machine */
  /* A kernel debugger is attached: DbgBreakPoint breaks into it and the
     run goes on (it continues), instead of bugcheck 0x1E. */
  bool kernel_debugger;
  /* Limits on the host (docs/reliability.md): wall-clock milliseconds of
     sim_run, 0 = none; bytes the engine itself holds (stats.bytes_live),
     0 = SIM_MAX_MEMORY_DEFAULT.  A run over either stops with outcome
     SIM_RUN_LIMIT, as at max_time_ns and max_steps. */
  uint64_t max_wall_ms;
  uint64_t max_memory;
} sim_config_t;
#define SIM_MAX_MEMORY_DEFAULT (1024ull * 1024 * 1024)
#define SIM_CLOCK_TICK_DEFAULT 15625000ull /* 15.625 ms: 64 ticks a second */
#define SIM_CLOCK_TICK_MIN 500000ull       /* 0.5 ms: the finest timer resolution */
#define SIM_CLOCK_TICK_MAX SIM_CLOCK_TICK_DEFAULT
#define SIM_DPC_QUEUE_DEPTH_MAX 64
#define SIM_DPC_RATE_MAX 1000

typedef enum {
  SIM_RUN_OK,       /* every thread finished */
  SIM_RUN_STALLED,  /* nothing left to do, but threads still wait */
  SIM_RUN_BUGCHECK, /* the simulated kernel stopped */
  SIM_RUN_LIMIT,    /* max_time_ns or max_steps reached */
  SIM_RUN_STOPPED   /* sim_request_stop (e.g. the user pressed Ctrl-C) */
} sim_outcome_t;
const char *sim_outcome_name(sim_outcome_t o);

sim_t *sim_create(const sim_config_t *cfg);
/* Frees everything, closes the trace sink.  Safe on NULL. */
void sim_destroy(sim_t *S);

int sim_cost_set(sim_t *S, const char *name, uint32_t ns);
uint32_t sim_cost_get(const sim_t *S, sim_cost_t c);
const char *sim_cost_name(sim_cost_t c);

/* The sink is borrowed; its close() runs at sim_destroy. */
int sim_set_sink(sim_t *S, const trc_sink_t *sink);
/* An extra sink (e.g. an in-memory log beside the console table). */
int sim_add_sink(sim_t *S, const trc_sink_t *sink);
/* A sink printing an aligned table (time, CPU, IRQL, frame, event) to f. */
trc_sink_t sim_console_sink(sim_t *S, FILE *f);

/* ---- Drivers and devices (setup time) ---- */
/* Creates the driver object NAME and calls entry(Driver, RegistryPath) as
   Windows calls DriverEntry; `arg` is the embedding program's pointer for
   its C test drivers, read back with sim_driver_context(Driver).  NULL if
   the entry fails. */
PDRIVER_OBJECT sim_load_driver(sim_t *S, const char *name,
                               DRIVER_INITIALIZE *entry, PVOID arg);
PVOID sim_driver_context(PDRIVER_OBJECT Driver);
/* IoCreateDevice for embedding programs and scripted drivers: a UTF-8
   name as the trace shows it, a FILE_DEVICE_UNKNOWN device with no flags. */
NTSTATUS sim_create_device(PDRIVER_OBJECT Driver, ULONG ExtensionSize, const char *Name, PDEVICE_OBJECT *Out);
PDEVICE_OBJECT sim_find_device(sim_t *S, const char *name);
/* Gives a device the scenario's name for it (a device a C driver's
   AddDevice made without one); later trace steps use it. */
void sim_name_device(PDEVICE_OBJECT Dev, const char *Name);
/* The device whose trace id is `id`, deleted ones included; NULL if none. */
PDEVICE_OBJECT sim_device_object(sim_t *S, uint32_t id);
PDRIVER_OBJECT sim_driver_by_name(sim_t *S, const char *name);

/* ---- Hardware ----
 * A device model: sim_hw_start() begins a transfer that ends after the
 * latency by raising an interrupt at `irql` on `cpu` (-1: the chooser picks
 * one).  The ISR runs at that IRQL in whatever the CPU was doing. */
typedef struct sim_hw sim_hw_t;
typedef BOOLEAN SIM_ISR(sim_hw_t *Hw, PVOID Ctx, PIRP Irp);
sim_hw_t *sim_hw_create(sim_t *S, PDEVICE_OBJECT dev, uint64_t latency_ns,
                        int cpu, KIRQL irql, SIM_ISR *isr, PVOID ctx);
/* From driver code: start a transfer for `Irp` (handed to the ISR). */
void sim_hw_start(sim_hw_t *Hw, PIRP Irp, uint64_t latency_ns);
uint64_t sim_hw_latency(const sim_hw_t *Hw);
PDEVICE_OBJECT sim_hw_device(const sim_hw_t *Hw);

/* ---- Threads ---- */
typedef void SIM_THREAD_START(PVOID arg);
PKTHREAD sim_thread_create(sim_t *S, const char *name, SIM_THREAD_START *fn,
                           PVOID arg);
const char *sim_thread_name(sim_t *S, uint32_t id);
const char *sim_device_name(sim_t *S, uint32_t id);
bool sim_thread_finished(const PKTHREAD t);
bool sim_thread_waiting(const PKTHREAD t);
uint32_t sim_thread_id(const PKTHREAD t);
PKTHREAD sim_thread_by_name(sim_t *S, const char *name);
void sim_name_object(PVOID dispatcher_object, const char *name);
/* Names a spin lock in the trace (its rows' `object`); any time, also
   before sim_run. */
void sim_name_spin_lock(sim_t *S, PKSPIN_LOCK SpinLock, const char *Name);

/* Runs until every thread finished, the machine stalls, a bugcheck or a
   limit.  Can be called once. */
sim_outcome_t sim_run(sim_t *S);
/* Asks a running machine to stop at its next scheduling point (safe from a
   trace sink; not from a signal handler: set a flag there and let the sink
   call this). */
void sim_request_stop(sim_t *S);
/* After a run that ended with SIM_RUN_LIMIT: which limit ("max-steps",
   "max-time", "max-wall", "max-memory"); NULL otherwise. */
const char *sim_limit_reached(const sim_t *S);
uint64_t sim_now(const sim_t *S);
uint64_t sim_steps(const sim_t *S);
/* Changes whenever the machine does anything: a step of work or a step of
   the trace.  Equal before and after some code: it did nothing. */
uint64_t sim_progress(const sim_t *S);

typedef struct sim_bugcheck {
  ULONG code;
  ULONG_PTR p[4];
  int cpu, irql;
  trc_frame_t frame;
  uint64_t t_ns;
  char reason[160];
} sim_bugcheck_t;
/* NULL when the run did not bugcheck. */
const sim_bugcheck_t *sim_bugcheck(const sim_t *S);
/* Writes the crash-analysis style report. */
void sim_bugcheck_report(sim_t *S, FILE *f);

/* Nondeterminism: every choice goes through here. */
typedef enum { SIM_CHOOSE_PRNG, SIM_CHOOSE_REPLAY } sim_choose_mode_t;
/* Keeps the list of choices made (off by default: it grows with the run). */
void sim_record_choices(sim_t *S, bool on);
/* Replays a recorded choice list; past its end, choices are 0. */
void sim_replay_choices(sim_t *S, const uint32_t *choices, size_t n);
/* The choices made so far (for replay); valid until the next choice. */
const uint32_t *sim_choices(const sim_t *S, size_t *n);

/* ---- A chooser of every interleaving (schedule exploration) ----
 * With a chooser installed, the machine asks it at every scheduling point
 * where more than one thing could happen next, instead of running what is
 * due first:
 *  - SIM_CHOICE_NEXT: which candidate goes next - a CPU's next step, a
 *    device's interrupt, a wait's timeout - whatever its due time.  The
 *    one chosen happens at max(now, its due time): nothing happens before
 *    it is due, anything may happen later (a CPU, a device or a timer may
 *    always be slower than the cost table says).  The candidates are the
 *    CPUs with a step queued, by number, then the pending events by due
 *    time (and queue order).
 *  - SIM_CHOICE_IRQ_CPU: which CPU takes an interrupt not bound to one;
 *  - SIM_CHOICE_IDLE_CPU: which idle CPU picks up a thread made ready.
 * Step costs are exact (no jitter): the chooser decides every ordering, so
 * a run is determined by the scenario and the chooser's answers.  The
 * chooser returns an index below n, or SIM_CHOICE_STOP to end the run
 * (outcome SIM_RUN_STOPPED).  It runs inside the machine: it must not call
 * back into it, except sim_request_stop. */
typedef enum { SIM_CHOICE_NEXT, SIM_CHOICE_IRQ_CPU, SIM_CHOICE_IDLE_CPU } sim_choice_kind_t;
typedef enum { SIM_CAND_CPU, SIM_CAND_INTERRUPT, SIM_CAND_TIMER } sim_cand_kind_t;
typedef struct sim_candidate {
  sim_cand_kind_t kind;
  int cpu;         /* CPU: the one that steps; INTERRUPT: its fixed CPU or -1 */
  uint64_t due_ns; /* when it is due (before `now`: late) */
  uint32_t id;     /* INTERRUPT: the device's id; TIMER: the waiting thread's */
  uint64_t order;  /* events: their place in the queue among equal times */
} sim_candidate_t;
typedef struct sim_choice {
  sim_choice_kind_t kind;
  uint32_t n;                  /* > 1 */
  const sim_candidate_t *cand; /* NEXT: the n candidates */
  const int *cpus;             /* IRQ_CPU, IDLE_CPU: the n CPUs to pick from */
  uint64_t now;
  int last_cpu;                /* the CPU of the last step, -1 at the start */
} sim_choice_t;
#define SIM_CHOICE_STOP UINT32_MAX
typedef uint32_t sim_chooser_fn(void *ud, const sim_choice_t *c);
/* Before sim_run.  NULL restores the seeded chooser. */
void sim_set_chooser(sim_t *S, sim_chooser_fn *fn, void *ud);

/* Counters for tests and benchmarks. */
typedef struct sim_stats {
  uint64_t irps_allocated, irps_freed, irps_live;
  uint64_t bytes_live, bytes_peak;
  uint64_t ctx_switches, steps;
} sim_stats_t;
sim_stats_t sim_stats(const sim_t *S);

/* Memory a sink holds for the run (the scenario's expectations' log keeps
   steps until the run ends) counts against max_memory with the engine's
   own: a run that keeps too many steps stops at the limit "max-memory"
   like one whose machine grew too big.  Not part of stats.bytes_live,
   which is the engine's alone. */
void sim_charge_memory(sim_t *S, size_t bytes);

/* ---- User mode (call from a simulated thread) ----
 * The native calls, with the I/O manager's behaviour: NtReadFile resets the
 * event and the file's event, builds the IRP, queues it on the thread,
 * calls the top driver, and finishes inline or leaves it to the APC. */
#define FILE_SYNCHRONOUS_IO_NONALERT 0x20
#define FILE_SYNCHRONOUS_IO_ALERT 0x10
NTSTATUS NtCreateFile(PFILE_OBJECT *File, PDEVICE_OBJECT Top, ULONG Options,
                      const char *Name);
NTSTATUS NtClose(PFILE_OBJECT File);
/* `sc stop NAME`: the driver whose service key is the last part of the
   path is unloaded - its DriverUnload runs in the calling thread, or, if a
   file is open on its devices, when the last one is closed.
   STATUS_INVALID_DEVICE_REQUEST for a driver with no DriverUnload,
   STATUS_OBJECT_NAME_NOT_FOUND for no such driver. */
NTSTATUS NtUnloadDriver(PUNICODE_STRING DriverServiceName);
/* Buffer: the program's own memory.  By the top device's flags the I/O
 * manager copies it (DO_BUFFERED_IO), locks it behind an MDL (DO_DIRECT_IO)
 * or passes the pointer (neither); an IOCTL's buffers go by the code's
 * method (kernel-facts 14).  A NULL buffer with a length is iosim's
 * length-only request: nothing is copied or locked. */
NTSTATUS NtReadFile(PFILE_OBJECT File, PKEVENT Event, IO_APC_ROUTINE *ApcRoutine,
                    PVOID ApcContext, PIO_STATUS_BLOCK Iosb, PVOID Buffer,
                    ULONG Length, const LONGLONG *ByteOffset);
NTSTATUS NtWriteFile(PFILE_OBJECT File, PKEVENT Event, IO_APC_ROUTINE *ApcRoutine,
                     PVOID ApcContext, PIO_STATUS_BLOCK Iosb, PVOID Buffer,
                     ULONG Length, const LONGLONG *ByteOffset);
NTSTATUS NtDeviceIoControlFile(PFILE_OBJECT File, PKEVENT Event,
                               IO_APC_ROUTINE *ApcRoutine, PVOID ApcContext,
                               PIO_STATUS_BLOCK Iosb, ULONG Code,
                               PVOID InputBuffer, ULONG InLen,
                               PVOID OutputBuffer, ULONG OutLen);
/* A user-mode wait (WaitForMultipleObjectsEx): on STATUS_USER_APC the
   queued user APCs run before it returns, as on the way back to user mode. */
NTSTATUS NtWaitForMultipleObjects(ULONG Count, PVOID Objects[], WAIT_TYPE Type,
                                  BOOLEAN Alertable, const LONGLONG *Timeout);
/* SleepEx: STATUS_SUCCESS, or STATUS_USER_APC after running user APCs. */
NTSTATUS NtDelayExecution(BOOLEAN Alertable, const LONGLONG *Interval);
/* QueueUserAPC: a user APC to Thread, running Routine(Arg1, Arg2, Arg3) in
   user mode at its next alertable wait (at once if it is in one).  Name
   labels the APC in the trace (iosim's addition). */
NTSTATUS NtQueueApcThread(PKTHREAD Thread, KNORMAL_ROUTINE *Routine, PVOID Arg1, PVOID Arg2, PVOID Arg3,
                          const char *Name);
/* Alerts Thread: an alertable user-mode wait ends with STATUS_ALERTED (now,
   or the next one if it is not waiting alertably). */
NTSTATUS NtAlertThread(PKTHREAD Thread);
/* Names the next IRP the calling thread allocates (for expectations). */
void sim_tag_next_irp(const char *tag);
/* A traced step of a scripted driver or program that has no kernel call
   of its own (a branch, a counter, a queue): charges the `op` cost. */
void sim_trace_op(PIRP Irp, PDEVICE_OBJECT Dev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for an IRP known only by its number (it may be freed). */
void sim_trace_op_id(uint32_t IrpId, PDEVICE_OBJECT Dev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, with the typed facts a scripted step carries: `Text` is the
   operation as the scenario wrote it, `TouchesIrp` whether it reads or
   writes the IRP (what the verifier watches after completion). */
void sim_trace_script(uint32_t IrpId, PDEVICE_OBJECT Dev, const char *Text, bool TouchesIrp, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The scenario line the code running now is executing (trc_event_t.line of
   the steps that follow, in this frame - or this thread, for its own
   code); 0 = none.  Returns the line it replaces, for the caller to put
   back when its statement is done. */
int sim_set_source_line(int line);
/* ---- The cache and byte-range locks (per file: per device here) ----
 * CcInitializeCacheMap sets the file object's PrivateCacheMap: from then on
 * NtReadFile tries fast I/O on a synchronous handle.  The cache remembers
 * which byte ranges hold data; a lock by another handle makes fast I/O
 * questionable for the range it covers. */
void CcInitializeCacheMap(PFILE_OBJECT File);
void sim_cache_fill(PFILE_OBJECT File, LONGLONG Offset, ULONG Length);
bool sim_cache_covers(PFILE_OBJECT File, LONGLONG Offset, ULONG Length);
/* The FAST_IO_READ most file systems use: TRUE (Iosb filled) when the
   range is in the cache and no other handle's lock covers it. */
BOOLEAN FsRtlCopyRead(PFILE_OBJECT FileObject, const LONGLONG *FileOffset, ULONG Length, BOOLEAN Wait,
                      ULONG LockKey, PVOID Buffer, PIO_STATUS_BLOCK IoStatus, PDEVICE_OBJECT DeviceObject);
/* NtLockFile, exclusive: refused (STATUS_LOCK_NOT_GRANTED) on overlap. */
NTSTATUS NtLockFile(PFILE_OBJECT File, LONGLONG Offset, ULONG Length);
/* Whether a lock held through another file object covers part of the range. */
bool sim_range_locked(PFILE_OBJECT File, LONGLONG Offset, ULONG Length);

/* ---- Cancelling I/O ----
 * CancelIo: the calling thread's requests on the file, and it waits for
 * them (polling every 10 ms).  CancelIoEx: any thread's, or only the one
 * with that I/O status block (the OVERLAPPED); it does not wait.
 * CancelSynchronousIo: a thread's synchronous request.  The last two return
 * STATUS_NOT_FOUND when nothing matched. */
NTSTATUS NtCancelIoFile(PFILE_OBJECT File, PIO_STATUS_BLOCK Iosb);
NTSTATUS NtCancelIoFileEx(PFILE_OBJECT File, PIO_STATUS_BLOCK Iosb);
NTSTATUS NtCancelSynchronousIoFile(PKTHREAD Thread);

/* ---- I/O completion ports ----
 * A port is a queue of completion packets with a concurrency value: a
 * packet wakes a waiting thread only while fewer associated threads than
 * that run; waiting threads are released last-in first-out. */
typedef struct sim_port sim_port_t;
/* CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, Concurrency). */
sim_port_t *NtCreateIoCompletion(ULONG Concurrency, const char *Name);
/* The same at setup time, before sim_run (no step, no trace row). */
sim_port_t *sim_port_create(sim_t *S, ULONG Concurrency, const char *Name);
/* Associates an overlapped file with the port (FileCompletionInformation). */
NTSTATUS NtSetCompletionPort(PFILE_OBJECT File, sim_port_t *Port, ULONG_PTR Key);
/* SetFileCompletionNotificationModes (NtSetInformationFile with
   FileIoCompletionNotificationInformation): sets modes, never clears one. */
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
NTSTATUS NtSetCompletionNotificationModes(PFILE_OBJECT File, UCHAR Flags);
/* GetQueuedCompletionStatus: STATUS_SUCCESS with the packet, or
   STATUS_TIMEOUT; STATUS_ABANDONED_WAIT_0 when the port is closed during
   the wait (Vista+), STATUS_INVALID_HANDLE once it is closed.  For an I/O
   packet the I/O status block is written here, in the dequeuing thread
   (Vista+: port-bound I/O is thread-agnostic). */
NTSTATUS NtRemoveIoCompletion(sim_port_t *Port, ULONG_PTR *Key, PVOID *Context,
                              PIO_STATUS_BLOCK Iosb, const LONGLONG *Timeout);
/* One packet as NtRemoveIoCompletionEx returns it (kernel32's
   OVERLAPPED_ENTRY holds the same three things). */
typedef struct FILE_IO_COMPLETION_INFORMATION {
  ULONG_PTR KeyContext;
  PVOID ApcContext;
  IO_STATUS_BLOCK IoStatusBlock;
} FILE_IO_COMPLETION_INFORMATION, *PFILE_IO_COMPLETION_INFORMATION;
/* GetQueuedCompletionStatusEx (Vista+): up to Count packets at once into
   Info[], *Removed of them (STATUS_SUCCESS); waits when none may be had.
   Alertable: a user APC ends the wait - the queued user APCs run, and it
   returns STATUS_USER_APC (WAIT_IO_COMPLETION) with nothing removed.  Other
   failures as NtRemoveIoCompletion; Count 0 is STATUS_INVALID_PARAMETER. */
NTSTATUS NtRemoveIoCompletionEx(sim_port_t *Port, PFILE_IO_COMPLETION_INFORMATION Info, ULONG Count,
                                ULONG *Removed, const LONGLONG *Timeout, BOOLEAN Alertable);
/* PostQueuedCompletionStatus (STATUS_INVALID_HANDLE on a closed port). */
NTSTATUS NtSetIoCompletion(sim_port_t *Port, ULONG_PTR Key, PVOID Context,
                           NTSTATUS Status, ULONG_PTR Information);
/* CloseHandle on the port (iosim gives a port one handle, so it is its
   last): the queue is run down (Vista+) - threads waiting on it return
   STATUS_ABANDONED_WAIT_0, queued packets are freed with their IRPs, and a
   packet that comes later for a file still bound to it is freed at once.
   STATUS_INVALID_HANDLE if it is already closed. */
NTSTATUS sim_port_close(sim_port_t *Port);
/* For tests: the port's running count and queued packets. */
ULONG sim_port_running(const sim_port_t *Port);
ULONG sim_port_queued(const sim_port_t *Port);
/* ---- A user-mode file system (WinFsp's shape) ----
 * A kernel driver that parks each read/write in a Pending queue and
 * returns STATUS_PENDING; a user-mode dispatcher thread fetches requests
 * with a TRANSACT call (the IRP moves to a Process table before user mode
 * sees it) and answers either at once, in its next TRANSACT, or - async -
 * hands the request to a worker thread and returns STATUS_PENDING, in
 * which case the worker later sends the response on its own.  The two may
 * reach the kernel in either order; the IRP completes exactly once. */
typedef struct sim_ufs_config {
  const char *device;   /* the device to create (driver "usermode-fs") */
  bool async;           /* reads and writes answered by a worker */
  uint64_t work_ns;     /* how long the file system works on a request */
  uint64_t return_ns;   /* the dispatcher's own work before it returns pending */
  uint64_t idle_ns;     /* threads end after this long without a request */
} sim_ufs_config_t;
/* Setup time: creates the driver, the device and the two user threads
   ("<device>-dispatcher", "<device>-worker").  NULL on a bad config. */
PDEVICE_OBJECT sim_ufs_create(sim_t *S, const sim_ufs_config_t *cfg);
/* The IRP the last Nt* I/O call of the current thread built (0 if none). */
uint32_t sim_last_irp_id(void);
/* Final facts of an IRP, kept after it is freed (for expectations). */
typedef struct sim_irp_info {
  uint32_t id;
  UCHAR major;
  bool major_set;
  uint32_t thread;
  uint32_t file; /* the file object's id, 0 if none */
  IO_STATUS_BLOCK final;
  bool completed, freed, pending_returned;
  uint64_t issued_ns, completed_ns;
  int stack_count;
  uint32_t master;
  const char *tag; /* from sim_tag_next_irp, borrowed */
} sim_irp_info_t;
const sim_irp_info_t *sim_irp_info(const sim_t *S, uint32_t id);
/* Whether `irp` still is IRP number `id` (not freed, not reused); never
   reads a freed IRP. */
bool sim_irp_alive(sim_t *S, const IRP *irp, uint32_t id);
uint32_t sim_irp_count(const sim_t *S);
/* A driver keeps `Irp` on purpose past the end of the run: a test driver
   that holds requests to look at them afterwards, a scenario that stops
   with requests parked by design.  `Why` (borrowed: it must outlive the
   run) is what the end-of-run account says about it; NULL takes the mark
   away.  The account lists such an IRP as kept (irp-outstanding, state
   kept) and the verifier reports nothing for it; every other IRP still
   allocated when a run ends ok, stalled or at a limit is a finding, unless
   it is a completion packet waiting on a port (docs/verifier.md). */
void sim_irp_keep(PIRP Irp, const char *Why);
/* Keep sim_irp_info() for every IRP (off by default: memory grows with
   total work).  Call before sim_run. */
void sim_keep_irp_info(sim_t *S, bool on);
/* What a trace database or a picture needs to know about the machine. */
uint32_t sim_device_count(const sim_t *S);      /* device ids are 1..count */
const char *sim_device_driver(sim_t *S, uint32_t id);
uint32_t sim_device_lower(sim_t *S, uint32_t id); /* attached to, 0 if none */
int sim_device_stack_size(sim_t *S, uint32_t id);
uint32_t sim_thread_count(const sim_t *S);      /* thread ids are 1..count */
/* "running", "ready", "waiting", "terminated" */
const char *sim_thread_state(sim_t *S, uint32_t id);
/* What a waiting thread waits for ("h", "done or thread worker"), written
   into buf; returns the number of objects, 0 if the thread does not wait. */
int sim_thread_wait_names(sim_t *S, uint32_t id, char *buf, size_t n);
int sim_cpu_count(const sim_t *S);
/* Burn CPU time in the current context (a driver's "delay"). */
void sim_delay(uint64_t ns);
/* Frees `p` with `free_fn` when the machine is destroyed (components built
   on the engine, like the user-mode file system, own memory this way). */
int sim_on_destroy(sim_t *S, void *p, void (*free_fn)(void *));
/* For components built on the engine (outside it): trace a step of the
   running machine (time, CPU, IRQL, frame and thread are filled in; start
   `ev` from trc_event_make), and end a step charging a cost. */
void sim_trace(trc_event_t *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_charge(sim_cost_t cost);
/* Replaces every step's detail text with "x": proves that no program
   reads a fact from the prose (tests). */
void sim_garble_details(sim_t *S, bool on);
/* Names behind the ids of trace events ("" when unknown). */
const char *sim_port_name(sim_t *S, uint32_t id);
uint32_t sim_port_count(const sim_t *S);   /* port ids are 1..count */
/* Dispatcher objects and file objects share one numbering: 1..count. */
uint32_t sim_object_count(const sim_t *S);
const char *sim_file_name(sim_t *S, uint32_t id);
const char *sim_object_name(sim_t *S, uint32_t id);
/* ---- Pool (ExAllocatePoolWithTag): what is still allocated ----
 * Per tag, in order of first use: the tags with blocks still allocated
 * (leaked, at the end of a run).  Fills up to `max` entries of `out` (may
 * be NULL with max 0) and returns how many such tags there are. */
typedef struct sim_pool_tag {
  ULONG tag;
  char name[5];                /* the tag's four characters ("mTag" for 'gaTm') */
  uint64_t allocations, frees; /* over the whole run */
  uint64_t blocks_outstanding, bytes_outstanding;
} sim_pool_tag_t;
size_t sim_pool_outstanding(const sim_t *S, sim_pool_tag_t *out, size_t max);
/* The same as a table on f (nothing when no pool is left allocated);
   returns the number of tags listed. */
size_t sim_pool_report(const sim_t *S, FILE *f);
/* Trace a free-form note from driver or program code. */
void sim_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same from a driver routine: the note carries the driver's device
   (the trace's device column), as every other step of the driver does. */
void sim_driver_note(PDEVICE_OBJECT Dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
