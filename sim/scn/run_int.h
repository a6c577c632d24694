/*
 * run_int.h - the state of one scenario run: the machine's named objects
 * (events, files, threads), the per-device state of scripted drivers, and
 * the interpreter entry points shared by interp.c and program.c.
 */
#ifndef IOSIM_RUN_INT_H
#define IOSIM_RUN_INT_H

#include "scn_int.h"

#define SCR_MAX_QUEUES 8
#define SCR_MAX_COUNTERS 16

#define SCR_QUEUE_CAP 256

/* A driver queue of a scripted driver.  Real drivers link IRPs through
   Tail.Overlay.ListEntry; a script may complete (and so free) an IRP it
   left queued - a driver bug to show, not a reason to corrupt the
   simulator - so the queue keeps (IRP, number) pairs and checks each one
   still exists when it is taken out. */
typedef struct scr_queue {
  const char *name;
  struct { PIRP irp; uint32_t id; } v[SCR_QUEUE_CAP];
  int n;
} scr_queue_t;

typedef struct scr_counter {
  const char *name;
  int64_t value;
} scr_counter_t;

/* A scripted driver as loaded into one run: what the run needs beside its
   declaration, which stays read-only so the parsed scenario can run again. */
typedef struct scr_driver {
  run_state_t *rs;
  const driver_decl_t *decl;
  FAST_IO_DISPATCH fastio; /* filled when the driver loads, if it has fastio routines */
  /* One slot per routine (routine_t.index). */
  const routine_t **slots;
  PDRIVER_OBJECT obj;
} scr_driver_t;

/* Which scripted cancel routine each IRP was given (set-cancel), by IRP
   number: a real cancel routine is its own code, and finds nothing it
   needs in the IRP - whose Tail.Overlay the stage-2 APC may already have
   overwritten when a racing completion got there first. */
typedef struct scr_cancel_of {
  uint32_t irp;
  const routine_t *r;
} scr_cancel_of_t;

/* The device extension of every scripted device. */
typedef struct scr_dev {
  run_state_t *rs;
  const device_decl_t *decl;
  const scr_driver_t *drv;
  scr_queue_t q[SCR_MAX_QUEUES];
  int nq;
  scr_counter_t c[SCR_MAX_COUNTERS];
  int nc;
} scr_dev_t;

/* The context of a completion routine set by a scripted driver. */
typedef struct scr_cctx {
  const routine_t *r;
  PDEVICE_OBJECT dev;
  PIRP orig;
  uint32_t orig_id;
  int64_t value;         /* set-completion ... context N */
  struct scr_cctx *next_free;
} scr_cctx_t;

typedef struct named_event {
  const char *name;
  KEVENT ev;
} named_event_t;

typedef struct named_file {
  const char *name;
  PFILE_OBJECT fo;
} named_file_t;

typedef struct named_port {
  const char *name;
  sim_port_t *port;
} named_port_t;

typedef struct named_req {
  const char *name;
  PIO_STATUS_BLOCK iosb;
  const unsigned char *buf; /* the program's buffer (a read's, an ioctl's output, a write's), or NULL */
  size_t len;
} named_req_t;

/* A C driver in a run: its shared object, opened for this run only. */
typedef struct cdrv {
  run_state_t *rs;
  const driver_decl_t *decl;
  void *handle;
  DRIVER_INITIALIZE *entry;
  NTSTATUS status;          /* what its DriverEntry returned */
  PDRIVER_OBJECT driver;
} cdrv_t;

/* Everything a run changes lives here (and in the machine), never in the
   parsed scenario. */
struct run_state {
  const scn_t *sc;
  sim_t *S;
  arena_t ar;
  scr_driver_t *drivers;
  int ndrivers;
  named_event_t *events;
  int nevents;
  named_file_t *files;       /* grow with vec.h; freed with the run */
  size_t nfiles, files_cap;
  named_port_t *ports;       /* every declared port, made before the run */
  int nports;
  /* each named request's I/O status block (its OVERLAPPED), for `cancel F R` */
  named_req_t *reqs;
  size_t nreqs, reqs_cap;
  scr_cctx_t *free_cctx;
  scr_cancel_of_t *cancel_of; /* grows with vec.h; freed with the run */
  size_t ncancel_of, cancel_of_cap;
  cdrv_t *cdrv;              /* the C drivers, opened before the run */
  int ncdrv;
  /* A machine built by the System thread (scenarios with C drivers) fails
     while running: why, for scn_run to report. */
  bool boot_failed;
  scn_error_t boot_err;
  /* drivers (NK_DRIVER: their scr_driver_t), devices (NK_DEVICE: the
     DEVICE_OBJECT), events and ports by name: setup stays linear */
  names_tab_t names;
};
/* The index + 1 in rs->reqs of the request named `name`, or 0. */
size_t rs_req(run_state_t *rs, const char *name);

KEVENT *rs_event(run_state_t *rs, const char *name);
PFILE_OBJECT rs_file(run_state_t *rs, const char *name);
DRIVER_INITIALIZE scr_driver_entry; /* its argument: the run's scr_driver_t */
void scr_setup_device(run_state_t *rs, PDEVICE_OBJECT dev, const device_decl_t *d);
SIM_THREAD_START scr_thread_main;

/* A machine that cannot be built as the scenario says: *err says where
   and why; returns SIM_EINVAL. */
int rs_build_error(scn_error_t *err, const loc_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* C drivers (cdrv_load.c, cdrv_guard.c). */
int cdrv_open_all(run_state_t *rs, scn_error_t *err);
void cdrv_close_all(run_state_t *rs);
cdrv_t *cdrv_of(run_state_t *rs, const driver_decl_t *d);
int cdrv_load(cdrv_t *c, scn_error_t *err);
int cdrv_device(cdrv_t *c, const device_decl_t *d, scn_error_t *err);
/* In the child process of scn_guard_begin: the drivers' files, so that a
   fault can be put down to one, and the sink keeping the last steps. */
bool scn_crash_recording(void);
void scn_crash_note_driver(const char *name, const char *file);
trc_sink_t scn_crash_sink(sim_t *S);

typedef struct scr_thread_arg {
  run_state_t *rs;
  const thread_decl_t *decl;
} scr_thread_arg_t;

#endif
