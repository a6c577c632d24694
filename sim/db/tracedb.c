/*
 * tracedb.c - recording runs into the SQLite trace database: opening the
 * file safely, the trace sink that writes one `event` row per step, and
 * the machine rows (devices, drivers, threads, IRPs, expectations) written
 * when a run ends.  One write transaction per run, so the file is
 * consistent whenever and however the process stops.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iosim/alloc.h"
#include "tracedb_int.h"

static const char *const stmt_sql[] = {
#define TDB_X(e, sql) sql,
    TDB_STMT_MAP(TDB_X)
#undef TDB_X
};

/* ---- helpers shared with the other files of sim/db ---- */

int tdb_fail(tracedb_t *db, const char *what) {
  /* A value that could not be bound leaves no error on the connection
     (its message would be "not an error"): SQLite could not copy it, out
     of memory. */
  int code = sqlite3_errcode(db->db);
  snprintf(db->err, sizeof db->err, "trace database: %s: %s", what,
           code == SQLITE_OK ? "out of memory (a value could not be bound)" : sqlite3_errmsg(db->db));
  return SIM_EIO;
}

int tdb_failf(tracedb_t *db, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(db->err, sizeof db->err, fmt, ap);
  va_end(ap);
  return code;
}

sqlite3_stmt *tdb_stmt(tracedb_t *db, tdb_stmt_id_t id) {
  sqlite3_stmt *st = db->st[id];
  if (!st) {
    if (sqlite3_prepare_v3(db->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
      tdb_fail(db, "prepare");
      return NULL;
    }
    db->st[id] = st;
    return st;
  }
  /* reset reports the previous step's error, already handled there. */
  (void)sqlite3_reset(st);
  (void)sqlite3_clear_bindings(st);
  return st;
}

int tdb_exec(tracedb_t *db, tdb_stmt_id_t id, const char *what) {
  sqlite3_stmt *st = db->st[id] ? db->st[id] : tdb_stmt(db, id);
  if (!st) return SIM_EIO;
  int rc = sqlite3_step(st);
  int result = rc == SQLITE_DONE || rc == SQLITE_ROW ? SIM_OK : tdb_fail(db, what);
  (void)sqlite3_reset(st);
  return result;
}

int tdb_bind_opt(sqlite3_stmt *st, int i, bool has, int64_t v) {
  return has ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

int tdb_bind_text(sqlite3_stmt *st, int i, const char *s) {
  return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

const char *tracedb_errmsg(const tracedb_t *db) { return db ? db->err : "no trace database"; }

/* ---- opening and closing ---- */

/* Runs a PRAGMA whose text is constant; its result row, if any, is dropped. */
static int pragma(tracedb_t *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return tdb_fail(db, sql);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SIM_OK : tdb_fail(db, sql);
}

static tracedb_t *open_common(const char *path, bool readonly, char *err, size_t errlen) {
  tracedb_t *db = iosim_calloc(1, sizeof *db);
  db->readonly = readonly;
  db->sink_rc = SIM_OK;
  /* One connection, used by one thread: no mutexes.  A reader opens the
     file read-write but never creates it, and refuses every write with
     query_only (below): a SQLITE_OPEN_READONLY connection to a WAL file
     creates its -wal and -shm files and, unable to write, cannot remove
     them when it closes; a read-write one, the last to close, does. */
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | (readonly ? 0 : SQLITE_OPEN_CREATE);
  iosim_sqlite_use_alloc();
  int rc = sqlite3_open_v2(path, &db->db, flags, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path,
             db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
    sqlite3_close(db->db);
    free(db);
    return NULL;
  }
  (void)sqlite3_extended_result_codes(db->db, 1);
  if (readonly && pragma(db, "PRAGMA query_only = ON") != SIM_OK) {
    snprintf(err, errlen, "%s", db->err);
    tracedb_close(db);
    return NULL;
  }
  /* Another process may be writing a run into the same file. */
  (void)sqlite3_busy_timeout(db->db, 5000);
  /* No fsync at all: a killed process loses nothing the operating system
     already has (WAL plus one transaction per run keep the file consistent
     then); only a power cut could hurt a trace, which is a scratch file
     that a rerun rebuilds.  The syncs cost more than a small lesson's whole
     run on these machines (docs/performance.md).  Set first, so that
     creating the schema does not sync either. */
  if (!readonly) (void)pragma(db, "PRAGMA synchronous = OFF");
  /* Up to 64 MiB of page cache instead of 2 (only a long run fills it): its
     transaction spills fewer pages to the WAL before it commits, and the
     index built at the commit is sorted in memory, in fewer pieces. */
  if (!readonly) (void)pragma(db, "PRAGMA cache_size = " TDB_CACHE_KIB);
  /* Checked before anything that could write (journal mode included). */
  rc = tdb_schema_prepare(db, path, !readonly);
  /* WAL: readers (pictures, a class's queries) never block the writer, and
     a killed writer's open transaction is simply not there on reopen. */
  if (rc == SIM_OK && !readonly) rc = pragma(db, "PRAGMA journal_mode = WAL");
  if (rc != SIM_OK) {
    snprintf(err, errlen, "%s", db->err);
    tracedb_close(db);
    return NULL;
  }
  return db;
}

tracedb_t *tracedb_open(const char *path, char *err, size_t errlen) {
  return open_common(path, false, err, errlen);
}

tracedb_t *tracedb_open_readonly(const char *path, char *err, size_t errlen) {
  return open_common(path, true, err, errlen);
}

static int finish_run(tracedb_t *db, sim_t *S, const char *outcome, const scn_result_t *r,
                      const char *message);

void tracedb_close(tracedb_t *db) {
  if (!db) return;
  /* The machine may already be gone: finish without reading it. */
  if (db->run) (void)finish_run(db, NULL, TRACEDB_OUTCOME_INTERRUPTED,
                                NULL, "the trace database was closed before the run ended");
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(db->st[i]);
  sqlite3_close(db->db);
  free(db);
}

/* ---- the sink ----
 * The hot path: one row per step.  Bindings survive sqlite3_reset, and most
 * of a step's 41 parameters are NULL or the same as the step before, so a
 * parameter is only bound when its value changes (db->ev_bound, ev_val). */

/* An integer parameter, or NULL when !has. */
static inline int ev_int(tracedb_t *db, sqlite3_stmt *st, int i, bool has, int64_t v) {
  uint64_t bit = 1ull << (i - 1);
  if (!has) {
    if (!(db->ev_bound & bit)) return SQLITE_OK;
    db->ev_bound &= ~bit;
    return sqlite3_bind_null(st, i);
  }
  if ((db->ev_bound & bit) && db->ev_val[i] == v) return SQLITE_OK;
  db->ev_bound |= bit;
  db->ev_val[i] = v;
  return sqlite3_bind_int64(st, i, v);
}

/* A name that lives as long as the program (kind, frame, status names):
   bound without a copy, and not again while the pointer is the same. */
static inline int ev_name(tracedb_t *db, sqlite3_stmt *st, int i, const char *s) {
  uint64_t bit = 1ull << (i - 1);
  if (!s) return ev_int(db, st, i, false, 0);
  if ((db->ev_bound & bit) && db->ev_val[i] == (int64_t)(intptr_t)s) return SQLITE_OK;
  db->ev_bound |= bit;
  db->ev_val[i] = (int64_t)(intptr_t)s;
  return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* A text borrowed for this step only (detail, service, text): bound every
   time, without a copy - the row is written before the sink returns. */
static inline int ev_text(tracedb_t *db, sqlite3_stmt *st, int i, const char *s) {
  if (!s) return ev_int(db, st, i, false, 0);
  db->ev_bound |= 1ull << (i - 1);
  db->ev_val[i] = 0; /* never a name's pointer: the next name is bound */
  return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static const char *stage2_name(trc_stage2_t s) {
  return s == TRC_STAGE2_INLINE ? "inline" : s == TRC_STAGE2_APC ? "apc" : NULL;
}

static const char *outcome_name(trc_outcome_t o) {
  return o == TRC_OUTCOME_NONE ? NULL : sim_outcome_name((sim_outcome_t)o);
}

/* A run with many rows writes faster without the event index: it is
   dropped (inside the run's transaction, so a killed writer leaves it as
   it was) and built again before the run commits. */
static int drop_indexes(tracedb_t *db) {
  if (sqlite3_exec(db->db, TDB_EVENT_DROP_SQL, NULL, NULL, NULL) != SQLITE_OK)
    return tdb_fail(db, "dropping the event indexes");
  db->indexes_dropped = true;
  return SIM_OK;
}

static int build_indexes(tracedb_t *db) {
  if (!db->indexes_dropped) return SIM_OK;
  if (sqlite3_exec(db->db, TDB_EVENT_INDEX_SQL TDB_EVENT_STAT_SQL, NULL, NULL, NULL) != SQLITE_OK)
    return tdb_fail(db, "building the event indexes");
  db->indexes_dropped = false;
  return SIM_OK;
}

static int write_event(tracedb_t *db, const trc_event_t *ev) {
  sqlite3_stmt *st = db->st[ST_EVENT];
  if (!st) {
    if (!(st = tdb_stmt(db, ST_EVENT))) return SIM_EIO;
    db->ev_bound = 0;
  }
  if (db->nevents == db->drop_at && !db->indexes_dropped && drop_indexes(db) != SIM_OK) return SIM_EIO;
  bool cpu = ev->cpu >= 0;
  char sb[16];
  const char *stn = ev->has_status ? iosim_status_name(ev->status, sb) : NULL;
  int rc = ev_int(db, st, 1, true, db->run);
  rc |= ev_int(db, st, 2, true, (int64_t)ev->seq);
  rc |= ev_int(db, st, 3, true, (int64_t)ev->t_ns);
  rc |= ev_int(db, st, 4, cpu, ev->cpu);
  rc |= ev_int(db, st, 5, cpu, ev->irql);
  rc |= ev_name(db, st, 6, cpu ? trc_frame_name(ev->frame) : NULL);
  rc |= ev_int(db, st, 7, ev->thread != 0, ev->thread);
  rc |= ev_int(db, st, 8, ev->irp != 0, ev->irp);
  rc |= ev_int(db, st, 9, ev->device != 0, ev->device);
  rc |= ev_int(db, st, 10, ev->stack_location != 0, ev->stack_location);
  rc |= ev_name(db, st, 11, trc_kind_name(ev->kind));
  if (stn == sb) {
    rc |= sqlite3_bind_text(st, 12, sb, -1, SQLITE_TRANSIENT);
    db->ev_bound |= 1ull << 11;
    db->ev_val[12] = 0;
  } else {
    rc |= ev_name(db, st, 12, stn);
  }
  rc |= ev_int(db, st, 13, ev->major >= 0, ev->major);
  rc |= ev_int(db, st, 14, ev->minor >= 0, ev->minor);
  rc |= ev_int(db, st, 15, ev->loc_from != 0, ev->loc_from);
  rc |= ev_int(db, st, 16, ev->loc_to != 0, ev->loc_to);
  rc |= ev_int(db, st, 17, ev->control >= 0, ev->control);
  rc |= ev_int(db, st, 18, ev->pending_returned >= 0, ev->pending_returned);
  rc |= ev_int(db, st, 19, ev->has_info != 0, (int64_t)ev->info);
  rc |= ev_int(db, st, 20, ev->stack_size != 0, ev->stack_size);
  rc |= ev_int(db, st, 21, ev->routine_device != 0, ev->routine_device);
  rc |= ev_name(db, st, 22, stage2_name(ev->stage2));
  rc |= ev_int(db, st, 23, ev->target_cpu >= 0, ev->target_cpu);
  rc |= ev_int(db, st, 24, ev->target_thread != 0, ev->target_thread);
  rc |= ev_int(db, st, 25, ev->port != 0, ev->port);
  rc |= ev_int(db, st, 26, ev->file != 0, ev->file);
  rc |= ev_int(db, st, 27, ev->object != 0, ev->object);
  rc |= ev_int(db, st, 28, ev->wait_index >= 0, ev->wait_index);
  rc |= ev_int(db, st, 29, ev->count >= 0, ev->count);
  rc |= ev_int(db, st, 30, ev->running >= 0, ev->running);
  rc |= ev_int(db, st, 31, ev->limit >= 0, ev->limit);
  rc |= ev_int(db, st, 32, ev->cancel_routine >= 0, ev->cancel_routine);
  rc |= ev_int(db, st, 33, ev->kind == TRC_OP || ev->touches_irp, ev->touches_irp != 0);
  rc |= ev_int(db, st, 34, ev->irql_from >= 0, ev->irql_from);
  rc |= ev_int(db, st, 35, ev->irql_to >= 0, ev->irql_to);
  rc |= ev_name(db, st, 36, outcome_name(ev->outcome));
  rc |= ev_int(db, st, 37, ev->offset >= 0, ev->offset);
  rc |= ev_int(db, st, 38, ev->writes != 0, ev->writes);
  rc |= ev_text(db, st, 39, ev->service);
  rc |= ev_text(db, st, 40, ev->text);
  rc |= ev_text(db, st, 41, ev->detail ? ev->detail : "");
  rc |= ev_int(db, st, 42, ev->target_irp != 0, ev->target_irp);
  rc |= ev_int(db, st, 43, ev->bugcheck_code != 0, ev->bugcheck_code);
  rc |= ev_name(db, st, 44, trc_irp_state_name(ev->irp_state));
  rc |= ev_int(db, st, 45, ev->line > 0, ev->line);
  /* SQLITE_OK is 0, so any failed bind leaves a bit set. */
  if (rc != SQLITE_OK) return tdb_fail(db, "event");
  rc = sqlite3_step(st);
  (void)sqlite3_reset(st);
  if (rc != SQLITE_DONE) return tdb_fail(db, "event");
  db->nevents++;
  return SIM_OK;
}

/* The machine outcome, from the run-end step: the only place it exists
   when no scenario result is at hand. */
static void note_run_end(tracedb_t *db, trc_outcome_t o) {
  const char *name = outcome_name(o);
  snprintf(db->machine_outcome, sizeof db->machine_outcome, "%s", name ? name : "");
}

static void record_step(tracedb_t *db, const trc_event_t *ev) {
  if (!db->run || db->ignore) return;
  if (db->intr && *db->intr) {
    char msg[96];
    snprintf(msg, sizeof msg, "interrupted by the user after step %llu",
             (unsigned long long)(ev->seq - 1));
    db->interrupted = true;
    if (db->S) sim_request_stop(db->S); /* and the machine stops at its next scheduling point */
    if (finish_run(db, db->S, TRACEDB_OUTCOME_INTERRUPTED, NULL, msg) != SIM_OK)
      db->sink_rc = SIM_EIO;
    db->ignore = true;
    return;
  }
  if (ev->kind == TRC_RUN_END) note_run_end(db, ev->outcome);
  if (write_event(db, ev) != SIM_OK) {
    /* Keep the first failure; the run is marked when it ends. */
    db->sink_rc = SIM_EIO;
    db->ignore = true;
    return;
  }
  /* A long run commits every TDB_COMMIT_EVERY steps, so a writer killed
     mid-run leaves its steps up to the last commit (docs/performance.md
     gives the cost); the run row still says "running", and readers report
     it as never finished (tracedb_pick_run). */
  if (++db->since_commit >= TDB_COMMIT_EVERY) {
    db->since_commit = 0;
    if (tdb_exec(db, ST_COMMIT, "commit") != SIM_OK || tdb_exec(db, ST_BEGIN, "begin") != SIM_OK) {
      db->sink_rc = SIM_EIO;
      db->ignore = true;
    }
  }
}

static void sink_event(void *ud, const trc_event_t *ev) { record_step(ud, ev); }

int tracedb_record_event(tracedb_t *db, const trc_event_t *ev) {
  if (!db->run) return db->interrupted ? db->sink_rc : tdb_failf(db, SIM_ESTATE, "no run is being recorded");
  record_step(db, ev);
  return db->sink_rc;
}

void tracedb_watch_interrupt(tracedb_t *db, const volatile sig_atomic_t *flag) { db->intr = flag; }
int tracedb_interrupted(const tracedb_t *db) { return db->interrupted; }
int64_t tracedb_run_id(const tracedb_t *db) { return db->run ? db->run : db->last_run; }

static void mark_failed(tracedb_t *db);

/* ---- beginning a run ---- */

static int insert_run(tracedb_t *db, const char *path, uint64_t hash, uint64_t seed,
                      const char *outcome, int cpus, const char *message) {
  sqlite3_stmt *st = tdb_stmt(db, ST_RUN_INSERT);
  if (!st) return SIM_EIO;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
  int rc = tdb_bind_text(st, 1, path);
  rc |= sqlite3_bind_text(st, 2, hex, -1, SQLITE_TRANSIENT);
  /* Seeds past 2^63 come out negative: SQLite integers are signed. */
  rc |= sqlite3_bind_int64(st, 3, (int64_t)seed);
  rc |= sqlite3_bind_text(st, 4, IOSIM_VERSION, -1, SQLITE_STATIC);
  rc |= sqlite3_bind_text(st, 5, outcome, -1, SQLITE_TRANSIENT);
  rc |= tdb_bind_opt(st, 6, cpus > 0, cpus);
  rc |= tdb_bind_text(st, 7, message);
  if (rc != SQLITE_OK) return tdb_fail(db, "run");
  rc = tdb_exec(db, ST_RUN_INSERT, "run");
  if (rc == SIM_OK) db->last_run = sqlite3_last_insert_rowid(db->db);
  return rc;
}

int tracedb_begin_run(tracedb_t *db, sim_t *S, const char *scenario_path, uint64_t text_hash,
                      uint64_t seed) {
  if (db->readonly) return tdb_failf(db, SIM_ESTATE, "the trace database is open read-only");
  if (db->run) return tdb_failf(db, SIM_ESTATE, "run %lld is still being recorded", (long long)db->run);
  /* Committed on its own: if the process dies mid-run, this row (still
     "running") is what tells the reader. */
  int rc = insert_run(db, scenario_path, text_hash, seed, TRACEDB_OUTCOME_RUNNING,
                      S ? sim_cpu_count(S) : 0, NULL);
  if (rc != SIM_OK) return rc;
  rc = tdb_exec(db, ST_BEGIN, "begin");
  if (rc != SIM_OK) return rc;
  db->run = db->last_run;
  db->in_txn = true;
  db->ignore = false;
  db->interrupted = false;
  db->sink_rc = SIM_OK;
  db->nevents = 0;
  db->since_commit = 0;
  db->indexes_dropped = false;
  /* Past as many rows as the file already holds (and a few thousand), the
     indexes cost more to keep up than to build again. */
  sqlite3_stmt *st = tdb_stmt(db, ST_EVENT_ROWS);
  /* Out of memory here makes SQLite roll the transaction back by itself:
     going on would write the run outside it. */
  if (!st || sqlite3_step(st) != SQLITE_ROW) {
    rc = st ? tdb_fail(db, "begin") : SIM_EIO;
    if (st) (void)sqlite3_reset(st);
    mark_failed(db);
    db->run = 0;
    return rc;
  }
  int64_t rows = sqlite3_column_int64(st, 0);
  (void)sqlite3_reset(st);
  db->drop_at = rows > TDB_DROP_MIN_ROWS ? (uint64_t)rows : TDB_DROP_MIN_ROWS;
  db->machine_outcome[0] = '\0';
  db->S = S;
  if (S) {
    sim_keep_irp_info(S, true);
    trc_sink_t sink = {.event = sink_event, .close = NULL, .ud = db};
    sim_add_sink(S, &sink);
  }
  return SIM_OK;
}

/* ---- the machine rows ---- */

static int write_devices(tracedb_t *db, sim_t *S) {
  uint32_t n = sim_device_count(S);
  for (uint32_t id = 1; id <= n; id++) {
    PDEVICE_OBJECT dev = sim_device_object(S, id);
    PDRIVER_OBJECT drv = dev ? dev->DriverObject : NULL;
    sqlite3_stmt *st = tdb_stmt(db, ST_DRIVER);
    if (!st) return SIM_EIO;
    if (drv) {
      int rc = sqlite3_bind_int64(st, 1, db->run);
      rc |= sqlite3_bind_int64(st, 2, drv->SimId);
      rc |= tdb_bind_text(st, 3, drv->SimName ? drv->SimName : "");
      if (rc != SQLITE_OK || tdb_exec(db, ST_DRIVER, "driver") != SIM_OK) return tdb_fail(db, "driver");
    }
    if (!(st = tdb_stmt(db, ST_DEVICE))) return SIM_EIO;
    uint32_t lower = sim_device_lower(S, id);
    int rc = sqlite3_bind_int64(st, 1, db->run);
    rc |= sqlite3_bind_int64(st, 2, id);
    rc |= tdb_bind_text(st, 3, sim_device_name(S, id));
    rc |= tdb_bind_opt(st, 4, drv != NULL, drv ? drv->SimId : 0);
    rc |= tdb_bind_opt(st, 5, lower != 0, lower);
    rc |= sqlite3_bind_int(st, 6, sim_device_stack_size(S, id));
    if (rc != SQLITE_OK || tdb_exec(db, ST_DEVICE, "device") != SIM_OK) return tdb_fail(db, "device");
  }
  return SIM_OK;
}

static int write_threads(tracedb_t *db, sim_t *S) {
  uint32_t n = sim_thread_count(S);
  for (uint32_t id = 1; id <= n; id++) {
    sqlite3_stmt *st = tdb_stmt(db, ST_THREAD);
    if (!st) return SIM_EIO;
    int rc = sqlite3_bind_int64(st, 1, db->run);
    rc |= sqlite3_bind_int64(st, 2, id);
    rc |= tdb_bind_text(st, 3, sim_thread_name(S, id));
    rc |= tdb_bind_text(st, 4, sim_thread_state(S, id));
    if (rc != SQLITE_OK || tdb_exec(db, ST_THREAD, "thread") != SIM_OK) return tdb_fail(db, "thread");
  }
  return SIM_OK;
}

/* Ports and objects (events, file objects) by the ids the steps carry. */
static int write_names(tracedb_t *db, sim_t *S, int which, uint32_t n, const char *(*name)(sim_t *, uint32_t)) {
  for (uint32_t id = 1; id <= n; id++) {
    sqlite3_stmt *st = tdb_stmt(db, which);
    if (!st) return SIM_EIO;
    int rc = sqlite3_bind_int64(st, 1, db->run);
    rc |= sqlite3_bind_int64(st, 2, id);
    rc |= tdb_bind_text(st, 3, name(S, id));
    if (rc != SQLITE_OK || tdb_exec(db, which, "names") != SIM_OK) return tdb_fail(db, "names");
  }
  return SIM_OK;
}

static int write_irp(tracedb_t *db, const sim_irp_info_t *in) {
  sqlite3_stmt *st = tdb_stmt(db, ST_IRP);
  if (!st) return SIM_EIO;
  char sb[16];
  int rc = sqlite3_bind_int64(st, 1, db->run);
  rc |= sqlite3_bind_int64(st, 2, in->id);
  rc |= tdb_bind_text(st, 3, in->major_set ? iosim_major_name(in->major) : NULL);
  rc |= tdb_bind_opt(st, 4, in->major_set, in->major);
  rc |= tdb_bind_opt(st, 5, in->thread != 0, in->thread);
  rc |= tdb_bind_opt(st, 6, in->file != 0, in->file);
  rc |= tdb_bind_opt(st, 7, in->master != 0, in->master);
  rc |= sqlite3_bind_int(st, 8, in->stack_count);
  rc |= tdb_bind_text(st, 9, in->completed ? iosim_status_name(in->final.Status, sb) : NULL);
  rc |= tdb_bind_opt(st, 10, in->completed, (int64_t)in->final.Information);
  rc |= sqlite3_bind_int64(st, 11, (int64_t)in->issued_ns);
  rc |= tdb_bind_opt(st, 12, in->completed, (int64_t)in->completed_ns);
  rc |= tdb_bind_opt(st, 13, in->completed, in->pending_returned);
  rc |= sqlite3_bind_int(st, 14, in->completed);
  rc |= sqlite3_bind_int(st, 15, in->freed);
  rc |= tdb_bind_text(st, 16, in->tag);
  if (rc != SQLITE_OK || tdb_exec(db, ST_IRP, "irp") != SIM_OK) return tdb_fail(db, "irp");
  return SIM_OK;
}

static int write_irps(tracedb_t *db, sim_t *S) {
  uint32_t n = sim_irp_count(S);
  for (uint32_t id = 1; id <= n; id++) {
    const sim_irp_info_t *in = sim_irp_info(S, id);
    if (!in) continue; /* IRP facts were not kept for this one */
    int rc = write_irp(db, in);
    if (rc != SIM_OK) return rc;
  }
  return SIM_OK;
}

static int write_expectations(tracedb_t *db, const scn_result_t *r) {
  for (int i = 0; i < r->expect_total; i++) {
    const scn_expect_result_t *x = &r->expects[i];
    sqlite3_stmt *st = tdb_stmt(db, ST_EXPECT);
    if (!st) return SIM_EIO;
    int rc = sqlite3_bind_int64(st, 1, db->run);
    rc |= sqlite3_bind_int(st, 2, i + 1);
    rc |= tdb_bind_opt(st, 3, x->line > 0, x->line);
    rc |= tdb_bind_text(st, 4, x->text ? x->text : "");
    rc |= sqlite3_bind_int(st, 5, x->passed);
    rc |= tdb_bind_text(st, 6, x->facts);
    if (rc != SQLITE_OK || tdb_exec(db, ST_EXPECT, "expectation") != SIM_OK)
      return tdb_fail(db, "expectation");
  }
  return SIM_OK;
}

static int write_findings(tracedb_t *db, const scn_result_t *r) {
  for (int i = 0; i < r->finding_total; i++) {
    const vrf_finding_t *f = &r->findings[i];
    sqlite3_stmt *st = tdb_stmt(db, ST_FINDING);
    if (!st) return SIM_EIO;
    int rc = sqlite3_bind_int64(st, 1, db->run);
    rc |= sqlite3_bind_int(st, 2, i + 1);
    rc |= tdb_bind_text(st, 3, f->name);
    rc |= tdb_bind_opt(st, 4, f->irp != 0, f->irp);
    rc |= tdb_bind_text(st, 5, f->irp_tag[0] ? f->irp_tag : NULL);
    rc |= tdb_bind_opt(st, 6, f->device != 0, f->device);
    rc |= tdb_bind_text(st, 7, f->device_name[0] ? f->device_name : NULL);
    rc |= tdb_bind_opt(st, 8, f->seq != 0, (int64_t)f->seq);
    rc |= sqlite3_bind_int64(st, 9, (int64_t)f->t_ns);
    rc |= sqlite3_bind_int(st, 10, f->predicted);
    rc |= tdb_bind_text(st, 11, f->what);
    if (rc != SQLITE_OK || tdb_exec(db, ST_FINDING, "finding") != SIM_OK) return tdb_fail(db, "finding");
  }
  return SIM_OK;
}

/* The final run row.  S and r may each be NULL. */
static int update_run(tracedb_t *db, sim_t *S, const char *outcome, const scn_result_t *r,
                      const char *message) {
  sqlite3_stmt *st = tdb_stmt(db, ST_RUN_FINISH);
  if (!st) return SIM_EIO;
  const sim_bugcheck_t *bc = r && r->outcome == SIM_RUN_BUGCHECK ? &r->bugcheck
                             : S ? sim_bugcheck(S) : NULL;
  const char *machine = r ? sim_outcome_name(r->outcome)
                        : db->machine_outcome[0] ? db->machine_outcome : NULL;
  int rc = sqlite3_bind_int64(st, 1, db->run);
  rc |= sqlite3_bind_text(st, 2, outcome, -1, SQLITE_TRANSIENT);
  rc |= tdb_bind_text(st, 3, machine);
  rc |= tdb_bind_opt(st, 4, S != NULL, S ? (int64_t)sim_now(S) : 0);
  rc |= tdb_bind_opt(st, 5, S != NULL, S ? (int64_t)sim_steps(S) : 0);
  rc |= sqlite3_bind_int64(st, 6, (int64_t)db->nevents);
  rc |= tdb_bind_opt(st, 7, r != NULL, r ? r->expect_total : 0);
  rc |= tdb_bind_opt(st, 8, r != NULL, r ? r->expect_failed : 0);
  rc |= tdb_bind_opt(st, 9, bc != NULL, bc ? (int64_t)bc->code : 0);
  rc |= tdb_bind_text(st, 10, bc ? iosim_bugcheck_name(bc->code) : NULL);
  rc |= tdb_bind_text(st, 11, bc ? bc->reason : NULL);
  rc |= tdb_bind_text(st, 12, message ? message : bc ? bc->reason : NULL);
  rc |= tdb_bind_opt(st, 13, r != NULL, r ? (int64_t)r->seed : 0);
  if (rc != SQLITE_OK) return tdb_fail(db, "run");
  return tdb_exec(db, ST_RUN_FINISH, "run");
}

/* After a failed write: the run's rows are rolled back and its run row
   (committed at the start) says why. */
static void mark_failed(tracedb_t *db) {
  char keep[sizeof db->err];
  memcpy(keep, db->err, sizeof keep);
  if (db->in_txn) (void)tdb_exec(db, ST_ROLLBACK, "rollback");
  db->in_txn = false;
  db->indexes_dropped = false; /* the rollback brought them back */
  sqlite3_stmt *st = tdb_stmt(db, ST_RUN_MARK);
  if (st && sqlite3_bind_int64(st, 1, db->run) == SQLITE_OK &&
      sqlite3_bind_text(st, 2, "trace error", -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_bind_text(st, 3, keep, -1, SQLITE_TRANSIENT) == SQLITE_OK)
    (void)tdb_exec(db, ST_RUN_MARK, "run");
  memcpy(db->err, keep, sizeof keep);
}

/* Writes what is known, commits, and closes the run on this handle. */
static int finish_run(tracedb_t *db, sim_t *S, const char *outcome, const scn_result_t *r,
                      const char *message) {
  int rc = db->sink_rc;
  if (rc == SIM_OK && S) rc = write_devices(db, S);
  if (rc == SIM_OK && S) rc = write_threads(db, S);
  if (rc == SIM_OK && S) rc = write_names(db, S, ST_PORT, sim_port_count(S), sim_port_name);
  if (rc == SIM_OK && S) rc = write_names(db, S, ST_OBJECT, sim_object_count(S), sim_object_name);
  if (rc == SIM_OK && S) rc = write_irps(db, S);
  if (rc == SIM_OK && r) rc = write_expectations(db, r);
  if (rc == SIM_OK && r) rc = write_findings(db, r);
  if (rc == SIM_OK) rc = build_indexes(db);
  if (rc == SIM_OK) rc = update_run(db, S, outcome, r, message);
  if (rc == SIM_OK) rc = tdb_exec(db, ST_COMMIT, "commit");
  if (rc == SIM_OK) db->in_txn = false;
  else mark_failed(db);
  db->run = 0;
  db->S = NULL;
  return rc;
}

int tracedb_end_run(tracedb_t *db, sim_t *S, const char *outcome, const scn_result_t *r) {
  if (db->interrupted && !db->run) return db->sink_rc; /* already finished at the Ctrl-C */
  if (!db->run) return tdb_failf(db, SIM_ESTATE, "no run is being recorded");
  if (!outcome && !r) return tdb_failf(db, SIM_EINVAL, "tracedb_end_run: no outcome and no result");
  db->ignore = true;
  return finish_run(db, S, outcome ? outcome : tracedb_outcome(r->outcome, r), r, NULL);
}

void tracedb_abort_run(tracedb_t *db, sim_t *S, const char *outcome, const char *message) {
  if (!db || !db->run) return;
  db->ignore = true;
  (void)finish_run(db, S, outcome ? outcome : TRACEDB_OUTCOME_INTERRUPTED, NULL, message);
}

int tracedb_record_run(tracedb_t *db, const char *scenario_path, uint64_t text_hash, uint64_t seed,
                       const char *outcome, const char *message) {
  if (db->readonly) return tdb_failf(db, SIM_ESTATE, "the trace database is open read-only");
  if (db->run) return tdb_failf(db, SIM_ESTATE, "run %lld is still being recorded", (long long)db->run);
  return insert_run(db, scenario_path, text_hash, seed, outcome, 0, message);
}

const char *tracedb_outcome(sim_outcome_t o, const scn_result_t *r) {
  switch (o) {
  case SIM_RUN_BUGCHECK: return TRACEDB_OUTCOME_BUGCHECK;
  case SIM_RUN_LIMIT: return TRACEDB_OUTCOME_LIMIT;
  case SIM_RUN_STOPPED: return TRACEDB_OUTCOME_INTERRUPTED;
  default: break;
  }
  if (r && r->expect_failed > 0) return TRACEDB_OUTCOME_EXPECT_FAILED;
  return o == SIM_RUN_STALLED ? TRACEDB_OUTCOME_STALLED : TRACEDB_OUTCOME_OK;
}

/* ---- scenario runner hooks ---- */

void tracedb_on_start(void *ud, sim_t *S) {
  tracedb_hooks_t *h = ud;
  int rc = tracedb_begin_run(h->db, S, h->scenario_path, h->text_hash, h->seed);
  if (rc != SIM_OK && h->rc == SIM_OK) {
    h->rc = rc;
    snprintf(h->err, sizeof h->err, "%s", tracedb_errmsg(h->db));
  }
}

void tracedb_on_finish(void *ud, sim_t *S, const scn_result_t *r) {
  tracedb_hooks_t *h = ud;
  if (h->rc != SIM_OK) return; /* the run was never begun */
  int rc = tracedb_end_run(h->db, S, NULL, r);
  if (rc != SIM_OK) {
    h->rc = rc;
    snprintf(h->err, sizeof h->err, "%s", tracedb_errmsg(h->db));
  }
}

int tracedb_hooks_fail(tracedb_hooks_t *h, const char *outcome, const char *message) {
  tracedb_t *db = h->db;
  int rc;
  if (db->run) {
    db->ignore = true;
    rc = finish_run(db, NULL, outcome, NULL, message);
  } else {
    rc = tracedb_record_run(db, h->scenario_path, h->text_hash, h->seed, outcome, message);
  }
  if (rc != SIM_OK && h->rc == SIM_OK) {
    h->rc = rc;
    snprintf(h->err, sizeof h->err, "%s", tracedb_errmsg(db));
  }
  return rc;
}

/* ---- reading ---- */

/* The last run that ran (0: none), or SIM_EIO when the query failed (out
   of memory): "no run" and "could not look" are different answers. */
static int last_run(tracedb_t *db, int64_t *id) {
  *id = 0;
  sqlite3_stmt *st = tdb_stmt(db, ST_LAST_RUN);
  if (!st) return SIM_EIO;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
  else if (rc != SQLITE_DONE) rc = tdb_fail(db, "runs");
  (void)sqlite3_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SIM_OK : SIM_EIO;
}

int64_t tracedb_last_run(tracedb_t *db) {
  int64_t id;
  return last_run(db, &id) == SIM_OK ? id : 0;
}

/* One row of a constant query with one run-id parameter: its integer
   column 0 and text column 1 (NULL: ""). */
static int run_query(tracedb_t *db, const char *sql, int64_t run, int64_t *n, char *text, size_t tn) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return tdb_fail(db, "runs");
  (void)sqlite3_bind_int64(st, 1, run);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *n = sqlite3_column_int64(st, 0);
    const unsigned char *t = sqlite3_column_text(st, 1);
    snprintf(text, tn, "%s", t ? (const char *)t : "");
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) return SIM_OK;
  if (rc == SQLITE_DONE) return SIM_ENOENT;
  return tdb_fail(db, "runs");
}

/* Whether a process is writing into the file now: a writer holds its
   write transaction (BEGIN IMMEDIATE) from the start of a run to its end,
   committing and beginning again every TDB_COMMIT_EVERY steps; so if this
   connection can take the write lock at once, nobody holds it and a run
   still marked "running" lost its writer.  But the lock is also free
   between a periodic commit and the next BEGIN IMMEDIATE, while SQLite
   copies the committed steps from the WAL into the file (a checkpoint):
   52 to 123 ms each time for a run of `delay` steps here, against 0.9 to
   1.8 s of holding it.  So a reader looks five times over 750 ms and
   calls the writer dead only if every look found the lock free; a killed
   run costs the reader 0.75 s. */
static bool writer_alive(tracedb_t *db) {
  if (db->run) return true; /* this very handle is writing it */
  /* A query_only connection is refused the write lock (SQLITE_READONLY)
     before the lock is even tried: lift it for the look; the transaction
     writes nothing. */
  if (db->readonly) (void)sqlite3_exec(db->db, "PRAGMA query_only = OFF", NULL, NULL, NULL);
  sqlite3_busy_timeout(db->db, 0);
  bool alive = false;
  static const long wait_ms[] = {0, 50, 100, 200, 400};
  for (size_t look = 0; look < sizeof wait_ms / sizeof wait_ms[0] && !alive; look++) {
    if (wait_ms[look]) nanosleep(&(struct timespec){.tv_nsec = wait_ms[look] * 1000 * 1000}, NULL);
    int rc = sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) (void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    alive = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; /* extended codes are on */
  }
  sqlite3_busy_timeout(db->db, 5000);
  if (db->readonly) (void)sqlite3_exec(db->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
  return alive;
}

int tracedb_pick_run(tracedb_t *db, int64_t run, int64_t *picked, char *err, size_t errlen) {
  char why[400];
  int64_t n = 0;
  int rc;
  if (run <= 0) {
    if (last_run(db, &run) != SIM_OK) {
      snprintf(err, errlen, "%s", db->err);
      return SIM_EIO;
    }
    if (run == 0) {
      /* Say what the file holds instead: nothing, or runs that never ran. */
      rc = run_query(db, "SELECT id, outcome || coalesce(': ' || message, '') FROM run WHERE ?1 = ?1"
                         " ORDER BY id DESC LIMIT 1", 0, &n, why, sizeof why);
      if (rc == SIM_ENOENT) snprintf(err, errlen, "it holds no runs yet");
      else if (rc == SIM_OK)
        snprintf(err, errlen, "it holds no run that ran: its last, run %lld, has no steps (%s)", (long long)n, why);
      else snprintf(err, errlen, "%s", db->err);
      return rc == SIM_EIO ? SIM_EIO : SIM_ENOENT;
    }
  }
  rc = run_query(db, "SELECT coalesce(events, 0), outcome || coalesce(': ' || message, '') FROM run WHERE id = ?1",
                 run, &n, why, sizeof why);
  if (rc == SIM_ENOENT) {
    snprintf(err, errlen, "there is no run %lld in this trace (the last that ran is %lld)", (long long)run,
             (long long)tracedb_last_run(db));
    return SIM_ENOENT;
  }
  if (rc != SIM_OK) {
    snprintf(err, errlen, "%s", db->err);
    return rc;
  }
  if (!strcmp(why, TRACEDB_OUTCOME_RUNNING)) {
    int64_t kept = 0;
    char unused[8];
    if (run_query(db, "SELECT count(*), '' FROM event WHERE run_id = ?1", run, &kept, unused, sizeof unused) != SIM_OK)
      kept = 0;
    /* Its devices, threads and IRPs are written when it ends: a picture of
       it now would be a wrong one. */
    if (writer_alive(db))
      snprintf(err, errlen, "run %lld is still being written (%lld steps so far); look again when it has ended",
               (long long)run, (long long)kept);
    else
      snprintf(err, errlen, "run %lld never finished: the writer was killed (it kept %lld steps, up to its last "
               "commit; run the scenario again)", (long long)run, (long long)kept);
    return SIM_ESTATE;
  }
  if (n == 0) {
    snprintf(err, errlen, "run %lld has no steps: it never ran (%s)", (long long)run, why);
    return SIM_ENOENT;
  }
  *picked = run;
  return SIM_OK;
}

int tracedb_find_irp(tracedb_t *db, int64_t run, const char *tag, uint32_t *irp, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db, "SELECT id FROM irp WHERE run_id = ?1 AND tag = ?2", -1, &st, NULL) != SQLITE_OK) {
    tdb_fail(db, "IRPs");
    snprintf(err, errlen, "%s", db->err);
    return SIM_EIO;
  }
  (void)sqlite3_bind_int64(st, 1, run);
  (void)sqlite3_bind_text(st, 2, tag, -1, SQLITE_TRANSIENT);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) *irp = (uint32_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (s == SQLITE_ROW) return SIM_OK;
  if (s == SQLITE_DONE) {
    snprintf(err, errlen, "run %lld has no IRP named '%s' (`iosim viz --list` lists them)", (long long)run, tag);
    return SIM_ENOENT;
  }
  tdb_fail(db, "IRPs");
  snprintf(err, errlen, "%s", db->err);
  return SIM_EIO;
}

int tracedb_parse_time(const char *text, int64_t *ns) {
  static const struct { const char *unit; double scale; } units[] = {
      {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  char *end;
  double v = strtod(text, &end);
  if (end == text || v < 0) return -1;
  while (*end == ' ') end++;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(end, units[i].unit) == 0) {
      double t = v * units[i].scale + 0.5;
      if (t > 9.2e18) return -1;
      *ns = (int64_t)t;
      return 0;
    }
  return -1;
}
