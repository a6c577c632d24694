/*
 * debug.c - what a driver says to the kernel debugger (kernel-facts 13.9):
 * DbgPrint and DbgPrintEx put the driver's own line in the trace (kind
 * `dbgprint`, its words in `text`); a failed ASSERT prints what Windows
 * prints and then breaks into a debugger that is not there, which stops
 * the machine with KMODE_EXCEPTION_NOT_HANDLED (STATUS_BREAKPOINT), as a
 * Windows machine without a kernel debugger stops.  Also RtlCompareMemory,
 * the one memory helper of wdm.h that is a routine, not a macro.
 */
#include "ke/ke.h"

#include <stdio.h>

/* One row per line of the message (a driver's lines end with "\n"); one
   step for the whole call. */
static void dbg_emit(sim_t *S, const char *service, int level, char *text) {
  if (trc_on(S)) {
    for (char *line = text, *next; line && *line; line = next) {
      next = strchr(line, '\n');
      if (next) *next++ = '\0';
      if (!*line) continue;
      trc_event_t e = trc_ev(TRC_DBGPRINT, NULL, NULL);
      e.text = line; /* the driver's own words */
      e.service = service;
      e.count = level;
      trc_send(S, &e, "%s", line);
    }
  }
  sched_step(S, COST_STEP);
}

ULONG DbgPrint(PCSTR Format, ...) {
  char text[512];
  va_list ap;
  va_start(ap, Format);
  vsnprintf(text, sizeof text, Format, ap);
  va_end(ap);
  dbg_emit(ctx_sim(), "DbgPrint", -1, text);
  return (ULONG)STATUS_SUCCESS;
}

ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
  (void)ComponentId;
  char text[512];
  va_list ap;
  va_start(ap, Format);
  vsnprintf(text, sizeof text, Format, ap);
  va_end(ap);
  dbg_emit(ctx_sim(), "DbgPrintEx", (int)Level, text);
  return (ULONG)STATUS_SUCCESS;
}

void DbgBreakPoint(void) {
  bugcheck(ctx_sim(), KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(uint32_t)STATUS_BREAKPOINT, 0, 0, 0,
           "DbgBreakPoint with no kernel debugger attached: the breakpoint exception is not handled");
}

void ke_assert_failed(sim_t *S, const char *expr, const char *file, unsigned long line, const char *msg) {
  char text[512];
  snprintf(text, sizeof text, "*** Assertion failed: %s%s%s\n***   Source File: %s, line %lu\n", msg ? msg : "",
           msg ? " " : "", expr, file, line);
  dbg_emit(S, "RtlAssert", -1, text);
  bugcheck(S, KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(uint32_t)STATUS_BREAKPOINT, 0, 0, 0,
           "ASSERT(%s) failed at %s:%lu; with no kernel debugger attached the breakpoint is not handled", expr,
           file, line);
}

void RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber, PSTR MutableMessage) {
  ke_assert_failed(ctx_sim(), VoidFailedAssertion, VoidFileName, LineNumber, MutableMessage);
}

SIZE_T RtlCompareMemory(const void *Source1, const void *Source2, SIZE_T Length) {
  const unsigned char *a = Source1, *b = Source2;
  SIZE_T n = 0;
  while (n < Length && a[n] == b[n]) n++;
  return n;
}
