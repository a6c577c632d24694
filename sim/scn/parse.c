/*
 * parse.c - reads scenario files into the model: the lines of each file,
 * top-level statements and driver blocks (dispatched through the keyword
 * table of parse_ops.c), includes.  Every error is "file:line:col: message"
 * and stops the load.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iosim/alloc.h"
#include "parse_int.h"

void perr(parser_t *p, const char *file, int line, int col, const char *fmt, ...) {
  snprintf(p->err->file, sizeof p->err->file, "%s", file); /* every caller names one */
  p->err->line = line;
  p->err->col = col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
  va_end(ap);
  longjmp(p->fail, 1);
}

/* Next non-empty line, tokenized; false at end of file. */
bool next_line(cursor_t *c) {
  while (c->i < c->n) {
    int lineno = ++c->i;
    if (!lex_line(&c->p->sc->ar, c->lines[lineno - 1], lineno, c->file, &c->L, c->p->err))
      longjmp(c->p->fail, 1);
    if (c->L.n > 0) return true;
  }
  return false;
}

bool is_word(const lexline_t *L, int k, const char *w) {
  const tok_t *t = TK(L, k);
  return t->t == T_WORD && strcmp(t->s, w) == 0;
}

char *need_name(cursor_t *c, int k, const char *what) {
  tok_t *t = TK(&c->L, k);
  if (t->t != T_WORD) ERR_AT(c, k, "expected %s here", what);
  return t->s;
}

int64_t need_num(cursor_t *c, int k, const char *what) {
  tok_t *t = TK(&c->L, k);
  if (t->t != T_NUM) ERR_AT(c, k, "expected %s (a number) here", what);
  return t->n;
}

int64_t need_time(cursor_t *c, int k) {
  tok_t *t = TK(&c->L, k);
  if (t->t != T_NUM) ERR_AT(c, k, "expected a time here (e.g. 200us, 1ms, 500ns)");
  return t->n;
}

NTSTATUS need_status(cursor_t *c, int k) {
  tok_t *t = TK(&c->L, k);
  NTSTATUS st;
  if (t->t == T_END || !iosim_status_parse(t->s, &st))
    ERR_AT(c, k, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)");
  return st;
}

void need_end_of_line(cursor_t *c, int k) {
  if (TK(&c->L, k)->t != T_END) ERR_AT(c, k, "unexpected '%s' at the end of the statement", TK(&c->L, k)->s);
}

int need_importance(cursor_t *c, int k) {
  static const char *const words[] = {"low", "medium", "medium-high", "high", NULL};
  static const int imp[] = {LowImportance, MediumImportance, MediumHighImportance, HighImportance};
  int i = word_index(&c->L, k, words);
  if (i < 0) ERR_AT(c, k, "expected a DPC importance here (low, medium, medium-high or high)");
  return imp[i];
}

const char *scn_major_word(UCHAR m) {
  switch (m) {
  case IRP_MJ_CREATE: return "create";
  case IRP_MJ_CLOSE: return "close";
  case IRP_MJ_READ: return "read";
  case IRP_MJ_WRITE: return "write";
  case IRP_MJ_FLUSH_BUFFERS: return "flush";
  case IRP_MJ_DEVICE_CONTROL: return "ioctl";
  case IRP_MJ_INTERNAL_DEVICE_CONTROL: return "internal-ioctl";
  case IRP_MJ_CLEANUP: return "cleanup";
  default: return "?";
  }
}

int scn_major_parse(const char *w) {
  static const UCHAR all[] = {IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_READ, IRP_MJ_WRITE, IRP_MJ_FLUSH_BUFFERS,
                              IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL, IRP_MJ_CLEANUP};
  for (size_t i = 0; i < sizeof all; i++)
    if (strcmp(scn_major_word(all[i]), w) == 0) return all[i];
  return -1;
}

int word_index(const lexline_t *L, int k, const char *const *words) {
  const tok_t *t = TK(L, k);
  if (t->t != T_WORD) return -1;
  for (int i = 0; words[i]; i++)
    if (strcmp(t->s, words[i]) == 0) return i;
  return -1;
}

/* ---- a driver's routines ---- */

/* The header common to every routine kind; the caller fills the rest. */
static routine_t *new_routine(cursor_t *c, const keyword_t *kw, block_t *b) {
  routine_t *r = ar_alloc(&c->p->sc->ar, sizeof *r);
  r->driver = b->driver;
  r->kind = kw->routine;
  r->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 0)->col};
  return r;
}

/* Reads the body up to its `end` and links the routine into its driver. */
static void finish_routine(cursor_t *c, const keyword_t *kw, block_t *b, routine_t *r) {
  char what[96];
  if (r->kind == RT_ISR || r->kind == RT_DPC) snprintf(what, sizeof what, "%s", kw->word);
  else snprintf(what, sizeof what, "%s %s", kw->word, r->name);
  r->body = parse_block(c, W_ROUTINE, r->at, ar_strdup(&c->p->sc->ar, what), false, NULL);
  r->index = b->driver->nroutines++;
  *b->routine_tail = r;
  b->routine_tail = &r->next;
}

