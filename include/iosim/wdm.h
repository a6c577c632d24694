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
#include <string.h> /* the Rtl*Memory macros */

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

/* ---- ntdef.h's types ---- */
typedef int32_t LONG, *PLONG;
typedef uint16_t USHORT, *PUSHORT;
typedef int16_t CSHORT;
typedef char CCHAR;
typedef char CHAR, *PCHAR, *PSTR;
typedef const char *PCSTR, *PCCH;
typedef uint64_t ULONGLONG, ULONG64;
typedef intptr_t LONG_PTR;
typedef size_t SIZE_T;
typedef ULONG *PULONG;
typedef KIRQL *PKIRQL;
typedef LONG KPRIORITY;
typedef ULONG ACCESS_MASK;
typedef void *HANDLE, **PHANDLE;
#define MAXLONG 0x7fffffff

/* A 64-bit count of 100 ns units (times) with its two halves, as ntdef.h
   has it: drivers write QuadPart. */
typedef union LARGE_INTEGER {
  struct {
    ULONG LowPart;
    LONG HighPart;
  };
  struct {
    ULONG LowPart;
    LONG HighPart;
  } u;
  LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
typedef union ULARGE_INTEGER {
  struct {
    ULONG LowPart;
    ULONG HighPart;
  };
  struct {
    ULONG LowPart;
    ULONG HighPart;
  } u;
  ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

/* Counted UTF-16 strings, as ntdef.h has them: Length and MaximumLength
   are in bytes.  Drivers are compiled with -fshort-wchar (docs/wdk.md), so
   L"..." is 16-bit; the engine itself never depends on wchar_t's size and
   converts names to UTF-8 for the trace. */
typedef uint16_t WCHAR, *PWCHAR, *PWSTR;
typedef const WCHAR *PCWSTR;
struct UNICODE_STRING {
  USHORT Length;
  USHORT MaximumLength;
  PWSTR Buffer;
};
typedef struct UNICODE_STRING UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;
void RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
/* UTF-8 of a counted string into buf (NUL-terminated, truncated to n-1
   bytes); returns buf.  Not a Windows routine: the engine's names. */
char *iosim_unicode_to_utf8(PCUNICODE_STRING Str, char *buf, size_t n);

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
  X(STATUS_DATATYPE_MISALIGNMENT, 0x80000002)                 \
  X(STATUS_BUFFER_OVERFLOW, 0x80000005)                       \
  X(STATUS_UNSUCCESSFUL, 0xC0000001)                          \
  X(STATUS_NOT_IMPLEMENTED, 0xC0000002)                       \
  X(STATUS_INVALID_HANDLE, 0xC0000008)                        \
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
  X(STATUS_BREAKPOINT, 0x80000003)                            \
  X(STATUS_OBJECT_TYPE_MISMATCH, 0xC0000024)                  \
  X(STATUS_MUTANT_NOT_OWNED, 0xC0000046)                      \
  X(STATUS_SEMAPHORE_LIMIT_EXCEEDED, 0xC0000047)              \
  X(STATUS_DELETE_PENDING, 0xC0000056)                        \
  X(STATUS_ASSERTION_FAILURE, 0xC0000420)                     \
  X(STATUS_INTERNAL_ERROR, 0xC00000E5)                        \
  X(STATUS_OBJECT_NAME_COLLISION, 0xC0000035)                 \
  X(STATUS_BUFFER_TOO_SMALL, 0xC0000023)                      \
  X(STATUS_INVALID_DEVICE_STATE, 0xC0000184)                  \
  X(STATUS_NO_MEMORY, 0xC0000017)                             \
  X(STATUS_INVALID_USER_BUFFER, 0xC00000E8)                   \
  X(STATUS_OBJECT_NAME_NOT_FOUND, 0xC0000034)                 \
  X(STATUS_NO_SUCH_DEVICE, 0xC000000E)                        \
  X(STATUS_DEVICE_BUSY, 0x80000011)                           \
  X(STATUS_NOT_SUPPORTED, 0xC00000BB)                         \
  X(STATUS_INVALID_BUFFER_SIZE, 0xC0000206)                   \
  X(STATUS_DEVICE_REMOVED, 0xC00002B6)                        \
  X(STATUS_DEVICE_DOES_NOT_EXIST, 0xC00000C0)                 \
  X(STATUS_NO_MEDIA_IN_DEVICE, 0xC0000013)                    \
  X(STATUS_IO_TIMEOUT, 0xC00000B5)                            \
  X(STATUS_DATA_ERROR, 0xC000003E)                            \
  X(STATUS_OBJECT_NAME_INVALID, 0xC0000033)

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

typedef ULONG DEVICE_TYPE;
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

/* ---- device queues (ke/devqueue.c, kernel-facts 13.11) ----
 * The queue of IRPs waiting for a device's StartIo routine.  Busy says
 * the device is working on a packet: an insertion into a queue that is
 * not busy only makes it busy and returns FALSE (the caller starts the
 * packet itself); a removal from an empty queue makes it idle again. */
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef struct KDEVICE_QUEUE {
  CSHORT Type;
  CSHORT Size;
  LIST_ENTRY DeviceListHead;
  KSPIN_LOCK Lock;
  BOOLEAN Busy;
} KDEVICE_QUEUE, *PKDEVICE_QUEUE, *PRKDEVICE_QUEUE;
typedef struct KDEVICE_QUEUE_ENTRY {
  LIST_ENTRY DeviceListEntry;
  ULONG SortKey;
  BOOLEAN Inserted;
} KDEVICE_QUEUE_ENTRY, *PKDEVICE_QUEUE_ENTRY, *PRKDEVICE_QUEUE_ENTRY;

/* ---- Dispatcher objects ---- */
typedef enum { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef enum { WaitAll, WaitAny } WAIT_TYPE;
typedef enum { KernelMode, UserMode } KPROCESSOR_MODE;
typedef enum { Executive, UserRequest } KWAIT_REASON;
#define MAXIMUM_WAIT_OBJECTS 64
/* The wait blocks a thread has of its own: a wait on more objects must
   bring an array of KWAIT_BLOCKs (KeWaitForMultipleObjects). */
#define THREAD_WAIT_OBJECTS 3

/* A wait block: storage the caller lends a wait on more than
   THREAD_WAIT_OBJECTS objects.  iosim keeps its waits elsewhere and only
   checks that the storage is there, as the contract says. */
typedef struct _KWAIT_BLOCK {
  LIST_ENTRY WaitListEntry;
  void *Thread;
  void *Object;
  struct _KWAIT_BLOCK *NextWaitBlock;
  uint16_t WaitKey;
  uint8_t WaitType;
  uint8_t BlockState;
} KWAIT_BLOCK, *PKWAIT_BLOCK;

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
                               PLARGE_INTEGER Timeout);
/* As in the WDK: with WaitBlockArray NULL, Count may be at most
   THREAD_WAIT_OBJECTS (else bugcheck 0xC, as with more than
   MAXIMUM_WAIT_OBJECTS). */
NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[],
                                  WAIT_TYPE WaitType, KWAIT_REASON Reason,
                                  KPROCESSOR_MODE Mode, BOOLEAN Alertable,
                                  PLARGE_INTEGER Timeout, PKWAIT_BLOCK WaitBlockArray);
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE Mode, BOOLEAN Alertable,
                                PLARGE_INTEGER Interval);

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
#define IRP_MJ_SHUTDOWN 0x10
#define IRP_MJ_CLEANUP 0x12
#define IRP_MJ_POWER 0x16
#define IRP_MJ_PNP 0x1b
#define IRP_MJ_MAXIMUM_FUNCTION 0x1b
const char *iosim_major_name(UCHAR major);

