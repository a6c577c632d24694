/*
 * cc_cmd.c - `iosim cc`: builds a Windows driver's C sources into a
 * shared object a scenario loads (`driver NAME load "X.so"`), with iosim's
 * WDK headers and the flags they need; a thin wrapper over the system's C
 * compiler, so its messages are the compiler's own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "iosim/scenario.h"
#include "iosim/alloc.h"

static const char usage_cc[] =
    "usage: iosim cc DRIVER.c... -o DRIVER.so [-DNAME[=V]] [-IDIR] [-WFLAG] [-OLEVEL]\n"
    "       iosim cc --cflags\n"
    "\n"
    "Compiles a WDM driver's unmodified C sources (#include <ntddk.h>,\n"
    "DriverEntry(PDRIVER_OBJECT, PUNICODE_STRING)) into a shared object for\n"
    "the simulated machine: the system's C compiler ($CC, else cc) with\n"
    "iosim's WDK headers first on the include path, 16-bit wide characters\n"
    "(-fshort-wchar, so L\"...\" is a WCHAR string), pool tags as 'gaTm'\n"
    "(-Wno-multichar), #pragma alloc_text ignored, -shared -fPIC -g.  A\n"
    "routine iosim does not provide is an error here (implicit declaration).\n"
    "A scenario loads the result with `driver NAME load \"DRIVER.so\"`, or\n"
    "names the .c itself and iosim compiles it (docs/c-drivers.md).\n"
    "  -o FILE      the shared object to write (required)\n"
    "  -D -I -W -O -f -g -std=  passed to the compiler as they are\n"
    "  --cflags     print the include and language flags, for a build of\n"
    "               your own (as pkg-config --cflags iosim does)\n"
    "Exit status: 0 built, 2 it did not (the compiler's messages are above).\n";

static bool passes_through(const char *a) {
  static const char *const pre[] = {"-D", "-U", "-I", "-W", "-O", "-f", "-g", "-std=", "-m", NULL};
  for (int i = 0; pre[i]; i++)
    if (!strncmp(a, pre[i], strlen(pre[i]))) return true;
  return false;
}

int cli_cc(int argc, char **argv) {
  const char *out = NULL;
  const char **srcs = iosim_calloc((size_t)argc + 1, sizeof *srcs), **extra = iosim_calloc((size_t)argc + 1, sizeof *extra);
  int nsrcs = 0, nextra = 0, rc = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_cc, stdout);
      rc = 0;
      goto done;
    }
    if (!strcmp(a, "--cflags")) {
      char wdk[4096], inc[4096];
      if (scn_cc_headers(wdk, inc, sizeof wdk) != 0) {
        fprintf(stderr, "iosim cc: cannot find iosim's WDK headers (set IOSIM_INCLUDE)\n");
        goto done;
      }
      printf("-I%s -I%s -std=gnu11 -fshort-wchar -Wno-multichar -Wno-unknown-pragmas\n", wdk, inc);
      rc = 0;
      goto done;
    }
    if (!strcmp(a, "-o")) {
      if (i + 1 == argc) {
        fprintf(stderr, "iosim cc: -o needs a file name\n");
        goto done;
      }
      out = argv[++i];
      continue;
    }
    if ((!strcmp(a, "-I") || !strcmp(a, "-D")) && i + 1 < argc) { /* -I DIR, -D NAME */
      extra[nextra++] = a;
      extra[nextra++] = argv[++i];
      continue;
    }
    if (a[0] == '-') {
      if (!passes_through(a)) {
        fprintf(stderr, "iosim cc: unknown option '%s'\n%s", a, usage_cc);
        goto done;
      }
      extra[nextra++] = a;
      continue;
    }
    size_t n = strlen(a);
    if (n < 3 || strcmp(a + n - 2, ".c")) {
      fprintf(stderr, "iosim cc: '%s' is not a C source (.c)\n", a);
      goto done;
    }
    srcs[nsrcs++] = a;
  }
  if (!nsrcs || !out) {
    fputs(usage_cc, stderr);
    goto done;
  }
  size_t n = strlen(out);
  if (n < 4 || strcmp(out + n - 3, ".so")) {
    fprintf(stderr, "iosim cc: the output is a shared object: name it FILE.so, not '%s'\n", out);
    goto done;
  }
  /* Built beside its name, then renamed: a failed build leaves an older
     good one as it was, and nothing half-written. */
  char err[512], *tmp = iosim_malloc(n + 32);
  snprintf(tmp, n + 32, "%s.%ld.tmp", out, (long)getpid());
  if (scn_cc_build(srcs, nsrcs, extra, nextra, tmp, err, sizeof err) != 0) {
    fprintf(stderr, "iosim cc: %s\n", err);
    remove(tmp);
  } else if (rename(tmp, out) != 0) {
    fprintf(stderr, "iosim cc: cannot write %s: %s\n", out, strerror(errno));
    remove(tmp);
  } else {
    rc = 0;
  }
  free(tmp);
done:
  free(srcs);
  free(extra);
  return rc;
}
