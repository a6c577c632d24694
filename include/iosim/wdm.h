/*
 * wdm.h - the WDM-like driver API of the simulated kernel.
 *
 * Names, fields and semantics follow Microsoft's wdm.h so that what a student
 * learns here transfers to the real documentation.  Only what the simulator
 * models is declared.  Every routine that is not given a simulation context
 * explicitly finds it from the simulated CPU that is executing (see
 * docs/execution-model.md), so driver code reads exactly like real code.
 */
#ifndef IOSIM_WDM_H
#define IOSIM_WDM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim sim_t;

typedef int32_t NTSTATUS;
typedef uint8_t KIRQL;
typedef uint8_t UCHAR;
typedef uint32_t ULONG;
typedef uintptr_t ULONG_PTR;
typedef int64_t LONGLONG;
typedef bool BOOLEAN;
typedef void *PVOID;
#define TRUE true
#define FALSE false

#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)
#define NT_ERROR(s) ((((uint32_t)(s)) >> 30) == 3)

/* X-macro: every status the simulator knows, with its value. */
#define IOSIM_STATUS_MAP(X)                                   \
  X(STATUS_SUCCESS, 0x00000000)                               \
  X(STATUS_WAIT_1, 0x00000001)                                \
  X(STATUS_WAIT_2, 0x00000002)                                \
  X(STATUS_WAIT_3, 0x00000003)                                \
  X(STATUS_ABANDONED_WAIT_0, 0x00000080)                      \
  X(STATUS_USER_APC, 0x000000C0)                              \
  X(STATUS_KERNEL_APC, 0x00000100)                            \
  X(STATUS_ALERTED, 0x00000101)                               \
  X(STATUS_TIMEOUT, 0x00000102)                               \
  X(STATUS_PENDING, 0x00000103)                               \
  X(STATUS_BUFFER_OVERFLOW, 0x80000005)                       \
  X(STATUS_UNSUCCESSFUL, 0xC0000001)                          \
  X(STATUS_NOT_IMPLEMENTED, 0xC0000002)                       \
  X(STATUS_INVALID_PARAMETER, 0xC000000D)                     \
  X(STATUS_INVALID_PARAMETER_MIX, 0xC0000030)                 \
  X(STATUS_END_OF_FILE, 0xC0000011)                           \
  X(STATUS_MORE_PROCESSING_REQUIRED, 0xC0000016)              \
  X(STATUS_ACCESS_DENIED, 0xC0000022)                         \
  X(STATUS_ACCESS_VIOLATION, 0xC0000005)                      \
  X(STATUS_DEVICE_NOT_READY, 0xC00000A3)                      \
  X(STATUS_IO_DEVICE_ERROR, 0xC0000185)                       \
  X(STATUS_INSUFFICIENT_RESOURCES, 0xC000009A)                \
  X(STATUS_INVALID_DEVICE_REQUEST, 0xC0000010)                \
  X(STATUS_CANCELLED, 0xC0000120)                             \
  X(STATUS_NOT_FOUND, 0xC0000225)                             \
  X(STATUS_LOCK_NOT_GRANTED, 0xC0000055)                      \
  X(STATUS_INTERNAL_ERROR, 0xC00000E5)

/* Statuses are int constants (usable in switch); the conversion of the
   0xC... values to a negative int is what every Windows compiler does too. */
enum {
#define IOSIM_X(name, value) name = (int32_t)(value),
  IOSIM_STATUS_MAP(IOSIM_X)
#undef IOSIM_X
};
#define STATUS_WAIT_0 STATUS_SUCCESS
#define STATUS_CONTINUE_COMPLETION STATUS_SUCCESS

/* The name of a status ("STATUS_PENDING"), or "0x%08X" in buf if unknown. */
const char *iosim_status_name(NTSTATUS s, char buf[16]);
/* Parses a status name or a number; returns false if it is neither. */
bool iosim_status_parse(const char *text, NTSTATUS *out);

/* ---- IRQL (x64 values) ---- */
#define PASSIVE_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2
#define CLOCK_LEVEL 13
#define IPI_LEVEL 14
#define HIGH_LEVEL 15

/* ---- Lists ---- */
#define CONTAINING_RECORD(p, T, f) ((T *)((char *)(p)-offsetof(T, f)))
typedef struct LIST_ENTRY {
  struct LIST_ENTRY *Flink, *Blink;
} LIST_ENTRY, *PLIST_ENTRY;
/* The doubly linked list routines of wdm.h. */
static inline void InitializeListHead(PLIST_ENTRY Head) { Head->Flink = Head->Blink = Head; }
static inline BOOLEAN IsListEmpty(const LIST_ENTRY *Head) { return Head->Flink == Head; }
static inline BOOLEAN RemoveEntryList(PLIST_ENTRY Entry) {
  PLIST_ENTRY f = Entry->Flink, b = Entry->Blink;
  b->Flink = f;
  f->Blink = b;
  return f == b;
}
static inline PLIST_ENTRY RemoveHeadList(PLIST_ENTRY Head) {
  PLIST_ENTRY e = Head->Flink;
  RemoveEntryList(e);
  return e;
}
static inline void InsertTailList(PLIST_ENTRY Head, PLIST_ENTRY Entry) {
  Entry->Flink = Head;
  Entry->Blink = Head->Blink;
  Head->Blink->Flink = Entry;
  Head->Blink = Entry;
}
static inline void InsertHeadList(PLIST_ENTRY Head, PLIST_ENTRY Entry) {
  Entry->Blink = Head;
  Entry->Flink = Head->Flink;
  Head->Flink->Blink = Entry;
  Head->Flink = Entry;
}

typedef struct DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef struct DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef struct FILE_OBJECT FILE_OBJECT, *PFILE_OBJECT;
typedef struct IRP IRP, *PIRP;
typedef struct KTHREAD KTHREAD, *PKTHREAD, *PETHREAD;
typedef struct KDPC KDPC, *PKDPC;
typedef struct KAPC KAPC, *PKAPC;

typedef struct IO_STATUS_BLOCK {
  NTSTATUS Status;
  ULONG_PTR Information;
} IO_STATUS_BLOCK, *PIO_STATUS_BLOCK;

/* ---- Dispatcher objects ---- */
typedef enum { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef enum { WaitAll, WaitAny } WAIT_TYPE;
typedef enum { KernelMode, UserMode } KPROCESSOR_MODE;
typedef enum { Executive, UserRequest } KWAIT_REASON;
#define MAXIMUM_WAIT_OBJECTS 64

typedef struct DISPATCHER_HEADER {
  uint8_t Type; /* an internal object kind: event, thread, ... */
  int32_t SignalState;
  LIST_ENTRY WaitListHead;
  uint32_t Id; /* for the trace; assigned on first use */
  const char *Name;
} DISPATCHER_HEADER;

typedef struct KEVENT {
  DISPATCHER_HEADER Header;
} KEVENT, *PKEVENT;

void KeInitializeEvent(PKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
int32_t KeSetEvent(PKEVENT Event, int32_t Increment, BOOLEAN Wait);
void KeClearEvent(PKEVENT Event);
int32_t KeResetEvent(PKEVENT Event);
int32_t KeReadStateEvent(PKEVENT Event);
/* Timeout in 100 ns units as in Windows: negative = relative, NULL = forever. */
NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON Reason,
                               KPROCESSOR_MODE Mode, BOOLEAN Alertable,
                               const LONGLONG *Timeout);
NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[],
                                  WAIT_TYPE WaitType, KWAIT_REASON Reason,
                                  KPROCESSOR_MODE Mode, BOOLEAN Alertable,
                                  const LONGLONG *Timeout);
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE Mode, BOOLEAN Alertable,
                                const LONGLONG *Interval);

/* ---- IRQL ---- */
KIRQL KeGetCurrentIrql(void);
void KeRaiseIrql(KIRQL NewIrql, KIRQL *OldIrql);
void KeLowerIrql(KIRQL NewIrql);
KIRQL KeRaiseIrqlToDpcLevel(void);
ULONG KeGetCurrentProcessorNumber(void);
PKTHREAD KeGetCurrentThread(void);
void KeBugCheckEx(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                  ULONG_PTR P4);

/* ---- DPCs ---- */
typedef void KDEFERRED_ROUTINE(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2);
typedef enum {
  LowImportance,
  MediumImportance,
  HighImportance,
  MediumHighImportance
} KDPC_IMPORTANCE;

struct KDPC {
  LIST_ENTRY DpcListEntry;
  KDEFERRED_ROUTINE *DeferredRoutine;
  PVOID DeferredContext;
  PVOID SystemArgument1, SystemArgument2;
  uint8_t Importance;
  int16_t Number; /* target CPU, -1 = the current one */
  int16_t QueuedOn; /* CPU whose queue holds it, -1 = not queued */
  const char *Name;
  PDEVICE_OBJECT SimDevice; /* set by IoInitializeDpcRequest: Arg1 is an IRP */
};
void KeInitializeDpc(PKDPC Dpc, KDEFERRED_ROUTINE *Routine, PVOID Context);
void KeSetImportanceDpc(PKDPC Dpc, KDPC_IMPORTANCE Importance);
void KeSetTargetProcessorDpc(PKDPC Dpc, int Number);
BOOLEAN KeInsertQueueDpc(PKDPC Dpc, PVOID Arg1, PVOID Arg2);
BOOLEAN KeRemoveQueueDpc(PKDPC Dpc);

/* ---- APCs ---- */
typedef void KKERNEL_ROUTINE(PKAPC Apc, PVOID *NormalRoutine, PVOID *NormalCtx,
                             PVOID *Arg1, PVOID *Arg2);
typedef void KNORMAL_ROUTINE(PVOID NormalCtx, PVOID Arg1, PVOID Arg2);
typedef void KRUNDOWN_ROUTINE(PKAPC Apc);
struct KAPC {
  LIST_ENTRY ApcListEntry;
  PKTHREAD Thread;
  KKERNEL_ROUTINE *KernelRoutine;
  KRUNDOWN_ROUTINE *RundownRoutine;
  KNORMAL_ROUTINE *NormalRoutine;
  PVOID NormalContext, SystemArgument1, SystemArgument2;
  KPROCESSOR_MODE ApcMode;
  BOOLEAN Inserted;
  const char *Name;
  uint32_t IrpId; /* for the trace: the IRP this APC finishes, 0 if none */
};
void KeInitializeApc(PKAPC Apc, PKTHREAD Thread, KKERNEL_ROUTINE *Kernel,
                     KRUNDOWN_ROUTINE *Rundown, KNORMAL_ROUTINE *Normal,
                     KPROCESSOR_MODE Mode, PVOID NormalContext);
BOOLEAN KeInsertQueueApc(PKAPC Apc, PVOID Arg1, PVOID Arg2, int32_t Boost);
/* Critical regions hold back normal kernel APCs, guarded regions all kernel
   APCs, for the current thread; IRQL <= APC_LEVEL. */
void KeEnterCriticalRegion(void);
void KeLeaveCriticalRegion(void);
void KeEnterGuardedRegion(void);
void KeLeaveGuardedRegion(void);

/* ---- Major functions ---- */
#define IRP_MJ_CREATE 0x00
#define IRP_MJ_CLOSE 0x02
#define IRP_MJ_READ 0x03
#define IRP_MJ_WRITE 0x04
#define IRP_MJ_FLUSH_BUFFERS 0x09
#define IRP_MJ_DEVICE_CONTROL 0x0e
#define IRP_MJ_INTERNAL_DEVICE_CONTROL 0x0f
#define IRP_MJ_CLEANUP 0x12
#define IRP_MJ_MAXIMUM_FUNCTION 0x1b
const char *iosim_major_name(UCHAR major);

/* ---- IO_STACK_LOCATION ---- */
#define SL_PENDING_RETURNED 0x01
#define SL_ERROR_RETURNED 0x02
#define SL_INVOKE_ON_CANCEL 0x20
#define SL_INVOKE_ON_SUCCESS 0x40
#define SL_INVOKE_ON_ERROR 0x80

typedef NTSTATUS IO_COMPLETION_ROUTINE(PDEVICE_OBJECT Dev, PIRP Irp, PVOID Ctx);
typedef IO_COMPLETION_ROUTINE *PIO_COMPLETION_ROUTINE;

typedef struct IO_STACK_LOCATION {
  UCHAR MajorFunction;
  UCHAR MinorFunction;
  UCHAR Flags;
  UCHAR Control;
  union {
    struct { ULONG Length; ULONG Key; LONGLONG ByteOffset; } Read;
    struct { ULONG Length; ULONG Key; LONGLONG ByteOffset; } Write;
    struct {
      ULONG OutputBufferLength, InputBufferLength, IoControlCode;
      PVOID Type3InputBuffer;
    } DeviceIoControl;
    struct { PVOID Argument1, Argument2, Argument3, Argument4; } Others;
  } Parameters;
  PDEVICE_OBJECT DeviceObject;
  PFILE_OBJECT FileObject;
  /* Everything above is what IoCopyCurrentIrpStackLocationToNext copies. */
  PIO_COMPLETION_ROUTINE CompletionRoutine;
  PVOID Context;
} IO_STACK_LOCATION, *PIO_STACK_LOCATION;

/* ---- IRP ---- */
#define IRP_NOCACHE 0x00000001
#define IRP_PAGING_IO 0x00000002
#define IRP_SYNCHRONOUS_API 0x00000004
#define IRP_ASSOCIATED_IRP 0x00000008
#define IRP_BUFFERED_IO 0x00000010
#define IRP_DEALLOCATE_BUFFER 0x00000020
#define IRP_INPUT_OPERATION 0x00000040
#define IRP_CLOSE_OPERATION 0x00000400
#define IRP_DEFER_IO_COMPLETION 0x00000800
#define IRP_READ_OPERATION 0x00000200
#define IRP_WRITE_OPERATION 0x00000100

typedef void DRIVER_CANCEL(PDEVICE_OBJECT Dev, PIRP Irp);
typedef DRIVER_CANCEL *PDRIVER_CANCEL;
typedef void IO_APC_ROUTINE(PVOID ApcContext, PIO_STATUS_BLOCK Iosb, ULONG Reserved);

struct IRP {
  uint16_t Type, Size;
  ULONG Flags;
  union {
    PIRP MasterIrp;
    int32_t IrpCount;
    PVOID SystemBuffer;
  } AssociatedIrp;
  LIST_ENTRY ThreadListEntry;
  IO_STATUS_BLOCK IoStatus;
  KPROCESSOR_MODE RequestorMode;
  BOOLEAN PendingReturned;
  int8_t StackCount;
  int16_t CurrentLocation; /* a CHAR in Windows: wider here so that a 127-location IRP's
                              starting value, 128, is not negative */
  BOOLEAN Cancel;
  KIRQL CancelIrql;
  PDRIVER_CANCEL CancelRoutine;
  PIO_STATUS_BLOCK UserIosb;
  PKEVENT UserEvent;
  PVOID UserBuffer;
  struct {
    IO_APC_ROUTINE *UserApcRoutine;
    PVOID UserApcContext;
  } AsynchronousParameters;
  union {
    struct {
      PVOID DriverContext[4];
      PETHREAD Thread;
      LIST_ENTRY ListEntry;
      PIO_STACK_LOCATION CurrentStackLocation;
      PFILE_OBJECT OriginalFileObject;
    } Overlay;
    KAPC Apc;
    PVOID CompletionKey;
  } Tail;
  /* Simulator bookkeeping, not in Windows. */
  uint32_t SimId;       /* the IRP's number in the trace (1, 2, ...) */
  uint8_t SimCompletes; /* how many times stage 1 ran to the top */
  bool SimPortBound;    /* thread-agnostic: finished through a completion port */
  bool SimStage2Queued; /* stage 2 went to an APC or a port packet */
  bool SimInWalk;       /* its completion walk is running a routine */
  bool SimCompleting;   /* IoCompleteRequest's walk (stage 1) is under way */
  sim_t *Sim;
  LIST_ENTRY SimLink;  /* on the simulation's list of live IRPs */
  IO_STACK_LOCATION Stack[]; /* StackCount locations, 1-based via CurrentLocation */
};

/* ---- Device and driver objects ---- */
typedef NTSTATUS DRIVER_DISPATCH(PDEVICE_OBJECT Dev, PIRP Irp);
typedef DRIVER_DISPATCH *PDRIVER_DISPATCH;
typedef void IO_DPC_ROUTINE(PKDPC Dpc, PDEVICE_OBJECT Dev, PIRP Irp, PVOID Ctx);

/* Fast I/O: a driver's chance to serve a request without an IRP.  Each
   routine returns TRUE when it handled the request (Iosb filled), FALSE
   for "build an IRP". */
typedef BOOLEAN FAST_IO_READ(PFILE_OBJECT File, const LONGLONG *Offset, ULONG Length, BOOLEAN Wait,
                             ULONG LockKey, PVOID Buffer, PIO_STATUS_BLOCK Iosb, PDEVICE_OBJECT Dev);
typedef struct FAST_IO_DISPATCH {
  ULONG SizeOfFastIoDispatch;
  FAST_IO_READ *FastIoRead;
  FAST_IO_READ *FastIoWrite;
} FAST_IO_DISPATCH, *PFAST_IO_DISPATCH;

struct DRIVER_OBJECT {
  const char *DriverName;
  PDEVICE_OBJECT DeviceObject; /* first of the driver's devices */
  PFAST_IO_DISPATCH FastIoDispatch;
  PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
  PVOID DriverExtension;       /* free for the driver's use */
  sim_t *Sim;
  uint32_t SimId;
};

#define DO_BUFFERED_IO 0x00000004
#define DO_DIRECT_IO 0x00000010

struct DEVICE_OBJECT {
  PDRIVER_OBJECT DriverObject;
  PDEVICE_OBJECT NextDevice;      /* next device of the same driver */
  PDEVICE_OBJECT AttachedDevice;  /* the device attached on top of this one */
  PDEVICE_OBJECT SimLowerDevice;  /* what IoAttachDeviceToDeviceStack returned */
  ULONG Flags;
  int8_t StackSize;
  KDPC Dpc;                       /* for IoRequestDpc */
  IO_DPC_ROUTINE *SimDpcForIsr;   /* what IoInitializeDpcRequest registered */
  PVOID DeviceExtension;
  const char *SimName;
  uint32_t SimId;
  sim_t *Sim;
  struct sim_hw *SimHardware;     /* the simulated hardware behind it, if any */
};

struct FILE_OBJECT {
  PDEVICE_OBJECT DeviceObject;
  ULONG Flags;                    /* FO_SYNCHRONOUS_IO, ... */
  KEVENT Event;                   /* signalled when an I/O on it finishes */
  NTSTATUS FinalStatus;
  LONGLONG CurrentByteOffset;
  struct { PVOID Port; PVOID Key; } CompletionContext;
  PVOID PrivateCacheMap;          /* set by CcInitializeCacheMap: the file is cached */
  const char *SimName;
  uint32_t SimId;
  PFILE_OBJECT SimNextFile; /* the simulation's list of files */
};
#define FO_SYNCHRONOUS_IO 0x00000002
#define FO_ALERTABLE_IO 0x00000004

/* Setup-time routines take the context explicitly: they run before the
   simulated machine starts, from the embedding program. */
NTSTATUS IoCreateDevice(PDRIVER_OBJECT Driver, ULONG ExtensionSize,
                        const char *Name, ULONG Flags, PDEVICE_OBJECT *Out);
PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT Source,
                                           PDEVICE_OBJECT Target);
void IoInitializeDpcRequest(PDEVICE_OBJECT Dev, IO_DPC_ROUTINE *Routine);
void IoRequestDpc(PDEVICE_OBJECT Dev, PIRP Irp, PVOID Ctx);

/* ---- IRP routines ---- */
PIRP IoAllocateIrp(int8_t StackSize, BOOLEAN ChargeQuota);
void IoFreeIrp(PIRP Irp);
PIRP IoMakeAssociatedIrp(PIRP Master, int8_t StackSize);
NTSTATUS IofCallDriver(PDEVICE_OBJECT Dev, PIRP Irp);
#define IoCallDriver(d, i) IofCallDriver((d), (i))
void IofCompleteRequest(PIRP Irp, int8_t PriorityBoost);
#define IoCompleteRequest(i, b) IofCompleteRequest((i), (b))
BOOLEAN IoCancelIrp(PIRP Irp);
void IoAcquireCancelSpinLock(KIRQL *Irql);
void IoReleaseCancelSpinLock(KIRQL Irql);

/* The stack-location helpers are real functions (not macros) so that each
   one is a traced step and a point where another CPU may run. */
PIO_STACK_LOCATION IoGetCurrentIrpStackLocation(PIRP Irp);
PIO_STACK_LOCATION IoGetNextIrpStackLocation(PIRP Irp);
void IoSetNextIrpStackLocation(PIRP Irp);
void IoSkipCurrentIrpStackLocation(PIRP Irp);
void IoCopyCurrentIrpStackLocationToNext(PIRP Irp);
void IoSetCompletionRoutine(PIRP Irp, PIO_COMPLETION_ROUTINE Routine,
                            PVOID Context, BOOLEAN OnSuccess, BOOLEAN OnError,
                            BOOLEAN OnCancel);
void IoMarkIrpPending(PIRP Irp);
PDRIVER_CANCEL IoSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL Routine);

/* Priority boosts (wdm.h). */
#define IO_NO_INCREMENT 0
#define IO_CD_ROM_INCREMENT 1
#define IO_DISK_INCREMENT 1
#define IO_NETWORK_INCREMENT 2
#define IO_KEYBOARD_INCREMENT 6
#define IO_SOUND_INCREMENT 8
#define EVENT_INCREMENT 1

/* Bugcheck codes the simulator raises. */
#define NO_MORE_IRP_STACK_LOCATIONS 0x35
#define MULTIPLE_IRP_COMPLETE_REQUESTS 0x44
#define CANCEL_STATE_IN_COMPLETED_IRP 0x48
#define IRQL_NOT_LESS_OR_EQUAL 0x0A
#define IRQL_NOT_GREATER_OR_EQUAL 0x09
#define DRIVER_VERIFIER_IOMANAGER_VIOLATION 0xC9
#define INVALID_DATA_ACCESS_TRAP 0x04
/* A kernel stack overflow: Windows takes a double fault on the guard page
   and stops with 0x7F, parameter 1 = EXCEPTION_DOUBLE_FAULT. */
#define UNEXPECTED_KERNEL_MODE_TRAP 0x7F
#define EXCEPTION_DOUBLE_FAULT 8
/* A LIST_ENTRY found corrupted (parameter 1 = 3), as Windows 8+ reports it. */
#define KERNEL_SECURITY_CHECK_FAILURE 0x139
#define APC_INDEX_MISMATCH 0x01
/* A thread exits inside a critical or guarded region. */
#define KERNEL_APC_PENDING_DURING_EXIT 0x20
/* KeWaitForMultipleObjects on more than MAXIMUM_WAIT_OBJECTS. */
#define MAXIMUM_WAIT_OBJECTS_EXCEEDED 0x0C
/* An access violation in kernel mode (parameter 1: the exception code). */
#define KMODE_EXCEPTION_NOT_HANDLED 0x1E
#define IOSIM_STATUS_PENDING_COMPLETE 0xC9 /* completing with STATUS_PENDING (0xC9/0x06) */
const char *iosim_bugcheck_name(ULONG code);

#endif