/* ---- MDLs (io/iobuf.c) ----
 * A memory descriptor list describes a buffer by its pages.  iosim has no
 * paging: the pages of a simulated program's buffer are always resident,
 * so MmProbeAndLockPages only records the lock, and the buffer's "system
 * address" (MmGetSystemAddressForMdlSafe) is the user buffer's own address
 * (docs/kernel-facts.md 14). */
typedef struct MDL {
  struct MDL *Next;     /* a chain of MDLs on one IRP (Irp->MdlAddress) */
  int16_t Size;
  int16_t MdlFlags;     /* MDL_PAGES_LOCKED, MDL_MAPPED_TO_SYSTEM_VA, ... */
  PVOID MappedSystemVa; /* the system address once mapped */
  PVOID StartVa;        /* the first byte's page */
  ULONG ByteCount;      /* the buffer's length */
  ULONG ByteOffset;     /* the first byte's offset in that page */
  sim_t *Sim;
} MDL, *PMDL;
#define MDL_MAPPED_TO_SYSTEM_VA 0x0001
#define MDL_PAGES_LOCKED 0x0002
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MDL_ALLOCATED_FIXED_SIZE 0x0008
#define MDL_IO_PAGE_READ 0x0040
typedef enum { IoReadAccess, IoWriteAccess, IoModifyAccess } LOCK_OPERATION;
typedef enum { LowPagePriority = 0, NormalPagePriority = 16, HighPagePriority = 32 } MM_PAGE_PRIORITY;
#define MdlMappingNoWrite 0x80000000u
#define MdlMappingNoExecute 0x40000000u

/* ---- I/O control codes (devioctl.h) ---- */
#ifndef CTL_CODE
#define CTL_CODE(DeviceType, Function, Method, Access)                                              \
  (((ULONG)(DeviceType) << 16) | ((ULONG)(Access) << 14) | ((ULONG)(Function) << 2) | (ULONG)(Method))
