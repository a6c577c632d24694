/*
 * state_int.h - what the files of the machine-state model share (state.h):
 * the loaded run and the machine.  Only sim/db/state*.c include it.
 */
#ifndef IOSIM_STATE_INT_H
#define IOSIM_STATE_INT_H

#include "iosim/state.h"

/* One named thing of the run: a thread, device, port, object or IRP. */
typedef struct mst_name {
  const char *name;  /* NULL: no row */
  const char *extra; /* a device's driver; an IRP's major function name */
  int64_t a, b, c, d;/* device: lower, stack size; IRP: major code, thread, file, master */
} mst_name_t;

typedef struct mst_names {
  mst_name_t *v; /* indexed by id */
  size_t n, cap;
} mst_names_t;

struct mst_chunk {
  struct mst_chunk *next;
  char data[];
};

struct mst_run {
  int64_t run;
  int cpus;
  const char *scenario;
  trc_event_t *ev; /* ev[k - 1] is step k */
  size_t nev;
  mst_names_t threads, devices, ports, objects, irps;
  bool *dpc_head;           /* [step]: a dpc-queued step that went to the head of
                               its queue (a HighImportance DPC), found by dpc order */
  struct mst_chunk *chunks; /* the strings */
  char *pool;
  size_t pool_used, pool_cap;
};

const mst_name_t *mst_irp_row(const mst_run_t *r, uint32_t id);
/* Fills r->dpc_head: which DPCs were queued at the head of their queue. */
void mst_dpc_order(mst_run_t *r);

struct mst {
  const mst_run_t *r;
  uint64_t step;
  mst_cpu_t *cpu;
  int ncpu;
  mst_thread_t *thr; /* sorted by id */
  size_t nthr, capthr;
  mst_irp_t *irp;    /* sorted by id */
  size_t nirp, capirp;
  mst_port_t *port;
  size_t nport, capport;
  mst_object_t *obj;
  size_t nobj, capobj;
  /* The last system call's parameters per thread: the IRP it allocates
     next gets them as its top location's Args. */
  struct mst_pending_args {
    uint32_t thread;
    int major;
    uint64_t length;
    int64_t offset;
  } *args;
  size_t nargs, capargs;
};

/* "204.460 us" */
const char *mst_time(uint64_t ns, char buf[32]);

#endif
