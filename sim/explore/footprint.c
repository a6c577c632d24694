/*
 * footprint.c - the state fingerprint that lets the explorer skip a state
 * it has already explored, and the fixed-size cache of explored states.
 *
 * Each trace step touches a set of objects - its footprint: the CPU it ran
 * on, the thread running there, the IRP, the device, the port, the file,
 * the dispatcher object, the target CPU or thread, and for some kinds a
 * machine-wide structure (the ready queue and waits, the cancel spin lock,
 * the event queue, IRP numbering).  A step whose kind may touch state its
 * typed facts do not name (a system service, a thread's exit, a bugcheck)
 * touches everything.  Every object keeps a running hash of the steps that
 * touched it (their typed facts and times, never the detail prose); the
 * fingerprint is the XOR of the objects' hashes.  Two runs reach the same
 * fingerprint when every object saw the same steps in the same order - the
 * same partial order of dependent steps (a Mazurkiewicz trace), which is
 * what determines the machine's state.  docs/exploration.md gives the
 * argument and its assumptions.
 */
#include "explore_int.h"

enum {
  FP_CPU = 1,
  FP_THREAD,
  FP_IRP,
  FP_DEVICE,
  FP_PORT,
  FP_FILE,
  FP_OBJECT,
  FP_SCHED,   /* the ready queue, waits and wakes, ports' running counts */
  FP_CANCEL,  /* the cancel spin lock */
  FP_EVQ,     /* the event queue: device interrupts and wait timeouts */
  FP_IRP_IDS, /* IRP numbering and the IRP pools */
  FP_ALL      /* a step that may touch anything: orders against every step */
};

#define FP_KEY(type, id) (((uint64_t)(type) << 40) | (uint64_t)(uint32_t)(id))

/* What a step of each kind touches beyond its typed facts. */
static int kind_extra(trc_kind_t k, const trc_event_t *ev) {
  switch (k) {
  case TRC_RUN_START:
  case TRC_RUN_END:
  case TRC_THREAD_IO_RUNDOWN:
  case TRC_THREAD_EXIT:
  case TRC_QUEUE_DROPPED:
  case TRC_SYSCALL: /* a service may walk any IRP list (CancelIo, exit) */
  case TRC_BUGCHECK:
  case TRC_PORT_CREATED:
    return FP_ALL;
  case TRC_IRP_ALLOC:
  case TRC_IRP_FREE:
    return FP_IRP_IDS;
  case TRC_CANCEL:
  case TRC_CANCEL_ROUTINE:
  case TRC_CANCEL_LOCK:
    return FP_CANCEL;
  case TRC_HW_START:
  case TRC_INTERRUPT:
    return FP_EVQ;
  case TRC_WAIT:
    /* Several objects, of which the step names one: touch them all. */
    return ev->count > 1 ? FP_ALL : FP_SCHED;
  case TRC_WAKE:
  case TRC_WAIT_DONE:
  case TRC_SWITCH:
  case TRC_THREAD_START:
  case TRC_PORT_BOUND:
  case TRC_PORT_QUEUED:
  case TRC_PORT_DEQUEUED:
  case TRC_PORT_WAIT:
    return FP_SCHED;
  default:
    return 0;
  }
}

void xp_fp_reset(xp_fp_t *f) {
  if (f->v) memset(f->v, 0, f->cap * sizeof *f->v);
  f->n = 0;
  f->value = 0;
  f->epoch = 0;
  f->nundo = 0;
}

void xp_fp_free(xp_fp_t *f) {
  free(f->v);
  free(f->undo);
  memset(f, 0, sizeof *f);
}

static void fp_log(xp_fp_t *f, uint64_t key, uint64_t old) {
  if (f->nundo == f->undo_cap) {
    f->undo_cap = f->undo_cap ? f->undo_cap * 2 : 1024;
    f->undo = xp_xrealloc(f->undo, f->undo_cap * sizeof *f->undo);
  }
  f->undo[f->nundo++] = (xp_fp_obj_t){key, old};
}

static xp_fp_obj_t *fp_slot(xp_fp_t *f, uint64_t key);

void xp_fp_rollback(xp_fp_t *f, size_t mark) {
  while (f->nundo > mark) {
    xp_fp_obj_t u = f->undo[--f->nundo];
    if (!u.key) {
      f->epoch = u.h;
      continue;
    }
    xp_fp_obj_t *o = fp_slot(f, u.key); /* an object first touched later stays, with hash 0: absent */
    f->value ^= o->h ^ u.h;
    o->h = u.h;
  }
}

static xp_fp_obj_t *fp_slot(xp_fp_t *f, uint64_t key) {
  if ((f->n + 1) * 2 > f->cap) {
    size_t ncap = f->cap ? f->cap * 2 : 64;
    xp_fp_obj_t *nv = xp_xalloc(ncap * sizeof *nv);
    for (size_t i = 0; i < f->cap; i++) {
      if (!f->v[i].key) continue;
      size_t j = (size_t)((f->v[i].key * 0x9E3779B97F4A7C15ull) >> 40) & (ncap - 1);
      while (nv[j].key) j = (j + 1) & (ncap - 1);
      nv[j] = f->v[i];
    }
    free(f->v);
    f->v = nv;
    f->cap = ncap;
  }
  size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & (f->cap - 1);
  while (f->v[j].key && f->v[j].key != key) j = (j + 1) & (f->cap - 1);
  if (!f->v[j].key) {
    f->v[j].key = key;
    f->v[j].h = 0;
    f->n++;
  }
  return &f->v[j];
}

/* One multiply-rotate per word: cheap, and every step ends in a full mix. */
static inline uint64_t acc(uint64_t h, uint64_t v) {
  h ^= v;
  h *= 0x9E3779B97F4A7C15ull;
  return (h << 27) | (h >> 37);
}

/* One step seen by one object.  An object's hash starts from its key, so
   the XOR of the objects' hashes says which object saw what. */
static void fp_touch(xp_fp_t *f, uint64_t key, uint64_t step) {
  xp_fp_obj_t *o = fp_slot(f, key);
  fp_log(f, key, o->h);
  f->value ^= o->h;
  o->h = xp_mix((o->h ? o->h : key * 0xD6E8FEB86659FD93ull) + step);
  f->value ^= o->h;
}

/* A text, eight bytes at a time. */
static uint64_t acc_str(uint64_t h, const char *s) {
  if (!s) return acc(h, 0x51);
  size_t n = strlen(s), i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h = acc(h, w);
  }
  uint64_t w = 0;
  memcpy(&w, s + i, n - i);
  return acc(h, w ^ ((uint64_t)n << 56));
}

/* The step itself: every typed fact, its time and its place; the number of
   all-touching steps before it ties it to them. */
static uint64_t fp_step(const xp_fp_t *f, const trc_event_t *e) {
  uint64_t h = acc(f->epoch, (uint64_t)e->kind);
  h = acc(h, e->t_ns);
  h = acc(h, ((uint64_t)(uint32_t)e->cpu << 32) | ((uint64_t)(uint8_t)e->irql << 8) | (uint64_t)e->frame);
  h = acc(h, ((uint64_t)e->thread << 32) | e->irp);
  h = acc(h, ((uint64_t)e->device << 32) | (uint32_t)e->stack_location);
  h = acc(h, e->has_status ? (uint64_t)(uint32_t)e->status | (1ull << 40) : 0);
  h = acc(h, ((uint64_t)(uint32_t)e->major << 32) | (uint32_t)e->minor);
  h = acc(h, ((uint64_t)(uint32_t)e->loc_from << 32) | (uint32_t)e->loc_to);
  h = acc(h, ((uint64_t)(uint32_t)e->control << 32) | (uint32_t)e->pending_returned);
  h = acc(h, e->has_info ? e->info | (1ull << 63) : 0);
  h = acc(h, ((uint64_t)(uint32_t)e->stack_size << 32) | e->routine_device);
  h = acc(h, ((uint64_t)e->stage2 << 32) | (uint32_t)e->target_cpu);
  h = acc(h, ((uint64_t)e->target_thread << 32) | e->target_irp);
  h = acc(h, ((uint64_t)e->port << 32) | e->file);
  h = acc(h, ((uint64_t)e->object << 32) | (uint32_t)e->wait_index);
  h = acc(h, ((uint64_t)(uint32_t)e->count << 32) | (uint32_t)e->running);
  h = acc(h, ((uint64_t)(uint32_t)e->limit << 32) | (uint32_t)e->cancel_routine);
  h = acc(h, ((uint64_t)(uint32_t)e->touches_irp << 32) | (uint32_t)e->irql_from);
  h = acc(h, ((uint64_t)(uint32_t)e->irql_to << 32) | (uint32_t)e->outcome);
  h = acc(h, ((uint64_t)e->bugcheck_code << 32) | e->writes);
  h = acc(h, (uint64_t)e->offset);
  /* The texts by content (some are formatted into a buffer per step). */
  h = acc_str(h, e->service);
  h = acc_str(h, e->text);
  return xp_mix(h);
}

