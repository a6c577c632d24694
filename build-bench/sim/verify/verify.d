build-bench/sim/verify/verify.o: sim/verify/verify.c \
 include/iosim/verify.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/vec.h sim/verify/verify_rules.h
include/iosim/verify.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/vec.h:
sim/verify/verify_rules.h:
