/* ntddk.h - iosim's stand-in for the WDK header: wdm.h plus the routines
   of non-WDM kernel drivers; in iosim they are one set. */
#ifndef IOSIM_WDK_NTDDK_H
#define IOSIM_WDK_NTDDK_H
#include "wdm.h"
#endif
