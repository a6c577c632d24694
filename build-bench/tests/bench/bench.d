build-bench/tests/bench/bench.o: tests/bench/bench.c \
 include/iosim/scenario.h include/iosim/sim.h include/iosim/trace.h \
 include/iosim/wdm.h include/iosim/verify.h include/iosim/tracedb.h \
 include/iosim/viz.h sim/core/core.h include/iosim/vec.h sim/ke/ke.h
include/iosim/scenario.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/verify.h:
include/iosim/tracedb.h:
include/iosim/viz.h:
sim/core/core.h:
include/iosim/vec.h:
sim/ke/ke.h:
