/*
 * vizdb.c - reading one run back from the trace database for the pictures:
 * the run row, devices with their drivers, threads, IRPs and the event rows
 * (docs/trace-schema.md).  Read-only: the file is first checked by
 * tracedb_open_readonly, so a wrong file gets the same message as
 * `iosim irp` gives, then read with SQLite directly.
 */
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "iosim/sim.h"
#include "iosim/tracedb.h"
#include "viz_int.h"

static char *dup_col(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return iosim_strdup(s ? (const char *)s : "");
}

static int64_t opt_i64(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static int db_fail(vz_model_t *m, char *err, size_t errlen, const char *what) {
  return vz_fail(err, errlen, VIZ_EIO, m->path, "cannot read %s: %s", what, sqlite3_errmsg(m->db));
}

static sqlite3_stmt *prep(vz_model_t *m, const char *sql, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) != SQLITE_OK) {
    db_fail(m, err, errlen, "the trace");
    return NULL;
  }
  sqlite3_bind_int64(st, 1, m->run); /* every query names the run as ?1 */
  return st;
}

/* Grows *v (of *n items of size sz) by one slot, zeroed. */
static void *grow(void **v, size_t *n, size_t *cap, size_t sz) {
  *v = vz_grow(*v, cap, *n + 1, sz);
  void *slot = (char *)*v + (*n)++ * sz;
  memset(slot, 0, sz);
  return slot;
}

/* The run row of `run` (picked by tracedb_pick_run: it exists and ran). */
static int load_run(vz_model_t *m, int64_t run, char *err, size_t errlen) {
  m->run = run;
  sqlite3_stmt *st = prep(m, "SELECT scenario, seed, outcome, coalesce(cpus, 0), coalesce(end_ns, 0), coalesce(events, 0)"
               " FROM run WHERE id = ?1", err, errlen);
  if (!st) return VIZ_EIO;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    m->scenario = dup_col(st, 0);
    m->seed = sqlite3_column_int64(st, 1);
    m->outcome = dup_col(st, 2);
    m->cpus = sqlite3_column_int(st, 3);
    m->end_ns = sqlite3_column_int64(st, 4);
    m->nevents_row = sqlite3_column_int64(st, 5);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? vz_fail(err, errlen, VIZ_EINVAL, m->path, "no run %lld", (long long)run)
                             : db_fail(m, err, errlen, "the run");
  return VIZ_OK;
}

/* Nothing read from a database is trusted (docs/reliability.md): ids are
   numbered from 1 by the writer, so an id above its table's row count (or
   above the number of steps, for tables a cut-short run may lack) is
   damage, refused before any array is sized by it. */
static bool id_ok(uint32_t id, size_t bound) { return id <= bound; }
/* Every id is bounded by the rows that can name things. */
static size_t id_bound(const vz_model_t *m) { return m->nev + m->nirp + m->nthr + m->ndev + 1; }
static bool loc_ok(int l) { return l >= -1 && l <= VZ_MAX_LOCS + 1; }

static int damaged(vz_model_t *m, char *err, size_t errlen, const char *what, long long v) {
  return vz_fail(err, errlen, VIZ_EINVAL, m->path, "the database is damaged: %s %lld is out of range", what, v);
}

static int check_machine(vz_model_t *m, char *err, size_t errlen) {
  if (m->cpus < 0 || m->cpus > VZ_MAX_CPUS) return damaged(m, err, errlen, "CPU count", m->cpus);
  for (size_t i = 0; i < m->ndev; i++) {
    const vz_device_t *d = &m->dev[i];
    if (!d->id || !id_ok(d->id, id_bound(m))) return damaged(m, err, errlen, "device id", d->id);
    if (!id_ok(d->lower, id_bound(m))) return damaged(m, err, errlen, "lower device id", d->lower);
    if (!loc_ok(d->stack_size)) return damaged(m, err, errlen, "stack size", d->stack_size);
  }
  for (size_t i = 0; i < m->nthr; i++)
    if (!m->thr[i].id || !id_ok(m->thr[i].id, id_bound(m))) return damaged(m, err, errlen, "thread id", m->thr[i].id);
  for (size_t i = 0; i < m->nirp; i++) {
    const vz_irp_t *p = &m->irp[i];
    if (!p->id || !id_ok(p->id, id_bound(m))) return damaged(m, err, errlen, "IRP id", p->id);
    if (!id_ok(p->master, id_bound(m))) return damaged(m, err, errlen, "master IRP id", p->master);
    if (!id_ok(p->thread, id_bound(m))) return damaged(m, err, errlen, "IRP thread id", p->thread);
    if (!loc_ok(p->stack_count)) return damaged(m, err, errlen, "stack count", p->stack_count);
  }
  return VIZ_OK;
}

