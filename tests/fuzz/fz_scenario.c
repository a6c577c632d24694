/*
 * fz_scenario.c - fuzz target 1: a scenario file, loaded and run once.
 *
 * The input becomes scenarios/fuzz/in.iosim in the harness's folder, beside
 * a link to the source tree's scenarios/lib, so `include "../lib/disk.iosim"`
 * works as in a lesson.  The run is bounded (FZ_MAX_STEPS steps, FZ_MAX_NS of
 * simulated time, whatever the `machine` line asks) so no input runs long;
 * the console table and --explain's sentence are written for every step to
 * a null stream, so the printing code is fuzzed with the engine.
 *
 * The mutator edits lines rather than bytes where it can: a scenario is a
 * list of statements, and byte flips seldom make a new valid one.  It also
 * makes what byte edits never reach: blocks nested hundreds deep and device
 * stacks hundreds tall.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "iosim/scenario.h"
#include "scn/scn_int.h"

#define FZ_MAX_INPUT (256 * 1024)
#define FZ_MAX_STEPS 5000
#define FZ_MAX_NS (2ull * 1000 * 1000 * 1000)

typedef struct fz_run {
  FILE *null;
} fz_run_t;

typedef struct fz_sink {
  sim_t *S;
  trc_sink_t table;
  FILE *null;
} fz_sink_t;

static void fz_event(void *ud, const trc_event_t *ev) {
  fz_sink_t *x = ud;
  x->table.event(x->table.ud, ev);
  char b[400];
  scn_explain(x->S, ev, b, sizeof b);
  fputs(b, x->null);
}

static void fz_close(void *ud) {
  fz_sink_t *x = ud;
  if (x->table.close) x->table.close(x->table.ud);
  free(x);
}

static void fz_start(void *ud, sim_t *S) {
  fz_run_t *r = ud;
  fz_sink_t *x = calloc(1, sizeof *x);
  if (!x) abort();
  x->S = S;
  x->null = r->null;
  x->table = sim_console_sink(S, r->null);
  trc_sink_t t = {.event = fz_event, .close = fz_close, .ud = x};
  sim_add_sink(S, &t);
}

static void fz_finish(void *ud, sim_t *S, const scn_result_t *res) {
  fz_run_t *r = ud;
  if (res->outcome == SIM_RUN_BUGCHECK) sim_bugcheck_report(S, r->null);
  if (res->last_steps) fputs(res->last_steps, r->null);
  fputs(res->account, r->null);
}

/* The folder the input is written to, and the standard drivers beside it. */
static const char *scenario_path(void) {
  static char path[512];
  if (path[0]) return path;
  const char *t = fz_tmpdir();
  if (!*t) return NULL;
  char d[400], lib[400], target[400];
  snprintf(d, sizeof d, "%s/scenarios", t);
  mkdir(d, 0700);
  snprintf(lib, sizeof lib, "%s/scenarios/lib", t);
  snprintf(target, sizeof target, "%s/scenarios/lib", fz_srcdir());
  if (symlink(target, lib) != 0) return NULL;
  snprintf(d, sizeof d, "%s/scenarios/fuzz", t);
  mkdir(d, 0700);
  snprintf(path, sizeof path, "%s/in.iosim", d);
  return path;
}

int fz_scenario_one(const uint8_t *data, size_t n) {
  if (n > FZ_MAX_INPUT) return 0;
  const char *path = scenario_path();
  if (!path || !fz_write_file(path, data, n)) abort();
  char lib[400];
  snprintf(lib, sizeof lib, "%s/scenarios/lib", fz_srcdir());
  scn_error_t err;
  scn_t *sc = scn_load(path, lib, &err);
  if (!sc) {
    /* Bad input must say where and what (file:line:col: message). */
    if (!err.msg[0] || !err.file[0] || err.line < 0 || err.col < 0) abort();
    return 0;
  }
  if (!sc->cfg.max_steps || sc->cfg.max_steps > FZ_MAX_STEPS) sc->cfg.max_steps = FZ_MAX_STEPS;
  if (!sc->cfg.max_time_ns || sc->cfg.max_time_ns > FZ_MAX_NS) sc->cfg.max_time_ns = FZ_MAX_NS;
  static sim_stack_cache_t *stacks;
  if (!stacks) stacks = sim_stack_cache_new();
  fz_run_t r = {.null = fopen("/dev/null", "w")};
  if (!r.null) abort();
  scn_run_opts_t o = {.on_start = fz_start, .on_finish = fz_finish, .ud = &r, .stacks = stacks};
  scn_result_t res;
  if (scn_run(sc, &o, &res, &err) == 0) scn_result_free(&res);
  else if (!err.msg[0]) abort(); /* a run that cannot be built says why */
  fclose(r.null);
  scn_free(sc);
  return 0;
}

/* ---- the structure-aware mutator ---- */

/* xorshift32: the mutator's only randomness, from libFuzzer's seed. */
static unsigned rnd(unsigned *s) {
  unsigned x = *s ? *s : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* The input as lines (pointers into a private copy). */
typedef struct lines {
  char *text;
  char **l;
  size_t n;
} lines_t;

static int split(lines_t *L, const uint8_t *data, size_t size) {
  L->text = malloc(size + 1);
  L->l = malloc(sizeof(char *) * (size + 2));
  if (!L->text || !L->l) return 0;
  memcpy(L->text, data, size);
  L->text[size] = 0;
  L->n = 0;
  char *s = L->text;
  for (char *e; (e = memchr(s, '\n', (size_t)(L->text + size - s))); s = e + 1) {
    *e = 0;
    L->l[L->n++] = s;
  }
  if (*s) L->l[L->n++] = s;
  return 1;
}

/* Appends to out (at most max bytes); false when it does not fit. */
typedef struct buf {
  uint8_t *p;
  size_t len, max;
} buf_t;

static int put(buf_t *b, const char *s) {
  size_t k = strlen(s);
  if (b->len + k + 1 > b->max) return 0;
  memcpy(b->p + b->len, s, k);
  b->len += k;
  b->p[b->len++] = '\n';
  return 1;
}

/* Statements the mutator inserts: one of each kind of line the language
   has, in the places they belong (top level, routine, thread program). */
static const char *const snippets[] = {
    "machine cpus 2 seed 3 jitter 20",
    "machine max-steps 5000",
    "include \"../lib/disk.iosim\"",
    "include \"../lib/fsd.iosim\"",
    "include \"../lib/filter.iosim\"",
    "device fzd driver disk latency 50us",
    "event fze notification",
    "port fzp concurrency 1",
    "thread fzt\n  open f fzd\n  read f 512 as fzr\nend",
    "thread fzt2 alertable\n  open g fzd overlapped\n  read g 4096 as fzr2\n  wait fzr2\n  close g\nend",
    "driver fzdrv\n  dispatch default\n    mark-pending\n    queue q\n    return STATUS_PENDING\n  end\nend",
    "    mark-pending",
    "    copy-stack",
    "    skip-stack",
    "    call-lower",
    "    set-completion fzc on success error cancel",
    "    complete STATUS_SUCCESS",
    "    return STATUS_PENDING",
    "    return lower-status",
    "    request-dpc",
    "    if pending-returned",
    "    else",
    "    end",
    "  repeat 3",
    "  end",
    "  cancel f",
    "  sleep 10us",
    "  delay 5us",
    "expect r1.status == STATUS_SUCCESS",
    "expect count(complete) >= 1",
    "expect outcome == ok",
};

/* Copies lines [0,n) into b with `wrap` levels of an opener and `end`
   around lines [a,z). */
static int emit_wrapped(buf_t *b, const lines_t *L, size_t a, size_t z, unsigned wrap, const char *opener) {
  for (size_t i = 0; i < L->n; i++) {
    if (i == a)
      for (unsigned k = 0; k < wrap; k++)
        if (!put(b, opener)) return 0;
    if (!put(b, L->l[i])) return 0;
    if (i + 1 == z)
      for (unsigned k = 0; k < wrap; k++)
        if (!put(b, "end")) return 0;
  }
  return 1;
}

/* A pass-through driver and `k` devices of it on top of device `base`;
   every `open` of `base` then opens the top of the new stack. */
static int emit_taller(buf_t *b, const lines_t *L, unsigned k, unsigned tag) {
  char base[64] = "";
  for (size_t i = 0; i < L->n && !base[0]; i++) {
    char name[64];
    if (sscanf(L->l[i], "device %63s", name) == 1) snprintf(base, sizeof base, "%s", name);
  }
  if (!base[0]) return 0;
  char top[80], line[200];
  snprintf(top, sizeof top, "fzs%u_%u", tag, k);
  for (size_t i = 0; i < L->n; i++) {
    char f[64], dev[64];
    int off = 0;
    if (sscanf(L->l[i], " open %63s %63s%n", f, dev, &off) == 2 && !strcmp(dev, base)) {
      snprintf(line, sizeof line, "  open %s %s%s", f, top, L->l[i] + off);
      if (!put(b, line)) return 0;
    } else if (!put(b, L->l[i])) {
      return 0;
    }
  }
  snprintf(line, sizeof line, "driver fzpass%u\n  dispatch default\n    skip-stack\n    call-lower\n  end\nend", tag);
  if (!put(b, line)) return 0;
  for (unsigned i = 1; i <= k; i++) {
    char below[80];
    if (i == 1) snprintf(below, sizeof below, "%s", base);
    else snprintf(below, sizeof below, "fzs%u_%u", tag, i - 1);
    snprintf(line, sizeof line, "device fzs%u_%u driver fzpass%u on %s", tag, i, tag, below);
    if (!put(b, line)) return 0;
  }
  return 1;
}

/* Depths spread over 1..~2000, small ones likelier. */
static unsigned depth(unsigned *s) { return 1 + (rnd(s) % (1u << (rnd(s) % 12))); }

size_t fz_scenario_mutate(uint8_t *data, size_t size, size_t max, unsigned seed, fz_mutate_fn *fallback) {
  unsigned s = seed;
  unsigned op = rnd(&s) % 10;
  if (op < 4 || size == 0) return fallback(data, size, max);
  lines_t L = {0};
  uint8_t *out = malloc(max);
  if (!out || !split(&L, data, size) || L.n == 0) {
    free(out), free(L.text), free(L.l);
    return fallback(data, size, max);
  }
  buf_t b = {.p = out, .max = max};
  size_t a = rnd(&s) % L.n, z = a + 1 + rnd(&s) % (L.n - a);
  int ok = 1;
  switch (op) {
  case 4: /* copy a line somewhere else */
    for (size_t i = 0; i < L.n && ok; i++) {
      if (i == z - 1) ok = put(&b, L.l[a]);
      ok = ok && put(&b, L.l[i]);
    }
    break;
  case 5: /* drop lines [a,z) */
    for (size_t i = 0; i < L.n && ok; i++)
      if (i < a || i >= z) ok = put(&b, L.l[i]);
    break;
  case 6: /* insert a statement */
    for (size_t i = 0; i < L.n && ok; i++) {
      if (i == a) ok = put(&b, snippets[rnd(&s) % (sizeof snippets / sizeof snippets[0])]);
      ok = ok && put(&b, L.l[i]);
    }
    break;
  case 7: { /* nest lines [a,z) deep in repeat blocks (thread programs) */
    char opener[40];
    snprintf(opener, sizeof opener, "  repeat %u", 1 + rnd(&s) % 3);
    ok = emit_wrapped(&b, &L, a, z, depth(&s), opener);
    break;
  }
  case 8: { /* nest lines [a,z) deep in if blocks (driver routines) */
    static const char *const conds[] = {"    if pending-returned", "    if counter fzn == 0",
                                        "    if status == STATUS_SUCCESS", "    while counter fzn < 2"};
    ok = emit_wrapped(&b, &L, a, z, depth(&s), conds[rnd(&s) % 4]);
    break;
  }
  default: /* a taller device stack */
    ok = emit_taller(&b, &L, depth(&s), rnd(&s) % 1000);
    break;
  }
  size_t n = b.len;
  if (ok && n > 0 && n <= max) memcpy(data, out, n);
  free(out), free(L.text), free(L.l);
  return ok && n > 0 ? n : fallback(data, size, max);
}
