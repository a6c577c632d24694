/*
 * drvctl.h - the control codes and shared structures of the test drivers
 * in this folder (bufioctl.c, csqread.c, notify.c, fwdfilter.c,
 * startio.c), as a sample's public header defines them for the driver and
 * its application.
 */
#ifndef DRVCTL_H
#define DRVCTL_H
#ifndef CTL_CODE
#include <devioctl.h>
#endif

#define DRVTEST_TYPE 40100

/* bufioctl.c: each method answers "<METHOD>:" and its input in capitals. */
#define IOCTL_BUF_METHOD_BUFFERED CTL_CODE(DRVTEST_TYPE, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BUF_METHOD_IN_DIRECT CTL_CODE(DRVTEST_TYPE, 0x901, METHOD_IN_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_BUF_METHOD_OUT_DIRECT CTL_CODE(DRVTEST_TYPE, 0x902, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_BUF_METHOD_NEITHER CTL_CODE(DRVTEST_TYPE, 0x903, METHOD_NEITHER, FILE_ANY_ACCESS)

/* notify.c: complete the request after a delay (ms, a LONG in the input
   buffer), or signal an event after the delay and complete at once. */
#define IOCTL_NOTIFY_IRP CTL_CODE(DRVTEST_TYPE, 0x910, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_NOTIFY_EVENT CTL_CODE(DRVTEST_TYPE, 0x911, METHOD_BUFFERED, FILE_ANY_ACCESS)
typedef struct NOTIFY_EVENT_INPUT {
  HANDLE Event;
  LONG DelayMs;
} NOTIFY_EVENT_INPUT;

/* startio.c: how many transfers its StartIo path has finished (a ULONG). */
#define IOCTL_SIO_STATS CTL_CODE(DRVTEST_TYPE, 0x920, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* fwdfilter.c: IOCTL_SIO_STATS through the filter answers a FILTER_STATS;
   IOCTL_FILTER_PROBE has the filter send its own requests below. */
typedef struct FILTER_STATS {
  ULONG Transfers; /* the lower driver's answer */
  ULONG ReadsSeen; /* reads the filter completed upward */
} FILTER_STATS;
#define IOCTL_FILTER_PROBE CTL_CODE(DRVTEST_TYPE, 0x930, METHOD_BUFFERED, FILE_ANY_ACCESS)
typedef struct FILTER_PROBE {
  NTSTATUS IoctlStatus;     /* IoBuildDeviceIoControlRequest(IOCTL_SIO_STATS) */
  ULONG Transfers;
  NTSTATUS SyncReadStatus;  /* IoBuildSynchronousFsdRequest(IRP_MJ_READ) */
  ULONG SyncReadBytes;
  UCHAR SyncData[8];
  NTSTATUS AsyncReadStatus; /* IoBuildAsynchronousFsdRequest(IRP_MJ_READ), freed by its routine */
  ULONG AsyncReadBytes;
  ULONG ReusedWrites;       /* one IoAllocateIrp IRP sent twice (IoReuseIrp) */
  ULONG ReusedBytes;
} FILTER_PROBE;
#endif
