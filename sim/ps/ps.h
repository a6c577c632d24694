/*
 * ps.h - the process structure's private interface (ps/): system threads,
 * the kernel-mode threads of the one system process.
 */
#ifndef IOSIM_PS_H
#define IOSIM_PS_H

#include "core/core.h"

/* A system thread running routine(ctx) at PASSIVE_LEVEL, named `name`
   (NULL: "system-N"); it holds one reference to itself while it runs. */
PKTHREAD ps_create_system_thread(sim_t *S, const char *name, PKSTART_ROUTINE routine, PVOID ctx);

void ps_destroy(sim_t *S);

#endif
