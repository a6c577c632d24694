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
static void dbg_send_line(sim_t *S, const char *service, int level, const char *line) {
  trc_event_t e = trc_ev(TRC_DBGPRINT, NULL, NULL);
  e.text = line; /* the driver's own words */
  e.service = service;
  e.count = level;
  trc_send(S, &e, "%s", line);
}

/* The debugger shows the output as lines: a DbgPrint without a newline
   ("SIOCTL.SYS: " and then the message, or one character at a time) is
   kept until the rest of its line comes, and that line is one step. */
static void dbg_emit(sim_t *S, const char *service, int level, char *text) {
  /* A piece left by another thread, DPC or CPU is not this line's start. */
  const void *who = thr_current(S) ? (const void *)thr_current(S) : (const void *)S->cur_cpu;
  if (S->dbg_len && who != S->dbg_who) ke_dbg_flush(S);
  S->dbg_who = who;
  if (trc_on(S)) {
    for (char *line = text, *next; line && *line; line = next) {
      next = strchr(line, '\n');
      if (next) *next++ = '\0';
      size_t n = strlen(line), room = sizeof S->dbg_line - 1 - S->dbg_len;
      if (!next) { /* no newline yet: keep it */
        if (n > room) ke_dbg_flush(S);
        room = sizeof S->dbg_line - 1 - S->dbg_len;
        n = n < room ? n : room;
        memcpy(S->dbg_line + S->dbg_len, line, n);
        S->dbg_len += n;
        S->dbg_line[S->dbg_len] = 0;
        break;
      }
      if (S->dbg_len) {
        n = n < room ? n : room;
        memcpy(S->dbg_line + S->dbg_len, line, n);
        S->dbg_line[S->dbg_len + n] = 0;
        S->dbg_len = 0;
        if (S->dbg_line[0]) dbg_send_line(S, service, level, S->dbg_line);
        continue;
      }
      if (*line) dbg_send_line(S, service, level, line);
    }
  }
  sched_step(S, COST_STEP);
}

void ke_dbg_flush(sim_t *S) {
  if (!S->dbg_len) return;
  S->dbg_len = 0;
  if (trc_on(S)) dbg_send_line(S, "DbgPrint", -1, S->dbg_line);
}

/* Appends to out[*k..n) as snprintf would (truncating). */
static void put(char *out, size_t n, size_t *k, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *out, size_t n, size_t *k, const char *fmt, ...) {
  if (*k + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(out + *k, n - *k, fmt, ap);
  va_end(ap);
  if (m > 0) *k = *k + (size_t)m < n ? *k + (size_t)m : n - 1;
}

/* The kernel's printf: C's conversions, plus Windows' own - %wZ (a
   PUNICODE_STRING), %ws / %ls / %S (a NUL-terminated 16-bit string: drivers
   are built with -fshort-wchar) and the I64 / I32 / I size prefixes.  Each
   conversion is handed to snprintf with its argument fetched by type, so
   the engine never depends on the size of wchar_t. */
/* %p as Windows prints it (16 upper-case hex digits, no 0x), but of an
   address made up for the run: the n-th pointer a driver prints is
   FFFFC000'0000n000.  Real addresses differ from run to run (ASLR, the
   heap), and a trace must not. */
static uintptr_t dbg_stable_address(sim_t *S, const void *p) {
  if (!p) return 0;
  uintptr_t v;
  if (!ptrmap_get(&S->dbg_ptrs, p, &v)) {
    v = ++S->dbg_nptrs;
    ptrmap_put(S, &S->dbg_ptrs, p, v);
  }
  return (uintptr_t)0xFFFFC00000000000ull + v * 0x1000;
}

static void dbg_vformat(sim_t *S, char *out, size_t n, const char *f, va_list ap) {
  size_t k = 0;
  out[0] = 0;
  while (*f && k + 1 < n) {
    if (*f != '%') {
      out[k++] = *f++;
      out[k] = 0;
      continue;
    }
    char spec[32];
    size_t s = 0;
    spec[s++] = *f++;
    int stars[2], nstars = 0;
    while (*f && strchr("-+ #0", *f) && s < 20) spec[s++] = *f++;
    for (int part = 0; part < 2; part++) {
      if (part == 1) {
        if (*f != '.') break;
        spec[s++] = *f++;
      }
      if (*f == '*') {
        stars[nstars++] = va_arg(ap, int);
        spec[s++] = *f++;
      } else
        while (*f >= '0' && *f <= '9' && s < 24) spec[s++] = *f++;
    }
    int longs = 0, shorts = 0;
    bool size_t_arg = false, wide = false;
    if (!strncmp(f, "I64", 3)) longs = 2, f += 3;
    else if (!strncmp(f, "I32", 3)) f += 3;
    else if (*f == 'I') size_t_arg = true, f++;
    for (; *f && strchr("hlLqjztw", *f); f++) {
      if (*f == 'l' || *f == 'L' || *f == 'q') longs++;
      else if (*f == 'h') shorts++;
      else if (*f == 'z' || *f == 't' || *f == 'j') size_t_arg = true;
      else if (*f == 'w') wide = true;
    }
    char conv = *f ? *f++ : '%';
    char u8[512];
    if (conv == 'Z' && wide) {
      iosim_unicode_to_utf8(va_arg(ap, PCUNICODE_STRING), u8, sizeof u8);
      put(out, n, &k, "%s", u8);
      continue;
    }
    if ((conv == 's' && (wide || longs)) || conv == 'S') {
      PCWSTR w = va_arg(ap, PCWSTR);
      UNICODE_STRING us;
      RtlInitUnicodeString(&us, w);
      put(out, n, &k, "%s", w ? iosim_unicode_to_utf8(&us, u8, sizeof u8) : "(null)");
      continue;
    }
    if (conv == '%') {
      put(out, n, &k, "%%");
      continue;
    }
    /* A plain conversion: rebuild it with a length C knows. */
    if (strchr("diouxXc", conv)) {
      if (size_t_arg) spec[s++] = 'z';
      else if (longs) for (int i = 0; i < longs && i < 2; i++) spec[s++] = 'l';
      else for (int i = 0; i < shorts && i < 2; i++) spec[s++] = 'h'; /* %hd: a short, %hhu: a char */
    }
    spec[s++] = conv;
    spec[s] = 0;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define PUT_ARG(v)                                                                        \
  (nstars == 2 ? put(out, n, &k, spec, stars[0], stars[1], v)                            \
   : nstars == 1 ? put(out, n, &k, spec, stars[0], v) : put(out, n, &k, spec, v))
    if (strchr("di", conv)) {
      if (size_t_arg) PUT_ARG(va_arg(ap, ptrdiff_t));
      else if (longs >= 2) PUT_ARG(va_arg(ap, long long));
      else if (longs == 1) PUT_ARG(va_arg(ap, long));
      else PUT_ARG(va_arg(ap, int));
    } else if (strchr("ouxXc", conv)) {
      if (size_t_arg) PUT_ARG(va_arg(ap, size_t));
      else if (longs >= 2) PUT_ARG(va_arg(ap, unsigned long long));
      else if (longs == 1) PUT_ARG(va_arg(ap, unsigned long));
      else PUT_ARG(va_arg(ap, unsigned));
    } else if (strchr("eEfFgGaA", conv)) {
      PUT_ARG(va_arg(ap, double));
    } else if (conv == 's') {
      const char *str = va_arg(ap, const char *);
      PUT_ARG(str ? str : "(null)");
    } else if (conv == 'p') {
      spec[s - 1] = 0; /* the flags and width, then the digits */
      char digits[24];
      snprintf(digits, sizeof digits, "%016llX", (unsigned long long)dbg_stable_address(S, va_arg(ap, void *)));
      spec[s - 1] = 's';
      PUT_ARG(digits);
    } else {
      put(out, n, &k, "%s", spec); /* unknown: shown as written */
    }
#undef PUT_ARG
#pragma GCC diagnostic pop
  }
}

ULONG DbgPrint(PCSTR Format, ...) {
  char text[512];
  va_list ap;
  va_start(ap, Format);
  dbg_vformat(ctx_sim(), text, sizeof text, Format, ap);
  va_end(ap);
  dbg_emit(ctx_sim(), "DbgPrint", -1, text);
  return (ULONG)STATUS_SUCCESS;
}

ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
  (void)ComponentId;
  char text[512];
  va_list ap;
  va_start(ap, Format);
  dbg_vformat(ctx_sim(), text, sizeof text, Format, ap);
  va_end(ap);
  dbg_emit(ctx_sim(), "DbgPrintEx", (int)Level, text);
  return (ULONG)STATUS_SUCCESS;
}

/* int 3: with a kernel debugger attached (bcdedit /debug on, and one
   connected) the debugger gets the exception and, as the person at it
   would type `g`, the run continues; without one, nothing handles the
   breakpoint exception: bugcheck 0x1E. */
void DbgBreakPoint(void) {
  sim_t *S = ctx_sim();
  if (S->cfg.kernel_debugger) {
    char text[] = "Break instruction exception - code 80000003 (first chance): the kernel debugger continues (g)\n";
    dbg_emit(S, "DbgBreakPoint", -1, text);
    return;
  }
  bugcheck(S, KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(uint32_t)STATUS_BREAKPOINT, 0, 0, 0,
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
