/*
 * verify.h - the verifier: a trace sink that watches every step of a run
 * and reports each broken I/O rule (what Driver Verifier and Static Driver
 * Verifier would flag) as a finding: the rule, the IRP, the device, the
 * step, and a paragraph saying what the rule is and how it is usually
 * fixed.  It sees only the trace, so it works for scripted and C drivers
 * alike, and the same seed always gives the same findings.
 *
 *   vrf_t *v = vrf_new(S);
 *   trc_sink_t s = vrf_sink(v);
 *   sim_add_sink(S, &s);
 *   sim_run(S);
 *   vrf_finish(v, S);            // end-of-run rules: lost IRPs, deadlock
 *   vrf_print(v, stdout);
 *   vrf_free(v);                 // after sim_destroy is fine too
 */
#ifndef IOSIM_VERIFY_H
#define IOSIM_VERIFY_H

#include <stdio.h>

#include "iosim/sim.h"

/* The rules.  X(ENUM, "name", bugcheck code or 0, Verifier subcode or 0). */
#define VRF_RULE_MAP(X)                                                    \
  X(VRF_PENDING_NOT_MARKED, "pending-not-marked", 0, 0)                    \
  X(VRF_MARKED_NOT_PENDING, "marked-not-pending", 0, 0)                    \
  X(VRF_PENDING_NOT_PROPAGATED, "pending-not-propagated", 0, 0)            \
  X(VRF_DOUBLE_COMPLETION, "double-completion", 0x44, 0)                   \
  X(VRF_TOUCHED_AFTER_RELEASE, "touched-after-release", 0, 0)              \
  X(VRF_COMPLETION_IN_CURRENT, "completion-in-current-location", 0, 0)     \
  X(VRF_FORWARD_WITHOUT_SETUP, "forward-without-copy-or-skip", 0, 0)       \
  X(VRF_NEVER_COMPLETED, "irp-never-completed", 0, 0)                      \
  X(VRF_DEADLOCK, "deadlock", 0, 0)                                        \
  X(VRF_COMPLETE_BAD_IRQL, "complete-above-dispatch", 0xC9, 0x0E)          \
  X(VRF_CALL_BAD_IRQL, "call-above-dispatch", 0xC9, 0x10)                  \
  X(VRF_WAIT_AT_DISPATCH, "wait-at-dispatch", 0x0A, 0)                     \
  X(VRF_CANCEL_ROUTINE_SET, "cancel-routine-on-completion", 0xC9, 0x07)    \
  X(VRF_COMPLETE_PENDING, "complete-with-pending", 0xC9, 0x06)             \
  X(VRF_MPR_NEVER_COMPLETED, "more-processing-never-completed", 0, 0)     \
  X(VRF_DRIVER_IRP_NOT_RECLAIMED, "driver-irp-not-reclaimed", 0, 0) /* 0x1E, or 0x0A at DISPATCH */ \
  X(VRF_REGION_NOT_LEFT, "region-not-left", 0x01, 0) \
  X(VRF_IRP_LEAKED, "irp-leaked", 0, 0)

typedef enum {
#define VRF_X(e, n, b, s) e,
  VRF_RULE_MAP(VRF_X)
#undef VRF_X
  VRF_RULE_COUNT
} vrf_rule_t;

typedef struct vrf_rule_info {
  vrf_rule_t rule;
  const char *name;    /* "pending-not-marked", used by `expect finding` */
  unsigned bugcheck;   /* the stop code Windows raises for it, 0 = none */
  unsigned subcode;    /* 0xC9's first parameter, 0 = n/a */
  const char *title;   /* one line */
  const char *explain; /* the rule and the usual fix, one paragraph */
} vrf_rule_info_t;

const vrf_rule_info_t *vrf_rule_info(vrf_rule_t r);
/* By name; NULL if no rule has it. */
const vrf_rule_info_t *vrf_rule_by_name(const char *name);

/* One finding.  Everything is copied: valid after the machine is gone. */
typedef struct vrf_finding {
  vrf_rule_t rule;
  const char *name;     /* the rule's name (static) */
  uint32_t irp;         /* 0 = none (a deadlock) */
  char irp_tag[32];     /* the scenario's name for the IRP ("r1"), "" if none */
  uint32_t device;      /* the device whose driver broke the rule, 0 = none */
  char device_name[32];
  uint64_t seq;         /* the trace step, 0 = found at the end of the run */
  uint64_t t_ns;
  char what[512];       /* what happened, with the trace facts */
  bool predicted;       /* set by the scenario runner: an `expect finding` line names it */
} vrf_finding_t;

typedef struct vrf vrf_t;
vrf_t *vrf_new(sim_t *S);
void vrf_free(vrf_t *v);
/* The sink to add to the machine; borrows v. */
trc_sink_t vrf_sink(vrf_t *v);
/* After sim_run, before sim_destroy: the rules decided at the end (IRPs
   never completed, more-processing IRPs never finished, IRPs leaked, a
   deadlock), from the run's end-of-run account (irp-outstanding and
   thread-stuck steps); also writes the account's text (vrf_account). */
void vrf_finish(vrf_t *v, sim_t *S);
size_t vrf_count(const vrf_t *v);
const vrf_finding_t *vrf_get(const vrf_t *v, size_t i);
/* Writes one finding as the console shows it (rule, IRP, device, step,
   what happened, the rule's paragraph). */
void vrf_print_finding(const vrf_finding_t *f, FILE *out);
/* The end-of-run account, as the console shows it: every IRP still
   allocated (where it stopped, and the finding that covers it) and every
   thread still waiting (on what), one per line; "" when nothing was left
   or the run ended with a bugcheck.  Valid after vrf_finish, also after
   the machine is gone. */
const char *vrf_account(const vrf_t *v);
/* The last steps before the end of the run (a bugcheck: "the steps that
   led there"), as trace rows; at most n. Call before sim_destroy. */
void vrf_print_last_steps(const vrf_t *v, sim_t *S, size_t n, FILE *out);

#endif
