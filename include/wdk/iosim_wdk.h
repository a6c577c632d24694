/*
 * iosim_wdk.h - what the WDK's headers give a driver beyond the engine's
 * own declarations (<iosim/wdm.h>): SAL annotations and the old
 * IN/OUT/OPTIONAL markers (all no-ops, as they are for the compiler on
 * Windows too: only the code analyzer reads them), calling conventions,
 * CTL_CODE and its fields, the routine typedefs drivers declare their
 * routines with, structured exception handling for GCC, and the small
 * helpers samples use.  Included by every header of this folder; a driver
 * never includes it itself.
 */
#ifndef IOSIM_WDK_H
#define IOSIM_WDK_H

/* DbgPrint's formats are Windows' (%wZ): not checked as printf's. */
#define IOSIM_WDK_FORMATS 1
#include <iosim/wdm.h>

#include <stdarg.h>
#include <string.h>

/* ---- calling conventions and markers ---- */
#define NTAPI
#define NTSYSAPI
#define NTSYSCALLAPI
#define NTKERNELAPI
#define NTHALAPI
#define FASTCALL
#define DECLSPEC_IMPORT
#define DECLSPEC_NOINLINE __attribute__((noinline))
#define FORCEINLINE static inline
#define __inline inline
#define __forceinline inline
#define __drv_dispatchType(x)
#define __drv_maxIRQL(x)
#define IN
#define OUT
#define OPTIONAL
#define CONST const
#define VOID void
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))
#define ARGUMENT_PRESENT(p) ((p) != NULL)
#define C_ASSERT(e) _Static_assert(e, #e)
#define FIELD_OFFSET(T, f) ((LONG)offsetof(T, f))
#define RTL_NUMBER_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ARRAYSIZE(a) RTL_NUMBER_OF(a)
#define max(a, b) (((a) > (b)) ? (a) : (b))
#define min(a, b) (((a) < (b)) ? (a) : (b))
/* Code sections (#pragma alloc_text(PAGE, ...)) mean nothing to GCC, which
   ignores unknown pragmas with -Wno-unknown-pragmas (iosim cc passes it). */

/* ---- SAL: every annotation is a no-op ---- */
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _In_reads_(n)
#define _In_reads_opt_(n)
#define _In_reads_bytes_(n)
#define _In_reads_bytes_opt_(n)
#define _Out_
#define _Out_opt_
#define _Out_writes_(n)
#define _Out_writes_opt_(n)
#define _Out_writes_bytes_(n)
#define _Out_writes_bytes_opt_(n)
#define _Out_writes_bytes_to_(n, m)
#define _Inout_
#define _Inout_opt_
#define _Inout_updates_(n)
#define _Inout_updates_bytes_(n)
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_result_buffer_(n)
#define _Deref_out_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Success_(x)
#define _Check_return_
#define _Must_inspect_result_
#define _Use_decl_annotations_
#define _Dispatch_type_(x)
#define _Function_class_(x)
#define _IRQL_requires_(x)
#define _IRQL_requires_max_(x)
#define _IRQL_requires_min_(x)
#define _IRQL_requires_same_
#define _IRQL_raises_(x)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_saves_global_(k, p)
#define _IRQL_restores_global_(k, p)
#define _IRQL_always_function_max_(x)
#define _IRQL_always_function_min_(x)
#define _IRQL_uses_cancel_
#define _IRQL_is_cancel_
#define _Requires_lock_held_(x)
#define _Requires_lock_not_held_(x)
#define _Acquires_lock_(x)
#define _Releases_lock_(x)
#define _Acquires_exclusive_lock_(x)
#define _Releases_exclusive_lock_(x)
#define _Guarded_by_(x)
#define _Interlocked_
#define _At_(a, b)
#define _At_buffer_(a, i, n, b)
#define _When_(a, b)
#define _Pre_
#define _Post_
#define _Pre_satisfies_(x)
#define _Post_satisfies_(x)
#define _Pre_notnull_
#define _Post_invalid_
#define _Post_ptr_invalid_
#define _Notnull_
#define _Maybenull_
#define _Null_terminated_
#define _Field_size_(n)
#define _Field_size_bytes_(n)
#define _Field_size_opt_(n)
#define _Struct_size_bytes_(n)
#define _Reserved_
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Kernel_requires_resource_held_(x)
#define _Kernel_clear_do_init_(x)
#define _Analysis_assume_(x)
#define _Analysis_assume_lock_held_(x)
#define _Printf_format_string_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Post_writable_byte_size_(n)
#define _Writable_bytes_(n)
#define _Readable_bytes_(n)
#define _Literal_
#define _Strict_type_match_
#define _Points_to_data_
#define _Unreferenced_parameter_
#define __drv_aliasesMem
#define __drv_allocatesMem(k)
#define __drv_freesMem(k)
#define __drv_when(a, b)
#define __drv_requiresIRQL(x)
#define __drv_setsIRQL(x)
#define __drv_savesIRQL
#define __drv_restoresIRQL
#define __drv_strictTypeMatch(x)
#define __drv_reportError(x)
#define __drv_functionClass(x)
#define __in
#define __out
#define __inout
#define __in_opt
#define __out_opt
#define __inout_opt
#define __deref_out

/* ---- structured exception handling ----
 * GCC has no __try.  iosim raises no access violations (a driver that
 * touches a bad pointer crashes the process, as it would crash Windows
 * without a handler), so the guarded body always runs to its end and a
 * handler never runs; __finally blocks run after the body.  __leave leaves
 * the guarded body (a break of the one-pass loop the body is in: a break
 * or continue meant for an enclosing loop must not be written inside it). */
