/*
 * report.c - what an exploration says: the one-line summary with honest
 * counts, what the search covered (never "exhaustive" for a bounded or
 * stopped search), the distinct outcomes with their representatives, and
 * every expect line over the schedules.
 */
#include <inttypes.h>
#include <stdio.h>

#include "explore_int.h"

/* 1234567 -> "1,234,567" */
static const char *num(uint64_t v, char *buf) {
  char t[32];
  int n = snprintf(t, sizeof t, "%" PRIu64, v), o = 0;
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = t[i];
  }
  buf[o] = 0;
  return buf;
}

static const char *plural(uint64_t n, const char *one, const char *many) { return n == 1 ? one : many; }

void xp_print_summary(FILE *f, const xp_report_t *r) {
  char a[32], b[32], c[32], d[32];
  fprintf(f, "schedules: %s explored", num(r->explored, a));
  if (r->strategy == XP_DFS) {
    fprintf(f, " (");
    if (r->bound >= 0) fprintf(f, "%s beyond the bound, ", num(r->beyond_bound, b));
    fprintf(f, "%s pruned as equivalent)", num(r->pruned, c));
  } else {
    fprintf(f, " (%s)", r->strategy == XP_PCT ? "PCT" : "random");
  }
  fprintf(f, ", outcomes: %s distinct", num(r->noutcomes + (r->other_outcomes ? 1 : 0), a));
  int failed_lines = 0;
  for (int i = 0; i < r->nexpects; i++) failed_lines += !r->expects[i].sometimes && r->expects[i].failed;
  fprintf(f, ", expectations: %d failed in %s %s", failed_lines, num(r->expect_failing, b),
          plural(r->expect_failing, "schedule", "schedules"));
  if (r->sometimes_never)
    fprintf(f, " and %d `sometimes` %s held in none", r->sometimes_never, r->sometimes_never == 1 ? "line" : "lines");
  fprintf(f, ", findings: %d %s in %s %s", r->finding_rules, plural((uint64_t)r->finding_rules, "rule", "rules"),
          num(r->finding_schedules, c), plural(r->finding_schedules, "schedule", "schedules"));
  fprintf(f, ", stalls: %s", num(r->stalls, d));
  double rate = r->seconds > 0 ? (double)(r->explored + r->pruned) / r->seconds : 0;
  fprintf(f, ", time %.2f s (%s schedules/s)\n", r->seconds, num((uint64_t)(rate + 0.5), a));
}

void xp_print_coverage(FILE *f, const xp_report_t *r) {
  char a[32];
  if (r->nshards > 1) fprintf(f, "shard %d of %d: ", r->shard, r->nshards);
  if (r->stopped_by) {
    fprintf(f, "incomplete: stopped by %s after %s schedules; the %s was not covered",
            strcmp(r->stopped_by, "interrupted") ? r->stopped_by : "Ctrl-C",
            num(r->explored, a), r->nshards > 1 ? "shard" : "space");
    if (r->strategy == XP_DFS && r->bound >= 0) fprintf(f, " (bound %d)", r->bound);
    fputc('\n', f);
    return;
  }
  switch (r->strategy) {
  case XP_DFS:
    if (r->bound < 0) fprintf(f, "covered: every schedule (no preemption bound)");
    else fprintf(f, "covered: every schedule with at most %d preemption%s (not the ones with more)", r->bound,
                 r->bound == 1 ? "" : "s");
    if (r->pruning) fprintf(f, "; schedules equivalent to one explored were skipped");
    if (r->nshards > 1) fprintf(f, ", in this shard's part of the space");
    break;
  case XP_RANDOM:
    fprintf(f, "covered: %s random schedules - a sample, not every schedule", num(r->explored, a));
    break;
  case XP_PCT:
    fprintf(f, "covered: %s PCT schedules of depth %d - a sample; each finds a given bug of depth %d with "
            "probability at least 1/(n*k^(d-1)) = 1/(%" PRIu64 "*%" PRIu64 "^%d)",
            num(r->explored, a), r->pct_depth, r->pct_depth, r->pct_n, r->pct_k, r->pct_depth - 1);
    break;
  }
  fputc('\n', f);
}

void xp_print_outcomes(FILE *f, const scn_t *sc, const xp_report_t *r) {
  char a[32];
  for (size_t i = 0; i < r->noutcomes; i++) {
    const xp_outcome_t *o = &r->outcomes[i];
    char *tok = xp_token(&o->rep);
    fprintf(f, "  %s %s %s: %s\n", o->failing ? "FAIL" : "ok  ", num(o->count, a),
            plural(o->count, "schedule ", "schedules"), o->text);
    fprintf(f, "       %s (%u preemption%s, %" PRIu64 " steps): iosim run %s --replay %s\n",
            o->failing ? (o->minimised ? "smallest found" : "smallest explored") : "representative",
            (unsigned)o->rep.n, o->rep.n == 1 ? "" : "s", o->rep_steps, scn_path(sc), tok);
    free(tok);
  }
  if (r->other_outcomes)
    fprintf(f, "  ...  %s schedules ended in other outcomes (too many distinct to list)\n", num(r->other_outcomes, a));
}

void xp_print_expectations(FILE *f, const scn_t *sc, const xp_report_t *r, bool verbose) {
  char a[32], b[32];
  for (int i = 0; i < r->nexpects; i++) {
    const xp_expect_t *e = &r->expects[i];
    bool pass = e->sometimes ? e->held > 0 : e->failed == 0;
    bool open = !pass && e->sometimes && !r->complete; /* the search stopped before it could tell */
    if (pass && !verbose) continue;
    fprintf(f, "  %s %s:%d: %s\n", pass ? "PASS" : open ? "OPEN" : "FAIL", scn_path(sc), e->line, e->text);
    if (e->sometimes) {
      if (e->held) fprintf(f, "      held in %s of %s schedules\n", num(e->held, a), num(e->held + e->failed, b));
      else fprintf(f, "      held in none of the %s schedules%s\n", num(e->failed, a),
                   open ? " explored before the search stopped" : "");
    } else if (e->failed) {
      fprintf(f, "      failed in %s of %s schedules", num(e->failed, a), num(e->held + e->failed, b));
      if (e->first_failure >= 0 && (size_t)e->first_failure < r->noutcomes) {
        char *tok = xp_token(&r->outcomes[e->first_failure].rep);
        fprintf(f, "; one: iosim run %s --replay %s", scn_path(sc), tok);
        free(tok);
      }
      fputc('\n', f);
    } else {
      fprintf(f, "      held in all %s schedules\n", num(e->held, a));
    }
  }
  if (r->finding_rules) {
    fprintf(f, "  FAIL findings no `expect finding` line predicts:");
    for (int i = 0; i < r->finding_rules; i++) fprintf(f, " %s", r->finding_names[i]);
    fprintf(f, " (in %s schedules; see the outcomes)\n", num(r->finding_schedules, a));
  }
}

void xp_print_estimate(FILE *f, const xp_estimate_t *e) {
  char a[32], b[32];
  fprintf(f, "estimate: about %s schedules (plus or minus %s), about %.1f seconds, before pruning (%" PRIu64
          " samples)\n", num((uint64_t)(e->schedules + 0.5), a), num((uint64_t)(e->plus_minus + 0.5), b), e->seconds,
          e->samples);
}
