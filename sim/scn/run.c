/*
 * run.c - runs a loaded scenario: builds the machine (scripted drivers,
 * devices in attach order, hardware, events, threads), records the trace
 * in memory for the expectations, runs, checks.
 */
#include <stdarg.h>

#include "iosim/alloc.h"
#include "run_int.h"

KEVENT *rs_event(run_state_t *rs, const char *name) {
  named_event_t *n = names_get(&rs->names, NK_EVENT, name);
  return n ? &n->ev : NULL; /* names are checked at load time */
}

size_t rs_req(run_state_t *rs, const char *name) {
  return name ? (size_t)(uintptr_t)names_get(&rs->names, NK_IRP, name) : 0;
}

PFILE_OBJECT rs_file(run_state_t *rs, const char *name) {
  for (size_t i = rs->nfiles; i-- > 0;)
    if (!strcmp(rs->files[i].name, name)) return rs->files[i].fo;
  return NULL;
}

/* A machine that cannot be built as the scenario says: where, and why. */
int rs_build_error(scn_error_t *err, const loc_t *at, const char *fmt, ...) {
  snprintf(err->file, sizeof err->file, "%s", at->file);
  err->line = at->line;
  err->col = at->col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return SIM_EINVAL;
}

/* Drivers in file order, then devices in attach order. */
static int build_stacks(run_state_t *rs, scn_error_t *err) {
  const scn_t *sc = rs->sc;
  sim_t *S = rs->S;
  /* Drivers were prepended while parsing; load them in file order. */
  size_t nd = 0;
  for (const driver_decl_t *d = sc->drivers; d; d = d->next) nd++;
  const driver_decl_t **drv = ar_alloc(&rs->ar, sizeof *drv * (nd ? nd : 1));
  size_t k = nd;
  for (const driver_decl_t *d = sc->drivers; d; d = d->next) drv[--k] = d;
  rs->drivers = ar_alloc(&rs->ar, sizeof *rs->drivers * (nd ? nd : 1));
  for (size_t i = 0; i < nd; i++) {
    if (drv[i]->load_path) {
      int rc = cdrv_load(cdrv_of(rs, drv[i]), err);
      if (rc != SIM_OK) return rc;
      continue;
    }
    scr_driver_t *sd = &rs->drivers[rs->ndrivers++];
    sd->rs = rs;
    sd->decl = drv[i];
    sd->obj = sim_load_driver(S, drv[i]->name, scr_driver_entry, sd);
    if (!sd->obj) return rs_build_error(err, &drv[i]->at, "driver %s cannot be loaded (out of memory)", drv[i]->name);
    names_put(&rs->ar, &rs->names, NK_DRIVER, drv[i]->name, sd);
  }
  for (const device_decl_t *d = sc->devices; d; d = d->next) {
    PDEVICE_OBJECT dev;
    if (d->ufs) {
      sim_ufs_config_t u = {.device = d->name, .async = d->ufs_async, .work_ns = (uint64_t)d->ufs_work,
                            .return_ns = (uint64_t)d->ufs_return, .idle_ns = (uint64_t)d->ufs_idle};
      if (!sim_ufs_create(S, &u))
        return rs_build_error(err, &d->at, "cannot create the user-mode file system %s", d->name);
      names_put(&rs->ar, &rs->names, NK_DEVICE, d->name, sim_find_device(S, d->name));
      continue;
    }
    const scr_driver_t *owner = names_get(&rs->names, NK_DRIVER, d->driver);
    if (!owner) { /* a C driver's device: its own, one its AddDevice adds, or one made for it */
      PDRIVER_OBJECT cd = sim_driver_by_name(S, d->driver);
      for (int i = 0; i < rs->ncdrv; i++)
        if (rs->cdrv[i].driver == cd) {
          int rc = cdrv_device(&rs->cdrv[i], d, err);
          if (rc != SIM_OK) return rc;
        }
      names_put(&rs->ar, &rs->names, NK_DEVICE, d->name, sim_find_device(S, d->name));
      continue;
    }
    sim_create_device(owner->obj, sizeof(scr_dev_t), d->name, &dev);
    names_put(&rs->ar, &rs->names, NK_DEVICE, d->name, dev);
    if (d->on && !IoAttachDeviceToDeviceStack(dev, names_get(&rs->names, NK_DEVICE, d->on)))
      return rs_build_error(err, &d->at,
                         "device %s cannot be attached on %s: the stack would need more than 127 stack "
                         "locations (an IRP's StackSize is a CCHAR)", d->name, d->on);
    scr_setup_device(rs, dev, d);
  }
  return SIM_OK;
}

/* Events and ports: they exist before any thread runs, so whichever
   thread uses one first, and however two first uses interleave, there is
   one of each. */
static int build_objects(run_state_t *rs, scn_error_t *err) {
  const scn_t *sc = rs->sc;
  sim_t *S = rs->S;
  int ne = 0;
  for (const event_decl_t *e = sc->events; e; e = e->next) ne++;
  rs->events = ar_alloc(&rs->ar, sizeof(named_event_t) * (size_t)(ne ? ne : 1));
  for (const event_decl_t *e = sc->events; e; e = e->next) {
    named_event_t *n = &rs->events[rs->nevents++];
    n->name = e->name;
    KeInitializeEvent(&n->ev, e->sync ? SynchronizationEvent : NotificationEvent, e->signaled);
    sim_name_object(&n->ev, e->name);
    names_put(&rs->ar, &rs->names, NK_EVENT, e->name, n);
  }
  int np = 0;
  for (const port_decl_t *d = sc->ports; d; d = d->next) np++;
  rs->ports = ar_alloc(&rs->ar, sizeof *rs->ports * (size_t)(np ? np : 1));
  for (const port_decl_t *d = sc->ports; d; d = d->next) {
    sim_port_t *p = sim_port_create(S, d->concurrency, d->name);
    if (!p) return rs_build_error(err, &d->at, "cannot create port %s", d->name);
    names_put(&rs->ar, &rs->names, NK_PORT, d->name, p);
    rs->ports[rs->nports].name = d->name;
    rs->ports[rs->nports++].port = p;
  }
  return SIM_OK;
}

static void build_threads(run_state_t *rs) {
  for (const thread_decl_t *t = rs->sc->threads; t; t = t->next) {
    scr_thread_arg_t *a = ar_alloc(&rs->ar, sizeof *a);
    a->rs = rs;
    a->decl = t;
    sim_thread_create(rs->S, t->name, scr_thread_main, a);
  }
}

/* The System thread of a machine with C drivers: as Windows loads
   drivers from a thread of the System process, their DriverEntry (and
   AddDevice) run here at PASSIVE_LEVEL, on the running machine, before the
   scenario's programs start.  A failure stops the machine. */
static void boot_main(PVOID arg) {
  run_state_t *rs = arg;
  if (build_stacks(rs, &rs->boot_err) != SIM_OK) {
    rs->boot_failed = true;
    sim_request_stop(rs->S);
    return;
  }
  build_threads(rs);
}

static int build(run_state_t *rs, scn_error_t *err) {
  const scn_t *sc = rs->sc;
  sim_t *S = rs->S;
  for (const cost_decl_t *c = sc->costs; c; c = c->next) sim_cost_set(S, c->name, c->ns);
  if (scn_loads_c_drivers(sc)) {
    int rc = cdrv_open_all(rs, err);
    if (rc == SIM_OK) rc = build_objects(rs, err);
    if (rc != SIM_OK) return rc;
    sim_thread_create(S, "System", boot_main, rs);
    return SIM_OK;
  }
  int rc = build_stacks(rs, err);
  if (rc == SIM_OK) rc = build_objects(rs, err);
  if (rc != SIM_OK) return rc;
  build_threads(rs);
  return SIM_OK;
}

/* Copies the verifier's findings and the end-of-run account into the
   result, and after a bugcheck the last trace rows, while the machine can
   still name things. */
static void take_findings(const vrf_t *v, sim_t *S, scn_result_t *res) {
  size_t n = vrf_count(v);
  res->findings = iosim_calloc(n ? n : 1, sizeof *res->findings);
  for (size_t i = 0; i < n; i++) res->findings[i] = *vrf_get(v, i);
  res->finding_total = (int)n;
  res->account = iosim_strdup(vrf_account(v));
  if (res->outcome != SIM_RUN_BUGCHECK) return;
  size_t len = 0;
  FILE *f = open_memstream(&res->last_steps, &len);
  if (!f) return;
  vrf_print_last_steps(v, S, 10, f);
  fclose(f);
}

int scn_run(const scn_t *sc, const scn_run_opts_t *o, scn_result_t *res, scn_error_t *err) {
  memset(res, 0, sizeof *res);
  if (err) memset(err, 0, sizeof *err);
  scn_error_t dummy;
  if (!err) err = &dummy;
  sim_config_t cfg = sc->cfg;
  if (o && o->has_seed) cfg.seed = o->seed;
  if (o) cfg.stacks = o->stacks;
  uint64_t ceil_steps = o && o->ceil_steps ? o->ceil_steps : SCN_CEIL_STEPS;
  uint64_t ceil_time = o && o->ceil_time_ns ? o->ceil_time_ns : SCN_CEIL_TIME_NS;
  if (cfg.max_steps > ceil_steps)
    return rs_build_error(err, &sc->max_steps_at,
                       "limit reached: machine max-steps %llu is above the ceiling of %llu steps (raise the "
                       "ceiling with --max-steps N)", (unsigned long long)cfg.max_steps,
                       (unsigned long long)ceil_steps);
  if (cfg.max_time_ns > ceil_time)
    return rs_build_error(err, &sc->max_time_at,
                       "limit reached: machine max-time %llu ns is above the ceiling of %llu ns (raise the "
                       "ceiling with --max-time T)", (unsigned long long)cfg.max_time_ns,
                       (unsigned long long)ceil_time);
  if (o) cfg.max_wall_ms = o->max_wall_ms, cfg.max_memory = o->max_memory;
  sim_t *S = sim_create(&cfg);
  if (!S) {
    /* The configuration was checked at load: only memory can be missing. */
    loc_t at = {sc->path, 0, 0};
    return rs_build_error(err, &at, "out of memory: the machine cannot be built");
  }
  run_state_t rs = {.sc = sc, .S = S, .ar = {.charge = S}};
  int rc = build(&rs, err);
  if (rc != SIM_OK) {
    free(rs.files), free(rs.reqs), free(rs.cancel_of);
    sim_destroy(S);
    cdrv_close_all(&rs);
    ar_free(&rs.ar);
    return rc;
  }
  sim_keep_irp_info(S, true);
  ev_log_t *log = evlog_new(sc, S);
  trc_sink_t ls = evlog_sink(log);
  sim_add_sink(S, &ls);
  /* The verifier watches every run; what it finds is matched against the
     scenario's `expect finding` lines. */
  vrf_t *vrf = vrf_new(S);
  trc_sink_t vs = vrf_sink(vrf);
  sim_add_sink(S, &vs);
  trc_sink_t cs = scn_crash_sink(S);
  if (scn_crash_recording()) sim_add_sink(S, &cs);
  if (o && o->on_start) o->on_start(o->ud, S);
  res->outcome = sim_run(S);
  if (rs.boot_failed) { /* the System thread could not build the machine */
    *err = rs.boot_err;
    vrf_free(vrf);
    sim_destroy(S);
    evlog_free(log);
    free(rs.files), free(rs.reqs), free(rs.cancel_of);
    cdrv_close_all(&rs);
    ar_free(&rs.ar);
    return SIM_EINVAL;
  }
  res->seed = cfg.seed;
  res->end_ns = sim_now(S);
  res->limit = sim_limit_reached(S);
  if (sim_bugcheck(S)) res->bugcheck = *sim_bugcheck(S);
  vrf_finish(vrf, S);
  take_findings(vrf, S, res);
  vrf_free(vrf);
  scn_check(sc, S, log, &rs, res);
  if (o && o->on_finish) o->on_finish(o->ud, S, res);
  sim_destroy(S);
  evlog_free(log);
  free(rs.files), free(rs.reqs), free(rs.cancel_of);
  cdrv_close_all(&rs); /* after the machine: its last steps ran the drivers' code */
  ar_free(&rs.ar);
  return SIM_OK;
}

void scn_result_free(scn_result_t *r) {
  free(r->expects);
  r->expects = NULL;
  free(r->findings);
  r->findings = NULL;
  free(r->last_steps);
  r->last_steps = NULL;
  free(r->account);
  r->account = NULL;
}
