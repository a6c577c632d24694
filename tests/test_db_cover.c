/*
 * test_db_cover.c - the trace database (sim/db) where the lessons do not
 * go: the state views and `why` over hand-made runs (steps written one by
 * one through tracedb_record_event, as a program replaying a trace does)
 * whose odd corners a scenario cannot reach, whole views of lessons at
 * chosen moments, damaged and foreign databases and the refusal each
 * gets, merging, schedules and the reader's lookups.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iosim/state.h"
#include "iosim/tracedb.h"
#include "testlib.h"

/* The tables of steps below name only the facts each step has. */
#pragma GCC diagnostic ignored "-Woverride-init"
#define E(...) {TRC_EVENT_INIT, __VA_ARGS__}

/* ---- helpers ---- */

typedef struct tmp {
  char dir[64], path[96];
} tmp_t;

static void tmp_begin(tmp_t *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/iosim-dbcovXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/t.db", t->dir);
}

static void tmp_end(tmp_t *t) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* Runs SQL on a database file with SQLite itself (not through iosim). */
static void sql(const char *path, const char *text) {
  sqlite3 *h;
  ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
  char *msg = NULL;
  int rc = sqlite3_exec(h, text, NULL, NULL, &msg);
  ck_assert_msg(rc == SQLITE_OK, "%s: %s", text, msg ? msg : "?");
  sqlite3_close(h);
}

static void has(const char *text, const char *want) {
  ck_assert_msg(strstr(text, want) != NULL, "expected \"%s\" in:\n%s", want, text);
}

static void hasnt(const char *text, const char *want) {
  ck_assert_msg(strstr(text, want) == NULL, "did not expect \"%s\" in:\n%s", want, text);
}

/* A recorded run, loaded, with a machine on it. */
typedef struct rec {
  tmp_t t;
  tracedb_t *db;
  mst_run_t *r;
  mst_t *m;
} rec_t;

static void rec_load(rec_t *x, int64_t run) {
  char err[512];
  x->r = mst_load(x->db, run, err, sizeof err);
  ck_assert_msg(x->r != NULL, "%s", err);
  x->m = mst_new(x->r);
}

/* Runs a scenario into a fresh database and loads it. */
static void rec_scenario(rec_t *x, const char *scenario) {
  char err[1024];
  tmp_begin(&x->t);
  x->db = tracedb_open(x->t.path, err, sizeof err);
  ck_assert_msg(x->db != NULL, "%s", err);
  int64_t run = mst_record_scenario(x->db, scenario, NULL, false, 0, err, sizeof err);
  ck_assert_msg(run > 0, "%s", err);
  rec_load(x, run);
}

/* Writes `n` hand-made steps (numbered and timed here: step k at k us) as
   a run with no machine behind it, then `names` (the rows a machine would
   have left: threads, devices, drivers, IRPs, ports, objects of run 1),
   and loads it. */
static void rec_steps(rec_t *x, const trc_event_t *ev, size_t n, const char *names) {
  char err[512];
  tmp_begin(&x->t);
  x->db = tracedb_open(x->t.path, err, sizeof err);
  ck_assert_msg(x->db != NULL, "%s", err);
  ck_assert_int_eq(tracedb_begin_run(x->db, NULL, "hand-made.iosim", 0, 1), SIM_OK);
  for (size_t i = 0; i < n; i++) {
    trc_event_t e = ev[i];
    e.seq = i + 1;
    if (!e.t_ns) e.t_ns = 1000 * (i + 1);
    if (!e.detail) e.detail = "";
    ck_assert_int_eq(tracedb_record_event(x->db, &e), SIM_OK);
  }
  ck_assert_int_eq(tracedb_end_run(x->db, NULL, TRACEDB_OUTCOME_OK, NULL), SIM_OK);
  if (names) sql(x->t.path, names);
  rec_load(x, 0);
}

static void rec_end(rec_t *x) {
  mst_free(x->m);
  mst_run_free(x->r);
  tracedb_close(x->db);
  tmp_end(&x->t);
}

typedef enum { V_STEP, V_CPUS, V_DPCS, V_THREAD, V_IRP, V_IRPFIND, V_PORT, V_DEVSTACK, V_MACHINE } view_t;

/* A view at step `at` into a string (caller frees). */
static char *view_at(rec_t *x, uint64_t at, view_t v, uint32_t id) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(out);
  mst_seek(x->m, at);
  switch (v) {
  case V_STEP: mst_print_step(x->m, out); break;
  case V_CPUS: mst_print_cpus(x->m, out); break;
  case V_DPCS: mst_print_dpcs(x->m, out); break;
  case V_THREAD: mst_print_thread(x->m, id, out); break;
  case V_IRP: mst_print_irp(x->m, id, out); break;
  case V_IRPFIND: mst_print_irpfind(x->m, out); break;
  case V_PORT: mst_print_port(x->m, id, out); break;
  case V_DEVSTACK: mst_print_devstack(x->m, id, out); break;
  case V_MACHINE: mst_print_machine(x->m, out); break;
  }
  fclose(out);
  return buf;
}

static char *why_at(rec_t *x, uint64_t at, mst_field_t f, uint32_t id, int loc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  mst_seek(x->m, at);
  mst_why(x->m, f, id, loc, out);
  fclose(out);
  return buf;
}

/* ---- a hand-made run: CPUs, DPC queues, threads, APCs, waits, ports ---- */

#define T0 .cpu = 0, .frame = TRC_FRAME_THREAD, .thread = 1 /* app running on CPU 0 */

static const char machine_names[] =
    "INSERT INTO thread(run_id, id, name) VALUES(1, 1, 'app'), (1, 2, 'w1');"
    "INSERT INTO driver(run_id, id, name) VALUES(1, 1, 'disk'), (1, 2, 'vol');"
    "INSERT INTO device(run_id, id, name, driver_id, lower_id, stack_size) VALUES(1, 1, 'disk0', 1, NULL, 1),"
    " (1, 2, 'vol0', 2, 1, 2);"
    "INSERT INTO port(run_id, id, name) VALUES(1, 1, 'P');"
    "INSERT INTO object(run_id, id, name) VALUES(1, 1, 'ev');";

static const trc_event_t machine_steps[] = {
    /* 1 */ E(.kind = TRC_THREAD_CREATE, .cpu = -1, .target_thread = 2),
    /* 2 */ E(.kind = TRC_THREAD_START, T0, .target_thread = 1),
    /* 3: CPU 1 found in a DPC it was not seen entering */
    E(.kind = TRC_NOTE, .cpu = 1, .irql = 2, .frame = TRC_FRAME_DPC),
    /* 4 */ E(.kind = TRC_DPC_END, .cpu = 1, .frame = TRC_FRAME_DPC),
    /* 5-8: three DPCs for CPU 1 (the first nameless, for no device), one for CPU 0 */
    E(.kind = TRC_DPC_QUEUED, T0, .target_cpu = 1),
    E(.kind = TRC_DPC_QUEUED, T0, .device = 1, .service = "DiskDpc", .target_cpu = 1),
    E(.kind = TRC_DPC_QUEUED, T0, .device = 1, .service = "Other", .target_cpu = 1),
    E(.kind = TRC_DPC_QUEUED, T0, .device = 2, .service = "vol0"),
    /* 9: "Other" runs first: it went to the head of the queue */
    E(.kind = TRC_DPC_RUN, .cpu = 1, .irql = 2, .frame = TRC_FRAME_DPC, .device = 1, .service = "Other"),
    /* 10 */ E(.kind = TRC_DPC_END, .cpu = 1, .frame = TRC_FRAME_DPC),
    /* 11 */ E(.kind = TRC_DPC_RUN, .cpu = 1, .irql = 2, .frame = TRC_FRAME_DPC),
    /* 12 */ E(.kind = TRC_DPC_END, .cpu = 1, .frame = TRC_FRAME_DPC),
    /* 13: DiskDpc, its device not named: found by its name */
    E(.kind = TRC_DPC_RUN, .cpu = 1, .irql = 2, .frame = TRC_FRAME_DPC, .service = "DiskDpc"),
    /* 14 */ E(.kind = TRC_DPC_END, .cpu = 1, .frame = TRC_FRAME_DPC),
    /* 15: a timer's DPC, never queued in the trace */
    E(.kind = TRC_DPC_RUN, .cpu = 1, .irql = 2, .frame = TRC_FRAME_DPC, .service = "TimerDpc"),
    /* 16-23: interrupts nested deeper than the model keeps (8 frames) */
    E(.kind = TRC_ISR, .cpu = 0, .irql = 5, .frame = TRC_FRAME_ISR, .thread = 1, .device = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 6, .frame = TRC_FRAME_ISR, .thread = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 7, .frame = TRC_FRAME_ISR, .thread = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 8, .frame = TRC_FRAME_ISR, .thread = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 9, .frame = TRC_FRAME_ISR, .thread = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 10, .frame = TRC_FRAME_ISR, .thread = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 11, .frame = TRC_FRAME_ISR, .thread = 1),
    E(.kind = TRC_ISR, .cpu = 0, .irql = 12, .frame = TRC_FRAME_ISR, .thread = 1),
    /* 24-26: a special APC without a name, a normal and a user APC */
    E(.kind = TRC_APC_QUEUED, T0, .target_thread = 1, .count = 0),
    E(.kind = TRC_APC_QUEUED, T0, .target_thread = 1, .count = 1, .service = "KNormal"),
    E(.kind = TRC_APC_QUEUED, T0, .target_thread = 1, .count = 2, .service = "UserApc"),
    /* 27 */ E(.kind = TRC_APC_RUN, .cpu = 0, .irql = 1, .frame = TRC_FRAME_APC, .thread = 1, .target_thread = 1),
    /* 28 */ E(.kind = TRC_APC_END, .cpu = 0, .irql = 1, .frame = TRC_FRAME_APC, .thread = 1),
    /* 29: a rundown of an APC that is not queued */
    E(.kind = TRC_APC_RUNDOWN, .cpu = -1, .target_thread = 1, .service = "Nope"),
    /* 30-31: an APC for no thread */
    E(.kind = TRC_APC_RUN, .cpu = 0, .irql = 1, .frame = TRC_FRAME_APC, .thread = 1),
    E(.kind = TRC_APC_END, .cpu = 0, .irql = 1, .frame = TRC_FRAME_APC, .thread = 1),
    /* 32-33: w1 runs on CPU 1, then CPU 1 switches to nobody */
    E(.kind = TRC_THREAD_START, .cpu = 1, .frame = TRC_FRAME_THREAD, .thread = 2, .target_thread = 2),
    E(.kind = TRC_SWITCH, .cpu = 1, .frame = TRC_FRAME_IDLE),
    /* 34: a wait of nobody */
    E(.kind = TRC_WAIT, .cpu = -1),
    /* 35: app waits on objects the trace does not name */
    E(.kind = TRC_WAIT, T0, .target_thread = 1),
    /* 36-38: woken twice, and a wake for nobody */
    E(.kind = TRC_WAKE, .cpu = -1, .target_thread = 1, .has_status = 1, .status = 0x102),
    E(.kind = TRC_WAKE, .cpu = -1, .target_thread = 1),
    E(.kind = TRC_WAKE, .cpu = -1),
    /* 39-40: back from the wait, no status; a wait-done of nobody */
    E(.kind = TRC_WAIT_DONE, T0, .target_thread = 1),
    E(.kind = TRC_WAIT_DONE, .cpu = -1),
    /* 41: app waits on three objects, ev the first */
    E(.kind = TRC_WAIT, T0, .target_thread = 1, .count = 3, .object = 1),
    /* 42-43: ev set (from CPU 1's idle loop); an event-set of no object */
    E(.kind = TRC_EVENT_SET, .cpu = 1, .frame = TRC_FRAME_IDLE, .object = 1),
    E(.kind = TRC_EVENT_SET, .cpu = -1),
    /* 44-45: w1 sleeps and wakes */
    E(.kind = TRC_SLEEP, .cpu = 1, .frame = TRC_FRAME_THREAD, .thread = 2, .target_thread = 2),
    E(.kind = TRC_SLEEP_DONE, .cpu = 1, .frame = TRC_FRAME_THREAD, .thread = 2, .target_thread = 2,
      .has_status = 1, .status = 0),
    /* 46-47: w1 exits; a step in its frame after that does not revive it */
    E(.kind = TRC_THREAD_EXIT, .cpu = 1, .frame = TRC_FRAME_THREAD, .thread = 2, .target_thread = 2),
    E(.kind = TRC_NOTE, .cpu = 1, .frame = TRC_FRAME_THREAD, .thread = 2),
    /* 48: a step in app's frame while it waits does not make it run */
    E(.kind = TRC_NOTE, T0),
    /* 49-51: exits, IRP lists and APCs of nobody */
    E(.kind = TRC_THREAD_EXIT, .cpu = -1),
    E(.kind = TRC_IRP_QUEUE_THREAD, .cpu = -1, .irp = 4),
    E(.kind = TRC_APC_QUEUED, .cpu = -1, .count = 0),
    /* 52: a thread without a name starts, on no CPU */
    E(.kind = TRC_THREAD_START, .cpu = -1, .target_thread = 5),
    /* 53-56: the port, a port wait of nobody and one on no port, two posted packets */
    E(.kind = TRC_PORT_CREATED, .cpu = -1, .port = 1, .limit = 2),
    E(.kind = TRC_PORT_WAIT, .cpu = -1, .port = 1),
    E(.kind = TRC_PORT_WAIT, .cpu = -1, .thread = 5, .running = 1, .limit = 2),
    E(.kind = TRC_PORT_QUEUED, .cpu = -1, .port = 1, .count = 1),
    /* 57 */ E(.kind = TRC_PORT_QUEUED, .cpu = -1, .port = 1, .count = 2, .running = 0),
    /* 58: a dequeue naming an IRP not queued takes the first packet */
    E(.kind = TRC_PORT_DEQUEUED, .cpu = -1, .port = 1, .irp = 7),
    /* 59-60: the other packet freed; freeing again finds none */
    E(.kind = TRC_PORT_PACKET_FREED, .cpu = -1, .port = 1),
    E(.kind = TRC_PORT_PACKET_FREED, .cpu = -1, .port = 1),
    /* 61: IRP 8's packet: an IRP whose allocation the trace does not have */
    E(.kind = TRC_PORT_QUEUED, .cpu = -1, .port = 1, .irp = 8),
    /* 62-63: calls with IRPs the model cannot follow */
    E(.kind = TRC_CALL, T0, .irp = 8, .device = 1, .stack_location = 1),
    E(.kind = TRC_CALL, T0, .irp = 9, .device = 1, .stack_location = 1),
    /* 64 */ E(.kind = TRC_PORT_CLOSED, .cpu = -1, .port = 1),
    /* 65: a packet on a port whose creation the trace does not have */
    E(.kind = TRC_PORT_QUEUED, .cpu = -1, .port = 2),
};

static void machine_run(rec_t *x) {
  rec_steps(x, machine_steps, sizeof machine_steps / sizeof *machine_steps, machine_names);
  ck_assert_int_eq(mst_run_cpus(x->r), 2);
  ck_assert_str_eq(mst_run_scenario(x->r), "hand-made.iosim");
}

/* Prints every view at every step, for looking at them while writing the
   checks (IOSIM_DB_COVER_DUMP=1). */
static void dump(rec_t *x) {
  if (!getenv("IOSIM_DB_COVER_DUMP")) return;
  for (uint64_t s = 1; s <= mst_run_steps(x->r); s++) {
    char *t = view_at(x, s, V_MACHINE, 0);
    printf("==== %llu\n%s", (unsigned long long)s, t);
    free(t);
    t = view_at(x, s, V_DPCS, 0);
    printf("-- dpcs\n%s", t);
    free(t);
    t = view_at(x, s, V_IRPFIND, 0);
    printf("-- irpfind\n%s", t);
    free(t);
    t = view_at(x, s, V_DEVSTACK, 0);
    printf("-- devstack\n%s", t);
    free(t);
  }
}

typedef struct check {
  uint64_t at;
  view_t v;
  uint32_t id;
  const char *want; /* a part of the view; "!text": text must not be in it */
} check_t;

static void run_checks(rec_t *x, const check_t *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *t = view_at(x, c[i].at, c[i].v, c[i].id);
    if (c[i].want[0] == '!') ck_assert_msg(!strstr(t, c[i].want + 1), "check %zu (#%llu): \"%s\" in:\n%s", i,
                                           (unsigned long long)c[i].at, c[i].want + 1, t);
    else ck_assert_msg(strstr(t, c[i].want) != NULL, "check %zu (#%llu): no \"%s\" in:\n%s", i,
                       (unsigned long long)c[i].at, c[i].want, t);
    free(t);
  }
}

/* What the hand-made run shows, step by step. */
static const check_t machine_checks[] = {
    {0, V_STEP, 0, "step #0 of 65: before the first step\n"},
    {2, V_THREAD, 2, "THREAD w1 (2)  Initialized (not started)\n  IRP List: empty\n"},
    {2, V_THREAD, 9, "no thread 9 at this step\n"},
    /* A frame the CPU was not seen entering is pushed on its idle loop. */
    {3, V_CPUS, 0, "CPU 1  IRQL DISPATCH\n  frames (innermost first):\n    DPC ?  (since #3)\n    idle loop\n"},
    {3, V_DPCS, 0, "CPU 1 (running DPC ?)\n  DPC queue: empty\n"},
    {4, V_CPUS, 0, "CPU 1  IRQL PASSIVE\n  frames (innermost first):\n    idle loop\n"},
    /* Other ran first: the model puts it at the head when it is queued. */
    {8, V_DPCS, 0,
     "CPU 0\n  DPC queue (1, head first):\n    1. vol0, queued at #8\n"
     "CPU 1\n  DPC queue (3, head first):\n    1. Other for disk0, queued at #7\n"
     "    2. DPC, queued at #5\n    3. DiskDpc for disk0, queued at #6\n"},
    {9, V_DPCS, 0, "CPU 1 (running DPC Other)\n  DPC queue (2, head first):\n    1. DPC, queued at #5\n"},
    {11, V_DPCS, 0, "CPU 1 (running DPC ?)\n  DPC queue (1, head first):\n    1. DiskDpc for disk0, queued at #6\n"},
    {13, V_DPCS, 0, "CPU 1 (running DPC DiskDpc)\n  DPC queue: empty\n"},
    {15, V_STEP, 0, "step #15 of 65 at 15.000 us: dpc, CPU 1 DISPATCH dpc\n"},
    {15, V_DPCS, 0, "CPU 1 (running DPC TimerDpc)\n  DPC queue: empty\n"},
    /* Eight frames at most: the eighth interrupt is not kept. */
    {23, V_CPUS, 0,
     "CPU 0  IRQL DIRQL12\n  frames (innermost first):\n    ISR of ?  (since #22)\n    ISR of ?  (since #21)\n"
     "    ISR of ?  (since #20)\n    ISR of ?  (since #19)\n    ISR of ?  (since #18)\n    ISR of ?  (since #17)\n"
     "    ISR of disk0  (since #16)\n    thread app (1)  (since #2)\n"},
    {24, V_CPUS, 0, "CPU 0  IRQL PASSIVE\n  frames (innermost first):\n    thread app (1)  (since #2)\n"},
    {26, V_THREAD, 1,
     "  Kernel APC queue:\n    APC (special), queued at #24\n    KNormal (normal), queued at #25\n"
     "  User APC queue:\n    UserApc, queued at #26\n"},
    {27, V_CPUS, 0, "    APC ? in thread app (1)  (since #27)\n    thread app (1)  (since #2)\n"},
    {27, V_THREAD, 1, "  Kernel APC queue:\n    KNormal (normal), queued at #25\n"},
    {29, V_THREAD, 1, "  Kernel APC queue:\n    KNormal (normal), queued at #25\n  User APC queue:\n    UserApc"},
    {30, V_CPUS, 0, "    APC ? in thread none  (since #30)\n"},
    {31, V_CPUS, 0, "CPU 0  IRQL APC\n  frames (innermost first):\n    thread app (1)  (since #2)\n"},
    {32, V_THREAD, 2, "THREAD w1 (2)  Running on CPU 1\n"},
    {33, V_THREAD, 2, "THREAD w1 (2)  Ready\n"},
    {33, V_CPUS, 0, "CPU 1  IRQL PASSIVE\n  frames (innermost first):\n    idle loop  (since #33)\n"},
    {35, V_THREAD, 1, "THREAD app (1)  Waiting\n  Waiting on 0 object(s) since #35\n"},
    {36, V_THREAD, 1, "THREAD app (1)  Ready\n  Woken, not yet back from its wait on 0 object(s) since #35\n"},
    {38, V_THREAD, 1, "THREAD app (1)  Ready\n  Woken, not yet back from its wait on 0 object(s) since #35\n"},
    {39, V_THREAD, 1, "THREAD app (1)  Running on CPU 0\n  Last wait: 0 object(s), ended at #39 with STATUS_SUCCESS\n"},
    {41, V_THREAD, 1, "  Waiting on 3 object(s): ev (object 1) and 2 more since #41\n"},
    {42, V_THREAD, 1, "  Waiting on 3 object(s): ev (object 1) (SignalState 1) and 2 more since #41\n"},
    {44, V_THREAD, 2, "THREAD w1 (2)  Waiting\n  Waiting on a sleep (KeDelayExecutionThread) since #44\n"},
    {46, V_THREAD, 2,
     "THREAD w1 (2)  Terminated\n  Last wait: a sleep (KeDelayExecutionThread), ended at #45 with STATUS_SUCCESS\n"},
    {47, V_THREAD, 2, "THREAD w1 (2)  Terminated\n"},
    {48, V_THREAD, 1, "THREAD app (1)  Waiting\n"},
    {52, V_THREAD, 5, "THREAD thread 5  Running\n  IRP List: empty\n"},
    {52, V_PORT, 0, "no completion port at step #52\n"},
    {52, V_PORT, 1, "port P (1) is not created yet at step #52\n"},
    {53, V_PORT, 1, "PORT P (1)  concurrency 2, running 0\n  Packets: none queued\n  Waiting threads: none\n"},
    {55, V_THREAD, 5, "THREAD thread 5  Waiting\n  Waiting on GetQueuedCompletionStatus on port  since #55\n"},
    {57, V_PORT, 0,
     "PORT P (1)  concurrency 2, running 0\n  Packets:\n    1. a posted packet (no IRP), queued at #56\n"
     "    2. a posted packet (no IRP), queued at #57\n  Waiting threads: none\n"},
    {58, V_PORT, 0, "  Packets:\n    1. a posted packet (no IRP), queued at #57\n"},
    {60, V_PORT, 0, "  Packets: none queued\n"},
    {61, V_PORT, 0, "  Packets:\n    1. IRP 8, queued at #61\n"},
    /* IRP 8 came with its packet: nothing else is known of it. */
    {63, V_IRP, 8, "IRP 8 does not exist yet at step #63\n"},
    {63, V_IRPFIND, 0, "0 live IRPs at step #63\n"},
    {63, V_STEP, 0, "step #63 of 65 at 63.000 us: call-driver, CPU 0 PASSIVE thread, thread app (1), IRP 9, disk0\n"},
    {64, V_PORT, 1, "PORT P (1)  closed  concurrency 2, running 0\n  Packets: none queued\n"},
    {64, V_DEVSTACK, 0, "  !DevObj    !DrvObj              IRPs at it now\n  vol0       \\Driver\\vol          -\n"
                        "  disk0      \\Driver\\disk         -\n"},
    /* Two ports; the second's name and concurrency are not known. */
    {65, V_PORT, 0, "  Waiting threads: none\n\nPORT  (2)\n  Packets:\n    1. a posted packet (no IRP), queued at #65\n"},
    {65, V_PORT, 2, "PORT  (2)\n"},
    {65, V_PORT, 2, "!PORT P"},
    {64, V_DEVSTACK, 1, "  vol0       \\Driver\\vol          -\n> disk0      \\Driver\\disk         -\n"},
};

START_TEST(hand_made_machine) {
  rec_t x;
  machine_run(&x);
  dump(&x);
  run_checks(&x, machine_checks, sizeof machine_checks / sizeof *machine_checks);
  /* The whole machine at the end: the step, CPUs, threads, the port. */
  char *t = view_at(&x, 64, V_MACHINE, 0);
  has(t, "step #64 of 65 at 64.000 us: port-closed\n\nCPU 0  IRQL PASSIVE\n");
  has(t, "THREAD thread 5  Waiting\n");
  has(t, "\nPORT P (1)  closed");
  free(t);
  /* Lookups of the state model. */
  mst_seek(x.m, 64);
  ck_assert_ptr_nonnull(mst_cpu(x.m, 1));
  ck_assert_ptr_null(mst_cpu(x.m, 2));
  ck_assert_ptr_null(mst_cpu(x.m, -1));
  ck_assert_uint_eq(mst_nthreads(x.m), 3);
  ck_assert_uint_eq(mst_thread_at(x.m, 2)->id, 5);
  ck_assert_ptr_null(mst_thread_at(x.m, 3));
  ck_assert_ptr_null(mst_thread(x.m, 4));
  ck_assert_uint_eq(mst_nports(x.m), 1);
  ck_assert_ptr_nonnull(mst_port_at(x.m, 0));
  ck_assert_ptr_null(mst_port_at(x.m, 1));
  ck_assert_ptr_null(mst_port(x.m, 2));
  /* Past the end: the last step. */
  mst_seek(x.m, 1000);
  ck_assert_uint_eq(mst_step(x.m), 65);
  ck_assert(!mst_next(x.m));
  mst_free(NULL);
  ck_assert_ptr_null(mst_irp_at(x.m, 9));
  ck_assert_ptr_eq(mst_run(x.m), x.r);
  rec_end(&x);
}
END_TEST

/* ---- a hand-made run: IRPs, their stack locations, and why ---- */

#define C1 .cpu = 1, .irql = 2, .frame = TRC_FRAME_DPC /* CPU 1 in a DPC */

static const char irp_names[] =
    "INSERT INTO thread(run_id, id, name) VALUES(1, 1, 'app');"
    "INSERT INTO driver(run_id, id, name) VALUES(1, 1, 'disk'), (1, 2, 'vol');"
    "INSERT INTO device(run_id, id, name, driver_id, lower_id, stack_size) VALUES(1, 1, 'disk0', 1, NULL, 1),"
    " (1, 2, 'vol0', 2, 1, 2);"
    "INSERT INTO object(run_id, id, name) VALUES(1, 1, 'ev'), (1, 2, 'ev2');"
    "INSERT INTO irp(run_id, id, tag, major, major_code, thread, stack_count, issued_ns, completed, freed)"
    " VALUES(1, 1, 'r1', 'IRP_MJ_READ', 3, 1, 3, 4000, 0, 0);";

static const trc_event_t irp_steps[] = {
    /* 1 */ E(.kind = TRC_THREAD_START, T0, .target_thread = 1),
    /* 2-3: a create's parameters, replaced by a read's before any IRP */
    E(.kind = TRC_SYSCALL, T0, .major = 0, .service = "NtCreateFile"),
    E(.kind = TRC_SYSCALL, T0, .major = 3, .count = 4096, .offset = 512, .service = "NtReadFile"),
    /* 4: r1 gets them in its top location */
    E(.kind = TRC_IRP_ALLOC, T0, .irp = 1, .stack_size = 3),
    /* 5-6: a create without a length; IRP 2, one location (no size in the step), no row */
    E(.kind = TRC_SYSCALL, T0, .major = 0, .service = "NtCreateFile"),
    E(.kind = TRC_IRP_ALLOC, T0, .irp = 2),
    /* 7 */ E(.kind = TRC_SYSCALL_RETURN, T0),
    /* 8: IRP 3, associated with r1, a stack size past any IRP's */
    E(.kind = TRC_IRP_ALLOC, .cpu = -1, .irp = 3, .stack_size = 300, .target_irp = 1),
    /* 9 */ E(.kind = TRC_CALL, T0, .irp = 1, .stack_location = 3, .device = 2, .major = 3, .minor = 2),
    /* 10-12: copies: into location 2, out of range, and from no location */
    E(.kind = TRC_COPY_STACK, T0, .irp = 1, .stack_location = 3, .device = 2, .loc_from = 3, .loc_to = 2,
      .control = 0, .major = 3, .writes = TRC_W_CONTROL),
    E(.kind = TRC_COPY_STACK, T0, .irp = 1, .stack_location = 3, .device = 2, .loc_to = 9),
    E(.kind = TRC_COPY_STACK, T0, .irp = 1, .stack_location = 3, .device = 2, .loc_to = 1, .major = 3,
      .writes = TRC_W_CONTROL),
    /* 13-15: vol0 sets its routine; one out of range; the creator's on IRP 2 */
    E(.kind = TRC_SET_COMPLETION, T0, .irp = 1, .stack_location = 3, .device = 2, .loc_to = 2, .control = 0xe0,
      .routine_device = 2, .writes = TRC_W_CONTROL),
    E(.kind = TRC_SET_COMPLETION, T0, .irp = 1, .stack_location = 3, .loc_to = 9),
    E(.kind = TRC_SET_COMPLETION, T0, .irp = 2, .loc_to = 1),
    /* 16-18: r1 to disk0; a call with no location; IRP 3 to disk0 */
    E(.kind = TRC_CALL, T0, .irp = 1, .stack_location = 2, .device = 1),
    E(.kind = TRC_CALL, T0, .irp = 1, .device = 1),
    E(.kind = TRC_CALL, .cpu = -1, .irp = 3, .stack_location = 1, .device = 1, .major = 4),
    /* 19-20: disk0 marks r1 pending (no Control in the step); a mark naming no location */
    E(.kind = TRC_MARK_PENDING, T0, .irp = 1, .stack_location = 2, .device = 1, .loc_to = 2, .writes = TRC_W_CONTROL),
    E(.kind = TRC_MARK_PENDING, T0, .irp = 1),
    /* 21-24: app's IRP list: IRP 2, one the trace never allocated, IRP 3 (freed) */
    E(.kind = TRC_IRP_QUEUE_THREAD, T0, .irp = 2, .target_thread = 1),
    E(.kind = TRC_IRP_QUEUE_THREAD, T0, .irp = 9, .target_thread = 1),
    E(.kind = TRC_IRP_QUEUE_THREAD, T0, .irp = 3, .target_thread = 1),
    E(.kind = TRC_IRP_FREE, .cpu = -1, .irp = 3),
    /* 25-29: disk0 completes r1; vol0's routine marks it pending and takes it back */
    E(.kind = TRC_COMPLETE, C1, .irp = 1, .stack_location = 2, .device = 1, .has_status = 1, .has_info = 1,
      .info = 4096),
    E(.kind = TRC_COMPLETION_CALL, C1, .irp = 1, .stack_location = 3, .loc_from = 2, .routine_device = 2,
      .pending_returned = 1, .has_status = 1, .writes = TRC_W_PENDING_RETURNED),
    E(.kind = TRC_MARK_PENDING, C1, .irp = 1, .loc_to = 3, .control = 1, .writes = TRC_W_CONTROL),
    E(.kind = TRC_COMPLETION_RETURN, C1, .irp = 1, .stack_location = 2, .has_status = 1,
      .status = (int32_t)STATUS_MORE_PROCESSING_REQUIRED),
    E(.kind = TRC_WALK_STOPPED, C1, .irp = 1, .stack_location = 3),
    /* 30-32: a cancel routine step that does not say; r1 cancelled in a service */
    E(.kind = TRC_SET_CANCEL, T0, .irp = 1),
    E(.kind = TRC_SYSCALL, T0),
    E(.kind = TRC_CANCEL, T0, .irp = 1, .writes = TRC_W_CANCEL | TRC_W_CANCEL_ROUTINE),
    /* 33-36: IRP 2 completed; its creator's routine takes it back; stage 2 */
    E(.kind = TRC_COMPLETE, .cpu = -1, .irp = 2, .stack_location = 1, .has_status = 1, .status = (int32_t)0xC0000001),
    E(.kind = TRC_COMPLETION_CALL, .cpu = -1, .irp = 2, .stack_location = 2),
    E(.kind = TRC_WALK_STOPPED, .cpu = -1, .irp = 2, .stack_location = 2),
    E(.kind = TRC_STAGE2, .cpu = -1, .irp = 2, .has_status = 1, .status = (int32_t)0xC0000001),
    /* 37 */ E(.kind = TRC_IRP_OUTSTANDING, .cpu = -1, .irp = 1, .irp_state = TRC_IRPST_DRIVER),
    /* 38-41: IRP 4: its completion routine changes the status the walk reports */
    E(.kind = TRC_IRP_ALLOC, .cpu = -1, .irp = 4, .stack_size = 1),
    E(.kind = TRC_COMPLETE, C1, .irp = 4, .stack_location = 1, .device = 1, .has_status = 1),
    E(.kind = TRC_COMPLETION_CALL, C1, .irp = 4, .stack_location = 2, .routine_device = 1, .has_status = 1),
    E(.kind = TRC_WALK_DONE, C1, .irp = 4, .has_status = 1, .status = (int32_t)0xC0000001, .writes = TRC_W_STATUS),
    /* 42-43: IRP 5: a status first seen in stage 2 */
    E(.kind = TRC_IRP_ALLOC, .cpu = -1, .irp = 5, .stack_size = 1),
    E(.kind = TRC_STAGE2, .cpu = -1, .irp = 5, .has_status = 1, .status = 0x103, .writes = TRC_W_STATUS),
    /* 44: PendingReturned set by a step that names no location left */
    E(.kind = TRC_PENDING_PROPAGATED, .cpu = -1, .irp = 4, .loc_from = -1, .pending_returned = 1,
      .writes = TRC_W_PENDING_RETURNED),
    /* 45-48: events: set after disk0's operation (a step on CPU 1 between), cleared in an ISR, set idle */
    E(.kind = TRC_OP, T0, .device = 1, .text = "poke"),
    E(.kind = TRC_NOTE, .cpu = 1),
    E(.kind = TRC_EVENT_SET, T0, .object = 1),
    E(.kind = TRC_EVENT_CLEAR, .cpu = 0, .irql = 5, .frame = TRC_FRAME_ISR, .thread = 1, .object = 2),
    /* 49 */ E(.kind = TRC_EVENT_SET, .cpu = -1, .object = 3),
    /* 50-53: app waits on nothing named, is woken, returns, sleeps */
    E(.kind = TRC_WAIT, T0, .target_thread = 1, .count = 1),
    E(.kind = TRC_WAKE, .cpu = -1, .target_thread = 1),
    E(.kind = TRC_WAIT_DONE, T0, .target_thread = 1, .has_status = 1),
    E(.kind = TRC_SLEEP, T0, .target_thread = 1),
    /* 54-57: app waits on ev (set), is woken with a status; then waits on ev2 (cleared) */
    E(.kind = TRC_WAIT, T0, .target_thread = 1, .count = 1, .object = 1),
    E(.kind = TRC_WAKE, .cpu = 0, .irql = 2, .frame = TRC_FRAME_DPC, .target_thread = 1, .has_status = 1),
    E(.kind = TRC_WAIT_DONE, T0, .target_thread = 1, .has_status = 1, .object = 9),
    E(.kind = TRC_WAIT, T0, .target_thread = 1, .count = 2, .object = 2),
};

static void irp_run(rec_t *x) { rec_steps(x, irp_steps, sizeof irp_steps / sizeof *irp_steps, irp_names); }

typedef struct why_check {
  uint64_t at;
  mst_field_t f;
  uint32_t id;
  int loc;
  const char *want;
} why_check_t;

static void run_why_checks(rec_t *x, const why_check_t *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *t = why_at(x, c[i].at, c[i].f, c[i].id, c[i].loc);
    if (getenv("IOSIM_DB_COVER_DUMP")) printf("==== why %zu\n%s", i, t);
    ck_assert_msg(strstr(t, c[i].want) != NULL, "why %zu (#%llu): no \"%s\" in:\n%s", i,
                  (unsigned long long)c[i].at, c[i].want, t);
    free(t);
  }
}

static const why_check_t irp_whys[] = {
    {53, MST_F_STATUS, 1, 0,
     "IRP 1 (r1) IoStatus.Status = STATUS_SUCCESS after step #53:\n  #25    25.000 us    complete             "
     "IoCompleteRequest by disk0 (\\Driver\\disk) in a DPC on CPU 1: the driver set the status before completing the IRP (origin)\n"},
    {53, MST_F_CONTROL, 1, 1,
     "IRP 1 (r1) loc[1].Control = 00 after step #53:\n  #12    12.000 us    copy-stack           "
     "IoCopyCurrentIrpStackLocationToNext by vol0 (\\Driver\\vol): Control = 00 (pending and invoke-on bits are not copied) (origin)\n"},
    /* vol0's routine copied the mark up from PendingReturned, which the walk took from location 2, which disk0 marked. */
    {53, MST_F_CONTROL, 1, 3,
     "IRP 1 (r1) loc[3].Control = 01 after step #53:\n  #27    27.000 us    mark-pending         "
     "IoMarkIrpPending by vol0 (\\Driver\\vol) in a DPC on CPU 1,\n         in its completion routine (step #26): "
     "`if (Irp->PendingReturned) IoMarkIrpPending(Irp)` copies the mark up\n"
     "IRP 1 (r1) PendingReturned = 1 after step #26:\n  #26    26.000 us    completion-routine   the completion walk "
     "(IoCompleteRequest) in a DPC on CPU 1 left location 2 and took its SL_PENDING_RETURNED bit into PendingReturned = 1\n"
     "IRP 1 (r1) loc[2].Control = e1 after step #25:\n  #19    19.000 us    mark-pending         "
     "IoMarkIrpPending by disk0 (\\Driver\\disk) in thread app on CPU 0: the driver returns STATUS_PENDING (origin)\n"},
    {53, MST_F_CONTROL, 1, 9, "IRP 1 (r1) loc[9].Control = (not set) after step #53:\n  nothing set it by then\n"},
    {53, MST_F_CANCEL, 1, 0,
     "IoCancelIrp in thread app on CPU 0, in a system service (step #31): Cancel = 1 (origin)\n"},
    {53, MST_F_STATUS, 4, 0,
     "IRP 4 IoStatus.Status = STATUS_UNSUCCESSFUL after step #53:\n  #41    41.000 us    walk-done            "
     "the completion routine of disk0 (\\Driver\\disk) (called at step #40) changed the status (origin)\n"},
    {53, MST_F_STATUS, 5, 0,
     "IRP 5 IoStatus.Status = STATUS_PENDING after step #53:\n  #43    43.000 us    stage2               first seen here (origin)\n"},
    {53, MST_F_PENDING_RETURNED, 4, 0,
     "#44    44.000 us    pending-propagated   the completion walk (IoCompleteRequest) in the idle loop set PendingReturned = 1\n"},
    {53, MST_F_STATUS, 8, 0, "IRP 8 IoStatus.Status = (not set) after step #53:\n  nothing set it by then\n"},
    /* What ran last on the event's CPU names the setter. */
    {53, MST_F_EVENT, 1, 0,
     "event ev (object 1) state = signalled after step #53:\n  #47    47.000 us    event-set            "
     "KeSetEvent in thread app on CPU 0, by disk0 (\\Driver\\disk) (origin)\n"},
    {53, MST_F_EVENT, 2, 0, "#48    48.000 us    event-clear          KeClearEvent in an ISR on CPU 0, by disk0"},
    {53, MST_F_EVENT, 3, 0,
     "event ? (object 3) state = signalled after step #53:\n  #49    49.000 us    event-set            KeSetEvent in the "
     "idle loop, by stage 2 (IopCompleteRequest) of IRP 5: the requester's event (origin)\n"},
    {50, MST_F_WAIT, 1, 0, "thread app (1) wait after step #50:\n  #50    50.000 us    wait                 app began to wait (on its objects)\n"},
    {51, MST_F_WAIT, 1, 0, "#51    51.000 us    wake                 app was woken (?) in the idle loop\n"},
    {52, MST_F_WAIT, 1, 0, "#52    52.000 us    wait-done            app's wait ended with STATUS_SUCCESS\n"},
    {53, MST_F_WAIT, 1, 0, "#53    53.000 us    sleep                app began to wait (a sleep)\n"},
    {53, MST_F_WAIT, 7, 0, "thread ? (7) wait after step #53:\n  nothing set it by then\n"},
    {54, MST_F_WAIT, 1, 0,
     "app began to wait (on its objects); the first object, ev, is signalled at step #54\n"
     "event ev (object 1) state = signalled after step #54:\n  #47 "},
    {55, MST_F_WAIT, 1, 0, "app was woken (STATUS_SUCCESS) in a DPC on CPU 0\n"},
    {56, MST_F_WAIT, 1, 0, "app's wait ended with STATUS_SUCCESS: its object is signalled\nevent ? (object 9)"},
    {57, MST_F_WAIT, 1, 0, "app began to wait (on its objects); the first object, ev2, is not signalled at step #57\n"},
    {53, MST_F_CURRENT_LOCATION, 1, 0,
     "IRP 1 (r1) CurrentLocation = 3 after step #53:\n  #26    26.000 us    completion-routine   the completion walk moved "
     "the IRP up to location 3 in a DPC on CPU 1 (origin)\n"},
    {53, MST_F_INFORMATION, 2, 0, "IRP 2 IoStatus.Information = (not set) after step #53:\n  nothing set it by then\n"},
};

static const check_t irp_checks[] = {
    {4, V_IRPFIND, 0, "1 live IRP at step #4\n  IRP        major                  thread         allocated where\n"
                      "  1 (r1)     IRP_MJ_READ            app (1)        #4        with its creator, not sent yet\n"},
    {8, V_IRPFIND, 0,
     "  2          IRP_MJ_CREATE          -              #6        with its creator, not sent yet\n"
     "  3          IRP_MJ_?               -              #8        with its creator, not sent yet\n"},
    {8, V_IRP, 3, "IRP 3 of run 1, as of 8.000 us (after step #8, irp-alloc; the IRP's last step: #8)\n"
                  "Irp is active with 1 stacks 2 is current (not yet passed to a driver)\n"
                  " IRP_MJ_?  Thread none  File none  Master IRP 1\n"},
    /* The read's parameters reach the locations it is copied into. */
    {15, V_IRP, 1,
     " [IRP_MJ_READ(3), N/A(0)]\n            0 e0 -        -        vol0's routine     Success Error Cancel\n"
     "\t       \\Driver\\?\tcompletion routine of \\Driver\\vol (vol0)\n"
     "\t\t\tArgs: 00001000 00000000 00000200 00000000\t(Length 4096, ByteOffset 512)\n"
     ">[IRP_MJ_READ(3), N/A(2)]\n            0  0 vol0     -        -\n\t       \\Driver\\vol\n"},
    {15, V_IRP, 1, " [IRP_MJ_READ(3), N/A(0)]\n            0  0 -        -        -\n"
                   "\t\t\tArgs: not in the trace (set up by a driver)\n"},
    {15, V_IRP, 2, " [N/A(0), N/A(0)]\n            0  0 -        -        creator's routine\n"
                   "\t       \\Driver\\?\tcompletion routine of the IRP's creator\n"},
    {18, V_IRPFIND, 0, "  3          IRP_MJ_WRITE           -              #8        at disk0, location 1\n"},
    {20, V_IRPFIND, 0, "  1 (r1)     IRP_MJ_READ            app (1)        #4        at disk0, location 2, marked pending\n"},
    {20, V_DEVSTACK, 1, "  vol0       \\Driver\\vol          -\n> disk0      \\Driver\\disk         1 (r1) pending, 3\n"},
    {24, V_THREAD, 1,
     "  IRP List:\n    3          IRP_MJ_WRITE           freed at #24\n    9          IRP_MJ_?               \n"
     "    2          IRP_MJ_CREATE          with its creator, not sent yet\n"},
    {27, V_IRP, 1,
     "            0  0 disk0    -        vol0's routine     (completed: cleared by the walk)\n"
     "\t       \\Driver\\disk\tcompletion routine of \\Driver\\vol (vol0)\n"
     "\t\t\tArgs: 00000000 00000000 00000000 00000000\n>[IRP_MJ_READ(3), N/A(2)]\n"
     "            0  1 vol0     -        -                  pending\n"},
    {27, V_IRPFIND, 0, "#4        being completed (walk at location 3)\n"},
    {29, V_IRP, 1, " PendingReturned 1  Cancel 0  CancelRoutine none  IoStatus STATUS_SUCCESS, Information 4096\n"
                   " The completion walk stopped: a routine returned STATUS_MORE_PROCESSING_REQUIRED and owns the IRP again\n"},
    {29, V_IRPFIND, 0, "#4        taken back by vol0's completion routine (walk stopped at location 3)\n"},
    {32, V_IRP, 1, " PendingReturned 1  Cancel 1  CancelRoutine none  "},
    {35, V_IRPFIND, 0, "  2          IRP_MJ_CREATE          -              #6        taken back by its creator's completion routine\n"},
    {36, V_IRP, 2, "IoStatus STATUS_UNSUCCESSFUL, Information 0\n"},
    {37, V_IRPFIND, 0, "(walk stopped at location 3) [end of run: driver]\n"},
    {33, V_IRP, 2, "Irp is active with 1 stacks 1 is current\n"},
    {33, V_IRP, 2, ">[N/A(0), N/A(0)]\n            0  0 -        -        creator's routine\n"},
    {20, V_MACHINE, 0, "\nIRP 1 (r1) of run 1, as of 20.000 us (after step #20, mark-pending; the IRP's last step: #20)\n"},
};

START_TEST(hand_made_irps) {
  rec_t x;
  irp_run(&x);
  dump(&x);
  run_checks(&x, irp_checks, sizeof irp_checks / sizeof *irp_checks);
  run_why_checks(&x, irp_whys, sizeof irp_whys / sizeof *irp_whys);
  /* `iosim irp`'s own replay of the same steps. */
  static const struct {
    uint32_t id;
    int rc;
    const char *want;
  } irps[] = {
      {1, SIM_OK, "IRP 1 (r1) of run 1, as of 37.000 us (after step 37, irp-outstanding)\n"
                  "Irp is active with 3 stacks 3 is current\n IRP_MJ_READ  Thread app (1)  File none  Master IRP none\n"
                  " PendingReturned 1  Cancel 1  CancelRoutine none  IoStatus STATUS_SUCCESS, Information 4096\n"
                  " The completion walk stopped: "},
      /* No irp row, and no size in its allocation step. */
      {2, SIM_EIO, "IRP 2 of run 1: its stack count is not in the trace"},
      /* A size past any IRP's (CCHAR StackSize) is not one. */
      {3, SIM_EIO, "IRP 3 of run 1: its stack count is not in the trace"},
  };
  for (size_t i = 0; i < sizeof irps / sizeof *irps; i++) {
    char *out = NULL, err[256] = "";
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int rc = tracedb_print_irp(x.db, 1, irps[i].id, INT64_MAX, f, err, sizeof err);
    fclose(f);
    if (getenv("IOSIM_DB_COVER_DUMP")) printf("==== print_irp %u\n%s%s\n", irps[i].id, out, err);
    ck_assert_msg(rc == irps[i].rc && strstr(rc == SIM_OK ? out : err, irps[i].want), "IRP %u: %d %s\n%s", irps[i].id,
                  rc, err, out);
    free(out);
  }
  rec_end(&x);
}
END_TEST

/* ---- the database itself: refusals, failed writes, damaged files ---- */

