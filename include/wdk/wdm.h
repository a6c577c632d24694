/* wdm.h - iosim's stand-in for the WDK header: the WDM kernel routines a
   driver calls, as the simulated kernel models them (docs/wdk.md says
   which are simulated and which only recorded). */
#ifndef IOSIM_WDK_WDM_H
#define IOSIM_WDK_WDM_H
#include "iosim_wdk.h"
#endif
