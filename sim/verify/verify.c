/*
 * verify.c - the verifier: a trace sink that keeps, per IRP and per running
 * driver routine, just enough state to decide the I/O rules of Driver
 * Verifier and Static Driver Verifier (docs/kernel-facts.md §11), and turns
 * each broken rule into a finding.  It reads nothing but trace events (plus
 * names and, at the end, the waiting threads), so it never changes a run.
 *
 * Who did something: a trace row names the IRP and a device, but for stack
 * operations the device is the owner of the IRP's current location, not
 * the caller.  So the verifier keeps a stack of the driver routines running
 * in each execution context - a thread (dispatch routines, which may block)
 * or a CPU's interrupt frames (DPCs, ISRs, and the completion routines they
 * call) - pushed at dispatch / completion-routine / dpc / isr rows and
 * popped at their ends.  The routine on top is the actor of every step in
 * that context.
 */
#include "iosim/alloc.h"
#include "iosim/verify.h"
#include "iosim/vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_rules.h"

#define LAST_STEPS 12
#define MAX_RELEASED 8

typedef enum { ACT_DISPATCH, ACT_COMPLETION, ACT_DPC, ACT_ISR, ACT_APC } act_kind_t;

/* One driver routine running (or blocked) in a context. */
typedef struct act {
  act_kind_t kind;
  uint32_t irp, device;
  int location;            /* the IRP's location when it started */
  bool marked_own;         /* IoMarkIrpPending on its own location */
  bool marked_any;         /* IoMarkIrpPending at all (completion routines) */
  bool prepared;           /* copied or skipped since its last IoCallDriver */
  bool passed_down;        /* called IoCallDriver with its IRP */
  bool pending_returned;   /* a completion routine saw PendingReturned */
  /* IRPs this routine handed away: passed down or completed. */
  uint32_t rel_irp[MAX_RELEASED];
  uint64_t rel_seq[MAX_RELEASED];
  bool rel_completed[MAX_RELEASED];
  int nrel;
} act_t;

/* The routines running in one context: a thread (key > 0) or the
   interrupt frames of a CPU (key = -(cpu + 1)). */
typedef struct actstack {
  int64_t key;
  act_t *v;
  int n;
  size_t cap;
} actstack_t;

/* A dispatch routine that returned STATUS_PENDING for an IRP it had passed
   down, while its location was not (yet) marked: the mark may still come
   (the I/O manager copies a lower driver's mark up when the walk passes,
   or the routine's own completion routine marks), and must be there when
   the completion walk leaves the location. */
typedef struct owed {
  int location;
  uint32_t device;
  uint64_t seq;           /* its dispatch-return */
} owed_t;

/* One bit per stack location (1..127): an IRP has at most 127. */
typedef struct locbits {
  uint64_t w[2];
} locbits_t;

typedef struct virp {
  bool live, completed, freed, mpr_open;
  uint32_t thread;        /* who allocated it */
  uint32_t last_device;   /* where it was sent last */
  uint32_t mpr_device;
  uint64_t mpr_seq, done_seq, last_seq;
  uint64_t last_t;        /* the time of its last trace row */
  uint32_t reported;      /* bit per rule: one finding per rule and IRP */
  bool driver_owned;      /* allocated by a driver (IoAllocateIrp), not an associated IRP */
  int stack_size;         /* its StackCount: the top location */
  /* The pending marks, as the trace set and cleared them. */
  locbits_t marked;       /* SL_PENDING_RETURNED in the location now */
  locbits_t left_marked, left_unmarked; /* how the walk left it since it was dispatched */
  int walk_pos;           /* the next location the running walk leaves, 0 = no walk */
  owed_t *owed;           /* pending returns whose mark is still to come */
  size_t nowed, capowed;
  uint32_t blame_device;  /* whose pending mark went missing (a finding said so) */
  /* Its irp-outstanding step, if it was still allocated at the end. */
  trc_irp_state_t out_state;
  uint32_t out_thread, out_device, out_port;
  int out_location;
  char kept_why[96];
  int end_rule;           /* the end-of-run finding that covers it, -1 = none */
} virp_t;

/* A thread-stuck step: a thread still waiting at the end. */
typedef struct stuck {
  uint32_t thread, object, port;
  int count;
} stuck_t;

typedef struct step {
  trc_event_t ev;
  char detail[200];
} step_t;

struct vrf {
  sim_t *S;
  virp_t *irps;
  size_t nirps;
  actstack_t *ctx;
  int nctx;
  size_t capctx;
  vrf_finding_t *f;
  size_t nf, capf;
  char outcome[16];       /* from the run-end row */
  stuck_t *stuck;         /* the thread-stuck steps */
  size_t nstuck, capstuck;
  char *account;          /* vrf_account's text, written by vrf_finish */
  step_t last[LAST_STEPS];
  uint64_t nsteps;
  bool finished;
};

/* ---- rule table ---- */

static const vrf_rule_info_t rule_tab[] = {
#define VRF_X(e, n, b, s) {e, n, b, s, e##_TITLE, e##_EXPLAIN},
    VRF_RULE_MAP(VRF_X)
#undef VRF_X
};

const vrf_rule_info_t *vrf_rule_info(vrf_rule_t r) {
  return (unsigned)r < VRF_RULE_COUNT ? &rule_tab[r] : NULL;
}

const vrf_rule_info_t *vrf_rule_by_name(const char *name) {
  for (int i = 0; i < VRF_RULE_COUNT; i++)
    if (!strcmp(rule_tab[i].name, name)) return &rule_tab[i];
  return NULL;
}

/* ---- state ---- */

/* The verifier has no way to report running out of memory (a sink cannot
   fail), and a partial verdict would be a wrong one. */
static void out_of_memory(void) {
  fprintf(stderr, "iosim: verifier: out of memory\n");
  abort();
}

static virp_t *irp_state(vrf_t *v, uint32_t id) {
  if (id >= v->nirps) { /* indexed by id: nirps is the capacity, new slots start empty */
    size_t old = v->nirps;
    if (!IOSIM_VEC_RESERVE(v->irps, v->nirps, (size_t)id + 1)) out_of_memory();
    memset(v->irps + old, 0, (v->nirps - old) * sizeof *v->irps);
    sim_charge_memory(v->S, (v->nirps - old) * sizeof *v->irps); /* one slot per IRP ever issued */
  }
  return &v->irps[id];
}

static int64_t ctx_key(const trc_event_t *ev) {
  if ((ev->frame == TRC_FRAME_THREAD || ev->frame == TRC_FRAME_APC) && ev->thread) return ev->thread;
  return -(int64_t)(ev->cpu + 1);
}

static actstack_t *ctx_stack(vrf_t *v, const trc_event_t *ev) {
  int64_t key = ctx_key(ev);
  for (int i = 0; i < v->nctx; i++)
    if (v->ctx[i].key == key) return &v->ctx[i];
  if (!IOSIM_VEC_RESERVE(v->ctx, v->capctx, (size_t)v->nctx + 1)) out_of_memory();
  v->ctx[v->nctx] = (actstack_t){.key = key};
  return &v->ctx[v->nctx++];
}

static act_t *push(vrf_t *v, const trc_event_t *ev, act_kind_t kind) {
  actstack_t *s = ctx_stack(v, ev);
  if (!IOSIM_VEC_RESERVE(s->v, s->cap, (size_t)s->n + 1)) out_of_memory();
  act_t *a = &s->v[s->n++];
  *a = (act_t){.kind = kind, .irp = ev->irp, .device = ev->device, .location = ev->stack_location};
  return a;
}

/* Pops down to the innermost routine of this kind (and IRP, when given);
   returns a copy of it, or false if there is none. */
static bool pop(vrf_t *v, const trc_event_t *ev, act_kind_t kind, bool match_irp, act_t *out) {
  actstack_t *s = ctx_stack(v, ev);
  for (int i = s->n - 1; i >= 0; i--)
    if (s->v[i].kind == kind && (!match_irp || s->v[i].irp == ev->irp)) {
      *out = s->v[i];
      s->n = i;
      return true;
    }
  return false;
}

/* The driver routine doing this step, or NULL (the I/O manager, an APC). */
static act_t *actor(vrf_t *v, const trc_event_t *ev) {
  actstack_t *s = ctx_stack(v, ev);
  if (s->n == 0 || s->v[s->n - 1].kind == ACT_APC) return NULL;
  return &s->v[s->n - 1];
}

static int released_at(const act_t *a, uint32_t irp) {
  for (int i = a->nrel - 1; i >= 0; i--)
    if (a->rel_irp[i] == irp) return i;
  return -1;
}

static void release(act_t *a, uint32_t irp, uint64_t seq, bool completed) {
  int i = released_at(a, irp);
  if (i < 0) {
    if (a->nrel == MAX_RELEASED) { /* forget the oldest */
      memmove(a->rel_irp, a->rel_irp + 1, sizeof a->rel_irp[0] * (MAX_RELEASED - 1));
      memmove(a->rel_seq, a->rel_seq + 1, sizeof a->rel_seq[0] * (MAX_RELEASED - 1));
      memmove(a->rel_completed, a->rel_completed + 1, sizeof a->rel_completed[0] * (MAX_RELEASED - 1));
      a->nrel--;
    }
    i = a->nrel++;
  }
  a->rel_irp[i] = irp;
  a->rel_seq[i] = seq;
  a->rel_completed[i] = completed;
}

/* A completion routine of `device` returned STATUS_MORE_PROCESSING_REQUIRED:
   that driver owns the IRP again, in every routine of it that handed it on. */
static void reclaim(vrf_t *v, uint32_t irp, uint32_t device) {
  for (int c = 0; c < v->nctx; c++)
    for (int k = 0; k < v->ctx[c].n; k++) {
      act_t *a = &v->ctx[c].v[k];
      int i = a->device == device ? released_at(a, irp) : -1;
      if (i < 0) continue;
      a->nrel--;
      memmove(a->rel_irp + i, a->rel_irp + i + 1, sizeof a->rel_irp[0] * (size_t)(a->nrel - i));
      memmove(a->rel_seq + i, a->rel_seq + i + 1, sizeof a->rel_seq[0] * (size_t)(a->nrel - i));
      memmove(a->rel_completed + i, a->rel_completed + i + 1,
              sizeof a->rel_completed[0] * (size_t)(a->nrel - i));
    }
}

/* ---- findings ---- */

static void copy_name(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src ? src : "");
}

static void report(vrf_t *v, vrf_rule_t rule, uint32_t irp, uint32_t device, const trc_event_t *ev,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void report(vrf_t *v, vrf_rule_t rule, uint32_t irp, uint32_t device, const trc_event_t *ev,
                   const char *fmt, ...) {
  if (irp) {
    virp_t *st = irp_state(v, irp);
    if (st->reported & (1u << rule)) return; /* once per rule and IRP: no floods */
    st->reported |= 1u << rule;
  }
  if (!IOSIM_VEC_RESERVE(v->f, v->capf, v->nf + 1)) out_of_memory();
  vrf_finding_t *f = &v->f[v->nf++];
  memset(f, 0, sizeof *f);
  f->rule = rule;
  f->name = rule_tab[rule].name;
  f->irp = irp;
  const sim_irp_info_t *in = irp ? sim_irp_info(v->S, irp) : NULL;
  copy_name(f->irp_tag, sizeof f->irp_tag, in ? in->tag : NULL);
  f->device = device;
  copy_name(f->device_name, sizeof f->device_name, device ? sim_device_name(v->S, device) : NULL);
  f->seq = ev ? ev->seq : 0;
  f->t_ns = ev ? ev->t_ns : sim_now(v->S);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->what, sizeof f->what, fmt, ap);
  va_end(ap);
}

static const char *dev_name(vrf_t *v, uint32_t id) { return id ? sim_device_name(v->S, id) : "the I/O manager"; }

/* A driver routine touches an IRP (a stack operation, a status, a
   completion, a call, a queue): it must still own it. */
static void touch(vrf_t *v, const trc_event_t *ev, const char *what) {
  act_t *a = actor(v, ev);
  if (!a || !ev->irp) return;
  virp_t *st = irp_state(v, ev->irp);
  int i = released_at(a, ev->irp);
  if (i >= 0) {
    report(v, VRF_TOUCHED_AFTER_RELEASE, ev->irp, a->device, ev,
           "%s's routine %s IRP %u (%s) after it had %s at step #%llu", dev_name(v, a->device),
           what, ev->irp, trc_kind_name(ev->kind), a->rel_completed[i] ? "completed it" : "passed it down",
           (unsigned long long)a->rel_seq[i]);
    return;
  }
  if (st->completed && !st->freed)
    report(v, VRF_TOUCHED_AFTER_RELEASE, ev->irp, a->device, ev,
           "%s's routine %s IRP %u (%s) after its completion finished at step #%llu",
           dev_name(v, a->device), what, ev->irp, trc_kind_name(ev->kind),
           (unsigned long long)st->done_seq);
}

/* ---- pending marks: SL_PENDING_RETURNED of each stack location ----

   The rule behind pending-not-marked: whatever path a request takes, a
   location whose dispatch routine returned STATUS_PENDING must carry
   SL_PENDING_RETURNED when the completion walk leaves it, because that
   bit is what the walk hands up as PendingReturned (kernel-facts 3.2a, 3.6).
   A routine that did not pass the IRP down can only have marked it itself
   (decided at its return); one that passed it down may still get the mark
   from below (copied up by the I/O manager, or set by its own completion
   routine), so it is decided when the walk leaves the location.  The
   trace's walk rows give the truth where they can (a complete row's
   Control, a completion routine's PendingReturned, a copied-up mark); the
   bits below fill in the levels the walk passes without a row. */

static bool bit_get(const locbits_t *b, int loc) {
  return loc >= 1 && loc < 128 && ((b->w[loc >> 6] >> (loc & 63)) & 1u);
}

static void bit_put(locbits_t *b, int loc, bool on) {
  if (loc < 1 || loc >= 128) return;
  uint64_t m = 1ull << (loc & 63);
  if (on) b->w[loc >> 6] |= m;
  else b->w[loc >> 6] &= ~m;
}

/* Takes the first pending return owed a mark in location `loc`. */
static bool owed_take(virp_t *st, int loc, owed_t *out) {
  for (size_t i = 0; i < st->nowed; i++)
    if (st->owed[i].location == loc) {
      *out = st->owed[i];
      memmove(st->owed + i, st->owed + i + 1, (st->nowed - i - 1) * sizeof *st->owed);
      st->nowed--;
      return true;
    }
  return false;
}

static void report_unmarked(vrf_t *v, uint32_t irp, const owed_t *o, const trc_event_t *ev) {
  irp_state(v, irp)->blame_device = o->device;
  report(v, VRF_PENDING_NOT_MARKED, irp, o->device, ev,
         "%s's dispatch routine returned STATUS_PENDING for IRP %u (step #%llu) without IoMarkIrpPending "
         "on its location %d; it had passed the IRP down, but nothing marked location %d before the "
         "completion walk left it, so the walk went on with PendingReturned=0",
         dev_name(v, o->device), irp, (unsigned long long)o->seq, o->location, o->location);
}

/* The walk leaves location `loc` (IopClearStackLocation wipes its mark):
   the pending returns that needed the mark there are decided. */
static void walk_leave(vrf_t *v, uint32_t irp, virp_t *st, int loc, const trc_event_t *ev) {
  bool marked = bit_get(&st->marked, loc);
  bit_put(marked ? &st->left_marked : &st->left_unmarked, loc, true);
  bit_put(&st->marked, loc, false);
  owed_t o;
  while (owed_take(st, loc, &o))
    if (!marked) report_unmarked(v, irp, &o, ev);
}

/* The walk left every location from where it was up to `loc` (levels
   with no completion routine and no mark to copy leave no row). */
static void walk_to(vrf_t *v, uint32_t irp, virp_t *st, int loc, const trc_event_t *ev) {
  int from = st->walk_pos > 0 ? st->walk_pos : loc; /* 0: a walk whose start we did not see */
  for (int k = from; k <= loc; k++) walk_leave(v, irp, st, k, ev);
  st->walk_pos = loc + 1;
}

/* A dispatch routine returned STATUS_PENDING for an IRP it passed down,
   without marking its own location. */
static void pending_after_pass_down(vrf_t *v, const trc_event_t *ev, const act_t *a) {
  virp_t *st = irp_state(v, ev->irp);
  owed_t o = {.location = a->location, .device = a->device, .seq = ev->seq};
  if (bit_get(&st->left_unmarked, a->location)) { /* the walk has been and gone */
    report_unmarked(v, ev->irp, &o, ev);
    return;
  }
  if (bit_get(&st->left_marked, a->location) || bit_get(&st->marked, a->location)) return;
  if (!IOSIM_VEC_RESERVE(st->owed, st->capowed, st->nowed + 1)) out_of_memory();
  st->owed[st->nowed++] = o;
}

static void on_return(vrf_t *v, const trc_event_t *ev) {
  act_t a;
  if (!pop(v, ev, ACT_DISPATCH, true, &a)) return;
  char sb[16];
  if (ev->status == STATUS_PENDING && !a.marked_own && !a.passed_down) {
    irp_state(v, ev->irp)->blame_device = a.device;
    report(v, VRF_PENDING_NOT_MARKED, ev->irp, a.device, ev,
           "%s's dispatch routine returned STATUS_PENDING for IRP %u without IoMarkIrpPending on its "
           "location %d and without passing the IRP down",
           dev_name(v, a.device), ev->irp, a.location);
  } else if (ev->status == STATUS_PENDING && !a.marked_own) {
    pending_after_pass_down(v, ev, &a);
  } else if (ev->status != STATUS_PENDING && a.marked_own) {
    report(v, VRF_MARKED_NOT_PENDING, ev->irp, a.device, ev,
           "%s's dispatch routine marked IRP %u pending in location %d but returned %s",
           dev_name(v, a.device), ev->irp, a.location, iosim_status_name(ev->status, sb));
  }
}

static void on_completion_return(vrf_t *v, const trc_event_t *ev) {
  act_t a;
  if (!pop(v, ev, ACT_COMPLETION, true, &a)) return;
  if (!a.pending_returned || !a.device || a.marked_any || ev->status == STATUS_MORE_PROCESSING_REQUIRED) return;
  char sb[16];
  irp_state(v, ev->irp)->blame_device = a.device;
  report(v, VRF_PENDING_NOT_PROPAGATED, ev->irp, a.device, ev,
         "%s's completion routine saw PendingReturned=1 for IRP %u, did not call IoMarkIrpPending "
         "and returned %s: location %d stays unmarked",
         dev_name(v, a.device), ev->irp, iosim_status_name(ev->status, sb), a.location);
  /* The routine, not its dispatch routine, lost the mark of its location:
     a dispatch routine may return what IoCallDriver returned and leave the
     mark to its completion routine. */
  owed_t o;
  while (owed_take(irp_state(v, ev->irp), a.location, &o)) continue;
}

static void on_call(vrf_t *v, const trc_event_t *ev) {
  act_t *a = actor(v, ev);
  virp_t *st = irp_state(v, ev->irp);
  st->last_device = ev->device;
  st->last_seq = ev->seq;
  if (!a) return;
  touch(v, ev, "passed down");
  if (a->irp == ev->irp && (a->kind == ACT_DISPATCH || a->kind == ACT_COMPLETION)) {
    if (!a->prepared)
      report(v, VRF_FORWARD_WITHOUT_SETUP, ev->irp, a->device, ev,
             "%s passed IRP %u to %s without IoCopyCurrentIrpStackLocationToNext or "
             "IoSkipCurrentIrpStackLocation: %s found location %d as nobody had set it",
             dev_name(v, a->device), ev->irp, dev_name(v, ev->device), dev_name(v, ev->device),
             ev->stack_location);
    a->prepared = false;
    a->passed_down = true;
  }
  release(a, ev->irp, ev->seq, false);
}

/* The request of the system service that just returned in the thread of
   `ev` (the region check runs right after the service's syscall-return). */
static uint32_t last_service_irp(const vrf_t *v, const trc_event_t *ev) {
  for (uint64_t n = 0; n < LAST_STEPS && n < v->nsteps; n++) {
    const trc_event_t *s = &v->last[(v->nsteps - 1 - n) % LAST_STEPS].ev;
    if (s->kind == TRC_SYSCALL_RETURN && s->thread == ev->thread) return s->irp;
  }
  return 0;
}

static void on_bugcheck(vrf_t *v, const trc_event_t *ev) {
  const sim_bugcheck_t *b = sim_bugcheck(v->S);
  if (!b) return;
  act_t *a = actor(v, ev);
  uint32_t dev = a ? a->device : 0;
  vrf_rule_t r = VRF_RULE_COUNT;
  uint32_t irp = 0;
  if (b->code == MULTIPLE_IRP_COMPLETE_REQUESTS) r = VRF_DOUBLE_COMPLETION, irp = (uint32_t)b->p[0];
  else if (b->code == IRQL_NOT_LESS_OR_EQUAL && b->p[0] == 0) r = VRF_WAIT_AT_DISPATCH;
  else if (b->code == APC_INDEX_MISMATCH && b->p[0] == 0) r = VRF_REGION_NOT_LEFT, irp = last_service_irp(v, ev);
  else if (b->code == DRIVER_VERIFIER_IOMANAGER_VIOLATION) {
    irp = (uint32_t)b->p[1];
    switch (b->p[0]) {
    case 0x06: r = VRF_COMPLETE_PENDING; break;
    case 0x07: r = VRF_CANCEL_ROUTINE_SET; break;
    case 0x0E: r = VRF_COMPLETE_BAD_IRQL; break;
    case 0x10: r = VRF_CALL_BAD_IRQL; break;
    default: break;
    }
  }
  if (r == VRF_RULE_COUNT) return;
  if (irp >= 1 && (!a || a->irp == 0)) dev = irp_state(v, irp)->last_device;
  if (irp == 0 && a) irp = a->irp; /* a wait: the request the routine was handling */
  report(v, r, irp, dev, ev, "bugcheck 0x%X %s: %s", b->code, iosim_bugcheck_name(b->code), b->reason);
}

static void remember(vrf_t *v, const trc_event_t *ev) {
  step_t *s = &v->last[v->nsteps++ % LAST_STEPS];
  s->ev = *ev;
  size_t n = strnlen(ev->detail, sizeof s->detail - 1); /* a plain copy: this runs at every step */
  memcpy(s->detail, ev->detail, n);
  s->detail[n] = 0;
  s->ev.detail = s->detail;
}

static void vrf_event(void *ud, const trc_event_t *ev) {
  vrf_t *v = ud;
  if (ev->kind != TRC_RUN_END) remember(v, ev); /* the steps that led somewhere */
  virp_t *st = ev->irp ? irp_state(v, ev->irp) : NULL;
  if (st && ev->kind != TRC_IRP_OUTSTANDING) st->last_t = ev->t_ns; /* the account is no activity */
  act_t *a;
  switch (ev->kind) {
  case TRC_IRP_ALLOC:
    free(st->owed);
    *st = (virp_t){.live = true, .thread = ev->thread, .driver_owned = ev->major < 0,
                   .stack_size = ev->stack_size};
    break;
  case TRC_IRP_ASSOCIATED:
    st->driver_owned = false; /* its master finishes it */
    break;
  case TRC_IRP_FREE:
    if (!st->completed) touch(v, ev, "freed");
    st->freed = true;
    st->mpr_open = false;
    st->nowed = 0; /* no walk will leave its locations any more */
    break;
  case TRC_DISPATCH:
    push(v, ev, ACT_DISPATCH);
    if (st) { /* a new use of the location: the walk has not left it yet */
      bit_put(&st->left_marked, ev->stack_location, false);
      bit_put(&st->left_unmarked, ev->stack_location, false);
    }
    break;
  case TRC_RETURN: on_return(v, ev); break;
  case TRC_CALL: on_call(v, ev); break;
  case TRC_COPY_STACK:
  case TRC_SKIP_STACK:
    touch(v, ev, ev->kind == TRC_COPY_STACK ? "copied the stack location of" : "skipped the stack location of");
    if ((a = actor(v, ev)) && a->irp == ev->irp) a->prepared = true;
    if (st && ev->kind == TRC_COPY_STACK) bit_put(&st->marked, ev->loc_to, false); /* the copy's Control is 0 */
    break;
  case TRC_SET_COMPLETION:
    touch(v, ev, "set a completion routine in");
    a = actor(v, ev);
    /* The routine lands in location CurrentLocation - 1; the caller's own
       location or above means it was set after a skip (or by hand in the
       current location): it replaces the upper driver's routine and is
       called for the wrong device. */
    if (a && a->irp == ev->irp && a->location > 0 && ev->stack_location - 1 >= a->location)
      report(v, VRF_COMPLETION_IN_CURRENT, ev->irp, a->device, ev,
             "%s set a completion routine in location %d, its own location (%d) - not in the next "
             "one (%d), which the lower driver will use",
             dev_name(v, a->device), ev->stack_location - 1, a->location, a->location - 1);
    break;
  case TRC_MARK_PENDING:
    touch(v, ev, "marked pending");
    if (st) bit_put(&st->marked, ev->stack_location, true);
    if ((a = actor(v, ev)) && a->irp == ev->irp) {
      a->marked_any = true;
      if (ev->stack_location == a->location) a->marked_own = true;
    }
    break;
  case TRC_SET_CANCEL: touch(v, ev, "set the cancel routine of"); break;
  case TRC_HW_START: touch(v, ev, "started the hardware on"); break;
  case TRC_OP:
    if (ev->irp && ev->touches_irp) touch(v, ev, "used");
    break;
  case TRC_COMPLETE:
    touch(v, ev, "completed");
    st->mpr_open = false;
    /* The walk starts by leaving the completer's location. */
    if (ev->control >= 0) bit_put(&st->marked, ev->loc_from, (ev->control & SL_PENDING_RETURNED) != 0);
    st->walk_pos = ev->loc_from;
    if ((a = actor(v, ev))) release(a, ev->irp, ev->seq, true);
    break;
  case TRC_COMPLETION_CALL:
    /* Leaving loc_from: PendingReturned is its mark. */
    if (ev->pending_returned >= 0) bit_put(&st->marked, ev->loc_from, ev->pending_returned == 1);
    walk_to(v, ev->irp, st, ev->loc_from, ev);
    a = push(v, ev, ACT_COMPLETION);
    a->pending_returned = ev->pending_returned == 1;
    break;
  case TRC_PENDING_PROPAGATED:
    bit_put(&st->marked, ev->loc_from, true);
    walk_to(v, ev->irp, st, ev->loc_from, ev);
    bit_put(&st->marked, ev->loc_to, true);
    break;
  case TRC_COMPLETION_RETURN: on_completion_return(v, ev); break;
  case TRC_WALK_STOPPED:
    st->walk_pos = 0; /* the next IoCompleteRequest starts it again */
    st->mpr_open = !st->freed;
    st->mpr_device = ev->device;
    st->mpr_seq = ev->seq;
    reclaim(v, ev->irp, ev->device);
    break;
  case TRC_WALK_DONE:
    /* The rest of the walk: the top location's mark is PendingReturned. */
    if (st->stack_size > 0) {
      if (ev->pending_returned >= 0) bit_put(&st->marked, st->stack_size, ev->pending_returned == 1);
      walk_to(v, ev->irp, st, st->stack_size, ev);
    }
    st->walk_pos = 0;
    st->completed = true;
    st->done_seq = ev->seq;
    if (st->driver_owned && ev->target_thread == 0)
      report(v, VRF_DRIVER_IRP_NOT_RECLAIMED, ev->irp, st->last_device, ev,
             "IRP %u, allocated by a driver, finished its completion walk with no routine returning "
             "STATUS_MORE_PROCESSING_REQUIRED: stage 2 has no thread to run for", ev->irp);
    break;
  case TRC_DPC_RUN: push(v, ev, ACT_DPC); break;
  case TRC_ISR: push(v, ev, ACT_ISR); break;
  case TRC_APC_RUN: push(v, ev, ACT_APC); break;
  case TRC_DPC_END: {
    act_t x;
    (void)pop(v, ev, ACT_DPC, false, &x);
    break;
  }
  case TRC_ISR_END: {
    act_t x;
    (void)pop(v, ev, ACT_ISR, false, &x);
    break;
  }
  case TRC_APC_END: {
    act_t x;
    (void)pop(v, ev, ACT_APC, false, &x);
    break;
  }
  case TRC_BUGCHECK: on_bugcheck(v, ev); break;
  case TRC_IRP_OUTSTANDING:
    st->out_state = ev->irp_state;
    st->out_thread = ev->target_thread;
    st->out_device = ev->device;
    st->out_port = ev->port;
    st->out_location = ev->stack_location;
    copy_name(st->kept_why, sizeof st->kept_why, ev->text);
    break;
  case TRC_THREAD_STUCK:
    if (!IOSIM_VEC_RESERVE(v->stuck, v->capstuck, v->nstuck + 1)) out_of_memory();
    v->stuck[v->nstuck++] = (stuck_t){.thread = ev->target_thread, .object = ev->object, .port = ev->port,
                                      .count = ev->count};
    break;
  case TRC_RUN_END: {
    /* The outcome's first word: "ok", "stalled", "limit"... */
    const char *name = ev->outcome == TRC_OUTCOME_NONE ? "?" : sim_outcome_name((sim_outcome_t)ev->outcome);
    size_t n = strcspn(name, " ");
    if (n >= sizeof v->outcome) n = sizeof v->outcome - 1;
    memcpy(v->outcome, name, n);
    v->outcome[n] = '\0';
    break;
  }
  default: break;
  }
}

trc_sink_t vrf_sink(vrf_t *v) { return (trc_sink_t){.event = vrf_event, .ud = v}; }

vrf_t *vrf_new(sim_t *S) {
  vrf_t *v = iosim_calloc(1, sizeof *v);
  v->S = S;
  return v;
}

void vrf_free(vrf_t *v) {
  if (!v) return;
  for (int i = 0; i < v->nctx; i++) free(v->ctx[i].v);
  free(v->ctx);
  for (size_t i = 0; i < v->nirps; i++) free(v->irps[i].owed);
  free(v->irps);
  free(v->stuck);
  free(v->account);
  free(v->f);
  free(v);
}

/* ---- the end of the run ---- */

static void deadlock_report(vrf_t *v, sim_t *S) {
  char buf[512] = "", objs[256];
  size_t used = 0;
  for (uint32_t id = 1; id <= sim_thread_count(S); id++) {
    if (sim_thread_wait_names(S, id, objs, sizeof objs) == 0) continue;
    int k = snprintf(buf + used, sizeof buf - used, "%sthread %s waits for %s", used ? "; " : "",
                     sim_thread_name(S, id), objs);
    if (k > 0) used += (size_t)k < sizeof buf - used ? (size_t)k : sizeof buf - used - 1;
  }
  size_t live = 0;
  for (size_t i = 1; i < v->nirps; i++) live += v->irps[i].live && !v->irps[i].freed;
  report(v, VRF_DEADLOCK, 0, 0, NULL,
         "every thread left waits and nothing will ever wake it: %s; nothing is queued on a CPU or a "
         "device; %zu IRP%s never freed", buf, live, live == 1 ? " was" : "s were");
}

/* The end-of-run finding for one IRP still allocated, by where it
   stopped; -1 when none is due. */
static int end_finding(vrf_t *v, uint32_t id, virp_t *st) {
  if (st->out_state == TRC_IRPST_KEPT) return -1; /* a driver said so: sim_irp_keep */
  if (st->mpr_open) {
    report(v, VRF_MPR_NEVER_COMPLETED, id, st->mpr_device, NULL,
           "a completion routine of %s returned STATUS_MORE_PROCESSING_REQUIRED for IRP %u at step "
           "#%llu; nobody completed the IRP again or freed it before the run ended",
           dev_name(v, st->mpr_device), id, (unsigned long long)st->mpr_seq);
    return VRF_MPR_NEVER_COMPLETED;
  }
  if (!st->completed) {
    report(v, VRF_NEVER_COMPLETED, id, st->last_device, NULL,
           "IRP %u was last passed to %s (step #%llu) and never completed: the request is lost%s",
           id, dev_name(v, st->last_device), (unsigned long long)st->last_seq,
           st->thread ? ", and its thread can wait for it forever" : "");
    return VRF_NEVER_COMPLETED;
  }
  /* A packet on a port is the program's to take: not the drivers' doing. */
  if (st->out_state == TRC_IRPST_PORT) return -1;
  report(v, VRF_IRP_LEAKED, id, st->blame_device, NULL,
         "IRP %u finished its completion walk at step #%llu with PendingReturned=%d, and %s: it is never "
         "freed and its caller is never told",
         id, (unsigned long long)st->done_seq, st->out_state == TRC_IRPST_NO_STAGE2 ? 0 : 1,
         st->out_state == TRC_IRPST_APC ? "its stage-2 APC never ran"
                                        : "no stage 2 was queued (nor run inline by the system service)");
  return VRF_IRP_LEAKED;
}

/* One line of the account: where an IRP still allocated stopped. */
static void account_irp(vrf_t *v, sim_t *S, FILE *f, uint32_t id, const virp_t *st) {
  const sim_irp_info_t *in = sim_irp_info(S, id);
  fprintf(f, "  IRP %u", id);
  if (in && in->tag) fprintf(f, " (%s)", in->tag);
  if (st->out_thread) fprintf(f, " of %s", sim_thread_name(S, st->out_thread));
  fputs(": ", f);
  switch (st->out_state) {
  case TRC_IRPST_DRIVER:
  case TRC_IRPST_CREATOR:
    if (st->mpr_open)
      fprintf(f, "taken back by %s's completion routine (STATUS_MORE_PROCESSING_REQUIRED, step #%llu), "
              "never completed again or freed", dev_name(v, st->mpr_device), (unsigned long long)st->mpr_seq);
    else if (st->out_state == TRC_IRPST_DRIVER)
      fprintf(f, "still at stack location %d, %s's, never completed", st->out_location,
              dev_name(v, st->out_device));
    else
      fprintf(f, "with the driver that allocated it, never sent or never freed");
    break;
  case TRC_IRPST_APC:
    fprintf(f, "completed (step #%llu); its stage-2 APC never ran", (unsigned long long)st->done_seq);
    break;
  case TRC_IRPST_PORT:
    fprintf(f, "completed (step #%llu); its packet waits on port %s, nobody took it",
            (unsigned long long)st->done_seq, sim_port_name(S, st->out_port));
    break;
  case TRC_IRPST_NO_STAGE2:
    fprintf(f, "completed (step #%llu) with PendingReturned=0 and no stage 2 queued: lost",
            (unsigned long long)st->done_seq);
    break;
  case TRC_IRPST_KEPT: fprintf(f, "kept on purpose by a driver: %s", st->kept_why); break;
  default: fprintf(f, "still allocated"); break;
  }
  if (st->end_rule >= 0) fprintf(f, " [%s]", rule_tab[st->end_rule].name);
  fputc('\n', f);
}

static void account_thread(vrf_t *v, sim_t *S, FILE *f, const stuck_t *t) {
  fprintf(f, "  thread %s ", sim_thread_name(S, t->thread));
  char objs[256];
  if (t->port) fprintf(f, "waits on port %s", sim_port_name(S, t->port));
  else if (t->count > 0 && sim_thread_wait_names(S, t->thread, objs, sizeof objs) > 0) fprintf(f, "waits for %s", objs);
  else fprintf(f, "sleeps (a timed wait on no object)");
  /* Its own IRPs still allocated: an exiting thread waits for them. */
  int n = 0;
  for (uint32_t id = 1; id < v->nirps; id++)
    if (v->irps[id].out_state != TRC_IRPST_NONE && v->irps[id].out_thread == t->thread)
      fprintf(f, "%s%u", n++ ? ", " : "; its IRPs still allocated: ", id);
  fputc('\n', f);
}

/* The account's text: a heading, then a line per IRP and per thread. */
static void write_account(vrf_t *v, sim_t *S) {
  size_t len = 0, nirp = 0;
  for (uint32_t id = 1; id < v->nirps; id++) nirp += v->irps[id].out_state != TRC_IRPST_NONE;
  if (nirp == 0 && v->nstuck == 0) return;
  FILE *f = open_memstream(&v->account, &len);
  if (!f) out_of_memory();
  fprintf(f, "at the end: %zu IRP%s still allocated, %zu thread%s still waiting\n", nirp, nirp == 1 ? "" : "s",
          v->nstuck, v->nstuck == 1 ? "" : "s");
  for (uint32_t id = 1; id < v->nirps; id++)
    if (v->irps[id].out_state != TRC_IRPST_NONE) account_irp(v, S, f, id, &v->irps[id]);
  for (size_t i = 0; i < v->nstuck; i++) account_thread(v, S, f, &v->stuck[i]);
  if (fclose(f) != 0) out_of_memory();
}

void vrf_finish(vrf_t *v, sim_t *S) {
  if (v->finished) return;
  v->finished = true;
  v->S = S;
  /* After a bugcheck, requests in flight were cut off, not lost (and the
     machine writes no account).  At a limit, only those idle for the
     second half of the run count as lost (Windows makes an exiting thread
     wait for its IRPs, so a lost one keeps the run going until the limit). */
  bool limit = !strncmp(v->outcome, "limit", 5);
  bool ended = !strcmp(v->outcome, "ok") || !strcmp(v->outcome, "stalled") || limit;
  if (!ended) return;
  uint64_t now = sim_now(S);
  for (uint32_t id = 1; id < v->nirps; id++) {
    virp_t *st = &v->irps[id];
    st->end_rule = -1;
    if (!st->live || st->freed) continue;
    if (limit && st->last_t > now / 2) continue;
    st->end_rule = end_finding(v, id, st);
  }
  if (!strcmp(v->outcome, "stalled")) deadlock_report(v, S);
  write_account(v, S);
}

const char *vrf_account(const vrf_t *v) { return v->account ? v->account : ""; }

size_t vrf_count(const vrf_t *v) { return v->nf; }
const vrf_finding_t *vrf_get(const vrf_t *v, size_t i) { return i < v->nf ? &v->f[i] : NULL; }

/* Folds a paragraph at 76 columns under a 6-space indent. */
static void print_folded(const char *text, FILE *out) {
  const char *p = text;
  while (*p) {
    size_t n = strlen(p);
    if (n > 74) {
      n = 74;
      while (n > 20 && p[n] != ' ') n--;
    }
    fprintf(out, "      %.*s\n", (int)n, p);
    p += n;
    while (*p == ' ') p++;
  }
}

void vrf_print_finding(const vrf_finding_t *f, FILE *out) {
  const vrf_rule_info_t *r = &rule_tab[f->rule];
  char irp[64] = "-", step[64] = "at the end of the run";
  if (f->irp) snprintf(irp, sizeof irp, f->irp_tag[0] ? "IRP %u (%s)" : "IRP %u", f->irp, f->irp_tag);
  if (f->seq)
    snprintf(step, sizeof step, "step #%llu at %llu.%03llu us", (unsigned long long)f->seq,
             (unsigned long long)(f->t_ns / 1000), (unsigned long long)(f->t_ns % 1000));
  fprintf(out, "  FINDING %s: %s\n    %s, device %s, %s\n", r->name, r->title, irp,
          f->device_name[0] ? f->device_name : "-", step);
  print_folded(f->what, out);
  if (r->bugcheck) {
    char bc[96];
    if (r->subcode)
      snprintf(bc, sizeof bc, "Windows stops with bugcheck 0x%X (%s), parameter 1 = 0x%X.", r->bugcheck,
               iosim_bugcheck_name(r->bugcheck), r->subcode);
    else
      snprintf(bc, sizeof bc, "Windows stops with bugcheck 0x%X (%s).", r->bugcheck,
               iosim_bugcheck_name(r->bugcheck));
    fprintf(out, "    rule:\n");
    print_folded(r->explain, out);
    print_folded(bc, out);
  } else {
    fprintf(out, "    rule:\n");
    print_folded(r->explain, out);
  }
}

void vrf_print_last_steps(const vrf_t *v, sim_t *S, size_t n, FILE *out) {
  if (n > LAST_STEPS) n = LAST_STEPS;
  if (n > v->nsteps) n = (size_t)v->nsteps;
  for (uint64_t i = v->nsteps - n; i < v->nsteps; i++) {
    const trc_event_t *ev = &v->last[i % LAST_STEPS].ev;
    char irql[16], irp[16];
    snprintf(irp, sizeof irp, ev->irp ? "%u" : "-", ev->irp);
    fprintf(out, "    #%-5llu %9llu.%03llu us cpu %d %-8s %-6s %-8s irp %-3s %-8s %-20s %s\n",
            (unsigned long long)ev->seq, (unsigned long long)(ev->t_ns / 1000),
            (unsigned long long)(ev->t_ns % 1000), ev->cpu, ev->cpu >= 0 ? trc_irql_name(ev->irql, irql) : "-",
            ev->cpu >= 0 ? trc_frame_name(ev->frame) : "-", ev->thread ? sim_thread_name(S, ev->thread) : "-",
            irp, ev->device ? sim_device_name(S, ev->device) : "-", trc_kind_name(ev->kind), ev->detail);
  }
}
