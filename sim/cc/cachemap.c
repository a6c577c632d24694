/*
 * cachemap.c - the cache manager, as much of it as fast I/O needs: whether
 * a file object is cached (PrivateCacheMap) and which byte ranges of the
 * file are in the cache.
 */
#include "cc/cc.h"

struct sim_fcb *cc_fcb_of(sim_t *S, PFILE_OBJECT fo) {
  for (struct sim_fcb *f = S->fcbs; f; f = f->next)
    if (f->dev == fo->DeviceObject) return f;
  struct sim_fcb *f = mem_calloc(S, sizeof *f);
  f->dev = fo->DeviceObject;
  f->next = S->fcbs;
  S->fcbs = f;
  return f;
}

void CcInitializeCacheMap(PFILE_OBJECT File) {
  sim_t *S = ctx_sim();
  if (File->PrivateCacheMap) return;
  File->PrivateCacheMap = cc_fcb_of(S, File);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_CACHE, NULL, File->DeviceObject);
    e.service = "CcInitializeCacheMap", e.file = File->SimId;
    trc_send(S, &e, "CcInitializeCacheMap: %s is cached from now on", File->SimName);
  }
  sched_step(S, COST_OP);
}

/* Merges the range into the cached list (ranges are kept disjoint). */
void sim_cache_fill(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  sim_t *S = ctx_sim();
  struct sim_fcb *f = cc_fcb_of(S, File);
  LONGLONG off = Offset, end = Offset + Length;
  size_t w = 0;
  for (size_t i = 0; i < f->ncached; i++) {
    range_t r = f->cached[i];
    if (r.end < off || r.off > end) f->cached[w++] = r;
    else off = r.off < off ? r.off : off, end = r.end > end ? r.end : end;
  }
  f->ncached = w;
  VEC_RESERVE(S, f->cached, f->cached_cap, f->ncached + 1);
  f->cached[f->ncached++] = (range_t){off, end, NULL};
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_CACHE, NULL, File->DeviceObject);
    e.file = File->SimId, e.offset = Offset, e.count = (int)Length;
    trc_send(S, &e, "bytes %lld..%lld of %s are in the cache", (long long)Offset, (long long)(Offset + Length),
             File->SimName);
  }
  sched_step(S, COST_OP);
}

bool sim_cache_covers(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  struct sim_fcb *f = File->PrivateCacheMap;
  if (!f) return false;
  for (size_t i = 0; i < f->ncached; i++)
    if (f->cached[i].off <= Offset && Offset + Length <= f->cached[i].end) return true;
  return false;
}

void cc_destroy(sim_t *S) {
  for (struct sim_fcb *f = S->fcbs, *n; f; f = n) {
    n = f->next;
    free(f->cached);
    free(f->locks);
    free(f);
  }
  S->fcbs = NULL;
}
