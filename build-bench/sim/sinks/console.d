build-bench/sim/sinks/console.o: sim/sinks/console.c include/iosim/sim.h \
 include/iosim/trace.h include/iosim/wdm.h
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
