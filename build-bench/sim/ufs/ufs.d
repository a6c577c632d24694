build-bench/sim/ufs/ufs.o: sim/ufs/ufs.c include/iosim/sim.h \
 include/iosim/trace.h include/iosim/wdm.h
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
