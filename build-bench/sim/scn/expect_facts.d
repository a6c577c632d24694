build-bench/sim/scn/expect_facts.o: sim/scn/expect_facts.c \
 sim/scn/expect_facts.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h
sim/scn/expect_facts.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