/* The first column of the first row of `query` on the file, as text ("" for none; caller frees). */
static char *one(const char *path, const char *query) {
  sqlite3 *h;
  ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
  sqlite3_stmt *st;
  ck_assert_msg(sqlite3_prepare_v2(h, query, -1, &st, NULL) == SQLITE_OK, "%s: %s", query, sqlite3_errmsg(h));
  char *v = strdup(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static void one_is(const char *path, const char *query, const char *want) {
  char *v = one(path, query);
  ck_assert_msg(!strcmp(v, want), "%s: '%s', not '%s'", query, v, want);
  free(v);
}

static const char lesson1[] = "../scenarios/lessons/01-sync-read.iosim";
static const char lesson2[] = "../scenarios/lessons/02-async-read.iosim";
static const char leaked[] = "../scenarios/bugs/irp-leaked.iosim";

/* Files an iosim of this schema version must not read or write, each
   made from a real trace, and what it says. */
START_TEST(refuses_other_versions) {
  static const struct {
    const char *edit;
    bool readonly;
    const char *want;
  } cases[] = {
      {"PRAGMA user_version = 1", true, "is an iosim trace of schema version 1, older than this iosim"},
      {"PRAGMA user_version = 1", false, "its steps have no typed columns; regenerate it with `iosim run SCENARIO --db "},
      {"PRAGMA user_version = 2", true, "is an iosim trace of schema version 2, older than this iosim"},
      {"PRAGMA user_version = 2", true, "(version 4): its steps have no irp_state column; regenerate it"},
      {"PRAGMA user_version = 3", false, "(version 4): its steps have no line column; regenerate it"},
      {"PRAGMA user_version = 5", true, "is an iosim trace of schema version 5, newer than this iosim"},
      {"PRAGMA user_version = 0", true, "carries the iosim application id but no schema version; refusing to read it"},
      {"PRAGMA user_version = 0", false, "carries the iosim application id but no schema version; refusing to use it"},
      {"PRAGMA application_id = 7", true, "is a SQLite database of another program (application_id 0x00000007, "},
      {"PRAGMA application_id = 7", false, "not an iosim trace; refusing to write to it"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tmp_t t;
    char err[512];
    tmp_begin(&t);
    tracedb_t *db = tracedb_open(t.path, err, sizeof err);
    ck_assert_msg(db != NULL, "%s", err);
    tracedb_close(db);
    sql(t.path, cases[i].edit);
    db = cases[i].readonly ? tracedb_open_readonly(t.path, err, sizeof err) : tracedb_open(t.path, err, sizeof err);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err, cases[i].want) && strstr(err, t.path), "case %zu: %s", i, err);
    tmp_end(&t);
  }
  /* An empty file is no trace to read; a missing one cannot be opened for reading. */
  tmp_t t;
  char err[512];
  tmp_begin(&t);
  FILE *f = fopen(t.path, "w");
  fclose(f);
  ck_assert_ptr_null(tracedb_open_readonly(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, "holds no iosim trace (it is empty)"), "%s", err);
  unlink(t.path);
  ck_assert_ptr_null(tracedb_open_readonly(t.path, err, sizeof err));
  ck_assert_msg(!strncmp(err, "cannot open ", 12), "%s", err);
  tmp_end(&t);
  ck_assert_str_eq(tracedb_errmsg(NULL), "no trace database");
  tracedb_close(NULL);
  mst_run_free(NULL);
}
END_TEST

/* A database whose tables refuse a write (a trigger raising an error, or
   a table dropped): the run is recorded as a trace error with SQLite's
   reason, and the caller gets it. */
START_TEST(failed_writes_mark_the_run) {
  static const struct {
    const char *scenario, *edit, *want;
  } cases[] = {
      {leaked, "CREATE TRIGGER no BEFORE INSERT ON driver BEGIN SELECT RAISE(ABORT, 'no drivers'); END",
       "trace database: driver: no drivers"},
      {leaked, "CREATE TRIGGER no BEFORE INSERT ON device BEGIN SELECT RAISE(ABORT, 'no devices'); END",
       "trace database: device: no devices"},
      {leaked, "CREATE TRIGGER no BEFORE INSERT ON thread BEGIN SELECT RAISE(ABORT, 'no threads'); END",
       "trace database: thread: no threads"},
      {leaked, "CREATE TRIGGER no BEFORE INSERT ON object BEGIN SELECT RAISE(ABORT, 'no objects'); END",
       "trace database: names: no objects"},
      {"../scenarios/lessons/10-iocp.iosim",
       "CREATE TRIGGER no BEFORE INSERT ON port BEGIN SELECT RAISE(ABORT, 'no ports'); END",
       "trace database: names: no ports"},
      {leaked, "CREATE TRIGGER no BEFORE INSERT ON irp BEGIN SELECT RAISE(ABORT, 'no IRPs'); END",
       "trace database: irp: no IRPs"},
      {lesson1, "CREATE TRIGGER no BEFORE INSERT ON expectation BEGIN SELECT RAISE(ABORT, 'no expectations'); END",
       "trace database: expectation: no expectations"},
      {leaked, "CREATE TRIGGER no BEFORE INSERT ON finding BEGIN SELECT RAISE(ABORT, 'no findings'); END",
       "trace database: finding: no findings"},
      {lesson1, "CREATE TRIGGER no BEFORE INSERT ON event WHEN new.seq = 5 BEGIN SELECT RAISE(ABORT, 'step 5'); END",
       "trace database: event: step 5"},
      {lesson1,
       "CREATE TRIGGER no BEFORE UPDATE ON run WHEN new.steps IS NOT NULL BEGIN SELECT RAISE(ABORT, 'no end'); END",
       "trace database: run: no end"},
      {lesson1, "DROP TABLE driver", "trace database: prepare: no such table: driver"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tmp_t t;
    char err[512];
    tmp_begin(&t);
    tracedb_t *db = tracedb_open(t.path, err, sizeof err);
    ck_assert_msg(db != NULL, "%s", err);
    sql(t.path, cases[i].edit);
    int64_t run = mst_record_scenario(db, cases[i].scenario, NULL, false, 0, err, sizeof err);
    ck_assert_msg(run == -1 && strstr(err, cases[i].want), "case %zu: run %lld: %s", i, (long long)run, err);
    tracedb_close(db);
    one_is(t.path, "SELECT outcome FROM run WHERE id = 1", "trace error");
    char *msg = one(t.path, "SELECT message FROM run WHERE id = 1");
    ck_assert_msg(strstr(msg, cases[i].want), "case %zu: %s", i, msg);
    free(msg);
    /* Nothing of the run but its row is left. */
    one_is(t.path, "SELECT count(*) FROM event", "0");
    tmp_end(&t);
  }
}
END_TEST

/* Records a scenario into a fresh file and closes it (the reader tests edit it). */
static void record_file(tmp_t *t, const char *scenario) {
  char err[1024];
  tmp_begin(t);
  tracedb_t *db = tracedb_open(t->path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  ck_assert_msg(mst_record_scenario(db, scenario, NULL, false, 0, err, sizeof err) == 1, "%s", err);
  tracedb_close(db);
}

/* Loads run 0 (the last) of a file: NULL with the message in err. */
static mst_run_t *load_file(const char *path, tracedb_t **db, char *err, size_t errlen) {
  *db = tracedb_open_readonly(path, err, errlen);
  ck_assert_msg(*db != NULL, "%s", err);
  return mst_load(*db, 0, err, errlen);
}

/* A damaged trace: what loads, loads; what cannot is refused with the reason. */
START_TEST(damaged_traces) {
  static const struct {
    const char *edit, *want; /* want NULL: it loads */
  } cases[] = {
      {"UPDATE event SET frame = 'bogus' WHERE seq = 1; UPDATE event SET kind = 'bogus' WHERE seq = 2;"
       "INSERT INTO thread(run_id, id, name) VALUES(1, 0, 'zero'), (1, 2000000, 'far')",
       NULL},
      {"UPDATE event SET seq = 999 WHERE seq = 3", "run 1: step 3 is numbered 999; the trace is not whole"},
      {"ALTER TABLE event RENAME TO steps", "cannot read the steps: no such table: event"},
      {"DROP TABLE port", "cannot read the run's names: no such table: port"},
      {"DROP TABLE run", "trace database: prepare: no such table: run"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tmp_t t;
    char err[512];
    record_file(&t, lesson2);
    sql(t.path, cases[i].edit);
    tracedb_t *db;
    mst_run_t *r = load_file(t.path, &db, err, sizeof err);
    if (cases[i].want) {
      ck_assert_ptr_null(r);
      ck_assert_msg(strstr(err, cases[i].want), "case %zu: %s", i, err);
    } else {
      ck_assert_msg(r != NULL, "case %zu: %s", i, err);
      /* An unknown frame is the idle loop, an unknown kind a note; names
         with ids no run has are left out. */
      ck_assert_int_eq(mst_run_event(r, 1)->frame, TRC_FRAME_IDLE);
      ck_assert_int_eq(mst_run_event(r, 2)->kind, TRC_NOTE);
      uint32_t id;
      ck_assert_int_eq(mst_find(r, MST_THREAD, "zero", &id, err, sizeof err), -1);
      ck_assert_str_eq(err, "run 1 has no thread named 'zero'; there are: app");
      mst_run_free(r);
    }
    tracedb_close(db);
    tmp_end(&t);
  }
  /* The run asked for by number, its table gone. */
  tmp_t t;
  char err[512];
  record_file(&t, lesson2);
  sql(t.path, "DROP TABLE run");
  tracedb_t *db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_ptr_null(mst_load(db, 1, err, sizeof err));
  ck_assert_str_eq(err, "trace database: runs: no such table: run");
  tracedb_close(db);
  tmp_end(&t);
}
END_TEST

/* What a command line names and --at, on a run with names missing. */
START_TEST(lookups) {
  tmp_t t;
  char err[512];
  record_file(&t, lesson2);
  sql(t.path, "DELETE FROM irp; DELETE FROM port");
  tracedb_t *db;
  mst_run_t *r = load_file(t.path, &db, err, sizeof err);
  ck_assert_msg(r != NULL, "%s", err);
  uint32_t id = 0;
  /* An IRP without its row is still known by its number from its steps. */
  ck_assert_int_eq(mst_find(r, MST_IRP, "2", &id, err, sizeof err), 0);
  ck_assert_uint_eq(id, 2);
  ck_assert_int_eq(mst_find(r, MST_IRP, "77", &id, err, sizeof err), -1);
  ck_assert_str_eq(err, "run 1 has no IRP 77");
  ck_assert_int_eq(mst_find(r, MST_THREAD, "1", &id, err, sizeof err), 0);
  ck_assert_int_eq(mst_find(r, MST_THREAD, "9", &id, err, sizeof err), -1);
  ck_assert_str_eq(err, "run 1 has no thread 9");
  ck_assert_int_eq(mst_find(r, MST_PORT, "P", &id, err, sizeof err), -1);
  ck_assert_str_eq(err, "run 1 has no port named 'P' (none has a name)");
  ck_assert_int_eq(mst_find(r, MST_OBJECT, "nothing", &id, err, sizeof err), -1);
  has(err, "run 1 has no object named 'nothing'; there are: ");
  /* An error message cut at its buffer's end stays a string. */
  char small[24];
  ck_assert_int_eq(mst_find(r, MST_DEVICE, "nothing", &id, small, sizeof small), -1);
  ck_assert_str_eq(small, "run 1 has no device nam");
  static const struct {
    const char *at, *want;
  } bad_at[] = {
      {"#", "--at #STEP needs a step number after '#' (#48), not '#'"},
      {"#x", "--at #STEP needs a step number after '#' (#48), not '#x'"},
      {"#-3", "--at #STEP needs a step number after '#' (#48), not '#-3'"},
      {"#+3", "--at #STEP needs a step number after '#' (#48), not '#+3'"},
      {"soon", "--at needs a step (#48) or a time with its unit (204.6us, 204600ns, 1.5ms), not 'soon'"},
      {"1e10s", "not '1e10s'"},
  };
  uint64_t step;
  for (size_t i = 0; i < sizeof bad_at / sizeof *bad_at; i++) {
    ck_assert_int_eq(mst_parse_at(r, bad_at[i].at, &step, err, sizeof err), -1);
    ck_assert_msg(strstr(err, bad_at[i].want), "%s: %s", bad_at[i].at, err);
  }
  ck_assert_int_eq(mst_parse_at(r, "2s", &step, err, sizeof err), 0);
  ck_assert_uint_eq(step, mst_run_steps(r));
  mst_run_free(r);
  tracedb_close(db);
  tmp_end(&t);
  /* Before the first step (a hand-made run whose first step is at 1 us,
     on no CPU: one CPU all the same). */
  static const trc_event_t steps[] = {E(.kind = TRC_NOTE, .cpu = -1), E(.kind = TRC_NOTE, .cpu = -1)};
  rec_t x;
  rec_steps(&x, steps, 2, NULL);
  ck_assert_int_eq(mst_parse_at(x.r, "500ns", &step, err, sizeof err), -1);
  ck_assert_str_eq(err, "--at 500ns: nothing has happened yet then (the first step is at 1000 ns)");
  ck_assert_int_eq(mst_run_cpus(x.r), 1);
  char *v = view_at(&x, 2, V_DEVSTACK, 0);
  ck_assert_str_eq(v, "no device in this run\n");
  free(v);
  v = view_at(&x, 2, V_STEP, 0);
  ck_assert_str_eq(v, "step #2 of 2 at 2.000 us: note\n");
  free(v);
  rec_end(&x);
  /* A run whose only CPU named is a DPC's target: that many CPUs. */
  static const trc_event_t dpc[] = {E(.kind = TRC_DPC_QUEUED, .cpu = 0, .target_cpu = 2, .service = "D")};
  rec_steps(&x, dpc, 1, NULL);
  ck_assert_int_eq(mst_run_cpus(x.r), 3);
  v = view_at(&x, 1, V_DPCS, 0);
  ck_assert_str_eq(v, "CPU 0\n  DPC queue: empty\nCPU 1\n  DPC queue: empty\nCPU 2\n  DPC queue (1, head first):\n"
                      "    1. D, queued at #1\n");
  free(v);
  rec_end(&x);
}
END_TEST

/* `iosim irp` (tracedb_print_irp) on damaged traces. */
START_TEST(print_irp_damaged) {
  static const struct {
    const char *edit;
    int64_t run;
    int rc;
    const char *want;
  } cases[] = {
      {"", 0, SIM_ENOENT, "there is no run 0 in this trace"},
      /* A stack count out of range: the allocation step says. */
      {"UPDATE irp SET stack_count = 999", 1, SIM_OK, "; its last state: 3 stacks "},
      {"UPDATE irp SET stack_count = 999; UPDATE event SET stack_size = NULL", 1, SIM_EIO,
       "IRP 2 of run 1: its stack count is not in the trace"},
      /* A location no IRP has is no location. */
      {"UPDATE event SET stack_location = 500 WHERE kind = 'call-driver'", 1, SIM_OK, "     cmd  flg cl Device"},
      {"DELETE FROM thread", 1, SIM_OK, " IRP_MJ_READ  Thread ? (1)  File "},
      {"DROP TABLE irp", 1, SIM_EIO, "trace database: prepare: no such table: irp"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tmp_t t;
    char err[512] = "";
    record_file(&t, lesson2);
    sql(t.path, cases[i].edit);
    tracedb_t *db = tracedb_open_readonly(t.path, err, sizeof err);
    ck_assert_msg(db != NULL, "%s", err);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int rc = tracedb_print_irp(db, cases[i].run, 2, INT64_MAX, f, err, sizeof err);
    fclose(f);
    ck_assert_msg(rc == cases[i].rc, "case %zu: %d: %s", i, rc, err);
    ck_assert_msg(strstr(rc == SIM_OK ? out : err, cases[i].want), "case %zu:\n%s%s", i, out, err);
    free(out);
    tracedb_close(db);
    tmp_end(&t);
  }
}
END_TEST

/* The reader's run lookups: a run whose writer still holds the file is
   being written, not lost; tags of a damaged file. */
START_TEST(reader_lookups) {
  tmp_t t;
  char err[512];
  record_file(&t, lesson2);
  sql(t.path, "UPDATE run SET outcome = 'running'");
  tracedb_t *db = tracedb_open_readonly(t.path, err, sizeof err);
  int64_t picked = 0;
  ck_assert_int_eq(tracedb_pick_run(db, 1, &picked, err, sizeof err), SIM_ESTATE);
  has(err, "run 1 never finished: the writer was killed (it kept ");
  /* Another process holds the write lock: its run is alive, still being
     written (its devices, threads and IRPs come at its end). */
  sqlite3 *w;
  ck_assert_int_eq(sqlite3_open(t.path, &w), SQLITE_OK);
  ck_assert_int_eq(sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  ck_assert_int_eq(tracedb_pick_run(db, 1, &picked, err, sizeof err), SIM_ESTATE);
  has(err, "run 1 is still being written (");
  sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(w);
  /* The reader still refuses to write after the probe. */
  ck_assert_int_eq(tracedb_record_run(db, "x.iosim", 0, 0, TRACEDB_OUTCOME_OK, NULL), SIM_ESTATE);
  ck_assert_int_eq(tracedb_pick_run(db, 1, &picked, err, sizeof err), SIM_ESTATE);
  tracedb_close(db);
  /* A writable handle probes the same way. */
  db = tracedb_open(t.path, err, sizeof err);
  ck_assert_int_eq(tracedb_pick_run(db, 1, &picked, err, sizeof err), SIM_ESTATE);
  has(err, "run 1 never finished");
  tracedb_close(db);
  db = tracedb_open_readonly(t.path, err, sizeof err);
  uint32_t irp = 0;
  ck_assert_int_eq(tracedb_find_irp(db, 1, "r1", &irp, err, sizeof err), SIM_OK);
  ck_assert_uint_eq(irp, 2);
  tracedb_close(db);
  sql(t.path, "DROP TABLE irp");
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_int_eq(tracedb_find_irp(db, 1, "r1", &irp, err, sizeof err), SIM_EIO);
  ck_assert_str_eq(err, "trace database: IRPs: no such table: irp");
  tracedb_close(db);
  tmp_end(&t);
  int64_t ns;
  ck_assert_int_eq(tracedb_parse_time("1e10s", &ns), -1);
}
END_TEST

/* A table replaced by a view whose rows cannot be computed (abs() of the
   smallest integer overflows): every query that reads it fails as it
   steps, and each reader says so. */
#define OVERFLOW "abs(-9223372036854775808)"

START_TEST(failing_rows) {
  tmp_t t;
  char err[512];
  uint32_t irp = 0;
  int64_t picked = 0;
  /* The thread names. */
  record_file(&t, lesson2);
  sql(t.path, "ALTER TABLE thread RENAME TO t0;"
              "CREATE VIEW thread AS SELECT run_id, " OVERFLOW " + id AS id, name, state FROM t0");
  tracedb_t *db;
  ck_assert_ptr_null(load_file(t.path, &db, err, sizeof err));
  ck_assert_str_eq(err, "cannot read the run's names: integer overflow");
  tracedb_close(db);
  tmp_end(&t);
  /* The IRP rows: looking one up, !irp. */
  record_file(&t, lesson2);
  sql(t.path, "ALTER TABLE irp RENAME TO i0;"
              "CREATE VIEW irp AS SELECT run_id, " OVERFLOW " + id AS id, tag, major, major_code, thread, file, master,"
              " stack_count, issued_ns, completed_ns FROM i0");
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_ptr_nonnull(db);
  ck_assert_int_eq(tracedb_find_irp(db, 1, "r1", &irp, err, sizeof err), SIM_EIO);
  ck_assert_str_eq(err, "trace database: IRPs: integer overflow");
  FILE *null = fopen("/dev/null", "w");
  ck_assert_int_eq(tracedb_print_irp(db, 1, 2, INT64_MAX, null, err, sizeof err), SIM_EIO);
  ck_assert_str_eq(err, "trace database: irp: integer overflow");
  fclose(null);
  tracedb_close(db);
  tmp_end(&t);
  /* The runs. */
  record_file(&t, lesson2);
  sql(t.path, "ALTER TABLE run RENAME TO r0;"
              "CREATE VIEW run AS SELECT " OVERFLOW " + id AS id, outcome, message, events FROM r0");
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_int_eq(tracedb_pick_run(db, 0, &picked, err, sizeof err), SIM_EIO);
  ck_assert_str_eq(err, "trace database: runs: integer overflow");
  tracedb_close(db);
  tmp_end(&t);
  /* A run left "running" whose steps cannot be counted. */
  record_file(&t, lesson2);
  sql(t.path, "UPDATE run SET outcome = 'running'; ALTER TABLE event RENAME TO e0;"
              "CREATE VIEW event AS SELECT " OVERFLOW " + run_id AS run_id FROM e0");
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_int_eq(tracedb_pick_run(db, 1, &picked, err, sizeof err), SIM_ESTATE);
  ck_assert_str_eq(err, "run 1 never finished: the writer was killed (it kept 0 steps, up to its last commit; run the "
                        "scenario again)");
  tracedb_close(db);
  tmp_end(&t);
  /* A run whose steps were all deleted: loaded empty, and --at says so. */
  record_file(&t, lesson2);
  sql(t.path, "DELETE FROM event");
  mst_run_t *r = load_file(t.path, &db, err, sizeof err);
  ck_assert_msg(r != NULL, "%s", err);
  ck_assert_uint_eq(mst_run_steps(r), 0);
  uint64_t step;
  ck_assert_int_eq(mst_parse_at(r, "5us", &step, err, sizeof err), -1);
  ck_assert_str_eq(err, "--at 5us: nothing has happened yet then (the first step is at 0 ns)");
  mst_run_free(r);
  tracedb_close(db);
  tmp_end(&t);
  /* An index where the schedule table would go. */
  record_file(&t, lesson2);
  sql(t.path, "CREATE INDEX schedule ON run(id)");
  db = tracedb_open(t.path, err, sizeof err);
  tracedb_schedule_t sch = {.token = "t", .role = "failure", .outcome = "ok", .strategy = "bounded", .bound = -1};
  ck_assert_int_eq(tracedb_record_schedule(db, 1, &sch), SIM_EIO);
  ck_assert_str_eq(tracedb_errmsg(db), "schedule table: there is already an index named schedule");
  tracedb_close(db);
  tmp_end(&t);
}
END_TEST

/* A long run (past TDB_DROP_MIN_ROWS steps, so it drops the event index
   while it writes) whose index cannot be built again: a table holds its
   name.  The run is a trace error, its steps rolled back. */
START_TEST(index_rebuild_fails) {
  tmp_t t;
  char err[512];
  tmp_begin(&t);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  tracedb_close(db);
  sql(t.path, "DROP INDEX event_by_irp; CREATE TABLE event_by_irp(x)");
  db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "long.iosim", 0, 0), SIM_OK);
  trc_event_t e = trc_event_make(TRC_NOTE);
  e.cpu = -1, e.detail = "";
  for (uint64_t i = 1; i <= 5000; i++) {
    e.seq = i, e.t_ns = i;
    ck_assert_int_eq(tracedb_record_event(db, &e), SIM_OK);
  }
  ck_assert_int_eq(tracedb_end_run(db, NULL, TRACEDB_OUTCOME_OK, NULL), SIM_EIO);
  ck_assert_str_eq(tracedb_errmsg(db), "trace database: building the event indexes: there is already a table named event_by_irp");
  tracedb_close(db);
  one_is(t.path, "SELECT outcome || ' ' || (SELECT count(*) FROM event) FROM run", "trace error 0");
  tmp_end(&t);
}
END_TEST

/* Ctrl-C while the run row cannot be finished: the step that saw it reports the failure. */
START_TEST(interrupt_cannot_finish) {
  tmp_t t;
  char err[512];
  tmp_begin(&t);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  sql(t.path, "CREATE TRIGGER no BEFORE UPDATE ON run WHEN new.outcome = 'interrupted'"
              " BEGIN SELECT RAISE(ABORT, 'not now'); END");
  volatile sig_atomic_t stop = 1;
  tracedb_watch_interrupt(db, &stop);
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "a.iosim", 0, 0), SIM_OK);
  trc_event_t e = trc_event_make(TRC_NOTE);
  e.seq = 1, e.detail = "";
  ck_assert_int_eq(tracedb_record_event(db, &e), SIM_EIO);
  ck_assert_str_eq(tracedb_errmsg(db), "trace database: run: not now");
  tracedb_close(db);
  tmp_end(&t);
}
END_TEST

/* ---- the writer's calls out of order, interruptions, outcomes ---- */

START_TEST(writer_api) {
  tmp_t t;
  char err[512];
  tmp_begin(&t);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  trc_event_t e = trc_event_make(TRC_NOTE);
  e.seq = 1;
  ck_assert_int_eq(tracedb_record_event(db, &e), SIM_ESTATE);
  ck_assert_str_eq(tracedb_errmsg(db), "no run is being recorded");
  ck_assert_int_eq(tracedb_end_run(db, NULL, TRACEDB_OUTCOME_OK, NULL), SIM_ESTATE);
  tracedb_abort_run(db, NULL, NULL, "nothing to abort");
  tracedb_abort_run(NULL, NULL, NULL, NULL);
  /* Run 1: begun twice, ended without saying how. */
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "a.iosim", 1, 2), SIM_OK);
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "a.iosim", 1, 2), SIM_ESTATE);
  ck_assert_str_eq(tracedb_errmsg(db), "run 1 is still being recorded");
  ck_assert_int_eq(tracedb_record_run(db, "b.iosim", 1, 2, TRACEDB_OUTCOME_BAD_INPUT, "x"), SIM_ESTATE);
  ck_assert_int_eq(tracedb_end_run(db, NULL, NULL, NULL), SIM_EINVAL);
  ck_assert_str_eq(tracedb_errmsg(db), "tracedb_end_run: no outcome and no result");
  /* A status without a name, a run-end step without an outcome, an
     operation that does not touch its IRP, a step without detail. */
  static const trc_event_t steps[] = {
      E(.kind = TRC_COMPLETE, .cpu = -1, .irp = 1, .has_status = 1, .status = 0x12345678, .detail = "d"),
      E(.kind = TRC_OP, .cpu = -1, .text = "op"),
      E(.kind = TRC_RUN_END, .cpu = -1),
  };
  for (size_t i = 0; i < 3; i++) {
    e = steps[i];
    e.seq = i + 1;
    ck_assert_int_eq(tracedb_record_event(db, &e), SIM_OK);
  }
  /* Aborted: the steps are kept, the run says why. */
  tracedb_abort_run(db, NULL, NULL, "stopped by the test");
  ck_assert_int_eq(tracedb_run_id(db), 1);
  one_is(t.path, "SELECT outcome || ': ' || message FROM run WHERE id = 1", "interrupted: stopped by the test");
  one_is(t.path, "SELECT status FROM event WHERE run_id = 1 AND seq = 1", "0x12345678");
  one_is(t.path, "SELECT touches_irp || '/' || detail || '/' || typeof(outcome) FROM event WHERE seq = 2", "0//null");
  one_is(t.path, "SELECT coalesce(machine_outcome, 'none') FROM run WHERE id = 1", "none");
  /* Run 2: the user presses Ctrl-C at its second step. */
  volatile sig_atomic_t stop = 0;
  tracedb_watch_interrupt(db, &stop);
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "a.iosim", 1, 2), SIM_OK);
  e = trc_event_make(TRC_NOTE);
  e.seq = 1, e.detail = "";
  ck_assert_int_eq(tracedb_record_event(db, &e), SIM_OK);
  stop = 1;
  e.seq = 2;
  ck_assert_int_eq(tracedb_record_event(db, &e), SIM_OK);
  ck_assert(tracedb_interrupted(db));
  e.seq = 3;
  ck_assert_int_eq(tracedb_record_event(db, &e), SIM_OK); /* ignored */
  ck_assert_int_eq(tracedb_end_run(db, NULL, TRACEDB_OUTCOME_OK, NULL), SIM_OK);
  one_is(t.path, "SELECT outcome || ': ' || message || ' (' || events || ')' FROM run WHERE id = 2",
         "interrupted: interrupted by the user after step 1 (1)");
  tracedb_watch_interrupt(db, NULL);
  /* Run 3: the handle closes with the run open. */
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "a.iosim", 1, 2), SIM_OK);
  tracedb_close(db);
  one_is(t.path, "SELECT outcome || ': ' || message FROM run WHERE id = 3",
         "interrupted: the trace database was closed before the run ended");
  /* A reader records nothing, and says so to the hooks. */
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "a.iosim", 1, 2), SIM_ESTATE);
  ck_assert_str_eq(tracedb_errmsg(db), "the trace database is open read-only");
  tracedb_hooks_t h = {.db = db, .scenario_path = "a.iosim"};
  ck_assert_int_eq(tracedb_hooks_fail(&h, TRACEDB_OUTCOME_BAD_INPUT, "bad"), SIM_ESTATE);
  ck_assert_int_eq(h.rc, SIM_ESTATE);
  ck_assert_str_eq(h.err, "the trace database is open read-only");
  /* The scenario runner's hooks: a run that cannot begin is not ended. */
  tracedb_hooks_t h2 = {.db = db, .scenario_path = "a.iosim"};
  tracedb_on_start(&h2, NULL);
  ck_assert_int_eq(h2.rc, SIM_ESTATE);
  ck_assert_str_eq(h2.err, "the trace database is open read-only");
  tracedb_on_finish(&h2, NULL, NULL);
  ck_assert_int_eq(h2.rc, SIM_ESTATE);
  tracedb_schedule_t sch = {.token = "t", .role = "failure", .outcome = "ok", .strategy = "bounded", .bound = -1};
  ck_assert_int_eq(tracedb_record_schedule(db, 1, &sch), SIM_ESTATE);
  tracedb_close(db);
  tmp_end(&t);
  /* The run outcome from the machine's and the expectations'. */
  scn_result_t r = {.expect_failed = 1};
  ck_assert_str_eq(tracedb_outcome(SIM_RUN_STOPPED, NULL), TRACEDB_OUTCOME_INTERRUPTED);
  ck_assert_str_eq(tracedb_outcome(SIM_RUN_OK, &r), TRACEDB_OUTCOME_EXPECT_FAILED);
  ck_assert_str_eq(tracedb_outcome(SIM_RUN_STALLED, NULL), TRACEDB_OUTCOME_STALLED);
  ck_assert_str_eq(tracedb_outcome(SIM_RUN_LIMIT, &r), TRACEDB_OUTCOME_LIMIT);
}
END_TEST

/* Schedules and merging. */
START_TEST(schedules_and_merge) {
  tmp_t a, b;
  char err[512];
  record_file(&a, lesson1);
  record_file(&b, lesson2);
  tracedb_t *db = tracedb_open(a.path, err, sizeof err);
  tracedb_schedule_t sch = {.token = "tok", .role = "bogus", .outcome = "ok", .strategy = "bounded", .bound = 2};
  ck_assert_int_eq(tracedb_record_schedule(db, 1, &sch), SIM_EIO);
  has(tracedb_errmsg(db), "trace database: schedule row: CHECK constraint failed");
  sch.role = "failure";
  ck_assert_int_eq(tracedb_record_schedule(db, 1, &sch), SIM_OK);
  tracedb_close(db);
  one_is(a.path, "SELECT token || ' ' || role || ' ' || bound FROM schedule", "tok failure 2");
  /* A view in the table's place. */
  sql(b.path, "CREATE VIEW schedule AS SELECT 1 AS run_id");
  db = tracedb_open(b.path, err, sizeof err);
  ck_assert_int_eq(tracedb_record_schedule(db, 1, &sch), SIM_EIO);
  has(tracedb_errmsg(db), "trace database: schedule row: cannot modify schedule because it is a view");
  tracedb_close(db);
  sql(b.path, "DROP VIEW schedule");
  /* Merging: b's run comes after a's; its schedule table is created. */
  tmp_t m;
  tmp_begin(&m);
  const char *in[] = {a.path, b.path};
  ck_assert_int_eq(tracedb_merge(m.path, in, 2, err, sizeof err), SIM_OK);
  one_is(m.path, "SELECT group_concat(id || ':' || scenario, ' ') FROM run",
         "1:../scenarios/lessons/01-sync-read.iosim 2:../scenarios/lessons/02-async-read.iosim");
  one_is(m.path, "SELECT run_id FROM schedule", "1");
  const char *self[] = {a.path, m.path};
  ck_assert_int_eq(tracedb_merge(m.path, self, 2, err, sizeof err), SIM_EINVAL);
  has(err, " is both the output and an input");
  /* An input with a column the output lacks: nothing of it is merged. */
  sql(b.path, "ALTER TABLE driver ADD COLUMN extra TEXT");
  ck_assert_int_eq(tracedb_merge(m.path, in + 1, 1, err, sizeof err), SIM_EIO);
  has(err, "driver has no column named extra");
  one_is(m.path, "SELECT count(*) FROM run", "2");
  /* Columns past what a merge copies. */
  char alter[200];
  for (int i = 0; i < 60; i++) {
    snprintf(alter, sizeof alter, "ALTER TABLE irp ADD COLUMN a_rather_long_column_name_number_%02d TEXT", i);
    sql(a.path, alter);
  }
  ck_assert_int_eq(tracedb_merge(m.path, in, 1, err, sizeof err), SIM_EIO);
  has(err, ": table irp has too many columns");
  /* An output that is not a trace. */
  FILE *f = fopen(m.path, "w");
  fputs("not a database, not at all, but long enough to look at: ................................", f);
  fclose(f);
  ck_assert_int_eq(tracedb_merge(m.path, in + 1, 1, err, sizeof err), SIM_EINVAL);
  has(err, "is not a SQLite database, so not an iosim trace; refusing to touch it");
  tmp_end(&m);
  tmp_end(&a);
  tmp_end(&b);
}
END_TEST

