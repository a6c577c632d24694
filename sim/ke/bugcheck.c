/*
 * bugcheck.c - what Windows would crash on stops the simulated machine:
 * the code, its parameters, where it happened, recorded and traced; the
 * run ends cleanly and sim_bugcheck_report() prints a crash analysis.
 */
#include "ke/ke.h"

#include <stdio.h>

void bugcheck(sim_t *S, ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4,
              const char *fmt, ...) {
  sim_bugcheck_t *b = &S->bugcheck;
  cpu_t *c = S->cur_cpu;
  b->code = code;
  b->p[0] = p1, b->p[1] = p2, b->p[2] = p3, b->p[3] = p4;
  b->cpu = c ? c->id : -1;
  b->irql = c ? c->irql : 0;
  b->frame = c ? cpu_frame(c) : TRC_FRAME_IDLE;
  b->t_ns = S->now;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->reason, sizeof b->reason, fmt, ap);
  va_end(ap);
  S->has_bugcheck = true;
  S->outcome = SIM_RUN_BUGCHECK;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_BUGCHECK, NULL, NULL);
    e.bugcheck_code = code;
    e.service = iosim_bugcheck_name(code);
    trc_send(S, &e, "0x%X %s (%lX, %lX, %lX, %lX): %s", code, iosim_bugcheck_name(code), (unsigned long)p1,
             (unsigned long)p2, (unsigned long)p3, (unsigned long)p4, b->reason);
  }
  sched_stop(S);
}

void ke_stack_low(sim_t *S, const char *where) {
  const ctx_t *c = S->cur_ctx;
  size_t left = ctx_stack_left(c); /* the exact test: the frame may be on another stack */
  if (left >= CTX_STACK_MARGIN) return;
  size_t usable = c->size - c->floor, used = usable - left;
  bugcheck(S, UNEXPECTED_KERNEL_MODE_TRAP, EXCEPTION_DOUBLE_FAULT, (ULONG_PTR)used,
           (ULONG_PTR)c->calls, 0,
           "kernel stack overflowed in %s, %u IoCallDriver calls deep (%zu of %zu bytes "
           "used): a driver recursing?",
           where, c->calls, used, usable);
}

void KeBugCheckEx(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4) {
  bugcheck(ctx_sim(), Code, P1, P2, P3, P4, "KeBugCheckEx called by a driver");
}

const sim_bugcheck_t *sim_bugcheck(const sim_t *S) { return S->has_bugcheck ? &S->bugcheck : NULL; }

void sim_bugcheck_report(sim_t *S, FILE *f) {
  const sim_bugcheck_t *b = sim_bugcheck(S);
  if (!b) return;
  char irql[16];
  fprintf(f,
          "*** STOP: 0x%08X (0x%lX, 0x%lX, 0x%lX, 0x%lX)\n"
          "    %s\n"
          "    %s\n"
          "    at %llu ns on CPU %d, IRQL %s, in a %s frame\n",
          b->code, (unsigned long)b->p[0], (unsigned long)b->p[1], (unsigned long)b->p[2],
          (unsigned long)b->p[3], iosim_bugcheck_name(b->code), b->reason,
          (unsigned long long)b->t_ns, b->cpu, trc_irql_name(b->irql, irql), trc_frame_name(b->frame));
  if (b->code == DRIVER_VERIFIER_IOMANAGER_VIOLATION)
    fprintf(f, "    (Driver Verifier's stop, as with its I/O verification on: without the verifier\n"
               "     Windows goes on here with a corrupted request)\n");
  if (b->code == DRIVER_VERIFIER_DETECTED_VIOLATION)
    fprintf(f, "    (Driver Verifier's stop, subcode 0x%lX, as with its deadlock detection and IRQL\n"
               "     checking on: without the verifier Windows would hang or go on here)\n",
            (unsigned long)b->p[0]);
}
