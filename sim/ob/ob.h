/*
 * ob.h - the object manager's private interface (ob/): the machine's kernel
 * handle table and objects' reference counts.
 */
#ifndef IOSIM_OB_H
#define IOSIM_OB_H

#include "core/core.h"

/* An object type: its name is its whole identity here. */
struct OBJECT_TYPE {
  const char *Name;
};
/* The thread type (PsThreadType points at it). */
POBJECT_TYPE ob_thread_type(void);

/* Makes `object` known with `refs` references (its creator's). */
void ob_insert_object(sim_t *S, PVOID object, POBJECT_TYPE type, LONG_PTR refs);
/* A kernel handle to `object` (it counts as one more reference). */
HANDLE ob_create_handle(sim_t *S, PVOID object, ACCESS_MASK access);
/* Drops a reference the kernel itself held (a thread's own, at its end). */
void ob_release(sim_t *S, PVOID object);

void ob_destroy(sim_t *S);

#endif