void parse_dispatch_routine(cursor_t *c, const keyword_t *kw, block_t *b) {
  lexline_t *L = &c->L;
  driver_decl_t *d = b->driver;
  routine_t *r = new_routine(c, kw, b);
  if (TK(L, 1)->t == T_END) ERR_AT(c, 1, "dispatch needs one or more major functions (read write ioctl create close cleanup flush internal-ioctl, or default)");
  for (int k = 1; TK(L, k)->t != T_END; k++) {
    const char *m = need_name(c, k, "a major function");
    if (!strcmp(m, "default")) {
      for (routine_t *o = d->routines; o; o = o->next)
        if (o->kind == RT_DISPATCH && o->is_default)
          ERR_AT(c, k, "driver %s already has a default dispatch routine (line %d)", d->name, o->at.line);
      r->is_default = true;
      continue;
    }
    int mj = scn_major_parse(m);
    if (mj < 0) ERR_AT(c, k, "unknown major function '%s' (read write ioctl create close cleanup flush internal-ioctl default)", m);
    for (routine_t *o = d->routines; o; o = o->next)
      if (o->kind == RT_DISPATCH && (o->majors[mj / 32] & (1u << (mj % 32))))
        ERR_AT(c, k, "driver %s already dispatches %s (line %d)", d->name, m, o->at.line);
    if (r->majors[mj / 32] & (1u << (mj % 32))) ERR_AT(c, k, "%s is listed twice", m);
    r->majors[mj / 32] |= 1u << (mj % 32);
  }
  r->name = TK(L, 1)->s;
  finish_routine(c, kw, b, r);
}

/* completion NAME, cancel NAME: routines the driver's operations name. */
void parse_named_routine(cursor_t *c, const keyword_t *kw, block_t *b) {
  driver_decl_t *d = b->driver;
  routine_t *r = new_routine(c, kw, b);
  r->name = need_name(c, 1, "a routine name");
  need_end_of_line(c, 2);
  char key[512];
  names_routine_key(key, sizeof key, d->name, r->name);
  if (names_get(&c->p->sc->names, NK_ROUTINE, key))
    ERR_AT(c, 1, "routine '%s' is already declared in driver %s", r->name, d->name);
  names_put(&c->p->sc->ar, &c->p->sc->names, NK_ROUTINE, ar_strdup(&c->p->sc->ar, key), r);
  finish_routine(c, kw, b, r);
}

/* fastio read|write: the FAST_IO_DISPATCH routine, tried before any IRP
   for a cached synchronous file; ends in fast-serve or fast-decline. */
void parse_fastio_routine(cursor_t *c, const keyword_t *kw, block_t *b) {
  driver_decl_t *d = b->driver;
  routine_t *r = new_routine(c, kw, b);
  int mj = scn_major_parse(need_name(c, 1, "read or write"));
  if (mj != IRP_MJ_READ && mj != IRP_MJ_WRITE) ERR_AT(c, 1, "fast I/O routines exist for read and write");
  r->majors[0] = 1u << mj;
  r->name = TK(&c->L, 1)->s;
  need_end_of_line(c, 2);
  for (routine_t *o = d->routines; o; o = o->next)
    if (o->kind == RT_FASTIO && o->majors[0] == r->majors[0])
      ERR_AT(c, 1, "driver %s already has a fast I/O %s routine (line %d)", d->name, r->name, o->at.line);
  finish_routine(c, kw, b, r);
}

/* isr, dpc: one of each per driver, named after their kind. */
void parse_irq_routine(cursor_t *c, const keyword_t *kw, block_t *b) {
  driver_decl_t *d = b->driver;
  routine_t *r = new_routine(c, kw, b);
  r->name = TK(&c->L, 0)->s;
  need_end_of_line(c, 1);
  for (routine_t *o = d->routines; o; o = o->next)
    if (o->kind == r->kind) ERR_AT(c, 0, "driver %s already has its %s routine (line %d)", d->name, kw->word, o->at.line);
  finish_routine(c, kw, b, r);
}

/* ---- top-level statements ---- */

static void parse_driver_load(cursor_t *c, driver_decl_t *d);

void parse_driver(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  driver_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a driver name");
  d->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 1)->col};
  driver_decl_t *o = names_get(&sc->names, NK_DRIVER, d->name);
  if (o) ERR_AT(c, 1, "driver '%s' is already declared at %s:%d", d->name, o->at.file, o->at.line);
  if (is_word(&c->L, 2, "load")) {
    parse_driver_load(c, d);
    d->next = sc->drivers;
    sc->drivers = d;
    names_put(&sc->ar, &sc->names, NK_DRIVER, d->name, d);
    return;
  }
  if (TK(&c->L, 2)->t != T_END) ERR_AT(c, 2, "expected the end of the line (a scripted driver's routines follow on their own lines) or load \"FILE\"");
  block_t b = {.where = W_DRIVER, .driver = d, .routine_tail = &d->routines};
  loc_t opener = d->at;
  for (;;) {
    if (!next_line(c)) perr(c->p, opener.file, opener.line, opener.col, "'driver %s' block is never closed with 'end'", d->name);
    const char *w = need_name(c, 0, "dispatch, completion, isr, dpc, cancel, fastio or end");
    const keyword_t *rk = kw_find(w, W_DRIVER);
    if (rk && rk->kind == KW_END) break;
    if (!rk && kw_find(w, W_TOP))
      perr(c->p, opener.file, opener.line, opener.col, "'driver %s' block is never closed with 'end' (found '%s' at line %d)",
           d->name, w, c->L.line);
    if (!rk) ERR_AT(c, 0, "unknown routine kind '%s' in driver %s (dispatch, completion, isr, dpc, cancel, fastio)", w, d->name);
    rk->parse(c, rk, &b);
  }
  d->next = sc->drivers;
  sc->drivers = d;
  names_put(&sc->ar, &sc->names, NK_DRIVER, d->name, d);
}

/* Appends a device in declaration order; its name must be new. */
static void add_device(cursor_t *c, device_decl_t *d) {
  scn_t *sc = c->p->sc;
  if (names_get(&sc->names, NK_DEVICE, d->name)) ERR_AT(c, 1, "device '%s' is already declared", d->name);
  if (sc->ndevices >= SCN_MAX_DEVICES)
    ERR_AT(c, 1, "limit reached: more than %d devices (the device limit, SCN_MAX_DEVICES; it is fixed)", SCN_MAX_DEVICES);
  names_put(&sc->ar, &sc->names, NK_DEVICE, d->name, d);
  d->order = sc->ndevices++;
  if (!sc->devices_tail) sc->devices_tail = &sc->devices;
  *sc->devices_tail = d;
  sc->devices_tail = &d->next;
}

void parse_device(cursor_t *c, const keyword_t *kw, block_t *top) {
  enum { DV_DRIVER, DV_ON, DV_WITH, DV_HARDWARE, DV_LATENCY, DV_IRQL, DV_CPU, DV_DPC_IMPORTANCE, DV_DPC_CPU,
         DV_BUFFERED, DV_DIRECT };
  static const char *const words[] = {"driver", "on", "with", "hardware", "latency", "irql", "cpu",
                                      "dpc-importance", "dpc-cpu", "buffered-io", "direct-io", NULL};
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  device_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a device name");
  d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  d->cpu = -1;
  d->irql = 5;
  d->latency = 100000;
  d->dpc_importance = -1;
  d->dpc_cpu = -1;
  for (int k = 2; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case DV_DRIVER: d->driver = need_name(c, ++k, "a driver name"); break;
    case DV_ON: d->on = need_name(c, ++k, "the device to attach to"); break;
    case DV_WITH: d->with = need_name(c, ++k, "a second device"); break;
    case DV_HARDWARE: d->has_hw = true; break;
    case DV_LATENCY: d->latency = need_time(c, ++k), d->has_hw = true; break;
    case DV_IRQL:
      d->irql = (int)need_num(c, ++k, "a device IRQL (3..15)");
      if (d->irql <= DISPATCH_LEVEL || d->irql > HIGH_LEVEL) ERR_AT(c, k, "a device IRQL is above DISPATCH_LEVEL (2) and at most 15");
      d->has_hw = true;
      break;
    case DV_CPU:
      if (is_word(L, k + 1, "any")) d->cpu = -1;
      else d->cpu = (int)need_num(c, k + 1, "a CPU number or any");
      k++;
      d->has_hw = true;
      break;
    case DV_DPC_IMPORTANCE: d->dpc_importance = need_importance(c, ++k); break;
    case DV_DPC_CPU:
      d->dpc_cpu = (int)need_num(c, ++k, "the CPU whose queue gets the device's DPC");
      if (d->dpc_cpu >= SIM_MAX_CPUS) ERR_AT(c, k, "dpc-cpu must be 0..%d", SIM_MAX_CPUS - 1);
      d->dpc_at = (loc_t){L->file, L->line, TK(L, k)->col};
      break;
    case DV_BUFFERED: d->do_flags = DO_BUFFERED_IO; break;
    case DV_DIRECT: d->do_flags = DO_DIRECT_IO; break;
    default:
      ERR_AT(c, k, "expected driver, on, with, hardware, latency, cpu, irql, dpc-importance, dpc-cpu, buffered-io "
                   "or direct-io here");
    }
  }
  if (!d->driver) ERR_AT(c, 2, "device %s needs 'driver NAME'", d->name);
  add_device(c, d); /* declaration order is attach order */
}

/* usermode-fs NAME [async] [work T] [return T] [idle T]: a device of the
   built-in user-mode file system, with its dispatcher (and worker) threads. */
void parse_ufs(cursor_t *c, const keyword_t *kw, block_t *top) {
  enum { UF_ASYNC, UF_SYNC, UF_WORK, UF_RETURN, UF_IDLE };
  static const char *const words[] = {"async", "sync", "work", "return", "idle", NULL};
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  device_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a device name");
  d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  d->driver = ar_strdup(&sc->ar, "usermode-fs");
  d->ufs = true;
  d->ufs_work = 5000;
  d->ufs_return = 1000;
  d->ufs_idle = 1000000;
  for (int k = 2; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case UF_ASYNC: d->ufs_async = true; break;
    case UF_SYNC: d->ufs_async = false; break;
    case UF_WORK: d->ufs_work = need_time(c, ++k); break;
    case UF_RETURN: d->ufs_return = need_time(c, ++k); break;
    case UF_IDLE: d->ufs_idle = need_time(c, ++k); break;
    default: ERR_AT(c, k, "expected async, sync, work, return or idle here");
    }
  }
  add_device(c, d);
}