void xp_fp_event(xp_fp_t *f, const trc_event_t *ev) {
  uint64_t step = fp_step(f, ev);
  int extra = kind_extra(ev->kind, ev);
  if (extra == FP_ALL) {
    /* Ordered against every step: later steps carry the new epoch. */
    fp_touch(f, FP_KEY(FP_ALL, 0), step);
    fp_log(f, 0, f->epoch);
    f->epoch++;
    return;
  }
  if (extra) fp_touch(f, FP_KEY(extra, 0), step);
  if (ev->cpu >= 0) fp_touch(f, FP_KEY(FP_CPU, ev->cpu), step);
  if (ev->thread) fp_touch(f, FP_KEY(FP_THREAD, ev->thread), step);
  if (ev->irp) fp_touch(f, FP_KEY(FP_IRP, ev->irp), step);
  if (ev->target_irp && ev->target_irp != ev->irp) fp_touch(f, FP_KEY(FP_IRP, ev->target_irp), step);
  if (ev->device) fp_touch(f, FP_KEY(FP_DEVICE, ev->device), step);
  if (ev->routine_device && ev->routine_device != ev->device)
    fp_touch(f, FP_KEY(FP_DEVICE, ev->routine_device), step);
  if (ev->target_cpu >= 0 && ev->target_cpu != ev->cpu) fp_touch(f, FP_KEY(FP_CPU, ev->target_cpu), step);
  if (ev->target_thread && ev->target_thread != ev->thread)
    fp_touch(f, FP_KEY(FP_THREAD, ev->target_thread), step);
  if (ev->port) fp_touch(f, FP_KEY(FP_PORT, ev->port), step);
  if (ev->file) fp_touch(f, FP_KEY(FP_FILE, ev->file), step);
  if (ev->object) fp_touch(f, FP_KEY(FP_OBJECT, ev->object), step);
}

void xp_fp_decision(xp_fp_t *f, const sim_choice_t *c, uint32_t idx) {
  /* What ran, and when: a CPU's step, or an event out of the queue (a
     CPU's spin that traces nothing still moves its history on). */
  if (c->kind != SIM_CHOICE_NEXT) {
    uint64_t step = xp_hash2(xp_hash2(f->epoch, 0x100u + c->kind), c->now);
    fp_touch(f, FP_KEY(FP_CPU, c->cpus[idx]), step);
    fp_touch(f, FP_KEY(FP_SCHED, 0), step);
    return;
  }
  const sim_candidate_t *k = &c->cand[idx];
  uint64_t at = k->due_ns > c->now ? k->due_ns : c->now;
  uint64_t step = xp_hash2(xp_hash2(xp_hash2(f->epoch, 0x200u + k->kind), at), ((uint64_t)k->id << 8) | (uint8_t)k->cpu);
  if (k->kind == SIM_CAND_CPU) fp_touch(f, FP_KEY(FP_CPU, k->cpu), step);
  else fp_touch(f, FP_KEY(FP_EVQ, 0), step);
}

/* ---- the cache of explored states ----
 * 4-way sets of 64-bit entries (56 bits of state, 8 of budget), doubled as
 * it fills up to a ceiling: small explorations stay in the processor's
 * cache, and memory never grows past the ceiling. */
#define XP_CACHE_WAYS 4
struct xp_cache {
  uint64_t *v;
  size_t sets, used, max_sets;
  uint32_t clock;
};

xp_cache_t *xp_cache_new(size_t entries) {
  xp_cache_t *c = xp_xalloc(sizeof *c);
  size_t max_sets = 1;
  while (max_sets * XP_CACHE_WAYS < entries) max_sets *= 2;
  c->max_sets = max_sets;
  c->sets = max_sets < 1024 ? max_sets : 1024;
  c->v = xp_xalloc(c->sets * XP_CACHE_WAYS * sizeof *c->v);
  return c;
}

void xp_cache_free(xp_cache_t *c) {
  if (!c) return;
  free(c->v);
  free(c);
}

static inline uint64_t ent(uint64_t state, int budget) {
  uint64_t b = budget < 0 ? 0 : budget > 254 ? 254 : (uint64_t)budget;
  return (state & ~0xFFull) | (b + 1); /* low byte 0 = empty */
}

static void put(xp_cache_t *c, uint64_t e) {
  uint64_t *set = &c->v[(xp_mix(e >> 8) & (c->sets - 1)) * XP_CACHE_WAYS];
  for (int i = 0; i < XP_CACHE_WAYS; i++)
    if (!set[i]) {
      set[i] = e;
      c->used++;
      return;
    }
  /* Full: push one out (round robin).  Forgetting a state only means it
     may be explored again. */
  set[c->clock++ % XP_CACHE_WAYS] = e;
}

static void grow(xp_cache_t *c) {
  uint64_t *old = c->v;
  size_t n = c->sets * XP_CACHE_WAYS;
  c->sets *= 2;
  c->v = xp_xalloc(c->sets * XP_CACHE_WAYS * sizeof *c->v);
  c->used = 0;
  for (size_t i = 0; i < n; i++)
    if (old[i]) put(c, old[i]);
  free(old);
}

bool xp_cache_visit(xp_cache_t *c, uint64_t state, int budget) {
  uint64_t e = ent(state, budget), key = e >> 8;
  uint64_t *set = &c->v[(xp_mix(key) & (c->sets - 1)) * XP_CACHE_WAYS];
  for (int i = 0; i < XP_CACHE_WAYS; i++)
    if (set[i] && set[i] >> 8 == key) {
      if ((set[i] & 0xFF) >= (e & 0xFF)) return true;
      set[i] = e;
      return false;
    }
  if (c->used * 4 >= c->sets * XP_CACHE_WAYS * 3 && c->sets < c->max_sets) grow(c);
  put(c, e);
  return false;
}
