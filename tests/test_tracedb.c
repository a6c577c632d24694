/*
 * test_tracedb.c - the SQLite trace database: a run of the asynchronous
 * read lesson (built in C like docs/examples/embed.c) is recorded, then the
 * file is opened with SQLite and its rows asserted; determinism, a run that
 * bugchecks, a killed or interrupted writer, files that must be refused,
 * and the !irp printer.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "iosim/sim.h"
#include "iosim/tracedb.h"
#include "testlib.h"
#include "typed_steps.h"

/* Past this many rows a run drops the event indexes (TDB_DROP_MIN_ROWS of
   sim/db/tracedb_int.h, for an empty file). */
#define TDB_TEST_DROP_ROWS 4096

/* ---- the machine: fs0 -> vol0 -> disk0, one overlapped read ---- */

/* How the disk misbehaves; owned by the test body, reached by the drivers
   through the disk's device extension. */
typedef struct disk_cfg {
  bool complete_twice;               /* the DPC completes the IRP twice (0x44) */
  volatile sig_atomic_t *interrupt;  /* set from the DPC: "Ctrl-C" mid-run */
} disk_cfg_t;

static NTSTATUS disk_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoMarkIrpPending(irp);
  sim_hw_start(dev->SimHardware, irp, sim_hw_latency(dev->SimHardware));
  return STATUS_PENDING;
}

static BOOLEAN disk_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  (void)ctx;
  IoRequestDpc(sim_hw_device(hw), irp, NULL);
  return TRUE;
}

static void disk_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)ctx;
  disk_cfg_t *cfg = *(disk_cfg_t **)dev->DeviceExtension;
  if (cfg->interrupt) *cfg->interrupt = 1;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
  IoCompleteRequest(irp, IO_DISK_INCREMENT);
  if (cfg->complete_twice) IoCompleteRequest(irp, IO_DISK_INCREMENT);
}

static NTSTATUS disk_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  PDEVICE_OBJECT dev;
  sim_create_device(drv, sizeof(disk_cfg_t *), "disk0", &dev);
  *(disk_cfg_t **)dev->DeviceExtension = arg;
  drv->MajorFunction[IRP_MJ_READ] = disk_read;
  IoInitializeDpcRequest(dev, disk_dpc);
  sim_hw_create(drv->Sim, dev, 200000, 0, 5, disk_isr, NULL); /* 200 us, CPU 0, DIRQL 5 */
  return STATUS_SUCCESS;
}

static NTSTATUS pass_create(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS vol_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoSkipCurrentIrpStackLocation(irp);
  return IoCallDriver(dev->SimLowerDevice, irp);
}

static NTSTATUS fs_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dev, (void)ctx;
  if (irp->PendingReturned) IoMarkIrpPending(irp);
  return STATUS_CONTINUE_COMPLETION;
}

static NTSTATUS fs_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoCopyCurrentIrpStackLocationToNext(irp);
  IoSetCompletionRoutine(irp, fs_done, NULL, TRUE, TRUE, TRUE);
  return IoCallDriver(dev->SimLowerDevice, irp);
}

static NTSTATUS layer_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  const char *const *names = arg; /* {device, lower device} */
  PDEVICE_OBJECT dev;
  sim_create_device(drv, 0, names[0], &dev);
  IoAttachDeviceToDeviceStack(dev, sim_find_device(drv->Sim, names[1]));
  drv->MajorFunction[IRP_MJ_CREATE] = pass_create;
  drv->MajorFunction[IRP_MJ_READ] = names[0][0] == 'f' ? fs_read : vol_read;
  return STATUS_SUCCESS;
}

static void app(PVOID arg) {
  PFILE_OBJECT f;
  KEVENT done;
  IO_STATUS_BLOCK iosb = {STATUS_PENDING, 0};
  LONGLONG offset = 0;
  NtCreateFile(&f, arg, 0, "data.bin");
  KeInitializeEvent(&done, NotificationEvent, FALSE);
  sim_name_object(&done, "done");
  NtReadFile(f, &done, NULL, NULL, &iosb, NULL, 4096, &offset);
  KeWaitForSingleObject(&done, UserRequest, UserMode, FALSE, NULL);
}

static const char *const vol_names[] = {"vol0", "disk0"}, *const fs_names[] = {"fs0", "vol0"};

static sim_t *build(uint64_t seed, disk_cfg_t *cfg) {
  sim_config_t c = {.cpus = 2, .seed = seed, .jitter_pct = 20};
  sim_t *S = sim_create(&c);
  ck_assert_ptr_nonnull(S);
  sim_load_driver(S, "disk", disk_entry, cfg);
  sim_load_driver(S, "volume", layer_entry, (PVOID)vol_names);
  sim_load_driver(S, "fsd", layer_entry, (PVOID)fs_names);
  sim_thread_create(S, "app", app, sim_find_device(S, "fs0"));
  return S;
}

/* A sink that only counts, to compare with the rows. */
static void count_event(void *ud, const trc_event_t *ev) {
  (void)ev;
  ++*(uint64_t *)ud;
}

/* Records one run of the machine into `db`; returns the machine outcome. */
static sim_outcome_t record(tracedb_t *db, uint64_t seed, disk_cfg_t *cfg, uint64_t *steps_seen) {
  sim_t *S = build(seed, cfg);
  trc_sink_t counter = {.event = count_event, .ud = steps_seen};
  if (steps_seen) sim_add_sink(S, &counter);
  ck_assert_int_eq(tracedb_begin_run(db, S, "embed.c", 0x1234abcdULL, seed), SIM_OK);
  sim_outcome_t o = sim_run(S);
  int rc = tracedb_end_run(db, S, tracedb_outcome(o, NULL), NULL);
  ck_assert_msg(rc == SIM_OK, "end_run: %s", tracedb_errmsg(db));
  sim_destroy(S);
  return o;
}

/* ---- files and queries ---- */

typedef struct tmpdb {
  char dir[64], path[96];
} tmpdb_t;

static void tmpdb_init(tmpdb_t *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/iosim-tracedb-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/trace.db", t->dir);
}

static void tmpdb_done(const tmpdb_t *t) {
  static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
  char p[128];
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
    unlink(p);
  }
  rmdir(t->dir);
}

static sqlite3 *sql_open(const char *path) {
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  return h;
}

static sqlite3_stmt *sql_prep(sqlite3 *h, const char *sql, int64_t run) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
  ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
  if (sqlite3_bind_parameter_count(st) > 0) ck_assert_int_eq(sqlite3_bind_int64(st, 1, run), SQLITE_OK);
  return st;
}

/* The first column of the first row as an integer (-999 if no row). */
static int64_t q_int(sqlite3 *h, int64_t run, const char *sql) {
  sqlite3_stmt *st = sql_prep(h, sql, run);
  int rc = sqlite3_step(st);
  ck_assert_msg(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h));
  int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -999;
  sqlite3_finalize(st);
  return v;
}

/* The first column of the first row as text, into buf ("(none)" if no row,
   "(null)" for NULL). */
static const char *q_text(sqlite3 *h, int64_t run, const char *sql, char *buf, size_t n) {
  sqlite3_stmt *st = sql_prep(h, sql, run);
  int rc = sqlite3_step(st);
  ck_assert_msg(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h));
  const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
  snprintf(buf, n, "%s", rc != SQLITE_ROW ? "(none)" : t ? (const char *)t : "(null)");
  sqlite3_finalize(st);
  return buf;
}

