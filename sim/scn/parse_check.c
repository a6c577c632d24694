/*
 * parse_check.c - what can only be checked once the whole scenario is read:
 * every name an operation or an expectation uses is declared (devices,
 * routines, events, files, ports, threads, requests), and what a driver
 * uses fits the devices that run it.
 */
#include "parse_int.h"

static device_decl_t *find_device(const scn_t *sc, const char *n) { return names_get(&sc->names, NK_DEVICE, n); }
static driver_decl_t *find_driver(const scn_t *sc, const char *n) { return names_get(&sc->names, NK_DRIVER, n); }
static bool has_event(const scn_t *sc, const char *n) { return names_get(&sc->names, NK_EVENT, n) != NULL; }
static bool has_port(const scn_t *sc, const char *n) { return names_get(&sc->names, NK_PORT, n) != NULL; }
static bool has_thread(const scn_t *sc, const char *n) {
  if (names_get(&sc->names, NK_THREAD, n)) return true;
  /* The thread that loads C drivers (cdrv_load.c), and the system threads
     they create (PsCreateSystemThread names them system-1, system-2, ...) */
  if (!strcmp(n, "System") || (!strncmp(n, "system-", 7) && n[7] >= '1' && n[7] <= '9' &&
                               strspn(n + 7, "0123456789") == strlen(n + 7))) {
    for (driver_decl_t *d = sc->drivers; d; d = d->next)
      if (d->load_path) return true;
  }
  /* a user-mode file system's own threads: DEVICE-dispatcher, DEVICE-worker */
  const char *dash = strrchr(n, '-');
  if (!dash || (strcmp(dash, "-dispatcher") && strcmp(dash, "-worker")) || dash - n >= 256) return false;
  char dev[256];
  snprintf(dev, sizeof dev, "%.*s", (int)(dash - n), n);
  const device_decl_t *d = find_device(sc, dev);
  return d && d->ufs && (!strcmp(dash, "-dispatcher") || d->ufs_async);
}
static bool has_routine(const scn_t *sc, const driver_decl_t *d, routine_kind_t k, const char *n) {
  char key[512];
  const routine_t *r = names_get(&sc->names, NK_ROUTINE, names_routine_key(key, sizeof key, d->name, n));
  return r && r->kind == k;
}

/* Names a program may open or bind (files, IRPs), collected for checks:
   the scenario's name table, kinds NK_FILE and NK_IRP. */
typedef struct names {
  scn_t *sc;
  int kind;
} names_t;
static bool names_has(const names_t *s, const char *n) { return names_get(&s->sc->names, s->kind, n) != NULL; }
static void names_add(names_t *s, const char *n) {
  if (n) names_put(&s->sc->ar, &s->sc->names, s->kind, n, (void *)n);
}

/* The blocks an operation holds (if/else, while, repeat): none for most. */
static const op_t *sub_block(const op_t *o, int i) {
  if (o->kind == OP_IF || o->kind == OP_WHILE) return i == 0 ? o->branch.body : i == 1 ? o->branch.else_body : NULL;
  if (o->kind == OP_REPEAT) return i == 0 ? o->repeat.body : NULL;
  return NULL;
}

static void collect_names(const op_t *o, names_t *files, names_t *irps) {
  for (; o; o = o->next) {
    if (o->kind == OP_OPEN) names_add(files, o->open.file);
    if (o->kind == OP_READ || o->kind == OP_WRITE || o->kind == OP_IOCTL) names_add(irps, o->io.as);
    if (o->kind == OP_SEND) names_add(irps, o->send.as);
    for (int i = 0; i < 2; i++) collect_names(sub_block(o, i), files, irps);
  }
}

/* What an operation's names are checked against. */
typedef struct op_checker {
  parser_t *p;
  const driver_decl_t *drv; /* NULL in a thread program */
  const names_t *files;
} op_checker_t;

/* Every name an operation uses must be declared somewhere in the
   scenario; one function per kind of operation that names things. */
typedef void op_check_fn(const op_checker_t *k, const op_t *o);

#define CHECK_ERR(k, o, ...) perr((k)->p, (o)->at.file, (o)->at.line, (o)->at.col, __VA_ARGS__)

static void need_file(const op_checker_t *k, const op_t *o, const char *file) {
  if (!names_has(k->files, file)) CHECK_ERR(k, o, "no file named '%s' is opened by any thread", file);
}
static void need_event(const op_checker_t *k, const op_t *o, const char *ev) {
  if (!has_event(k->p->sc, ev)) CHECK_ERR(k, o, "no event named '%s'", ev);
}
static void need_port(const op_checker_t *k, const op_t *o, const char *port) {
  if (!has_port(k->p->sc, port)) CHECK_ERR(k, o, "no port named '%s'", port);
}

static void ck_set_completion(const op_checker_t *k, const op_t *o) {
  if (!has_routine(k->p->sc, k->drv, RT_COMPLETION, o->set_completion.routine))
    CHECK_ERR(k, o, "driver %s has no completion routine '%s'", k->drv->name, o->set_completion.routine);
}
static void ck_set_cancel(const op_checker_t *k, const op_t *o) {
  if (o->set_cancel.routine && !has_routine(k->p->sc, k->drv, RT_CANCEL, o->set_cancel.routine))
    CHECK_ERR(k, o, "driver %s has no cancel routine '%s'", k->drv->name, o->set_cancel.routine);
}
static void ck_send(const op_checker_t *k, const op_t *o) {
  const op_send_t *s = &o->send;
  if (s->completion && !has_routine(k->p->sc, k->drv, RT_COMPLETION, s->completion))
    CHECK_ERR(k, o, "driver %s has no completion routine '%s'", k->drv->name, s->completion);
  if (s->to && !find_device(k->p->sc, s->to)) CHECK_ERR(k, o, "no device named '%s'", s->to);
}
static void ck_kwait(const op_checker_t *k, const op_t *o) { need_event(k, o, o->kwait.event); }
static void ck_named_event(const op_checker_t *k, const op_t *o) { need_event(k, o, o->named.name); }
static void ck_open(const op_checker_t *k, const op_t *o) {
  if (!find_device(k->p->sc, o->open.device)) CHECK_ERR(k, o, "no device named '%s' to open", o->open.device);
}
static void ck_io(const op_checker_t *k, const op_t *o) {
  need_file(k, o, o->io.file);
  if (o->io.event) need_event(k, o, o->io.event);
}
static void ck_close(const op_checker_t *k, const op_t *o) { need_file(k, o, o->named.name); }
static void ck_associate(const op_checker_t *k, const op_t *o) {
  need_file(k, o, o->associate.file);
  need_port(k, o, o->associate.port);
}
static void ck_split(const op_checker_t *k, const op_t *o) {
  for (int i = 0; i < o->split.nto; i++) {
    const char *n = o->split.to[i];
    if (strcmp(n, "lower") && strcmp(n, "with") && !find_device(k->p->sc, n))
      CHECK_ERR(k, o, "no device named '%s' (or write lower / with)", n);
  }
}
static void ck_cancel_file(const op_checker_t *k, const op_t *o) { need_file(k, o, o->cancel.target); }
static void ck_lock(const op_checker_t *k, const op_t *o) { need_file(k, o, o->lock.file); }
static void ck_notify_modes(const op_checker_t *k, const op_t *o) { need_file(k, o, o->modes.file); }
static void ck_cancel_sync(const op_checker_t *k, const op_t *o) {
  if (!has_thread(k->p->sc, o->cancel.target)) CHECK_ERR(k, o, "no thread named '%s'", o->cancel.target);
}
static void ck_queue_apc(const op_checker_t *k, const op_t *o) {
  if (!has_thread(k->p->sc, o->queue_apc.thread)) CHECK_ERR(k, o, "no thread named '%s'", o->queue_apc.thread);
}
static void ck_alert(const op_checker_t *k, const op_t *o) {
  if (!has_thread(k->p->sc, o->named.name)) CHECK_ERR(k, o, "no thread named '%s'", o->named.name);
}
static void ck_unload(const op_checker_t *k, const op_t *o) {
  if (!find_driver(k->p->sc, o->named.name)) CHECK_ERR(k, o, "no driver named '%s'", o->named.name);
}
static int machine_cpus(const scn_t *sc) { return sc->cfg.cpus; /* 1 unless `machine cpus N`, N >= 1 */ }
static void ck_request_dpc(const op_checker_t *k, const op_t *o) {
  const op_request_dpc_t *r = &o->request_dpc;
  if (r->cpu >= machine_cpus(k->p->sc))
    perr(k->p, o->at.file, o->at.line, r->cpu_col, "request-dpc targets CPU %d, but the machine has %d CPU(s)",
         r->cpu, machine_cpus(k->p->sc));
}
static void ck_gqcs(const op_checker_t *k, const op_t *o) { need_port(k, o, o->gqcs.port); }
static void ck_post(const op_checker_t *k, const op_t *o) { need_port(k, o, o->post.port); }
static void ck_close_port(const op_checker_t *k, const op_t *o) { need_port(k, o, o->named.name); }
static void ck_uwait(const op_checker_t *k, const op_t *o) {
  const op_uwait_t *w = &o->uwait;
  for (int i = 0; i < w->nobjects; i++)
    if (!has_event(k->p->sc, w->objects[i]) && !names_has(k->files, w->objects[i]) && !has_thread(k->p->sc, w->objects[i]))
      CHECK_ERR(k, o, "'%s' is not an event, a file or a thread", w->objects[i]);
  /* More than MAXIMUM_WAIT_OBJECTS is not refused here: the wait fails at
     run time with STATUS_INVALID_PARAMETER, as on Windows. */
}

static op_check_fn *const op_checks[OP_COUNT] = {
    [OP_SET_COMPLETION] = ck_set_completion,
    [OP_SET_CANCEL] = ck_set_cancel,
    [OP_SEND] = ck_send,
    [OP_KWAIT] = ck_kwait,
    [OP_SIGNAL] = ck_named_event,
    [OP_CLEAR] = ck_named_event,
    [OP_RESET] = ck_named_event,
    [OP_OPEN] = ck_open,
    [OP_READ] = ck_io,
    [OP_WRITE] = ck_io,
    [OP_IOCTL] = ck_io,
    [OP_CLOSE] = ck_close,
    [OP_ASSOCIATE] = ck_associate,
    [OP_SPLIT] = ck_split,
    [OP_CANCEL_IO] = ck_cancel_file,
    [OP_CANCEL_IO_EX] = ck_cancel_file,
    [OP_LOCK] = ck_lock,
    [OP_NOTIFY_MODES] = ck_notify_modes,
    [OP_CANCEL_SYNC] = ck_cancel_sync,
    [OP_QUEUE_APC] = ck_queue_apc,
    [OP_ALERT] = ck_alert,
    [OP_UNLOAD] = ck_unload,
    [OP_GQCS] = ck_gqcs,
    [OP_REQUEST_DPC] = ck_request_dpc,
    [OP_GQCS_EX] = ck_gqcs,
    [OP_POST] = ck_post,
    [OP_CLOSE_PORT] = ck_close_port,
    [OP_UWAIT] = ck_uwait,
};

static void check_ops(const op_checker_t *k, const op_t *o) {
  for (; o; o = o->next) {
    if (op_checks[o->kind]) op_checks[o->kind](k, o);
    if ((o->kind == OP_IF || o->kind == OP_WHILE) && o->branch.cond.kind == COND_DEVICE_OBJECT &&
        o->branch.cond.name && !find_device(k->p->sc, o->branch.cond.name))
      perr(k->p, o->at.file, o->at.line, o->at.col, "'%s' in %s is not a device (or write none)",
           o->branch.cond.name, o->text);
    for (int i = 0; i < 2; i++) check_ops(k, sub_block(o, i));
  }
}

/* What a driver's routines use: queues, counters, hardware, a lower device. */
/* A driver's queues or counters: few (8, 16), so a short list. */
typedef struct small_set {
  const char *v[17];
  int n;
} small_set_t;
static void small_add(small_set_t *s, const char *n) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], n)) return;
  if (s->n < (int)(sizeof s->v / sizeof s->v[0])) s->v[s->n++] = n;
  else s->n = (int)(sizeof s->v / sizeof s->v[0]); /* more than any limit: stays over it */
}

typedef struct drv_use {
  small_set_t queues, counters;
  const op_t *start_io, *call_lower;
} drv_use_t;

static void collect_use(const op_t *o, drv_use_t *u) {
  for (; o; o = o->next) {
    switch (o->kind) {
    case OP_QUEUE:
    case OP_DEQUEUE:
    case OP_UNQUEUE:
    case OP_CSQ_INSERT:
    case OP_CSQ_REMOVE: small_add(&u->queues, o->named.name); break;
    case OP_IF:
    case OP_WHILE:
      if (o->branch.cond.kind == COND_QUEUE_EMPTY) small_add(&u->queues, o->branch.cond.name);
      if (o->branch.cond.kind == COND_COUNTER) small_add(&u->counters, o->branch.cond.name);
      break;
    case OP_COUNTER: small_add(&u->counters, o->counter.name); break;
    case OP_START_IO:
      if (!u->start_io) u->start_io = o;
      break;
    case OP_CALL_LOWER:
    case OP_SEND:
      if ((o->kind == OP_CALL_LOWER || !o->send.to) && !u->call_lower) u->call_lower = o;
      break;
    default: break;
    }
    for (int i = 0; i < 2; i++) collect_use(sub_block(o, i), u);
  }
}

static void check_driver_use(parser_t *p, driver_decl_t *d) {
  drv_use_t u;
  memset(&u, 0, sizeof u);
  for (routine_t *r = d->routines; r; r = r->next) collect_use(r->body, &u);
  if (u.queues.n > 8) perr(p, d->at.file, d->at.line, d->at.col, "driver %s uses %d queues; at most 8", d->name, u.queues.n);
  if (u.counters.n > 16) perr(p, d->at.file, d->at.line, d->at.col, "driver %s uses %d counters; at most 16", d->name, u.counters.n);
  d->start_io = u.start_io;
  d->call_lower = u.call_lower;
}

/* Each device against what its driver uses (check_driver_use first). */
static void check_device_use(parser_t *p, const device_decl_t *v) {
  const driver_decl_t *d = v->ufs ? NULL : find_driver(p->sc, v->driver);
  if (!d) return;
  if (d->start_io && !v->has_hw)
    perr(p, v->at.file, v->at.line, v->at.col,
         "device %s has no hardware, but driver %s starts hardware I/O (%s:%d); add e.g. 'latency 100us'", v->name,
         d->name, d->start_io->at.file, d->start_io->at.line);
  if (d->call_lower && !v->on)
    perr(p, v->at.file, v->at.line, v->at.col,
         "device %s is attached to nothing, but driver %s calls the lower driver (%s:%d); add 'on DEVICE'", v->name,
         d->name, d->call_lower->at.file, d->call_lower->at.line);
}

void check_scenario(parser_t *p) {
  scn_t *sc = p->sc;
  names_t files = {sc, NK_FILE}, irps = {sc, NK_IRP};
  for (thread_decl_t *t = sc->threads; t; t = t->next) collect_names(t->body, &files, &irps);
  for (driver_decl_t *d = sc->drivers; d; d = d->next)
    for (routine_t *r = d->routines; r; r = r->next) collect_names(r->body, &files, &irps);
  for (device_decl_t *d = sc->devices; d; d = d->next) {
    if (!d->ufs && !find_driver(sc, d->driver))
      perr(p, d->at.file, d->at.line, d->at.col, "device %s uses driver '%s', which is not declared", d->name, d->driver);
    if (d->with && !find_device(sc, d->with))
      perr(p, d->at.file, d->at.line, d->at.col, "device %s names 'with %s', which is not declared", d->name, d->with);
    if (d->on) {
      const device_decl_t *o = find_device(sc, d->on);
      if (!o || o->order >= d->order)
        perr(p, d->at.file, d->at.line, d->at.col, "device %s is attached on '%s', which is not declared before it", d->name, d->on);
    }
    if (d->cpu >= machine_cpus(sc))
      perr(p, d->at.file, d->at.line, d->at.col, "device %s takes its interrupt on CPU %d, but the machine has %d CPU(s)", d->name, d->cpu, machine_cpus(sc));
    if (d->dpc_cpu >= machine_cpus(sc))
      perr(p, d->dpc_at.file, d->dpc_at.line, d->dpc_at.col, "device %s queues its DPC on CPU %d, but the machine has %d CPU(s)",
           d->name, d->dpc_cpu, machine_cpus(sc));
  }
  for (driver_decl_t *d = sc->drivers; d; d = d->next) {
    op_checker_t in_driver = {p, d, &files};
    for (routine_t *r = d->routines; r; r = r->next) check_ops(&in_driver, r->body);
    check_driver_use(p, d);
  }
  for (const device_decl_t *v = sc->devices; v; v = v->next) check_device_use(p, v);
  op_checker_t in_program = {p, NULL, &files};
  for (thread_decl_t *t = sc->threads; t; t = t->next) check_ops(&in_program, t->body);
  for (expect_t *e = sc->expects; e; e = e->next) {
    const char *subj = e->subject;
    if ((e->kind == EX_IRP_FIELD || e->kind == EX_IRP_COMPLETED) && !names_has(&irps, subj))
      perr(p, e->at.file, e->at.line, e->at.col, "no request is named '%s' (name one with 'as %s')", subj, subj);
    if (e->kind == EX_THREAD_STATE && !has_thread(sc, subj))
      perr(p, e->at.file, e->at.line, e->at.col, "no thread named '%s'", subj);
    if (e->kind == EX_EVENT_FIELD && !strcmp(e->field, "thread") && strcmp(e->svalue, "none") &&
        !has_thread(sc, e->svalue))
      perr(p, e->at.file, e->at.line, e->at.col, "no thread named '%s' (or write none)", e->svalue);
    for (int i = 0; i < e->npats; i++)
      for (int k = 0; k < e->pats[i].nargs; k++) {
        const char *a = e->pats[i].args[k];
        if (a[0] == '"' || !strcmp(a, "none") || strchr(a, '=')) continue; /* no name starts with a digit */
        if (!find_device(sc, a) && !names_has(&irps, a) && !has_thread(sc, a) && !has_event(sc, a) &&
            !names_has(&files, a) && !has_port(sc, a))
          perr(p, e->at.file, e->at.line, e->at.col, "'%s' in %s is not a device, a request, a thread, an event, a file or a port", a, e->pats[i].text);
      }
  }
  if (!sc->threads && sc->drivers && !sc->devices && !sc->nexpects)
    perr(p, sc->path, 1, 1, "this is a driver library (drivers, no thread): include it from a scenario to run it");
  if (!sc->threads) perr(p, sc->path, 1, 1, "the scenario declares no thread, so nothing would run");
}

