build-bench/sim/scn/parse_check.o: sim/scn/parse_check.c \
 sim/scn/parse_int.h sim/scn/scn_int.h include/iosim/scenario.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/verify.h
sim/scn/parse_int.h:
sim/scn/scn_int.h:
include/iosim/scenario.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/verify.h:
