/*
 * tracedb_irp.c - `iosim irp`: an IRP as WinDbg's !irp shows it, at any
 * moment of a recorded run, rebuilt by replaying the IRP's event rows
 * against a model of its stack locations (what IoCallDriver, the stack
 * helpers and IofCompleteRequest's walk do to them).
 */
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "tracedb_int.h"

#define NAME_LEN 64
#define MAX_LOCS 128 /* StackCount is a CCHAR */

/* One IO_STACK_LOCATION, as far as the trace shows it. */
typedef struct loc {
  bool filled;                 /* set up for a driver (called into, or copied into) */
  bool walked;                 /* passed by the completion walk, which cleared it */
  unsigned control;            /* SL_* bits */
  bool routine;                /* a completion routine is set here */
  char device[NAME_LEN];       /* the device called with this location */
  char driver[NAME_LEN];
  char routine_by[NAME_LEN];   /* the device whose driver set the routine */
  char routine_drv[NAME_LEN];
} loc_t;

/* The IRP at the chosen moment. */
typedef struct irp_view {
  int n, cur;                  /* StackCount, CurrentLocation */
  loc_t loc[MAX_LOCS + 2];     /* 1-based, as CurrentLocation counts */
  bool walking, completed, freed, stopped, cancel, cancel_routine, pending_returned;
  bool allocated;              /* its irp-alloc step is within the moment */
  char status[32];             /* IoStatus.Status once completion began, "" before */
  long long info;
  int64_t last_seq, last_t, freed_t;
  char last_kind[32];
  char major[40];
  int major_code;              /* -1 = unknown */
  uint32_t thread, file, master;
  char thread_name[NAME_LEN];
  char tag[NAME_LEN];          /* the scenario's name for it ("r1"), "" if none */
} irp_view_t;

/* One event row, as read: its typed facts only (never the detail text). */
typedef struct row {
  int64_t seq, t;
  const char *kind, *status, *device, *driver;
  int sl;             /* stack_location, 0 = none */
  int control;        /* SL_* bits, -1 = NULL */
  bool has_info;
  long long info;     /* IoStatus.Information when has_info */
  int stack_size;     /* 0 = NULL */
  int major;          /* IRP_MJ_*, -1 = NULL */
  int cancel_routine; /* 1 set, 0 cleared, -1 = NULL */
} row_t;

/* memmove: the source may be another field of the same view. */
static void copy_name(char *dst, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n >= NAME_LEN) n = NAME_LEN - 1;
  if (n) memmove(dst, src, n);
  dst[n] = '\0';
}

/* ---- the model ---- */

/* The walk moved the IRP up from v->cur to `to`: it consumed each
   location's pending bit into PendingReturned and cleared it. */
static void walk_to(irp_view_t *v, int to) {
  for (int l = v->cur; l < to && l <= v->n; l++) {
    if (l < 1) continue;
    v->pending_returned = (v->loc[l].control & SL_PENDING_RETURNED) != 0;
    v->loc[l].control &= SL_ERROR_RETURNED;
    v->loc[l].walked = true;
  }
}

/* Kinds whose stack_location is not the IRP's CurrentLocation at the
   step: they report the location a call or routine started from. */
static bool location_is_stale(const char *kind) {
  return strcmp(kind, "dispatch-return") == 0 || strcmp(kind, "completion-return") == 0;
}

static void on_call(irp_view_t *v, const row_t *r) {
  if (r->sl < 1 || r->sl > v->n) return;
  loc_t *l = &v->loc[r->sl];
  l->filled = true;
  l->walked = false;
  copy_name(l->device, r->device);
  copy_name(l->driver, r->driver);
}

static void on_set_completion(irp_view_t *v, const row_t *r) {
  int at = r->sl - 1;
  if (at < 1 || at > v->n) return;
  loc_t *l = &v->loc[at];
  /* IoSetCompletionRoutine overwrites Control, the pending bit included. */
  l->control = r->control >= 0 ? (unsigned)r->control : 0u;
  l->routine = true;
  /* The setter: the step's device, else the device called with the
     current location; an IRP's creator has neither. */
  const loc_t *caller = r->sl <= v->n ? &v->loc[r->sl] : NULL;
  const char *by = r->device ? r->device : caller && caller->device[0] ? caller->device : NULL;
  const char *drv = r->device ? r->driver : caller ? caller->driver : NULL;
  copy_name(l->routine_by, by ? by : "the IRP's creator");
  copy_name(l->routine_drv, by ? drv : "");
}

