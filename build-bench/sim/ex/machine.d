build-bench/sim/ex/machine.o: sim/ex/machine.c sim/cc/cc.h \
 sim/core/core.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/vec.h sim/ke/ke.h sim/hal/hal.h \
 sim/io/io.h
sim/cc/cc.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
sim/hal/hal.h:
sim/io/io.h:
