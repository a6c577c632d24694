/*
 * tracedb_int.h - what the files of the trace database module share: the
 * tracedb_t handle, its prepared statements, and small SQLite helpers.
 * Only sim/db/ includes this (and sqlite3.h); the engine never does.
 */
#ifndef IOSIM_TRACEDB_INT_H
#define IOSIM_TRACEDB_INT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "iosim/tracedb.h"

/* The event table's index, and the planner figures that go with it
   (sqlite_stat1: "a run has many events, an IRP a few dozen"; without them
   the planner prefers scanning a whole run to the IRP index whenever the
   index does not cover the query, which makes the per-IRP views
   quadratic).  There is no index on (run_id, seq): a run's rows are
   appended in seq order by one transaction, so rowid order is step order
   within a run, and the views that look for "the next step" walk rowids.
   Created with the schema; a run with many rows drops the index while it
   writes and runs this again before it commits (tracedb.c), which is what
   lets the writer go nearly as fast as SQLite inserts.  The figures are
   only added where none are (ANALYZE's stay). */
/* A run commits every this many steps (docs/performance.md, docs/reliability.md). */
#ifndef TDB_COMMIT_EVERY
#define TDB_COMMIT_EVERY 100000
#endif

#define TDB_EVENT_INDEX_SQL                                                                 \
  "CREATE INDEX IF NOT EXISTS event_by_irp ON event(irp, run_id, seq) WHERE irp IS NOT NULL;\n"
#define TDB_EVENT_STAT_SQL                                                                  \
  "INSERT INTO sqlite_stat1(tbl, idx, stat) SELECT 'event', 'event_by_irp', '1000000 400 40 1'" \
  " WHERE NOT EXISTS (SELECT 1 FROM sqlite_stat1 WHERE idx = 'event_by_irp');\n"
#define TDB_EVENT_DROP_SQL "DROP INDEX IF EXISTS event_by_irp;"

/* Every statement the module runs, prepared once per connection on first
   use.  X(ENUM, SQL). */
#define TDB_STMT_MAP(X)                                                                    \
  X(ST_BEGIN, "BEGIN IMMEDIATE")                                                           \
  X(ST_COMMIT, "COMMIT")                                                                   \
  X(ST_ROLLBACK, "ROLLBACK")                                                               \
  X(ST_RUN_INSERT,                                                                         \
    "INSERT INTO run(scenario, scenario_hash, seed, iosim_version, started, outcome, cpus," \
    " message) VALUES(?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?5, ?6, ?7)")   \
  X(ST_RUN_FINISH,                                                                         \
    "UPDATE run SET outcome = ?2, machine_outcome = ?3,"                                   \
    " finished = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), end_ns = ?4, steps = ?5,"          \
    " events = ?6, expect_total = ?7, expect_failed = ?8, bugcheck_code = ?9,"             \
    " bugcheck_name = ?10, bugcheck_reason = ?11, message = ?12, seed = coalesce(?13, seed)" \
    " WHERE id = ?1")                                                                      \
  X(ST_RUN_MARK, "UPDATE run SET outcome = ?2, message = ?3 WHERE id = ?1")                \
  X(ST_EVENT,                                                                              \
    "INSERT INTO event(run_id, seq, t_ns, cpu, irql, frame, thread, irp, device,"          \
    " stack_location, kind, status, major, minor, loc_from, loc_to, control,"             \
    " pending_returned, information, stack_size, routine_device, stage2, target_cpu,"     \
    " target_thread, port, file, object, wait_index, count, running, concurrency,"        \
    " cancel_routine, touches_irp, irql_from, irql_to, outcome, byte_offset, writes,"     \
    " service, text, detail, target_irp, bugcheck, irp_state, line) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"\
    " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24," \
    " ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41," \
    " ?42, ?43, ?44, ?45)")              \
  X(ST_DRIVER, "INSERT OR IGNORE INTO driver(run_id, id, name) VALUES(?1, ?2, ?3)")       \
  X(ST_DEVICE,                                                                             \
    "INSERT INTO device(run_id, id, name, driver_id, lower_id, stack_size)"                \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                                     \
  X(ST_THREAD, "INSERT INTO thread(run_id, id, name, state) VALUES(?1, ?2, ?3, ?4)")       \
  X(ST_PORT, "INSERT INTO port(run_id, id, name) VALUES(?1, ?2, ?3)")                      \
  X(ST_OBJECT, "INSERT INTO object(run_id, id, name) VALUES(?1, ?2, ?3)")                  \
  X(ST_IRP,                                                                                \
    "INSERT INTO irp(run_id, id, major, major_code, thread, file, master, stack_count,"    \
    " final_status, information, issued_ns, completed_ns, pending_returned, completed,"    \
    " freed, tag) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"  \
    " ?16)")                                                                               \
  X(ST_EXPECT,                                                                             \
    "INSERT INTO expectation(run_id, n, line, text, passed, facts)"                        \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                                     \
  X(ST_FINDING,                                                                             \
    "INSERT INTO finding(run_id, n, rule, irp, irp_tag, device, device_name, seq, t_ns,"   \
    " predicted, what) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")               \
  X(ST_IRQL, "INSERT OR IGNORE INTO irql(level, name) VALUES(?1, ?2)")                     \
  X(ST_LAST_RUN, "SELECT coalesce(max(id), 0) FROM run WHERE events > 0")                 \
  X(ST_EVENT_ROWS, "SELECT coalesce(max(rowid), 0) FROM event")                                   \
  X(ST_IRP_ROW,                                                                            \
    "SELECT i.major, i.thread, t.name, i.file, i.master, i.stack_count,"                   \
    " i.issued_ns, i.completed_ns, i.tag, i.major_code FROM irp i"                                            \
    " LEFT JOIN thread t ON t.run_id = i.run_id AND t.id = i.thread"                       \
    " WHERE i.run_id = ?1 AND i.id = ?2")                                                  \
  X(ST_IRP_EVENTS,                                                                         \
    "SELECT e.seq, e.t_ns, e.kind, e.device, e.stack_location, e.status, e.control,"       \
    " e.information, e.stack_size, e.major, e.cancel_routine, d.name, r.name FROM event e" \
    " LEFT JOIN device d ON d.run_id = e.run_id AND d.id = e.device"                       \
    " LEFT JOIN driver r ON r.run_id = d.run_id AND r.id = d.driver_id"                    \
    " WHERE e.run_id = ?1 AND e.irp = ?2 AND (?3 < 0 OR e.t_ns <= ?3) ORDER BY e.seq")     \
  X(ST_DEVICE_ROW,                                                                         \
    "SELECT d.name, r.name FROM device d"                                                  \
    " LEFT JOIN driver r ON r.run_id = d.run_id AND r.id = d.driver_id"                    \
    " WHERE d.run_id = ?1 AND d.id = ?2")

/* A run drops the event index once it has written this many rows (or as
   many as the file held before it, if more). */
#define TDB_DROP_MIN_ROWS 4096
/* The writer's page cache, as PRAGMA cache_size wants it (negative: KiB). */
#define TDB_CACHE_KIB "-65536"
/* Parameters of ST_EVENT. */
#define TDB_EVENT_PARAMS 45

typedef enum {
#define TDB_X(e, sql) e,
  TDB_STMT_MAP(TDB_X)
#undef TDB_X
  ST_COUNT
} tdb_stmt_id_t;

struct tracedb {
  sqlite3 *db;
  bool readonly;
  sqlite3_stmt *st[ST_COUNT]; /* prepared on first use, finalized at close */
  char err[512];              /* the last failure, "" if none */
  int64_t run;                /* the run being recorded, 0 = none */
  int64_t last_run;           /* the last run begun on this handle */
  bool in_txn;                /* the run's transaction is open */
  bool ignore;                /* the sink drops events (interrupted or failed) */
  bool interrupted;
  int sink_rc;                /* SIM_OK, or why the sink stopped writing */
  uint64_t nevents;           /* event rows written for the open run */
  uint64_t since_commit;      /* event rows since the run's last commit */
  uint64_t drop_at;           /* drop the event indexes when nevents reaches this */
  bool indexes_dropped;       /* rebuild them before the run commits */
  uint64_t ev_bound;          /* ST_EVENT parameters (bit i-1) bound to a value, not NULL */
  int64_t ev_val[TDB_EVENT_PARAMS + 1]; /* their integer values, to skip rebinding */
  char machine_outcome[24];   /* from the run-end step, "" until then */
  const volatile sig_atomic_t *intr; /* Ctrl-C flag, borrowed; NULL = none */
  sim_t *S;                   /* the machine of the open run, borrowed */
};

/* Sets db->err ("what: sqlite's message") and returns SIM_EIO. */
int tdb_fail(tracedb_t *db, const char *what);
/* Sets db->err from a format and returns `code`. */
int tdb_failf(tracedb_t *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The prepared statement `id`, reset and with cleared bindings; NULL (and
   db->err set) if it does not prepare. */
sqlite3_stmt *tdb_stmt(tracedb_t *db, tdb_stmt_id_t id);
/* Steps a statement that returns no rows; SIM_OK or SIM_EIO. */
int tdb_exec(tracedb_t *db, tdb_stmt_id_t id, const char *what);
/* Binds an integer, or NULL when !has. */
int tdb_bind_opt(sqlite3_stmt *st, int i, bool has, int64_t v);
/* Binds a text, or NULL when s is NULL. */
int tdb_bind_text(sqlite3_stmt *st, int i, const char *s);

/* Checks that the open file is an iosim trace of a readable version, and
   creates the schema in an empty one when `create`.  SIM_OK, or an error
   code with db->err set; never writes to a file it refuses. */
int tdb_schema_prepare(tracedb_t *db, const char *path, bool create);

#endif
