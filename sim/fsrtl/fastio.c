/*
 * fastio.c - the fast I/O path: NtReadFile / NtWriteFile call the top
 * driver's FAST_IO_DISPATCH routine before building any IRP.
 */
#include "fsrtl/fsrtl.h"

/* The "turbo" path of NtReadFile/NtWriteFile: only for a synchronous file
   object that is cached, through the top driver's fast I/O routine.  The
   result counts only if the routine handled it with success, a buffer
   overflow or end of file; then no IRP ever exists.  Returns false to go
   the IRP way. */
bool fsrtl_try_fast_io(sim_t *S, const io_req_t *r, NTSTATUS *out) {
  PFILE_OBJECT fo = r->fo;
  PDEVICE_OBJECT top = io_top(fo->DeviceObject);
  PFAST_IO_DISPATCH fd = top->DriverObject->FastIoDispatch;
  FAST_IO_READ *fn = !fd ? NULL : r->major == IRP_MJ_READ ? fd->FastIoRead : fd->FastIoWrite;
  if (!(fo->Flags & FO_SYNCHRONOUS_IO) || !fo->PrivateCacheMap || !fn) return false;
  IO_STATUS_BLOCK iosb = {STATUS_PENDING, 0};
  char sb[16];
  trc_event_t e = trc_ev(TRC_FASTIO, NULL, top);
  e.major = r->major, e.file = fo->SimId, e.offset = r->offset, e.count = (int)r->length;
  e.service = r->major == IRP_MJ_READ ? "FastIoRead" : "FastIoWrite";
  trc_send(S, &e, "fast I/O %s of %lu bytes at %lld on %s", r->major == IRP_MJ_READ ? "read" : "write",
           (unsigned long)r->length, (long long)r->offset, fo->SimName);
  sched_step(S, COST_OP);
  BOOLEAN handled = fn(fo, &r->offset, r->length, TRUE, 0, r->buffer, &iosb, top);
  NTSTATUS st = iosb.Status;
  if (!handled || !(st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW || st == STATUS_END_OF_FILE)) {
    e.kind = TRC_FASTIO_DECLINED;
    e.has_status = handled, e.status = st;
    trc_send(S, &e, "fast I/O declined: an IRP is built");
    return false;
  }
  if (r->iosb) *r->iosb = iosb;
  *irp_tag_slot(S) = NULL; /* the name was for an IRP that never existed */
  fo->CurrentByteOffset.QuadPart = r->offset + (LONGLONG)iosb.Information;
  if (r->event) KeSetEvent(r->event, 0, FALSE);
  e.kind = TRC_FASTIO_SERVED;
  trc_set_status(&e, st);
  e.has_info = 1, e.info = iosb.Information;
  trc_send(S, &e, "served from the cache by fast I/O (%s, %llu bytes): no IRP at all", iosim_status_name(st, sb),
           (unsigned long long)iosb.Information);
  *out = st;
  return true;
}


/* FsRtlCopyRead: the fast read most file systems put in FastIoRead.  It
   serves the request from the cache, or returns FALSE so the I/O manager
   builds an IRP: when the file object is not cached, when another handle's
   byte-range lock covers the range, and - iosim models no paging I/O
   through the cache - when the range is not in the cache (Windows would
   have CcCopyRead read it in when Wait is TRUE). */
BOOLEAN FsRtlCopyRead(PFILE_OBJECT FileObject, const LONGLONG *FileOffset, ULONG Length, BOOLEAN Wait,
                      ULONG LockKey, PVOID Buffer, PIO_STATUS_BLOCK IoStatus, PDEVICE_OBJECT DeviceObject) {
  (void)Wait, (void)LockKey, (void)Buffer, (void)DeviceObject;
  if (Length == 0) { /* nothing to read: success, with no cache lookup at all */
    IoStatus->Status = STATUS_SUCCESS;
    IoStatus->Information = 0;
    return TRUE;
  }
  if (!FileObject->PrivateCacheMap) return FALSE;
  if (sim_range_locked(FileObject, *FileOffset, Length)) return FALSE;
  if (!sim_cache_covers(FileObject, *FileOffset, Length)) return FALSE;
  IoStatus->Status = STATUS_SUCCESS;
  IoStatus->Information = Length;
  FileObject->CurrentByteOffset.QuadPart = *FileOffset + Length;
  return TRUE;
}
