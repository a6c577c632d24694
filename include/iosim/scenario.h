/*
 * scenario.h - scenario files: load (parse + resolve includes), run on a
 * fresh machine, and check the `expect` lines against what happened.
 */
#ifndef IOSIM_SCENARIO_H
#define IOSIM_SCENARIO_H

#include "iosim/sim.h"
#include "iosim/verify.h"

typedef struct scn scn_t;

/* A bad input: where, and what.  Printed as "file:line:col: message". */
typedef struct scn_error {
  char file[512];
  int line, col;
  char msg[512];
} scn_error_t;

/* Loads `path`.  Includes resolve relative to the including file and must
   stay inside the scenario tree (the nearest folder named `scenarios`
   above the file, else the file's own folder) or `extra_dir` when given.  NULL + *err on bad input. */
scn_t *scn_load(const char *path, const char *extra_dir, scn_error_t *err);
void scn_free(scn_t *sc);
const char *scn_title(const scn_t *sc);
const char *scn_path(const scn_t *sc);
/* FNV-1a 64 of the text of the file and everything it includes. */
uint64_t scn_hash(const scn_t *sc);
uint64_t scn_seed(const scn_t *sc);
/* Whether the header asks for several seeds: `machine ... seeds N`. */
unsigned scn_seed_count(const scn_t *sc);
/* Whether the header asks to be checked over its schedules instead of
   seeds (`machine explore bound K`, docs/exploration.md): the bound K,
   SCN_EXPLORE_UNBOUNDED for `bound none`, SCN_EXPLORE_NONE when it does
   not ask. */
#define SCN_EXPLORE_NONE (-1)
#define SCN_EXPLORE_UNBOUNDED (-2)
int scn_explore_bound(const scn_t *sc);

typedef struct scn_expect_result {
  const char *text;  /* the expect line as written */
  int line;
  bool passed;
  char facts[512];   /* the trace facts that decided it */
  bool sometimes;    /* `expect sometimes ...`: must hold in at least one of
                        the seeds, so one seed's failure is not counted */
} scn_expect_result_t;

typedef struct scn_result {
  sim_outcome_t outcome;
  uint64_t seed;
  int expect_total, expect_failed; /* failed excludes `sometimes` lines */
  scn_expect_result_t *expects; /* expect_total entries, owned by the result */
  sim_bugcheck_t bugcheck;      /* valid when outcome == SIM_RUN_BUGCHECK */
  uint64_t end_ns;
  /* Every run is verified (verify.h): the findings, in the order found,
     each marked `predicted` when an `expect finding` line names it. */
  vrf_finding_t *findings;      /* finding_total entries, owned by the result */
  int finding_total;
  int finding_unexpected;       /* findings no `expect finding` line predicts */
  char *last_steps;             /* after a bugcheck: the trace rows that led there, owned */
  char *account;                /* the end-of-run account (vrf_account): IRPs still
                                   allocated, threads still waiting; "" if none, owned */
  const char *limit;            /* outcome SIM_RUN_LIMIT: which (sim_limit_reached) */
} scn_result_t;
void scn_result_free(scn_result_t *r);

/* Load-time limits (docs/reliability.md).  Blocks (if, while, repeat)
   nest at most SCN_MAX_NESTING deep: the parser, the checks and the
   interpreter (on a simulated thread's 256 KiB stack) recurse once a level.
   Includes nest at most SCN_MAX_INCLUDE_DEPTH deep. */
#define SCN_MAX_NESTING 64
#define SCN_MAX_INCLUDE_DEPTH 32
/* What one scenario may declare: enough for a stress test, small enough
   that the machine it builds stays within the memory budget. */
#define SCN_MAX_THREADS 100000
#define SCN_MAX_DEVICES 100000
#define SCN_MAX_OBJECTS 100000 /* events and ports */
#define SCN_MAX_EXPECTS 100000

typedef struct scn_run_opts {
  bool has_seed;
  uint64_t seed;
  /* Called after the machine is built, before it runs: add sinks here. */
  void (*on_start)(void *ud, sim_t *S);
  /* Called after the run and the expectations, before the machine goes. */
  void (*on_finish)(void *ud, sim_t *S, const scn_result_t *r);
  void *ud;
  /* Coroutine stacks to reuse (many runs in a row), NULL = none. */
  sim_stack_cache_t *stacks;
  /* Ceilings (docs/reliability.md): a `machine max-steps` or `max-time`
     above them is refused (0 = SCN_CEIL_STEPS, SCN_CEIL_TIME_NS; the
     command line's --max-steps and --max-time raise them).  The run's
     wall-clock limit in ms (0 = none) and its memory budget in bytes
     (0 = SIM_MAX_MEMORY_DEFAULT). */
  uint64_t ceil_steps, ceil_time_ns;
  uint64_t max_wall_ms, max_memory;
} scn_run_opts_t;
#define SCN_CEIL_STEPS 100000000ull            /* 100 million steps */
#define SCN_CEIL_TIME_NS 100000000000ull       /* 100 s of simulated time */

/* Runs once.  Returns SIM_OK, or a SIM_E* code with *err filled when the
   scenario cannot be built (e.g. a device on a missing driver). */
int scn_run(const scn_t *sc, const scn_run_opts_t *o, scn_result_t *res, scn_error_t *err);

/* Over several seeds: tracks which `sometimes` lines held at least once.
   seen must have room for expect_total flags, zeroed before the first seed;
   returns the number of `sometimes` lines that never held so far. */
int scn_sometimes_merge(const scn_result_t *r, bool *seen);

/* ---- C drivers (docs/c-drivers.md) ----
 * `driver NAME load "FILE"` loads a driver written in C against the WDK
 * headers: FILE is its source (compiled once, kept in a cache) or a shared
 * object built by `iosim cc`. */

/* Where iosim's headers are: the -I folders for the WDK headers and for
   <iosim/...>; 0, or -1 when none is found ($IOSIM_INCLUDE, next to the
   executable, the installation, the source tree). */
int scn_cc_headers(char *wdk, char *inc, size_t n);
/* Compiles srcs (with extra compiler options) into the shared object out
   with the system's C compiler ($CC, else cc).  The compiler's messages go
   to stderr; 0, or -1 and *err. */
int scn_cc_build(const char *const *srcs, int nsrcs, const char *const *extra, int nextra, const char *out,
                 char *err, size_t errlen);
/* The shared object of the C source src, compiled if the cache lacks it. */
int scn_cc_cached(const char *src, char *so, size_t n, char *err, size_t errlen);
/* Whether the scenario loads a C driver. */
bool scn_loads_c_drivers(const scn_t *sc);
/* For a scenario that loads a C driver: forks; the child returns -1 and
   goes on running the command (a fault in a driver then kills only it);
   the parent waits and returns the child's exit status, or 2 after
   printing, for a child killed by a signal, which driver crashed, where,
   and the last trace steps.  -1 at once for any other scenario. */
int scn_guard_begin(const scn_t *sc);
/* Whether this process is such a child. */
bool scn_guard_is_child(void);

/* One sentence saying why a trace step happened ("" if nothing to add). */
const char *scn_explain(sim_t *S, const trc_event_t *ev, char *buf, size_t n);

#endif

