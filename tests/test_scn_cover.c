/*
 * test_scn_cover.c - the scenario language's refusals and behaviours, one
 * assertion per user-visible message: every malformed line the lexer, the
 * parser, the load-time checks and the expect reader refuse is written to a
 * file of its own and loaded, and the exact "file:line:col: message" is
 * compared (tables below, one per part of sim/scn/).  Then the pieces that
 * need files around them (includes, the library path, C driver files) and
 * small runs whose expectations or results say what the interpreter did.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "iosim/scenario.h"
#include "testlib.h"

typedef struct refusal {
  const char *text; /* the whole scenario file */
  int line, col;
  const char *msg;  /* exact; {F} stands for the file's path, {D} for its folder */
} refusal_t;

/* A fresh folder for a test's files; its real path is in `real`. */
static void make_dir(char *dir, size_t n, char *real) {
  snprintf(dir, n, "/tmp/iosim-scncov-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_ptr_nonnull(realpath(dir, real));
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* msg with {F} and {D} replaced. */
static void expand(char *out, size_t n, const char *msg, const char *file, const char *dir) {
  size_t k = 0;
  for (const char *s = msg; *s && k + 1 < n;) {
    const char *rep = !strncmp(s, "{F}", 3) ? file : !strncmp(s, "{D}", 3) ? dir : NULL;
    if (rep) {
      k += (size_t)snprintf(out + k, n - k, "%s", rep);
      s += 3;
    } else {
      out[k++] = *s++;
    }
  }
  out[k < n ? k : n - 1] = 0;
}

/* Loads each text from a file of its own: every one must be refused where
   and as the table says.  All mismatches are printed, then counted. */
static void check_table(const char *name, const refusal_t *t, size_t n) {
  char dir[64], real[PATH_MAX];
  make_dir(dir, sizeof dir, real);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    char path[128], want[1024];
    snprintf(path, sizeof path, "%s/t%03zu.iosim", dir, i);
    write_file(path, t[i].text);
    expand(want, sizeof want, t[i].msg, path, real);
    scn_error_t err;
    scn_t *sc = scn_load(path, NULL, &err);
    if (sc) {
      fprintf(stderr, "%s[%zu]: loaded, but should be refused with %d:%d: %s\n", name, i, t[i].line, t[i].col, want);
      scn_free(sc);
      bad++;
    } else if (strcmp(err.file, path) || err.line != t[i].line || err.col != t[i].col || strcmp(err.msg, want)) {
      fprintf(stderr, "%s[%zu]: got %s:%d:%d: %s\n    want %s:%d:%d: %s\n", name, i, err.file, err.line, err.col,
              err.msg, path, t[i].line, t[i].col, want);
      bad++;
    }
    unlink(path);
  }
  rmdir(dir);
  ck_assert_msg(bad == 0, "%s: %d of %zu refusals differ (printed above)", name, bad, n);
}

#define CHECK_TABLE(t) check_table(#t, t, sizeof t / sizeof t[0])

/* lex.c: numbers, operators, bytes */
static const refusal_t lex_refusals[] = {
    {"thread app\n  sleep 0x\nend\n",
     2, 9, "bad number '0x' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep 1.5\nend\n",
     2, 9, "bad number '1.5' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep 1.5ns\nend\n",
     2, 9, "bad number '1.5ns' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep 0x4g\nend\n",
     2, 9, "bad number '0x4g' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep 1xs\nend\n",
     2, 9, "bad number '1xs' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep 1e30s\nend\n",
     2, 9, "bad number '1e30s' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep 1111111111111111111111111111111111111111111111111111111111111111111111\nend\n",
     2, 9, "bad number '1111111111111111111111111111111111111111111111111111111111111111111111' (write e.g. 42, 0x44, 200us, 4k)"},
    {"thread app\n  sleep = 1\nend\n",
     2, 9, "expected '==' or '!=' here"},
    {"thread app\n  sleep ! 1\nend\n",
     2, 9, "expected '==' or '!=' here"},
    {"thread app\n  sleep ; 1\nend\n",
     2, 9, "unexpected character ';'"},
    {"thread app\n  sleep \303\2511\nend\n",
     2, 9, "unexpected byte 0xC3"},
};

/* parse.c: top-level statements, devices, includes, driver blocks and routine headers */
static const refusal_t top_refusals[] = {
    {"42\nthread app\n  sleep 1us\nend\n",
     1, 1, "expected a statement here"},
    {"end\nthread app\n  sleep 1us\nend\n",
     1, 1, "'end' without an open block"},
    {"frob\nthread app\n  sleep 1us\nend\n",
     1, 1, "unknown statement 'frob' (scenario, machine, cost, include, driver, device, usermode-fs, event, port, thread, expect)"},
    {"scenario title\nthread app\n  sleep 1us\nend\n",
     1, 10, "expected a quoted title after scenario"},
    {"scenario \"a\" b\nthread app\n  sleep 1us\nend\n",
     1, 14, "unexpected 'b' at the end of the statement"},
    {"cost\nthread app\n  sleep 1us\nend\n",
     1, 5, "expected a cost name here"},
    {"cost op\nthread app\n  sleep 1us\nend\n",
     1, 8, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"cost op 5 6\nthread app\n  sleep 1us\nend\n",
     1, 11, "unexpected '6' at the end of the statement"},
    {"cost nosuch 5\nthread app\n  sleep 1us\nend\n",
     1, 6, "unknown cost 'nosuch' (see docs/scenario-language.md for the cost table)"},
    {"machine cpus 0\nthread app\n  sleep 1us\nend\n",
     1, 14, "cpus must be 1..8"},
    {"machine cpus 9\nthread app\n  sleep 1us\nend\n",
     1, 14, "cpus must be 1..8"},
    {"machine cpus x\nthread app\n  sleep 1us\nend\n",
     1, 14, "expected a CPU count (a number) here"},
    {"machine jitter 101\nthread app\n  sleep 1us\nend\n",
     1, 16, "jitter is a percentage, 0..100"},
    {"machine seeds 0\nthread app\n  sleep 1us\nend\n",
     1, 15, "seeds must be 1..100000"},
    {"machine seeds 100001\nthread app\n  sleep 1us\nend\n",
     1, 15, "seeds must be 1..100000"},
    {"machine clock-tick 1us\nthread app\n  sleep 1us\nend\n",
     1, 20, "clock-tick must be 0.5ms..15.625ms (Windows' timer resolutions)"},
    {"machine clock-tick 16ms\nthread app\n  sleep 1us\nend\n",
     1, 20, "clock-tick must be 0.5ms..15.625ms (Windows' timer resolutions)"},
    {"machine dpc-queue-depth 0\nthread app\n  sleep 1us\nend\n",
     1, 25, "dpc-queue-depth must be 1..64"},
    {"machine dpc-queue-depth 65\nthread app\n  sleep 1us\nend\n",
     1, 25, "dpc-queue-depth must be 1..64"},
    {"machine minimum-dpc-rate 1001\nthread app\n  sleep 1us\nend\n",
     1, 26, "minimum-dpc-rate must be 0..1000"},
    {"machine explore 3\nthread app\n  sleep 1us\nend\n",
     1, 17, "expected `bound K` (or `bound none`) after explore"},
    {"machine explore bound 65\nthread app\n  sleep 1us\nend\n",
     1, 23, "a preemption bound is 0..64 (or none)"},
    {"machine explore bound x\nthread app\n  sleep 1us\nend\n",
     1, 23, "expected a preemption bound (a number) here"},
    {"machine kernel-debugger maybe\nthread app\n  sleep 1us\nend\n",
     1, 25, "expected on or off after kernel-debugger"},
    {"machine colour 3\nthread app\n  sleep 1us\nend\n",
     1, 9, "expected cpus, seed, seeds, jitter, max-time, max-steps, clock-tick, dpc-queue-depth, minimum-dpc-rate, explore or kernel-debugger here"},
    {"machine seed x\nthread app\n  sleep 1us\nend\n",
     1, 14, "expected a seed (a number) here"},
    {"port\nthread app\n  sleep 1us\nend\n",
     1, 5, "expected a port name here"},
    {"port p concurrency 65\nthread app\n  sleep 1us\nend\n",
     1, 20, "concurrency at most 64"},
    {"port p concurrency x\nthread app\n  sleep 1us\nend\n",
     1, 20, "expected a number of threads (0 = one per CPU) (a number) here"},
    {"port p extra\nthread app\n  sleep 1us\nend\n",
     1, 8, "unexpected 'extra' at the end of the statement"},
    {"port p\nport p\nthread app\n  sleep 1us\nend\n",
     2, 6, "port 'p' is already declared"},
    {"event\nthread app\n  sleep 1us\nend\n",
     1, 6, "expected an event name here"},
    {"event e colour\nthread app\n  sleep 1us\nend\n",
     1, 9, "expected notification, synchronization or signaled here"},
    {"event e\nevent e\nthread app\n  sleep 1us\nend\n",
     2, 7, "event 'e' is already declared"},
    {"thread\n  sleep 1\nend\n",
     1, 7, "expected a thread name here"},
    {"thread a b\n  sleep 1\nend\n",
     1, 10, "unexpected 'b' at the end of the statement"},
    {"thread app\n  sleep 1us\nend\nthread app\n  sleep 1us\nend\n",
     4, 8, "thread 'app' is already declared"},
    {"include foo\nthread app\n  sleep 1us\nend\n",
     1, 9, "expected a quoted file name (or <library file>) after include"},
    {"include \"x.iosim\" y\nthread app\n  sleep 1us\nend\n",
     1, 19, "unexpected 'y' at the end of the statement"},
    {"include \"nonexistent.iosim\"\nthread app\n  sleep 1us\nend\n",
     1, 9, "cannot include \"nonexistent.iosim\": No such file or directory"},
    {"include <>\nthread app\n  sleep 1us\nend\n",
     1, 9, "expected a library file name, e.g. include <disk.iosim>"},
    {"include <x.iosim> y\nthread app\n  sleep 1us\nend\n",
     1, 9, "nothing may follow include <...> on its line"},
    {"include </etc/x.iosim>\nthread app\n  sleep 1us\nend\n",
     1, 9, "include </etc/x.iosim>: a library file is named relative to the library (no '/' first, no '..')"},
    {"include <a/../x.iosim>\nthread app\n  sleep 1us\nend\n",
     1, 9, "include <a/../x.iosim>: a library file is named relative to the library (no '/' first, no '..')"},
    {"include\nthread app\n  sleep 1us\nend\n",
     1, 8, "expected a quoted file name (or <library file>) after include"},
    {"include \".\"\nthread app\n  sleep 1us\nend\n",
     1, 9, "include \".\" leaves the scenario tree ({D}); pass --include-dir to allow it"},
    {"device\nthread app\n  sleep 1us\nend\n",
     1, 7, "expected a device name here"},
    {"device d0\nthread app\n  sleep 1us\nend\n",
     1, 10, "device d0 needs 'driver NAME'"},
    {"device d0 colour\nthread app\n  sleep 1us\nend\n",
     1, 11, "expected driver, on, with, hardware, latency, cpu, irql, dpc-importance, dpc-cpu, buffered-io or direct-io here"},
    {"device d0 irql 2\nthread app\n  sleep 1us\nend\n",
     1, 16, "a device IRQL is above DISPATCH_LEVEL (2) and at most 15"},
    {"device d0 irql 16\nthread app\n  sleep 1us\nend\n",
     1, 16, "a device IRQL is above DISPATCH_LEVEL (2) and at most 15"},
    {"device d0 cpu x\nthread app\n  sleep 1us\nend\n",
     1, 15, "expected a CPU number or any (a number) here"},
    {"device d0 dpc-importance x\nthread app\n  sleep 1us\nend\n",
     1, 26, "expected a DPC importance here (low, medium, medium-high or high)"},
    {"device d0 dpc-cpu 8\nthread app\n  sleep 1us\nend\n",
     1, 19, "dpc-cpu must be 0..7"},
    {"device d0 driver\nthread app\n  sleep 1us\nend\n",
     1, 17, "expected a driver name here"},
    {"usermode-fs\nthread app\n  sleep 1us\nend\n",
     1, 12, "expected a device name here"},
    {"usermode-fs u colour\nthread app\n  sleep 1us\nend\n",
     1, 15, "expected async, sync, work, return or idle here"},
    {"usermode-fs u work x\nthread app\n  sleep 1us\nend\n",
     1, 20, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver\nend\nthread app\n  sleep 1us\nend\n",
     1, 7, "expected a driver name here"},
    {"driver d x\nend\nthread app\n  sleep 1us\nend\n",
     1, 10, "expected the end of the line (a scripted driver's routines follow on their own lines) or load \"FILE\""},
    {"driver d\nend\ndriver d\nend\nthread app\n  sleep 1us\nend\n",
     3, 8, "driver 'd' is already declared at {F}:1"},
    {"driver d\n  42\nend\nthread app\n  sleep 1us\nend\n",
     2, 3, "expected dispatch, completion, isr, dpc, cancel, fastio or end here"},
    {"driver d\n  frob\nend\nthread app\n  sleep 1us\nend\n",
     2, 3, "unknown routine kind 'frob' in driver d (dispatch, completion, isr, dpc, cancel, fastio)"},
    {"driver d load x\nthread app\n  sleep 1us\nend\n",
     1, 15, "expected the driver's file after load, e.g. load \"mydriver.c\" or \"mydriver.so\""},
    {"driver d load \"x.c\" y\nthread app\n  sleep 1us\nend\n",
     1, 21, "unexpected 'y' at the end of the statement"},
    {"driver d load \"nonexistent.c\"\nthread app\n  sleep 1us\nend\n",
     1, 15, "cannot load \"nonexistent.c\": No such file or directory"},
    {"driver d load \".\"\nthread app\n  sleep 1us\nend\n",
     1, 15, "load \".\" leaves the scenario tree ({D}); pass --include-dir to allow it"},
    {"driver d\n  dispatch\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 11, "dispatch needs one or more major functions (read write ioctl create close cleanup flush internal-ioctl, or default)"},
    {"driver d\n  dispatch frob\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 12, "unknown major function 'frob' (read write ioctl create close cleanup flush internal-ioctl default)"},
    {"driver d\n  dispatch 42\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 12, "expected a major function here"},
    {"driver d\n  dispatch read read\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 17, "read is listed twice"},
    {"driver d\n  dispatch default\n  end\n  dispatch read default\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     4, 17, "driver d already has a default dispatch routine (line 2)"},
    {"driver d\n  dispatch read\n  end\n  dispatch write read\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     4, 18, "driver d already dispatches read (line 2)"},
    {"driver d\n  completion\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 13, "expected a routine name here"},
    {"driver d\n  completion x y\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 16, "unexpected 'y' at the end of the statement"},
    {"driver d\n  completion x\n  end\n  completion x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     4, 14, "routine 'x' is already declared in driver d"},
    {"driver d\n  cancel x\n  end\n  completion x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     4, 14, "routine 'x' is already declared in driver d"},
    {"driver d\n  fastio create\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 10, "fast I/O routines exist for read and write"},
    {"driver d\n  fastio read x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 15, "unexpected 'x' at the end of the statement"},
    {"driver d\n  fastio read\n  end\n  fastio read\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     4, 10, "driver d already has a fast I/O read routine (line 2)"},
    {"driver d\n  fastio\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 9, "expected read or write here"},
    {"driver d\n  isr x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     2, 7, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dpc\n  end\n  dpc\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     4, 3, "driver d already has its dpc routine (line 2)"},
};

/* parse_ops.c: driver routine operations and conditions */
static const refusal_t routine_refusals[] = {
    {"driver d\n  dispatch default\n    42\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "expected a statement here"},
    {"driver d\n  dispatch default\n    else\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "'else' outside an 'if' block"},
    {"driver d\n  dispatch default\n    else x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "'else' outside an 'if' block"},
    {"driver d\n  dispatch default\n    copy-stack x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 16, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n    queue\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected a queue name here"},
    {"driver d\n  dispatch default\n    queue 5\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 11, "expected a queue name here"},
    {"driver d\n  dispatch default\n    fast-serve bad\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 16, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    fast-serve info x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 21, "expected a byte count or 'length' (a number) here"},
    {"driver d\n  dispatch default\n    split x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 11, "expected the number of associated IRPs (a number) here"},
    {"driver d\n  dispatch default\n    split 0 to d0\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 11, "split makes 1 to 16 associated IRPs"},
    {"driver d\n  dispatch default\n    split 17 to d0\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 11, "split makes 1 to 16 associated IRPs"},
    {"driver d\n  dispatch default\n    split 2 d0\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 13, "expected 'to DEVICE...' here"},
    {"driver d\n  dispatch default\n    split 2 to\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 15, "expected one or more device names after 'to'"},
    {"driver d\n  dispatch default\n    split 2 to d0 5\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 19, "unexpected '5' at the end of the statement"},
    {"driver d\n  dispatch default\n    set-cancel\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 15, "expected a cancel routine name here"},
    {"driver d\n  dispatch default\n    set-cancel x y\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 18, "unexpected 'y' at the end of the statement"},
    {"driver d\n  dispatch default\n    set-completion\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 19, "expected a completion routine name here"},
    {"driver d\n  dispatch default\n    set-completion c bogus\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 22, "expected success, error, cancel or context here"},
    {"driver d\n  dispatch default\n    set-completion c context x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 30, "expected a context value (a number) here"},
    {"driver d\n  dispatch default\n    set-status\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 15, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    set-status info 3\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 16, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    complete bogus\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 14, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    complete info x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 19, "expected a byte count or 'length' (a number) here"},
    {"driver d\n  dispatch default\n    complete boost x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 20, "expected a priority boost (a number) here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS info 1 boost 2 x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 44, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n    return\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 11, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    return bogus\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 12, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    return STATUS_SUCCESS x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 27, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n    start-io bogus\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 14, "expected latency or detached here"},
    {"driver d\n  dispatch default\n    start-io latency x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 22, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n    request-dpc bogus 1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 17, "expected importance or cpu here"},
    {"driver d\n  dispatch default\n    request-dpc importance x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 28, "expected a DPC importance here (low, medium, medium-high or high)"},
    {"driver d\n  dispatch default\n    request-dpc cpu 8\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 21, "cpu must be 0..7"},
    {"driver d\n  dispatch default\n    request-dpc cpu x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 21, "expected the CPU whose queue gets the DPC (a number) here"},
    {"driver d\n  dispatch default\n    wait\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 9, "a driver waits for exactly one event"},
    {"driver d\n  dispatch default\n    wait e1 e2\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "a driver waits for exactly one event"},
    {"driver d\n  dispatch default\n    wait e all\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 12, "a driver's wait is a kernel-mode wait for one event: only 'timeout T' may follow"},
    {"driver d\n  dispatch default\n    wait e alertable\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 12, "a driver's wait is a kernel-mode wait for one event: only 'timeout T' may follow"},
    {"driver d\n  dispatch default\n    wait e 5\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 12, "expected an object name, any, all, timeout or alertable"},
    {"driver d\n  dispatch default\n    wait e timeout x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 20, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n    counter\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 12, "expected a counter name here"},
    {"driver d\n  dispatch default\n    counter c < 1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 15, "expected '+=' or '==' (assign) here"},
    {"driver d\n  dispatch default\n    counter c += x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 18, "expected the counter's value (a number) here"},
    {"driver d\n  dispatch default\n    counter c += 1 2\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 20, "unexpected '2' at the end of the statement"},
    {"driver d\n  dispatch default\n    send\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 9, "expected a major function (read, write, ioctl, ...) here"},
    {"driver d\n  dispatch default\n    send frob 1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "unknown major function 'frob'"},
    {"driver d\n  dispatch default\n    send read x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 15, "expected a length (a number) here"},
    {"driver d\n  dispatch default\n    send read 1 bogus x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 17, "expected to, completion or as here"},
    {"driver d\n  dispatch default\n    send read 1 to\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 19, "expected a device name here"},
    {"driver d\n  dispatch default\n    send read 1 to 5\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 20, "expected a device name here"},
    {"driver d\n  dispatch default\n    delay\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n    delay 5 6\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 13, "unexpected '6' at the end of the statement"},
    {"driver d\n  dispatch default\n    note\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 9, "expected a quoted text after note"},
    {"driver d\n  dispatch default\n    note x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected a quoted text after note"},
    {"driver d\n  dispatch default\n    note \"a\" b\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 14, "unexpected 'b' at the end of the statement"},
    {"driver d\n  dispatch default\n    dbgprint 5\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 14, "expected a quoted text after dbgprint"},
    {"driver d\n  dispatch default\n    fill\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 9, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    fill 0x1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    fill 0x123\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    fill foo\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    fill \"a\" b\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 14, "unexpected 'b' at the end of the statement"},
    {"driver d\n  dispatch default\n    if\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 7, "expected a condition (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked, device-object) here"},
    {"driver d\n  dispatch default\n    if frob\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 8, "unknown condition 'frob' (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked, device-object)"},
    {"driver d\n  dispatch default\n    if not\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 11, "expected a condition (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked, device-object) here"},
    {"driver d\n  dispatch default\n    if irp x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 12, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n    if queue-empty\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 19, "expected a queue name here"},
    {"driver d\n  dispatch default\n    if status < STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 15, "statuses compare with == or != only"},
    {"driver d\n  dispatch default\n    if status == bogus\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 18, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n    if device-object < d0\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 22, "device-object compares with == or != only"},
    {"driver d\n  dispatch default\n    if device-object == 5\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 25, "expected a device name or none here"},
    {"driver d\n  dispatch default\n    if counter c == x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 21, "expected a count (a number) here"},
    {"driver d\n  dispatch default\n    if counter c\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 17, "expected a comparison (==, !=, <, <=, >, >=) here"},
    {"driver d\n  dispatch default\n    if context x 1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 16, "expected a comparison (==, !=, <, <=, >, >=) here"},
    {"driver d\n  dispatch default\n    if context == x\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 19, "expected a context value (a number) here"},
    {"driver d\n  dispatch default\n    while\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 10, "expected a condition (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked, device-object) here"},
    {"driver d\n  dispatch default\n    sleep 1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "unknown operation 'sleep' in a driver routine (see docs/scenario-language.md)"},
    {"driver d\n  dispatch default\n    open f d0\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "unknown operation 'open' in a driver routine (see docs/scenario-language.md)"},
    {"driver d\n  dispatch default\n    if irp\n      note \"x\"\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     1, 8, "'driver d' block is never closed with 'end' (found 'device' at line 7)"},
    {"driver d\n  dispatch default\n    while irp\n      note \"x\"\n    else\n    end\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     5, 5, "'else' outside an 'if' block"},
    {"driver d\n  dispatch default\n    repeat 2\n    end\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "unknown operation 'repeat' in a driver routine (see docs/scenario-language.md)"},
    {"driver d\n  dispatch default\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    if irp\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n    end\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     66, 5, "limit reached: blocks nested more than 64 deep (the block-nesting limit, SCN_MAX_NESTING; it is fixed: nest fewer blocks, e.g. split the routine)"},
};

/* parse_ops.c: thread program statements */
static const refusal_t program_refusals[] = {
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  42\nend\n",
     9, 3, "expected a statement here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  frob\nend\n",
     9, 3, "unknown statement 'frob' in a thread program (open, read, write, ioctl, wait, sleep, signal, reset, repeat, close, lock, associate, notification-modes, gqcs, gqcs-ex, post, close-port, cancel, cancel-io, cancel-sync, queue-apc, alert, unload, delay, note)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  open\nend\n",
     9, 7, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  open f\nend\n",
     9, 9, "expected a device name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  open f d0 bogus\nend\n",
     9, 13, "expected overlapped, synchronous or alertable here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read\nend\n",
     9, 7, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f\nend\n",
     9, 9, "expected a length (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f x\nend\n",
     9, 10, "expected a length (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f 1 bogus\nend\n",
     9, 12, "expected event, as, apc, no-port or at here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f 1 data \"x\"\nend\n",
     9, 12, "expected event, as, apc, no-port or at here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  write f 1 in 3\nend\n",
     9, 13, "expected event, as, apc, no-port, at or data here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  write f 2 data \"abc\"\nend\n",
     9, 18, "3 bytes of data do not fit in a write of 2"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  write f 2 data 0x1\nend\n",
     9, 18, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  ioctl f\nend\n",
     9, 10, "expected an IOCTL code (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  ioctl f 1 at 3\nend\n",
     9, 13, "expected event, as, apc, no-port, in, out or data here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  ioctl f 1 in x\nend\n",
     9, 16, "expected a buffer length (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  ioctl f 1 out\nend\n",
     9, 16, "expected a buffer length (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f 1 event\nend\n",
     9, 17, "expected an event name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f 1 as\nend\n",
     9, 14, "expected a name for the IRP here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  read f 1 at x\nend\n",
     9, 15, "expected a byte offset (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  wait\nend\n",
     9, 7, "wait needs at least one object"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  wait 5\nend\n",
     9, 8, "expected an object name, any, all, timeout or alertable"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  wait f timeout x\nend\n",
     9, 18, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  sleep\nend\n",
     9, 8, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  sleep x\nend\n",
     9, 9, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  sleep 1 x\nend\n",
     9, 11, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  sleep 1 alertable x\nend\n",
     9, 21, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  repeat\nend\n",
     9, 9, "expected a repeat count (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  repeat x\nend\n",
     9, 10, "expected a repeat count (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  repeat 2 x\nend\n",
     9, 12, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  cancel\nend\n",
     9, 9, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  cancel f r1 x\nend\n",
     9, 15, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  cancel-io f r1\nend\n",
     9, 15, "unexpected 'r1' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  cancel-sync\nend\n",
     9, 14, "expected a thread name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  queue-apc\nend\n",
     9, 12, "expected a thread name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  queue-apc app name\nend\n",
     9, 21, "expected a name for the APC here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  queue-apc app name x y\nend\n",
     9, 24, "unexpected 'y' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  queue-apc app x\nend\n",
     9, 17, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  lock\nend\n",
     9, 7, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  lock f\nend\n",
     9, 9, "expected a byte offset (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  lock f 1\nend\n",
     9, 11, "expected a length (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  lock f 1 2 3\nend\n",
     9, 14, "unexpected '3' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  associate\nend\n",
     9, 12, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  associate f\nend\n",
     9, 14, "expected a port name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  associate f p key x\nend\n",
     9, 21, "expected a completion key (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  associate f p x\nend\n",
     9, 17, "unexpected 'x' at the end of the statement"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  notification-modes\nend\n",
     9, 21, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  notification-modes f\nend\n",
     9, 23, "expected skip-port-on-success or skip-set-event here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  notification-modes f bogus\nend\n",
     9, 24, "expected skip-port-on-success or skip-set-event here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs\nend\n",
     9, 7, "expected a port name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs p bogus\nend\n",
     9, 10, "expected timeout here (gqcs-ex takes count and alertable)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs p alertable\nend\n",
     9, 10, "expected timeout here (gqcs-ex takes count and alertable)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs p timeout x\nend\n",
     9, 18, "expected a time here (e.g. 200us, 1ms, 500ns)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs-ex p bogus\nend\n",
     9, 13, "expected count, alertable or timeout here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs-ex p count 0\nend\n",
     9, 19, "gqcs-ex takes 1 to 64 packets at once"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs-ex p count 65\nend\n",
     9, 19, "gqcs-ex takes 1 to 64 packets at once"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  gqcs-ex p count x\nend\n",
     9, 19, "expected a packet count (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  post\nend\n",
     9, 7, "expected a port name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  post p bogus 1\nend\n",
     9, 10, "expected key, status or info here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  post p key x\nend\n",
     9, 14, "expected a completion key (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  post p info x\nend\n",
     9, 15, "expected a byte count (a number) here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  post p status bogus\nend\n",
     9, 17, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  close\nend\n",
     9, 8, "expected a file name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  close-port\nend\n",
     9, 13, "expected a port name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  alert\nend\n",
     9, 8, "expected a thread name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  unload\nend\n",
     9, 9, "expected a driver name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  copy-stack\nend\n",
     9, 3, "unknown statement 'copy-stack' in a thread program (open, read, write, ioctl, wait, sleep, signal, reset, repeat, close, lock, associate, notification-modes, gqcs, gqcs-ex, post, close-port, cancel, cancel-io, cancel-sync, queue-apc, alert, unload, delay, note)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  else\nend\n",
     9, 3, "'else' outside an 'if' block"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  signal\nend\n",
     9, 9, "expected an event name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  reset\nend\n",
     9, 8, "expected an event name here"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nthread app\n  open f d0\n  clear x y\nend\n",
     9, 11, "unexpected 'y' at the end of the statement"},
    {"thread app\n  repeat 2\n    sleep 1\nend\n",
     1, 8, "'thread app' block is never closed with 'end'"},
    {"thread app\n  sleep 1\n  driver x\nend\n",
     1, 8, "'thread app' block is never closed with 'end' (found 'driver' at line 3)"},
};

/* parse_check.c: names resolved once the whole scenario is read */
static const refusal_t check_refusals[] = {
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\ndevice d1 driver d on nodev\nthread app\n  sleep 1us\nend\n",
     6, 8, "device d1 is attached on 'nodev', which is not declared before it"},
    {"driver d\n  dispatch default\n    start-io\n    start-io\n  end\nend\ndevice d0 driver d\nthread app\n  sleep 1us\nend\n",
     7, 8, "device d0 has no hardware, but driver d starts hardware I/O ({F}:3); add e.g. 'latency 100us'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert d0-worker\nend\n",
     11, 3, "no thread named 'd0-worker'"},
    {"driver d\n  dispatch default\n    set-completion nope\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "driver d has no completion routine 'nope'"},
    {"driver d\n  dispatch default\n    set-cancel nope\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "driver d has no cancel routine 'nope'"},
    {"driver d\n  dispatch default\n    send read 1 completion nope\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "driver d has no completion routine 'nope'"},
    {"driver d\n  dispatch default\n    send read 1 to nodev\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "no device named 'nodev'"},
    {"driver d\n  dispatch default\n    wait noev\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "no event named 'noev'"},
    {"driver d\n  dispatch default\n    signal noev\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "no event named 'noev'"},
    {"driver d\n  dispatch default\n    clear noev\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "no event named 'noev'"},
    {"driver d\n  dispatch default\n    split 2 to nodev\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "no device named 'nodev' (or write lower / with)"},
    {"driver d\n  dispatch default\n    request-dpc cpu 1\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 21, "request-dpc targets CPU 1, but the machine has 1 CPU(s)"},
    {"driver d\n  dispatch default\n    if device-object == nodev\n    end\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n",
     3, 5, "'nodev' in if device-object == nodev is not a device (or write none)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  open g nodev\nend\n",
     11, 3, "no device named 'nodev' to open"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  read nofile 1\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  read f 1 event noev\nend\n",
     11, 3, "no event named 'noev'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  close nofile\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  associate nofile p\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  associate f noport\nend\n",
     11, 3, "no port named 'noport'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  cancel nofile\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  cancel-io nofile\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  lock nofile 0 1\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  notification-modes nofile skip-set-event\nend\n",
     11, 3, "no file named 'nofile' is opened by any thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  cancel-sync nothr\nend\n",
     11, 3, "no thread named 'nothr'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  queue-apc nothr\nend\n",
     11, 3, "no thread named 'nothr'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert nothr\nend\n",
     11, 3, "no thread named 'nothr'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  unload nodrv\nend\n",
     11, 3, "no driver named 'nodrv'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  gqcs noport\nend\n",
     11, 3, "no port named 'noport'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  gqcs-ex noport\nend\n",
     11, 3, "no port named 'noport'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  post noport\nend\n",
     11, 3, "no port named 'noport'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  close-port noport\nend\n",
     11, 3, "no port named 'noport'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  wait noobj\nend\n",
     11, 3, "'noobj' is not an event, a file or a thread"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert u-worker\nend\n",
     11, 3, "no thread named 'u-worker'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert x-dispatcher\nend\n",
     11, 3, "no thread named 'x-dispatcher'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert System\nend\n",
     11, 3, "no thread named 'System'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert system-1\nend\n",
     11, 3, "no thread named 'system-1'"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nport p\nusermode-fs u\nusermode-fs v async\nthread app\n  open f d0\n  alert nodev-worker\nend\n",
     11, 3, "no thread named 'nodev-worker'"},
    {"driver d\n  dispatch default\n    start-io\n  end\nend\ndevice d0 driver d\nthread app\n  sleep 1us\nend\n",
     6, 8, "device d0 has no hardware, but driver d starts hardware I/O ({F}:3); add e.g. 'latency 100us'"},
    {"device d0 driver nodrv\nthread app\n  sleep 1us\nend\n",
     1, 8, "device d0 uses driver 'nodrv', which is not declared"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\ndevice d1 driver d with nodev\nthread app\n  sleep 1us\nend\n",
     6, 8, "device d1 names 'with nodev', which is not declared"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\ndevice d1 driver d on d2\ndevice d2 driver d\nthread app\n  sleep 1us\nend\n",
     6, 8, "device d1 is attached on 'd2', which is not declared before it"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\ndevice d1 driver d cpu 1\nthread app\n  sleep 1us\nend\n",
     6, 8, "device d1 takes its interrupt on CPU 1, but the machine has 1 CPU(s)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\ndevice d1 driver d dpc-cpu 1\nthread app\n  sleep 1us\nend\n",
     6, 28, "device d1 queues its DPC on CPU 1, but the machine has 1 CPU(s)"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\n",
     1, 1, "the scenario declares no thread, so nothing would run"},
    {"driver d\n  dispatch default\n  end\nend\n",
     1, 1, "this is a driver library (drivers, no thread): include it from a scenario to run it"},
    {"driver d\n  dispatch default\n  end\nend\ndevice d0 driver d\nexpect thread nothr finished\n",
     6, 1, "no thread named 'nothr'"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(nothing)\n",
     13, 1, "'nothing' in dpc(nothing) is not a device, a request, a thread, an event, a file or a port"},
    {"driver d\n  dispatch default\n    queue q0\n    queue q1\n    queue q2\n    queue q3\n    queue q4\n    queue q5\n    queue q6\n    queue q7\n    queue q8\n  end\nend\nthread app\n  sleep 1us\nend\n",
     1, 8, "driver d uses 9 queues; at most 8"},
    {"driver d\n  dispatch default\n    if queue-empty q0\n    end\n    if queue-empty q1\n    end\n    if queue-empty q2\n    end\n    if queue-empty q3\n    end\n    if queue-empty q4\n    end\n    if queue-empty q5\n    end\n    if queue-empty q6\n    end\n    if queue-empty q7\n    end\n    if queue-empty q8\n    end\n    if counter k == 1\n    end\n  end\nend\nthread app\n  sleep 1us\nend\n",
     1, 8, "driver d uses 9 queues; at most 8"},
    {"driver d\n  dispatch default\n    counter k0 += 1\n    counter k1 += 1\n    counter k2 += 1\n    counter k3 += 1\n    counter k4 += 1\n    counter k5 += 1\n    counter k6 += 1\n    counter k7 += 1\n    counter k8 += 1\n    counter k9 += 1\n    counter k10 += 1\n    counter k11 += 1\n    counter k12 += 1\n    counter k13 += 1\n    counter k14 += 1\n    counter k15 += 1\n    counter k16 += 1\n    counter k17 += 1\n  end\nend\nthread app\n  sleep 1us\nend\n",
     1, 8, "driver d uses 17 counters; at most 16"},
};

/* expect_parse.c: expect lines and event patterns */
static const refusal_t expect_refusals[] = {
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.status ==\n",
     13, 20, "expected a value here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).frame ==\n",
     13, 24, "expected a value here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.data == 0X1\n",
     13, 19, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect \n",
     13, 8, "expected a prediction after expect"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect 5\n",
     13, 8, "expected a prediction after expect"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect thread\n",
     13, 14, "expected a thread name"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect thread app sleeping\n",
     13, 19, "expected finished, waiting or running"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect thread app finished x\n",
     13, 28, "unexpected 'x' at the end of the expectation"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect bugcheck\n",
     13, 16, "expected a bugcheck code or name (e.g. 0x44, MULTIPLE_IRP_COMPLETE_REQUESTS)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect bugcheck NOPE\n",
     13, 17, "expected a bugcheck code or name (e.g. 0x44, MULTIPLE_IRP_COMPLETE_REQUESTS)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect finding\n",
     13, 15, "expected a verifier rule after finding (e.g. pending-not-marked)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect finding nope\n",
     13, 16, "unknown verifier rule 'nope' (pending-not-marked, marked-not-pending, pending-not-propagated, double-completion, touched-after-release, completion-in-current-location, forward-without-copy-or-skip, irp-never-completed, deadlock, complete-above-dispatch, call-above-dispatch, wait-at-dispatch, cancel-routine-on-completion, complete-with-pending, more-processing-never-completed, driver-irp-not-reclaimed, region-not-left, irp-leaked)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect no finding nope\n",
     13, 19, "unknown verifier rule 'nope' (pending-not-marked, marked-not-pending, pending-not-propagated, double-completion, touched-after-release, completion-in-current-location, forward-without-copy-or-skip, irp-never-completed, deadlock, complete-above-dispatch, call-above-dispatch, wait-at-dispatch, cancel-routine-on-completion, complete-with-pending, more-processing-never-completed, driver-irp-not-reclaimed, region-not-left, irp-leaked)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect outcome\n",
     13, 15, "expected ok, stalled, bugcheck or limit"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect outcome nope\n",
     13, 16, "expected ok, stalled, bugcheck or limit"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect order dpc(d0)\n",
     13, 21, "an order needs at least two events: A < B"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect order dpc < dpc < dpc < dpc < dpc < dpc < dpc < dpc < dpc\n",
     13, 62, "at most 8 events in an order"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect count dpc\n",
     13, 17, "expected a comparison (== or !=, <, <=, >, >=) here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect count dpc == x\n",
     13, 21, "expected a count"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect count(dpc == 1\n",
     13, 18, "missing ')' after count(..."},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect never\n",
     13, 13, "expected an event pattern such as dpc(disk0) or completion(fs0, r1)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect no 5\n",
     13, 11, "expected an event pattern such as dpc(disk0) or completion(fs0, r1)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1 not done\n",
     13, 15, "expected completed"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1 done\n",
     13, 8, "unknown event kind 'r1' (dispatch, return, complete, completion, mark-pending, dpc, isr, apc, stage2, walk-stopped, event-set, ... see docs/scenario-language.md)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.status\n",
     13, 17, "expected a comparison (== or !=, <, <=, >, >=) here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.status == nope\n",
     13, 21, "expected a status here (e.g. STATUS_SUCCESS)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.status < STATUS_SUCCESS\n",
     13, 20, "'status' compares with == or != only"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.information == x\n",
     13, 26, "expected a number here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.data == 0x1\n",
     13, 19, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.data == 0x123\n",
     13, 19, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.data == foo\n",
     13, 19, "expected bytes here: \"text\" or 0x followed by pairs of hex digits"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.data < \"a\"\n",
     13, 18, "'data' compares with == or != only"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.pending-returned == maybe\n",
     13, 31, "expected true or false"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect r1.irql == 1\n",
     13, 8, "unknown field 'irql' of a request (status, information, pending-returned, data)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).irql == NOPE\n",
     13, 24, "expected an IRQL (PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL or a number)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).frame == nope\n",
     13, 25, "expected a frame: thread, apc, dpc, isr or idle"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).thread == 5\n",
     13, 26, "expected a thread name or none"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).cpu == x\n",
     13, 23, "expected a number here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).time < x\n",
     13, 23, "expected a number here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).colour == 1\n",
     13, 15, "unknown field 'colour' of an event (irql, frame, cpu, thread, status, time)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect 5(d0)\n",
     13, 8, "expected a prediction after expect"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect nope(d0)\n",
     13, 8, "unknown event kind 'nope' (dispatch, return, complete, completion, mark-pending, dpc, isr, apc, stage2, walk-stopped, event-set, ... see docs/scenario-language.md)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0\n",
     13, 14, "missing ')' in the event pattern"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(a, b, c, d, e)\n",
     13, 24, "at most 4 arguments in an event pattern"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(nope == 1)\n",
     13, 12, "unknown fact 'nope' in the event pattern (count, index, running, limit, location, pending, routine, stage2, status, service, major, port, file, object, cpu, target, state)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(status ==)\n",
     13, 12, "expected a value after 'status =='"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(status == NOPE)\n",
     13, 22, "'NOPE' is not a value of status (a status name or number, e.g. STATUS_SUCCESS)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(state == nope)\n",
     13, 21, "'nope' is not a value of state (driver, creator, apc, port, no-stage2 or kept)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(STATUS_NOPE)\n",
     13, 12, "unknown status 'STATUS_NOPE' (a status argument is a name such as STATUS_SUCCESS or STATUS_CANCELLED; for any other value write status == 0x...)"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(<)\n",
     13, 12, "unexpected '<' in the event pattern"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0 r1)\n",
     13, 15, "expected ',' or ')' here"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0) x\n",
     13, 16, "unexpected 'x' at the end of the expectation"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).irql == 2 x\n",
     13, 26, "unexpected 'x' at the end of the expectation"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect dpc(d0).frame < dpc\n",
     13, 24, "'frame' compares with == or != only"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect sometimes\n",
     13, 17, "expected a prediction after expect"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect sometimes 5\n",
     13, 18, "expected a prediction after expect"},
    {"driver d\n  dispatch default\n    complete STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nevent ev\nport pt\nthread app\n  open f d0\n  read f 10 as r1\nend\nexpect no bugcheck x\n",
     13, 20, "unexpected 'x' at the end of the expectation"},
};


START_TEST(lex) { CHECK_TABLE(lex_refusals); }
END_TEST
START_TEST(top_level) { CHECK_TABLE(top_refusals); }
END_TEST
START_TEST(routine) { CHECK_TABLE(routine_refusals); }
END_TEST
START_TEST(program) { CHECK_TABLE(program_refusals); }
END_TEST
START_TEST(names) { CHECK_TABLE(check_refusals); }
END_TEST
START_TEST(expect) { CHECK_TABLE(expect_refusals); }
END_TEST


/* ---- refusals that need files around them ---- */

/* Loads `path` (extra_dir may be NULL): refused at file:line:col with msg,
   or, when msg ends in '*', a message that starts with what precedes it. */
static void refused_as(const char *path, const char *extra, const char *file, int line, int col, const char *msg) {
  scn_error_t err;
  scn_t *sc = scn_load(path, extra, &err);
  if (sc) scn_free(sc);
  ck_assert_msg(sc == NULL, "%s loaded, but it should have been refused", path);
  ck_assert_str_eq(err.file, file);
  ck_assert_msg(err.line == line && err.col == col, "%s: error at %d:%d (%s), want %d:%d", path, err.line, err.col,
                err.msg, line, col);
  size_t n = strlen(msg);
  if (n && msg[n - 1] == '*')
    ck_assert_msg(!strncmp(err.msg, msg, n - 1), "message \"%s\" does not start with \"%.*s\"", err.msg, (int)n - 1, msg);
  else
    ck_assert_str_eq(err.msg, msg);
}

static const char thread_only[] = "thread app\n  sleep 1us\nend\n";

/* Includes nest at most SCN_MAX_INCLUDE_DEPTH deep: f0 includes f1 ...
   includes f33; the include that would open a 33rd level is refused. */
START_TEST(include_depth) {
  char dir[64], real[PATH_MAX], path[128], text[128];
  make_dir(dir, sizeof dir, real);
  for (int i = 0; i <= SCN_MAX_INCLUDE_DEPTH + 1; i++) {
    snprintf(path, sizeof path, "%s/f%d.iosim", dir, i);
    snprintf(text, sizeof text, "include \"f%d.iosim\"\n%s", i + 1, i ? "" : thread_only);
    write_file(path, i == SCN_MAX_INCLUDE_DEPTH + 1 ? thread_only : text);
  }
  char top[128], culprit[128];
  snprintf(top, sizeof top, "%s/f0.iosim", dir);
  snprintf(culprit, sizeof culprit, "%s/f%d.iosim", dir, SCN_MAX_INCLUDE_DEPTH - 1);
  refused_as(top, NULL, culprit, 1, 9,
             "limit reached: includes nested more than 32 deep (the include-depth limit, SCN_MAX_INCLUDE_DEPTH; it is "
             "fixed: include fewer levels)");
  /* One level less loads, and a file included twice is read once. */
  snprintf(path, sizeof path, "%s/f%d.iosim", dir, SCN_MAX_INCLUDE_DEPTH - 1);
  write_file(path, "include \"f0.iosim\"\n");
  refused_as(top, NULL, path, 1, 9, "include loop: f0.iosim includes f1.iosim*");
  write_file(path, "include \"f1.iosim\"\n");
  refused_as(top, NULL, path, 1, 9, "include loop: f1.iosim includes f2.iosim*");
  write_file(path, "");
  scn_error_t err;
  scn_t *sc = scn_load(top, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert_str_eq(scn_title(sc), top); /* no scenario line: the path */
  scn_free(sc);
  for (int i = 0; i <= SCN_MAX_INCLUDE_DEPTH + 1; i++) {
    snprintf(path, sizeof path, "%s/f%d.iosim", dir, i);
    unlink(path);
  }
  rmdir(dir);
}
END_TEST

/* What is not a scenario file: a folder, a file over 16 MiB, a DEL byte,
   an --include-dir that does not exist, an included folder. */
START_TEST(not_a_scenario_file) {
  char dir[64], real[PATH_MAX], path[128], sub[128];
  make_dir(dir, sizeof dir, real);
  refused_as(dir, NULL, dir, 0, 0, "not a regular file");
  snprintf(path, sizeof path, "%s/big.iosim", dir);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(ftruncate(fileno(f), 16 * 1024 * 1024 + 1), 0);
  fclose(f);
  refused_as(path, NULL, path, 0, 0, "file too large for a scenario (16777217 bytes)");
  write_file(path, "thread app\n  sleep 1us \177\nend\n");
  refused_as(path, NULL, path, 2, 13, "this is not a text file (byte 0x7F at offset 23)");
  write_file(path, thread_only);
  refused_as(path, "/nonexistent-iosim-dir", "/nonexistent-iosim-dir", 0, 0, "include folder: No such file or directory");
  snprintf(sub, sizeof sub, "%s/sub", dir);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  write_file(path, "include \"sub\"\nthread app\n  sleep 1us\nend\n");
  char shown[160];
  snprintf(shown, sizeof shown, "%s/sub", dir);
  refused_as(path, NULL, shown, 0, 0, "not a regular file");
  rmdir(sub);
  unlink(path);
  rmdir(dir);
}
END_TEST

/* The scenario tree is the nearest folder named "scenarios" above the
   file: a neighbour folder is inside it, its parent is not. */
START_TEST(scenario_tree) {
  char dir[64], real[PATH_MAX], p[200];
  make_dir(dir, sizeof dir, real);
  snprintf(p, sizeof p, "%s/scenarios", dir);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  snprintf(p, sizeof p, "%s/scenarios/a", dir);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  snprintf(p, sizeof p, "%s/scenarios/lib.iosim", dir);
  write_file(p, "scenario \"from the library\"\nevent e\n");
  snprintf(p, sizeof p, "%s/outside.iosim", dir);
  write_file(p, "event o\n");
  char top[200], want[PATH_MAX + 200];
  snprintf(top, sizeof top, "%s/scenarios/a/t.iosim", dir);
  write_file(top, "include \"../lib.iosim\"\nscenario \"second\"\nthread app\n  wait e timeout 1us\nend\n");
  scn_error_t err;
  scn_t *sc = scn_load(top, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert_str_eq(scn_title(sc), "from the library"); /* the first title read wins */
  scn_free(sc);
  write_file(top, "include \"../../outside.iosim\"\nthread app\n  sleep 1us\nend\n");
  snprintf(want, sizeof want, "include \"../../outside.iosim\" leaves the scenario tree (%s/scenarios); pass --include-dir to allow it", real);
  refused_as(top, NULL, top, 1, 9, want);
  /* --include-dir names the folder: allowed. */
  sc = scn_load(top, dir, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_free(sc);
  unlink(top);
  snprintf(p, sizeof p, "%s/scenarios/lib.iosim", dir), unlink(p);
  snprintf(p, sizeof p, "%s/outside.iosim", dir), unlink(p);
  snprintf(p, sizeof p, "%s/scenarios/a", dir), rmdir(p);
  snprintf(p, sizeof p, "%s/scenarios", dir), rmdir(p);
  rmdir(dir);
}
END_TEST

/* What one scenario may declare (scenario.h): the line that declares one
   more than the limit is refused, at its name.  `line` is written
   SCN_MAX + 1 times with %d as its number, after `head`. */
static void over_limit(const char *head, const char *line, int lines_each, int col, const char *msg) {
  char dir[64], real[PATH_MAX], path[128];
  make_dir(dir, sizeof dir, real);
  snprintf(path, sizeof path, "%s/many.iosim", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(head, f);
  int head_lines = 0;
  for (const char *c = head; *c; c++) head_lines += *c == '\n';
  for (int i = 0; i <= 100000; i++) fprintf(f, line, i);
  fclose(f);
  refused_as(path, NULL, path, head_lines + 100000 * lines_each + 1, col, msg);
  unlink(path);
  rmdir(dir);
}

START_TEST(declaration_limits) {
  over_limit("", "event e%d\n", 1, 7,
             "limit reached: more than 100000 events and ports (the object limit, SCN_MAX_OBJECTS; it is fixed)");
  over_limit("", "port p%d\n", 1, 6,
             "limit reached: more than 100000 events and ports (the object limit, SCN_MAX_OBJECTS; it is fixed)");
  over_limit("driver d\nend\n", "device d%d driver d\n", 1, 8,
             "limit reached: more than 100000 devices (the device limit, SCN_MAX_DEVICES; it is fixed)");
  over_limit("", "thread t%d\nend\n", 2, 8,
             "limit reached: more than 100000 threads (the thread limit, SCN_MAX_THREADS; it is fixed)");
  over_limit("thread app\nend\n", "expect outcome ok # %d\n", 1, 1,
             "limit reached: more than 100000 expect lines (the expectation limit, SCN_MAX_EXPECTS; it is fixed)");
}
END_TEST

/* driver NAME load "FILE": the file's kind and that one image is one
   driver are checked at load; a file that is no shared object fails at
   the run, naming the driver. */
START_TEST(driver_files) {
  char dir[64], real[PATH_MAX], so[128], txt[128], top[128];
  make_dir(dir, sizeof dir, real);
  snprintf(so, sizeof so, "%s/x.so", dir);
  write_file(so, "not an ELF file\n");
  snprintf(txt, sizeof txt, "%s/x.txt", dir);
  write_file(txt, "text\n");
  snprintf(top, sizeof top, "%s/t.iosim", dir);
  write_file(top, "driver a load \"x.txt\"\nthread app\n  sleep 1us\nend\n");
  refused_as(top, NULL, top, 1, 15,
             "load \"x.txt\": a driver is loaded from its C source (.c) or a shared object (.so, from iosim cc)");
  write_file(top, "driver a load \"x.so\"\ndriver b load \"x.so\"\nthread app\n  sleep 1us\nend\n");
  refused_as(top, NULL, top, 2, 15, "x.so is already loaded as driver a (line 1): one image, one driver");
  write_file(top, "driver a load \"x.so\"\nthread app\n  alert system-0\nend\n");
  refused_as(top, NULL, top, 3, 3, "no thread named 'system-0'");
  write_file(top, "driver a load \"x.so\"\nthread app\n  alert system-1x\nend\n");
  refused_as(top, NULL, top, 3, 3, "no thread named 'system-1x'");
  write_file(top, "driver a load \"x.so\"\nthread app\n  alert System\n  alert system-12\nend\n");
  scn_error_t err;
  scn_t *sc = scn_load(top, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert(scn_loads_c_drivers(sc));
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_EINVAL);
  ck_assert_str_eq(err.file, top);
  ck_assert_int_eq(err.line, 1);
  ck_assert_int_eq(err.col, 8);
  char want[256];
  snprintf(want, sizeof want, "driver a: cannot load x.so: %s: ", so);
  ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
  scn_free(sc);
  unlink(top), unlink(so), unlink(txt);
  rmdir(dir);
}
END_TEST

/* What the lexer and the machine line accept: numbers with units,
   uppercase hex and K, tabs, CR LF line ends, comments after a statement,
   UTF-8 in comments and quoted text; the header's options as the API
   reports them; the sleeps' lengths as the trace times them. */
START_TEST(accepted_numbers) {
  char dir[64], real[PATH_MAX], path[128];
  make_dir(dir, sizeof dir, real);
  snprintf(path, sizeof path, "%s/n.iosim", dir);
  write_file(path,
             "# UTF-8 in a comment: \303\251\r\n"
             "scenario \"numbers: \303\251\"\r\n"
             "machine seed 0X1F\tseeds 3 explore bound 5 kernel-debugger on   # a comment after a statement\r\n"
             "machine jitter 0 max-time 2s max-steps 1e6 clock-tick 1ms dpc-queue-depth 64 minimum-dpc-rate 0\n"
             "cost op 1.5k\n"
             "thread app\n"
             "\tsleep 1.5ms\n"
             "  sleep 4K alertable\n"
             "end\n"
             "expect sleep-done(app, 1).time >= 1500000\n"
             "expect sleep-done(app, 2).time >= 1504096\n"
             "expect sleep-done(app, 2).time < 1600000\n");
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert_str_eq(scn_title(sc), "numbers: \303\251");
  ck_assert_uint_eq(scn_seed(sc), 31);
  ck_assert_uint_eq(scn_seed_count(sc), 3);
  ck_assert_int_eq(scn_explore_bound(sc), 5);
  scn_run_opts_t o = {.has_seed = true, .seed = 4};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, NULL), SIM_OK);
  ck_assert_uint_eq(r.seed, 4);
  ck_assert_int_eq(r.expect_total, 3);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  scn_free(sc);
  write_file(path, "machine explore bound none\nthread app\n  sleep 1us\nend\n");
  sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  ck_assert_int_eq(scn_explore_bound(sc), SCN_EXPLORE_UNBOUNDED);
  scn_free(sc);
  /* The run's ceilings: a header above them is refused when it runs. */
  write_file(path, "machine max-steps 200000000\nthread app\n  sleep 1us\nend\n");
  sc = scn_load(path, NULL, &err);
  ck_assert_ptr_nonnull(sc);
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_EINVAL);
  ck_assert_int_eq(err.line, 1);
  ck_assert_int_eq(err.col, 19);
  ck_assert_str_eq(err.msg, "limit reached: machine max-steps 200000000 is above the ceiling of 100000000 steps (raise the "
                            "ceiling with --max-steps N)");
  scn_run_opts_t raised = {.ceil_steps = 300000000};
  ck_assert_int_eq(scn_run(sc, &raised, &r, &err), SIM_OK);
  scn_result_free(&r);
  scn_free(sc);
  write_file(path, "machine max-time 200s\nthread app\n  sleep 1us\nend\n");
  sc = scn_load(path, NULL, &err);
  ck_assert_ptr_nonnull(sc);
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_EINVAL);
  ck_assert_int_eq(err.col, 18);
  ck_assert_str_eq(err.msg, "limit reached: machine max-time 200000000000 ns is above the ceiling of 100000000000 ns "
                            "(raise the ceiling with --max-time T)");
  scn_free(sc);
  unlink(path);
  rmdir(dir);
}
END_TEST

/* ---- runs: the interpreter and the expectation checks ---- */

#define COVER "fixtures/scn-cover/"

/* The facts that decided the line `expect TEXT`. */
static const char *facts_of(const scn_result_t *r, const char *text) {
  for (int i = 0; i < r->expect_total; i++)
    if (!strncmp(r->expects[i].text, "expect ", 7) && !strcmp(r->expects[i].text + 7, text)) return r->expects[i].facts;
  ck_abort_msg("no line `expect %s`", text);
  return NULL;
}

/* Operations with no IRP in hand are skipped and traced as op rows. */
START_TEST(no_irp_in_hand) { tfix_holds(COVER "no-irp.iosim", 23); }
END_TEST

/* Every condition of if and while, true and false. */
START_TEST(conditions) { tfix_holds(COVER "conditions.iosim", 19); }
END_TEST

/* A queued IRP completed and freed is dropped; IoCsqInsertIrp of a
   cancelled IRP completes it; an empty cancel-safe queue gives nothing. */
START_TEST(queues) { tfix_holds(COVER "queues.iosim", 8); }
END_TEST

/* fill by buffer kind; a dispatch routine without return; set-cancel twice. */
START_TEST(fill_and_cancel) { tfix_holds(COVER "fill.iosim", 19); }
END_TEST

/* Requests left hanging on purpose (split to a missing `with`, no dpc
   routine): predicted findings, and the thread that cannot exit. */
START_TEST(hangs) { tfix_holds(COVER "hangs.iosim", 13); }
END_TEST

/* Statements on a file whose create was refused are skipped. */
START_TEST(program_skips) { tfix_holds(COVER "program.iosim", 15); }
END_TEST

/* Typed facts, event fields, any, occurrence numbers: all hold... */
START_TEST(facts_hold) { tfix_holds(COVER "facts.iosim", 66); }
END_TEST

/* ...and their false twins all fail, `sometimes` included (which alone
   is not counted as failed). */
START_TEST(facts_fail) {
  scn_result_t r;
  tfix_run(COVER "facts-false.iosim", NULL, &r, true);
  ck_assert_int_eq(r.expect_total, 53);
  for (int i = 0; i < r.expect_total; i++)
    ck_assert_msg(!r.expects[i].passed, "line %d holds: %s (%s)", r.expects[i].line, r.expects[i].text, r.expects[i].facts);
  ck_assert_int_eq(r.expect_failed, 52);
  ck_assert(r.expects[50].sometimes);
  /* What decided some of them. */
  ck_assert_str_eq(facts_of(&r, "bugcheck 0x44"), "no bugcheck; the run ended ok");
  ck_assert_str_eq(facts_of(&r, "outcome stalled"), "the run ended: ok");
  ck_assert_str_eq(facts_of(&r, "finding irp-leaked"), "the verifier found nothing of rule irp-leaked (0 findings in all)");
  ck_assert_str_eq(facts_of(&r, "finding irp-leaked r9"), "no request named r9 was ever issued");
  ck_assert_str_eq(facts_of(&r, "order complete(r2) < dispatch(r1)"),
                   "complete(r2) at #89 ; dispatch(r1) never happened after that");
  ck_assert_str_eq(facts_of(&r, "order dispatch(r1) < bugcheck(disk0)"), "dispatch(r1) at #24 ; bugcheck(disk0) never happened");
  ck_assert_str_eq(facts_of(&r, "dispatch(disk0, 9).time > 1us"), "dispatch(disk0, 9) never happened");
  ck_assert_str_eq(facts_of(&r, "zero.data == \"a\""), "zero had no buffer");
  scn_result_free(&r);
}
END_TEST

/* `--explain`'s sentence for kinds no lesson's run shows (the sentences
   of the others are checked by the explain suite); none for irp-alloc. */
START_TEST(explain_sentences) {
  static const struct {
    trc_kind_t kind;
    const char *starts;
  } want[] = {
      {TRC_PORT_CLOSED, "The port's last handle is closed (Vista+): its queue is run down"},
      {TRC_PORT_PACKET_FREED, "A packet for a closed port is freed unread"},
      {TRC_APC_RUNDOWN, "The thread is exiting with this user APC still queued: it will never run"},
      {TRC_FILE_LOCK_WAIT, "A synchronous file object serves one request at a time"},
      {TRC_SPINLOCK_SPIN, "Another CPU holds the spin lock: this one spins at DISPATCH_LEVEL"},
      {TRC_WORK_RUN, "A system worker thread runs the work item's routine at PASSIVE_LEVEL"},
      {TRC_IRP_ALLOC, ""},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    trc_event_t ev = trc_event_make(want[i].kind); /* no thread, no device: no machine to ask */
    char buf[512];
    const char *got = scn_explain(NULL, &ev, buf, sizeof buf);
    ck_assert_ptr_eq(got, buf);
    ck_assert_msg(!strncmp(got, want[i].starts, strlen(want[i].starts)) && (*want[i].starts || !*got),
                  "%s: \"%s\"", trc_kind_name(want[i].kind), got);
  }
}
END_TEST

/* Building a C driver when the compiler cannot run, is killed, or there
   is no folder to keep what it built (the environment is this test's:
   Check runs each test in a process of its own). */
START_TEST(cc_failures) {
  char dir[64], real[PATH_MAX], killer[128], err[512], so[PATH_MAX + 64];
  make_dir(dir, sizeof dir, real);
  const char *src[] = {COVER "faulty.c"};
  char home[PATH_MAX];
  snprintf(home, sizeof home, "%s", getenv("HOME") ? getenv("HOME") : "");
  /* A folder without iosim's headers in IOSIM_INCLUDE: the next place wins. */
  setenv("IOSIM_INCLUDE", dir, 1);
  char wdk[PATH_MAX], inc[PATH_MAX];
  ck_assert_int_eq(scn_cc_headers(wdk, inc, sizeof wdk), 0);
  ck_assert_ptr_nonnull(strstr(wdk, "wdk"));
  setenv("CC", "/nonexistent-iosim-cc", 1);
  snprintf(so, sizeof so, "%s/x.so", dir);
  ck_assert_int_eq(scn_cc_build(src, 1, NULL, 0, so, err, sizeof err), -1);
  ck_assert_str_eq(err, "cannot run the C compiler '/nonexistent-iosim-cc': No such file or directory (set CC)");
  snprintf(killer, sizeof killer, "%s/cc.sh", dir);
  write_file(killer, "#!/bin/sh\nkill -9 $$\n");
  ck_assert_int_eq(chmod(killer, 0755), 0);
  setenv("CC", killer, 1);
  ck_assert_int_eq(scn_cc_build(src, 1, NULL, 0, so, err, sizeof err), -1);
  ck_assert_str_eq(err, "the C compiler was killed by signal 9");
  /* The cache: a source named without a folder (this one does not exist,
     and its name is hashed instead of its bytes), built under the same CC. */
  setenv("XDG_CACHE_HOME", dir, 1);
  ck_assert_int_eq(scn_cc_cached("nosuch-driver.c", so, sizeof so, err, sizeof err), -1);
  ck_assert_str_eq(err, "the C compiler was killed by signal 9");
  /* No folder can be made for the cache. */
  setenv("XDG_CACHE_HOME", "/proc/iosim-none", 1);
  setenv("HOME", "/proc/iosim-none", 1);
  setenv("TMPDIR", "/proc/iosim-none", 1);
  ck_assert_int_eq(scn_cc_cached(src[0], so, sizeof so, err, sizeof err), -1);
  ck_assert_str_eq(err, "no folder to keep compiled drivers in (set XDG_CACHE_HOME)");
  unsetenv("IOSIM_INCLUDE"), unsetenv("CC"), unsetenv("XDG_CACHE_HOME"), unsetenv("TMPDIR");
  if (*home) setenv("HOME", home, 1);
  else unsetenv("HOME");
  unlink(killer);
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/iosim/drivers", dir), rmdir(p);
  snprintf(p, sizeof p, "%s/iosim", dir), rmdir(p);
  rmdir(dir);
}
END_TEST

/* The devices a `device` line gives a C driver: one iosim makes for it
   (its DriverEntry made none of that name, it has no AddDevice), stacked
   like any other; one its DriverEntry made, attached on a scripted one;
   and the refusals at the run: a device of another driver, an AddDevice
   driver's device with no `on`. */
static int run_text(const char *text, scn_result_t *r, scn_error_t *err) {
  char path[] = COVER ".devices.iosim";
  write_file(path, text);
  scn_t *sc = scn_load(path, "fixtures", err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
  int rc = scn_run(sc, NULL, r, err);
  scn_free(sc);
  unlink(path);
  return rc;
}

START_TEST(c_driver_devices) {
  scn_result_t r;
  scn_error_t err;
  ck_assert_int_eq(run_text("driver faulty load \"faulty.c\"\n"
                            "driver pass\n  dispatch default\n    skip-stack\n    call-lower\n    return lower-status\n  end\nend\n"
                            "device G0 driver faulty\n"
                            "device H0 driver faulty on G0\n"
                            "device P0 driver pass on H0\n"
                            "device F0 driver faulty\n"
                            "thread app\n  open f F0\n  read f 6 as r1\n  open g P0\n  read g 7 as r2\nend\n"
                            "expect r1.status == STATUS_SUCCESS\n"
                            "expect count dispatch(F0, r1) == 1\n"
                            "expect order dispatch(P0, r2) < dispatch(H0, r2)\n"
                            "expect count dispatch(G0) == 0\n",
                            &r, &err),
                   SIM_OK);
  ck_assert_int_eq(r.expect_total, 4);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  ck_assert_int_eq(run_text("driver faulty load \"faulty.c\"\n"
                            "device Z0 driver faulty\n"
                            "device F0 driver faulty on Z0\n"
                            "thread app\n  open f Z0\n  read f 6 as r1\nend\n"
                            "expect count dispatch(F0, r1) == 1\n"
                            "expect count dispatch(Z0) == 0\n",
                            &r, &err),
                   SIM_OK);
  ck_assert_int_eq(r.expect_total, 2);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  ck_assert_int_eq(run_text("driver faulty load \"faulty.c\"\ndriver counter load \"../scenarios/cdrivers/counter.c\"\n"
                            "device F0 driver counter\nthread app\n  sleep 1us\nend\n",
                            &r, &err),
                   SIM_EINVAL);
  ck_assert_int_eq(err.line, 3);
  ck_assert_int_eq(err.col, 8);
  ck_assert_str_eq(err.msg, "device F0 belongs to driver faulty, not counter");
  ck_assert_int_eq(run_text("driver addf load \"../scenarios/cdrivers/addfilter.c\"\n"
                            "device A0 driver addf\nthread app\n  sleep 1us\nend\n",
                            &r, &err),
                   SIM_EINVAL);
  ck_assert_int_eq(err.line, 2);
  ck_assert_str_eq(err.msg, "driver addf adds its devices in AddDevice: say which device it is added on (device A0 "
                            "driver addf on LOWER)");
}
END_TEST

/* ---- the crash guard of C drivers, in this process ---- */

/* Runs `text` (in the scn-cover folder, beside faulty.c) under the guard:
   the child runs the scenario, the parent (here) waits and reports.  The
   report, written to stderr, is captured in out. */
static int guarded(const char *text, char *out, size_t n) {
  char path[] = COVER ".guard.iosim";
  write_file(path, text);
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  char log[] = "/tmp/iosim-scncov-guard-XXXXXX";
  int fd = mkstemp(log);
  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  int rc = scn_guard_begin(sc);
  if (rc < 0) { /* the child: run, and leave without going back to Check */
    scn_result_t r;
    scn_run(sc, NULL, &r, &err);
    _exit(0);
  }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  ck_assert(!scn_guard_is_child());
  lseek(fd, 0, SEEK_SET);
  ssize_t k = read(fd, out, n - 1);
  out[k > 0 ? k : 0] = 0;
  close(fd);
  unlink(log);
  scn_free(sc);
  unlink(path);
  return rc;
}

#define FAULTY "driver faulty load \"faulty.c\"\ndevice F0 driver faulty\nthread app\n  open f F0\n  read f "

START_TEST(guard_reports_each_death) {
  static const struct {
    const char *len, *words;
  } deaths[] = {
      {"1", "driver faulty crashed the simulator's process: SIGFPE, an arithmetic fault (a division by zero?)\n"},
      {"2", "driver faulty crashed the simulator's process: SIGABRT, an abort (the C library found its heap corrupted?)\n"},
      {"3", "driver faulty crashed the simulator's process: SIGILL, an illegal instruction\n"},
      {"4", "driver faulty crashed the simulator's process: User defined signal 1\n"},
      {"5", "driver faulty crashed the simulator's process: SIGSEGV, an invalid memory access at address 0x"},
  };
  for (size_t i = 0; i < sizeof deaths / sizeof deaths[0]; i++) {
    char text[256], out[8192];
    snprintf(text, sizeof text, FAULTY "%s\nend\n", deaths[i].len);
    ck_assert_int_eq(guarded(text, out, sizeof out), 2);
    ck_assert_msg(strstr(out, deaths[i].words) != NULL, "read %s: %s", deaths[i].len, out);
    ck_assert_msg(strstr(out, "(scenarios with C drivers run in a child process so that a crash is reported") != NULL,
                  "%s", out);
  }
  /* Which routine and which step: the last steps are those of the read. */
  char out[8192];
  ck_assert_int_eq(guarded(FAULTY "5\nend\n", out, sizeof out), 2);
  ck_assert_msg(strstr(out, "inside iosim, with what a driver passed it") != NULL, "%s", out);
  ck_assert_msg(strstr(out, "  called from FaultyDispatch+0x") != NULL, "%s", out);
  ck_assert_msg(strstr(out, "faulty.c:22") != NULL, "%s", out);
  ck_assert_msg(strstr(out, "  the last steps before it:\n") != NULL, "%s", out);
  /* A run that ends normally in the child: its exit status, nothing said. */
  ck_assert_int_eq(guarded(FAULTY "6\nend\n", out, sizeof out), 0);
  ck_assert_str_eq(out, "");
}
END_TEST

/* A scenario without a C driver is not guarded: -1 at once, no child. */
START_TEST(guard_only_for_c_drivers) {
  char dir[64], real[PATH_MAX], path[128];
  make_dir(dir, sizeof dir, real);
  snprintf(path, sizeof path, "%s/t.iosim", dir);
  write_file(path, thread_only);
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_ptr_nonnull(sc);
  ck_assert(!scn_loads_c_drivers(sc));
  ck_assert_int_eq(scn_guard_begin(sc), -1);
  ck_assert(!scn_guard_is_child());
  scn_free(sc);
  unlink(path);
  rmdir(dir);
}
END_TEST

TEST_SUITE(scn_cover_suite)
static Suite *scn_cover_suite(void) {
  Suite *s = suite_create("scn_cover");
  TCase *t = tcase_create("refusals");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, lex);
  tcase_add_test(t, top_level);
  tcase_add_test(t, routine);
  tcase_add_test(t, program);
  tcase_add_test(t, names);
  tcase_add_test(t, expect);
  suite_add_tcase(s, t);
  TCase *f = tcase_create("files");
  tcase_set_timeout(f, 60);
  tcase_add_test(f, include_depth);
  tcase_add_test(f, not_a_scenario_file);
  tcase_add_test(f, scenario_tree);
  tcase_add_test(f, driver_files);
  tcase_add_test(f, accepted_numbers);
  tcase_add_test(f, declaration_limits);
  suite_add_tcase(s, f);
  TCase *r = tcase_create("runs");
  tcase_set_timeout(r, 60);
  tcase_add_test(r, no_irp_in_hand);
  tcase_add_test(r, conditions);
  tcase_add_test(r, queues);
  tcase_add_test(r, fill_and_cancel);
  tcase_add_test(r, hangs);
  tcase_add_test(r, program_skips);
  tcase_add_test(r, facts_hold);
  tcase_add_test(r, facts_fail);
  tcase_add_test(r, explain_sentences);
  suite_add_tcase(s, r);
  TCase *g = tcase_create("guard");
  tcase_set_timeout(g, 120);
  tcase_add_test(g, guard_reports_each_death);
  tcase_add_test(g, guard_only_for_c_drivers);
  tcase_add_test(g, cc_failures);
  tcase_add_test(g, c_driver_devices);
  suite_add_tcase(s, g);
  return s;
}
