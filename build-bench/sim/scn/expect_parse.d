build-bench/sim/scn/expect_parse.o: sim/scn/expect_parse.c \
 sim/scn/expect_facts.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h sim/scn/scn_int.h include/iosim/scenario.h \
 include/iosim/verify.h
sim/scn/expect_facts.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
sim/scn/scn_int.h:
include/iosim/scenario.h:
include/iosim/verify.h:
