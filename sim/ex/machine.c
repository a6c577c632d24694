/*
 * machine.c - putting the machine together and taking it apart: the one
 * place that knows every layer (as Windows' executive initialises each
 * component in turn).  It installs the hooks through which the lower
 * kernel reaches the I/O manager.
 */
#include "iosim/alloc.h"
#include "cc/cc.h"
#include "ex/ex.h"
#include "hal/hal.h"
#include "io/io.h"
#include "ob/ob.h"
#include "ps/ps.h"

sim_t *sim_create(const sim_config_t *cfg) {
  if (!cfg || cfg->cpus < 1 || cfg->cpus > SIM_MAX_CPUS) return NULL;
  if (cfg->clock_tick_ns && (cfg->clock_tick_ns < SIM_CLOCK_TICK_MIN || cfg->clock_tick_ns > SIM_CLOCK_TICK_MAX))
    return NULL;
  if (cfg->dpc_queue_depth > SIM_DPC_QUEUE_DEPTH_MAX || cfg->minimum_dpc_rate > SIM_DPC_RATE_MAX) return NULL;
  sim_t *S = iosim_calloc(1, sizeof *S);
  S->cfg = *cfg;
  if (!S->cfg.max_time_ns) S->cfg.max_time_ns = 10ull * 1000 * 1000 * 1000;
  if (!S->cfg.max_steps) S->cfg.max_steps = 10ull * 1000 * 1000;
  if (!S->cfg.max_memory) S->cfg.max_memory = SIM_MAX_MEMORY_DEFAULT;
  /* Windows' defaults: a 64 Hz clock, MaximumDpcQueueDepth 4, MinimumDpcRate 3. */
  if (!S->cfg.clock_tick_ns) S->cfg.clock_tick_ns = SIM_CLOCK_TICK_DEFAULT;
  if (!S->cfg.dpc_queue_depth) S->cfg.dpc_queue_depth = 4;
  if (!S->cfg.has_minimum_dpc_rate) S->cfg.minimum_dpc_rate = 3;
  chs_seed(&S->chs, cfg->seed);
  memcpy(S->cost, sim_cost_defaults, sizeof S->cost);
  /* Counted as they are set up: a machine that fails half-way is taken
     apart by sim_destroy over the CPUs it has, not over missing ones. */
  S->ncpu = 0;
  S->hooks.thread_exit_io = IoCancelThreadIo;
  S->hooks.run_end_account = ex_run_end_account;
  S->hooks.run_idle = ex_run_idle;
  /* The test mode that proves no program reads a fact from detail prose
     (tests/garble.sh); read once, never written. */
  S->garble_detail = getenv("IOSIM_GARBLE_DETAILS") != NULL;
  list_init(&S->ready);
  list_init(&S->threads);
  list_init(&S->live_irps);
  list_init(&S->timers);
  for (int i = 0; i < cfg->cpus; i++) {
    cpu_t *c = &S->cpu[i];
    c->id = i;
    list_init(&c->dpc_queue);
    list_init(&c->irq_pending);
    S->ncpu = i + 1;
    ke_clock_init_cpu(S, c);
    c->frames[0].kind = TRC_FRAME_IDLE;
    if (ctx_init(S, &c->idle_ctx, cpu_idle_main, c) != SIM_OK) {
      sim_destroy(S);
      return NULL;
    }
    c->ctx = &c->idle_ctx;
  }
  return S;
}

int sim_on_destroy(sim_t *S, void *p, void (*free_fn)(void *)) {
  if (!free_fn) return SIM_EINVAL;
  VEC_RESERVE(S, S->owned, S->owned_cap, S->nowned + 1);
  S->owned[S->nowned++] = (sim_owned_t){p, free_fn};
  return SIM_OK;
}

void sim_destroy(sim_t *S) {
  if (!S) return;
  for (size_t i = 0; i < S->nsinks; i++)
    if (S->sinks[i].close) S->sinks[i].close(S->sinks[i].ud);
  free(S->sinks);
  /* Nothing is traced from here on (the rundown of undelivered APCs frees
     what they carry, IRPs included, as a terminating thread's would). */
  S->sinks = NULL;
  S->nsinks = 0;
  ke_destroy(S);
  for (size_t i = S->nowned; i-- > 0;) S->owned[i].free(S->owned[i].p);
  free(S->owned);
  io_destroy(S);
  io_lib_destroy(S);
  cc_destroy(S);
  hal_destroy(S);
  ex_work_destroy(S);
  ex_pool_destroy(S);
  ob_destroy(S);
  ps_destroy(S);
  free(S->evq.a);
  free(S->chs.log);
  ptrmap_free(S, &S->lock_ids);
  ptrmap_free(S, &S->dbg_ptrs);
  ptrmap_free(S, &S->live_irp_ids);
  ptrmap_free(S, &S->device_by_hash);
  ptrmap_free(S, &S->queued_locks);
  free(S->chs.cand);
  for (uint32_t i = 0; i < S->thread_names.n; i++) free(S->thread_names.v[i]);
  for (uint32_t i = 0; i < S->device_names.n; i++) free(S->device_names.v[i]);
  for (uint32_t i = 0; i < S->object_names.n; i++) free(S->object_names.v[i]);
  free(S->object_names.v);
  free(S->thread_names.v);
  free(S->device_names.v);
  free(S);
}
