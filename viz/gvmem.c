/*
 * gvmem.c - Graphviz's graphs allocate through iosim's allocator.
 *
 * cgraph takes a memory discipline when a graph is opened: every node,
 * edge, attribute and record of that graph (the layout's per-node records
 * included) then comes from it.  Ours hands out zeroed memory from
 * iosim_calloc, so running out of memory while drawing ends like anywhere
 * else in iosim: "out of memory" and exit status 2 (docs/reliability.md),
 * and the fault-injection build can fail those allocations too.  What
 * Graphviz's layout engines allocate for their own scratch work does not
 * pass through a graph's discipline; Graphviz offers no hook for it.
 */
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "viz_int.h"

/* cgraph keeps what open returns and passes it back; ours needs nothing,
   but hands out a real address rather than NULL. */
static const char vz_mem_state;

static void *vz_mem_open(Agdisc_t *disc) {
  (void)disc;
  return (void *)&vz_mem_state;
}

static void *vz_mem_alloc(void *state, size_t req) {
  (void)state;
  return iosim_calloc(1, req ? req : 1);
}

/* cgraph expects the grown part zeroed, as its own discipline does. */
static void *vz_mem_resize(void *state, void *ptr, size_t old, size_t req) {
  (void)state;
  char *p = iosim_realloc(ptr, req ? req : 1);
  if (req > old) memset(p + old, 0, req - old);
  return p;
}

static void vz_mem_free(void *state, void *ptr) {
  (void)state;
  free(ptr);
}

/* No close: with one, agclose hands the whole graph to it as a heap
   ("free entire heap") and skips closing the graph's dictionaries, which
   cdt allocated for itself: they leaked.  Without, agclose frees every
   object through vz_mem_free, as with cgraph's own discipline. */
static const Agmemdisc_t vz_mem_disc = {vz_mem_open, vz_mem_alloc, vz_mem_resize, vz_mem_free, NULL};

Agraph_t *vz_agopen(const char *name) {
  /* cgraph's API takes non-const pointers it never writes through. */
  Agdisc_t disc = {(Agmemdisc_t *)&vz_mem_disc, &AgIdDisc, &AgIoDisc};
  return agopen((char *)name, Agdirected, &disc);
}
