build-bench/sim/io/iocomplete.o: sim/io/iocomplete.c sim/io/io.h \
 sim/core/core.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/vec.h sim/ke/ke.h
sim/io/io.h:
sim/core/core.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/ke/ke.h:
