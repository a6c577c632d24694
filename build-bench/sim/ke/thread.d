build-bench/sim/ke/thread.o: sim/ke/thread.c sim/ke/ke.h sim/core/core.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/vec.h
sim/ke/ke.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
