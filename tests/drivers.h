/*
 * drivers.h - what the engine test suites share: an in-memory trace sink
 * that keeps every event (details copied), two configurable C test drivers
 * (a disk and a pass-through filter) and a few machine-building helpers.
 *
 * The drivers keep their configuration and their observations in a struct
 * the test owns (usually on the test body's stack, which outlives sim_run);
 * the driver object's DriverExtension points at it.  Observations are
 * recorded by driver code and asserted by the test body after sim_run, so no
 * Check assertion ever runs on a coroutine stack.
 */
#ifndef IOSIM_TEST_DRIVERS_H
#define IOSIM_TEST_DRIVERS_H

#include "iosim/sim.h"

/* ---- in-memory trace ---- */

/* One trace event, with its detail string copied. */
typedef struct tev {
  uint64_t seq, t_ns;
  int cpu, irql;
  trc_frame_t frame;
  uint32_t thread, irp, device;
  int stack_location;
  trc_kind_t kind;
  int has_status;
  int32_t status;
  int pending_returned, count; /* typed facts the tests read */
  char detail[256];
} tev_t;

typedef struct tlog {
  tev_t *v;
  size_t n, cap;
} tlog_t;

/* A sink appending to `log` (borrowed; free it with tlog_free after
   sim_destroy). */
trc_sink_t tlog_sink(tlog_t *log);
void tlog_free(tlog_t *log);
/* Index of the first event of `kind` at or after `from`, or -1. */
int tlog_find(const tlog_t *log, trc_kind_t kind, int from);
/* Same, but also requires `irp` (0 = any) and `detail` to contain `sub`
   (NULL = any). */
int tlog_find_x(const tlog_t *log, trc_kind_t kind, uint32_t irp, const char *sub, int from);
int tlog_count(const tlog_t *log, trc_kind_t kind);
int tlog_count_x(const tlog_t *log, trc_kind_t kind, uint32_t irp, const char *sub);
/* The whole log as text, one line per event with every field (malloc'd). */
char *tlog_text(const tlog_t *log);

/* ---- machines ---- */

/* A machine with `cpus` CPUs, seed 1, no jitter; traced into `log` if not
   NULL.  IRP facts are kept (sim_irp_info). */
sim_t *tsim_new(int cpus, tlog_t *log);

/* The first IRP whose first call was for `major` (needs IRP facts kept), or 0. */
uint32_t tsim_find_irp(sim_t *S, UCHAR major);

/* ---- the test disk ---- */

/* How the disk finishes READ/WRITE/DEVICE_CONTROL requests. */
typedef enum {
  TDISK_COMPLETE,  /* completes in its dispatch routine */
  TDISK_PEND       /* marks pending, starts the hardware; ISR -> DPC -> complete */
} tdisk_mode_t;

typedef struct tdisk {
  /* configuration */
  const char *name;     /* device name (default "disk0") */
  tdisk_mode_t mode;
  NTSTATUS status;      /* completion status */
  ULONG_PTR info;       /* IoStatus.Information */
  uint64_t latency_ns;  /* transfer time (default 100 us) */
  int hw_cpu;           /* CPU taking the interrupt */
  bool no_mark;         /* PEND without IoMarkIrpPending (a driver bug) */
  bool set_cancel;      /* sets Irp->Cancel before completing */
  bool complete_twice;  /* calls IoCompleteRequest twice (a driver bug) */
  NTSTATUS dispatch_returns; /* TDISK_COMPLETE: returned status if nonzero,
                                else the completion status */
  /* observations */
  PDEVICE_OBJECT dev;
  int dispatches, isrs, dpcs;
  int dispatch_location;  /* CurrentLocation seen in dispatch */
  KIRQL dispatch_irql, dpc_irql;
  uint32_t dispatch_thread; /* 0 when none */
  int dpc_cpu;
  PIRP dpc_irp;           /* the IRP argument of the last DPC run */
  /* private: transfers the ISR saw finish, for the DPC (several interrupts
     may coalesce into one DPC run, kernel-facts 6.5, so the DPC drains them all) */
  PIRP done[32];
  unsigned done_head, done_tail;
} tdisk_t;

/* DriverEntry of the test disk; `arg` is its tdisk_t. */
NTSTATUS tdisk_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath);

/* ---- the test filter ---- */

typedef enum {
  TF_COPY,        /* IoCopyCurrentIrpStackLocationToNext, then call down */
  TF_SKIP,        /* IoSkipCurrentIrpStackLocation, then call down */
  TF_SKIP_THEN_SET /* skip, then IoSetCompletionRoutine anyway (a driver bug) */
} tfilter_mode_t;

typedef struct tfilter {
  /* configuration */
  const char *name, *lower; /* its device, and the device it attaches to */
  tfilter_mode_t mode;
  bool routine;             /* registers a completion routine (TF_COPY) */
  bool inv_success, inv_error, inv_cancel; /* its invoke-on flags */
  bool no_propagate;        /* the routine forgets IoMarkIrpPending (bug) */
  bool sync_forward;        /* scenario C: routine signals an event and
                               returns MPR; dispatch waits and re-completes */
  bool routine_sets_status; /* the routine rewrites IoStatus.Status ... */
  NTSTATUS new_status;      /* ... to this */
  NTSTATUS routine_returns; /* routine's return when not sync_forward */
  int *clock;               /* shared counter stamping routine calls (optional) */
  /* observations */
  PDEVICE_OBJECT dev;
  int dispatches, routine_calls;
  int routine_stamp;        /* *clock value when the routine ran */
  PDEVICE_OBJECT routine_dev;
  bool routine_pending_returned;
  int routine_location;     /* CurrentLocation inside the routine */
  bool routine_cur_is_own;  /* IoGetCurrentIrpStackLocation()->DeviceObject == dev */
  KIRQL routine_irql;
  NTSTATUS routine_status_seen;
  NTSTATUS call_returned;   /* what IoCallDriver returned to the dispatch */
  int recompletes;          /* sync_forward: IoCompleteRequest calls made */
  UCHAR lower_control_seen; /* Control of the location below, in the routine */
  PVOID lower_fileobject_seen;
  bool lower_routine_kept;  /* that location's CompletionRoutine survived */
  KEVENT ev;                /* sync_forward's event */
} tfilter_t;

/* DriverEntry of the test filter; `arg` is its tfilter_t. */
NTSTATUS tfilter_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath);

/* ---- a user program ---- */

/* One read from a simulated thread: opens `top`, issues NtReadFile with the
   given options, optionally waits, and records what it saw. */
typedef struct tread {
  /* configuration */
  PDEVICE_OBJECT top;
  ULONG options;           /* NtCreateFile options (0 = overlapped) */
  bool use_event;          /* pass an event */
  bool wait_event;         /* wait for it (UserMode, non-alertable) after a PENDING */
  bool wait_file;          /* wait on the file object's event instead */
  IO_APC_ROUTINE *apc;     /* an APC routine (ReadFileEx) */
  bool alertable_sleep;    /* then NtDelayExecution(TRUE, 1 s): SleepEx(1000, TRUE) */
  ULONG length;
  /* observations */
  NTSTATUS created, ret, wait_ret, sleep_ret;
  IO_STATUS_BLOCK iosb;    /* initialised to {0x7EADBEEF, 0x5A5A} before the call */
  int32_t fo_event_after_create, event_after_call, event_final, fo_event_final;
  uint32_t irp, thread;
  NTSTATUS fo_final_status;
  int apc_calls;
  PIO_STATUS_BLOCK apc_iosb;
  PVOID apc_ctx;
  KEVENT event;            /* starts signalled: NtReadFile must reset it */
} tread_t;

#define TREAD_IOSB_SENTINEL ((NTSTATUS)0x7EADBEEF)

/* Loads the disk, then f1 over it and f2 over f1 (either may be NULL;
   unset names default to "filt1"/"filt2" and the lower device below), starts
   `r` as thread "app" against the top device and runs the machine. */
/* A driver whose one device (named by `arg`, a const char *) completes every
   request at once: STATUS_SUCCESS, Information = the read length. */
NTSTATUS tnow_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath);
/* Its dispatch routine: completes every IRP at once with STATUS_SUCCESS. */
NTSTATUS tnow_dispatch(PDEVICE_OBJECT Dev, PIRP Irp);

sim_outcome_t trun_read(sim_t *S, tdisk_t *d, tfilter_t *f1, tfilter_t *f2, tread_t *r);

void tread_thread(PVOID arg);
/* An IO_APC_ROUTINE that counts calls into the tread_t passed as context. */
void tread_apc(PVOID ctx, PIO_STATUS_BLOCK iosb, ULONG reserved);

#endif
