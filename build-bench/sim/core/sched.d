build-bench/sim/core/sched.o: sim/core/sched.c sim/core/core.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/vec.h sim/ke/ke.h sim/hal/hal.h
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
sim/hal/hal.h:
