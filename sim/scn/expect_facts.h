/*
 * expect_facts.h - the typed facts an event pattern can name
 * (`associated-done(count == 0)`, `port-queued(q3, running == 2)`): each is
 * a field of the trace event, never a word of its detail text.
 */
#ifndef IOSIM_EXPECT_FACTS_H
#define IOSIM_EXPECT_FACTS_H

#include <stdbool.h>

#include "iosim/sim.h"

#define EX_FACT_NAMES \
  "count, index, running, limit, location, pending, routine, stage2, status, service, major, port, file, object, cpu, target, state"

bool ex_fact_known(const char *field);
/* Whether `value` can ever match fact `field`: NULL if so, else what the
   values are (a status name or number, an IRP state name). */
const char *ex_fact_bad_value(const char *field, const char *value);
/* Whether the event's fact `field` has the value `value` (names of ports,
   files, objects and threads are looked up in S). */
bool ex_fact_matches(sim_t *S, const char *field, const char *value, const trc_event_t *ev);

#endif
