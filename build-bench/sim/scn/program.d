build-bench/sim/scn/program.o: sim/scn/program.c sim/scn/run_int.h \
 sim/scn/scn_int.h include/iosim/scenario.h include/iosim/sim.h \
 include/iosim/trace.h include/iosim/wdm.h include/iosim/verify.h
sim/scn/run_int.h:
sim/scn/scn_int.h:
include/iosim/scenario.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/verify.h:
