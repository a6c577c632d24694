/*
 * tracedb_explore.c - what schedule exploration keeps in a trace database:
 * the `schedule` table (a run's replay token and what it stands for), and
 * merging the databases of several shards into one (`iosim merge`).
 */
#include <stdio.h>
#include <string.h>

#include "tracedb_int.h"

#define SCHEDULE_TABLE_SQL                                                                      \
  "CREATE TABLE IF NOT EXISTS schedule(run_id INTEGER PRIMARY KEY REFERENCES run(id),"          \
  " token TEXT NOT NULL, role TEXT NOT NULL CHECK(role IN ('failure', 'outcome', 'failing-schedule')),"             \
  " preemptions INTEGER NOT NULL, steps INTEGER, schedules INTEGER, outcome TEXT,"             \
  " strategy TEXT, bound INTEGER)"

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return SIM_OK;
  snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return SIM_EIO;
}

int tracedb_record_schedule(tracedb_t *db, int64_t run, const tracedb_schedule_t *s) {
  if (db->readonly) return tdb_failf(db, SIM_ESTATE, "the trace database is open read-only");
  char why[256];
  if (exec_sql(db->db, SCHEDULE_TABLE_SQL, why, sizeof why) != SIM_OK)
    return tdb_failf(db, SIM_EIO, "schedule table: %s", why);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db,
                         "INSERT OR REPLACE INTO schedule(run_id, token, role, preemptions, steps, schedules,"
                         " outcome, strategy, bound) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                         -1, &st, NULL) != SQLITE_OK)
    return tdb_fail(db, "schedule row");
  sqlite3_bind_int64(st, 1, run);
  tdb_bind_text(st, 2, s->token);
  tdb_bind_text(st, 3, s->role);
  sqlite3_bind_int64(st, 4, s->preemptions);
  sqlite3_bind_int64(st, 5, (int64_t)s->steps);
  sqlite3_bind_int64(st, 6, (int64_t)s->schedules);
  tdb_bind_text(st, 7, s->outcome);
  tdb_bind_text(st, 8, s->strategy);
  tdb_bind_opt(st, 9, s->bound >= 0, s->bound);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SIM_OK : tdb_fail(db, "schedule row");
}

/* The tables that hold rows of runs, in an order that keeps references
   valid; `run` is renumbered by its id, the others by run_id. */
static const char *const run_tables[] = {"run",   "event", "driver",      "device",  "port",    "object",
                                         "thread", "irp",  "expectation", "finding", "schedule"};

static bool has_table(sqlite3 *db, const char *schema, const char *table) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT 1 FROM %s.sqlite_schema WHERE type = 'table' AND name = ?1", schema);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return false;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  bool yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}

/* INSERT INTO main.T(c...) SELECT c... FROM src.T, with the run number
   moved by `off`. */
static int copy_table(sqlite3 *db, const char *table, int64_t off, char *err, size_t errlen) {
  char sql[8192], cols[2048] = "", sel[2048] = "";
  snprintf(sql, sizeof sql, "PRAGMA src.table_info(%s)", table);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return SIM_EIO;
  }
  size_t nc = 0, ns = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 1);
    bool renumber = !strcmp(name, strcmp(table, "run") ? "run_id" : "id");
    nc += (size_t)snprintf(cols + nc, sizeof cols - nc, "%s\"%s\"", nc ? ", " : "", name);
    if (renumber) ns += (size_t)snprintf(sel + ns, sizeof sel - ns, "%s\"%s\" + %lld", ns ? ", " : "", name, (long long)off);
    else ns += (size_t)snprintf(sel + ns, sizeof sel - ns, "%s\"%s\"", ns ? ", " : "", name);
    if (nc >= sizeof cols || ns >= sizeof sel) {
      sqlite3_finalize(st);
      snprintf(err, errlen, "table %s has too many columns", table);
      return SIM_EIO;
    }
  }
  sqlite3_finalize(st);
  /* Fits: cols and sel are under 2048 each, the table names short. */
  snprintf(sql, sizeof sql, "INSERT INTO main.\"%s\"(%s) SELECT %s FROM src.\"%s\"", table, cols, sel, table);
  return exec_sql(db, sql, err, errlen);
}

static int merge_one(tracedb_t *out, const char *in, char *err, size_t errlen) {
  char why[512];
  /* The same checks as any reader: an iosim trace of this version. */
  tracedb_t *chk = tracedb_open_readonly(in, why, sizeof why);
  if (!chk) {
    snprintf(err, errlen, "%s", why);
    return SIM_EINVAL;
  }
  tracedb_close(chk);
  sqlite3 *db = out->db;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS src", -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return SIM_EIO;
  }
  sqlite3_bind_text(st, 1, in, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st) == SQLITE_DONE ? SIM_OK : SIM_EIO;
  sqlite3_finalize(st);
  if (rc != SIM_OK) {
    snprintf(err, errlen, "%s: %s", in, sqlite3_errmsg(db));
    return rc;
  }
  rc = exec_sql(db, "BEGIN IMMEDIATE", why, sizeof why);
  int64_t off = 0;
  if (rc == SIM_OK && sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM main.run", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) off = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  if (rc == SIM_OK && has_table(db, "src", "schedule")) rc = exec_sql(db, SCHEDULE_TABLE_SQL, why, sizeof why);
  for (size_t i = 0; rc == SIM_OK && i < sizeof run_tables / sizeof run_tables[0]; i++)
    if (has_table(db, "src", run_tables[i])) rc = copy_table(db, run_tables[i], off, why, sizeof why);
  if (rc == SIM_OK) rc = exec_sql(db, "COMMIT", why, sizeof why);
  if (rc != SIM_OK) {
    snprintf(err, errlen, "%s: %s", in, why);
    exec_sql(db, "ROLLBACK", why, sizeof why);
  }
  exec_sql(db, "DETACH DATABASE src", why, sizeof why);
  return rc;
}

int tracedb_merge(const char *out_path, const char *const *in, int nin, char *err, size_t errlen) {
  char why[512];
  for (int i = 0; i < nin; i++)
    if (!strcmp(in[i], out_path)) {
      snprintf(err, errlen, "%s is both the output and an input", out_path);
      return SIM_EINVAL;
    }
  tracedb_t *out = tracedb_open(out_path, why, sizeof why);
  if (!out) {
    snprintf(err, errlen, "%s", why);
    return SIM_EINVAL;
  }
  int rc = SIM_OK;
  for (int i = 0; i < nin && rc == SIM_OK; i++) rc = merge_one(out, in[i], err, errlen);
  tracedb_close(out);
  return rc;
}
