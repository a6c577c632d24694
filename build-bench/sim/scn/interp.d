build-bench/sim/scn/interp.o: sim/scn/interp.c sim/scn/run_int.h \
 sim/scn/scn_int.h include/iosim/scenario.h include/iosim/sim.h \
 include/iosim/trace.h include/iosim/wdm.h include/iosim/verify.h
sim/scn/run_int.h:
sim/scn/scn_int.h:
include/iosim/scenario.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/verify.h:
