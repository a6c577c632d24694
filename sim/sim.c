/*
 * sim.c - the simulation context: creation and teardown, the allocator that
 * counts every byte, the cost table, and sim_run.
 */
#include "sim_int.h"

#include <stdio.h>

static const char *const cost_names[] = {
#define SIM_X(e, n, v) n,
    SIM_COST_MAP(SIM_X)
#undef SIM_X
};
static const uint32_t cost_defaults[] = {
#define SIM_X(e, n, v) v,
    SIM_COST_MAP(SIM_X)
#undef SIM_X
};

const char *sim_strerror(int err) {
  switch (err) {
#define SIM_X(e, v, s) case e: return s;
    SIM_ERRNO_MAP(SIM_X)
#undef SIM_X
  default: return "unknown error";
  }
}

const char *sim_outcome_name(sim_outcome_t o) {
  static const char *n[] = {"ok", "stalled", "bugcheck", "limit reached", "stopped"};
  return (unsigned)o < ARRAY_LEN(n) ? n[o] : "?";
}

/* The one place that runs out of memory. */
void *sim_alloc(sim_t *S, size_t n) {
  if (n == 0) return NULL;
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "iosim: out of memory (%zu bytes)\n", n);
    abort();
  }
  S->stats.bytes_live += n;
  if (S->stats.bytes_live > S->stats.bytes_peak) S->stats.bytes_peak = S->stats.bytes_live;
  return p;
}

void *sim_calloc(sim_t *S, size_t n) {
  void *p = sim_alloc(S, n);
  memset(p, 0, n);
  return p;
}

void sim_free(sim_t *S, void *p, size_t n) {
  if (!p) return;
  S->stats.bytes_live -= n;
  free(p);
}

char *sim_strdup(sim_t *S, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = sim_alloc(S, n);
  memcpy(d, s, n);
  return d;
}

sim_t *sim_create(const sim_config_t *cfg) {
  if (!cfg || cfg->cpus < 1 || cfg->cpus > SIM_MAX_CPUS) return NULL;
  sim_t *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  S->cfg = *cfg;
  if (!S->cfg.max_time_ns) S->cfg.max_time_ns = 10ull * 1000 * 1000 * 1000;
  if (!S->cfg.max_steps) S->cfg.max_steps = 10ull * 1000 * 1000;
  chs_seed(&S->chs, cfg->seed);
  memcpy(S->cost, cost_defaults, sizeof S->cost);
  S->ncpu = cfg->cpus;
  S->cancel_lock_owner = -1;
  list_init(&S->ready);
  list_init(&S->threads);
  list_init(&S->live_irps);
  for (int i = 0; i < S->ncpu; i++) {
    cpu_t *c = &S->cpu[i];
    c->id = i;
    list_init(&c->dpc_queue);
    list_init(&c->irq_pending);
    c->frames[0].kind = TRC_FRAME_IDLE;
    if (ctx_init(S, &c->idle_ctx, cpu_idle_main, c) != SIM_OK) {
      sim_destroy(S);
      return NULL;
    }
    c->ctx = &c->idle_ctx;
  }
  return S;
}

static void free_pools(sim_t *S) {
  for (size_t i = 0; i < ARRAY_LEN(S->irp_pool); i++) {
    void *p = S->irp_pool[i].free;
    while (p) {
      void *n = *(void **)p;
      free(p);
      p = n;
    }
  }
}

void sim_destroy(sim_t *S) {
  if (!S) return;
  for (int i = 0; i < S->nsinks; i++)
    if (S->sinks[i].close) S->sinks[i].close(S->sinks[i].ud);
  for (int i = 0; i < S->ncpu; i++) ctx_free(S, &S->cpu[i].idle_ctx);
  while (!list_empty(&S->threads)) {
    PKTHREAD t = CONTAINING_RECORD(list_pop_head(&S->threads), KTHREAD, all_link);
    ctx_free(S, &t->ctx);
    free(t->name);
    free(t);
  }
  for (int i = 0; i < S->ndrivers; i++) {
    PDRIVER_OBJECT d = S->drivers[i];
    for (PDEVICE_OBJECT dev = d->DeviceObject, n; dev; dev = n) {
      n = dev->NextDevice;
      free(dev);
    }
    free((void *)d->DriverName);
    free(d);
  }
  for (PFILE_OBJECT f = S->files, n; f; f = n) {
    n = f->SimNextFile;
    free((void *)f->SimName);
    free(f);
  }
  for (int i = 0; i < S->nufs; i++) S->ufs_free[i].free(S->ufs_free[i].p);
  cache_free_all(S);
  for (sim_port_t *p = S->ports, *n; p; p = n) {
    n = p->next;
    while (!list_empty(&p->entries)) free(CONTAINING_RECORD(list_pop_head(&p->entries), port_packet_t, link));
    free(p->name);
    free(p);
  }
  for (sim_hw_t *h = S->hw, *n; h; h = n) {
    n = h->next;
    free(h);
  }
  for (size_t i = 0; i < S->evq.n; i++)
    if (S->evq.a[i].kind == EV_INTERRUPT) free(S->evq.a[i].obj);
  for (int i = 0; i < S->ncpu; i++)
    while (!list_empty(&S->cpu[i].irq_pending))
      free(CONTAINING_RECORD(list_pop_head(&S->cpu[i].irq_pending), hw_irq_t, link));
  free(S->evq.a);
  free(S->chs.log);
  free(S->irp_info);
  for (uint32_t i = 0; i < S->thread_names.n; i++) free(S->thread_names.v[i]);
  for (uint32_t i = 0; i < S->device_names.n; i++) free(S->device_names.v[i]);
  free(S->thread_names.v);
  free(S->device_names.v);
  while (!list_empty(&S->live_irps))
    free(CONTAINING_RECORD(list_pop_head(&S->live_irps), IRP, SimLink));
  free_pools(S);
  free(S);
}

int sim_cost_set(sim_t *S, const char *name, uint32_t ns) {
  for (int i = 0; i < COST_COUNT; i++)
    if (strcmp(cost_names[i], name) == 0) {
      S->cost[i] = ns;
      return SIM_OK;
    }
  return SIM_ENOENT;
}

uint32_t sim_cost_get(const sim_t *S, sim_cost_t c) { return S->cost[c]; }
const char *sim_cost_name(sim_cost_t c) { return (unsigned)c < COST_COUNT ? cost_names[c] : "?"; }

sim_outcome_t sim_run(sim_t *S) {
  if (S->started) return S->outcome;
  S->started = true;
  ctx_init_main(&S->main_ctx);
  TRC(S, TRC_RUN_START, NULL, NULL, false, 0, "%d CPU%s, seed %llu", S->ncpu, S->ncpu == 1 ? "" : "s",
      (unsigned long long)S->cfg.seed);
  /* Every CPU starts in its idle loop at time 0; the idle loops pick up
     the ready threads. */
  for (int i = 0; i < S->ncpu; i++) {
    S->cpu[i].step_live = true;
    S->cpu[i].step_end = 0;
  }
  S->cur_ctx = &S->main_ctx;
  sched_next(S); /* returns here only through sched_stop */
  S->cur_cpu = NULL;
  S->stats.steps = S->steps;
  TRC(S, TRC_RUN_END, NULL, NULL, false, 0, "%s after %llu ns", sim_outcome_name(S->outcome),
      (unsigned long long)S->now);
  return S->outcome;
}

void sim_request_stop(sim_t *S) { S->stop_requested = true; }

uint64_t sim_now(const sim_t *S) { return S->now; }
uint64_t sim_steps(const sim_t *S) { return S->steps; }
sim_stats_t sim_stats(const sim_t *S) {
  sim_stats_t s = S->stats;
  s.steps = S->steps;
  return s;
}
