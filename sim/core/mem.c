/*
 * mem.c - the simulator's memory: an allocator that counts every byte (the
 * machine's statistics), the one growable-array helper, and what an
 * invariant failure prints.
 */
#include "core/core.h"

#include <stdio.h>
#include <unistd.h>

#include "iosim/alloc.h"

/* ---- the process's one allocation path (include/iosim/alloc.h) ---- */

#ifdef IOSIM_FAULT_INJECTION
/* Process-wide by nature (the C library's heap is): the allocation count
   and the one to fail, read once from IOSIM_FAIL_ALLOC. */
static unsigned long long alloc_count, alloc_fail_at;
static int alloc_env_read;

static void alloc_report(void) { fprintf(stderr, "iosim: %llu allocations\n", alloc_count); }

static int alloc_should_fail(void) {
  if (!alloc_env_read) {
    alloc_env_read = 1;
    const char *e = getenv("IOSIM_FAIL_ALLOC");
    alloc_fail_at = e ? strtoull(e, NULL, 10) : 0;
    if (getenv("IOSIM_COUNT_ALLOC")) atexit(alloc_report);
  }
  return ++alloc_count == alloc_fail_at;
}
#else
static int alloc_should_fail(void) { return 0; }
#endif

void iosim_oom(size_t n) {
  /* No allocation from here on: the message is formatted on the stack. */
  char msg[96];
  int len = snprintf(msg, sizeof msg, "iosim: out of memory (%zu bytes)\n", n);
  if (len > 0) {
    ssize_t w = write(STDERR_FILENO, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    (void)w;
  }
  /* On a simulated CPU's stack, go back to the host's first (sim_run
     exits from there): everything still held is then reachable from the
     host's stack, where LeakSanitizer looks, and nothing runs on. */
  sim_t *S = ctx_sim_if_any();
  if (S && S->cur_ctx != &S->main_ctx && !S->out_of_memory) {
    S->out_of_memory = true;
    sched_stop(S);
  }
  mem_oom_exit();
}

void mem_oom_exit(void) {
  fflush(stdout);
  exit(SIM_EXIT_OUT_OF_MEMORY);
}

void *iosim_try_malloc(size_t n) { return alloc_should_fail() ? NULL : malloc(n ? n : 1); }
void *iosim_try_realloc(void *p, size_t n) { return alloc_should_fail() ? NULL : realloc(p, n ? n : 1); }

void *iosim_malloc(size_t n) {
  void *p = iosim_try_malloc(n);
  if (!p) iosim_oom(n);
  return p;
}

void *iosim_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) iosim_oom(SIZE_MAX);
  void *p = iosim_malloc(n * size);
  size_t bytes = n * size;
  memset(p, 0, bytes ? bytes : 1);
  return p;
}

void *iosim_realloc(void *p, size_t n) {
  void *q = iosim_try_realloc(p, n);
  if (!q) iosim_oom(n);
  return q;
}

char *iosim_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = iosim_malloc(n);
  memcpy(d, s, n);
  return d;
}

/* ---- the engine's counted memory ---- */

/* The one place that runs out of memory. */
void *mem_alloc(sim_t *S, size_t n) {
  if (n == 0) return NULL;
  void *p = iosim_malloc(n);
  S->stats.bytes_live += n;
  if (S->stats.bytes_live > S->stats.bytes_peak) S->stats.bytes_peak = S->stats.bytes_live;
  return p;
}

void *mem_calloc(sim_t *S, size_t n) {
  void *p = mem_alloc(S, n);
  memset(p, 0, n);
  return p;
}

void mem_free(sim_t *S, void *p, size_t n) {
  if (!p) return;
  S->stats.bytes_live -= n;
  free(p);
}

char *mem_strdup(sim_t *S, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = mem_alloc(S, n);
  memcpy(d, s, n);
  return d;
}

void *vec_grow(sim_t *S, void *v, size_t *cap, size_t need, size_t elem) {
  size_t old = *cap;
  v = iosim_vec_grow(v, cap, need, elem);
  if (*cap < need) mem_exhausted(SIZE_MAX); /* need * elem is past size_t */
  S->stats.bytes_live += (*cap - old) * elem;
  if (S->stats.bytes_live > S->stats.bytes_peak) S->stats.bytes_peak = S->stats.bytes_live;
  return v;
}

void mem_exhausted(size_t bytes) { iosim_oom(bytes); }

void sim_charge_memory(sim_t *S, size_t bytes) { S->bytes_charged += bytes; }

bool sim_asserts_enabled(void) {
#ifdef NDEBUG
  return false;
#else
  return true;
#endif
}

void sim_assert_failed(const char *cond, const char *file, int line, const char *func) {
  fprintf(stderr, "iosim: internal invariant violated: %s (%s:%d, %s)\n", cond, file, line, func);
  abort();
}
