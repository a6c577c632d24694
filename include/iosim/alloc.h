/*
 * alloc.h - the one allocation path of everything iosim allocates: the
 * engine (through its counting mem_alloc), the scenario language, the
 * verifier, the trace database (SQLite is configured to use it), the
 * pictures' own arrays and the command line.  Out of memory is an error,
 * never a crash: the functions below do not return NULL; when the system
 * refuses, iosim_oom prints "iosim: out of memory (N bytes)" and the
 * process exits with status 2 (docs/reliability.md).
 *
 * Fault injection (builds with -DIOSIM_FAULT_INJECTION only, `make
 * test-oom`): the environment variable IOSIM_FAIL_ALLOC=N makes the Nth
 * allocation fail; IOSIM_COUNT_ALLOC=1 prints the number of allocations
 * at exit.
 */
#ifndef IOSIM_ALLOC_H
#define IOSIM_ALLOC_H

#include <stddef.h>

void *iosim_malloc(size_t n);
void *iosim_calloc(size_t n, size_t size);
void *iosim_realloc(void *p, size_t n);
char *iosim_strdup(const char *s);
/* The same, NULL on failure instead of exiting (for SQLite, which handles
   out of memory itself, and for callers that can go on without). */
void *iosim_try_malloc(size_t n);
void *iosim_try_realloc(void *p, size_t n);
/* Prints the message and exits with status 2. */
void iosim_oom(size_t n) __attribute__((noreturn));
/* Routes SQLite's allocations through the path above (call before any
   other SQLite call; the trace database does). */
void iosim_sqlite_use_alloc(void);

#endif
