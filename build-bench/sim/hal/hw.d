build-bench/sim/hal/hw.o: sim/hal/hw.c sim/hal/hal.h sim/core/core.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/vec.h sim/ke/ke.h
sim/hal/hal.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
