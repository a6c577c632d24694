/*
 * fz_tracedb.c - fuzz target 2: the trace database's readers on a file
 * they did not write: `iosim irp` (tracedb_print_irp, tracedb_find_irp),
 * `iosim viz` (--list, --irp, --timeline, as Graphviz source) and
 * `iosim export` (Perfetto JSON).
 *
 * Byte mutations of a SQLite file mostly break its page structure, and
 * SQLite refuses it before any reader sees a row; the readers' own bugs are
 * in what they do with well-formed rows holding wrong values.  So the input
 * is mostly a list of cell edits on a valid database (three lessons' runs,
 * built once): each picks a table, a column, a row (or every row) and a
 * value (NULL, a boundary integer, any integer, text, a real), or deletes
 * the row.  One input in two of its first byte's values is instead the
 * whole file, for SQLite's own defences.
 *
 * Layout: byte 0: mode (bit 0: raw file; bits 1 to 4 equal to 1: draw
 * the IRP flows, equal to 2: draw the timeline); byte 1: the run asked for (0 =
 * the last); byte 2: the IRP shown; byte 3: the time for --at; then the
 * edits, 5 bytes each plus their payload: table, column, row (2 bytes),
 * kind.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "iosim/scenario.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"

#define FZ_MAX_TABLES 32
#define FZ_MAX_COLS 40

typedef struct fz_table {
  char name[64];
  char col[FZ_MAX_COLS][64];
  int ncol;
} fz_table_t;

/* The valid database, built once: its bytes and its tables. */
static struct {
  unsigned char *bytes;
  size_t len;
  fz_table_t t[FZ_MAX_TABLES];
  int nt;
  char path[400], out_dot[400], out_json[400];
} base;

static void record(tracedb_t *db, const char *lesson) {
  char path[512];
  snprintf(path, sizeof path, "%s/scenarios/lessons/%s", fz_srcdir(), lesson);
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (!sc) {
    fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
    abort();
  }
  tracedb_hooks_t h = {.db = db, .scenario_path = scn_path(sc), .text_hash = scn_hash(sc), .seed = scn_seed(sc)};
  scn_run_opts_t o = {.on_start = tracedb_on_start, .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t r;
  if (scn_run(sc, &o, &r, &err) != 0 || h.rc != 0) abort();
  scn_result_free(&r);
  scn_free(sc);
}

static void load_tables(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *st, *cols;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) abort();
  if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name", -1, &st, NULL))
    abort();
  while (sqlite3_step(st) == SQLITE_ROW && base.nt < FZ_MAX_TABLES) {
    fz_table_t *t = &base.t[base.nt++];
    snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(st, 0));
    char q[160];
    snprintf(q, sizeof q, "PRAGMA table_info(\"%s\")", t->name);
    if (sqlite3_prepare_v2(db, q, -1, &cols, NULL)) abort();
    while (sqlite3_step(cols) == SQLITE_ROW && t->ncol < FZ_MAX_COLS)
      snprintf(t->col[t->ncol++], sizeof t->col[0], "%s", (const char *)sqlite3_column_text(cols, 1));
    sqlite3_finalize(cols);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void build_base(void) {
  const char *dir = fz_tmpdir();
  if (!*dir) abort();
  char made[400];
  snprintf(made, sizeof made, "%s/base.db", dir);
  snprintf(base.path, sizeof base.path, "%s/in.db", dir);
  snprintf(base.out_dot, sizeof base.out_dot, "%s/out.dot", dir);
  snprintf(base.out_json, sizeof base.out_json, "%s/out.json", dir);
  char err[512];
  tracedb_t *db = tracedb_open(made, err, sizeof err);
  if (!db) abort();
  record(db, "02-async-read.iosim");
  record(db, "14-associated-irps.iosim");
  record(db, "10-iocp.iosim");
  tracedb_close(db);
  load_tables(made);
  FILE *f = fopen(made, "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) abort();
  base.len = (size_t)ftell(f);
  base.bytes = malloc(base.len);
  rewind(f);
  if (!base.bytes || fread(base.bytes, 1, base.len, f) != base.len) abort();
  fclose(f);
}

/* Integers at the edges readers must check against. */
static const sqlite3_int64 edges[] = {0, 1, -1, 2, 3, 255, 256, 65535, 65536, 2147483647, -2147483647 - 1,
                                      4294967295LL, 4294967296LL, 9223372036854775807LL,
                                      -9223372036854775807LL - 1, 1000000000, 100000, 31, 32, 33};

typedef struct reader {
  const uint8_t *p, *end;
} reader_t;

static int take(reader_t *r, size_t n, const uint8_t **out) {
  if ((size_t)(r->end - r->p) < n) return 0;
  *out = r->p;
  r->p += n;
  return 1;
}

/* Applies one edit; false when the input has no more. */
static int edit(sqlite3 *db, reader_t *r) {
  const uint8_t *h, *v;
  if (!take(r, 5, &h)) return 0;
  const fz_table_t *t = &base.t[h[0] % base.nt];
  const char *col = t->col[h[1] % t->ncol];
  unsigned row = (unsigned)h[2] << 8 | h[3], kind = h[4] % 9;
  char q[400];
  if (kind == 8)
    snprintf(q, sizeof q, "DELETE FROM \"%s\" WHERE rowid = (SELECT rowid FROM \"%s\" ORDER BY rowid LIMIT 1 OFFSET %u)",
             t->name, t->name, row);
  else if (kind == 7) /* every row */
    snprintf(q, sizeof q, "UPDATE \"%s\" SET \"%s\" = ?1", t->name, col);
  else
    snprintf(q, sizeof q,
             "UPDATE \"%s\" SET \"%s\" = ?1 WHERE rowid = (SELECT rowid FROM \"%s\" ORDER BY rowid LIMIT 1 OFFSET %u)",
             t->name, col, t->name, row);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return 1;
  switch (kind) {
  case 0: sqlite3_bind_null(st, 1); break;
  case 1:
  case 7:
    if (!take(r, 1, &v)) break;
    sqlite3_bind_int64(st, 1, edges[v[0] % (sizeof edges / sizeof edges[0])]);
    break;
  case 2:
    if (take(r, 1, &v)) sqlite3_bind_int64(st, 1, (int8_t)v[0]);
    break;
  case 3:
    if (take(r, 8, &v)) {
      sqlite3_int64 x;
      memcpy(&x, v, sizeof x);
      sqlite3_bind_int64(st, 1, x);
    }
    break;
  case 4:
  case 5:
    if (take(r, 1, &v)) {
      size_t n = v[0] % 64;
      const uint8_t *s;
      if (take(r, n, &s)) {
        if (kind == 4) sqlite3_bind_text(st, 1, (const char *)s, (int)n, SQLITE_TRANSIENT);
        else sqlite3_bind_blob(st, 1, s, (int)n, SQLITE_TRANSIENT);
      }
    }
    break;
  case 6:
    if (take(r, 8, &v)) {
      double d;
      memcpy(&d, v, sizeof d);
      sqlite3_bind_double(st, 1, d);
    }
    break;
  default: break;
  }
  sqlite3_step(st); /* a constraint may refuse it: the database stays valid */
  sqlite3_finalize(st);
  return 1;
}

/* The pictures are drawn only when the mode byte asks (bits 1 to 4: 1 for
   the IRP flows, 2 for the timeline, so one input in sixteen each): a
   Graphviz layout costs a hundred times what the rest does, and the
   readers feeding it (vizdb.c's load and checks, the flow and lane
   builders) run either way through --list and the export.  With a layout
   in one input in two, the target ran under 2 inputs a second. */
static void read_all(unsigned mode, int64_t run, uint32_t irp, int64_t at) {
  FILE *null = fopen("/dev/null", "w");
  if (!null) abort();
  char err[768];
  tracedb_t *t = tracedb_open_readonly(base.path, err, sizeof err);
  if (t) {
    int64_t r = 0;
    uint32_t k = 0;
    if (tracedb_pick_run(t, run, &r, err, sizeof err) == 0) {
      tracedb_print_irp(t, r, irp, -1, null, err, sizeof err);
      tracedb_print_irp(t, r, irp, at, null, err, sizeof err);
      if (tracedb_find_irp(t, r, "r1", &k, err, sizeof err) == 0) tracedb_print_irp(t, r, k, -1, null, err, sizeof err);
    }
    tracedb_close(t);
  }
  uint32_t k = 0;
  viz_style_t style = {0};
  unsigned draw = mode >> 1 & 15;
  viz_list_irps(base.path, run, null, err, sizeof err);
  if (viz_find_irp(base.path, run, "r1", &k, err, sizeof err) == VIZ_OK && draw == 1)
    viz_irp(base.path, run, k, base.out_dot, &style, err, sizeof err);
  if (draw == 1) viz_irp(base.path, run, irp, base.out_dot, &style, err, sizeof err);
  if (draw == 2) viz_timeline(base.path, run, base.out_dot, &style, err, sizeof err);
  viz_export_perfetto(base.path, run, base.out_json, err, sizeof err);
  fclose(null);
}

int fz_tracedb_one(const uint8_t *data, size_t n) {
  if (!base.bytes) build_base();
  if (n < 4 || n > 1 << 20) return 0;
  char side[420];
  remove(base.path);
  snprintf(side, sizeof side, "%s-wal", base.path);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", base.path);
  remove(side);
  snprintf(side, sizeof side, "%s-journal", base.path);
  remove(side);
  if (data[0] & 1) {
    if (!fz_write_file(base.path, data + 4, n - 4)) abort();
  } else {
    if (!fz_write_file(base.path, base.bytes, base.len)) abort();
    sqlite3 *db;
    if (sqlite3_open(base.path, &db) != SQLITE_OK) abort();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    reader_t r = {data + 4, data + n};
    for (int i = 0; i < 64 && edit(db, &r); i++) continue;
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
  }
  read_all(data[0], data[1] % 5, 1 + data[2] % 24, (int64_t)data[3] * 5000);
  return 0;
}
