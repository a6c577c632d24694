/*
 * synth.h - the control codes of the synthetic WDM driver (synth.c), as a
 * sample's shared header would define them for the driver and its
 * application (which defines CTL_CODE itself, as winioctl.h does).
 */
#ifndef SYNTH_H
#define SYNTH_H
#ifndef CTL_CODE
#include <devioctl.h>
#endif

#define SYNTH_DEVICE_TYPE 40000
#define IOCTL_SYNTH_PING CTL_CODE(SYNTH_DEVICE_TYPE, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SYNTH_STATS CTL_CODE(SYNTH_DEVICE_TYPE, 0x901, METHOD_NEITHER, FILE_READ_ACCESS)
#endif