/* Every row of a query, columns joined with '|', rows with '\n'. */
static char *q_dump(sqlite3 *h, int64_t run, const char *sql) {
  sqlite3_stmt *st = sql_prep(h, sql, run);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      fprintf(f, "%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
    }
    fputc('\n', f);
  }
  ck_assert_int_eq(rc, SQLITE_DONE);
  sqlite3_finalize(st);
  fclose(f);
  return buf;
}

/* The engine fills trc_event_t's typed facts: a real run's irp-alloc rows
   carry their stack size.  (Kept as a function so the assertions below
   read as "on a run with typed facts".) */
static bool engine_types_facts(sqlite3 *h) {
  ck_assert_int_gt(q_int(h, 0, "SELECT count(*) FROM event WHERE kind = 'irp-alloc' AND stack_size > 0"), 0);
  return true;
}

static char *file_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  char *buf = NULL;
  size_t cap = 0;
  *n = 0;
  for (;;) {
    if (*n == cap) buf = realloc(buf, cap = cap ? cap * 2 : 4096);
    size_t got = fread(buf + *n, 1, cap - *n, f);
    if (got == 0) break;
    *n += got;
  }
  fclose(f);
  return buf;
}

static void assert_unchanged(const char *path, const char *before, size_t n) {
  size_t m;
  char *after = file_bytes(path, &m);
  ck_assert_uint_eq(m, n);
  ck_assert_int_eq(memcmp(before, after, n), 0);
  free(after);
}

/* ---- the asynchronous read lesson's rows ---- */

START_TEST(test_async_read_rows) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  disk_cfg_t cfg = {0};
  uint64_t steps = 0;
  ck_assert_int_eq(record(db, 1, &cfg, &steps), SIM_RUN_OK);
  int64_t run = tracedb_run_id(db);
  ck_assert_int_eq(run, 1);
  tracedb_close(db);

  sqlite3 *h = sql_open(t.path);
  /* One row per step, and the run row's account of the run. */
  ck_assert_int_eq(q_int(h, run, "SELECT count(*) FROM event WHERE run_id = ?1"), (int64_t)steps);
  ck_assert_int_eq(q_int(h, run, "SELECT events FROM run WHERE id = ?1"), (int64_t)steps);
  ck_assert_str_eq(q_text(h, run, "SELECT outcome FROM run WHERE id = ?1", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, run, "SELECT machine_outcome FROM run WHERE id = ?1", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, run, "SELECT scenario_hash FROM run WHERE id = ?1", b, sizeof b),
                   "000000001234abcd");
  ck_assert_int_eq(q_int(h, run, "SELECT cpus FROM run WHERE id = ?1"), 2);
  ck_assert_int_eq(q_int(h, run, "SELECT count(*) FROM event WHERE run_id = ?1 AND seq NOT BETWEEN 1 AND"
                                 " (SELECT events FROM run WHERE id = ?1)"), 0);
  /* The interrupt came on CPU 0; the DPC ran there, at DISPATCH_LEVEL. */
  ck_assert_int_eq(q_int(h, run, "SELECT cpu FROM event WHERE run_id = ?1 AND kind = 'interrupt'"), 0);
  ck_assert_int_eq(q_int(h, run, "SELECT count(*) FROM event WHERE run_id = ?1 AND kind = 'dpc'"), 1);
  ck_assert_int_eq(q_int(h, run, "SELECT count(*) FROM event WHERE run_id = ?1 AND frame = 'dpc'"
                                 " AND (irql <> 2 OR cpu <> 0)"), 0);
  ck_assert_str_eq(q_text(h, run, "SELECT cpu || ' ' || irql || ' ' || frame || ' ' || irp || ' ' ||"
                                  " (SELECT name FROM device WHERE run_id = ?1 AND id = e.device)"
                                  " FROM event e WHERE run_id = ?1 AND kind = 'dpc'", b, sizeof b),
                   "0 2 dpc 2 disk0");
  ck_assert_str_eq(q_text(h, run, "SELECT frame || ' ' || irql || ' ' || status FROM event"
                                  " WHERE run_id = ?1 AND kind = 'complete' AND irp = 2", b, sizeof b),
                   "dpc 2 STATUS_SUCCESS");
  ck_assert_str_eq(q_text(h, run, "SELECT frame || ' ' || irql FROM event WHERE run_id = ?1"
                                  " AND kind = 'isr'", b, sizeof b), "isr 5");
  /* Stage 2 came as an APC in the issuing thread. */
  ck_assert_str_eq(q_text(h, run, "SELECT e.frame || ' ' || e.irql || ' ' || t.name FROM event e"
                                  " JOIN thread t ON t.run_id = e.run_id AND t.id = e.thread"
                                  " WHERE e.run_id = ?1 AND e.kind = 'apc' AND e.irp = 2", b, sizeof b),
                   "apc 1 app");
  ck_assert_int_eq(q_int(h, run, "SELECT e.thread = i.thread FROM event e JOIN irp i"
                                 " ON i.run_id = e.run_id AND i.id = e.irp"
                                 " WHERE e.run_id = ?1 AND e.kind = 'apc' AND e.irp = 2"), 1);
  /* Statuses by name; the dispatch routines returned pending. */
  ck_assert_int_eq(q_int(h, run, "SELECT count(*) FROM event WHERE run_id = ?1 AND irp = 2"
                                 " AND kind = 'dispatch-return' AND status = 'STATUS_PENDING'"), 3);
  /* The machine tables. */
  ck_assert_str_eq(q_text(h, run, "SELECT group_concat(d.name || '>' || coalesce(l.name, '-') || ':' ||"
                                  " r.name || ':' || d.stack_size, ' ') FROM device d"
                                  " JOIN driver r ON r.run_id = d.run_id AND r.id = d.driver_id"
                                  " LEFT JOIN device l ON l.run_id = d.run_id AND l.id = d.lower_id"
                                  " WHERE d.run_id = ?1 ORDER BY d.id", b, sizeof b),
                   "disk0>-:disk:1 vol0>disk0:volume:2 fs0>vol0:fsd:3");
  ck_assert_str_eq(q_text(h, run, "SELECT name || ' ' || state FROM thread WHERE run_id = ?1", b, sizeof b),
                   "app terminated");
  ck_assert_str_eq(q_text(h, run, "SELECT major || ' ' || stack_count || ' ' || final_status || ' ' ||"
                                  " information || ' ' || pending_returned || ' ' || completed || ' ' ||"
                                  " freed || ' ' || (completed_ns > issued_ns) FROM irp"
                                  " WHERE run_id = ?1 AND id = 2", b, sizeof b),
                   "IRP_MJ_READ 3 STATUS_SUCCESS 4096 1 1 1 1");
  ck_assert_int_eq(q_int(h, run, "SELECT count(*) FROM irp WHERE run_id = ?1"), 2);
  /* The views. */
  ck_assert_str_eq(q_text(h, run, "SELECT location || ' ' || for_device || ' ' || frame || ' ' ||"
                                  " irql_name || ' ' || returned"
                                  " FROM completion_routine WHERE run_id = ?1 AND irp = 2", b, sizeof b),
                   "2 fs0 dpc DISPATCH STATUS_SUCCESS");
  if (engine_types_facts(h)) {
    ck_assert_int_eq(q_int(h, run, "SELECT pending_returned FROM completion_routine WHERE run_id = ?1"
                                   " AND irp = 2"), 1);
    ck_assert_str_eq(q_text(h, run, "SELECT stack_size FROM event WHERE run_id = ?1"
                                    " AND irp = 2 AND kind = 'irp-alloc'", b, sizeof b), "3");
    ck_assert_str_eq(q_text(h, run, "SELECT group_concat(DISTINCT major) FROM event WHERE run_id = ?1"
                                    " AND irp = 2 AND kind = 'dispatch'", b, sizeof b), "3");
    ck_assert_str_eq(q_text(h, run, "SELECT control FROM event WHERE run_id = ?1 AND irp = 2"
                                    " AND kind = 'set-completion'", b, sizeof b), "224");
    ck_assert_str_eq(q_text(h, run, "SELECT information FROM event WHERE run_id = ?1 AND irp = 2"
                                    " AND kind = 'complete'", b, sizeof b), "4096");
    ck_assert_str_eq(q_text(h, run, "SELECT stage2 FROM event WHERE run_id = ?1 AND irp = 2"
                                    " AND kind = 'stage2'", b, sizeof b), "apc");
    ck_assert_str_eq(q_text(h, run, "SELECT outcome FROM event WHERE run_id = ?1 AND kind = 'run-end'",
                            b, sizeof b), "ok");
  }
  ck_assert_int_eq(q_int(h, run, "SELECT pending_ns > 0 AND until_caller_ns > pending_ns"
                                 " FROM irp_pending WHERE run_id = ?1 AND irp = 2"), 1);
  ck_assert_str_eq(q_text(h, run, "SELECT group_concat(cpu || ':' || dpcs || ':' || apcs, ' ')"
                                  " FROM cpu_deferred WHERE run_id = ?1", b, sizeof b), "0:1:1");
  ck_assert_int_eq(q_int(h, run, "SELECT end_ns > t_ns FROM deferred_call WHERE run_id = ?1"
                                 " AND kind = 'dpc'"), 1);
  ck_assert_str_eq(q_text(h, run, "SELECT group_concat(direction || ':' || kind || ':' ||"
                                  " coalesce(device_name, '-'), ' ') FROM (SELECT * FROM irp_path"
                                  " WHERE run_id = ?1 AND irp = 2 AND kind IN ('call-driver',"
                                  " 'completion-routine', 'walk-done', 'apc') ORDER BY seq)", b, sizeof b),
                   "down:call-driver:fs0 down:call-driver:vol0 down:call-driver:disk0 "
                   "up:completion-routine:fs0 up:walk-done:- caller:apc:-");
  ck_assert_str_eq(q_text(h, run, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, run, "PRAGMA journal_mode", b, sizeof b), "wal");
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* ---- determinism ---- */

static const char event_cols[] =
    "SELECT seq, t_ns, cpu, irql, frame, thread, irp, device, stack_location, kind, status, major, minor,"
    " loc_from, loc_to, control, pending_returned, information, stack_size, routine_device, stage2,"
    " target_cpu, target_thread, port, file, object, wait_index, count, running, concurrency,"
    " cancel_routine, touches_irp, irql_from, irql_to, outcome, byte_offset, writes, service, text, detail"
    " FROM event WHERE run_id = ?1 ORDER BY seq";

START_TEST(test_same_seed_same_rows) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  disk_cfg_t cfg = {0};
  record(db, 7, &cfg, NULL);
  record(db, 7, &cfg, NULL);
  record(db, 8, &cfg, NULL);
  ck_assert_int_eq(tracedb_last_run(db), 3);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  char *a = q_dump(h, 1, event_cols), *b = q_dump(h, 2, event_cols), *c = q_dump(h, 3, event_cols);
  ck_assert_uint_gt(strlen(a), 1000);
  ck_assert_str_eq(a, b);
  /* With jitter, another seed gives other times: the comparison has teeth. */
  ck_assert_str_ne(a, c);
  free(a), free(b), free(c);
  ck_assert_int_eq(q_int(h, 0, "SELECT count(DISTINCT seed) FROM run"), 2);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* ---- runs that stop halfway ---- */

START_TEST(test_bugcheck_run) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  disk_cfg_t cfg = {.complete_twice = true};
  ck_assert_int_eq(record(db, 1, &cfg, NULL), SIM_RUN_BUGCHECK);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 0, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, 1, "SELECT outcome || ' ' || bugcheck_name ||"
                                " ' ' || printf('0x%X', bugcheck_code) FROM run WHERE id = ?1", b, sizeof b),
                   "bugcheck MULTIPLE_IRP_COMPLETE_REQUESTS 0x44");
  /* The machine outcome comes from the run-end step's typed outcome. */
  if (engine_types_facts(h))
    ck_assert_str_eq(q_text(h, 1, "SELECT machine_outcome FROM run WHERE id = ?1", b, sizeof b), "bugcheck");
  ck_assert_str_eq(q_text(h, 1, "SELECT frame || ' ' || irql FROM event WHERE run_id = ?1 AND"
                                " kind = 'bugcheck'", b, sizeof b), "dpc 2");
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1") ,
                   q_int(h, 1, "SELECT events FROM run WHERE id = ?1"));
  /* The machine rows are there too: the IRP stayed live. */
  ck_assert_int_eq(q_int(h, 1, "SELECT freed FROM irp WHERE run_id = ?1 AND id = 2"), 0);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* The writer dies (no end_run, no close): the file stays consistent and the
   run row says the run never finished. */
START_TEST(test_killed_writer) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    tracedb_t *db = tracedb_open(t.path, err, sizeof err);
    if (!db) _exit(2);
    disk_cfg_t cfg = {0};
    sim_t *S = build(1, &cfg);
    if (tracedb_begin_run(db, S, "embed.c", 1, 1) != SIM_OK) _exit(3);
    sim_run(S);
    _exit(0); /* as if killed: the run's transaction is never committed */
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 0, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, 1, "SELECT outcome FROM run WHERE id = ?1", b, sizeof b), "running");
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1"), 0);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* Ctrl-C during the run: everything up to that step is committed. */
START_TEST(test_interrupted_run) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  volatile sig_atomic_t flag = 0;
  tracedb_watch_interrupt(db, &flag);
  disk_cfg_t cfg = {.interrupt = &flag};
  sim_t *S = build(1, &cfg);
  ck_assert_int_eq(tracedb_begin_run(db, S, "embed.c", 1, 1), SIM_OK);
  sim_run(S);
  ck_assert(tracedb_interrupted(db));
  ck_assert_int_eq(tracedb_end_run(db, S, NULL, NULL), SIM_OK);
  sim_destroy(S);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 0, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, 1, "SELECT outcome FROM run WHERE id = ?1", b, sizeof b), "interrupted");
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1 AND kind = 'dpc'"), 1);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1 AND kind = 'complete'"
                               " AND irp = 2"), 0);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1"),
                   q_int(h, 1, "SELECT events FROM run WHERE id = ?1"));
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM device WHERE run_id = ?1"), 3);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

START_TEST(test_bad_input_run) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  ck_assert_int_eq(tracedb_record_run(db, "x.iosim", 9, 1, TRACEDB_OUTCOME_BAD_INPUT,
                                      "x.iosim:3:7: unknown driver 'dsk'"), SIM_OK);
  /* An outcome outside the list is refused by the schema. */
  ck_assert_int_ne(tracedb_record_run(db, "x.iosim", 9, 1, "fine", NULL), SIM_OK);
  ck_assert_ptr_nonnull(strstr(tracedb_errmsg(db), "CHECK"));
  /* Through the hooks: with a run begun (scn_run failed after on_start)
     and without one. */
  tracedb_hooks_t hk = {.db = db, .scenario_path = "y.iosim", .text_hash = 5, .seed = 3};
  disk_cfg_t cfg = {0};
  sim_t *S = build(1, &cfg);
  tracedb_on_start(&hk, S);
  ck_assert_int_eq(hk.rc, SIM_OK);
  ck_assert_int_eq(tracedb_hooks_fail(&hk, TRACEDB_OUTCOME_BAD_INPUT, "y.iosim: no such device"), SIM_OK);
  sim_destroy(S);
  ck_assert_int_eq(tracedb_hooks_fail(&hk, TRACEDB_OUTCOME_BAD_INPUT, "y.iosim: again"), SIM_OK);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 1, "SELECT outcome || ': ' || message FROM run WHERE id = ?1", b, sizeof b),
                   "bad input: x.iosim:3:7: unknown driver 'dsk'");
  ck_assert_str_eq(q_text(h, 0, "SELECT group_concat(id || ' ' || scenario || ' ' || seed || ' ' ||"
                                " outcome || ' ' || message, '; ') FROM run WHERE scenario = 'y.iosim'",
                          b, sizeof b),
                   "2 y.iosim 3 bad input y.iosim: no such device; 3 y.iosim 3 bad input y.iosim: again");
  ck_assert_int_eq(q_int(h, 0, "SELECT count(*) FROM event"), 0);
  ck_assert_int_eq(q_int(h, 0, "SELECT count(*) FROM run"), 3);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* ---- files that are refused ---- */

START_TEST(test_refuses_non_sqlite) {
  tmpdb_t t;
  tmpdb_init(&t);
  FILE *f = fopen(t.path, "w");
  ck_assert_ptr_nonnull(f);
  for (int i = 0; i < 200; i++) fprintf(f, "line %d of somebody's notes\n", i);
  fclose(f);
  size_t n;
  char *before = file_bytes(t.path, &n), err[512] = "";
  ck_assert_ptr_null(tracedb_open(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, "not a SQLite database") != NULL, "%s", err);
  ck_assert_ptr_null(tracedb_open_readonly(t.path, err, sizeof err));
  assert_unchanged(t.path, before, n);
  free(before);
  tmpdb_done(&t);
}
END_TEST

START_TEST(test_refuses_other_sqlite) {
  tmpdb_t t;
  tmpdb_init(&t);
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open(t.path, &h), SQLITE_OK);
  sqlite3_stmt *st = sql_prep(h, "CREATE TABLE grades(student TEXT, mark INTEGER)", 0);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(h);
  size_t n;
  char *before = file_bytes(t.path, &n), err[512] = "";
  ck_assert_ptr_null(tracedb_open(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, "not an iosim trace") != NULL, "%s", err);
  /* A reader says what it cannot read; it never meant to write. */
  ck_assert_ptr_null(tracedb_open_readonly(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, "not an iosim trace") && strstr(err, "no trace in it to read") &&
                    !strstr(err, "refusing to write"), "%s", err);
  assert_unchanged(t.path, before, n);
  free(before);
  tmpdb_done(&t);
}
END_TEST

START_TEST(test_refuses_newer_schema) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512] = "";
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", TRACEDB_SCHEMA_VERSION + 1);
  sqlite3_stmt *st = sql_prep(h, sql, 0);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(h);
  size_t n;
  char *before = file_bytes(t.path, &n), want[64];
  snprintf(want, sizeof want, "schema version %d, newer", TRACEDB_SCHEMA_VERSION + 1);
  ck_assert_ptr_null(tracedb_open(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, want) != NULL, "%s", err);
  ck_assert_ptr_null(tracedb_open_readonly(t.path, err, sizeof err));
  assert_unchanged(t.path, before, n);
  free(before);
  tmpdb_done(&t);
}
END_TEST

/* A trace written by an older iosim (schema version 1: steps with only
   their detail text) is refused, untouched, with what to do about it. */
START_TEST(test_refuses_older_schema) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512] = "";
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version = 1; UPDATE meta SET value = '1'"
                                   " WHERE key = 'schema_version'", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  size_t n;
  char *before = file_bytes(t.path, &n);
  ck_assert_ptr_null(tracedb_open(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, "trace.db is an iosim trace of schema version 1, older than this iosim") != NULL,
                "%s", err);
  char want[64];
  snprintf(want, sizeof want, "reads (version %d)", TRACEDB_SCHEMA_VERSION);
  ck_assert_msg(strstr(err, want) != NULL, "%s", err);
  ck_assert_msg(strstr(err, "regenerate it with `iosim run SCENARIO --db ") != NULL, "%s", err);
  err[0] = '\0';
  ck_assert_ptr_null(tracedb_open_readonly(t.path, err, sizeof err));
  ck_assert_msg(strstr(err, "schema version 1, older") != NULL, "%s", err);
  assert_unchanged(t.path, before, n);
  free(before);
  tmpdb_done(&t);
}
END_TEST

/* ---- typed facts, from synthetic steps (typed_steps.h) ---- */

/* tracedb_print_irp of IRP 2 into a string, with "of run N" made "of run 1"
   so that two runs of the same steps compare equal. */
static char *irp_text_as_run1(tracedb_t *db, int64_t run, int64_t at) {
  char err[512] = "", *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  int rc = tracedb_print_irp(db, run, 2, at, f, err, sizeof err);
  fclose(f);
  ck_assert_msg(rc == SIM_OK, "run %lld at %lld: %s", (long long)run, (long long)at, err);
  char tag[32];
  snprintf(tag, sizeof tag, "of run %lld,", (long long)run);
  char *p = strstr(buf, tag);
  ck_assert_ptr_nonnull(p);
  memcpy(p, "of run 1,", 9);
  memmove(p + 9, p + strlen(tag), strlen(p + strlen(tag)) + 1);
  return buf;
}

/* Every typed fact lands in its column; the views and `iosim irp` read
   them, not the detail: the same steps with every detail "x" give the same
   typed rows, the same views and the same !irp at every moment. */
