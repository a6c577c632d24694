build-bench/sim/fsrtl/filelock.o: sim/fsrtl/filelock.c sim/fsrtl/fsrtl.h \
 sim/cc/cc.h sim/core/core.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/vec.h sim/ke/ke.h sim/io/io.h
sim/fsrtl/fsrtl.h:
sim/cc/cc.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
sim/io/io.h:
