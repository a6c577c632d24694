/*
 * bench.c - `make bench`: the figures issues 10 and 16 ask for, one line each
 * (name, value, unit, target, met or not).  Benchmarks measure; tests never
 * time anything.  Each workload runs in a child process so its peak RSS is
 * its own.
 *
 * The engine workload: 8 threads on 2 CPUs each keep 8 overlapped reads in
 * flight (64 outstanding) through file system (completion routine) ->
 * volume (skip) -> disk (pends; ISR -> DPC -> complete) and a special
 * kernel APC that sets each request's event.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "iosim/scenario.h"
#include "iosim/sim.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"
#include "bench.h"
#include "core/core.h" /* ctx_switch, for the switch round trip */

#define THREADS 8
#define SLOTS 8

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void figure(const char *name, double v, const char *unit, const char *target, int met) {
  printf("%-34s %14.*f %-10s target %-22s %s\n", name, v < 10 ? 2 : 1, v, unit, target,
         met < 0 ? "(info)" : met ? "met" : "NOT MET");
  fflush(stdout);
}

void bench_figure(const char *name, double v, const char *unit, const char *target, int met) {
  figure(name, v, unit, target, met);
}

/* ---- the drivers ---- */

static NTSTATUS open_ok(PDEVICE_OBJECT dev, PIRP irp) {
  (void)dev;
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}
static NTSTATUS disk_read(PDEVICE_OBJECT dev, PIRP irp) {
  IoMarkIrpPending(irp);
  sim_hw_start(dev->SimHardware, irp, sim_hw_latency(dev->SimHardware));
  return STATUS_PENDING;
}
/* Interrupts coalesce into one DPC run, so finished transfers go on a
   list in the device extension and the DPC completes them all. */
static BOOLEAN disk_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  (void)ctx;
  PDEVICE_OBJECT dev = sim_hw_device(hw);
  LIST_ENTRY *done = dev->DeviceExtension, *e = &irp->Tail.Overlay.ListEntry;
  e->Flink = done;
  e->Blink = done->Blink;
  done->Blink->Flink = e;
  done->Blink = e;
  IoRequestDpc(dev, irp, NULL);
  return TRUE;
}
static void disk_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP unused, PVOID ctx) {
  (void)dpc, (void)unused, (void)ctx;
  LIST_ENTRY *done = dev->DeviceExtension;
  while (done->Flink != done) {
    LIST_ENTRY *e = done->Flink;
    done->Flink = e->Flink;
    e->Flink->Blink = done;
    PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
    IoCompleteRequest(irp, IO_DISK_INCREMENT);
  }
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
  const char *const *n = arg; /* {name, lower or NULL} */
  PDEVICE_OBJECT dev;
  sim_create_device(drv, sizeof(LIST_ENTRY), n[0], &dev);
  drv->MajorFunction[IRP_MJ_CREATE] = open_ok;
  if (!n[1]) {
    LIST_ENTRY *done = dev->DeviceExtension;
    done->Flink = done->Blink = done;
    drv->MajorFunction[IRP_MJ_READ] = disk_read;
    IoInitializeDpcRequest(dev, disk_dpc);
    sim_hw_create(drv->Sim, dev, 100000, -1, 5, disk_isr, NULL);
  } else {
    IoAttachDeviceToDeviceStack(dev, sim_find_device(drv->Sim, n[1]));
    drv->MajorFunction[IRP_MJ_READ] = n[0][0] == 'f' ? fs_read : vol_read;
  }
  return STATUS_SUCCESS;
}

typedef struct worker {
  PDEVICE_OBJECT fs;
  uint64_t quota;
} worker_t;

static void worker(PVOID arg) {
  worker_t *w = arg;
  PFILE_OBJECT f;
  KEVENT ev[SLOTS];
  PVOID objs[SLOTS];
  IO_STATUS_BLOCK iosb[SLOTS];
  NtCreateFile(&f, w->fs, 0, "data");
  uint64_t issued = 0, done = 0;
  int live = 0;
  for (int i = 0; i < SLOTS; i++) {
    KeInitializeEvent(&ev[i], NotificationEvent, FALSE);
    objs[i] = &ev[i];
  }
  for (int i = 0; i < SLOTS && issued < w->quota; i++, issued++, live++) {
    LONGLONG off = (LONGLONG)issued * 4096;
    NtReadFile(f, &ev[i], NULL, NULL, &iosb[i], NULL, 4096, &off);
  }
  while (done < w->quota) {
    NTSTATUS st = NtWaitForMultipleObjects((ULONG)live, objs, WaitAny, FALSE, NULL);
    int i = st - STATUS_WAIT_0;
    done++;
    if (issued < w->quota) {
      LONGLONG off = (LONGLONG)issued * 4096;
      issued++;
      NtReadFile(f, &ev[i], NULL, NULL, &iosb[i], NULL, 4096, &off);
    } else { /* retire slot i: move the last live slot into it */
      live--;
      objs[i] = objs[live];
    }
  }
}

typedef struct result {
  double secs;
  uint64_t irps, steps, rows; /* rows: trace rows written (traced runs) */
  long rss_kb;
  double db_bytes;
} result_t;

static sim_t *engine_machine(uint64_t irps, worker_t *w) {
  sim_config_t cfg = {.cpus = 2, .seed = 1, .max_time_ns = UINT64_MAX / 2, .max_steps = UINT64_MAX / 2};
  sim_t *S = sim_create(&cfg);
  static const char *const disk[] = {"disk0", NULL}, *const vol[] = {"vol0", "disk0"},
                           *const fs[] = {"fs0", "vol0"};
  sim_load_driver(S, "disk", layer_entry, (PVOID)disk);
  sim_load_driver(S, "volume", layer_entry, (PVOID)vol);
  sim_load_driver(S, "fsd", layer_entry, (PVOID)fs);
  for (int i = 0; i < THREADS; i++) {
    w[i].fs = sim_find_device(S, "fs0");
    w[i].quota = irps / THREADS;
    char name[16];
    snprintf(name, sizeof name, "w%d", i);
    sim_thread_create(S, name, worker, &w[i]);
  }
  return S;
}

/* Runs the engine workload in this (child) process. */
static void engine_child(uint64_t irps, const char *db, int out_fd) {
  worker_t w[THREADS];
  sim_t *S = engine_machine(irps, w);
  tracedb_t *t = NULL;
  if (db) {
    char err[256];
    unlink(db);
    t = tracedb_open(db, err, sizeof err);
    if (!t || tracedb_begin_run(t, S, "bench", 0, 1) != 0) _exit(3);
  }
  double t0 = now_s();
  sim_outcome_t o = sim_run(S);
  double t1 = now_s();
  /* (Given an outcome: without one or a result, end_run refuses, and the
     commit would happen untimed, in tracedb_close.) */
  if (t && tracedb_end_run(t, S, tracedb_outcome(o, NULL), NULL) != SIM_OK) {
    fprintf(stderr, "end of the traced run: %s\n", tracedb_errmsg(t));
    _exit(3);
  }
  double secs = now_s() - t0;
  if (t && getenv("IOSIM_BENCH_SPLIT"))
    fprintf(stderr, "run %.3f s, end of run (indexes, commit) %.3f s\n", t1 - t0, now_s() - t1);
  tracedb_close(t);
  result_t r = {.secs = secs, .irps = sim_stats(S).irps_freed, .steps = sim_steps(S)};
  if (db) {
    struct stat st;
    r.db_bytes = stat(db, &st) == 0 ? (double)st.st_size : 0;
    sqlite3 *h;
    sqlite3_stmt *q;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT count(*) FROM event", -1, &q, NULL) == SQLITE_OK) {
      if (sqlite3_step(q) == SQLITE_ROW) r.rows = (uint64_t)sqlite3_column_int64(q, 0);
      sqlite3_finalize(q);
    }
    sqlite3_close(h);
  }
  if (o != SIM_RUN_OK) {
    fprintf(stderr, "engine run ended %s after %llu IRPs\n", sim_outcome_name(o),
            (unsigned long long)sim_stats(S).irps_freed);
    sim_bugcheck_report(S, stderr);
    _exit(4);
  }
  sim_destroy(S);
  if (write(out_fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(5);
  _exit(0);
}

static bool in_child(void (*fn)(uint64_t, const char *, int), uint64_t n, const char *db, result_t *r) {
  int p[2];
  if (pipe(p) != 0) return false;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    fn(n, db, p[1]);
  }
  close(p[1]);
  ssize_t got = read(p[0], r, sizeof *r);
  close(p[0]);
  int status;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  r->rss_kb = ru.ru_maxrss;
  return got == (ssize_t)sizeof *r && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The bound on what any SQLite trace writer can do here: the rows the
   traced run wrote (read back from its database, a batch at a time,
   untimed) inserted by a bare loop (timed) into a fresh file, with the
   trace's pragmas (WAL, synchronous = OFF), into a plain rowid table of the
   same columns with no index and no constraint, through one prepared
   INSERT binding every column (texts without a copy), in one transaction.
   Returns rows per second, 0 on failure. */
enum { BARE_BATCH = 50000 };

/* A batch of rows read back, stored compactly so that the timed loop reads
   memory the way a writer's own data would be: per value a type, an integer
   or an offset into one text arena. */
typedef struct batch {
  int ncol, n;
  unsigned char *type;
  sqlite3_int64 *v;   /* the integer, or the text's offset in arena */
  int *len;
  char *arena;
  size_t used, cap;
} batch_t;

static void batch_read(batch_t *b, sqlite3_stmt *rd, bool *more) {
  b->n = 0;
  b->used = 0;
  while (b->n < BARE_BATCH && (*more = sqlite3_step(rd) == SQLITE_ROW)) {
    for (int c = 0; c < b->ncol; c++) {
      size_t k = (size_t)b->n * (size_t)b->ncol + (size_t)c;
      b->type[k] = (unsigned char)sqlite3_column_type(rd, c);
      if (b->type[k] == SQLITE_TEXT) {
        const char *t = (const char *)sqlite3_column_text(rd, c);
        int n = sqlite3_column_bytes(rd, c);
        if (b->used + (size_t)n + 1 > b->cap) {
          /* Offsets, not pointers: the arena may move as it grows. */
          b->cap = (b->cap + (size_t)n + 1) * 2;
          b->arena = realloc(b->arena, b->cap);
        }
        memcpy(b->arena + b->used, t, (size_t)n + 1);
        b->v[k] = (sqlite3_int64)b->used;
        b->len[k] = n;
        b->used += (size_t)n + 1;
      } else {
        b->v[k] = sqlite3_column_int64(rd, c);
      }
    }
    b->n++;
  }
}

static double bare_insert_rate(const char *src_path, const char *path) {
  unlink(path);
  sqlite3 *src, *db;
  if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return 0;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK)
    return 0;
  sqlite3_stmt *rd, *st;
  if (sqlite3_prepare_v2(src, "SELECT * FROM event ORDER BY rowid", -1, &rd, NULL) != SQLITE_OK) {
    fprintf(stderr, "bare loop: %s\n", sqlite3_errmsg(src));
    return 0;
  }
  int ncol = sqlite3_column_count(rd);
  char create[4096] = "CREATE TABLE event(", insert[4096] = "INSERT INTO event VALUES(";
  for (int c = 0; c < ncol; c++) {
    size_t n = strlen(create);
    snprintf(create + n, sizeof create - n, "%s%s", c ? ", " : "", sqlite3_column_name(rd, c));
    n = strlen(insert);
    snprintf(insert + n, sizeof insert - n, "%s?", c ? ", " : "");
  }
  strcat(create, ")");
  strcat(insert, ")");
  if (sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(db, create, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, insert, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "bare loop: %s\n", sqlite3_errmsg(db));
    return 0;
  }
  size_t cells = (size_t)BARE_BATCH * (size_t)ncol;
  batch_t b = {.ncol = ncol, .type = malloc(cells), .v = malloc(cells * sizeof *b.v),
               .len = malloc(cells * sizeof *b.len)};
  uint64_t total = 0;
  double secs = 0;
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (bool more = true; more;) {
    batch_read(&b, rd, &more);
    double t0 = now_s();
    for (int j = 0; j < b.n; j++) {
      size_t k = (size_t)j * (size_t)ncol;
      for (int c = 0; c < ncol; c++, k++) {
        switch (b.type[k]) {
        case SQLITE_INTEGER: sqlite3_bind_int64(st, c + 1, b.v[k]); break;
        case SQLITE_TEXT: sqlite3_bind_text(st, c + 1, b.arena + b.v[k], b.len[k], SQLITE_STATIC); break;
        default: sqlite3_bind_null(st, c + 1); break;
        }
      }
      if (sqlite3_step(st) != SQLITE_DONE) more = false;
      sqlite3_reset(st);
    }
    secs += now_s() - t0;
    total += (uint64_t)b.n;
  }
  double t0 = now_s();
  int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  secs += now_s() - t0;
  free(b.type);
  free(b.v);
  free(b.len);
  free(b.arena);
  sqlite3_finalize(rd);
  sqlite3_finalize(st);
  sqlite3_close(src);
  sqlite3_close(db);
  unlink(path);
  return rc == SQLITE_OK && secs > 0 ? (double)total / secs : 0;
}

/* The bare loop in a child too: rows in result.steps, time in secs. */
static void bare_child(uint64_t rows, const char *src, int out_fd) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/iosim-bench-bare-%d.db", (int)getpid());
  double rate = bare_insert_rate(src, path);
  for (int i = 0; i < 2; i++) { /* its -wal and -shm */
    char side[80];
    snprintf(side, sizeof side, "%s-%s", path, i ? "shm" : "wal");
    unlink(side);
  }
  result_t r = {.secs = rate > 0 ? (double)rows / rate : 1e9, .rows = rows};
  if (write(out_fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(5);
  _exit(rate > 0 ? 0 : 6);
}

/* ---- a SimPy peer of the engine workload ---- */

/* Runs tests/bench/simpy_peer.py (the same 3-layer workload as a SimPy
   model) with the first python3 that has SimPy; its IRPs per second, or 0
   when there is none (the comparison is then skipped). */
static double simpy_rate(uint64_t irps, char *which, size_t n) {
  static const char *const pythons[] = {"python3", "/usr/bin/python3"};
  for (size_t i = 0; i < sizeof pythons / sizeof *pythons; i++) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s -c \"import importlib.util as u, sys; sys.exit(not (u.find_spec('simpy') or"
             " u.find_spec('SimPy')))\" 2>/dev/null",
             pythons[i]);
    if (system(cmd) != 0) continue;
    snprintf(cmd, sizeof cmd, "%s tests/bench/simpy_peer.py %llu 2>/dev/null", pythons[i], (unsigned long long)irps);
    FILE *p = popen(cmd, "r");
    if (!p) continue;
    /* All of it before pclose: closing the pipe while the script still
       writes (its newline) would fail the script with EPIPE. */
    char out[256];
    size_t len = fread(out, 1, sizeof out - 1, p);
    while (fgetc(p) != EOF) {
    }
    out[len] = '\0';
    unsigned long long done = 0;
    double secs = 0, rate = 0;
    int got = sscanf(out, "%llu irps %lf s %lf irp/s", &done, &secs, &rate);
    if (pclose(p) == 0 && got == 3 && rate > 0) {
      snprintf(which, n, "%s", pythons[i]);
      return rate;
    }
  }
  return 0;
}

/* ---- coroutine switch round trip ---- */
typedef struct pingpong {
  ctx_t a, b;
  uint64_t n;
} pingpong_t;

