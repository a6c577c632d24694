/*
 * state.h - the simulated machine at any step of a recorded run, rebuilt
 * from the trace database's typed step facts (never from the detail text):
 * per CPU its IRQL, frame stack and DPC queue; per thread its state, wait,
 * IRP list and APC queues; completion ports with their packets and
 * waiters; every live IRP with its stack locations as WinDbg's !irp shows
 * them; event objects' states; the device stacks.
 *
 * A run is loaded once (mst_load); a machine (mst_t) is then moved to any
 * step: forwards one step at a time (each step is applied to the state of
 * the step before, so walking a 10,000-step run costs 10,000 small
 * updates), backwards by replaying from the start.  The render functions
 * print each view as text; the command line (iosim devstack, thread,
 * dpcs, irpfind, port, irp, why, step) and the HTML explorer both use them.
 *
 * What the trace does not record the model cannot show, and says so where
 * it matters (docs/trace-schema.md, "The machine at a step").
 */
#ifndef IOSIM_STATE_H
#define IOSIM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iosim/trace.h"
#include "iosim/tracedb.h"

/* ---- a run, loaded ---- */

typedef struct mst_run mst_run_t;

/* Loads run `run` of db (<= 0: the last that ran) with every step, name
   and device.  NULL with a message in err when there is no such run. */
mst_run_t *mst_load(tracedb_t *db, int64_t run, char *err, size_t errlen);
void mst_run_free(mst_run_t *r);

/* Runs a scenario into db (as `iosim run --db` does, silently) and returns
   the run's id, or -1 with "file:line:col: message" in err (bad input). */
int64_t mst_record_scenario(tracedb_t *db, const char *path, const char *include_dir, bool has_seed, uint64_t seed,
                            char *err, size_t errlen);

int64_t mst_run_id(const mst_run_t *r);
int mst_run_cpus(const mst_run_t *r);
const char *mst_run_scenario(const mst_run_t *r); /* the scenario's path as recorded */
/* Steps are numbered 1..mst_run_steps() as the trace numbers them (seq). */
uint64_t mst_run_steps(const mst_run_t *r);
/* Step `step` (1-based), NULL outside the run.  Its strings (service,
   text, detail) live as long as the run. */
const trc_event_t *mst_run_event(const mst_run_t *r, uint64_t step);

/* Names from the run's tables; "" when there is none. */
const char *mst_thread_name(const mst_run_t *r, uint32_t id);
const char *mst_device_name(const mst_run_t *r, uint32_t id);
const char *mst_driver_name(const mst_run_t *r, uint32_t device); /* the device's driver */
uint32_t mst_device_lower(const mst_run_t *r, uint32_t device);   /* the device it is attached to, 0 */
const char *mst_port_name(const mst_run_t *r, uint32_t id);
const char *mst_object_name(const mst_run_t *r, uint32_t id);
const char *mst_irp_tag(const mst_run_t *r, uint32_t id);        /* the scenario's name ("r1") */

/* What a command line names. */
typedef enum { MST_IRP, MST_THREAD, MST_DEVICE, MST_PORT, MST_OBJECT } mst_what_t;
/* `text` as an id of that kind: a number, or its name (an IRP's tag, a
   thread's, device's, port's or object's name).  0, or -1 with a message
   listing what there is. */
int mst_find(const mst_run_t *r, mst_what_t what, const char *text, uint32_t *id, char *err, size_t errlen);

/* --at: "#48" (a step) or a time with its unit ("204.6us": the last step
   at or before it).  A bare number is refused: it could mean either.
   0, or -1 with a message. */
int mst_parse_at(const mst_run_t *r, const char *text, uint64_t *step, char *err, size_t errlen);

/* ---- the machine at a step ---- */

#define MST_MAX_FRAMES 8

typedef struct mst_frame {
  trc_frame_t kind;     /* THREAD or IDLE at the bottom; APC, DPC, ISR above */
  uint32_t thread;      /* the thread (running, or interrupted) */
  uint32_t device, irp; /* an ISR's or DPC's device and IRP, 0 = none */
  const char *name;     /* a DPC's or APC's name, NULL */
  uint64_t since;       /* the step it began */
} mst_frame_t;

