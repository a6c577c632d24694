/*
 * state_load.c - reads one recorded run back for the machine-state model
 * (state.h): every step as a trc_event_t rebuilt from its typed columns,
 * the names of threads, devices, drivers, ports, objects and IRPs, and the
 * device stacks; plus running a scenario into a database, the lookups of
 * what a command line names, and --at.
 */
#include <stdlib.h>
#include <string.h>

#include "iosim/scenario.h"
#include "state_int.h"
#include "tracedb_int.h"
#include "iosim/alloc.h"

/* ---- owned strings ---- */

static const char *keep(mst_run_t *r, const unsigned char *s) {
  if (!s) return NULL;
  size_t n = strlen((const char *)s) + 1;
  if (r->pool_used + n > r->pool_cap || !r->pool) {
    size_t cap = n > 65536 ? n : 65536;
    struct mst_chunk *c = iosim_malloc(sizeof *c + cap);
    c->next = r->chunks;
    r->chunks = c;
    r->pool = c->data;
    r->pool_used = 0;
    r->pool_cap = cap;
  }
  char *d = r->pool + r->pool_used;
  memcpy(d, s, n);
  r->pool_used += n;
  return d;
}

static int opt_int(sqlite3_stmt *st, int i, int none) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? none : sqlite3_column_int(st, i);
}

static int frame_parse(const unsigned char *s) {
  if (!s) return TRC_FRAME_IDLE;
  for (int f = TRC_FRAME_IDLE; f <= TRC_FRAME_ISR; f++)
    if (strcmp((const char *)s, trc_frame_name((trc_frame_t)f)) == 0) return f;
  return TRC_FRAME_IDLE;
}

static const char ev_sql[] =
    "SELECT seq, t_ns, cpu, irql, frame, thread, irp, device, stack_location, kind, status, major, minor,"
    " loc_from, loc_to, control, pending_returned, information, stack_size, routine_device, stage2,"
    " target_cpu, target_thread, port, file, object, wait_index, count, running, concurrency,"
    " cancel_routine, touches_irp, irql_from, irql_to, outcome, byte_offset, writes, service, text, detail,"
    " target_irp, bugcheck, irp_state FROM event WHERE run_id = ?1 ORDER BY rowid";

static int load_events(mst_run_t *r, sqlite3 *db, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, ev_sql, -1, &st, NULL) != SQLITE_OK) goto fail;
  sqlite3_bind_int64(st, 1, r->run);
  size_t cap = 0;
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (r->nev == cap) {
      cap = cap ? cap * 2 : 1024;
      r->ev = iosim_realloc(r->ev, cap * sizeof *r->ev);
    }
    trc_event_t *e = &r->ev[r->nev++];
    *e = trc_event_make(TRC_NOTE);
    e->seq = (uint64_t)sqlite3_column_int64(st, 0);
    e->t_ns = (uint64_t)sqlite3_column_int64(st, 1);
    e->cpu = opt_int(st, 2, -1);
    e->irql = opt_int(st, 3, 0);
    e->frame = (trc_frame_t)frame_parse(sqlite3_column_text(st, 4));
    e->thread = (uint32_t)sqlite3_column_int64(st, 5);
    e->irp = (uint32_t)sqlite3_column_int64(st, 6);
    e->device = (uint32_t)sqlite3_column_int64(st, 7);
    e->stack_location = opt_int(st, 8, 0);
    const unsigned char *kind = sqlite3_column_text(st, 9);
    int k = kind ? trc_kind_parse((const char *)kind) : -1;
    e->kind = k >= 0 ? (trc_kind_t)k : TRC_NOTE;
    const unsigned char *status = sqlite3_column_text(st, 10);
    NTSTATUS code;
    if (status && iosim_status_parse((const char *)status, &code)) e->has_status = 1, e->status = code;
    e->major = opt_int(st, 11, -1);
    e->minor = opt_int(st, 12, -1);
    e->loc_from = opt_int(st, 13, 0);
    e->loc_to = opt_int(st, 14, 0);
    e->control = opt_int(st, 15, -1);
    e->pending_returned = opt_int(st, 16, -1);
    if (sqlite3_column_type(st, 17) != SQLITE_NULL) e->has_info = 1, e->info = (uint64_t)sqlite3_column_int64(st, 17);
    e->stack_size = opt_int(st, 18, 0);
    e->routine_device = (uint32_t)sqlite3_column_int64(st, 19);
    const unsigned char *s2 = sqlite3_column_text(st, 20);
    e->stage2 = !s2 ? TRC_STAGE2_NONE : strcmp((const char *)s2, "apc") == 0 ? TRC_STAGE2_APC : TRC_STAGE2_INLINE;
    e->target_cpu = opt_int(st, 21, -1);
    e->target_thread = (uint32_t)sqlite3_column_int64(st, 22);
    e->port = (uint32_t)sqlite3_column_int64(st, 23);
    e->file = (uint32_t)sqlite3_column_int64(st, 24);
    e->object = (uint32_t)sqlite3_column_int64(st, 25);
    e->wait_index = opt_int(st, 26, -1);
    e->count = opt_int(st, 27, -1);
    e->running = opt_int(st, 28, -1);
    e->limit = opt_int(st, 29, -1);
    e->cancel_routine = opt_int(st, 30, -1);
    e->touches_irp = opt_int(st, 31, 0);
    e->irql_from = opt_int(st, 32, -1);
    e->irql_to = opt_int(st, 33, -1);
    const unsigned char *oc = sqlite3_column_text(st, 34);
    e->outcome = TRC_OUTCOME_NONE;
    for (int o = TRC_OUTCOME_OK; oc && o <= TRC_OUTCOME_STOPPED; o++)
      if (strcmp((const char *)oc, sim_outcome_name((sim_outcome_t)o)) == 0) e->outcome = (trc_outcome_t)o;
    e->offset = sqlite3_column_type(st, 35) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 35);
    e->writes = (uint32_t)sqlite3_column_int64(st, 36);
    e->service = keep(r, sqlite3_column_text(st, 37));
    e->text = keep(r, sqlite3_column_text(st, 38));
    e->detail = keep(r, sqlite3_column_text(st, 39));
    if (!e->detail) e->detail = "";
    e->target_irp = (uint32_t)sqlite3_column_int64(st, 40);
    e->bugcheck_code = (uint32_t)sqlite3_column_int64(st, 41);
    const unsigned char *is = sqlite3_column_text(st, 42);
    int ist = is ? trc_irp_state_parse((const char *)is) : -1;
    e->irp_state = ist >= 0 ? (trc_irp_state_t)ist : TRC_IRPST_NONE;
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) goto fail;
  /* The model numbers steps by position: seq must be 1, 2, ... */
  for (size_t i = 0; i < r->nev; i++)
    if (r->ev[i].seq != i + 1) {
      snprintf(err, errlen, "run %lld: step %zu is numbered %llu; the trace is not whole", (long long)r->run, i + 1,
               (unsigned long long)r->ev[i].seq);
      return -1;
    }
  return 0;
fail:
  snprintf(err, errlen, "cannot read the steps: %s", sqlite3_errmsg(db));
  return -1;
}

/* Grows the name table of `what` to hold id. */
static mst_name_t *name_slot(mst_names_t *t, uint32_t id) {
  if (id == 0 || id > 1000000) return NULL;
  if (id >= t->cap) {
    size_t cap = t->cap ? t->cap : 16;
    while (cap <= id) cap *= 2;
    mst_name_t *v = iosim_realloc(t->v, cap * sizeof *v);
    memset(v + t->cap, 0, (cap - t->cap) * sizeof *v);
    t->v = v;
    t->cap = cap;
  }
  if (id >= t->n) t->n = id + 1;
  return &t->v[id];
}

static int load_names(mst_run_t *r, sqlite3 *db, const char *sql, mst_names_t *t, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot read the run's names: %s", sqlite3_errmsg(db));
    return -1;
  }
  sqlite3_bind_int64(st, 1, r->run);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    mst_name_t *n = name_slot(t, (uint32_t)sqlite3_column_int64(st, 0));
    if (!n) continue;
    n->name = keep(r, sqlite3_column_text(st, 1));
    int cols = sqlite3_column_count(st);
    if (cols > 2) n->extra = keep(r, sqlite3_column_text(st, 2));
    if (cols > 3) n->a = sqlite3_column_int64(st, 3);
    if (cols > 4) n->b = sqlite3_column_int64(st, 4);
    if (cols > 5) n->c = sqlite3_column_int64(st, 5);
    if (cols > 6) n->d = sqlite3_column_int64(st, 6);
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) {
    snprintf(err, errlen, "cannot read the run's names: %s", sqlite3_errmsg(db));
    return -1;
  }
  return 0;
}

static int load_run_row(mst_run_t *r, sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT scenario, coalesce(cpus, 0) FROM run WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_int64(st, 1, r->run);
  if (sqlite3_step(st) == SQLITE_ROW) {
    r->scenario = keep(r, sqlite3_column_text(st, 0));
    r->cpus = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  return 0;
}

mst_run_t *mst_load(tracedb_t *db, int64_t run, char *err, size_t errlen) {
  int64_t picked = 0;
  if (tracedb_pick_run(db, run, &picked, err, errlen) != SIM_OK) return NULL;
  mst_run_t *r = iosim_calloc(1, sizeof *r);
  r->run = picked;
  sqlite3 *q = db->db;
  if (load_run_row(r, q) != 0 || load_events(r, q, err, errlen) != 0 ||
      load_names(r, q, "SELECT id, name FROM thread WHERE run_id = ?1", &r->threads, err, errlen) != 0 ||
      load_names(r, q,
                 "SELECT d.id, d.name, r.name, coalesce(d.lower_id, 0), coalesce(d.stack_size, 0) FROM device d"
                 " LEFT JOIN driver r ON r.run_id = d.run_id AND r.id = d.driver_id WHERE d.run_id = ?1",
                 &r->devices, err, errlen) != 0 ||
      load_names(r, q, "SELECT id, name FROM port WHERE run_id = ?1", &r->ports, err, errlen) != 0 ||
      load_names(r, q, "SELECT id, name FROM object WHERE run_id = ?1", &r->objects, err, errlen) != 0 ||
      load_names(r, q,
                 "SELECT id, coalesce(tag, ''), major, coalesce(major_code, -1), coalesce(thread, 0),"
                 " coalesce(file, 0), coalesce(master, 0) FROM irp WHERE run_id = ?1",
                 &r->irps, err, errlen) != 0) {
    mst_run_free(r);
    return NULL;
  }
  /* CPUs: the run row's count, else the highest CPU a step names. */
  for (size_t i = 0; i < r->nev; i++) {
    if (r->ev[i].cpu + 1 > r->cpus) r->cpus = r->ev[i].cpu + 1;
    if (r->ev[i].target_cpu + 1 > r->cpus) r->cpus = r->ev[i].target_cpu + 1;
  }
  if (r->cpus < 1) r->cpus = 1;
  mst_dpc_order(r);
  return r;
}

void mst_run_free(mst_run_t *r) {
  if (!r) return;
  while (r->chunks) {
    struct mst_chunk *c = r->chunks;
    r->chunks = c->next;
    free(c);
  }
  free(r->ev);
  free(r->dpc_head);
  free(r->threads.v);
  free(r->devices.v);
  free(r->ports.v);
  free(r->objects.v);
  free(r->irps.v);
  free(r);
}

int64_t mst_record_scenario(tracedb_t *db, const char *path, const char *include_dir, bool has_seed, uint64_t seed,
                            char *err, size_t errlen) {
  scn_error_t e;
  scn_t *sc = scn_load(path, include_dir, &e);
  if (!sc) {
    snprintf(err, errlen, "%s:%d:%d: %s", e.file, e.line, e.col, e.msg);
    return -1;
  }
  tracedb_hooks_t h = {.db = db, .scenario_path = scn_path(sc), .text_hash = scn_hash(sc),
                       .seed = has_seed ? seed : scn_seed(sc)};
  scn_run_opts_t o = {.has_seed = has_seed, .seed = seed, .on_start = tracedb_on_start,
                      .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t res;
  int64_t run = -1;
  if (scn_run(sc, &o, &res, &e) != 0) {
    snprintf(err, errlen, "%s:%d:%d: %s", e.file, e.line, e.col, e.msg);
    tracedb_hooks_fail(&h, TRACEDB_OUTCOME_BAD_INPUT, e.msg);
  } else {
    if (h.rc != SIM_OK) snprintf(err, errlen, "%s", h.err);
    else run = tracedb_run_id(db);
    scn_result_free(&res);
  }
  scn_free(sc);
  return run;
}

/* ---- names and lookups ---- */

static const mst_name_t *name_of(const mst_names_t *t, uint32_t id) {
  return id > 0 && id < t->n ? &t->v[id] : NULL;
}
static const char *str_of(const mst_names_t *t, uint32_t id) {
  const mst_name_t *n = name_of(t, id);
  return n && n->name ? n->name : "";
}

int64_t mst_run_id(const mst_run_t *r) { return r->run; }
int mst_run_cpus(const mst_run_t *r) { return r->cpus; }
const char *mst_run_scenario(const mst_run_t *r) { return r->scenario ? r->scenario : ""; }
uint64_t mst_run_steps(const mst_run_t *r) { return r->nev; }
const trc_event_t *mst_run_event(const mst_run_t *r, uint64_t step) {
  return step >= 1 && step <= r->nev ? &r->ev[step - 1] : NULL;
}
const char *mst_thread_name(const mst_run_t *r, uint32_t id) { return str_of(&r->threads, id); }
const char *mst_device_name(const mst_run_t *r, uint32_t id) { return str_of(&r->devices, id); }
const char *mst_driver_name(const mst_run_t *r, uint32_t id) {
  const mst_name_t *n = name_of(&r->devices, id);
  return n && n->extra ? n->extra : "";
}
uint32_t mst_device_lower(const mst_run_t *r, uint32_t id) {
  const mst_name_t *n = name_of(&r->devices, id);
  return n ? (uint32_t)n->a : 0;
}
const char *mst_port_name(const mst_run_t *r, uint32_t id) { return str_of(&r->ports, id); }
const char *mst_object_name(const mst_run_t *r, uint32_t id) { return str_of(&r->objects, id); }
const char *mst_irp_tag(const mst_run_t *r, uint32_t id) { return str_of(&r->irps, id); }

const mst_name_t *mst_irp_row(const mst_run_t *r, uint32_t id) { return name_of(&r->irps, id); }

static const char *const what_name[] = {"IRP", "thread", "device", "port", "object"};

int mst_find(const mst_run_t *r, mst_what_t what, const char *text, uint32_t *id, char *err, size_t errlen) {
  const mst_names_t *t = what == MST_IRP      ? &r->irps
                         : what == MST_THREAD ? &r->threads
                         : what == MST_DEVICE ? &r->devices
                         : what == MST_PORT   ? &r->ports
                                              : &r->objects;
  char *end;
  unsigned long v = strtoul(text, &end, 10);
  if (*text && !*end) {
    /* A number: an id the run knows (an IRP may lack its row in a run cut short). */
    bool known = v > 0 && v < t->n && t->v[v].name;
    for (size_t i = 0; !known && what == MST_IRP && i < r->nev; i++) known = r->ev[i].irp == v;
    if (known) {
      *id = (uint32_t)v;
      return 0;
    }
    snprintf(err, errlen, "run %lld has no %s %lu", (long long)r->run, what_name[what], v);
    return -1;
  }
  for (size_t i = 1; i < t->n; i++)
    if (t->v[i].name && *t->v[i].name && strcmp(t->v[i].name, text) == 0) {
      *id = (uint32_t)i;
      return 0;
    }
  /* Say what there is. */
  size_t used = (size_t)snprintf(err, errlen, "run %lld has no %s named '%s'", (long long)r->run, what_name[what], text);
  const char *sep = "; there are: ";
  for (size_t i = 1; i < t->n && used < errlen; i++)
    if (t->v[i].name && *t->v[i].name) {
      used += (size_t)snprintf(err + used, errlen - used, "%s%s", sep, t->v[i].name);
      sep = ", ";
    }
  if (*sep == ';' && used < errlen) snprintf(err + used, errlen - used, " (none has a name)");
  return -1;
}

int mst_parse_at(const mst_run_t *r, const char *text, uint64_t *step, char *err, size_t errlen) {
  if (text[0] == '#') {
    char *end;
    unsigned long long v = strtoull(text + 1, &end, 10);
    if (!text[1] || *end || text[1] == '-' || text[1] == '+') {
      snprintf(err, errlen, "--at #STEP needs a step number after '#' (#48), not '%s'", text);
      return -1;
    }
    if (v < 1 || v > r->nev) {
      snprintf(err, errlen, "--at %s: run %lld has steps #1 to #%zu", text, (long long)r->run, r->nev);
      return -1;
    }
    *step = v;
    return 0;
  }
  int64_t ns;
  if (tracedb_parse_time(text, &ns) != 0) {
    snprintf(err, errlen,
             "--at needs a step (#48) or a time with its unit (204.6us, 204600ns, 1.5ms), not '%s'%s", text,
             strspn(text, "0123456789.") == strlen(text) ? " (a bare number could mean either)" : "");
    return -1;
  }
  uint64_t s = 0;
  for (size_t i = 0; i < r->nev && r->ev[i].t_ns <= (uint64_t)ns; i++) s = i + 1;
  if (s == 0) {
    snprintf(err, errlen, "--at %s: nothing has happened yet then (the first step is at %llu ns)", text,
             r->nev ? (unsigned long long)r->ev[0].t_ns : 0ull);
    return -1;
  }
  *step = s;
  return 0;
}
