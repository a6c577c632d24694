/*
 * ramdisk.c - a RAM disk written as a WDM driver is written for Windows,
 * for iosim's lesson 26 (a C driver under a scripted filter).
 *
 * DriverEntry makes \Device\RamDisk0 (direct I/O: reads and writes come
 * with an MDL of the caller's buffer), 64 KiB of nonpaged pool holding the
 * disk, and a timer with a DPC.  A read or write is checked, marked
 * pending and queued; the timer stands for the disk's seek: when it
 * expires, its DPC moves the bytes and completes every queued request at
 * DISPATCH_LEVEL.  DriverUnload takes everything down again.
 */
#include <ntddk.h>

#define RAMDISK_BYTES (64 * 1024)
#define RAMDISK_SECTOR 512
#define RAMDISK_TAG 'ksDR'
#define RAMDISK_SEEK_100NS 1000 /* 100 us */

typedef struct _RAMDISK_EXTENSION {
    KSPIN_LOCK Lock;          /* guards Queue */
    LIST_ENTRY Queue;         /* requests waiting for the seek */
    KTIMER SeekTimer;
    KDPC SeekDpc;
    PUCHAR Data;
    ULONG Served;
} RAMDISK_EXTENSION, *PRAMDISK_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD RamDiskUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) _Dispatch_type_(IRP_MJ_CLEANUP)
DRIVER_DISPATCH RamDiskCreateClose;
_Dispatch_type_(IRP_MJ_READ) _Dispatch_type_(IRP_MJ_WRITE)
DRIVER_DISPATCH RamDiskReadWrite;
KDEFERRED_ROUTINE RamDiskSeekDone;

NTSTATUS
DriverEntry(_In_ PDRIVER_OBJECT DriverObject, _In_ PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    PRAMDISK_EXTENSION ext;
    NTSTATUS status;
    static const char label[] = "iosim RAM disk, sector 0";

    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\RamDisk0");
    status = IoCreateDevice(DriverObject, sizeof(RAMDISK_EXTENSION), &name, FILE_DEVICE_DISK, 0, FALSE,
                            &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    ext = device->DeviceExtension;
    ext->Data = ExAllocatePoolWithTag(NonPagedPoolNx, RAMDISK_BYTES, RAMDISK_TAG);
    if (ext->Data == NULL) {
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    RtlZeroMemory(ext->Data, RAMDISK_BYTES);
    RtlCopyMemory(ext->Data, label, sizeof(label));
    KeInitializeSpinLock(&ext->Lock);
    InitializeListHead(&ext->Queue);
    KeInitializeTimer(&ext->SeekTimer);
    KeInitializeDpc(&ext->SeekDpc, RamDiskSeekDone, device);

    DriverObject->MajorFunction[IRP_MJ_CREATE] = RamDiskCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = RamDiskCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = RamDiskCreateClose;
    DriverObject->MajorFunction[IRP_MJ_READ] = RamDiskReadWrite;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = RamDiskReadWrite;
    DriverObject->DriverUnload = RamDiskUnload;

    device->Flags |= DO_DIRECT_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    DbgPrint("RamDisk: %wZ ready, %d KiB\n", &name, RAMDISK_BYTES / 1024);
    return STATUS_SUCCESS;
}

NTSTATUS
RamDiskCreateClose(_In_ PDEVICE_OBJECT DeviceObject, _Inout_ PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

NTSTATUS
RamDiskReadWrite(_In_ PDEVICE_OBJECT DeviceObject, _Inout_ PIRP Irp)
{
    PRAMDISK_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    LONGLONG offset;
    ULONG length;
    KIRQL irql;
    LARGE_INTEGER due;

    if (stack->MajorFunction == IRP_MJ_READ) {
        offset = stack->Parameters.Read.ByteOffset.QuadPart;
        length = stack->Parameters.Read.Length;
    } else {
        offset = stack->Parameters.Write.ByteOffset.QuadPart;
        length = stack->Parameters.Write.Length;
    }
    if (offset < 0 || offset % RAMDISK_SECTOR != 0 || length % RAMDISK_SECTOR != 0 ||
        offset + length > RAMDISK_BYTES) {
        Irp->IoStatus.Status = STATUS_INVALID_PARAMETER;
        Irp->IoStatus.Information = 0;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return STATUS_INVALID_PARAMETER;
    }

    /* The disk answers later, from the seek timer's DPC. */
    IoMarkIrpPending(Irp);
    KeAcquireSpinLock(&ext->Lock, &irql);
    InsertTailList(&ext->Queue, &Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->Lock, irql);
    due.QuadPart = -RAMDISK_SEEK_100NS;
    KeSetTimer(&ext->SeekTimer, due, &ext->SeekDpc);
    return STATUS_PENDING;
}

VOID
RamDiskSeekDone(_In_ PKDPC Dpc, _In_opt_ PVOID Context, _In_opt_ PVOID Arg1, _In_opt_ PVOID Arg2)
{
    PDEVICE_OBJECT device = Context;
    PRAMDISK_EXTENSION ext = device->DeviceExtension;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    for (;;) {
        PLIST_ENTRY entry;
        PIRP irp;
        PIO_STACK_LOCATION stack;
        PUCHAR buffer;
        ULONG length;
        LONGLONG offset;

        KeAcquireSpinLockAtDpcLevel(&ext->Lock);
        entry = IsListEmpty(&ext->Queue) ? NULL : RemoveHeadList(&ext->Queue);
        KeReleaseSpinLockFromDpcLevel(&ext->Lock);
        if (entry == NULL) {
            break;
        }
        irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
        stack = IoGetCurrentIrpStackLocation(irp);
        buffer = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
        if (buffer == NULL) {
            irp->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
            irp->IoStatus.Information = 0;
            IoCompleteRequest(irp, IO_NO_INCREMENT);
            continue;
        }
        if (stack->MajorFunction == IRP_MJ_READ) {
            offset = stack->Parameters.Read.ByteOffset.QuadPart;
            length = stack->Parameters.Read.Length;
            RtlCopyMemory(buffer, ext->Data + offset, length);
        } else {
            offset = stack->Parameters.Write.ByteOffset.QuadPart;
            length = stack->Parameters.Write.Length;
            RtlCopyMemory(ext->Data + offset, buffer, length);
        }
        ext->Served++;
        irp->IoStatus.Status = STATUS_SUCCESS;
        irp->IoStatus.Information = length;
        IoCompleteRequest(irp, IO_DISK_INCREMENT);
    }
}

VOID
RamDiskUnload(_In_ PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PRAMDISK_EXTENSION ext = device->DeviceExtension;

    KeCancelTimer(&ext->SeekTimer);
    DbgPrint("RamDisk: unloading after %lu requests\n", ext->Served);
    ExFreePoolWithTag(ext->Data, RAMDISK_TAG);
    IoDeleteDevice(device);
}