#define METHOD_BUFFERED 0
#define METHOD_IN_DIRECT 1
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER 3
#define METHOD_FROM_CTL_CODE(ctrlCode) ((ULONG)((ctrlCode) & 3))
#endif

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
    struct { ULONG Length; ULONG Key; LARGE_INTEGER ByteOffset; } Read;
    struct { ULONG Length; ULONG Key; LARGE_INTEGER ByteOffset; } Write;
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
    PVOID SystemBuffer;   /* DO_BUFFERED_IO, METHOD_BUFFERED: the I/O manager's copy */
  } AssociatedIrp;
  PMDL MdlAddress;        /* DO_DIRECT_IO, METHOD_*_DIRECT: the user buffer's MDL */
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
  PVOID UserBuffer;       /* the caller's buffer (an IOCTL's output buffer) */
  struct {
    IO_APC_ROUTINE *UserApcRoutine;
    PVOID UserApcContext;
  } AsynchronousParameters;
  union {
    struct {
      union { /* the device queue's while the IRP waits for StartIo */
        KDEVICE_QUEUE_ENTRY DeviceQueueEntry;
        PVOID DriverContext[4];
      };
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
  ULONG SimSystemBufferLength; /* the size of the SystemBuffer the I/O manager allocated */
  const char *SimKeptWhy; /* sim_irp_keep: held on purpose past the end of the run (borrowed) */
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

/* The driver's routines beside its dispatch table, as wdm.h types them. */
typedef NTSTATUS DRIVER_INITIALIZE(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;
typedef void DRIVER_UNLOAD(PDRIVER_OBJECT DriverObject);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;
typedef void DRIVER_STARTIO(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef DRIVER_STARTIO *PDRIVER_STARTIO;
typedef NTSTATUS DRIVER_ADD_DEVICE(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject);
typedef DRIVER_ADD_DEVICE *PDRIVER_ADD_DEVICE;
typedef struct DRIVER_EXTENSION {
  PDRIVER_OBJECT DriverObject;
  PDRIVER_ADD_DEVICE AddDevice; /* recorded: iosim has no PnP manager to call it */
  ULONG Count;
  UNICODE_STRING ServiceKeyName;
} DRIVER_EXTENSION, *PDRIVER_EXTENSION;

/* Fields named Sim... are the simulator's, not Windows's: no Windows
   driver uses the prefix, so real code cannot collide with them. */
struct DRIVER_OBJECT {
  PDEVICE_OBJECT DeviceObject; /* first of the driver's devices */
  ULONG Flags;
  PDRIVER_EXTENSION DriverExtension;
  UNICODE_STRING DriverName;   /* \Driver\NAME */
  PFAST_IO_DISPATCH FastIoDispatch;
  PDRIVER_INITIALIZE DriverInit;
  PDRIVER_STARTIO DriverStartIo;
  PDRIVER_UNLOAD DriverUnload; /* called at the end of the run, or by `unload` */
  PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
  const char *SimName;         /* the driver's name in the trace (UTF-8) */
  PVOID SimContext;            /* the embedding program's pointer: sim_load_driver's arg */
  sim_t *Sim;
  uint32_t SimId;
  BOOLEAN SimUnloaded;         /* DriverUnload has run */
  BOOLEAN SimUnloadPending;    /* `unload` asked while its devices were open */
};

#define DO_BUFFERED_IO 0x00000004
#define DO_DIRECT_IO 0x00000010

struct DEVICE_OBJECT {
  DEVICE_TYPE DeviceType;
  ULONG Characteristics;
  PDRIVER_OBJECT DriverObject;
  PDEVICE_OBJECT NextDevice;      /* next device of the same driver */
  PDEVICE_OBJECT AttachedDevice;  /* the device attached on top of this one */
  PDEVICE_OBJECT SimLowerDevice;  /* what IoAttachDeviceToDeviceStack returned */
  LONG ReferenceCount;            /* open file objects on it (IopParseDevice / IopDeleteFile) */
  ULONG Flags;
  int8_t StackSize;
  PIRP CurrentIrp;                /* the packet StartIo works on (IoStartPacket) */
  KDEVICE_QUEUE DeviceQueue;      /* the packets waiting for StartIo */
  KDPC Dpc;                       /* for IoRequestDpc */
  IO_DPC_ROUTINE *SimDpcForIsr;   /* what IoInitializeDpcRequest registered */
  PVOID DeviceExtension;
  const char *SimName;
  uint32_t SimId;
  sim_t *Sim;
  struct sim_hw *SimHardware;     /* the simulated hardware behind it, if any */
  BOOLEAN SimDeleted;             /* IoDeleteDevice ran */
  /* IoSetStartIoAttributes and the deferred StartIo it asks for (Windows
     keeps these in the device object extension's StartIoFlags). */
  BOOLEAN SimStartIoDeferred, SimStartIoNoCancel;
  LONG SimStartIoDepth;           /* StartIo calls of this device under way */
  BOOLEAN SimStartIoRequested, SimStartIoByKey, SimStartIoCancelable; /* a deferred IoStartNextPacket */
  ULONG SimStartIoKey;
};

struct FILE_OBJECT {
  PDEVICE_OBJECT DeviceObject;
  PVOID FsContext;                /* the driver's, per stream */
  PVOID FsContext2;               /* the driver's, per open */
  ULONG Flags;                    /* FO_SYNCHRONOUS_IO, ... */
  KEVENT Event;                   /* signalled when an I/O on it finishes */
  NTSTATUS FinalStatus;
  /* The file object lock of a synchronous file (FO_SYNCHRONOUS_IO): one
     request at a time (io/iosync.c, kernel-facts 5.8). */
  ULONG Busy;                     /* a thread owns the file object */
  ULONG Waiters;                  /* threads waiting for it */
  KEVENT Lock;                    /* a synchronization event, set on release when there are waiters */
  uint32_t SimLockOwner;          /* the owning thread's number, for the trace (0 = none) */
  LARGE_INTEGER CurrentByteOffset;
  struct { PVOID Port; PVOID Key; } CompletionContext;
  PVOID PrivateCacheMap;          /* set by CcInitializeCacheMap: the file is cached */
  const char *SimName;
  uint32_t SimId;
  PFILE_OBJECT SimNextFile; /* the simulation's list of files */
};
#define FO_SYNCHRONOUS_IO 0x00000002
#define FO_ALERTABLE_IO 0x00000004
/* SetFileCompletionNotificationModes (Vista+): no port packet for a request
   that finishes at once without an error; no signal of the file object's
   own event when I/O on it finishes (kernel-facts 7.8). */
#define FO_SKIP_COMPLETION_PORT 0x02000000
#define FO_SKIP_SET_EVENT 0x04000000

/* Device types and characteristics (devioctl.h / wdm.h). */
#define FILE_DEVICE_BEEP 0x00000001
#define FILE_DEVICE_CD_ROM 0x00000002
#define FILE_DEVICE_CONTROLLER 0x00000004
#define FILE_DEVICE_DISK 0x00000007
#define FILE_DEVICE_DISK_FILE_SYSTEM 0x00000008
#define FILE_DEVICE_FILE_SYSTEM 0x00000009
#define FILE_DEVICE_KEYBOARD 0x0000000b
#define FILE_DEVICE_MOUSE 0x0000000f
#define FILE_DEVICE_NETWORK 0x00000012
#define FILE_DEVICE_NULL 0x00000015
#define FILE_DEVICE_PARALLEL_PORT 0x00000016
#define FILE_DEVICE_PRINTER 0x00000018
#define FILE_DEVICE_SERIAL_PORT 0x0000001b
#define FILE_DEVICE_SOUND 0x0000001d
#define FILE_DEVICE_TAPE 0x0000001f
#define FILE_DEVICE_UNKNOWN 0x00000022
#define FILE_DEVICE_VIDEO 0x00000023
#define FILE_DEVICE_BUS_EXTENDER 0x0000002a
#define FILE_DEVICE_SECURE_OPEN 0x00000100
#define FILE_REMOVABLE_MEDIA 0x00000001
#define FILE_READ_ONLY_DEVICE 0x00000002
#define FILE_FLOPPY_DISKETTE 0x00000004
#define FILE_WRITE_ONCE_MEDIA 0x00000008
#define FILE_REMOTE_DEVICE 0x00000010
#define FILE_DEVICE_IS_MOUNTED 0x00000020
#define FILE_VIRTUAL_VOLUME 0x00000040
#define FILE_AUTOGENERATED_DEVICE_NAME 0x00000080
#define DO_EXCLUSIVE 0x00000008
#define DO_DEVICE_INITIALIZING 0x00000080
#define DO_POWER_PAGABLE 0x00002000

/* A device of the driver, with an extension of DeviceExtensionSize zeroed
   bytes.  Its trace name is DeviceName without the \Device\ prefix, in
   UTF-8; an unnamed device (NULL) is called DRIVER#N.  A name already
   taken: STATUS_OBJECT_NAME_COLLISION.  DeviceType, DeviceCharacteristics
   and Exclusive are recorded in the device object. */
NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                        DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject);
/* Unlinks the device from its driver; freed at the end of the run (a
   request still in flight may hold it).  Deleting a device still attached
   to a lower one is a caller's bug (IoDetachDevice first): a stop. */
void IoDeleteDevice(PDEVICE_OBJECT DeviceObject);
void IoDetachDevice(PDEVICE_OBJECT TargetDevice);
/* The object manager's \DosDevices links, recorded in the simulation
   (listed in the end-of-run account when left behind). */
NTSTATUS IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName);
NTSTATUS IoCreateUnprotectedSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName);
NTSTATUS IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName);
PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT Source,
                                           PDEVICE_OBJECT Target);
/* Attaches SourceDevice on top of the stack of the device named
   TargetDevice (\Device\NAME); *AttachedDevice: the device it landed on. */
NTSTATUS IoAttachDevice(PDEVICE_OBJECT SourceDevice, PUNICODE_STRING TargetDevice, PDEVICE_OBJECT *AttachedDevice);
void IoInitializeDpcRequest(PDEVICE_OBJECT Dev, IO_DPC_ROUTINE *Routine);
void IoRequestDpc(PDEVICE_OBJECT Dev, PIRP Irp, PVOID Ctx);

/* ---- IRP routines ---- */
PIRP IoAllocateIrp(int8_t StackSize, BOOLEAN ChargeQuota);
void IoFreeIrp(PIRP Irp);
/* ---- MDL routines (io/iobuf.c) ---- */
/* An MDL for Length bytes at VirtualAddress; with Irp, it becomes the IRP's
   MdlAddress (SecondaryBuffer: appended to its chain instead).  NULL when
   Length is 0 or more than Windows lets one MDL describe. */
PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota,
                   PIRP Irp);
void IoFreeMdl(PMDL Mdl);
/* Locks the pages (always resident here: only MDL_PAGES_LOCKED is set). */
void MmProbeAndLockPages(PMDL Mdl, KPROCESSOR_MODE AccessMode, LOCK_OPERATION Operation);
void MmUnlockPages(PMDL Mdl);
/* Windows' macros, as functions: the system address is the buffer's own. */
PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority);
ULONG MmGetMdlByteCount(PMDL Mdl);
PVOID MmGetMdlVirtualAddress(PMDL Mdl);
ULONG MmGetMdlByteOffset(PMDL Mdl);
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
/* The code of a stop code's name ("APC_INDEX_MISMATCH"); false if unknown. */
bool iosim_bugcheck_parse(const char *name, ULONG *code);

/* ========================================================================
 * The kernel library around the IRP path (docs/kernel-facts.md §13): spin
 * locks, timers, semaphores and mutexes, system threads and handles, work
 * items, cancel-safe queues, remove locks, pool, and the small helpers of
 * wdm.h.  Each routine is the engine's model, traced where it matters.
 * ======================================================================== */

/* ---- more stop codes (kernel-facts 13) ---- */
#define REFERENCE_BY_POINTER 0x18
#define INVALID_KERNEL_HANDLE 0x93
#define BAD_POOL_CALLER 0xC2
#define DRIVER_VERIFIER_DETECTED_VIOLATION 0xC4
#define WORKER_THREAD_RETURNED_AT_BAD_IRQL 0xE1
#define WORKER_INVALID 0xE4
#define THREAD_TERMINATE_HELD_MUTEX 0x4000008A

/* ---- spin locks (kernel-facts 13.1) ----
 * The lock word holds who has it; a CPU that wants a held lock spins at
 * DISPATCH_LEVEL, one simulated step at a time.  Misuse is a Driver
 * Verifier stop (0xC4): acquiring a lock this CPU holds, releasing one it
 * does not, the wrong IRQL. */
void KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
/* x64 wdm.h makes this a macro around KeAcquireSpinLockRaiseToDpc; a
   function with the same arguments serves the same calls. */
void KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql);
KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock);
void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);
BOOLEAN KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
/* TRUE when the lock is free (a caller may then try to take it). */
BOOLEAN KeTestSpinLock(PKSPIN_LOCK SpinLock);

/* In-stack queued spin locks: waiters queue in arrival order, each one
   spinning on its own queue entry, and the holder hands the lock to the
   next in line when it releases it. */
typedef struct KSPIN_LOCK_QUEUE {
  struct KSPIN_LOCK_QUEUE *volatile Next;
  PKSPIN_LOCK volatile Lock; /* low bits: LOCK_QUEUE_WAIT, LOCK_QUEUE_OWNER */
} KSPIN_LOCK_QUEUE, *PKSPIN_LOCK_QUEUE;
typedef struct KLOCK_QUEUE_HANDLE {
  KSPIN_LOCK_QUEUE LockQueue;
  KIRQL OldIrql;
} KLOCK_QUEUE_HANDLE, *PKLOCK_QUEUE_HANDLE;
#define LOCK_QUEUE_WAIT 1
#define LOCK_QUEUE_OWNER 2
void KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle);
void KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle);
void KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle);
void KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle);

/* Lists whose every operation holds a spin lock. */
PLIST_ENTRY ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock);
PLIST_ENTRY ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock);
PLIST_ENTRY ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock);

/* ---- timers and time (kernel-facts 13.2) ----
 * Times are in 100 ns units.  A negative DueTime is relative to now; a
 * positive one is an absolute system time, and system time 0 is the
 * moment the machine starts (iosim's machines boot on 1 January 1601). */
typedef enum { NotificationTimer, SynchronizationTimer } TIMER_TYPE;
typedef struct KTIMER {
  DISPATCHER_HEADER Header; /* signalled when it expires */
  ULARGE_INTEGER DueTime;   /* absolute system time of the next expiry */
  LIST_ENTRY TimerListEntry;
  PKDPC Dpc;
  ULONG Processor;          /* the CPU whose timer table holds it */
  LONG Period;              /* milliseconds; 0 = fires once */
  BOOLEAN SimInserted;      /* set and not yet expired (or periodic) */
  BOOLEAN SimDue;           /* expired, waiting for its CPU's expiration pass */
} KTIMER, *PKTIMER, *PRKTIMER;
void KeInitializeTimer(PKTIMER Timer);
void KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type);
/* TRUE when the timer was already set (it is set again from now). */
BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc);
BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc);
/* TRUE when the timer was set; a DPC it already queued stays queued. */
BOOLEAN KeCancelTimer(PKTIMER Timer);
BOOLEAN KeReadStateTimer(PKTIMER Timer);
void KeQuerySystemTime(PLARGE_INTEGER CurrentTime);
ULONGLONG KeQueryInterruptTime(void);
/* Clock ticks since the start: one every KeQueryTimeIncrement() units. */
void KeQueryTickCount(PLARGE_INTEGER TickCount);
ULONG KeQueryTimeIncrement(void);
/* A busy wait: the CPU spends the time (no other thread runs on it). */
void KeStallExecutionProcessor(ULONG MicroSeconds);

/* ---- semaphores and mutexes (kernel-facts 13.3) ---- */
typedef struct KSEMAPHORE {
  DISPATCHER_HEADER Header; /* SignalState: the count */
  LONG Limit;
} KSEMAPHORE, *PKSEMAPHORE, *PRKSEMAPHORE;
void KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit);
/* Adds Adjustment to the count, releasing that many waiters; returns the
   previous count.  Beyond the limit Windows raises
   STATUS_SEMAPHORE_LIMIT_EXCEEDED, which no driver handles: a stop. */
LONG KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment, BOOLEAN Wait);
LONG KeReadStateSemaphore(PRKSEMAPHORE Semaphore);

/* A kernel mutex: owned by a thread, recursively; while a thread owns one
   its normal kernel APCs are held back, as in a critical region. */
typedef struct KMUTANT {
  DISPATCHER_HEADER Header; /* SignalState: 1 free, 0 owned once, -n owned n+1 times */
  LIST_ENTRY MutantListEntry; /* on its owner's list */
  PKTHREAD OwnerThread;
  BOOLEAN Abandoned;
  UCHAR ApcDisable;         /* 1 for a KMUTEX */
} KMUTANT, *PKMUTANT, *PRKMUTANT, KMUTEX, *PKMUTEX, *PRKMUTEX;
void KeInitializeMutex(PRKMUTEX Mutex, ULONG Level);
/* Returns the previous state.  Releasing a mutex the thread does not own
   raises STATUS_MUTANT_NOT_OWNED: a stop. */
LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait);
LONG KeReadStateMutex(PRKMUTEX Mutex);
#define KeWaitForMutexObject KeWaitForSingleObject

/* A fast mutex: not recursive, held at APC_LEVEL. */
typedef struct FAST_MUTEX {
  LONG Count;         /* 1 free, 0 owned, -n owned with n waiters */
  PKTHREAD Owner;
  ULONG Contention;   /* how many acquisitions had to wait */
  KEVENT Event;       /* the waiters' gate (synchronization) */
  ULONG OldIrql;
} FAST_MUTEX, *PFAST_MUTEX;
void ExInitializeFastMutex(PFAST_MUTEX FastMutex);
void ExAcquireFastMutex(PFAST_MUTEX FastMutex);
void ExReleaseFastMutex(PFAST_MUTEX FastMutex);
BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex);
/* The same without the IRQL change: the caller is already at APC_LEVEL
   (or in a critical or guarded region). */
void ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex);
void ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex);

/* ---- system threads, handles and object references (kernel-facts 13.4) ---- */
typedef struct OBJECT_TYPE OBJECT_TYPE, *POBJECT_TYPE;
/* The thread object type, for ObReferenceObjectByHandle(..., *PsThreadType, ...):
   an identity, never written. */
extern POBJECT_TYPE *const PsThreadType;
typedef struct OBJECT_ATTRIBUTES {
  ULONG Length;
  HANDLE RootDirectory;
  PUNICODE_STRING ObjectName;
  ULONG Attributes;
  PVOID SecurityDescriptor;
  PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;
#define OBJ_KERNEL_HANDLE 0x00000200L
#define InitializeObjectAttributes(p, n, a, r, s)     \
  do {                                                \
    (p)->Length = sizeof(OBJECT_ATTRIBUTES);          \
    (p)->RootDirectory = (r);                         \
    (p)->Attributes = (a);                            \
    (p)->ObjectName = (n);                            \
    (p)->SecurityDescriptor = (s);                    \
    (p)->SecurityQualityOfService = NULL;             \
  } while (0)
typedef struct CLIENT_ID {
  HANDLE UniqueProcess;
  HANDLE UniqueThread;
} CLIENT_ID, *PCLIENT_ID;
typedef struct OBJECT_HANDLE_INFORMATION {
  ULONG HandleAttributes;
  ACCESS_MASK GrantedAccess;
} OBJECT_HANDLE_INFORMATION, *POBJECT_HANDLE_INFORMATION;
#define SYNCHRONIZE 0x00100000L
#define THREAD_ALL_ACCESS 0x001FFFFFL
#define NtCurrentThread() ((HANDLE)(LONG_PTR)-2)
#define ZwCurrentThread() NtCurrentThread()
typedef void KSTART_ROUTINE(PVOID StartContext);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;
/* A thread of the system process running StartRoutine(StartContext) in
   kernel mode, at PASSIVE_LEVEL.  Its handle (a kernel handle) goes to
   *ThreadHandle; close it with ZwClose. */
NTSTATUS PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                              HANDLE ProcessHandle, PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine,
                              PVOID StartContext);
/* Ends the calling system thread (does not return); STATUS_INVALID_PARAMETER
   from any other thread. */
NTSTATUS PsTerminateSystemThread(NTSTATUS ExitStatus);
PETHREAD PsGetCurrentThread(void);
HANDLE PsGetCurrentThreadId(void);
BOOLEAN PsIsSystemThread(PETHREAD Thread);
NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                   KPROCESSOR_MODE AccessMode, PVOID *Object,
                                   POBJECT_HANDLE_INFORMATION HandleInformation);
NTSTATUS ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                    KPROCESSOR_MODE AccessMode);
LONG_PTR ObfReferenceObject(PVOID Object);
LONG_PTR ObfDereferenceObject(PVOID Object);
#define ObReferenceObject(Object) ObfReferenceObject(Object)
#define ObDereferenceObject(Object) ObfDereferenceObject(Object)
NTSTATUS ZwClose(HANDLE Handle);
NTSTATUS ObCloseHandle(HANDLE Handle, KPROCESSOR_MODE PreviousMode);
/* Recorded and returned by KeQueryPriorityThread; iosim schedules without
   priorities, so the value changes nothing else. */
#define LOW_PRIORITY 0
#define LOW_REALTIME_PRIORITY 16
#define HIGH_PRIORITY 31
#define MAXIMUM_PRIORITY 32
KPRIORITY KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority);
KPRIORITY KeQueryPriorityThread(PKTHREAD Thread);

/* ---- work items (kernel-facts 13.5) ----
 * The routine runs at PASSIVE_LEVEL in one of the system's worker
 * threads; the device object is referenced while the item is queued. */
typedef struct IO_WORKITEM IO_WORKITEM, *PIO_WORKITEM;
typedef void IO_WORKITEM_ROUTINE(PDEVICE_OBJECT DeviceObject, PVOID Context);
typedef IO_WORKITEM_ROUTINE *PIO_WORKITEM_ROUTINE;
typedef void IO_WORKITEM_ROUTINE_EX(PVOID IoObject, PVOID Context, PIO_WORKITEM IoWorkItem);
typedef IO_WORKITEM_ROUTINE_EX *PIO_WORKITEM_ROUTINE_EX;
typedef enum {
  CriticalWorkQueue,
  DelayedWorkQueue,
  HyperCriticalWorkQueue,
  NormalWorkQueue,
  BackgroundWorkQueue,
  RealTimeWorkQueue,
  SuperCriticalWorkQueue,
  MaximumWorkQueue
} WORK_QUEUE_TYPE;
PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject);
void IoFreeWorkItem(PIO_WORKITEM IoWorkItem);
void IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                     PVOID Context);
void IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine,
                       WORK_QUEUE_TYPE QueueType, PVOID Context);
/* A work item inside the driver's own memory (IoSizeofWorkItem bytes). */
ULONG IoSizeofWorkItem(void);
void IoInitializeWorkItem(PVOID IoObject, PIO_WORKITEM IoWorkItem);
void IoUninitializeWorkItem(PIO_WORKITEM IoWorkItem);

/* ---- cancel-safe IRP queues (kernel-facts 8.4, 13.6) ---- */
typedef struct IO_CSQ IO_CSQ, *PIO_CSQ;
#define IO_TYPE_CSQ_IRP_CONTEXT 1
#define IO_TYPE_CSQ 2
#define IO_TYPE_CSQ_EX 3
typedef struct IO_CSQ_IRP_CONTEXT {
  ULONG Type;
  PIRP Irp;    /* NULL once the IRP has left the queue */
  PIO_CSQ Csq;
} IO_CSQ_IRP_CONTEXT, *PIO_CSQ_IRP_CONTEXT;
typedef void IO_CSQ_INSERT_IRP(PIO_CSQ Csq, PIRP Irp);
typedef IO_CSQ_INSERT_IRP *PIO_CSQ_INSERT_IRP;
typedef NTSTATUS IO_CSQ_INSERT_IRP_EX(PIO_CSQ Csq, PIRP Irp, PVOID InsertContext);
typedef IO_CSQ_INSERT_IRP_EX *PIO_CSQ_INSERT_IRP_EX;
typedef void IO_CSQ_REMOVE_IRP(PIO_CSQ Csq, PIRP Irp);
typedef IO_CSQ_REMOVE_IRP *PIO_CSQ_REMOVE_IRP;
typedef PIRP IO_CSQ_PEEK_NEXT_IRP(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext);
typedef IO_CSQ_PEEK_NEXT_IRP *PIO_CSQ_PEEK_NEXT_IRP;
typedef void IO_CSQ_ACQUIRE_LOCK(PIO_CSQ Csq, PKIRQL Irql);
typedef IO_CSQ_ACQUIRE_LOCK *PIO_CSQ_ACQUIRE_LOCK;
typedef void IO_CSQ_RELEASE_LOCK(PIO_CSQ Csq, KIRQL Irql);
typedef IO_CSQ_RELEASE_LOCK *PIO_CSQ_RELEASE_LOCK;
typedef void IO_CSQ_COMPLETE_CANCELED_IRP(PIO_CSQ Csq, PIRP Irp);
typedef IO_CSQ_COMPLETE_CANCELED_IRP *PIO_CSQ_COMPLETE_CANCELED_IRP;
struct IO_CSQ {
  ULONG Type;                       /* IO_TYPE_CSQ or IO_TYPE_CSQ_EX */
  PIO_CSQ_INSERT_IRP CsqInsertIrp;  /* the Ex callback when IO_TYPE_CSQ_EX */
  PIO_CSQ_REMOVE_IRP CsqRemoveIrp;
  PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp;
  PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock;
  PIO_CSQ_RELEASE_LOCK CsqReleaseLock;
  PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp;
  PVOID ReservePointer;
};
NTSTATUS IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                         PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                         PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                         PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp);
NTSTATUS IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                           PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                           PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                           PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp);
void IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context);
NTSTATUS IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext);
PIRP IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context);
PIRP IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext);

/* ---- remove locks (kernel-facts 13.7) ---- */
typedef struct IO_REMOVE_LOCK_COMMON_BLOCK {
  BOOLEAN Removed;
  BOOLEAN Reserved[3];
  LONG IoCount;       /* 1 + the acquisitions outstanding */
  KEVENT RemoveEvent; /* set when the count reaches 0 after the remove */
} IO_REMOVE_LOCK_COMMON_BLOCK;
typedef struct IO_REMOVE_LOCK {
  IO_REMOVE_LOCK_COMMON_BLOCK Common;
} IO_REMOVE_LOCK, *PIO_REMOVE_LOCK;
void IoInitializeRemoveLockEx(PIO_REMOVE_LOCK Lock, ULONG AllocateTag, ULONG MaxLockedMinutes,
                              ULONG HighWatermark, ULONG RemlockSize);
/* STATUS_SUCCESS, or STATUS_DELETE_PENDING once the remove has begun. */
NTSTATUS IoAcquireRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, PCSTR File, ULONG Line, ULONG RemlockSize);
void IoReleaseRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize);
/* Releases the caller's acquisition and waits until every other one is
   released (PASSIVE_LEVEL); later acquisitions fail. */
void IoReleaseRemoveLockAndWaitEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize);
#define IoInitializeRemoveLock(Lock, AllocateTag, MaxLockedMinutes, HighWatermark) \
  IoInitializeRemoveLockEx(Lock, AllocateTag, MaxLockedMinutes, HighWatermark, sizeof(IO_REMOVE_LOCK))
#define IoAcquireRemoveLock(RemoveLock, Tag) \
  IoAcquireRemoveLockEx(RemoveLock, Tag, __FILE__, __LINE__, sizeof(IO_REMOVE_LOCK))
#define IoReleaseRemoveLock(RemoveLock, Tag) IoReleaseRemoveLockEx(RemoveLock, Tag, sizeof(IO_REMOVE_LOCK))
#define IoReleaseRemoveLockAndWait(RemoveLock, Tag) \
  IoReleaseRemoveLockAndWaitEx(RemoveLock, Tag, sizeof(IO_REMOVE_LOCK))

/* ---- pool (kernel-facts 13.8) ----
 * Every block is accounted to its tag; what is still allocated at the end
 * of a run is reported per tag (sim_pool_outstanding).  Misuse stops the
 * machine with BAD_POOL_CALLER (0xC2). */
typedef enum {
  NonPagedPool,
  NonPagedPoolExecute = NonPagedPool,
  PagedPool,
  NonPagedPoolMustSucceed = NonPagedPool + 2,
  DontUseThisType,
  NonPagedPoolCacheAligned = NonPagedPool + 4,
  PagedPoolCacheAligned,
  NonPagedPoolCacheAlignedMustS = NonPagedPool + 6,
  MaxPoolType,
  NonPagedPoolNx = 512,
  NonPagedPoolNxCacheAligned = NonPagedPoolNx + 4
} POOL_TYPE;
#define POOL_QUOTA_FAIL_INSTEAD_OF_RAISE 8
typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL
PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
PVOID ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
/* Obsolete: tagged 'None'. */
PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
void ExFreePoolWithTag(PVOID P, ULONG Tag);
void ExFreePool(PVOID P);

/* ---- the small helpers of wdm.h (kernel-facts 13.9) ---- */
static inline PLIST_ENTRY RemoveTailList(PLIST_ENTRY Head) {
  PLIST_ENTRY e = Head->Blink;
  RemoveEntryList(e);
  return e;
}
typedef struct SINGLE_LIST_ENTRY {
  struct SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;
static inline void PushEntryList(PSINGLE_LIST_ENTRY ListHead, PSINGLE_LIST_ENTRY Entry) {
  Entry->Next = ListHead->Next;
  ListHead->Next = Entry;
}
static inline PSINGLE_LIST_ENTRY PopEntryList(PSINGLE_LIST_ENTRY ListHead) {
  PSINGLE_LIST_ENTRY e = ListHead->Next;
  if (e) ListHead->Next = e->Next;
  return e;
}

/* Interlocked operations: one indivisible step each, as the processor's
   locked instructions are (no trace row: they are not kernel calls). */
static inline LONG InterlockedIncrement(LONG volatile *Addend) {
  return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedDecrement(LONG volatile *Addend) {
  return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedExchange(LONG volatile *Target, LONG Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
/* Returns the initial value; stores Exchange only if it equalled Comperand. */
static inline LONG InterlockedCompareExchange(LONG volatile *Destination, LONG Exchange, LONG Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return Comperand;
}
/* Returns the new value (InterlockedExchangeAdd returns the old one). */
static inline LONG InterlockedAdd(LONG volatile *Addend, LONG Value) {
  return __atomic_add_fetch(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedExchangeAdd(LONG volatile *Addend, LONG Value) {
  return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedOr(LONG volatile *Destination, LONG Value) {
  return __atomic_fetch_or(Destination, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedAnd(LONG volatile *Destination, LONG Value) {
  return __atomic_fetch_and(Destination, Value, __ATOMIC_SEQ_CST);
}
static inline LONGLONG InterlockedIncrement64(LONGLONG volatile *Addend) {
  return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONGLONG InterlockedDecrement64(LONGLONG volatile *Addend) {
  return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline PVOID InterlockedExchangePointer(PVOID volatile *Target, PVOID Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline PVOID InterlockedCompareExchangePointer(PVOID volatile *Destination, PVOID Exchange,
                                                      PVOID Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return Comperand;
}

#define RtlCopyMemory(Destination, Source, Length) memcpy((Destination), (Source), (Length))
#define RtlMoveMemory(Destination, Source, Length) memmove((Destination), (Source), (Length))
#define RtlFillMemory(Destination, Length, Fill) memset((Destination), (Fill), (Length))
#define RtlZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlSecureZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlEqualMemory(Destination, Source, Length) (!memcmp((Destination), (Source), (Length)))
/* The number of leading bytes that match. */
SIZE_T RtlCompareMemory(const void *Source1, const void *Source2, SIZE_T Length);

/* Debug output: a driver's own line in the trace (kind `dbgprint`).  iosim
   builds drivers as checked (DBG) builds, so KdPrint and ASSERT are live;
   DbgPrintEx shows every level (no Kd_*_Mask filtering). */
#ifndef DBG
#define DBG 1
#endif
#define DPFLTR_IHVDRIVER_ID 77
#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL 2
#define DPFLTR_INFO_LEVEL 3
/* The format is C's plus Windows' %wZ (PUNICODE_STRING), %ws / %S (16-bit
   string) and I64 / I prefixes.  GCC checks formats as printf's unless the
   driver-facing headers (include/wdk) are used: they turn the check off,
   since it rejects %wZ. */
#ifdef IOSIM_WDK_FORMATS
#define IOSIM_DBG_FORMAT(f, a)
#else
#define IOSIM_DBG_FORMAT(f, a) __attribute__((format(printf, f, a)))
#endif
ULONG DbgPrint(PCSTR Format, ...) IOSIM_DBG_FORMAT(1, 2);
ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) IOSIM_DBG_FORMAT(3, 4);
/* With no kernel debugger attached, a breakpoint is an exception nobody
   handles: KMODE_EXCEPTION_NOT_HANDLED (0x1E) with STATUS_BREAKPOINT. */
void DbgBreakPoint(void);
/* A failed ASSERT: prints the assertion as Windows does, then breaks. */
void RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber, PSTR MutableMessage);
#if DBG
#define KdPrint(_x_) DbgPrint _x_
#define KdPrintEx(_x_) DbgPrintEx _x_
/* A statement expression rather than Windows' ?: with a comma expression,
   so that an ASSERT used as a statement draws no "value unused" warning
   from GCC; its value is the same (TRUE when it holds). */
#define ASSERT(exp)                                                   \
  __extension__({                                                     \
    BOOLEAN iosim_ok_ = !!(exp);                                      \
    if (!iosim_ok_) RtlAssert((PVOID) #exp, (PVOID)__FILE__, __LINE__, NULL); \
    iosim_ok_;                                                        \
  })
#define ASSERTMSG(msg, exp)                                                  \
  __extension__({                                                            \
    BOOLEAN iosim_ok_ = !!(exp);                                             \
    if (!iosim_ok_) RtlAssert((PVOID) #exp, (PVOID)__FILE__, __LINE__, (PSTR)(msg)); \
    iosim_ok_;                                                               \
  })
#define NT_ASSERT(exp) ASSERT(exp)
/* Pageable code must not run above APC_LEVEL (a page fault there is
   fatal); checked builds assert it. */
#define PAGED_CODE()                                                               \
  do {                                                                             \
    if (KeGetCurrentIrql() > APC_LEVEL) {                                          \
      KdPrint(("EX: Pageable code called at IRQL %d\n", (int)KeGetCurrentIrql())); \
      ASSERT(KeGetCurrentIrql() <= APC_LEVEL);                                     \
    }                                                                              \
  } while (0)
#else
#define KdPrint(_x_)
#define KdPrintEx(_x_)
#define ASSERT(exp) ((void)0)
#define ASSERTMSG(msg, exp) ((void)0)
#define NT_ASSERT(exp) ((void)0)
#define PAGED_CODE()
#endif


/* ---- device queues and StartIo (ke/devqueue.c, io/startio.c; kernel-facts 13.11) ----
 * The device queue routines run at DISPATCH_LEVEL (KeRemoveEntryDeviceQueue
 * at any IRQL up to it) and take the queue's spin lock, so another CPU
 * that wants the queue spins (visible in the trace). */
void KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue);
/* FALSE: the queue was idle, the entry is not queued and the queue is now
   busy (the caller starts the packet); TRUE: queued at the tail. */
BOOLEAN KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry);
/* The same, queued in ascending SortKey order (after the entries with an
   equal key). */
BOOLEAN KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry,
                                 ULONG SortKey);
/* The first entry, or NULL when the queue is empty (it becomes idle).
   The queue must be busy. */
PKDEVICE_QUEUE_ENTRY KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue);
/* The first entry whose key is >= SortKey, else the first one. */
PKDEVICE_QUEUE_ENTRY KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, ULONG SortKey);
/* Takes a given entry out; FALSE if it was not queued. */
BOOLEAN KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry);

/* IoStartPacket: at DISPATCH_LEVEL, the IRP goes to StartIo at once if the
   device is idle (it becomes DeviceObject->CurrentIrp), else into the
   device queue (by *Key if given).  With CancelFunction, the cancel
   routine is set under the cancel spin lock; a packet cancelled before it
   was queued has that routine called at once. */
void IoStartPacket(PDEVICE_OBJECT DeviceObject, PIRP Irp, PULONG Key, PDRIVER_CANCEL CancelFunction);
/* The driver is done with CurrentIrp: the next queued packet goes to
   StartIo (Cancelable: under the cancel spin lock), or the device goes
   idle.  Called from StartIo or a DPC, at DISPATCH_LEVEL. */
void IoStartNextPacket(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable);
void IoStartNextPacketByKey(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable, ULONG Key);
/* Windows XP+: DeferredStartIo makes IoStartNextPacket called from inside
   StartIo start the next packet only once that StartIo has returned (no
   recursion); NonCancelable has IoStartPacket / IoStartNextPacket clear
   the cancel routine before StartIo runs. */
void IoSetStartIoAttributes(PDEVICE_OBJECT DeviceObject, BOOLEAN DeferredStartIo, BOOLEAN NonCancelable);

/* ---- IRP builders (io/iobuild.c, kernel-facts 14.5) ----
 * IRPs a driver builds for a lower device, with their first stack
 * location (the next one) filled in and the buffer described by the
 * target's DO_BUFFERED_IO / DO_DIRECT_IO flags (read, write) or by the
 * control code's method.  The synchronous and device-control builders
 * make threaded IRPs: queued to the calling thread, which the I/O manager
 * completes (stage 2 writes *IoStatusBlock and sets Event, then frees the
 * IRP); so they are called at PASSIVE_LEVEL.  An asynchronous FSD request
 * is not on the thread's list: its completion routine frees it
 * (IoFreeIrp, STATUS_MORE_PROCESSING_REQUIRED). */
PIRP IoBuildAsynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer, ULONG Length,
                                   PLARGE_INTEGER StartingOffset, PIO_STATUS_BLOCK IoStatusBlock);
PIRP IoBuildSynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer, ULONG Length,
                                  PLARGE_INTEGER StartingOffset, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock);
PIRP IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject, PVOID InputBuffer,
                                   ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                   BOOLEAN InternalDeviceIoControl, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock);
/* Sets an IRP of IoAllocateIrp up for another use: as new, with
   IoStatus.Status = Iostatus (its allocation is kept). */
void IoReuseIrp(PIRP Irp, NTSTATUS Iostatus);
/* Sends the IRP down (its current location copied to the next) and waits
   at PASSIVE_LEVEL until the lower drivers have completed it; the IRP is
   the caller's again, to complete.  FALSE when it has no next location. */
BOOLEAN IoForwardIrpSynchronously(PDEVICE_OBJECT DeviceObject, PIRP Irp);
#define IoForwardAndCatchIrp IoForwardIrpSynchronously
/* IoSetCompletionRoutine whose routine stays callable while the driver
   may be unloaded (Windows holds a reference on DeviceObject until it has
   run; iosim unloads only at the end, so this is the same call). */
NTSTATUS IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                  PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                  BOOLEAN InvokeOnCancel);
/* The first device of the stack DeviceObject belongs to. */
PDEVICE_OBJECT IoGetAttachedDeviceReference(PDEVICE_OBJECT DeviceObject);
PDEVICE_OBJECT IoGetAttachedDevice(PDEVICE_OBJECT DeviceObject);

/* ---- user buffers (kernel-facts 14) ----
 * Windows raises STATUS_ACCESS_VIOLATION for an address outside user
 * space and STATUS_DATATYPE_MISALIGNMENT for a misaligned one, for the
 * driver's __except to catch.  A simulated program's buffers are always
 * valid and iosim raises no exceptions: the probes check the IRQL and the
 * alignment argument (a power of two up to 16; else a stop, as Windows'
 * checked build asserts) and nothing else. */
void ProbeForRead(const volatile void *Address, SIZE_T Length, ULONG Alignment);
void ProbeForWrite(volatile void *Address, SIZE_T Length, ULONG Alignment);

/* ---- event objects by handle ---- */
/* The event object type, for ObReferenceObjectByHandle(..., *ExEventObjectType, ...). */
extern POBJECT_TYPE *const ExEventObjectType;
#define EVENT_QUERY_STATE 0x0001
#define EVENT_MODIFY_STATE 0x0002
#define EVENT_ALL_ACCESS 0x001F0003
/* A kernel handle to a new event object (what a program's CreateEvent
   gets it): the object lives until the machine goes. */
NTSTATUS ZwCreateEvent(PHANDLE EventHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                       EVENT_TYPE EventType, BOOLEAN InitialState);

#endif