static void pong(void *arg) {
  pingpong_t *p = arg;
  for (;;) ctx_switch(&p->b, &p->a);
}

static double switch_ns(void) {
  pingpong_t p = {0};
  sim_config_t cfg = {.cpus = 1};
  sim_t *S = sim_create(&cfg);
  ctx_init_main(&p.a);
  ctx_init(S, &p.b, pong, &p);
  const uint64_t n = 10 * 1000 * 1000;
  double t0 = now_s();
  for (uint64_t i = 0; i < n; i++) ctx_switch(&p.a, &p.b);
  double secs = now_s() - t0;
  ctx_free(S, &p.b);
  sim_destroy(S);
  return secs / (double)n * 1e9;
}

/* ---- every scenario, end to end ---- */
/* The IRP diagram of the run: its first request after the opens (IRP 2),
   else IRP 1.  Drawing is part of "end to end". */
static void bench_draw(const char *db) {
  char err[256];
  if (viz_irp(db, 0, 2, "/tmp/iosim-bench-lesson.svg", NULL, err, sizeof err) != VIZ_OK)
    (void)viz_irp(db, 0, 1, "/tmp/iosim-bench-lesson.svg", NULL, err, sizeof err);
  unlink("/tmp/iosim-bench-lesson.svg");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void collect(const char *dir, char **v, int *n, int max) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && *n < max) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "lib")) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) collect(p, v, n, max);
    else if (strstr(e->d_name, ".iosim")) v[(*n)++] = strdup(p);
  }
  closedir(d);
}

/* One scenario end to end, in this process: load, run with the SQLite
   trace, draw an IRP diagram. */
static double lesson_ms(const char *path) {
  double t0 = now_s();
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (!sc) return -1;
  const char *db = "/tmp/iosim-bench-lesson.db";
  unlink(db);
  char e[256];
  tracedb_t *t = tracedb_open(db, e, sizeof e);
  tracedb_hooks_t h = {.db = t, .scenario_path = path, .text_hash = scn_hash(sc), .seed = scn_seed(sc)};
  scn_run_opts_t o = {.on_start = tracedb_on_start, .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t r;
  int rc = scn_run(sc, &o, &r, &err);
  tracedb_close(t);
  if (rc == 0) scn_result_free(&r);
  scn_free(sc);
  bench_draw(db);
  double ms = (now_s() - t0) * 1000;
  unlink(db);
  return rc == 0 ? ms : -1;
}

/* The IRPs a scenario run freed and the steps it took, read as the
   machine ends. */
static void count_irps(void *ud, sim_t *S, const scn_result_t *r) {
  (void)r;
  uint64_t *n = ud;
  n[0] = sim_stats(S).irps_freed;
  n[1] = sim_steps(S);
}

/* IRPs per second of one scenario, untraced, best of 3 (and its steps per
   second in *step_rate); -1 if it fails. */
static double scenario_irp_rate(const char *path, double *step_rate) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (!sc) {
    fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
    return -1;
  }
  double best = -1;
  for (int k = 0; k < 3; k++) {
    uint64_t n[2] = {0, 0};
    scn_run_opts_t o = {.on_finish = count_irps, .ud = n};
    scn_result_t r;
    double t0 = now_s();
    int rc = scn_run(sc, &o, &r, &err);
    double secs = now_s() - t0;
    if (rc != 0 || r.expect_failed) best = -1, k = 3;
    else if (best < 0 || n[0] / secs > best) best = (double)n[0] / secs, *step_rate = (double)n[1] / secs;
    if (rc == 0) scn_result_free(&r);
  }
  scn_free(sc);
  return best;
}

/* A driver written in C (loaded from its source, as a scenario does) costs
   the machine no more than a scripted one: the same 3-layer stack, 10,000
   reads, over each disk.  The two disks do different work (a spin lock and
   a timer against the hardware model's interrupt), so the like-for-like
   figure is the simulator's speed per simulated step. */
static void c_driver_figures(void) {
  double cs = 0, ss = 0;
  double c = scenario_irp_rate("tests/bench/stack-c-disk.iosim", &cs);
  double s = scenario_irp_rate("tests/bench/stack-scripted-disk.iosim", &ss);
  if (c < 0 || s < 0) {
    printf("  (the C disk stack did not run: no figures)\n");
    return;
  }
  figure("3-layer stack, C disk: IRPs/s", c, "IRP/s", "", -1);
  figure("3-layer stack, scripted disk: IRPs/s", s, "IRP/s", "", -1);
  figure("C disk / scripted: steps per second", cs / ss, "x", ">= 0.9", cs / ss >= 0.9);
}

static void lessons(void) {
  char *files[512];
  int n = 0;
  collect("scenarios", files, &n, 512);
  double times[512];
  int worst = 0;
  for (int i = 0; i < n; i++) {
    double best = 1e9;
    for (int k = 0; k < 3; k++) { /* best of 3 against a noisy machine */
      double ms = lesson_ms(files[i]);
      if (ms >= 0 && ms < best) best = ms;
    }
    times[i] = best;
    if (best > times[worst]) worst = i;
  }
  double sorted[512];
  memcpy(sorted, times, sizeof(double) * (size_t)n);
  qsort(sorted, (size_t)n, sizeof(double), cmp_double);
  double med = n ? sorted[n / 2] : 0, max = n ? sorted[n - 1] : 0;
  char what[64];
  snprintf(what, sizeof what, "scenarios (%d), median", n);
  figure(what, med, "ms", "< 50 ms", med < 50);
  figure("scenarios, max", max, "ms", "< 50 ms", max < 50);
  if (n) printf("  (slowest: %s)\n", files[worst]);
  for (int i = 0; i < n; i++) free(files[i]);
}

/* The traced engine against the bare insert loop, each in a child, in
   `rounds` alternating rounds; the best of each counts (the machine is
   shared: the best run is the one least disturbed). */