static int check_events(vz_model_t *m, char *err, size_t errlen) {
  /* An IRP or a thread has at least one step; objects, files and ports too. */
  size_t nid = id_bound(m);
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    if (e->cpu < -1 || e->cpu >= VZ_MAX_CPUS) return damaged(m, err, errlen, "CPU", e->cpu);
    if (e->target_cpu < -1 || e->target_cpu >= VZ_MAX_CPUS) return damaged(m, err, errlen, "target CPU", e->target_cpu);
    /* Each message names the value out of range. */
    const struct {
      const char *what;
      uint32_t id;
    } ids[] = {{"device id", e->device}, {"device id", e->routine_device}, {"thread id", e->thread},
               {"thread id", e->target_thread}, {"IRP id", e->irp}, {"object id", e->port},
               {"object id", e->file}, {"object id", e->object}};
    for (size_t k = 0; k < sizeof ids / sizeof *ids; k++)
      if (!id_ok(ids[k].id, nid)) return damaged(m, err, errlen, ids[k].what, ids[k].id);
    const int locs[] = {e->loc, e->loc_from, e->loc_to, e->stack_size};
    for (size_t k = 0; k < sizeof locs / sizeof *locs; k++)
      if (!loc_ok(locs[k])) return damaged(m, err, errlen, "stack location", locs[k]);
    /* Simulated time never goes back: a step before the one ahead of it is damage. */
    if (e->t_ns < 0 || (i && e->t_ns < m->ev[i - 1].t_ns)) return damaged(m, err, errlen, "time", e->t_ns);
  }
  return VIZ_OK;
}

static int load_machine(vz_model_t *m, char *err, size_t errlen) {
  size_t cap = 0;
  sqlite3_stmt *st = prep(m, "SELECT d.id, d.name, coalesce(r.name, '?'), coalesce(d.lower_id, 0),"
                             " coalesce(d.stack_size, 0) FROM device d LEFT JOIN driver r"
                             " ON r.run_id = d.run_id AND r.id = d.driver_id WHERE d.run_id = ?1 ORDER BY d.id",
                          err, errlen);
  if (!st) return VIZ_EIO;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    vz_device_t *d = grow((void **)&m->dev, &m->ndev, &cap, sizeof *d);
    d->id = (uint32_t)sqlite3_column_int64(st, 0);
    d->name = dup_col(st, 1);
    d->driver = dup_col(st, 2);
    d->lower = (uint32_t)sqlite3_column_int64(st, 3);
    d->stack_size = sqlite3_column_int(st, 4);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_fail(m, err, errlen, "the devices");

  cap = 0;
  st = prep(m, "SELECT id, name, coalesce(state, '') FROM thread WHERE run_id = ?1 ORDER BY id", err, errlen);
  if (!st) return VIZ_EIO;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    vz_thread_t *t = grow((void **)&m->thr, &m->nthr, &cap, sizeof *t);
    t->id = (uint32_t)sqlite3_column_int64(st, 0);
    t->name = dup_col(st, 1);
    t->state = dup_col(st, 2);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_fail(m, err, errlen, "the threads");

  cap = 0;
  st = prep(m, "SELECT id, coalesce(tag, ''), coalesce(major, '?'), coalesce(thread, 0), coalesce(master, 0),"
               " stack_count, coalesce(final_status, ''), information, issued_ns, completed_ns,"
               " pending_returned, completed, freed FROM irp WHERE run_id = ?1 ORDER BY id",
            err, errlen);
  if (!st) return VIZ_EIO;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    vz_irp_t *p = grow((void **)&m->irp, &m->nirp, &cap, sizeof *p);
    p->id = (uint32_t)sqlite3_column_int64(st, 0);
    p->tag = dup_col(st, 1);
    p->major = dup_col(st, 2);
    p->thread = (uint32_t)sqlite3_column_int64(st, 3);
    p->master = (uint32_t)sqlite3_column_int64(st, 4);
    p->stack_count = sqlite3_column_int(st, 5);
    p->final_status = dup_col(st, 6);
    p->information = opt_i64(st, 7);
    p->issued_ns = opt_i64(st, 8);
    p->completed_ns = opt_i64(st, 9);
    p->pending_returned = (int)opt_i64(st, 10);
    p->completed = sqlite3_column_int(st, 11) != 0;
    p->freed = sqlite3_column_int(st, 12) != 0;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_fail(m, err, errlen, "the IRPs");
  return check_machine(m, err, errlen);
}

int vz_open(vz_model_t *m, const char *file, int64_t run, char *err, size_t errlen) {
  *m = (vz_model_t){.path = file};
  /* The same checks, and words, as every other reader of a trace. */
  char why[512];
  tracedb_t *t = tracedb_open_readonly(file, why, sizeof why);
  /* The trace database's messages name the file already. */
  if (!t) {
    if (err && errlen) snprintf(err, errlen, "%s", why);
    return VIZ_EINVAL;
  }
  /* The last run that ran, or the one asked for if it did. */
  int64_t picked = 0;
  int prc = tracedb_pick_run(t, run, &picked, why, sizeof why);
  tracedb_close(t);
  if (prc != SIM_OK) return vz_fail(err, errlen, prc == SIM_ENOENT ? VIZ_EINVAL : VIZ_EIO, file, "%s", why);
  /* Read-write but query_only, as tracedb_open_readonly does: a read-only
     connection would leave the -wal and -shm files behind. */
  iosim_sqlite_use_alloc();
  if (sqlite3_open_v2(file, &m->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      sqlite3_exec(m->db, "PRAGMA query_only = ON", NULL, NULL, NULL) != SQLITE_OK) {
    int rc = vz_fail(err, errlen, VIZ_EIO, file, "cannot open: %s",
                     m->db ? sqlite3_errmsg(m->db) : "out of memory");
    vz_close(m);
    return rc;
  }
  (void)sqlite3_busy_timeout(m->db, 5000); /* a writer may be committing a run */
  int rc = load_run(m, picked, err, errlen);
  if (rc == VIZ_OK) rc = load_machine(m, err, errlen);
  if (rc != VIZ_OK) vz_close(m);
  return rc;
}

static vz_frame_t parse_frame(const unsigned char *s) {
  if (!s) return VZ_F_NONE;
  static const char *const names[VZ_F_COUNT] = {"idle", "thread", "apc", "dpc", "isr"};
  for (int i = 0; i < VZ_F_COUNT; i++)
    if (!strcmp((const char *)s, names[i])) return (vz_frame_t)i;
  return VZ_F_NONE;
}

static void copy_text(char *dst, size_t n, const unsigned char *s) {
  snprintf(dst, n, "%s", s ? (const char *)s : "");
}

static char *opt_dup(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return s ? iosim_strdup((const char *)s) : NULL;
}

int vz_load_events(vz_model_t *m, bool details, char *err, size_t errlen) {
  sqlite3_stmt *st = prep(m, "SELECT seq, t_ns, cpu, irql, frame, coalesce(thread, 0), coalesce(irp, 0),"
                             " coalesce(device, 0), coalesce(stack_location, 0), kind, status, major,"
                             " coalesce(loc_from, 0), coalesce(loc_to, 0), control, pending_returned,"
                             " information, stage2, byte_offset, service, detail, minor, stack_size,"
                             " target_cpu, wait_index, count, running, concurrency, cancel_routine,"
                             " touches_irp, irql_from, irql_to, coalesce(routine_device, 0),"
                             " coalesce(target_thread, 0), coalesce(port, 0), coalesce(file, 0),"
                             " coalesce(object, 0), coalesce(writes, 0), outcome, text, coalesce(line, 0)"
                             /* A run's rows are in step order by rowid
                                (docs/trace-schema.md): no sort. */
                             " FROM event WHERE run_id = ?1 ORDER BY rowid",
                          err, errlen);
  if (!st) return VIZ_EIO;
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    vz_ev_t *e = grow((void **)&m->ev, &m->nev, &cap, sizeof *e);
    e->seq = sqlite3_column_int64(st, 0);
    e->t_ns = sqlite3_column_int64(st, 1);
    e->cpu = (int)opt_i64(st, 2);
    e->irql = (int)opt_i64(st, 3);
    e->frame = e->cpu < 0 ? VZ_F_NONE : parse_frame(sqlite3_column_text(st, 4));
    e->thread = (uint32_t)sqlite3_column_int64(st, 5);
    e->irp = (uint32_t)sqlite3_column_int64(st, 6);
    e->device = (uint32_t)sqlite3_column_int64(st, 7);
    e->loc = sqlite3_column_int(st, 8);
    copy_text(e->kind, sizeof e->kind, sqlite3_column_text(st, 9));
    copy_text(e->status, sizeof e->status, sqlite3_column_text(st, 10));
    e->major = (int)opt_i64(st, 11);
    e->loc_from = sqlite3_column_int(st, 12);
    e->loc_to = sqlite3_column_int(st, 13);
    e->control = (int)opt_i64(st, 14);
    e->pending_returned = (int)opt_i64(st, 15);
    e->has_info = sqlite3_column_type(st, 16) != SQLITE_NULL;
    e->info = sqlite3_column_int64(st, 16);
    const unsigned char *s2 = sqlite3_column_text(st, 17);
    e->stage2 = !s2 ? VZ_S2_NONE : !strcmp((const char *)s2, "apc") ? VZ_S2_APC : VZ_S2_INLINE;
    e->offset = opt_i64(st, 18);
    e->service = opt_dup(st, 19);
    e->minor = (int)opt_i64(st, 21);
    e->stack_size = (int)opt_i64(st, 22);
    e->target_cpu = (int)opt_i64(st, 23);
    e->wait_index = (int)opt_i64(st, 24);
    e->count = (int)opt_i64(st, 25);
    e->running = (int)opt_i64(st, 26);
    e->limit = (int)opt_i64(st, 27);
    e->cancel_routine = (int)opt_i64(st, 28);
    e->touches_irp = (int)opt_i64(st, 29);
    e->irql_from = (int)opt_i64(st, 30);
    e->irql_to = (int)opt_i64(st, 31);
    e->routine_device = (uint32_t)sqlite3_column_int64(st, 32);
    e->target_thread = (uint32_t)sqlite3_column_int64(st, 33);
    e->port = (uint32_t)sqlite3_column_int64(st, 34);
    e->file = (uint32_t)sqlite3_column_int64(st, 35);
    e->object = (uint32_t)sqlite3_column_int64(st, 36);
    e->writes = (uint32_t)sqlite3_column_int64(st, 37);
    copy_text(e->outcome, sizeof e->outcome, sqlite3_column_text(st, 38));
    e->text = opt_dup(st, 39);
    e->line = sqlite3_column_int(st, 40);
    if (details) e->detail = dup_col(st, 20);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_fail(m, err, errlen, "the events");
  /* run.end_ns may be missing (a run that was interrupted); the last step's time is the end then. */
  if (m->nev && m->ev[m->nev - 1].t_ns > m->end_ns) m->end_ns = m->ev[m->nev - 1].t_ns;
  return check_events(m, err, errlen);
}

void vz_close(vz_model_t *m) {
  for (size_t i = 0; i < m->ndev; i++) free(m->dev[i].name), free(m->dev[i].driver);
  for (size_t i = 0; i < m->nthr; i++) free(m->thr[i].name), free(m->thr[i].state);
  for (size_t i = 0; i < m->nirp; i++) free(m->irp[i].tag), free(m->irp[i].major), free(m->irp[i].final_status);
  for (size_t i = 0; i < m->nev; i++) free(m->ev[i].detail), free(m->ev[i].service), free(m->ev[i].text);
  free(m->dev);
  free(m->thr);
  free(m->irp);
  free(m->ev);
  free(m->scenario);
  free(m->outcome);
  sqlite3_close(m->db);
  const char *file = m->path;
  *m = (vz_model_t){.path = file};
}

const vz_device_t *vz_device(const vz_model_t *m, uint32_t id) {
  for (size_t i = 0; i < m->ndev; i++)
    if (m->dev[i].id == id) return &m->dev[i];
  return NULL;
}

const vz_thread_t *vz_thread(const vz_model_t *m, uint32_t id) {
  for (size_t i = 0; i < m->nthr; i++)
    if (m->thr[i].id == id) return &m->thr[i];
  return NULL;
}

const vz_irp_t *vz_irp(const vz_model_t *m, uint32_t id) {
  for (size_t i = 0; i < m->nirp; i++)
    if (m->irp[i].id == id) return &m->irp[i];
  return NULL;
}

const char *vz_thread_name(const vz_model_t *m, uint32_t id, char *buf, size_t n) {
  const vz_thread_t *t = vz_thread(m, id);
  if (t) return t->name;
  snprintf(buf, n, "thread %u", id);
  return buf;
}

const char *vz_frame_name(vz_frame_t f) {
  switch (f) {
  case VZ_F_IDLE: return "idle";
  case VZ_F_THREAD: return "thread";
  case VZ_F_APC: return "APC";
  case VZ_F_DPC: return "DPC";
  case VZ_F_ISR: return "ISR";
  default: return "-";
  }
}

const char *vz_irql_name(int irql, char buf[16]) {
  switch (irql) {
  case 0: return "PASSIVE_LEVEL";
  case 1: return "APC_LEVEL";
  case 2: return "DISPATCH_LEVEL";
  case 15: return "HIGH_LEVEL";
  default:
    if (irql < 0) return "-";
    snprintf(buf, 16, "DIRQL%d", irql);
    return buf;
  }
}

const char *vz_time(int64_t ns, char buf[32]) {
  snprintf(buf, 32, "%lld.%03lld us", (long long)(ns / 1000), (long long)(ns % 1000));
  return buf;
}

/* ---- the small readers of viz.h ---- */

int viz_find_irp(const char *db, int64_t run, const char *tag, uint32_t *irp, char *err, size_t errlen) {
  vz_model_t m;
  int rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  rc = vz_fail(err, errlen, VIZ_EINVAL, db, "run %lld has no IRP named '%s' (`iosim viz --list` lists them)",
               (long long)m.run, tag);
  for (size_t i = 0; i < m.nirp; i++)
    if (!strcmp(m.irp[i].tag, tag)) {
      *irp = m.irp[i].id;
      rc = VIZ_OK;
      break;
    }
  vz_close(&m);
  return rc;
}

int viz_list_irps(const char *db, int64_t run, FILE *out, char *err, size_t errlen) {
  vz_model_t m;
  int rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  fprintf(out, "run %lld (%s, seed %lld): %zu IRP%s\n", (long long)m.run, m.scenario, (long long)m.seed, m.nirp,
          m.nirp == 1 ? "" : "s");
  for (size_t i = 0; i < m.nirp; i++) {
    const vz_irp_t *p = &m.irp[i];
    char tb[32];
    fprintf(out, "%u %s %s ", p->id, p->tag[0] ? p->tag : "-", p->major);
    if (p->thread) fprintf(out, "thread %s\n", vz_thread_name(&m, p->thread, tb, sizeof tb));
    else if (p->master) fprintf(out, "associated with IRP %u\n", p->master);
    else fprintf(out, "driver\n");
  }
  vz_close(&m);
  return ferror(out) ? VIZ_EIO : VIZ_OK;
}
