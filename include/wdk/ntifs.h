/* ntifs.h - iosim's stand-in for the WDK header: the subset the I/O path
   needs (everything of ntddk.h; iosim has no file-system runtime to add
   beyond the FsRtl routines the engine declares). */
#ifndef IOSIM_WDK_NTIFS_H
#define IOSIM_WDK_NTIFS_H
#include "ntddk.h"
#endif