/* why follows at most 16 links: a pending mark propagated up 19
   locations is explained back 16 of them. */
START_TEST(why_stops_after_16_links) {
  trc_event_t steps[22];
  steps[0] = trc_event_make(TRC_IRP_ALLOC);
  steps[0].cpu = -1, steps[0].irp = 1, steps[0].stack_size = 20;
  steps[1] = trc_event_make(TRC_MARK_PENDING);
  steps[1].cpu = -1, steps[1].irp = 1, steps[1].loc_to = 1, steps[1].stack_location = 1, steps[1].device = 1;
  steps[1].control = 1, steps[1].writes = TRC_W_CONTROL;
  for (int k = 1; k <= 19; k++) {
    trc_event_t *e = &steps[k + 1];
    *e = trc_event_make(TRC_PENDING_PROPAGATED);
    e->cpu = -1, e->irp = 1, e->loc_from = k, e->loc_to = k + 1, e->control = 1, e->writes = TRC_W_CONTROL;
  }
  rec_t x;
  rec_steps(&x, steps, 21, "INSERT INTO device(run_id, id, name) VALUES(1, 1, 'low')");
  char *t = why_at(&x, 21, MST_F_CONTROL, 1, 20);
  has(t, "IRP 1 loc[20].Control = 01 after step #21:\n  #21    21.000 us    pending-propagated   the I/O manager propagated"
         " the pending mark: location 19 has no completion routine, so its\n         SL_PENDING_RETURNED is copied up to location 20\n");
  has(t, "IRP 1 loc[5].Control = 01 after step #6:\n");
  hasnt(t, "loc[4].Control");
  hasnt(t, "IoMarkIrpPending");
  free(t);
  /* From location 4 the chain reaches the mark. */
  t = why_at(&x, 21, MST_F_CONTROL, 1, 4);
  has(t, "#2     2.000 us     mark-pending         IoMarkIrpPending by low (\\Driver\\) in the idle loop: the driver returns"
         " STATUS_PENDING (origin)\n");
  free(t);
  rec_end(&x);
  mst_field_t f;
  int loc;
  ck_assert_int_eq(mst_field_parse("Bogus", &f, &loc), -1);
  ck_assert_int_eq(mst_field_parse("loc[0].Control", &f, &loc), -1);
  ck_assert_int_eq(mst_field_parse("loc[3].Controls", &f, &loc), -1);
  ck_assert_int_eq(mst_field_parse("loc[3].Control", &f, &loc), 0);
  ck_assert_int_eq(loc, 3);
}
END_TEST

START_TEST(record_scenario_errors) {
  tmp_t t;
  char err[1024];
  tmp_begin(&t);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_int_eq(mst_record_scenario(db, "no-such-scenario.iosim", NULL, false, 0, err, sizeof err), -1);
  has(err, "no-such-scenario.iosim:");
  /* A machine that cannot be built once the run began: bad input, with the message. */
  ck_assert_int_eq(mst_record_scenario(db, "fixtures/db-cover/failing-driver.iosim", "fixtures/scenarios", false, 0,
                                       err, sizeof err), -1);
  has(err, "fixtures/db-cover/failing-driver.iosim:2:8: driver f: its DriverEntry failed with ");
  tracedb_close(db);
  char *msg = one(t.path, "SELECT outcome || ': ' || message FROM run WHERE id = 1");
  has(msg, "bad input: driver f: its DriverEntry failed with ");
  free(msg);
  tmp_end(&t);
}
END_TEST

/* ---- whole views of lessons at chosen moments ---- */

/* The n-th step of `kind` (any IRP). */
static uint64_t nth(rec_t *x, trc_kind_t kind, int n) {
  for (uint64_t s = 1; s <= mst_run_steps(x->r); s++)
    if (mst_run_event(x->r, s)->kind == kind && --n == 0) return s;
  ck_abort_msg("no such step");
  return 0;
}

/* The machine panel, the live IRPs and the DPC queues of a lesson at the
   n-th step of `kind`, against tests/fixtures/db-cover/NAME.txt (checked
   by hand when written: IOSIM_DB_COVER_WRITE=1 writes it). */
static void golden(const char *lesson, trc_kind_t kind, int n, const char *name) {
  rec_t x;
  rec_scenario(&x, lesson);
  uint64_t at = nth(&x, kind, n);
  char *a = view_at(&x, at, V_MACHINE, 0), *b = view_at(&x, at, V_IRPFIND, 0), *c = view_at(&x, at, V_DPCS, 0),
       *d = view_at(&x, at, V_DEVSTACK, 0);
  char *got = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&got, &len);
  fprintf(f, "%s\n-- irpfind\n%s\n-- dpcs\n%s\n-- devstack\n%s", a, b, c, d);
  fclose(f);
  char path[200];
  snprintf(path, sizeof path, "fixtures/db-cover/%s.txt", name);
  if (getenv("IOSIM_DB_COVER_WRITE")) {
    FILE *w = fopen(path, "w");
    ck_assert_ptr_nonnull(w);
    fputs(got, w);
    fclose(w);
  }
  FILE *r = fopen(path, "r");
  ck_assert_msg(r != NULL, "%s: missing (IOSIM_DB_COVER_WRITE=1 writes it; check it by hand)", path);
  char *want = calloc(1, 1 << 20);
  size_t k = fread(want, 1, (1 << 20) - 1, r);
  want[k] = '\0';
  fclose(r);
  ck_assert_msg(!strcmp(got, want), "%s at step #%llu differs from %s:\n%s", lesson, (unsigned long long)at, path, got);
  free(want);
  free(got);
  free(a), free(b), free(c), free(d);
  rec_end(&x);
}

/* Lesson 15: the moment IoCancelIrp runs against a queued read. */
START_TEST(golden_cancel_race) { golden("../scenarios/lessons/15-cancel-queued.iosim", TRC_CANCEL, 1, "cancel-queued"); }
END_TEST

/* Lesson 12: a completion port with more packets than its concurrency lets run. */
START_TEST(golden_port) {
  golden("../scenarios/lessons/12-iocp-concurrency.iosim", TRC_PORT_DEQUEUED, 2, "iocp-concurrency");
}
END_TEST

/* Lesson 20: a HighImportance DPC queued at the head of a queue with another waiting. */
START_TEST(golden_dpc_queue) {
  golden("../scenarios/lessons/20-dpc-importance.iosim", TRC_DPC_QUEUED, 5, "dpc-importance");
}
END_TEST

TEST_SUITE(db_cover_suite)
static Suite *db_cover_suite(void) {
  Suite *s = suite_create("db_cover");
  TCase *tc = tcase_create("db_cover");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, hand_made_machine);
  tcase_add_test(tc, hand_made_irps);
  tcase_add_test(tc, refuses_other_versions);
  tcase_add_test(tc, failed_writes_mark_the_run);
  tcase_add_test(tc, damaged_traces);
  tcase_add_test(tc, lookups);
  tcase_add_test(tc, print_irp_damaged);
  tcase_add_test(tc, reader_lookups);
  tcase_add_test(tc, failing_rows);
  tcase_add_test(tc, index_rebuild_fails);
  tcase_add_test(tc, interrupt_cannot_finish);
  tcase_add_test(tc, writer_api);
  tcase_add_test(tc, schedules_and_merge);
  tcase_add_test(tc, why_stops_after_16_links);
  tcase_add_test(tc, record_scenario_errors);
  tcase_add_test(tc, golden_cancel_race);
  tcase_add_test(tc, golden_port);
  tcase_add_test(tc, golden_dpc_queue);
  suite_add_tcase(s, tc);
  return s;
}
