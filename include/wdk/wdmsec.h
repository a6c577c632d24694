/* wdmsec.h - iosim's stand-in for the WDK header: IoCreateDeviceSecure
   and the SDDL strings.  iosim models no security: the descriptor and the
   class GUID are accepted and ignored, and the device is created as
   IoCreateDevice creates it. */
#ifndef IOSIM_WDK_WDMSEC_H
#define IOSIM_WDK_WDMSEC_H
#include "iosim_wdk.h"
/* The WDK's security descriptors, as counted strings a driver passes by
   address (&SDDL_DEVOBJ_SYS_ALL). */
#define IOSIM_SDDL(name, text) \
  static const UNICODE_STRING name __attribute__((unused)) = RTL_CONSTANT_STRING(text)
IOSIM_SDDL(SDDL_DEVOBJ_KERNEL_ONLY, L"D:P");
IOSIM_SDDL(SDDL_DEVOBJ_SYS_ALL, L"D:P(A;;GA;;;SY)");
IOSIM_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_ALL, L"D:P(A;;GA;;;SY)(A;;GA;;;BA)");
IOSIM_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RX, L"D:P(A;;GA;;;SY)(A;;GRGX;;;BA)");
IOSIM_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R, L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GR;;;WD)");
IOSIM_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R, L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGW;;;WD)(A;;GR;;;RC)");
IOSIM_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RWX_RES_RWX,
           L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGWGX;;;WD)(A;;GRGWGX;;;RC)");
static inline NTSTATUS IoCreateDeviceSecure(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize,
                                            PUNICODE_STRING DeviceName, DEVICE_TYPE DeviceType,
                                            ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                                            PCUNICODE_STRING DefaultSDDLString, LPCGUID DeviceClassGuid,
                                            PDEVICE_OBJECT *DeviceObject) {
  (void)DefaultSDDLString, (void)DeviceClassGuid;
  return IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType, DeviceCharacteristics,
                        Exclusive, DeviceObject);
}
#endif
