/*
 * trace.c - the trace: every step goes through trc_emit to the sinks, with
 * the CPU, IRQL, frame and thread filled in from the machine's state; plus
 * the names of statuses, kinds, majors and bugchecks.
 */
#include "core/core.h"

#include <stdio.h>

static const char *const kind_names[] = {
#define TRC_X(e, s) s,
    TRC_KIND_MAP(TRC_X)
#undef TRC_X
};

const char *trc_kind_name(trc_kind_t k) { return (unsigned)k < TRC_KIND_COUNT ? kind_names[k] : "?"; }

int trc_kind_parse(const char *name) {
  for (int i = 0; i < TRC_KIND_COUNT; i++)
    if (strcmp(kind_names[i], name) == 0) return i;
  return -1;
}

static const char *const irp_state_names[] = {NULL, "driver", "creator", "apc", "port", "no-stage2", "kept"};

const char *trc_irp_state_name(trc_irp_state_t s) {
  return (unsigned)s < ARRAY_LEN(irp_state_names) ? irp_state_names[s] : NULL;
}

int trc_irp_state_parse(const char *name) {
  for (size_t i = 1; i < ARRAY_LEN(irp_state_names); i++)
    if (strcmp(irp_state_names[i], name) == 0) return (int)i;
  return -1;
}

const char *trc_frame_name(trc_frame_t f) {
  static const char *n[] = {"idle", "thread", "apc", "dpc", "isr"};
  return (unsigned)f < ARRAY_LEN(n) ? n[f] : "?";
}

const char *trc_irql_name(int irql, char buf[16]) {
  switch (irql) {
  case PASSIVE_LEVEL: return "PASSIVE";
  case APC_LEVEL: return "APC";
  case DISPATCH_LEVEL: return "DISPATCH";
  case HIGH_LEVEL: return "HIGH";
  default: snprintf(buf, 16, "DIRQL%d", irql); return buf;
  }
}

static const struct { const char *name; NTSTATUS v; } status_tab[] = {
#define IOSIM_X(name, value) {#name, (NTSTATUS)(value)},
    IOSIM_STATUS_MAP(IOSIM_X)
#undef IOSIM_X
};

const char *iosim_status_name(NTSTATUS s, char buf[16]) {
  for (size_t i = 0; i < ARRAY_LEN(status_tab); i++)
    if (status_tab[i].v == s) return status_tab[i].name;
  snprintf(buf, 16, "0x%08X", (unsigned)s);
  return buf;
}

bool iosim_status_parse(const char *text, NTSTATUS *out) {
  for (size_t i = 0; i < ARRAY_LEN(status_tab); i++)
    if (strcmp(status_tab[i].name, text) == 0) {
      *out = status_tab[i].v;
      return true;
    }
  char *end;
  unsigned long v = strtoul(text, &end, 0);
  if (!*text || *end || v > 0xFFFFFFFFul) return false;
  *out = (NTSTATUS)(uint32_t)v;
  return true;
}

const char *iosim_major_name(UCHAR m) {
  switch (m) {
  case IRP_MJ_CREATE: return "IRP_MJ_CREATE";
  case IRP_MJ_CLOSE: return "IRP_MJ_CLOSE";
  case IRP_MJ_READ: return "IRP_MJ_READ";
  case IRP_MJ_WRITE: return "IRP_MJ_WRITE";
  case IRP_MJ_FLUSH_BUFFERS: return "IRP_MJ_FLUSH_BUFFERS";
  case IRP_MJ_DEVICE_CONTROL: return "IRP_MJ_DEVICE_CONTROL";
  case IRP_MJ_INTERNAL_DEVICE_CONTROL: return "IRP_MJ_INTERNAL_DEVICE_CONTROL";
  case IRP_MJ_SHUTDOWN: return "IRP_MJ_SHUTDOWN";
  case IRP_MJ_CLEANUP: return "IRP_MJ_CLEANUP";
  case IRP_MJ_POWER: return "IRP_MJ_POWER";
  case IRP_MJ_PNP: return "IRP_MJ_PNP";
  default: return "IRP_MJ_?";
  }
}

/* Every stop code the simulator raises, with its name: one table for
   both directions (the report names a code, an expectation parses one). */
#define IOSIM_BUGCHECK_X(c) {c, #c},
static const struct bugcheck_name {
  ULONG code;
  const char *name;
} bugcheck_names[] = {
    IOSIM_BUGCHECK_X(NO_MORE_IRP_STACK_LOCATIONS)
    IOSIM_BUGCHECK_X(MULTIPLE_IRP_COMPLETE_REQUESTS)
    IOSIM_BUGCHECK_X(CANCEL_STATE_IN_COMPLETED_IRP)
    IOSIM_BUGCHECK_X(IRQL_NOT_LESS_OR_EQUAL)
    IOSIM_BUGCHECK_X(IRQL_NOT_GREATER_OR_EQUAL)
    IOSIM_BUGCHECK_X(DRIVER_VERIFIER_IOMANAGER_VIOLATION)
    IOSIM_BUGCHECK_X(UNEXPECTED_KERNEL_MODE_TRAP)
    IOSIM_BUGCHECK_X(KERNEL_SECURITY_CHECK_FAILURE)
    IOSIM_BUGCHECK_X(APC_INDEX_MISMATCH)
    IOSIM_BUGCHECK_X(KERNEL_APC_PENDING_DURING_EXIT)
    IOSIM_BUGCHECK_X(MAXIMUM_WAIT_OBJECTS_EXCEEDED)
    IOSIM_BUGCHECK_X(KMODE_EXCEPTION_NOT_HANDLED)
    IOSIM_BUGCHECK_X(REFERENCE_BY_POINTER)
    IOSIM_BUGCHECK_X(INVALID_KERNEL_HANDLE)
    IOSIM_BUGCHECK_X(BAD_POOL_CALLER)
    IOSIM_BUGCHECK_X(DRIVER_VERIFIER_DETECTED_VIOLATION)
    IOSIM_BUGCHECK_X(WORKER_THREAD_RETURNED_AT_BAD_IRQL)
    IOSIM_BUGCHECK_X(WORKER_INVALID)
    IOSIM_BUGCHECK_X(THREAD_TERMINATE_HELD_MUTEX)
};
#undef IOSIM_BUGCHECK_X

const char *iosim_bugcheck_name(ULONG code) {
  for (size_t i = 0; i < sizeof bugcheck_names / sizeof bugcheck_names[0]; i++)
    if (bugcheck_names[i].code == code) return bugcheck_names[i].name;
  return "BUGCHECK";
}

bool iosim_bugcheck_parse(const char *name, ULONG *code) {
  for (size_t i = 0; i < sizeof bugcheck_names / sizeof bugcheck_names[0]; i++)
    if (!strcmp(bugcheck_names[i].name, name)) {
      *code = bugcheck_names[i].code;
      return true;
    }
  return false;
}

uint32_t name_add(sim_t *S, name_tab_t *t, const char *name) {
  VEC_RESERVE(S, t->v, t->cap, (size_t)t->n + 1);
  t->v[t->n++] = mem_strdup(S, name);
  return t->n; /* ids start at 1 */
}

const char *name_get(const name_tab_t *t, uint32_t id) {
  return id >= 1 && id <= t->n ? t->v[id - 1] : "";
}

const char *sim_thread_name(sim_t *S, uint32_t id) { return name_get(&S->thread_names, id); }
const char *sim_device_name(sim_t *S, uint32_t id) { return name_get(&S->device_names, id); }

/* Dispatcher objects and file objects share one numbering; the name is
   the one the object had when it was first traced. */
uint32_t obj_id(sim_t *S, DISPATCHER_HEADER *h) {
  if (!h->Id) h->Id = name_add(S, &S->object_names, h->Name ? h->Name : "");
  return h->Id;
}

/* Where the scenario line of the running code is kept: a nested frame
   (ISR, DPC, APC) has its own, popped with it; the base frame (a thread's
   code) keeps it in the running coroutine, so it follows the thread when
   it waits and resumes. */
static int *line_cell(sim_t *S) {
  cpu_t *c = S->cur_cpu;
  if (c && c->depth > 0) return &c->frames[c->depth].line;
  return S->cur_ctx ? &S->cur_ctx->src_line : NULL;
}

int sim_set_source_line(int line) {
  int *cell = line_cell(ctx_sim());
  if (!cell) return 0;
  int prev = *cell;
  *cell = line;
  return prev;
}

/* Fills in where the machine is, formats the detail, and hands the step
   to every sink. */
static void trc_sendv(sim_t *S, trc_event_t *ev, const char *fmt, va_list ap) {
  char detail[256];
  /* Garbled, the prose is never read: not even formatted. */
  if (!S->garble_detail) vsnprintf(detail, sizeof detail, fmt, ap);
  cpu_t *c = S->cur_cpu;
  ev->seq = ++S->trace_seq;
  ev->t_ns = S->now;
  ev->cpu = c ? c->id : -1;
  ev->irql = c ? c->irql : 0;
  ev->frame = c ? cpu_frame(c) : TRC_FRAME_IDLE;
  ev->thread = c && c->thread ? c->thread->id : 0;
  const int *line = line_cell(S);
  ev->line = line ? *line : 0;
  ev->detail = S->garble_detail ? "x" : detail;
  for (size_t i = 0; i < S->nsinks; i++) S->sinks[i].event(S->sinks[i].ud, ev);
}

void trc_send(sim_t *S, trc_event_t *ev, const char *fmt, ...) {
  if (!trc_on(S)) return;
  va_list ap;
  va_start(ap, fmt);
  trc_sendv(S, ev, fmt, ap);
  va_end(ap);
}

void sim_trace(trc_event_t *ev, const char *fmt, ...) {
  sim_t *S = ctx_sim();
  if (!trc_on(S)) return;
  va_list ap;
  va_start(ap, fmt);
  trc_sendv(S, ev, fmt, ap);
  va_end(ap);
}

void sim_charge(sim_cost_t cost) { sched_step(ctx_sim(), cost); }

void sim_garble_details(sim_t *S, bool on) { S->garble_detail = on; }

static void note_v(const DEVICE_OBJECT *Dev, const char *fmt, va_list ap) {
  sim_t *S = ctx_sim();
  if (!trc_on(S)) return;
  char text[256];
  vsnprintf(text, sizeof text, fmt, ap);
  trc_event_t e = trc_ev(TRC_NOTE, NULL, Dev);
  e.text = text; /* a note's words are the scenario's (or the driver's) own */
  trc_send(S, &e, "%s", text);
}

void sim_note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  note_v(NULL, fmt, ap);
  va_end(ap);
}

void sim_driver_note(PDEVICE_OBJECT Dev, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  note_v(Dev, fmt, ap);
  va_end(ap);
}

/* A scripted step: `text` is the operation as the scenario wrote it, the
   detail what became of it. */
static void trace_op(sim_t *S, uint32_t irp, int loc, PDEVICE_OBJECT Dev, const char *text, bool touches,
                     const char *fmt, va_list ap) {
  trc_event_t e = trc_ev(TRC_OP, NULL, Dev);
  e.irp = irp, e.stack_location = loc;
  e.text = text;
  e.touches_irp = touches;
  char detail[256];
  vsnprintf(detail, sizeof detail, fmt, ap);
  trc_send(S, &e, "%s", detail);
}

void sim_trace_op(PIRP Irp, PDEVICE_OBJECT Dev, const char *fmt, ...) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    va_list ap;
    va_start(ap, fmt);
    trace_op(S, Irp ? Irp->SimId : 0, Irp ? Irp->CurrentLocation : 0, Dev, NULL, false, fmt, ap);
    va_end(ap);
  }
  sched_step(S, COST_OP);
}

void sim_trace_op_id(uint32_t IrpId, PDEVICE_OBJECT Dev, const char *fmt, ...) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    va_list ap;
    va_start(ap, fmt);
    trace_op(S, IrpId, 0, Dev, NULL, false, fmt, ap);
    va_end(ap);
  }
  sched_step(S, COST_OP);
}

void sim_trace_script(uint32_t IrpId, PDEVICE_OBJECT Dev, const char *Text, bool TouchesIrp, const char *fmt, ...) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    int loc = 0;
    uintptr_t irp;
    if (IrpId && ptrmap_get(&S->live_irp_ids, (const void *)(uintptr_t)IrpId, &irp))
      loc = ((const IRP *)irp)->CurrentLocation;
    va_list ap;
    va_start(ap, fmt);
    trace_op(S, IrpId, loc, Dev, Text, TouchesIrp, fmt, ap);
    va_end(ap);
  }
  sched_step(S, COST_OP);
}

int sim_set_sink(sim_t *S, const trc_sink_t *sink) {
  S->nsinks = 0;
  return sink ? sim_add_sink(S, sink) : SIM_OK;
}

int sim_add_sink(sim_t *S, const trc_sink_t *sink) {
  if (!sink || !sink->event) return SIM_EINVAL;
  VEC_RESERVE(S, S->sinks, S->sinks_cap, S->nsinks + 1);
  S->sinks[S->nsinks++] = *sink;
  return SIM_OK;
}
