/*
 * cache.c - the cache manager and byte-range locks, as much of them as fast
 * I/O needs: which byte ranges of a file are in the cache, whether a file
 * object is cached (PrivateCacheMap), and exclusive locks.  A file here is
 * the device it was opened on (one file per device: an FCB).
 */
#include "sim_int.h"

#define CACHE_MAX 64

typedef struct range {
  LONGLONG off, end;
  PFILE_OBJECT owner; /* locks only */
} range_t;

struct sim_fcb {
  PDEVICE_OBJECT dev;
  range_t cached[CACHE_MAX];
  int ncached;
  range_t locks[CACHE_MAX];
  int nlocks;
  struct sim_fcb *next;
};

static struct sim_fcb *fcb_of(sim_t *S, PFILE_OBJECT fo) {
  for (struct sim_fcb *f = S->fcbs; f; f = f->next)
    if (f->dev == fo->DeviceObject) return f;
  struct sim_fcb *f = sim_calloc(S, sizeof *f);
  f->dev = fo->DeviceObject;
  f->next = S->fcbs;
  S->fcbs = f;
  return f;
}

void CcInitializeCacheMap(PFILE_OBJECT File) {
  sim_t *S = sim_cur();
  if (File->PrivateCacheMap) return;
  File->PrivateCacheMap = fcb_of(S, File);
  TRC(S, TRC_CACHE, NULL, File->DeviceObject, false, 0, "CcInitializeCacheMap: %s is cached from now on", File->SimName);
  sim_step(S, COST_OP);
}

/* Merges the range into the cached list (ranges are kept disjoint). */
void sim_cache_fill(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  sim_t *S = sim_cur();
  struct sim_fcb *f = fcb_of(S, File);
  LONGLONG off = Offset, end = Offset + Length;
  int w = 0;
  for (int i = 0; i < f->ncached; i++) {
    range_t r = f->cached[i];
    if (r.end < off || r.off > end) f->cached[w++] = r;
    else off = r.off < off ? r.off : off, end = r.end > end ? r.end : end;
  }
  f->ncached = w;
  if (f->ncached < CACHE_MAX) f->cached[f->ncached++] = (range_t){off, end, NULL};
  TRC(S, TRC_CACHE, NULL, File->DeviceObject, false, 0, "bytes %lld..%lld of %s are in the cache", (long long)Offset,
      (long long)(Offset + Length), File->SimName);
  sim_step(S, COST_OP);
}

bool sim_cache_covers(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  struct sim_fcb *f = File->PrivateCacheMap;
  if (!f) return false;
  for (int i = 0; i < f->ncached; i++)
    if (f->cached[i].off <= Offset && Offset + Length <= f->cached[i].end) return true;
  return false;
}

static bool overlaps(const range_t *r, LONGLONG off, LONGLONG end) { return r->off < end && off < r->end; }

bool sim_range_locked(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  sim_t *S = sim_cur();
  struct sim_fcb *f = fcb_of(S, File);
  for (int i = 0; i < f->nlocks; i++)
    if (f->locks[i].owner != File && overlaps(&f->locks[i], Offset, Offset + Length)) return true;
  return false;
}

NTSTATUS NtLockFile(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  sim_t *S = sim_cur();
  struct sim_fcb *f = fcb_of(S, File);
  TRC(S, TRC_SYSCALL, NULL, File->DeviceObject, false, 0, "LockFileEx(%s, bytes %lld..%lld, exclusive)", File->SimName,
      (long long)Offset, (long long)(Offset + Length));
  sim_step(S, COST_SYSCALL);
  NTSTATUS st = STATUS_SUCCESS;
  for (int i = 0; i < f->nlocks; i++)
    if (overlaps(&f->locks[i], Offset, Offset + Length)) st = STATUS_LOCK_NOT_GRANTED;
  if (st == STATUS_SUCCESS && f->nlocks == CACHE_MAX) st = STATUS_INSUFFICIENT_RESOURCES;
  if (st == STATUS_SUCCESS) f->locks[f->nlocks++] = (range_t){Offset, Offset + Length, File};
  char sb[16];
  TRC(S, TRC_SYSCALL_RETURN, NULL, File->DeviceObject, true, st, "LockFileEx returns %s", iosim_status_name(st, sb));
  return st;
}

void cache_free_all(sim_t *S) {
  for (struct sim_fcb *f = S->fcbs, *n; f; f = n) {
    n = f->next;
    free(f);
  }
  S->fcbs = NULL;
}