START_TEST(test_typed_steps) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  ck_assert_int_eq(typed_steps_record(db, NULL), 1);
  ck_assert_int_eq(typed_steps_record(db, "x"), 2);
  tracedb_close(db);
  ck_assert_int_eq(typed_steps_machine(t.path, 1, 0), 0);
  ck_assert_int_eq(typed_steps_machine(t.path, 2, 0), 0);
  sqlite3 *h = sql_open(t.path);
  ck_assert_int_eq(q_int(h, 2, "SELECT count(*) FROM event WHERE run_id = ?1 AND detail <> 'x'"), 0);
  for (int64_t run = 1; run <= 2; run++) {
    ck_assert_int_eq(q_int(h, run, "SELECT events FROM run WHERE id = ?1"), (int64_t)TYPED_STEPS);
    /* Not "ok", as the run-end step's prose says: the typed outcome. */
    ck_assert_str_eq(q_text(h, run, "SELECT machine_outcome || ' ' || outcome FROM run WHERE id = ?1", b,
                            sizeof b), "stalled stalled");
    ck_assert_str_eq(q_text(h, run, "SELECT group_concat(kind || '=' || coalesce(major, '-') || '/' ||"
                                    " coalesce(stack_size, '-') || '/' || coalesce(control, '-') || '/' ||"
                                    " coalesce(information, '-') || '/' || coalesce(stage2, '-') || '/' ||"
                                    " coalesce(writes, '-'), ' ') FROM (SELECT * FROM event WHERE run_id = ?1"
                                    " AND kind IN ('irp-alloc', 'set-completion', 'complete', 'stage2')"
                                    " ORDER BY seq)", b, sizeof b),
                     "irp-alloc=3/3/-/-/-/- set-completion=-/-/224/-/-/48 complete=-/-/-/4096/-/3 "
                     "stage2=-/-/-/-/apc/-");
    ck_assert_str_eq(q_text(h, run, "SELECT group_concat(kind || '=' || coalesce(service, '-') || '/' ||"
                                    " coalesce(target_cpu, '-') || '/' || coalesce(irql_from, '-') || '>' ||"
                                    " coalesce(irql_to, '-') || '/' || coalesce(cancel_routine, '-') || '/' ||"
                                    " coalesce(byte_offset, '-') || '/' || coalesce(outcome, '-'), ' ')"
                                    " FROM (SELECT * FROM event WHERE run_id = ?1 AND kind IN ('syscall',"
                                    " 'dpc-queued', 'isr-end', 'set-cancel-routine', 'hw-start', 'run-end')"
                                    " ORDER BY seq)", b, sizeof b),
                     "syscall=NtReadFile/-/->-/-/0/- set-cancel-routine=-/-/->-/1/-/- hw-start=-/-/->-/-/0/- "
                     "dpc-queued=-/0/->-/-/-/- isr-end=-/-/5>0/-/-/- set-cancel-routine=-/-/->-/0/-/- "
                     "run-end=-/-/->-/-/-/stalled");
    ck_assert_str_eq(q_text(h, run, "SELECT c.pending_returned || ' ' || c.returned || ' ' || e.routine_device_name"
                                    " FROM completion_routine c JOIN event_named e ON e.run_id = c.run_id"
                                    " AND e.seq = c.seq WHERE c.run_id = ?1", b, sizeof b),
                     "1 STATUS_SUCCESS fs0");
    ck_assert_str_eq(q_text(h, run, "SELECT target_thread_name FROM event_named WHERE run_id = ?1"
                                    " AND kind = 'apc-queued'", b, sizeof b), "app");
  }
  /* The typed columns of the two runs are the same, row for row. */
  static const char typed_cols[] =
      "SELECT seq, t_ns, cpu, irql, frame, thread, irp, device, stack_location, kind, status, major, minor,"
      " loc_from, loc_to, control, pending_returned, information, stack_size, routine_device, stage2,"
      " target_cpu, target_thread, port, file, object, wait_index, count, running, concurrency,"
      " cancel_routine, touches_irp, irql_from, irql_to, outcome, byte_offset, writes, service, text"
      " FROM event WHERE run_id = ?1 ORDER BY seq";
  char *x = q_dump(h, 1, typed_cols), *y = q_dump(h, 2, typed_cols);
  ck_assert_str_eq(x, y);
  free(x), free(y);
  sqlite3_close(h);

  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  /* While the disk works (no irp row: the stack count and the major come
     from the steps). */
  char *s = irp_text_as_run1(db, 1, 3670);
  ck_assert_msg(strstr(s, "Irp is active with 3 stacks 2 is current\n") != NULL, "%s", s);
  ck_assert_msg(strstr(s, " IRP_MJ_READ  Thread") != NULL, "%s", s);
  ck_assert_msg(strstr(s, ">[IRP_MJ_READ(3), N/A(0)]\n            0 e1 disk0    ") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "fs0's routine      Success Error Cancel pending\n") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "CancelRoutine set") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "PendingReturned 0") != NULL, "%s", s);
  free(s);
  /* In the completion routine: PendingReturned from location 2's mark, the
     Information from the complete step, the cancel routine cleared. */
  s = irp_text_as_run1(db, 1, 204610);
  ck_assert_msg(strstr(s, "Irp is active with 3 stacks 3 is current\n") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "PendingReturned 1  Cancel 0  CancelRoutine none  IoStatus STATUS_SUCCESS,"
                          " Information 4096\n") != NULL, "%s", s);
  free(s);
  /* The same at every moment of the run with every detail "x". */
  for (size_t i = 0; i < TYPED_STEPS; i++) {
    int64_t at = (int64_t)typed_steps[i].t_ns;
    if (at < 3200) continue; /* before the IRP exists */
    char *a = irp_text_as_run1(db, 1, at), *c = irp_text_as_run1(db, 2, at);
    ck_assert_str_eq(a, c);
    free(a), free(c);
  }
  tracedb_close(db);
  tmpdb_done(&t);
}
END_TEST

/* Steps enough for a run to drop the event indexes while it writes: they
   are built again before it commits, with the planner's figures. */
static void record_many(tracedb_t *db, size_t n) {
  ck_assert_int_eq(tracedb_begin_run(db, NULL, "many", 1, 1), SIM_OK);
  for (size_t i = 0; i < n; i++) {
    trc_event_t ev = typed_steps[i % TYPED_STEPS];
    ev.seq = i + 1;
    if (ev.irp) ev.irp += (uint32_t)(i / TYPED_STEPS);
    ck_assert_int_eq(tracedb_record_event(db, &ev), SIM_OK);
  }
}

static const char event_indexes[] =
    "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'index'"
    " AND tbl_name = 'event' ORDER BY name)";

START_TEST(test_many_steps_indexes) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  record_many(db, 3 * TDB_TEST_DROP_ROWS);
  ck_assert_int_eq(tracedb_end_run(db, NULL, TRACEDB_OUTCOME_OK, NULL), SIM_OK);
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 0, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, 0, event_indexes, b, sizeof b), "event_by_irp");
  ck_assert_int_eq(q_int(h, 0, "SELECT count(*) FROM sqlite_stat1 WHERE idx = 'event_by_irp'"), 1);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1"), 3 * TDB_TEST_DROP_ROWS);
  /* The per-IRP questions use the IRP index. */
  char *plan = q_dump(h, 0, "EXPLAIN QUERY PLAN SELECT kind FROM event WHERE run_id = 1 AND irp = 5 ORDER BY seq");
  ck_assert_msg(strstr(plan, "event_by_irp") != NULL, "%s", plan);
  free(plan);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* Killed after the indexes were dropped: the rollback brings them back,
   with the earlier run's rows. */
START_TEST(test_killed_writer_many_steps) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  ck_assert_int_eq(typed_steps_record(db, NULL), 1);
  tracedb_close(db);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    db = tracedb_open(t.path, err, sizeof err);
    if (!db) _exit(2);
    record_many(db, 2 * TDB_TEST_DROP_ROWS);
    _exit(0); /* as if killed: the run's transaction is never committed */
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 0, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(h, 0, event_indexes, b, sizeof b), "event_by_irp");
  ck_assert_str_eq(q_text(h, 2, "SELECT outcome FROM run WHERE id = ?1", b, sizeof b), "running");
  ck_assert_int_eq(q_int(h, 2, "SELECT count(*) FROM event WHERE run_id = ?1"), 0);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1"), (int64_t)TYPED_STEPS);
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

/* Reopening an iosim trace adds runs; it never recreates the schema. */
START_TEST(test_reopen_appends) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512];
  disk_cfg_t cfg = {0};
  for (int i = 0; i < 2; i++) {
    tracedb_t *db = tracedb_open(t.path, err, sizeof err);
    ck_assert_msg(db != NULL, "%s", err);
    record(db, 1, &cfg, NULL);
    ck_assert_int_eq(tracedb_run_id(db), i + 1);
    tracedb_close(db);
  }
  tracedb_t *ro = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_msg(ro != NULL, "%s", err);
  ck_assert_int_eq(tracedb_last_run(ro), 2);
  ck_assert_int_ne(tracedb_record_run(ro, "x", 0, 0, "ok", NULL), SIM_OK);
  tracedb_close(ro);
  ck_assert_ptr_null(tracedb_open_readonly("/nonexistent/dir/trace.db", err, sizeof err));
  tmpdb_done(&t);
}
END_TEST

/* ---- the lesson itself, through the scenario runner's hooks ---- */

static const char lesson2[] = "../scenarios/lessons/02-async-read.iosim";

/* Runs lesson 2 once into db with the tracedb hooks. */
static void run_lesson(tracedb_t *db, const scn_t *sc) {
  tracedb_hooks_t h = {.db = db, .scenario_path = scn_path(sc), .text_hash = scn_hash(sc),
                       .seed = scn_seed(sc)};
  scn_run_opts_t o = {.on_start = tracedb_on_start, .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t r;
  scn_error_t e;
  ck_assert_msg(scn_run(sc, &o, &r, &e) == SIM_OK, "%s:%d: %s", e.file, e.line, e.msg);
  ck_assert_msg(h.rc == SIM_OK, "%s", h.err);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
}

/* Ports, objects and files are named in tables of their own, and the
   associated IRPs' steps name their master (target_irp). */
START_TEST(test_port_object_names) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256];
  const char *paths[] = {"../scenarios/lessons/12-iocp-concurrency.iosim",
                         "../scenarios/lessons/14-associated-irps.iosim"};
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  for (int i = 0; i < 2; i++) {
    scn_error_t e;
    scn_t *sc = scn_load(paths[i], NULL, &e);
    ck_assert_msg(sc != NULL, "%s:%d: %s", e.file, e.line, e.msg);
    run_lesson(db, sc);
    scn_free(sc);
  }
  tracedb_close(db);
  sqlite3 *h = sql_open(t.path);
  /* Every port-queued row of lesson 12 names a port of the port table. */
  ck_assert_int_gt(q_int(h, 1, "SELECT count(*) FROM event WHERE run_id = ?1 AND kind = 'port-queued'"), 0);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event e WHERE run_id = ?1 AND kind = 'port-queued'"
                               " AND NOT EXISTS (SELECT 1 FROM port p WHERE p.run_id = e.run_id AND p.id = e.port)"), 0);
  ck_assert_str_eq(q_text(h, 1, "SELECT group_concat(name) FROM port WHERE run_id = ?1", b, sizeof b), "P");
  /* File rows name a file object. */
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM event e WHERE run_id = ?1 AND file IS NOT NULL"
                               " AND NOT EXISTS (SELECT 1 FROM object o WHERE o.run_id = e.run_id AND o.id = e.file)"), 0);
  /* Lesson 14: two associated IRPs of one master, counted down to 0. */
  ck_assert_int_eq(q_int(h, 2, "SELECT count(DISTINCT target_irp) FROM event WHERE run_id = ?1"
                               " AND kind IN ('irp-associated', 'associated-done')"), 1);
  ck_assert_str_eq(q_text(h, 2, "SELECT group_concat(count) FROM (SELECT count FROM event WHERE run_id = ?1"
                                " AND kind = 'associated-done' ORDER BY seq)", b, sizeof b), "1,0");
  sqlite3_close(h);
  tmpdb_done(&t);
}
END_TEST

START_TEST(test_lesson_async_read) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[256], hex[17];
  scn_error_t e;
  scn_t *sc = scn_load(lesson2, NULL, &e);
  ck_assert_msg(sc != NULL, "%s:%d: %s", e.file, e.line, e.msg);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  run_lesson(db, sc);
  run_lesson(db, sc);
  tracedb_close(db);
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)scn_hash(sc));
  sqlite3 *h = sql_open(t.path);
  ck_assert_str_eq(q_text(h, 1, "SELECT outcome || ' ' || seed || ' ' || expect_total || ' ' ||"
                                " expect_failed || ' ' || scenario FROM run WHERE id = ?1", b, sizeof b),
                   "ok 7 16 0 ../scenarios/lessons/02-async-read.iosim");
  ck_assert_str_eq(q_text(h, 1, "SELECT scenario_hash FROM run WHERE id = ?1", b, sizeof b), hex);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM expectation WHERE run_id = ?1 AND passed"
                               " AND length(facts) > 0"), 16);
  ck_assert_int_eq(q_int(h, 1, "SELECT count(*) FROM finding WHERE run_id = ?1"), 0);
  ck_assert_str_eq(q_text(h, 1, "SELECT text FROM expectation WHERE run_id = ?1 AND n = 1", b, sizeof b),
                   "expect r1.status == STATUS_SUCCESS");
  /* r1 is IRP 2; its DPC ran on the interrupted CPU at DISPATCH_LEVEL, and
     its stage-2 APC in the issuing thread at APC_LEVEL. */
  ck_assert_int_eq(q_int(h, 1, "SELECT id FROM irp WHERE run_id = ?1 AND tag = 'r1'"), 2);
  ck_assert_str_eq(q_text(h, 1, "SELECT d.cpu || ' ' || d.irql || ' ' || d.frame || ' ' || d.irp"
                                " FROM event d WHERE d.run_id = ?1 AND d.kind = 'dpc' AND d.cpu ="
                                " (SELECT cpu FROM event WHERE run_id = ?1 AND kind = 'interrupt')",
                                b, sizeof b), "0 2 dpc 2");
  ck_assert_str_eq(q_text(h, 1, "SELECT a.frame || ' ' || a.irql || ' ' || t.name FROM event a"
                                " JOIN irp i ON i.run_id = a.run_id AND i.id = a.irp"
                                " JOIN thread t ON t.run_id = a.run_id AND t.id = a.thread"
                                " WHERE a.run_id = ?1 AND a.kind = 'apc' AND a.thread = i.thread"
                                " AND i.tag = 'r1'", b, sizeof b), "apc 1 app");
  ck_assert_str_eq(q_text(h, 1, "SELECT frame || ' ' || irql_name || ' ' || coalesce(thread_name, '-')"
                                " FROM completion_routine WHERE run_id = ?1 AND irp = 2", b, sizeof b),
                   "dpc DISPATCH -");
  /* The same scenario and seed twice: the same rows. */
  char *x = q_dump(h, 1, event_cols), *y = q_dump(h, 2, event_cols);
  ck_assert_str_eq(x, y);
  free(x), free(y);
  bool typed = engine_types_facts(h);
  sqlite3_close(h);
  /* !irp knows the scenario's name for it. */
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_int_eq(tracedb_print_irp(db, 1, 2, 3700, f, err, sizeof err), SIM_OK);
  fclose(f);
  ck_assert_msg(strstr(buf, "IRP 2 (r1) of run 1") != NULL, "%s", buf);
  ck_assert_msg(strstr(buf, ">[IRP_MJ_READ(3), N/A(0)]\n            0 ") != NULL, "%s", buf);
  if (typed) ck_assert_msg(strstr(buf, ">[IRP_MJ_READ(3), N/A(0)]\n            0 e1 disk0") != NULL, "%s", buf);
  free(buf);
  tracedb_close(db);
  scn_free(sc);
  tmpdb_done(&t);
}
END_TEST

/* A scenario that bugchecks, through the hooks: the verifier's finding,
   the bugcheck, and a sound file. */
START_TEST(test_scenario_bugcheck) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], b[512];
  scn_error_t e;
  scn_t *sc = scn_load("../scenarios/bugs/double-completion.iosim", NULL, &e);
  ck_assert_msg(sc != NULL, "%s:%d: %s", e.file, e.line, e.msg);
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  tracedb_hooks_t h = {.db = db, .scenario_path = scn_path(sc), .text_hash = scn_hash(sc),
                       .seed = scn_seed(sc)};
  scn_run_opts_t o = {.on_start = tracedb_on_start, .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t r;
  ck_assert_msg(scn_run(sc, &o, &r, &e) == SIM_OK, "%s", e.msg);
  ck_assert_msg(h.rc == SIM_OK, "%s", h.err);
  ck_assert_int_eq(r.outcome, SIM_RUN_BUGCHECK);
  int findings = r.finding_total;
  scn_result_free(&r);
  tracedb_close(db);
  sqlite3 *q = sql_open(t.path);
  ck_assert_str_eq(q_text(q, 0, "PRAGMA integrity_check", b, sizeof b), "ok");
  ck_assert_str_eq(q_text(q, 1, "SELECT outcome || ' ' || bugcheck_name || ' ' || bugcheck_code"
                                " FROM run WHERE id = ?1", b, sizeof b), "bugcheck MULTIPLE_IRP_COMPLETE_REQUESTS 68");
  ck_assert_int_eq(q_int(q, 1, "SELECT count(*) FROM finding WHERE run_id = ?1"), findings);
  ck_assert_str_eq(q_text(q, 1, "SELECT rule || ' ' || irp_tag || ' ' || device_name || ' ' ||"
                                " predicted || ' ' || (length(what) > 0) FROM finding WHERE run_id = ?1"
                                " AND rule = 'double-completion'", b, sizeof b),
                   "double-completion r1 dev0 1 1");
  ck_assert_str_eq(q_text(q, 1, "SELECT kind FROM event WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
                          b, sizeof b), "run-end");
  ck_assert_int_eq(q_int(q, 1, "SELECT count(*) FROM event WHERE run_id = ?1 AND kind = 'bugcheck'"), 1);
  sqlite3_close(q);
  scn_free(sc);
  tmpdb_done(&t);
}
END_TEST

/* ---- !irp ---- */

/* tracedb_print_irp into a string (malloc'd); *rc gets its result. */
static char *irp_text(tracedb_t *db, int64_t run, uint32_t irp, int64_t at, int *rc, char *err, size_t n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  *rc = tracedb_print_irp(db, run, irp, at, f, err, n);
  fclose(f);
  return buf;
}

/* The time of the first event of `kind` for IRP 2 in run 1. */
static int64_t time_of(const char *path, const char *kind) {
  sqlite3 *h = sql_open(path);
  sqlite3_stmt *st = sql_prep(h, "SELECT min(t_ns) FROM event WHERE run_id = 1 AND irp = 2 AND kind = ?1", 0);
  ck_assert_int_eq(sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC), SQLITE_OK);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

START_TEST(test_print_irp) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512] = "";
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  disk_cfg_t cfg = {0};
  record(db, 1, &cfg, NULL);
  tracedb_close(db);
  db = tracedb_open_readonly(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  int rc;
  sqlite3 *h = sql_open(t.path);
  bool typed = engine_types_facts(h);
  sqlite3_close(h);
  /* While the disk works: location 2 (disk0) is current, fs0's routine
     waits in it for success, error and cancel, and the disk marked it. */
  char *s = irp_text(db, 1, 2, time_of(t.path, "hw-start"), &rc, err, sizeof err);
  ck_assert_msg(rc == SIM_OK, "%s", err);
  ck_assert_msg(strstr(s, "Irp is active with 3 stacks 2 is current\n") != NULL, "%s", s);
  if (typed) {
    ck_assert_msg(strstr(s, ">[IRP_MJ_READ(3), N/A(0)]\n            0 e1 disk0    ") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "fs0's routine      Success Error Cancel pending\n") != NULL, "%s", s);
  }
  ck_assert_msg(strstr(s, "\\Driver\\disk\tcompletion routine of \\Driver\\fsd (fs0)") != NULL, "%s", s);
  ck_assert_msg(strstr(s, " [IRP_MJ_READ(3), N/A(0)]\n            0  0 fs0") != NULL, "%s", s);
  ck_assert_msg(strstr(s, " [N/A(0), N/A(0)]\n") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "PendingReturned 0  Cancel 0") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "Thread app (1)") != NULL, "%s", s);
  free(s);
  /* In the completion routine (on CPU 0's DPC): location 3 is current and
     PendingReturned came from location 2's mark. */
  s = irp_text(db, 1, 2, time_of(t.path, "completion-routine"), &rc, err, sizeof err);
  ck_assert_msg(rc == SIM_OK, "%s", err);
  ck_assert_msg(strstr(s, "Irp is active with 3 stacks 3 is current\n") != NULL, "%s", s);
  ck_assert_msg(strstr(s, ">[IRP_MJ_READ(3), N/A(0)]\n            0  0 fs0") != NULL, "%s", s);
  if (typed) {
    ck_assert_msg(strstr(s, "PendingReturned 1") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "IoStatus STATUS_SUCCESS, Information 4096") != NULL, "%s", s);
  }
  free(s);
  /* At the end: completed and freed, nothing marked. */
  s = irp_text(db, 1, 2, -1, &rc, err, sizeof err);
  ck_assert_msg(rc == SIM_OK, "%s", err);
  ck_assert_msg(strstr(s, "Irp was freed at ") != NULL, "%s", s);
  ck_assert_msg(strchr(s, '>') == NULL, "%s", s);
  free(s);
  /* Before the IRP existed, and things that do not exist. */
  s = irp_text(db, 1, 2, 0, &rc, err, sizeof err);
  ck_assert_int_eq(rc, SIM_ENOENT);
  free(s);
  s = irp_text(db, 1, 99, -1, &rc, err, sizeof err);
  ck_assert_int_eq(rc, SIM_ENOENT);
  ck_assert_msg(strstr(err, "no IRP 99") != NULL, "%s", err);
  free(s);
  s = irp_text(db, 5, 2, -1, &rc, err, sizeof err);
  ck_assert_int_eq(rc, SIM_ENOENT);
  ck_assert_msg(strstr(err, "no run 5") != NULL, "%s", err);
  free(s);
  tracedb_close(db);
  tmpdb_done(&t);
}
END_TEST

START_TEST(test_parse_time) {
  int64_t ns = 0;
  ck_assert_int_eq(tracedb_parse_time("206560ns", &ns), 0);
  ck_assert_int_eq(ns, 206560);
  /* A bare number is refused: the trace prints microseconds, so "204.6"
     reads as 204.6 us to a person and as 205 ns to a parser. */
  ns = 7;
  ck_assert_int_eq(tracedb_parse_time("204.6", &ns), -1);
  ck_assert_int_eq(tracedb_parse_time("206560", &ns), -1);
  ck_assert_int_eq(ns, 7);
  ck_assert_int_eq(tracedb_parse_time("204.6us", &ns), 0);
  ck_assert_int_eq(ns, 204600);
  ck_assert_int_eq(tracedb_parse_time("206.56us", &ns), 0);
  ck_assert_int_eq(ns, 206560);
  ck_assert_int_eq(tracedb_parse_time("1.5ms", &ns), 0);
  ck_assert_int_eq(ns, 1500000);
  ck_assert_int_eq(tracedb_parse_time("2 s", &ns), 0);
  ck_assert_int_eq(ns, 2000000000);
  ck_assert_int_eq(tracedb_parse_time("10 parsecs", &ns), -1);
  ck_assert_int_eq(tracedb_parse_time("", &ns), -1);
  ck_assert_int_eq(tracedb_parse_time("-3us", &ns), -1);
}
END_TEST

/* A scenario that did not load leaves a "bad input" run with no steps: it
   is never the default run, and asking for it says why it has none. */
START_TEST(test_reader_picks_a_run_that_ran) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512];
  int64_t r = 0;
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  ck_assert_int_eq(tracedb_pick_run(db, 0, &r, err, sizeof err), SIM_ENOENT);
  ck_assert_msg(strstr(err, "holds no runs yet") != NULL, "%s", err);
  ck_assert_int_eq(tracedb_record_run(db, "x.iosim", 9, 1, TRACEDB_OUTCOME_BAD_INPUT,
                                      "x.iosim:3:7: unknown driver 'dsk'"), SIM_OK);
  ck_assert_int_eq(tracedb_last_run(db), 0);
  ck_assert_int_eq(tracedb_pick_run(db, 0, &r, err, sizeof err), SIM_ENOENT);
  ck_assert_msg(strstr(err, "no run that ran") && strstr(err, "unknown driver 'dsk'"), "%s", err);
  disk_cfg_t cfg = {0};
  record(db, 7, &cfg, NULL); /* run 2 ran */
  ck_assert_int_eq(tracedb_record_run(db, "x.iosim", 9, 1, TRACEDB_OUTCOME_BAD_INPUT,
                                      "x.iosim:3:7: unknown driver 'dsk'"), SIM_OK);
  ck_assert_int_eq(tracedb_last_run(db), 2);
  ck_assert_int_eq(tracedb_pick_run(db, 0, &r, err, sizeof err), SIM_OK);
  ck_assert_int_eq(r, 2);
  ck_assert_int_eq(tracedb_pick_run(db, 3, &r, err, sizeof err), SIM_ENOENT);
  ck_assert_msg(strstr(err, "run 3 has no steps") && strstr(err, "bad input: x.iosim:3:7"), "%s", err);
  ck_assert_int_eq(tracedb_pick_run(db, 9, &r, err, sizeof err), SIM_ENOENT);
  ck_assert_msg(strstr(err, "no run 9") && strstr(err, "the last that ran is 2"), "%s", err);
  /* print_irp of a run without steps says so, and fails. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_int_ne(tracedb_print_irp(db, 3, 1, -1, f, err, sizeof err), SIM_OK);
  fclose(f);
  free(text);
  tracedb_close(db);
  tmpdb_done(&t);
}
END_TEST

/* IRPs by the scenario's name for them; readers leave no -wal or -shm file. */
START_TEST(test_find_irp_and_no_leftovers) {
  tmpdb_t t;
  tmpdb_init(&t);
  char err[512], p[160];
  tracedb_t *db = tracedb_open(t.path, err, sizeof err);
  ck_assert_msg(db != NULL, "%s", err);
  scn_error_t e;
  scn_t *sc = scn_load(lesson2, NULL, &e);
  ck_assert_msg(sc != NULL, "%s:%d: %s", e.file, e.line, e.msg);
  run_lesson(db, sc);
  scn_free(sc);
  tracedb_close(db);
  static const char *const side[] = {"-wal", "-shm"};
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 2; i++) {
      snprintf(p, sizeof p, "%s%s", t.path, side[i]);
      ck_assert_msg(access(p, F_OK) != 0, "%s is left behind%s", p, pass ? " by a reader" : "");
    }
    if (pass) break;
    tracedb_t *ro = tracedb_open_readonly(t.path, err, sizeof err);
    ck_assert_msg(ro != NULL, "%s", err);
    uint32_t irp = 0;
    ck_assert_int_eq(tracedb_find_irp(ro, 1, "r1", &irp, err, sizeof err), SIM_OK);
    ck_assert_uint_eq(irp, 2);
    ck_assert_int_eq(tracedb_find_irp(ro, 1, "nope", &irp, err, sizeof err), SIM_ENOENT);
    ck_assert_msg(strstr(err, "no IRP named 'nope'") != NULL, "%s", err);
    ck_assert_int_ne(tracedb_record_run(ro, "x", 0, 0, "ok", NULL), SIM_OK);
    tracedb_close(ro);
  }
  tmpdb_done(&t);
}
END_TEST

TEST_SUITE(tracedb_suite)
static Suite *tracedb_suite(void) {
  Suite *s = suite_create("tracedb");
  TCase *tc = tcase_create("tracedb");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_async_read_rows);
  tcase_add_test(tc, test_same_seed_same_rows);
  tcase_add_test(tc, test_bugcheck_run);
  tcase_add_test(tc, test_killed_writer);
  tcase_add_test(tc, test_interrupted_run);
  tcase_add_test(tc, test_bad_input_run);
  tcase_add_test(tc, test_refuses_non_sqlite);
  tcase_add_test(tc, test_refuses_other_sqlite);
  tcase_add_test(tc, test_refuses_newer_schema);
  tcase_add_test(tc, test_refuses_older_schema);
  tcase_add_test(tc, test_typed_steps);
  tcase_add_test(tc, test_many_steps_indexes);
  tcase_add_test(tc, test_killed_writer_many_steps);
  tcase_add_test(tc, test_reopen_appends);
  tcase_add_test(tc, test_print_irp);
  tcase_add_test(tc, test_parse_time);
  tcase_add_test(tc, test_lesson_async_read);
  tcase_add_test(tc, test_port_object_names);
  tcase_add_test(tc, test_scenario_bugcheck);
  tcase_add_test(tc, test_reader_picks_a_run_that_ran);
  tcase_add_test(tc, test_find_irp_and_no_leftovers);
  suite_add_tcase(s, tc);
  return s;
}
