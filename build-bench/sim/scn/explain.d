build-bench/sim/scn/explain.o: sim/scn/explain.c sim/scn/scn_int.h \
 include/iosim/scenario.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/verify.h
sim/scn/scn_int.h:
include/iosim/scenario.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/verify.h:
