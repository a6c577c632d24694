/*
 * iobuf.c - the caller's buffer on its way to a driver and back: how the
 * I/O manager describes it by the device's flags (read, write) or by the
 * control code's method (device control) - a SystemBuffer copy, an MDL, or
 * the user's own pointers - and what stage 2 does with it afterwards
 * (kernel-facts 14).  Also the MDL routines drivers call.  iosim has no
 * paging: a simulated program's buffer is always resident, so locking
 * pages only records the lock and an MDL's system address is the user
 * buffer's own address.
 */
#include "io/io.h"

#ifndef STATUS_VERIFY_REQUIRED
#define STATUS_VERIFY_REQUIRED ((NTSTATUS)0x80000016L)
#endif

/* ---- MDLs ---- */

/* Windows' bound: one MDL describes less than 4 GB minus a page (Vista+;
   2 GB before).  iosim refuses what Windows refuses. */
#define MDL_MAX_BYTES 0xFFFFF000u
#define MDL_PAGE 4096u

PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota,
                   PIRP Irp) {
  (void)ChargeQuota;
  sim_t *S = ctx_sim();
  if (Length == 0 || Length > MDL_MAX_BYTES) return NULL;
  PMDL m = mem_calloc(S, sizeof *m);
  uintptr_t va = (uintptr_t)VirtualAddress;
  m->Size = (int16_t)sizeof *m;
  m->StartVa = (PVOID)(va & ~(uintptr_t)(MDL_PAGE - 1));
  m->ByteOffset = (ULONG)(va & (MDL_PAGE - 1));
  m->ByteCount = Length;
  m->Sim = S;
  if (Irp) {
    if (!SecondaryBuffer || !Irp->MdlAddress) {
      Irp->MdlAddress = m;
    } else {
      PMDL last = Irp->MdlAddress;
      while (last->Next) last = last->Next;
      last->Next = m;
    }
  }
  return m;
}

void IoFreeMdl(PMDL Mdl) {
  /* Freeing an MDL whose pages are still locked leaks the lock on
     Windows (a PFN reference); iosim has no pages, so it only frees. */
  mem_free(Mdl->Sim, Mdl, sizeof *Mdl);
}

void MmProbeAndLockPages(PMDL Mdl, KPROCESSOR_MODE AccessMode, LOCK_OPERATION Operation) {
  (void)AccessMode;
  Mdl->MdlFlags |= MDL_PAGES_LOCKED;
  if (Operation != IoReadAccess) Mdl->MdlFlags |= MDL_IO_PAGE_READ; /* the device writes into it */
}

void MmUnlockPages(PMDL Mdl) {
  Mdl->MdlFlags &= (int16_t)~(MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_IO_PAGE_READ);
  Mdl->MappedSystemVa = NULL;
}

PVOID MmGetMdlVirtualAddress(PMDL Mdl) { return (char *)Mdl->StartVa + Mdl->ByteOffset; }
ULONG MmGetMdlByteCount(PMDL Mdl) { return Mdl->ByteCount; }
ULONG MmGetMdlByteOffset(PMDL Mdl) { return Mdl->ByteOffset; }

/* The mapping of the locked pages into system space: with no paging, the
   system address is the buffer's own. */
PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority) {
  (void)Priority;
  if (!(Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))) {
    Mdl->MappedSystemVa = MmGetMdlVirtualAddress(Mdl);
    Mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
  }
  return Mdl->MappedSystemVa ? Mdl->MappedSystemVa : MmGetMdlVirtualAddress(Mdl);
}

/* ---- the I/O manager's side ---- */

static void io_system_buffer(sim_t *S, PIRP irp, ULONG size) {
  irp->AssociatedIrp.SystemBuffer = mem_calloc(S, size);
  irp->SimSystemBufferLength = size;
  irp->Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
}

static void io_lock_user(PIRP irp, PVOID buf, ULONG len, LOCK_OPERATION op) {
  PMDL m = IoAllocateMdl(buf, len, FALSE, TRUE, irp);
  if (m) MmProbeAndLockPages(m, irp->RequestorMode, op);
}

/* NtReadFile / NtWriteFile (WRK, ReactOS): by the top device's flags.  A
   NULL buffer with a length is iosim's length-only request (Windows' probe
   would fail it with STATUS_ACCESS_VIOLATION): no copy and no MDL. */
void IopSetReadWriteBuffer(sim_t *S, PIRP irp, PDEVICE_OBJECT top, UCHAR major, PVOID buf, ULONG len) {
  bool read = major == IRP_MJ_READ;
  if (top->Flags & DO_BUFFERED_IO) {
    irp->Flags |= IRP_BUFFERED_IO | (read ? IRP_INPUT_OPERATION : 0);
    if (len && buf) {
      io_system_buffer(S, irp, len);
      if (!read) memcpy(irp->AssociatedIrp.SystemBuffer, buf, len);
      irp->UserBuffer = buf;
    }
  } else if (top->Flags & DO_DIRECT_IO) {
    if (len && buf) io_lock_user(irp, buf, len, read ? IoWriteAccess : IoReadAccess);
  } else {
    irp->UserBuffer = buf;
  }
}

/* IopXxxControlFile: by the control code's method.  The output buffer of
   METHOD_BUFFERED comes back at stage 2 (IRP_INPUT_OPERATION); the direct
   methods buffer the input and lock the output (IN_DIRECT: the device
   reads it, OUT_DIRECT: the device writes it); METHOD_NEITHER passes both
   user pointers. */
void IopSetControlBuffers(sim_t *S, PIRP irp, PIO_STACK_LOCATION sp, ULONG code, PVOID in, ULONG in_len, PVOID out,
                          ULONG out_len) {
  switch (METHOD_FROM_CTL_CODE(code)) {
  case METHOD_BUFFERED: {
    ULONG size = in_len > out_len ? in_len : out_len;
    if (size && (in || out)) {
      io_system_buffer(S, irp, size);
      if (in && in_len) memcpy(irp->AssociatedIrp.SystemBuffer, in, in_len);
      if (out) {
        irp->Flags |= IRP_INPUT_OPERATION;
        irp->UserBuffer = out;
      }
    }
    break;
  }
  case METHOD_IN_DIRECT:
  case METHOD_OUT_DIRECT:
    if (in && in_len) {
      io_system_buffer(S, irp, in_len);
      memcpy(irp->AssociatedIrp.SystemBuffer, in, in_len);
    }
    if (out && out_len)
      io_lock_user(irp, out, out_len, METHOD_FROM_CTL_CODE(code) == METHOD_IN_DIRECT ? IoReadAccess : IoWriteAccess);
    break;
  default: /* METHOD_NEITHER */
    sp->Parameters.DeviceIoControl.Type3InputBuffer = in;
    irp->UserBuffer = out;
    break;
  }
}

/* Stage 1 at the top (IopfCompleteRequest): the MDLs' pages are unlocked
   before stage 2 is queued. */
void IopUnlockMdls(PIRP irp) {
  for (PMDL m = irp->MdlAddress; m; m = m->Next)
    if (m->MdlFlags & MDL_PAGES_LOCKED) MmUnlockPages(m);
}

/* Frees the SystemBuffer (IRP_DEALLOCATE_BUFFER) and the MDL chain. */
void IopReleaseBuffers(sim_t *S, PIRP irp) {
  if ((irp->Flags & IRP_DEALLOCATE_BUFFER) && irp->AssociatedIrp.SystemBuffer) {
    mem_free(S, irp->AssociatedIrp.SystemBuffer, irp->SimSystemBufferLength);
    irp->AssociatedIrp.SystemBuffer = NULL;
    irp->SimSystemBufferLength = 0;
  }
  irp->Flags &= ~(ULONG)(IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER);
  PMDL next;
  for (PMDL m = irp->MdlAddress; m; m = next) {
    next = m->Next;
    IoFreeMdl(m);
  }
  irp->MdlAddress = NULL;
}

/* Stage 2's first work (IopCompleteRequest): a buffered input operation
   copies Information bytes of the SystemBuffer to the caller's buffer -
   unless the request failed (NT_ERROR) or wants a verify; warnings and
   informational statuses are copied.  Returns the bytes copied. */
ULONG IopCompleteBuffers(sim_t *S, PIRP irp) {
  ULONG copied = 0;
  if ((irp->Flags & IRP_BUFFERED_IO) && (irp->Flags & IRP_INPUT_OPERATION) && irp->UserBuffer &&
      irp->AssociatedIrp.SystemBuffer && !NT_ERROR(irp->IoStatus.Status) &&
      irp->IoStatus.Status != STATUS_VERIFY_REQUIRED) {
    ULONG_PTR n = irp->IoStatus.Information;
    /* A driver that reports more than the buffer holds would have Windows
       copy past the SystemBuffer (a pool overrun); iosim copies no more
       than there is. */
    if (n > irp->SimSystemBufferLength) n = irp->SimSystemBufferLength;
    memcpy(irp->UserBuffer, irp->AssociatedIrp.SystemBuffer, n);
    copied = (ULONG)n;
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_BUFFER_COPY, irp, NULL);
      e.service = "IopCompleteRequest";
      e.count = (int)copied;
      trc_send(S, &e, "IopCompleteRequest copies %lu byte%s of the SystemBuffer to the caller's buffer",
               (unsigned long)copied, copied == 1 ? "" : "s");
    }
  }
  IopReleaseBuffers(S, irp);
  return copied;
}