static void on_copy(irp_view_t *v, const row_t *r) {
  int to = r->sl - 1;
  if (to < 1 || to > v->n) return;
  v->loc[to].filled = true;
  v->loc[to].walked = false;
  v->loc[to].control = 0; /* pending and invoke-on bits are not copied */
}

static void on_complete(irp_view_t *v, const row_t *r) {
  v->walking = true;
  v->stopped = false;
  if (r->status) snprintf(v->status, sizeof v->status, "%s", r->status);
  if (r->has_info) v->info = r->info;
}

/* Applies one event row to the model. */
static void apply(irp_view_t *v, const row_t *r) {
  const char *k = r->kind;
  if (r->sl > 0 && !location_is_stale(k)) {
    if (v->walking && r->sl > v->cur) walk_to(v, r->sl);
    v->cur = r->sl;
  }
  if (strcmp(k, "irp-alloc") == 0) v->allocated = true;
  else if (strcmp(k, "call-driver") == 0) on_call(v, r);
  else if (strcmp(k, "copy-stack") == 0) on_copy(v, r);
  else if (strcmp(k, "set-completion") == 0) on_set_completion(v, r);
  else if (strcmp(k, "mark-pending") == 0 || strcmp(k, "pending-propagated") == 0) {
    if (r->sl >= 1 && r->sl <= v->n) v->loc[r->sl].control |= SL_PENDING_RETURNED;
  } else if (strcmp(k, "complete") == 0) on_complete(v, r);
  else if (strcmp(k, "walk-stopped") == 0) {
    v->walking = false;
    v->stopped = true;
  } else if (strcmp(k, "walk-done") == 0) {
    v->walking = false;
    v->completed = true;
  } else if (strcmp(k, "set-cancel-routine") == 0) {
    if (r->cancel_routine >= 0) v->cancel_routine = r->cancel_routine != 0;
  } else if (strcmp(k, "cancel") == 0) v->cancel = true;
  else if (strcmp(k, "irp-free") == 0) {
    v->freed = true;
    v->freed_t = r->t;
  }
  v->last_seq = r->seq;
  v->last_t = r->t;
  snprintf(v->last_kind, sizeof v->last_kind, "%s", k);
}

/* ---- reading ---- */

static const char *col_text(sqlite3_stmt *st, int i) {
  return (const char *)sqlite3_column_text(st, i);
}

static int opt_int(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int(st, i);
}

/* The irp row: major, thread, file, master, stack count.  False if absent. */
static bool load_irp_row(tracedb_t *db, int64_t run, uint32_t irp, irp_view_t *v, int *rc) {
  sqlite3_stmt *st = tdb_stmt(db, ST_IRP_ROW);
  *rc = SIM_OK;
  if (!st) return *rc = SIM_EIO, false;
  if (sqlite3_bind_int64(st, 1, run) != SQLITE_OK || sqlite3_bind_int64(st, 2, irp) != SQLITE_OK)
    return *rc = tdb_fail(db, "irp"), false;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    if (col_text(st, 0)) snprintf(v->major, sizeof v->major, "%s", col_text(st, 0));
    v->thread = (uint32_t)sqlite3_column_int64(st, 1);
    copy_name(v->thread_name, col_text(st, 2));
    v->file = (uint32_t)sqlite3_column_int64(st, 3);
    v->master = (uint32_t)sqlite3_column_int64(st, 4);
    v->n = sqlite3_column_int(st, 5);
    if (v->n < 0 || v->n > MAX_LOCS) v->n = 0; /* a damaged row: the steps tell instead */
    copy_name(v->tag, col_text(st, 8));
    v->major_code = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 9);
  } else if (s != SQLITE_DONE) {
    *rc = tdb_fail(db, "irp");
  }
  (void)sqlite3_reset(st);
  return s == SQLITE_ROW;
}

/* Replays the IRP's events up to at_ns.  Returns the number of rows. */
static int64_t replay(tracedb_t *db, int64_t run, uint32_t irp, int64_t at_ns, irp_view_t *v,
                      int *rc) {
  sqlite3_stmt *st = tdb_stmt(db, ST_IRP_EVENTS);
  int64_t rows = 0;
  *rc = SIM_OK;
  if (!st) return *rc = SIM_EIO, 0;
  if (sqlite3_bind_int64(st, 1, run) != SQLITE_OK || sqlite3_bind_int64(st, 2, irp) != SQLITE_OK ||
      sqlite3_bind_int64(st, 3, at_ns) != SQLITE_OK)
    return *rc = tdb_fail(db, "events"), 0;
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    row_t r = {
        .seq = sqlite3_column_int64(st, 0), .t = sqlite3_column_int64(st, 1),
        .kind = col_text(st, 2), .sl = sqlite3_column_int(st, 4), .status = col_text(st, 5),
        .control = opt_int(st, 6), .has_info = sqlite3_column_type(st, 7) != SQLITE_NULL,
        .info = sqlite3_column_int64(st, 7), .stack_size = sqlite3_column_int(st, 8),
        .major = opt_int(st, 9), .cancel_routine = opt_int(st, 10), .device = col_text(st, 11),
        .driver = col_text(st, 12)};
    if (!r.kind) r.kind = "";
    /* Nothing read from a file is trusted: a location out of any IRP's
       range (a damaged or hostile database) is no location. */
    if (r.sl < 0 || r.sl > MAX_LOCS + 1) r.sl = 0;
    /* Without an irp row (a run cut short), the facts come from the steps. */
    if (v->n == 0 && strcmp(r.kind, "irp-alloc") == 0 && r.stack_size > 0 && r.stack_size <= MAX_LOCS)
      v->n = r.stack_size;
    if (v->major_code < 0 && r.major >= 0 && strcmp(r.kind, "dispatch") == 0) v->major_code = r.major;
    if (v->n > 0 && rows == 0) v->cur = v->n + 1;
    apply(v, &r);
    rows++;
  }
  if (s != SQLITE_DONE) *rc = tdb_fail(db, "events");
  (void)sqlite3_reset(st);
  return rows;
}

/* The run exists and has steps (else a message saying why not). */
static int check_run(tracedb_t *db, int64_t run, char *err, size_t errlen) {
  int64_t picked = 0;
  if (run <= 0) {
    snprintf(err, errlen, "there is no run %lld in this trace", (long long)run);
    return SIM_ENOENT;
  }
  return tracedb_pick_run(db, run, &picked, err, errlen);
}

/* ---- printing ---- */

static void print_time(FILE *out, int64_t ns) {
  fprintf(out, "%lld.%03lld us", (long long)(ns / 1000), (long long)(ns % 1000));
}

static void print_header(const irp_view_t *v, uint32_t irp, int64_t run, FILE *out) {
  fprintf(out, "IRP %u%s%s%s of run %lld, as of ", irp, v->tag[0] ? " (" : "", v->tag,
          v->tag[0] ? ")" : "", (long long)run);
  print_time(out, v->last_t);
  fprintf(out, " (after step %lld, %s)\n", (long long)v->last_seq, v->last_kind);
  if (v->freed) {
    fprintf(out, "Irp was freed at ");
    print_time(out, v->freed_t);
    fprintf(out, "; its last state: %d stacks %d is current\n", v->n, v->cur);
  } else if (v->cur > v->n) {
    fprintf(out, "Irp is %s with %d stacks %d is current (%s)\n",
            v->completed ? "completed" : "active", v->n, v->cur,
            v->completed ? "past the top location: none is marked" : "not yet passed to a driver");
  } else {
    fprintf(out, "Irp is active with %d stacks %d is current\n", v->n, v->cur);
  }
  fprintf(out, " %s  Thread ", v->major[0] ? v->major : "IRP_MJ_?");
  if (v->thread) fprintf(out, "%s (%u)", v->thread_name[0] ? v->thread_name : "?", v->thread);
  else fprintf(out, "none");
  if (v->file) fprintf(out, "  File %u", v->file);
  else fprintf(out, "  File none");
  if (v->master) fprintf(out, "  Master IRP %u\n", v->master);
  else fprintf(out, "  Master IRP none\n");
  fprintf(out, " PendingReturned %d  Cancel %d  CancelRoutine %s  ", v->pending_returned, v->cancel,
          v->cancel_routine ? "set" : "none");
  if (v->status[0]) fprintf(out, "IoStatus %s, Information %lld\n", v->status, v->info);
  else fprintf(out, "IoStatus not set yet\n");
  if (v->stopped)
    fprintf(out, " The completion walk stopped: a routine returned "
                 "STATUS_MORE_PROCESSING_REQUIRED and owns the IRP again\n");
}

static void print_loc(const irp_view_t *v, int l, FILE *out) {
  const loc_t *s = &v->loc[l];
  bool cur = l == v->cur;
  if (s->filled)
    fprintf(out, "%c[%s(%x), N/A(0)]\n", cur ? '>' : ' ', v->major[0] ? v->major : "IRP_MJ_?",
            v->major_code < 0 ? 0 : (unsigned)v->major_code);
  else
    fprintf(out, "%c[N/A(0), N/A(0)]\n", cur ? '>' : ' ');
  char file[16] = "-", ctx[NAME_LEN + 16] = "-", line[256];
  if (s->filled && !s->walked && v->file) snprintf(file, sizeof file, "%u", v->file);
  if (s->routine) snprintf(ctx, sizeof ctx, "%s's routine", s->routine_drv[0] ? s->routine_by : "creator");
  int n = snprintf(line, sizeof line, "            0 %2x %-8s %-8s %-18s%s%s%s%s%s", s->control,
                   s->device[0] ? s->device : "-", file, ctx,
                   s->control & SL_INVOKE_ON_SUCCESS ? " Success" : "",
                   s->control & SL_INVOKE_ON_ERROR ? " Error" : "",
                   s->control & SL_INVOKE_ON_CANCEL ? " Cancel" : "",
                   s->control & SL_PENDING_RETURNED ? " pending" : "",
                   s->walked ? " (completed: cleared by the walk)" : "");
  /* The columns are padded for alignment, not for the line's end. */
  while (n > 0 && line[n - 1] == ' ') line[--n] = '\0';
  fprintf(out, "%s\n", line);
  if (s->driver[0] || s->routine) {
    fprintf(out, "\t       \\Driver\\%s", s->driver[0] ? s->driver : "?");
    if (s->routine && s->routine_drv[0])
      fprintf(out, "\tcompletion routine of \\Driver\\%s (%s)", s->routine_drv, s->routine_by);
    else if (s->routine)
      fprintf(out, "\tcompletion routine of %s", s->routine_by);
    fputc('\n', out);
  }
}

static void print_view(const irp_view_t *v, uint32_t irp, int64_t run, FILE *out) {
  print_header(v, irp, run, out);
  fprintf(out, "     cmd  flg cl Device   File     Completion-Context\n");
  /* WinDbg lists Stack[0] (location 1, the lowest driver's) first. */
  for (int l = 1; l <= v->n; l++) print_loc(v, l, out);
}

int tracedb_print_irp(tracedb_t *db, int64_t run, uint32_t irp, int64_t at_ns, FILE *out, char *err,
                      size_t errlen) {
  int rc = check_run(db, run, err, errlen);
  if (rc != SIM_OK) return rc;
  irp_view_t *v = iosim_calloc(1, sizeof *v);
  v->major_code = -1;
  bool have_row = load_irp_row(db, run, irp, v, &rc);
  int64_t rows = rc == SIM_OK ? replay(db, run, irp, at_ns, v, &rc) : 0;
  if (rc != SIM_OK) {
    snprintf(err, errlen, "%s", db->err);
  } else if (!have_row && rows == 0) {
    snprintf(err, errlen, "run %lld has no IRP %u", (long long)run, irp);
    rc = SIM_ENOENT;
  } else if (!v->allocated) {
    snprintf(err, errlen, "IRP %u of run %lld does not exist yet at %lld ns", irp, (long long)run,
             (long long)at_ns);
    rc = SIM_ENOENT;
  } else if (v->n < 1 || v->n > MAX_LOCS) {
    snprintf(err, errlen, "IRP %u of run %lld: its stack count is not in the trace", irp, (long long)run);
    rc = SIM_EIO;
  } else {
    if (!v->major[0] && v->major_code >= 0) snprintf(v->major, sizeof v->major, "%s", iosim_major_name((UCHAR)v->major_code));
    print_view(v, irp, run, out);
  }
  free(v);
  return rc;
}
