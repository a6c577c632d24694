/* ntdef.h - iosim's stand-in for the WDK header: the basic NT types
   (NTSTATUS, ULONG, LARGE_INTEGER, UNICODE_STRING ...) and macros. */
#ifndef IOSIM_WDK_NTDEF_H
#define IOSIM_WDK_NTDEF_H
#include "iosim_wdk.h"
#endif
