/*
 * tracedb_schema.c - the trace database's schema (tables and classroom
 * views, documented in docs/trace-schema.md), and the check that a file is
 * an iosim trace this version can read before anything is written to it.
 */
#include <stdio.h>
#include <string.h>

#include "tracedb_int.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Version 2: typed columns for the facts of every step (trace.h);
   version 3: irp_state, where an IRP still allocated at the end stopped;
   version 4: line, the scenario line a step came from.
   Changing a table means a new TRACEDB_SCHEMA_VERSION, so that an older
   iosim refuses the file instead of misreading it, and this one refuses an
   older file (it would lack the columns every reader here relies on). */
#define FINDING_TABLE_SQL                                                                     \
  "CREATE TABLE finding(run_id INTEGER NOT NULL REFERENCES run(id),"                          \
  " n INTEGER NOT NULL, rule TEXT NOT NULL, irp INTEGER, irp_tag TEXT, device INTEGER,"       \
  " device_name TEXT, seq INTEGER, t_ns INTEGER, predicted INTEGER NOT NULL, what TEXT NOT NULL," \
  " PRIMARY KEY(run_id, n));\n"

static const char schema_sql[] =
    "PRAGMA application_id = " STR(TRACEDB_APPLICATION_ID) ";\n"
    "PRAGMA user_version = " STR(TRACEDB_SCHEMA_VERSION) ";\n"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "INSERT INTO meta VALUES('application', 'iosim trace'),"
    " ('schema_version', '" STR(TRACEDB_SCHEMA_VERSION) "'),"
    " ('created_by', 'iosim " IOSIM_VERSION "');\n"
    "CREATE TABLE irql(level INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    "CREATE TABLE run(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  scenario TEXT,\n"
    "  scenario_hash TEXT,\n"
    "  seed INTEGER NOT NULL,\n"
    "  iosim_version TEXT NOT NULL,\n"
    "  started TEXT NOT NULL,\n"
    "  finished TEXT,\n"
    "  outcome TEXT NOT NULL CHECK(outcome IN ('running', 'ok', 'expectations failed',"
    " 'bugcheck', 'bad input', 'limit reached', 'stalled', 'interrupted', 'trace error')),\n"
    "  machine_outcome TEXT,\n"
    "  cpus INTEGER,\n"
    "  end_ns INTEGER,\n"
    "  steps INTEGER,\n"
    "  events INTEGER,\n"
    "  expect_total INTEGER,\n"
    "  expect_failed INTEGER,\n"
    "  bugcheck_code INTEGER,\n"
    "  bugcheck_name TEXT,\n"
    "  bugcheck_reason TEXT,\n"
    "  message TEXT);\n"
    /* A plain rowid table: a run's rows are appended in seq order (so
       rowid order is step order within a run), and its one index is built
       once its rows are in (tracedb_int.h). */
    "CREATE TABLE event(\n"
    "  run_id INTEGER NOT NULL REFERENCES run(id),\n"
    "  seq INTEGER NOT NULL,\n"
    "  t_ns INTEGER NOT NULL,\n"
    "  cpu INTEGER,\n"
    "  irql INTEGER,\n"
    /* No CHECK on the names: SQLite evaluates `x IN (...)` with a
       temporary b-tree built for every row inserted, which cost more than
       half of the trace's writing time. */
    "  frame TEXT,\n"
    "  thread INTEGER,\n"
    "  irp INTEGER,\n"
    "  device INTEGER,\n"
    "  stack_location INTEGER,\n"
    "  kind TEXT NOT NULL,\n"
    "  status TEXT,\n"
    "  major INTEGER,\n"
    "  minor INTEGER,\n"
    "  loc_from INTEGER,\n"
    "  loc_to INTEGER,\n"
    "  control INTEGER,\n"
    "  pending_returned INTEGER,\n"
    "  information INTEGER,\n"
    "  stack_size INTEGER,\n"
    "  routine_device INTEGER,\n"
    "  stage2 TEXT,\n"
    "  target_cpu INTEGER,\n"
    "  target_thread INTEGER,\n"
    "  port INTEGER,\n"
    "  file INTEGER,\n"
    "  object INTEGER,\n"
    "  wait_index INTEGER,\n"
    "  count INTEGER,\n"
    "  running INTEGER,\n"
    "  concurrency INTEGER,\n"
    "  cancel_routine INTEGER,\n"
    "  touches_irp INTEGER,\n"
    "  irql_from INTEGER,\n"
    "  irql_to INTEGER,\n"
    "  outcome TEXT,\n"
    "  byte_offset INTEGER,\n"
    "  writes INTEGER,\n"
    "  service TEXT,\n"
    "  text TEXT,\n"
    "  detail TEXT NOT NULL,\n"
    "  target_irp INTEGER,\n"
    "  bugcheck INTEGER,\n"
    "  irp_state TEXT,\n"
    "  line INTEGER);\n"
    TDB_EVENT_INDEX_SQL
    "CREATE TABLE driver(run_id INTEGER NOT NULL REFERENCES run(id), id INTEGER NOT NULL,"
    " name TEXT NOT NULL, PRIMARY KEY(run_id, id));\n"
    "CREATE TABLE device(run_id INTEGER NOT NULL REFERENCES run(id), id INTEGER NOT NULL,"
    " name TEXT NOT NULL, driver_id INTEGER, lower_id INTEGER, stack_size INTEGER,"
    " PRIMARY KEY(run_id, id));\n"
    "CREATE TABLE port(run_id INTEGER NOT NULL REFERENCES run(id), id INTEGER NOT NULL,"
    " name TEXT NOT NULL, PRIMARY KEY(run_id, id));\n"
    "CREATE TABLE object(run_id INTEGER NOT NULL REFERENCES run(id), id INTEGER NOT NULL,"
    " name TEXT NOT NULL, PRIMARY KEY(run_id, id));\n"
    "CREATE TABLE thread(run_id INTEGER NOT NULL REFERENCES run(id), id INTEGER NOT NULL,"
    " name TEXT NOT NULL, state TEXT, PRIMARY KEY(run_id, id));\n"
    "CREATE TABLE irp(\n"
    "  run_id INTEGER NOT NULL REFERENCES run(id),\n"
    "  id INTEGER NOT NULL,\n"
    "  tag TEXT,\n"
    "  major TEXT,\n"
    "  major_code INTEGER,\n"
    "  thread INTEGER,\n"
    "  file INTEGER,\n"
    "  master INTEGER,\n"
    "  stack_count INTEGER NOT NULL,\n"
    "  final_status TEXT,\n"
    "  information INTEGER,\n"
    "  issued_ns INTEGER NOT NULL,\n"
    "  completed_ns INTEGER,\n"
    "  pending_returned INTEGER,\n"
    "  completed INTEGER NOT NULL,\n"
    "  freed INTEGER NOT NULL,\n"
    "  PRIMARY KEY(run_id, id));\n"
    "CREATE TABLE expectation(run_id INTEGER NOT NULL REFERENCES run(id), n INTEGER NOT NULL,"
    " line INTEGER, text TEXT NOT NULL, passed INTEGER NOT NULL, facts TEXT,"
    " PRIMARY KEY(run_id, n));\n"
    FINDING_TABLE_SQL
    /* Planner statistics, written by hand (SQLite documents this use of
       sqlite_stat1): without them it prefers scanning a whole run by the
       primary key to the IRP index whenever the index does not cover the
       query, which makes the per-IRP views quadratic.  The figures say
       "a run has many events, an IRP a few dozen".  ANALYZE replaces them
       with measured ones. */
    "ANALYZE meta;\n"
    "DELETE FROM sqlite_stat1;\n"
    TDB_EVENT_STAT_SQL
    /* Views: the questions a class asks, answered without joins. */
    "CREATE VIEW event_named AS\n"
    " SELECT e.rowid AS event_rowid, e.run_id, e.seq, e.t_ns, e.cpu, e.irql, l.name AS irql_name, e.frame,"
    " e.thread, t.name AS thread_name, e.irp, e.device, d.name AS device_name,"
    " e.stack_location, e.kind, e.status, e.major, e.minor, e.loc_from, e.loc_to, e.control,"
    " e.pending_returned, e.information, e.stack_size, e.routine_device, r.name AS routine_device_name,"
    " e.stage2, e.target_cpu, e.target_thread, tt.name AS target_thread_name, e.port, e.file, e.object,"
    " e.wait_index, e.count, e.running, e.concurrency, e.cancel_routine, e.touches_irp, e.irql_from,"
    " e.irql_to, e.outcome, e.byte_offset, e.writes, e.service, e.text, e.detail, e.irp_state, e.line\n"
    " FROM event e LEFT JOIN irql l ON l.level = e.irql\n"
    " LEFT JOIN thread t ON t.run_id = e.run_id AND t.id = e.thread\n"
    " LEFT JOIN device d ON d.run_id = e.run_id AND d.id = e.device\n"
    " LEFT JOIN device r ON r.run_id = e.run_id AND r.id = e.routine_device\n"
    " LEFT JOIN thread tt ON tt.run_id = e.run_id AND tt.id = e.target_thread;\n"
    "CREATE VIEW irp_path AS\n"
    " SELECT run_id, irp, seq, t_ns,\n"
    "  CASE WHEN kind IN ('call-driver', 'dispatch') THEN 'down'\n"
    "       WHEN kind = 'dispatch-return' THEN 'return'\n"
    "       WHEN kind IN ('copy-stack', 'skip-stack', 'set-completion', 'mark-pending')"
    " THEN 'stack'\n"
    "       WHEN kind IN ('hw-start', 'isr', 'dpc-queued', 'dpc') THEN 'device'\n"
    "       WHEN kind IN ('stage2', 'iosb-written', 'apc') THEN 'caller'\n"
    "       ELSE 'up' END AS direction,\n"
    "  kind, stack_location, device_name, cpu, irql, irql_name, frame, thread_name,"
    " status, detail\n"
    " FROM event_named WHERE irp IS NOT NULL AND kind IN ('call-driver', 'dispatch',"
    " 'dispatch-return', 'copy-stack', 'skip-stack', 'set-completion', 'mark-pending',"
    " 'complete', 'completion-routine', 'completion-return', 'pending-propagated',"
    " 'walk-stopped', 'walk-done', 'cancel', 'cancel-routine', 'hw-start', 'isr', 'dpc-queued',"
    " 'dpc', 'stage2', 'iosb-written', 'apc');\n"
    "CREATE VIEW completion_routine AS\n"
    " SELECT c.run_id, c.irp, c.seq, c.t_ns, c.stack_location - 1 AS location,"
    " c.device_name AS for_device, c.cpu, c.irql, c.irql_name, c.frame, c.thread_name,"
    " c.status AS irp_status,\n"
    "  c.pending_returned,\n"
    "  (SELECT r.status FROM event r WHERE r.run_id = c.run_id AND r.irp = c.irp"
    " AND r.seq > c.seq AND r.kind = 'completion-return' ORDER BY r.seq LIMIT 1) AS returned\n"
    " FROM event_named c WHERE c.kind = 'completion-routine';\n"
    "CREATE VIEW irp_pending AS\n"
    " SELECT run_id, irp, major, thread_name, pending_since_ns, completed_ns, stage2_ns,\n"
    "  completed_ns - pending_since_ns AS pending_ns,\n"
    "  stage2_ns - pending_since_ns AS until_caller_ns\n"
    " FROM (SELECT i.run_id, i.id AS irp, i.major, t.name AS thread_name, i.completed_ns,\n"
    "  (SELECT min(e.t_ns) FROM event e WHERE e.run_id = i.run_id AND e.irp = i.id"
    " AND e.kind = 'dispatch-return' AND e.status = 'STATUS_PENDING') AS pending_since_ns,\n"
    "  (SELECT min(e.t_ns) FROM event e WHERE e.run_id = i.run_id AND e.irp = i.id"
    " AND e.kind = 'stage2') AS stage2_ns\n"
    "  FROM irp i LEFT JOIN thread t ON t.run_id = i.run_id AND t.id = i.thread)\n"
    " WHERE pending_since_ns IS NOT NULL;\n"
    "CREATE VIEW deferred_call AS\n"
    " SELECT s.run_id, s.seq, s.t_ns,\n"
    /* The next step of the run in rowid order that ends it. */
    "  (SELECT e.t_ns FROM event e WHERE e.rowid > s.event_rowid AND e.run_id = s.run_id"
    " AND e.cpu = s.cpu AND e.kind = s.kind || '-end' ORDER BY e.rowid LIMIT 1) AS end_ns,\n"
    "  s.cpu, s.kind, s.irql, s.irql_name, s.frame, s.thread_name, s.irp, s.device_name,"
    " s.detail\n"
    " FROM event_named s WHERE s.kind IN ('dpc', 'apc');\n"
    "CREATE VIEW cpu_deferred AS\n"
    " SELECT run_id, cpu, sum(kind = 'dpc') AS dpcs, sum(kind = 'apc') AS apcs,\n"
    "  coalesce(sum(CASE WHEN kind = 'dpc' THEN end_ns - t_ns END), 0) AS dpc_ns,\n"
    "  coalesce(sum(CASE WHEN kind = 'apc' THEN end_ns - t_ns END), 0) AS apc_ns\n"
    " FROM deferred_call GROUP BY run_id, cpu;\n";

/* Runs every statement of `sql` in turn (each prepared, stepped, finalized). */
static int run_script(tracedb_t *db, const char *sql) {
  const char *tail = sql;
  while (*tail) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, tail, -1, &st, &tail) != SQLITE_OK) return tdb_fail(db, "schema");
    if (!st) continue; /* only whitespace or a comment was left */
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return tdb_fail(db, "schema");
  }
  return SIM_OK;
}

/* The IRQL names, as the console trace prints them. */
static int fill_irql(tracedb_t *db) {
  for (int level = 0; level <= HIGH_LEVEL; level++) {
    char buf[16];
    sqlite3_stmt *st = tdb_stmt(db, ST_IRQL);
    if (!st) return SIM_EIO;
    if (sqlite3_bind_int(st, 1, level) != SQLITE_OK ||
        tdb_bind_text(st, 2, trc_irql_name(level, buf)) != SQLITE_OK)
      return tdb_fail(db, "irql names");
    int rc = tdb_exec(db, ST_IRQL, "irql names");
    if (rc != SIM_OK) return rc;
  }
  return SIM_OK;
}

/* One integer from a read-only query of constant text. */
static int query_int(tracedb_t *db, const char *sql, int64_t *out) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return SIM_EIO;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? SIM_OK : SIM_EIO;
}

/* What is in the file: `fresh` when it has no schema at all. */
static int inspect(tracedb_t *db, const char *path, bool *fresh) {
  int64_t app = 0, ver = 0, objects = 0;
  if (query_int(db, "PRAGMA application_id", &app) != SIM_OK ||
      query_int(db, "PRAGMA user_version", &ver) != SIM_OK ||
      query_int(db, "SELECT count(*) FROM sqlite_schema", &objects) != SIM_OK) {
    int code = sqlite3_errcode(db->db);
    if (code == SQLITE_NOTADB)
      return tdb_failf(db, SIM_EINVAL, "%s is not a SQLite database, so not an iosim trace; %s", path,
                       db->readonly ? "there is no trace in it to read" : "refusing to touch it");
    return tdb_failf(db, SIM_EIO, "%s: cannot read it: %s", path, sqlite3_errmsg(db->db));
  }
  *fresh = app == 0 && ver == 0 && objects == 0;
  if (*fresh) return SIM_OK;
  /* A reader says what it cannot do: it was never going to write. */
  if (app != TRACEDB_APPLICATION_ID)
    return tdb_failf(db, SIM_EINVAL, "%s is a SQLite database of another program (application_id "
                     "0x%08llX, %lld schema objects), not an iosim trace; %s",
                     path, (unsigned long long)(uint32_t)app, (long long)objects,
                     db->readonly ? "there is no trace in it to read" : "refusing to write to it");
  if (ver >= 1 && ver < TRACEDB_SCHEMA_VERSION)
    return tdb_failf(db, SIM_EINVAL, "%s is an iosim trace of schema version %lld, older than "
                     "this iosim " IOSIM_VERSION " reads (version %d): %s; "
                     "regenerate it with `iosim run SCENARIO --db %s` (into a new file, or after "
                     "deleting this one)", path, (long long)ver, TRACEDB_SCHEMA_VERSION,
                     ver == 1   ? "its steps have no typed columns"
                     : ver == 2 ? "its steps have no irp_state column"
                                : "its steps have no line column",
                     path);
  if (ver > TRACEDB_SCHEMA_VERSION)
    return tdb_failf(db, SIM_EINVAL, "%s is an iosim trace of schema version %lld, newer than "
                     "this iosim " IOSIM_VERSION " understands (version %d); use a newer iosim "
                     "or another file", path, (long long)ver, TRACEDB_SCHEMA_VERSION);
  if (ver < 1)
    return tdb_failf(db, SIM_EINVAL, "%s carries the iosim application id but no schema version; "
                     "refusing to %s it", path, db->readonly ? "read" : "use");
  return SIM_OK;
}

/* Creates the schema inside one write transaction, re-checking emptiness
   under the write lock so two processes opening a new file at once do not
   both create it. */
static int create_schema(tracedb_t *db, const char *path) {
  int rc = tdb_exec(db, ST_BEGIN, "begin");
  if (rc != SIM_OK) return rc;
  bool fresh = false;
  rc = inspect(db, path, &fresh);
  if (rc == SIM_OK && fresh) rc = run_script(db, schema_sql);
  if (rc == SIM_OK && fresh) rc = fill_irql(db);
  if (rc == SIM_OK) return tdb_exec(db, ST_COMMIT, "commit");
  char keep[sizeof db->err];
  memcpy(keep, db->err, sizeof keep);
  (void)tdb_exec(db, ST_ROLLBACK, "rollback");
  memcpy(db->err, keep, sizeof keep);
  return rc;
}

int tdb_schema_prepare(tracedb_t *db, const char *path, bool create) {
  bool fresh = false;
  int rc = inspect(db, path, &fresh);
  if (rc != SIM_OK) return rc;
  if (!fresh) return SIM_OK;
  if (!create)
    return tdb_failf(db, SIM_ENOENT, "%s holds no iosim trace (it is empty)", path);
  return create_schema(db, path);
}
