/*
 * stops.c - the stops the kernel library raises besides the classic
 * bugchecks: Driver Verifier's (0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION,
 * parameter 1 the subcode), an exception no driver handles (0x1E
 * KMODE_EXCEPTION_NOT_HANDLED, parameter 1 the status raised), and a DDI
 * called above the IRQL it allows (0xC4/0xE5).  kernel-facts 13.
 */
#include "ke/ke.h"

#include <stdio.h>

void ke_verifier_stop(sim_t *S, ULONG_PTR sub, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4, const char *fmt, ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  bugcheck(S, DRIVER_VERIFIER_DETECTED_VIOLATION, sub, p2, p3, p4, "%s", why);
}

void ke_raise_stop(sim_t *S, NTSTATUS status, const char *fmt, ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  bugcheck(S, KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(uint32_t)status, 0, 0, 0, "%s", why);
}

void ke_check_irql(sim_t *S, KIRQL max, const char *routine) {
  KIRQL irql = S->cur_cpu->irql;
  if (irql > max)
    ke_verifier_stop(S, 0xE5, irql, 0, 0, "%s called at IRQL %d; its callers must be at or below %d", routine, irql,
                     max);
}
