build-bench/sim/db/tracedb_schema.o: sim/db/tracedb_schema.c \
 sim/db/tracedb_int.h include/iosim/tracedb.h include/iosim/scenario.h \
 include/iosim/sim.h include/iosim/trace.h include/iosim/wdm.h \
 include/iosim/verify.h
sim/db/tracedb_int.h:
include/iosim/tracedb.h:
include/iosim/scenario.h:
include/iosim/sim.h:
include/iosim/trace.h:
include/iosim/wdm.h:
include/iosim/verify.h:
