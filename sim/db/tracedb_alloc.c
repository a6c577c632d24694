/*
 * tracedb_alloc.c - SQLite allocates through iosim's one allocation path
 * (include/iosim/alloc.h), so out of memory - real or injected by `make
 * test-oom` - reaches the database the same way: SQLite sees NULL, gives
 * up the statement with SQLITE_NOMEM, and the caller reports "out of
 * memory".  Each block carries its size in front (SQLite asks for it).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"

#define HDR 16 /* keeps the block 16-byte aligned */

/* SQLite's contract with its allocator (sqlite3Malloc, sqlite3Realloc,
   sqlite3_free and sqlite3_msize check before they call): xMalloc and
   xRealloc get a size > 0, xRealloc, xFree and xSize a block it allocated,
   never NULL. */
static void *db_malloc(int n) {
  unsigned char *p = iosim_try_malloc((size_t)n + HDR);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  return p + HDR;
}

static void db_free(void *p) { free((unsigned char *)p - HDR); }

static int db_size(void *p) {
  int n;
  memcpy(&n, (unsigned char *)p - HDR, sizeof n);
  return n;
}

static void *db_realloc(void *p, int n) {
  unsigned char *q = iosim_try_realloc((unsigned char *)p - HDR, (size_t)n + HDR);
  if (!q) return NULL;
  memcpy(q, &n, sizeof n);
  return q + HDR;
}

static int db_roundup(int n) { return (n + 7) & ~7; }
static int db_init(void *ud) {
  (void)ud;
  return SQLITE_OK;
}

void iosim_sqlite_use_alloc(void) {
  static const sqlite3_mem_methods m = {db_malloc, db_free, db_realloc, db_size, db_roundup, db_init, NULL, NULL};
  /* Before SQLite initialises; later calls are refused (SQLITE_MISUSE)
     and change nothing, so every opener may call it. */
  (void)sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
}