void parse_event(cursor_t *c, const keyword_t *kw, block_t *top) {
  enum { EV_NOTIFICATION, EV_SYNCHRONIZATION, EV_SIGNALED, EV_SIGNALLED };
  static const char *const words[] = {"notification", "synchronization", "signaled", "signalled", NULL};
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  event_decl_t *e = ar_alloc(&sc->ar, sizeof *e);
  e->name = need_name(c, 1, "an event name");
  e->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  for (int k = 2; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case EV_NOTIFICATION: e->sync = false; break;
    case EV_SYNCHRONIZATION: e->sync = true; break;
    case EV_SIGNALED:
    case EV_SIGNALLED: e->signaled = true; break;
    default: ERR_AT(c, k, "expected notification, synchronization or signaled here");
    }
  }
  if (names_get(&sc->names, NK_EVENT, e->name)) ERR_AT(c, 1, "event '%s' is already declared", e->name);
  if (++c->p->nobjects > SCN_MAX_OBJECTS)
    ERR_AT(c, 1, "limit reached: more than %d events and ports (the object limit, SCN_MAX_OBJECTS; it is fixed)",
           SCN_MAX_OBJECTS);
  names_put(&sc->ar, &sc->names, NK_EVENT, e->name, e);
  e->next = sc->events;
  sc->events = e;
}

void parse_thread(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  thread_decl_t *t = ar_alloc(&sc->ar, sizeof *t);
  t->name = need_name(c, 1, "a thread name");
  t->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 1)->col};
  need_end_of_line(c, 2);
  if (names_get(&sc->names, NK_THREAD, t->name)) ERR_AT(c, 1, "thread '%s' is already declared", t->name);
  if (++c->p->nthreads > SCN_MAX_THREADS)
    ERR_AT(c, 1, "limit reached: more than %d threads (the thread limit, SCN_MAX_THREADS; it is fixed)",
           SCN_MAX_THREADS);
  char what[96];
  snprintf(what, sizeof what, "thread %s", t->name);
  t->body = parse_block(c, W_PROGRAM, t->at, ar_strdup(&sc->ar, what), false, NULL);
  names_put(&sc->ar, &sc->names, NK_THREAD, t->name, t);
  if (!sc->threads_tail) sc->threads_tail = &sc->threads;
  *sc->threads_tail = t;
  sc->threads_tail = &t->next;
}

void parse_machine(cursor_t *c, const keyword_t *kw, block_t *top) {
  enum { MC_CPUS, MC_SEED, MC_JITTER, MC_SEEDS, MC_MAX_TIME, MC_MAX_STEPS, MC_CLOCK_TICK, MC_DPC_DEPTH, MC_DPC_RATE,
         MC_EXPLORE, MC_KD };
  static const char *const words[] = {"cpus", "seed", "jitter", "seeds", "max-time", "max-steps", "clock-tick",
                                      "dpc-queue-depth", "minimum-dpc-rate", "explore", "kernel-debugger", NULL};
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  for (int k = 1; TK(L, k)->t != T_END; k += 2) {
    switch (word_index(L, k, words)) {
    case MC_CPUS: {
      int64_t n = need_num(c, k + 1, "a CPU count");
      if (n < 1 || n > SIM_MAX_CPUS) ERR_AT(c, k + 1, "cpus must be 1..%d", SIM_MAX_CPUS);
      sc->cfg.cpus = (int)n;
      break;
    }
    case MC_SEED: sc->cfg.seed = (uint64_t)need_num(c, k + 1, "a seed"); break;
    case MC_JITTER: {
      int64_t j = need_num(c, k + 1, "a jitter percentage");
      if (j > 100) ERR_AT(c, k + 1, "jitter is a percentage, 0..100");
      sc->cfg.jitter_pct = (unsigned)j;
      break;
    }
    case MC_SEEDS: {
      int64_t n = need_num(c, k + 1, "a number of seeds");
      if (n < 1 || n > 100000) ERR_AT(c, k + 1, "seeds must be 1..100000");
      sc->seeds = (unsigned)n;
      break;
    }
    case MC_MAX_TIME:
      sc->cfg.max_time_ns = (uint64_t)need_time(c, k + 1);
      sc->max_time_at = (loc_t){L->file, L->line, TK(L, k + 1)->col};
      break;
    case MC_MAX_STEPS:
      sc->cfg.max_steps = (uint64_t)need_num(c, k + 1, "a step count");
      sc->max_steps_at = (loc_t){L->file, L->line, TK(L, k + 1)->col};
      break;
    case MC_CLOCK_TICK: {
      int64_t t = need_time(c, k + 1);
      if (t < (int64_t)SIM_CLOCK_TICK_MIN || t > (int64_t)SIM_CLOCK_TICK_MAX)
        ERR_AT(c, k + 1, "clock-tick must be 0.5ms..15.625ms (Windows' timer resolutions)");
      sc->cfg.clock_tick_ns = (uint64_t)t;
      break;
    }
    case MC_DPC_DEPTH: {
      int64_t n = need_num(c, k + 1, "a DPC queue depth");
      if (n < 1 || n > SIM_DPC_QUEUE_DEPTH_MAX) ERR_AT(c, k + 1, "dpc-queue-depth must be 1..%d", SIM_DPC_QUEUE_DEPTH_MAX);
      sc->cfg.dpc_queue_depth = (unsigned)n;
      break;
    }
    case MC_DPC_RATE: {
      int64_t n = need_num(c, k + 1, "a DPC rate (DPCs per clock tick)");
      if (n > SIM_DPC_RATE_MAX) ERR_AT(c, k + 1, "minimum-dpc-rate must be 0..%d", SIM_DPC_RATE_MAX);
      sc->cfg.minimum_dpc_rate = (unsigned)n;
      sc->cfg.has_minimum_dpc_rate = true;
      break;
    }
    case MC_EXPLORE: /* explore bound K|none: `iosim check` explores (docs/exploration.md) */
      if (!is_word(L, ++k, "bound")) ERR_AT(c, k, "expected `bound K` (or `bound none`) after explore");
      if (is_word(L, k + 1, "none")) {
        sc->explore_bound = SCN_EXPLORE_UNBOUNDED;
      } else {
        int64_t b = need_num(c, k + 1, "a preemption bound");
        if (b > 64) ERR_AT(c, k + 1, "a preemption bound is 0..64 (or none)");
        sc->explore_bound = (int)b;
      }
      break;
    case MC_KD: /* kernel-debugger on|off: whether a breakpoint stops the machine */
      if (is_word(L, k + 1, "on")) sc->cfg.kernel_debugger = true;
      else if (is_word(L, k + 1, "off")) sc->cfg.kernel_debugger = false;
      else ERR_AT(c, k + 1, "expected on or off after kernel-debugger");
      break;
    default:
      ERR_AT(c, k, "expected cpus, seed, seeds, jitter, max-time, max-steps, clock-tick, dpc-queue-depth, "
             "minimum-dpc-rate, explore or kernel-debugger here");
    }
  }
}

void parse_scenario_title(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  lexline_t *L = &c->L;
  if (TK(L, 1)->t != T_STR) ERR_AT(c, 1, "expected a quoted title after scenario");
  need_end_of_line(c, 2);
  if (!c->p->sc->title) c->p->sc->title = TK(L, 1)->s;
}

void parse_cost(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  cost_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a cost name");
  int64_t ns = need_time(c, 2);
  if (ns > (int64_t)UINT32_MAX) ERR_AT(c, 2, "a cost is at most 4.29 s (4294967295 ns)");
  d->ns = (uint32_t)ns;
  d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  need_end_of_line(c, 3);
  bool known = false;
  for (int i = 0; i < COST_COUNT; i++) known |= !strcmp(sim_cost_name((sim_cost_t)i), d->name);
  if (!known) ERR_AT(c, 1, "unknown cost '%s' (see docs/scenario-language.md for the cost table)", d->name);
  if (!sc->costs_tail) sc->costs_tail = &sc->costs; /* file order: a later line overrides */
  *sc->costs_tail = d;
  sc->costs_tail = &d->next;
}

void parse_port(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  port_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a port name");
  d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  int k = 2;
  if (is_word(L, k, "concurrency")) {
    int64_t n = need_num(c, k + 1, "a number of threads (0 = one per CPU)");
    if (n > 64) ERR_AT(c, k + 1, "concurrency at most 64");
    d->concurrency = (unsigned)n;
    k += 2;
  }
  need_end_of_line(c, k);
  if (names_get(&sc->names, NK_PORT, d->name)) ERR_AT(c, 1, "port '%s' is already declared", d->name);
  if (++c->p->nobjects > SCN_MAX_OBJECTS)
    ERR_AT(c, 1, "limit reached: more than %d events and ports (the object limit, SCN_MAX_OBJECTS; it is fixed)",
           SCN_MAX_OBJECTS);
  names_put(&sc->ar, &sc->names, NK_PORT, d->name, d);
  d->next = sc->ports;
  sc->ports = d;
}

void parse_expect_line(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  scn_t *sc = c->p->sc;
  expect_t *e = parse_expect(c->p, &c->L);
  if (sc->nexpects >= SCN_MAX_EXPECTS)
    ERR_AT(c, 0, "limit reached: more than %d expect lines (the expectation limit, SCN_MAX_EXPECTS; it is fixed)",
           SCN_MAX_EXPECTS);
  if (!sc->expects_tail) sc->expects_tail = &sc->expects;
  *sc->expects_tail = e;
  sc->expects_tail = &e->next;
  sc->nexpects++;
}

static void parse_file(parser_t *p, const char *path, const char *display, loc_t from);

/* Is `real` inside folder `dir` (both real paths)? */
static bool under(const char *real, const char *dir) {
  size_t n = dir ? strlen(dir) : 0;
  return n && strncmp(real, dir, n) == 0 && real[n] == '/';
}

/* `include <NAME>`: NAME from the standard library, the first folder of
   p->libdirs that has it. */
static void include_library(cursor_t *c) {
  parser_t *p = c->p;
  const char *open = strchr(c->L.raw, '<'), *close = open ? strchr(open, '>') : NULL;
  if (!open || !close || close == open + 1) ERR_AT(c, 1, "expected a library file name, e.g. include <disk.iosim>");
  const char *after = close + 1;
  while (*after == ' ' || *after == '\t') after++;
  if (*after) ERR_AT(c, 1, "nothing may follow include <...> on its line");
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)(close - open - 1), open + 1);
  if (name[0] == '/' || strstr(name, ".."))
    ERR_AT(c, 1, "include <%s>: a library file is named relative to the library (no '/' first, no '..')", name);
  char joined[PATH_MAX * 2], real[PATH_MAX];
  for (int i = 0; i < p->nlibdirs; i++) {
    snprintf(joined, sizeof joined, "%s/%s", p->libdirs[i], name);
    if (realpath(joined, real) && under(real, p->libdirs[i])) {
      parse_file(p, ar_strdup(&p->sc->ar, real), ar_strdup(&p->sc->ar, joined),
                 (loc_t){c->L.file, c->L.line, (int)(open - c->L.raw) + 1});
      return;
    }
  }
  char where[1024] = "";
  for (int i = 0; i < p->nlibdirs; i++)
    snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s", i ? ", " : "", p->libdirs[i]);
  ERR_AT(c, 1, "cannot include <%s>: no such file in the standard library (%s%s; IOSIM_PATH adds folders)", name,
         p->nlibdirs ? "searched " : "no library folder found", where);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n);

/* The quoted file name of token k, relative to the file it is written
   in, as a real path that must lie in the scenario tree, --include-dir or
   the standard library (whose files name each other by relative names). */
static void resolve_in_tree(cursor_t *c, int k, const char *verb, char *joined, char *real) {
  parser_t *p = c->p;
  tok_t *t = TK(&c->L, k);
  if (t->s[0] == '/') snprintf(joined, PATH_MAX * 2, "%s", t->s);
  else {
    const char *slash = strrchr(c->file, '/');
    int dl = slash ? (int)(slash - c->file) : 1;
    snprintf(joined, PATH_MAX * 2, "%.*s/%s", dl, slash ? c->file : ".", t->s);
  }
  if (!realpath(joined, real)) ERR_AT(c, k, "cannot %s \"%s\": %s", verb, t->s, strerror(errno));
  bool inside = under(real, p->root) || under(real, p->extra_dir);
  for (int i = 0; i < p->nlibdirs && !inside; i++) inside = under(real, p->libdirs[i]);
  if (!inside)
    ERR_AT(c, k, "%s \"%s\" leaves the scenario tree (%s); pass --include-dir to allow it", verb, t->s, p->root);
}

/* driver NAME load "FILE": a C driver, compiled from FILE when it is a
   .c (once: kept in a cache), loaded into each run from the shared
   object.  Its contents join the scenario's hash, so a replay token of a
   changed driver is refused. */
static void parse_driver_load(cursor_t *c, driver_decl_t *d) {
  parser_t *p = c->p;
  scn_t *sc = p->sc;
  tok_t *t = TK(&c->L, 3);
  if (t->t != T_STR) ERR_AT(c, 3, "expected the driver's file after load, e.g. load \"mydriver.c\" or \"mydriver.so\"");
  need_end_of_line(c, 4);
  char joined[PATH_MAX * 2], real[PATH_MAX];
  resolve_in_tree(c, 3, "load", joined, real);
  struct stat st;
  if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) ERR_AT(c, 3, "load \"%s\": not a regular file", t->s);
  size_t n = strlen(real);
  char so[PATH_MAX + 64];
  if (n > 2 && !strcmp(real + n - 2, ".c")) {
    char err[512];
    if (scn_cc_cached(real, so, sizeof so, err, sizeof err) != 0)
      ERR_AT(c, 3, "driver %s: %s does not build: %s", d->name, t->s, err);
  } else if (n > 3 && !strcmp(real + n - 3, ".so")) {
    snprintf(so, sizeof so, "%s", real);
  } else {
    ERR_AT(c, 3, "load \"%s\": a driver is loaded from its C source (.c) or a shared object (.so, from iosim cc)", t->s);
  }
  for (driver_decl_t *o = sc->drivers; o; o = o->next)
    if (o->load_path && !strcmp(o->load_path, so))
      ERR_AT(c, 3, "%s is already loaded as driver %s (line %d): one image, one driver", t->s, o->name, o->at.line);
  d->load_path = ar_strdup(&sc->ar, so);
  d->load_src = ar_strdup(&sc->ar, t->s);
  FILE *f = fopen(so, "rb");
  if (!f) ERR_AT(c, 3, "cannot read %s: %s", so, strerror(errno));
  char buf[8192];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) sc->hash = fnv1a(sc->hash, buf, k);
  fclose(f);
}

void parse_include(cursor_t *c, const keyword_t *kw, block_t *top) {
  (void)kw, (void)top;
  parser_t *p = c->p;
  tok_t *t = TK(&c->L, 1);
  if (t->t == T_OP && !strcmp(t->s, "<")) {
    include_library(c);
    return;
  }
  if (t->t != T_STR) ERR_AT(c, 1, "expected a quoted file name (or <library file>) after include");
  need_end_of_line(c, 2);
  char joined[PATH_MAX * 2], real[PATH_MAX];
  resolve_in_tree(c, 1, "include", joined, real);
  parse_file(p, ar_strdup(&p->sc->ar, real), ar_strdup(&p->sc->ar, joined), (loc_t){c->L.file, c->L.line, t->col});
}

static void parse_top(cursor_t *c) {
  lexline_t *L = &c->L;
  if (TK(L, 0)->t != T_WORD) ERR_AT(c, 0, "expected a statement here");
  const char *w = TK(L, 0)->s;
  const keyword_t *kw = kw_find(w, W_TOP);
  if (!kw)
    ERR_AT(c, 0, "unknown statement '%s' (scenario, machine, cost, include, driver, device, usermode-fs, event, port, thread, expect)", w);
  if (kw->kind == KW_END) ERR_AT(c, 0, "'end' without an open block");
  block_t top = {.where = W_TOP};
  kw->parse(c, kw, &top);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h;
}

/* Reads a whole file; refuses what is not text. */
static char *read_text(parser_t *p, const char *path, loc_t from, size_t *len) {
  /* A FIFO or a device would block the open itself (a FIFO waits for a
     writer): look first, and open without blocking, then look again at
     what was opened (the name may have changed in between). */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) perr(p, path, 0, 0, "not a regular file");
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* the display path: relative to the cwd, like the user wrote it */
  if (fd < 0) perr(p, from.file ? from.file : path, from.line, from.col, "cannot open %s: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    perr(p, path, 0, 0, "not a regular file");
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    close(fd);
    perr(p, path, 0, 0, "cannot read: %s", strerror(errno));
  }
  if (st.st_size > 16 * 1024 * 1024) {
    fclose(f);
    perr(p, path, 0, 0, "file too large for a scenario (%lld bytes)", (long long)st.st_size);
  }
  char *buf = ar_alloc(&p->sc->ar, (size_t)st.st_size + 1);
  size_t n = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  buf[n] = 0;
  int line = 1, col = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)buf[i];
    if (ch == 0 || (ch < 32 && ch != '\n' && ch != '\t' && ch != '\r') || ch == 127)
      perr(p, path, line, col, "this is not a text file (byte 0x%02X at offset %zu)", ch, i);
    if (ch == '\n') line++, col = 1;
    else col++;
  }
  *len = n;
  return buf;
}

static void parse_file(parser_t *p, const char *path, const char *display, loc_t from) {
  for (int i = 0; i < p->depth; i++)
    if (!strcmp(p->stack[i], path)) {
      char chain[400] = "";
      for (int k = i; k < p->depth; k++) {
        const char *b = strrchr(p->stack[k], '/');
        strncat(chain, b ? b + 1 : p->stack[k], sizeof chain - strlen(chain) - 1);
        strncat(chain, " includes ", sizeof chain - strlen(chain) - 1);
      }
      const char *b = strrchr(path, '/');
      strncat(chain, b ? b + 1 : path, sizeof chain - strlen(chain) - 1);
      perr(p, from.file, from.line, from.col, "include loop: %s", chain);
    }
  for (int i = 0; i < p->nseen; i++)
    if (!strcmp(p->seen[i], path)) return; /* included before: once is enough */
  if (p->depth == (int)(sizeof p->stack / sizeof p->stack[0]))
    perr(p, from.file, from.line, from.col,
         "limit reached: includes nested more than %d deep (the include-depth limit, SCN_MAX_INCLUDE_DEPTH; it is "
         "fixed: include fewer levels)", SCN_MAX_INCLUDE_DEPTH);
  if (p->nseen == p->capseen) {
    p->capseen = p->capseen ? p->capseen * 2 : 16;
    char **ns = ar_alloc(&p->sc->ar, sizeof(char *) * (size_t)p->capseen);
    if (p->nseen) memcpy(ns, p->seen, sizeof(char *) * (size_t)p->nseen);
    p->seen = ns;
  }
  p->seen[p->nseen++] = (char *)path;
  size_t len;
  char *text = read_text(p, display, from, &len);
  p->sc->hash = fnv1a(p->sc->hash, text, len);
  cursor_t c = {.p = p, .file = display};
  int nl = 1;
  for (size_t i = 0; i < len; i++) nl += text[i] == '\n';
  c.lines = ar_alloc(&p->sc->ar, sizeof(char *) * (size_t)nl);
  char *s = text;
  for (char *e; (e = strchr(s, '\n')); s = e + 1) {
    *e = 0;
    c.lines[c.n++] = s;
  }
  if (*s) c.lines[c.n++] = s;
  p->stack[p->depth++] = path;
  while (next_line(&c)) parse_top(&c);
  p->depth--;
}

/* The scenario tree: the nearest folder named "scenarios" above the file,
   else the file's own folder. */
static char *scenario_root(arena_t *a, const char *real) {
  char *r = ar_strdup(a, real);
  char *slash = strrchr(r, '/');
  if (slash) *slash = 0;
  for (char *s = r + strlen(r); s > r; s--)
    if (*s == '/' && strncmp(s, "/scenarios", 10) == 0 && (s[10] == '/' || s[10] == 0)) {
      s[10] = 0;
      return r;
    }
  return r;
}

/* Where `include <NAME>` looks, in order: the folders of $IOSIM_PATH
   (separated by ':'); the library installed beside the running program
   (BIN/../share/iosim/lib, wherever `make install` put it, DESTDIR staging
   included); the installed library the build was configured for
   (IOSIM_LIBDIR, set by the Makefile: $(PREFIX)/share/iosim/lib); the
   library of the source tree iosim was built in (IOSIM_SRC_LIBDIR).  So a
   scenario anywhere can use the standard drivers.  Only folders that exist
   count. */
#ifndef IOSIM_LIBDIR
#define IOSIM_LIBDIR "/usr/local/share/iosim/lib"
#endif
#ifndef IOSIM_SRC_LIBDIR
#define IOSIM_SRC_LIBDIR ""
#endif
static void add_libdir(parser_t *p, const char *dir, size_t n) {
  char d[PATH_MAX], real[PATH_MAX];
  if (!n || n >= sizeof d || p->nlibdirs == (int)(sizeof p->libdirs / sizeof p->libdirs[0])) return;
  memcpy(d, dir, n);
  d[n] = 0;
  struct stat st;
  if (!realpath(d, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) return;
  for (int i = 0; i < p->nlibdirs; i++)
    if (!strcmp(p->libdirs[i], real)) return;
  p->libdirs[p->nlibdirs++] = ar_strdup(&p->sc->ar, real);
}

static void find_libdirs(parser_t *p) {
  const char *env = getenv("IOSIM_PATH");
  for (const char *s = env; s && *s;) {
    size_t n = strcspn(s, ":");
    add_libdir(p, s, n);
    s += n + (s[n] == ':');
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      snprintf(slash, sizeof exe - (size_t)(slash - exe), "/../share/iosim/lib");
      add_libdir(p, exe, strlen(exe));
    }
  }
  add_libdir(p, IOSIM_LIBDIR, strlen(IOSIM_LIBDIR));
  add_libdir(p, IOSIM_SRC_LIBDIR, strlen(IOSIM_SRC_LIBDIR));
}

/* The loading proper, called under load_into's setjmp.  A function of its
   own so that no local variable lives across the setjmp: after longjmp the
   caller reads nothing but its arguments (-Wclobbered holds at -O0 too). */
static __attribute__((noinline)) void load_body(parser_t *p, const char *path, const char *extra_dir) {
  scn_t *sc = p->sc;
  char real[PATH_MAX];
  if (!realpath(path, real)) perr(p, path, 0, 0, "cannot open: %s", strerror(errno));
  if (extra_dir) {
    char er[PATH_MAX];
    if (!realpath(extra_dir, er)) perr(p, extra_dir, 0, 0, "include folder: %s", strerror(errno));
    p->extra_dir = ar_strdup(&sc->ar, er);
  }
  p->root = scenario_root(&sc->ar, real);
  find_libdirs(p);
  sc->path = ar_strdup(&sc->ar, path);
  parse_file(p, ar_strdup(&sc->ar, real), sc->path, (loc_t){NULL, 0, 0});
  check_scenario(p);
  if (!sc->title) sc->title = ar_strdup(&sc->ar, path);
}

/* Parses into p->sc; false when perr() jumped back with an error. */
static bool load_into(parser_t *p, const char *path, const char *extra_dir) {
  if (setjmp(p->fail)) return false;
  load_body(p, path, extra_dir);
  return true;
}

scn_t *scn_load(const char *path, const char *extra_dir, scn_error_t *err) {
  memset(err, 0, sizeof *err);
  scn_t *sc = iosim_calloc(1, sizeof *sc);
  parser_t *p = iosim_calloc(1, sizeof *p);
  sc->cfg.cpus = 1;
  sc->seeds = 1;
  sc->explore_bound = SCN_EXPLORE_NONE;
  sc->hash = 0xcbf29ce484222325ull;
  p->sc = sc;
  p->err = err;
  bool ok = load_into(p, path, extra_dir);
  free(p);
  if (!ok) {
    scn_free(sc);
    return NULL;
  }
  return sc;
}

void scn_free(scn_t *sc) {
  if (!sc) return;
  ar_free(&sc->ar);
  free(sc);
}

const char *scn_title(const scn_t *sc) { return sc->title; }
const char *scn_path(const scn_t *sc) { return sc->path; }
uint64_t scn_hash(const scn_t *sc) { return sc->hash; }
uint64_t scn_seed(const scn_t *sc) { return sc->cfg.seed; }
unsigned scn_seed_count(const scn_t *sc) { return sc->seeds; }
int scn_explore_bound(const scn_t *sc) { return sc->explore_bound; }
