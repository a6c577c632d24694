/*
 * io.h - the I/O manager's private interface (io/): IRP allocation, the
 * completion stages, the thread IRP list, completion ports' I/O side.
 */
#ifndef IOSIM_IO_H
#define IOSIM_IO_H

#include "core/core.h"

/* ---- completion ports (io/iocompletion.c) ---- */
typedef struct port_packet {
  LIST_ENTRY link;
  LIST_ENTRY all;      /* on its port's `packets` until freed */
  PIRP irp;            /* an I/O's IRP, finished at dequeue; NULL for a posted packet */
  bool notified;       /* its stage 2 already ran in the issuer: only free it */
  ULONG_PTR key;
  PVOID context;       /* the OVERLAPPED (ApcContext) */
  IO_STATUS_BLOCK iosb;
} port_packet_t;

struct sim_port {
  uint32_t id;
  char *name;
  KQUEUE Queue;        /* packets and waiting threads (ke/queue.c) */
  bool closed;         /* its handle was closed: the queue is run down */
  /* Every packet of the port not yet freed: queued, handed to a waiting
     thread, or being delivered.  A run stopped at a limit during a hand-off
     leaves one outside the queue; the teardown frees them all from here. */
  LIST_ENTRY packets;
  struct sim_port *next;
};
/* Queues a port-bound IRP to its file's port as the packet: from stage 1
   when it pended (the dequeuing thread then writes the status block and
   sets the events), or from stage 2 in the issuer when it did not
   (`notified`: that is done already). */
void port_queue_irp(sim_t *S, PIRP irp, bool notified);

/* ---- symbolic links (io/symlink.c) ---- */
typedef struct io_symlink {
  char *name, *target; /* UTF-8: \DosDevices\X -> \Device\Y */
  struct io_symlink *next;
} io_symlink_t;
void io_symlinks_free(sim_t *S);
/* Calls the driver's DriverUnload (traced) if it has one and it has not run
   yet; PASSIVE_LEVEL, in a system thread.  True if it ran. */
bool io_unload_driver(sim_t *S, PDRIVER_OBJECT Driver);
/* NtUnloadDriver: STATUS_INVALID_DEVICE_REQUEST without an unload routine;
   else the unload, now or, while a file is open on one of its devices (or
   on a device attached above them), when the last one closes. */
NTSTATUS io_request_unload(sim_t *S, PDRIVER_OBJECT Driver);
void io_unload_pending(sim_t *S);

/* ---- IRPs (io/irp.c) ---- */
/* The largest StackSize Windows allows (a CCHAR). */
#define IRP_MAX_STACK 127
/* major: the function the I/O manager builds it for, -1 when a driver allocates it. */
PIRP irp_alloc(sim_t *S, int stack_size, int major);
void irp_free(sim_t *S, PIRP irp);
sim_irp_info_t *irp_info(sim_t *S, uint32_t id);
const char **irp_tag_slot(sim_t *S);
static inline PIO_STACK_LOCATION irp_loc(PIRP irp, int k) { return &irp->Stack[k - 1]; }

/* ---- completion (io/iocomplete.c) ---- */
/* Stage 2, run inline by the system service or by the special kernel APC. */
void IopCompleteRequest(sim_t *S, PIRP irp, trc_stage2_t how);
void IopQueueIrpToThread(sim_t *S, PIRP irp, PKTHREAD t);
void IopUnQueueIrpFromThread(sim_t *S, PIRP irp);

/* ---- the caller's buffers (io/iobuf.c, kernel-facts 14) ---- */
void IopSetReadWriteBuffer(sim_t *S, PIRP irp, PDEVICE_OBJECT top, UCHAR major, PVOID buf, ULONG len);
void IopSetControlBuffers(sim_t *S, PIRP irp, PIO_STACK_LOCATION sp, ULONG code, PVOID in, ULONG in_len, PVOID out,
                          ULONG out_len);
/* Stage 1 at the top: unlock the MDLs' pages. */
void IopUnlockMdls(PIRP irp);
/* Stage 2: copy a buffered input operation back (not on an error), then
   free the SystemBuffer and the MDLs; the bytes copied. */
ULONG IopCompleteBuffers(sim_t *S, PIRP irp);
/* Frees the SystemBuffer and MDLs of an IRP that never reaches stage 2. */
void IopReleaseBuffers(sim_t *S, PIRP irp);

/* ---- cancellation (io/iocancel.c) ---- */
/* Thread exit: cancel the thread's IRPs and wait for them (S->hooks). */
void IoCancelThreadIo(sim_t *S, PKTHREAD t);

/* ---- synchronous file objects (io/iosync.c) ---- */
/* The file object lock: STATUS_SUCCESS when the calling thread owns it,
   or the STATUS_USER_APC / STATUS_ALERTED that broke its wait for it. */
NTSTATUS IopLockFileObject(sim_t *S, PFILE_OBJECT fo, KPROCESSOR_MODE mode);
void IopUnlockFileObject(sim_t *S, PFILE_OBJECT fo);
/* A synchronous request whose wait on `event` was broken: cancel IRP `id`
   and wait until `event` says it is over. */
void IopCancelAlertedRequest(sim_t *S, PKEVENT event, PIRP irp, uint32_t id);

/* ---- the fast I/O attempt of NtReadFile / NtWriteFile (fsrtl/fastio.c) ---- */
typedef struct io_req {
  PFILE_OBJECT fo;
  UCHAR major;
  PKEVENT event;
  IO_APC_ROUTINE *apc;
  PVOID apc_ctx;
  PIO_STATUS_BLOCK iosb;
  ULONG length, in_len, code;
  PVOID buffer;    /* read/write: the caller's buffer; an IOCTL's output buffer */
  PVOID in_buffer; /* an IOCTL's input buffer */
  LONGLONG offset;
  bool no_offset; /* the caller passed no ByteOffset (the file's position) */
  ULONG flags; /* extra IRP flags */
} io_req_t;
PDEVICE_OBJECT io_top(PDEVICE_OBJECT d);

/* ---- teardown (ex/machine.c calls these) ---- */
void io_destroy(sim_t *S);
void io_lib_destroy(sim_t *S); /* the remove locks' shadows (io/remlock.c) */

#endif
