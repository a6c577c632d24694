/*
 * expect_facts.c - matching an event pattern's `field == value` against the
 * typed facts of a trace event (a bare status argument, `complete(r1,
 * STATUS_CANCELLED)`, is stored as `status == STATUS_CANCELLED`).
 */
#include "expect_facts.h"

#include <stdlib.h>
#include <string.h>

static const char *const facts[] = {"count", "index", "running", "limit", "location", "pending", "routine",
                                    "stage2", "status", "service", "major", "port", "file", "object",
                                    "cpu", "target", "device-object", "state"};

bool ex_fact_known(const char *field) {
  for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
    if (!strcmp(facts[i], field)) return true;
  return false;
}

const char *ex_fact_bad_value(const char *field, const char *value) {
  NTSTATUS st;
  if (!strcmp(field, "status") && !iosim_status_parse(value, &st)) return "a status name or number, e.g. STATUS_SUCCESS";
  if (!strcmp(field, "state") && trc_irp_state_parse(value) < 0) return "driver, creator, apc, port, no-stage2 or kept";
  return NULL;
}

static bool int_is(int have, const char *value) {
  char *end;
  long v = strtol(value, &end, 0);
  return *value && !*end && have == v;
}

static bool bool_is(int have, const char *value) {
  if (have < 0) return false;
  if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "set")) return have == 1;
  if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "none")) return have == 0;
  return int_is(have, value);
}

static uint32_t thread_id(sim_t *S, const char *name) {
  for (uint32_t id = 1; id <= sim_thread_count(S); id++)
    if (!strcmp(sim_thread_name(S, id), name)) return id;
  return 0;
}

bool ex_fact_matches(sim_t *S, const char *field, const char *value, const trc_event_t *ev) {
  if (!strcmp(field, "count")) return int_is(ev->count, value);
  if (!strcmp(field, "index")) return int_is(ev->wait_index, value);
  if (!strcmp(field, "running")) return int_is(ev->running, value);
  if (!strcmp(field, "limit")) return int_is(ev->limit, value);
  if (!strcmp(field, "location")) return int_is(ev->loc_to, value);
  if (!strcmp(field, "cpu")) return int_is(ev->target_cpu, value);
  if (!strcmp(field, "pending")) return bool_is(ev->pending_returned, value);
  if (!strcmp(field, "routine")) return bool_is(ev->cancel_routine, value);
  if (!strcmp(field, "stage2"))
    return (ev->stage2 == TRC_STAGE2_INLINE && !strcmp(value, "inline")) ||
           (ev->stage2 == TRC_STAGE2_APC && !strcmp(value, "apc"));
  if (!strcmp(field, "status")) {
    NTSTATUS st;
    return ev->has_status && iosim_status_parse(value, &st) && st == ev->status;
  }
  if (!strcmp(field, "service")) return ev->service && !strcmp(ev->service, value);
  if (!strcmp(field, "major")) return ev->major >= 0 && !strcmp(iosim_major_name((UCHAR)ev->major), value);
  if (!strcmp(field, "port")) return ev->port && !strcmp(sim_port_name(S, ev->port), value);
  if (!strcmp(field, "file")) return ev->file && !strcmp(sim_file_name(S, ev->file), value);
  if (!strcmp(field, "object")) return ev->object && !strcmp(sim_object_name(S, ev->object), value);
  if (!strcmp(field, "target")) return ev->target_thread && ev->target_thread == thread_id(S, value);
  if (!strcmp(field, "device-object")) { /* a completion routine's argument; none: NULL */
    if (ev->kind != TRC_COMPLETION_CALL && ev->kind != TRC_COMPLETION_RETURN) return false;
    if (!strcmp(value, "none")) return ev->routine_device == 0;
    return ev->routine_device && !strcmp(sim_device_name(S, ev->routine_device), value);
  }
  if (!strcmp(field, "state")) return ev->irp_state != TRC_IRPST_NONE && trc_irp_state_parse(value) == (int)ev->irp_state;
  return false;
}
