build-bench/sim/core/choose.o: sim/core/choose.c sim/core/core.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/vec.h sim/ke/ke.h
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