static bool trace_figures(uint64_t ntr, int rounds) {
  result_t rt = {0}, rb = {0};
  double traced_rate = 0, bare = 0;
  /* Per process: other sessions may run the benchmark on this machine. */
  char db[64];
  snprintf(db, sizeof db, "/tmp/iosim-bench-%d.db", (int)getpid());
  for (int k = 0; k < rounds; k++) {
    if (!in_child(engine_child, ntr, db, &rt) || !in_child(bare_child, rt.rows, db, &rb)) {
      fprintf(stderr, "traced run failed\n");
      return false;
    }
    if ((double)rt.rows / rt.secs > traced_rate) traced_rate = (double)rt.rows / rt.secs;
    if ((double)rb.rows / rb.secs > bare) bare = (double)rb.rows / rb.secs;
  }
  char what[64];
  snprintf(what, sizeof what, "traced: rows per second (%.1fM)", (double)rt.rows / 1e6);
  figure(what, traced_rate, "row/s", "", -1);
  figure("traced: bytes per row", rt.db_bytes / (double)rt.rows, "B", "", -1);
  figure("bare rowid insert loop, same rows", bare, "row/s", "", -1);
  figure("traced / bare loop", traced_rate / bare, "x", ">= 0.67", traced_rate / bare >= 2.0 / 3.0);
  printf("  (best of %d rounds each)\n", rounds);
  for (int i = 0; i < 3; i++) {
    char f[80];
    snprintf(f, sizeof f, "%s%s", db, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
    unlink(f);
  }
  return true;
}

int main(int argc, char **argv) {
  uint64_t n1 = 1000000, n10 = 10000000, ntr = 50000; /* ntr: about 2 M trace rows */
  if (argc > 1 && !strcmp(argv[1], "--quick")) n1 = 100000, n10 = 1000000, ntr = 10000;
  if (argc > 2 && !strcmp(argv[1], "--traced")) { /* for profilers: one traced run, in this process */
    result_t r;
    int p[2];
    if (pipe(p) != 0) return 1;
    if (fork() == 0) engine_child(strtoull(argv[2], NULL, 10), "/tmp/iosim-prof.db", p[1]);
    close(p[1]);
    if (read(p[0], &r, sizeof r) != (ssize_t)sizeof r) return 1;
    printf("%llu rows (%llu steps) in %.2f s: %.0f rows/s\n", (unsigned long long)r.rows,
           (unsigned long long)r.steps, r.secs, (double)r.rows / r.secs);
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--c-driver")) { /* the C driver figures only */
    c_driver_figures();
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--explore")) { /* the exploration figures only */
    explore_figures();
    return 0;
  }
  if (argc > 2 && !strcmp(argv[1], "--trace-figures")) /* the traced and bare figures only */
    return trace_figures(strtoull(argv[2], NULL, 10), argc > 3 ? atoi(argv[3]) : 1) ? 0 : 1;
  if (argc > 2 && !strcmp(argv[1], "--engine")) { /* for profilers: one run, in this process */
    worker_t w[THREADS];
    sim_t *S = engine_machine(strtoull(argv[2], NULL, 10), w);
    sim_outcome_t o = sim_run(S);
    sim_stats_t st = sim_stats(S);
    printf("%s, %llu IRPs, %llu steps, %llu bytes live, %llu peak\n", sim_outcome_name(o),
           (unsigned long long)st.irps_freed, (unsigned long long)sim_steps(S), (unsigned long long)st.bytes_live,
           (unsigned long long)st.bytes_peak);
    sim_destroy(S);
    return 0;
  }
  printf("iosim %s benchmarks on %ld CPU(s); engine workload: 3-layer stack, 2 CPUs, %d threads x %d "
         "outstanding reads\n\n",
         IOSIM_VERSION, sysconf(_SC_NPROCESSORS_ONLN), THREADS, SLOTS);
  result_t r1, r10;
  /* Untraced first, each in a fresh child of a still-small parent, so the
     two peak RSS figures compare like with like. */
  if (!in_child(engine_child, n1, NULL, &r1) || !in_child(engine_child, n10, NULL, &r10)) {
    fprintf(stderr, "engine run failed\n");
    return 1;
  }
  figure("engine: IRPs per second", (double)r1.irps / r1.secs, "IRP/s", ">= 1,000,000", r1.irps / r1.secs >= 1e6);
  figure("engine: simulated steps per second", (double)r1.steps / r1.secs, "step/s", "", -1);
  figure("engine: steps per IRP", (double)r1.steps / (double)r1.irps, "step", "", -1);
  figure("engine: peak RSS (1M IRPs)", (double)r1.rss_kb / 1024.0, "MB", "", -1);
  double mb10 = (double)r10.rss_kb / 1024.0, mb1 = (double)r1.rss_kb / 1024.0;
  double simpy_irps = 20000, engine_rate = (double)r1.irps / r1.secs;
  char py[64] = "";
  double peer = simpy_rate((uint64_t)simpy_irps, py, sizeof py);
  if (peer > 0) {
    figure("SimPy peer model: IRPs per second", peer, "IRP/s", "", -1);
    figure("engine / SimPy peer", engine_rate / peer, "x", "", -1);
    printf("  (tests/bench/simpy_peer.py %.0f with %s)\n", simpy_irps, py);
  } else {
    printf("  (SimPy is not installed for python3: the comparison with a SimPy peer model is skipped)\n");
  }
  figure("scale: IRPs per second (10M)", (double)r10.irps / r10.secs, "IRP/s", "", -1);
  figure("scale: peak RSS (10M IRPs)", mb10, "MB", "<= 64 MB", mb10 <= 64);
  figure("scale: RSS 10M / 1M", mb10 / mb1, "x", "<= 1.10", mb10 / mb1 <= 1.10);
  if (!trace_figures(ntr, 3)) return 1;
  lessons();
  c_driver_figures();
  explore_figures();
  double sw = switch_ns();
  figure("coroutine switch round trip", sw * 2, "ns", "(glibc swapcontext ~2200)", -1);
  return 0;
}
