/* devioctl.h - iosim's stand-in for the WDK header: CTL_CODE, METHOD_*,
   FILE_DEVICE_* and the access codes, shared by drivers and programs. */
#ifndef IOSIM_WDK_DEVIOCTL_H
#define IOSIM_WDK_DEVIOCTL_H
#include "iosim_wdk.h"
#endif
