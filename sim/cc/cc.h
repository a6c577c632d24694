/*
 * cc.h - the cache manager's private interface (cc/) and the FCB it shares
 * with FsRtl's byte-range locks (fsrtl/).  A file here is the device it was
 * opened on: one FCB per device.
 */
#ifndef IOSIM_CC_H
#define IOSIM_CC_H

#include "core/core.h"

typedef struct range {
  LONGLONG off, end;
  PFILE_OBJECT owner; /* locks only */
} range_t;

struct sim_fcb {
  PDEVICE_OBJECT dev;
  range_t *cached;      /* disjoint ranges in the cache */
  size_t ncached, cached_cap;
  range_t *locks;       /* exclusive byte-range locks (fsrtl/filelock.c) */
  size_t nlocks, locks_cap;
  struct sim_fcb *next;
};

/* The FCB of the file's device, created on first use. */
struct sim_fcb *cc_fcb_of(sim_t *S, PFILE_OBJECT fo);
void cc_destroy(sim_t *S);

#endif