#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)
#define __try if (1) for (int iosim_try_once_ = 1; iosim_try_once_; iosim_try_once_ = 0)
#define __except(filter) else if (0)
#define __finally if (1)
#define __leave break
#define try __try
#define except __except
#define finally __finally
#define leave __leave
#define GetExceptionCode() ((NTSTATUS)STATUS_SUCCESS)
#define GetExceptionInformation() ((PVOID)NULL)
#define AbnormalTermination() FALSE

/* ---- I/O control codes (devioctl.h); CTL_CODE, METHOD_* and
   METHOD_FROM_CTL_CODE come with the engine's declarations (iosim/wdm.h),
   which the I/O manager's buffering needs too ---- */
#define DEVICE_TYPE_FROM_CTL_CODE(c) (((ULONG)(c)&0xffff0000) >> 16)
#define METHOD_DIRECT_TO_HARDWARE METHOD_IN_DIRECT
#define METHOD_DIRECT_FROM_HARDWARE METHOD_OUT_DIRECT
#define FILE_ANY_ACCESS 0
#define FILE_SPECIAL_ACCESS FILE_ANY_ACCESS
#define FILE_READ_ACCESS 0x0001
#define FILE_WRITE_ACCESS 0x0002
#define FILE_READ_DATA 0x0001
#define FILE_WRITE_DATA 0x0002

/* ---- the routine types drivers declare their routines with ---- */
typedef DRIVER_CANCEL *PDRIVER_CANCEL_ROUTINE;
typedef KDEFERRED_ROUTINE *PKDEFERRED_ROUTINE;
typedef IO_DPC_ROUTINE *PIO_DPC_ROUTINE;
typedef BOOLEAN KSERVICE_ROUTINE(PVOID Interrupt, PVOID ServiceContext);
typedef KSERVICE_ROUTINE *PKSERVICE_ROUTINE;
typedef void *PSECURITY_DESCRIPTOR;
typedef struct GUID {
  ULONG Data1;
  USHORT Data2;
  USHORT Data3;
  UCHAR Data4[8];
} GUID, *PGUID, *LPGUID;
typedef const GUID *LPCGUID;
#ifndef DEFINE_GUID
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) extern const GUID name
#endif

/* ---- small helpers of wdm.h / ntddk.h ---- */
#define RtlCopyBytes RtlCopyMemory
#define RtlZeroBytes RtlZeroMemory
#define RtlFillBytes RtlFillMemory
#define RtlMoveBytes RtlMoveMemory
#define DECLARE_CONST_UNICODE_STRING(n, s) const UNICODE_STRING n = {sizeof(s) - sizeof(WCHAR), sizeof(s), (PWSTR)(s)}
#define DECLARE_UNICODE_STRING_SIZE(n, z) \
  WCHAR n##_buffer[z];                    \
  UNICODE_STRING n = {0, (USHORT)((z) * sizeof(WCHAR)), n##_buffer}
#define RTL_CONSTANT_STRING(s) {sizeof(s) - sizeof((s)[0]), sizeof(s), (PWSTR)(s)}
typedef uint8_t *PUCHAR;
typedef uint8_t BYTE, *PBYTE;
typedef BOOLEAN *PBOOLEAN;
typedef char CCHAR;
typedef int16_t SHORT;
typedef int INT;
typedef unsigned int UINT;
typedef NTSTATUS *PNTSTATUS;
typedef LONGLONG *PLONGLONG;
typedef ULONGLONG *PULONGLONG;
typedef SIZE_T *PSIZE_T;
typedef ULONG_PTR *PULONG_PTR;
typedef PVOID *PPVOID;
typedef ULONG LOGICAL;
#define Int32x32To64(a, b) ((LONGLONG)(LONG)(a) * (LONGLONG)(LONG)(b))
#define UInt32x32To64(a, b) ((ULONGLONG)(ULONG)(a) * (ULONGLONG)(ULONG)(b))

/* Zeroed pool charged to the process's quota (iosim charges no quota:
   the block is accounted to its tag like any other). */
static inline PVOID ExAllocatePoolQuotaZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  PVOID p = ExAllocatePoolWithQuotaTag((POOL_TYPE)(PoolType | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), NumberOfBytes, Tag);
  if (p) memset(p, 0, NumberOfBytes);
  return p;
}
/* ExInitializeDriverRuntime(DrvRtPoolNxOptIn) makes a driver's
   NonPagedPool requests non-executable; iosim's pool has no executable
   kind, so there is nothing to change. */
#define DrvRtPoolNxOptIn 0x00000001
static inline void ExInitializeDriverRuntime(ULONG RuntimeFlags) { (void)RuntimeFlags; }

/* Drivers pass the address of their own typed pointer (&ThreadObject, a
   PKTHREAD *) where the prototype says PVOID *: MSVC's C compiler takes it
   quietly, GCC warns (incompatible pointer types).  The macro converts it
   as MSVC does; the routine is the engine's. */
#define ObReferenceObjectByHandle(Handle, DesiredAccess, ObjectType, AccessMode, Object, HandleInformation) \
  (ObReferenceObjectByHandle)((Handle), (DesiredAccess), (ObjectType), (AccessMode), (PVOID *)(Object),     \
                              (HandleInformation))

#define ANSI_NULL ((CHAR)0)
#define UNICODE_NULL ((WCHAR)0)

#endif
