/* initguid.h - iosim's stand-in for the WDK header: after it, DEFINE_GUID
   defines the GUID (with its value) instead of declaring it. */
#ifndef IOSIM_WDK_INITGUID_H
#define IOSIM_WDK_INITGUID_H
#include "iosim_wdk.h"
#undef DEFINE_GUID
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
  const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#endif
