build-bench/sim/ke/bugcheck.o: sim/ke/bugcheck.c sim/ke/ke.h \
 sim/core/core.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/vec.h
sim/ke/ke.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
