/*
 * fz_common.c - what the fuzz harnesses share: the source tree they read
 * lessons and the standard drivers from, and one temporary folder per
 * process for the files an input becomes (a scenario, a database).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FZ_SRCDIR
#define FZ_SRCDIR ".."
#endif

const char *fz_srcdir(void) { return FZ_SRCDIR; }

/* Harness state lives for the process (libFuzzer calls the target millions
   of times); it is test code, not the simulator, which keeps none. */
static char tmpdir[256];

static void rm_tmpdir(void) {
  if (!tmpdir[0]) return;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", tmpdir);
}

const char *fz_tmpdir(void) {
  if (tmpdir[0]) return tmpdir;
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/iosim-fuzz-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    tmpdir[0] = 0;
    return "";
  }
  atexit(rm_tmpdir);
  return tmpdir;
}

int fz_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  int ok = fwrite(data, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

/* Graphviz 2.42/2.43's pango plugin remembers the font name of the last
   graph it measured text for, and compares it (strcmp) in the next layout
   after agclose freed it: a use-after-free inside the library whenever one
   process lays out two pictures, as the database target does on every
   input.  AddressSanitizer reads this (in the fuzz binaries and under make
   asan) to silence reports raised in an interceptor called from that
   plugin, and nothing else (tests/fuzz/asan.supp). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "suppressions=" FZ_SRCDIR "/tests/fuzz/asan.supp"; }