typedef struct mst_dpc {
  const char *name;
  uint32_t device, irp;
  uint64_t queued; /* step */
} mst_dpc_t;

typedef struct mst_cpu {
  int irql;
  int depth;                         /* frames in use, >= 1 */
  mst_frame_t frame[MST_MAX_FRAMES]; /* [0] the bottom */
  mst_dpc_t *dpc;                    /* the DPC queue, head first */
  size_t ndpc, capdpc;
  uint64_t last; /* the last step on this CPU, 0 = none yet */
} mst_cpu_t;

typedef enum {
  MST_T_INIT,     /* not started yet */
  MST_T_READY,
  MST_T_RUNNING,
  MST_T_WAITING,  /* in a wait, a sleep or GetQueuedCompletionStatus */
  MST_T_TERMINATED
} mst_tstate_t;

typedef enum { MST_APC_SPECIAL, MST_APC_KERNEL, MST_APC_USER } mst_apc_kind_t;

typedef struct mst_apc {
  mst_apc_kind_t kind;
  const char *name;
  uint32_t irp;
  uint64_t queued;
} mst_apc_t;

typedef struct mst_thread {
  uint32_t id;
  mst_tstate_t state;
  int cpu;             /* running on, -1 */
  /* The wait it is in (state WAITING), or the one it last finished. */
  trc_kind_t wait_kind; /* TRC_WAIT, TRC_SLEEP or TRC_PORT_WAIT */
  int wait_count;       /* objects waited on */
  uint32_t wait_object; /* the first of them, 0 */
  uint32_t wait_port;   /* a port wait's port, 0 */
  uint64_t wait_step;   /* the step the wait began, 0 = never waited */
  bool woken;           /* woken (ready), not yet back from the wait */
  uint64_t done_step;   /* the step the last wait finished, 0 */
  int32_t done_status;  /* how it finished */
  uint32_t *irp;        /* its IRP list (IopQueueThreadIrp order: newest first) */
  size_t nirp, capirp;
  mst_apc_t *apc;       /* its APC queues, kernel and user, in queue order */
  size_t napc, capapc;
} mst_thread_t;

typedef struct mst_loc {
  bool filled;            /* set up for a driver (called into, or copied into) */
  bool walked;            /* passed by the completion walk, which cleared it */
  unsigned control;       /* SL_* bits */
  bool routine;           /* a completion routine is set here */
  uint32_t device;        /* the device called with this location */
  uint32_t routine_device;/* whose driver set the routine, 0 = the IRP's creator */
  int major, minor;       /* -1 = unknown */
  bool has_args;          /* the parameters are known (a read's or write's) */
  uint64_t length;        /* Parameters.Read/Write.Length */
  int64_t offset;         /* ByteOffset, -1 = none */
} mst_loc_t;

typedef struct mst_irp {
  uint32_t id;
  bool live;              /* allocated and not yet freed */
  int n, cur;             /* StackCount, CurrentLocation */
  mst_loc_t *loc;         /* [1..n] */
  bool walking, completed, stopped, cancel, cancel_routine, pending_returned;
  bool has_status, has_info;
  int32_t status;
  uint64_t info;
  int major;              /* -1 = unknown */
  uint32_t thread, file, master;
  uint32_t port;          /* a completion packet waits on this port, 0 */
  uint64_t alloc, freed;  /* steps, 0 = not (yet) */
  uint64_t last;          /* its last step */
  trc_irp_state_t outstanding; /* the end-of-run account's verdict, NONE before it */
} mst_irp_t;

typedef struct mst_packet {
  uint32_t irp;           /* 0: posted with PostQueuedCompletionStatus */
  uint64_t queued;
} mst_packet_t;

typedef struct mst_port {
  uint32_t id;
  bool created, closed;
  int running, limit;
  mst_packet_t *pk;
  size_t npk, cappk;
  uint32_t *waiter;       /* threads in GetQueuedCompletionStatus, oldest first */
  size_t nwaiter, capwaiter;
} mst_port_t;

typedef struct mst_object {
  uint32_t id;
  int signalled;          /* -1: not seen set or cleared yet */
  uint64_t changed;       /* the step that last set or cleared it */
} mst_object_t;

typedef struct mst mst_t;

mst_t *mst_new(const mst_run_t *r); /* at step 0: before the first step */
void mst_free(mst_t *m);
const mst_run_t *mst_run(const mst_t *m);
uint64_t mst_step(const mst_t *m);  /* the last step applied, 0 = none */
/* Applies the next step; false at the end of the run. */
bool mst_next(mst_t *m);
/* Moves to step `step` (clamped to the run): forwards by applying the
   steps between, backwards by replaying from the start. */
void mst_seek(mst_t *m, uint64_t step);

const mst_cpu_t *mst_cpu(const mst_t *m, int cpu); /* NULL outside 0..cpus-1 */
size_t mst_nthreads(const mst_t *m);
const mst_thread_t *mst_thread_at(const mst_t *m, size_t i); /* in id order */
const mst_thread_t *mst_thread(const mst_t *m, uint32_t id);
size_t mst_nirps(const mst_t *m); /* every IRP seen so far, live or freed */
const mst_irp_t *mst_irp_at(const mst_t *m, size_t i);
const mst_irp_t *mst_irp(const mst_t *m, uint32_t id);
size_t mst_nports(const mst_t *m);
const mst_port_t *mst_port_at(const mst_t *m, size_t i);
const mst_port_t *mst_port(const mst_t *m, uint32_t id);
const mst_object_t *mst_object(const mst_t *m, uint32_t id);

/* ---- views as text ---- */

/* "step #48 of 96 at 204.460 us: complete, CPU 0 DISPATCH dpc, IRP 2 (r1), disk0"
   (typed facts only; the step's detail is mst_run_event()->detail). */
void mst_print_step(const mst_t *m, FILE *out);
/* Every CPU: IRQL, frame stack (top first), DPC queue. */
void mst_print_cpus(const mst_t *m, FILE *out);
/* The DPC queues only (iosim dpcs). */
void mst_print_dpcs(const mst_t *m, FILE *out);
/* !thread: state, wait, IRP list, APC queues.  id 0: every thread. */
void mst_print_thread(const mst_t *m, uint32_t id, FILE *out);
/* !irp, with Args.  False when the IRP does not exist (yet) at this step. */
bool mst_print_irp(const mst_t *m, uint32_t id, FILE *out);
/* !irpfind: every live IRP, one a line, where it is. */
void mst_print_irpfind(const mst_t *m, FILE *out);
/* Ports with their packets and waiters.  id 0: every port. */
void mst_print_port(const mst_t *m, uint32_t id, FILE *out);
/* !devstack: the stack `device` belongs to, top first, with the IRPs at
   each device.  id 0: every stack. */
void mst_print_devstack(const mst_t *m, uint32_t id, FILE *out);

/* Everything at once: the step, the CPUs, the threads, the ports and each
   live IRP as !irp shows it (the HTML explorer's machine panel). */
void mst_print_machine(const mst_t *m, FILE *out);

/* ---- why: where a value came from ---- */

typedef enum {
  MST_F_STATUS,           /* IoStatus.Status */
  MST_F_INFORMATION,      /* IoStatus.Information */
  MST_F_PENDING_RETURNED,
  MST_F_CONTROL,          /* loc[k].Control */
  MST_F_CURRENT_LOCATION,
  MST_F_CANCEL,
  MST_F_EVENT,            /* an event object's state */
  MST_F_WAIT              /* a thread's wait */
} mst_field_t;

/* Parses "IoStatus.Status", "Status", "Information", "PendingReturned",
   "loc[2].Control", "CurrentLocation", "Cancel"; *loc gets the location
   for Control.  -1 when it is not one of them. */
int mst_field_parse(const char *text, mst_field_t *f, int *loc);

/* Prints where `field` of `id` (an IRP; an object for EVENT, a thread for
   WAIT) got the value it has at m's step, walking back through the steps
   that copied it (a completion routine copying a status from an IRP of its
   own, the walk moving a pending mark into PendingReturned, the I/O manager
   or a routine marking the location above pending) to its origin.
   Each line names a step and the routine (or driver) that did it.
   False (with a line saying so) when nothing set it. */
bool mst_why(const mst_t *m, mst_field_t field, uint32_t id, int loc, FILE *out);

#endif
