build-bench/sim/scn/expect.o: sim/scn/expect.c sim/scn/expect_facts.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/vec.h sim/scn/run_int.h sim/scn/scn_int.h \
 include/iosim/scenario.h include/iosim/verify.h
sim/scn/expect_facts.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/scn/run_int.h:
sim/scn/scn_int.h:
include/iosim/scenario.h:
include/iosim/verify.h:
