/*
 * filelock.c - byte-range locks (FsRtl's FILE_LOCK): exclusive locks that
 * LockFileEx takes and that fast I/O must respect.
 */
#include "fsrtl/fsrtl.h"

static bool overlaps(const range_t *r, LONGLONG off, LONGLONG end) { return r->off < end && off < r->end; }

/* FsRtlFastCheckLockForRead/Write: another file object's lock covers it. */
bool sim_range_locked(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  sim_t *S = ctx_sim();
  struct sim_fcb *f = cc_fcb_of(S, File);
  for (size_t i = 0; i < f->nlocks; i++)
    if (f->locks[i].owner != File && overlaps(&f->locks[i], Offset, Offset + Length)) return true;
  return false;
}

NTSTATUS NtLockFile(PFILE_OBJECT File, LONGLONG Offset, ULONG Length) {
  sim_t *S = ctx_sim();
  struct sim_fcb *f = cc_fcb_of(S, File);
  trc_event_t e = trc_ev(TRC_SYSCALL, NULL, File->DeviceObject);
  e.service = "NtLockFile", e.file = File->SimId, e.offset = Offset, e.count = (int)Length;
  trc_send(S, &e, "LockFileEx(%s, bytes %lld..%lld, exclusive)", File->SimName, (long long)Offset,
           (long long)(Offset + Length));
  sched_step(S, COST_SYSCALL);
  NTSTATUS st = STATUS_SUCCESS;
  for (size_t i = 0; i < f->nlocks; i++)
    if (overlaps(&f->locks[i], Offset, Offset + Length)) st = STATUS_LOCK_NOT_GRANTED;
  if (st == STATUS_SUCCESS) {
    VEC_RESERVE(S, f->locks, f->locks_cap, f->nlocks + 1);
    f->locks[f->nlocks++] = (range_t){Offset, Offset + Length, File};
  }
  char sb[16];
  e.kind = TRC_SYSCALL_RETURN;
  trc_set_status(&e, st);
  trc_send(S, &e, "LockFileEx returns %s", iosim_status_name(st, sb));
  return KiServiceExit(S, st);
}
