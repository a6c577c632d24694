/*
 * cdrv_build.c - building a C driver: the compiler command `iosim cc`
 * runs (the system's C compiler with iosim's WDK headers, 16-bit wide
 * characters and a shared object as output), where those headers are, and
 * the cache a scenario's `driver NAME load "FILE.c"` compiles into, so
 * that a driver's source is compiled once, not at every run.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "iosim/alloc.h"

extern char **environ;

/* Where `make install` puts the headers, and the tree iosim was built in. */
#ifndef IOSIM_INCDIR
#define IOSIM_INCDIR "/usr/local/include"
#endif
#ifndef IOSIM_SRC_INCDIR
#define IOSIM_SRC_INCDIR ""
#endif

static bool is_file(const char *dir, const char *rel) {
  char p[PATH_MAX * 2];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A folder R holds iosim's headers as installed (R/iosim/wdk/) or as in
   the source tree (R/wdk/ beside R/iosim/). */
static bool try_root(const char *root, char *wdk, char *inc, size_t n) {
  if (!root || !*root) return false;
  char real[PATH_MAX];
  if (!realpath(root, real)) return false;
  if (is_file(real, "iosim/wdk/ntddk.h")) {
    snprintf(wdk, n, "%s/iosim/wdk", real);
    snprintf(inc, n, "%s", real);
    return true;
  }
  if (is_file(real, "wdk/ntddk.h") && is_file(real, "iosim/wdm.h")) {
    snprintf(wdk, n, "%s/wdk", real);
    snprintf(inc, n, "%s", real);
    return true;
  }
  return false;
}

int scn_cc_headers(char *wdk, char *inc, size_t n) {
  if (try_root(getenv("IOSIM_INCLUDE"), wdk, inc, n)) return 0;
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0) {
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      /* PREFIX/bin/iosim -> PREFIX/include; build/iosim and ./iosim in the tree */
      snprintf(slash, sizeof exe - (size_t)(slash - exe), "/../include");
      if (try_root(exe, wdk, inc, n)) return 0;
      snprintf(slash, sizeof exe - (size_t)(slash - exe), "/include");
      if (try_root(exe, wdk, inc, n)) return 0;
    }
  }
  if (try_root(IOSIM_INCDIR, wdk, inc, n)) return 0;
  if (try_root(IOSIM_SRC_INCDIR, wdk, inc, n)) return 0;
  return -1;
}

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The flags every driver is built with; the tests and the Makefile's
   WDK_CFLAGS use the same language settings. */
static const char *const cc_flags[] = {"-shared", "-fPIC", "-std=gnu11", "-fshort-wchar", "-g", "-O1",
                                       "-Wall", "-Wno-multichar", "-Wno-unknown-pragmas",
                                       /* a routine iosim lacks is an error here, not at load */
                                       "-Werror=implicit-function-declaration"};
#define NFLAGS (sizeof cc_flags / sizeof cc_flags[0])

int scn_cc_build(const char *const *srcs, int nsrcs, const char *const *extra, int nextra, const char *out,
                 char *err, size_t errlen) {
  char wdk[PATH_MAX], inc[PATH_MAX];
  if (scn_cc_headers(wdk, inc, sizeof wdk) != 0) {
    say(err, errlen, "cannot find iosim's WDK headers (set IOSIM_INCLUDE to the folder that holds iosim/wdk)");
    return -1;
  }
  const char *cc = getenv("CC");
  if (!cc || !*cc) cc = "cc";
  size_t argc = 1 + NFLAGS + 4 + (size_t)nextra + (size_t)nsrcs + 2 + 1;
  char **argv = iosim_calloc(argc, sizeof *argv);
  char iw[PATH_MAX + 3], ii[PATH_MAX + 3];
  snprintf(iw, sizeof iw, "-I%s", wdk);
  snprintf(ii, sizeof ii, "-I%s", inc);
  size_t k = 0;
  argv[k++] = (char *)cc;
  for (size_t i = 0; i < NFLAGS; i++) argv[k++] = (char *)cc_flags[i];
  argv[k++] = iw;
  argv[k++] = ii;
  for (int i = 0; i < nextra; i++) argv[k++] = (char *)extra[i];
  for (int i = 0; i < nsrcs; i++) argv[k++] = (char *)srcs[i];
  static char dash_o[] = "-o";
  argv[k++] = dash_o;
  argv[k++] = (char *)out;
  argv[k] = NULL;
  pid_t pid;
  int rc = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
  free(argv);
  if (rc != 0) {
    say(err, errlen, "cannot run the C compiler '%s': %s (set CC)", cc, strerror(rc));
    return -1;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      say(err, errlen, "waiting for the C compiler: %s", strerror(errno));
      return -1;
    }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (WIFEXITED(st)) say(err, errlen, "the C compiler failed (exit status %d): its messages are above", WEXITSTATUS(st));
  else say(err, errlen, "the C compiler was killed by signal %d", WTERMSIG(st));
  return -1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t hash_file(uint64_t h, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return fnv(h, path, strlen(path));
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = fnv(h, buf, n);
  fclose(f);
  return h;
}

/* Every header in a folder, in name order (readdir's order is the file
   system's): a driver's own headers and iosim's decide what is built. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static uint64_t hash_headers(uint64_t h, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return h;
  char *names[256];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 256;) {
    size_t len = strlen(e->d_name);
    if (len > 2 && !strcmp(e->d_name + len - 2, ".h")) names[n++] = iosim_strdup(e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 0; i < n; i++) {
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    h = fnv(h, names[i], strlen(names[i]));
    h = hash_file(h, p);
    free(names[i]);
  }
  return h;
}

/* $XDG_CACHE_HOME/iosim/drivers, ~/.cache/iosim/drivers, else a folder of
   this user's under $TMPDIR: the first that exists or can be made. */
static int cache_dir(char *out, size_t n) {
  char base[PATH_MAX - 16];
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *tmp = getenv("TMPDIR");
  const char *cands[3] = {NULL, NULL, NULL};
  char b0[PATH_MAX - 16], b1[PATH_MAX - 16], b2[PATH_MAX - 16];
  if (xdg && *xdg == '/') snprintf(b0, sizeof b0, "%s/iosim", xdg), cands[0] = b0;
  if (home && *home == '/') snprintf(b1, sizeof b1, "%s/.cache/iosim", home), cands[1] = b1;
  snprintf(b2, sizeof b2, "%s/iosim-%ld", tmp && *tmp == '/' ? tmp : "/tmp", (long)getuid());
  cands[2] = b2;
  for (int i = 0; i < 3; i++) {
    if (!cands[i]) continue;
    snprintf(base, sizeof base, "%s", cands[i]);
    /* mkdir -p of the two last levels: .cache may not exist yet */
    char *slash = strrchr(base, '/');
    if (slash && slash != base) {
      *slash = 0;
      mkdir(base, 0700);
      *slash = '/';
    }
    mkdir(base, 0700);
    snprintf(out, n, "%s/drivers", base);
    mkdir(out, 0700);
    if (access(out, W_OK | X_OK) == 0) return 0;
  }
  return -1;
}

int scn_cc_cached(const char *src, char *so, size_t n, char *err, size_t errlen) {
  char wdk[PATH_MAX], inc[PATH_MAX];
  if (scn_cc_headers(wdk, inc, sizeof wdk) != 0) {
    say(err, errlen, "cannot find iosim's WDK headers (set IOSIM_INCLUDE to the folder that holds iosim/wdk)");
    return -1;
  }
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv(h, IOSIM_VERSION, strlen(IOSIM_VERSION));
  const char *cc = getenv("CC");
  if (cc) h = fnv(h, cc, strlen(cc));
  for (size_t i = 0; i < NFLAGS; i++) h = fnv(h, cc_flags[i], strlen(cc_flags[i]));
  h = fnv(h, src, strlen(src)); /* its debugging information names it */
  h = hash_file(h, src);
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", src);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  h = hash_headers(h, dir);
  h = hash_headers(h, wdk);
  char iosimh[PATH_MAX * 2];
  snprintf(iosimh, sizeof iosimh, "%s/iosim", inc);
  h = hash_headers(h, iosimh);
  char cdir[PATH_MAX];
  if (cache_dir(cdir, sizeof cdir) != 0) {
    say(err, errlen, "no folder to keep compiled drivers in (set XDG_CACHE_HOME)");
    return -1;
  }
  const char *base = strrchr(src, '/');
  base = base ? base + 1 : src;
  int blen = (int)strcspn(base, ".");
  if (blen > 64) blen = 64;
  snprintf(so, n, "%s/%.*s-%016llx.so", cdir, blen, base, (unsigned long long)h);
  struct stat st;
  if (stat(so, &st) == 0 && S_ISREG(st.st_mode)) return 0;
  /* Built under a name of its own, then renamed: a run that loads the
     driver meanwhile never sees half a file. */
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", so, (long)getpid());
  const char *srcs[1] = {src};
  if (scn_cc_build(srcs, 1, NULL, 0, tmp, err, errlen) != 0) {
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, so) != 0) {
    say(err, errlen, "cannot keep the compiled driver as %s: %s", so, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}
