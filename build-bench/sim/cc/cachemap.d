build-bench/sim/cc/cachemap.o: sim/cc/cachemap.c sim/cc/cc.h \
 sim/core/core.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/vec.h sim/ke/ke.h
sim/cc/cc.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
