/* dontuse.h - iosim's stand-in for the WDK header, which marks the unsafe
   C string routines deprecated for drivers.  GCC builds of iosim drivers
   keep them usable: nothing to declare. */
#ifndef IOSIM_WDK_DONTUSE_H
#define IOSIM_WDK_DONTUSE_H
#include "iosim_wdk.h"
#endif
