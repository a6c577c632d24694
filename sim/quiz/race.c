/*
 * race.c - the race question: cancel against completion on two CPUs.
 * Its answer is not one run but every schedule within the file's bound
 * (`iosim explore`): the outcomes that occur become `expect sometimes`
 * lines, and the key is the minimised replay token of a bad schedule,
 * found by exploring a copy of the file that forbids every bad end (so
 * the explorer minimises the failure) and replayed on the question file
 * itself to be sure.  The facts come from replaying each outcome's
 * representative schedule, never from the explorer's words.
 */
#include <stdlib.h>
#include <string.h>

#include "quiz_int.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  qz_buf_t b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
    chunk[n] = '\0';
    qz_printf(&b, "%s", chunk);
  }
  fclose(f);
  return qz_take(&b);
}

/* What a replayed schedule ended with. */
typedef struct facts {
  uint32_t bugcheck; /* 0: none */
  int nfind;
  char find[8][64];  /* "rule tag" */
  char status[40];   /* req's final status, "" if it never finished */
  uint64_t first_seq;
} facts_t;

static int replay(const char *path, const xp_schedule_t *s, const char *req, facts_t *f, char *why, size_t wn) {
  qz_run_t run;
  char err[600];
  memset(f, 0, sizeof *f);
  if (qz_run(path, 0, s, &run, err, sizeof err)) {
    snprintf(why, wn, "replay: %.400s", err);
    return -1;
  }
  if (run.res.outcome == SIM_RUN_BUGCHECK) f->bugcheck = run.res.bugcheck.code;
  for (int i = 0; i < run.res.finding_total && f->nfind < 8; i++) {
    const vrf_finding_t *x = &run.res.findings[i];
    char one[64];
    snprintf(one, sizeof one, "%s%s%.30s", x->name, x->irp_tag[0] ? " " : "", x->irp_tag);
    bool dup = false;
    for (int k = 0; k < f->nfind; k++) dup |= !strcmp(f->find[k], one);
    if (!dup) snprintf(f->find[f->nfind++], sizeof f->find[0], "%s", one);
    if (x->seq && !f->first_seq) f->first_seq = x->seq; /* findings come in step order */
  }
  bool done = false;
  int32_t st = 0;
  for (size_t i = 0; i < run.nev; i++) {
    const qz_ev_t *e = &run.ev[i];
    if (strcmp(e->irp, req)) continue;
    if (e->kind == TRC_COMPLETE && e->has_status) st = e->status;
    if (e->kind == TRC_WALK_DONE) done = true;
  }
  char b[16];
  if (done) snprintf(f->status, sizeof f->status, "%s", iosim_status_name(st, b));
  qz_run_free(&run);
  return 0;
}

static bool bad(const facts_t *f) { return f->bugcheck || f->nfind; }

/* Adds `line` to the set (a buffer of lines) unless it is there. */
static void add_line(qz_buf_t *b, const char *line) {
  if (b->s && strstr(b->s, line)) return;
  qz_printf(b, "%s", line);
}

int qz_answer_race(const qz_q_t *q, const char *path, const char *scratch, quiz_question_t *out, char *why, size_t wn) {
  const char *req = q->req[0];
  int rc = -1;
  char *text = slurp(path);
  scn_error_t e;
  scn_t *sq = scn_load(path, NULL, &e), *ss = NULL;
  xp_report_t all = {0}, strict = {0};
  bool have_all = false, have_strict = false;
  qz_buf_t words = {0}, steps = {0}, expects = {0};
  if (!text || !sq || scn_explore_bound(sq) == SCN_EXPLORE_NONE) {
    snprintf(why, wn, "the race file does not load or asks for no exploration");
    goto out;
  }
  xp_opts_t o;
  xp_opts_default(&o);
  o.bound = scn_explore_bound(sq) == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : scn_explore_bound(sq);
  o.max_schedules = 200000;
  if (xp_explore(sq, &o, &all, &e) != SIM_OK || !all.complete) {
    snprintf(why, wn, "exploring the race does not finish");
    goto out;
  }
  have_all = true;
  /* every outcome, from its representative's replay */
  bool any_bad = false;
  for (size_t i = 0; i < all.noutcomes; i++) {
    facts_t f;
    if (replay(path, &all.outcomes[i].rep, req, &f, why, wn)) goto out;
    char line[128];
    if (f.bugcheck) {
      snprintf(line, sizeof line, "expect sometimes bugcheck 0x%X\n", f.bugcheck);
      add_line(&expects, line);
    }
    for (int k = 0; k < f.nfind; k++) {
      snprintf(line, sizeof line, "expect sometimes finding %s\n", f.find[k]);
      add_line(&expects, line);
    }
    if (f.status[0]) {
      snprintf(line, sizeof line, "expect sometimes %s.status == %s\n", req, f.status);
      add_line(&expects, line);
    }
    any_bad |= bad(&f);
  }
  if (!any_bad) {
    qz_printf(&words, "No: all %llu schedules", (unsigned long long)all.explored);
    if (o.bound != XP_BOUND_NONE) qz_printf(&words, " within %d preemptions", o.bound); /* `bound none`: every one */
    qz_printf(&words, " end correctly (%s is completed once, no bugcheck, no finding).", req);
    qz_printf(&expects, "expect no bugcheck\nexpect count complete(%s) == 1\n", req);
    rc = 0;
    goto out;
  }
  /* the key: a copy that forbids every bad end, so its failure is minimised */
  qz_buf_t copy = {0};
  qz_printf(&copy, "%s\nexpect no bugcheck\nexpect no finding\n", text);
  char *ct = qz_take(&copy);
  FILE *cf = fopen(scratch, "w");
  bool werr = !cf || fputs(ct, cf) < 0;
  if (cf && fclose(cf)) werr = true;
  free(ct);
  if (werr || !(ss = scn_load(scratch, NULL, &e))) {
    snprintf(why, wn, "cannot write or load the strict copy");
    goto out;
  }
  if (xp_explore(ss, &o, &strict, &e) != SIM_OK) {
    snprintf(why, wn, "exploring the strict copy fails");
    goto out;
  }
  have_strict = true;
  const xp_outcome_t *best = NULL;
  for (size_t i = 0; i < strict.noutcomes; i++) {
    const xp_outcome_t *x = &strict.outcomes[i];
    if (!x->failing) continue;
    if (!best || x->rep.n < best->rep.n || (x->rep.n == best->rep.n && x->rep_steps < best->rep_steps)) best = x;
  }
  if (!best) {
    snprintf(why, wn, "the strict copy finds no bad schedule");
    goto out;
  }
  xp_schedule_t key = {0};
  xp_schedule_copy(&key, &best->rep);
  key.hash = scn_hash(sq); /* the question file's: expectations do not change a schedule */
  facts_t f;
  if (replay(path, &key, req, &f, why, wn) || !bad(&f)) {
    if (!why[0]) snprintf(why, wn, "the key does not replay to a bad end");
    xp_schedule_free(&key);
    goto out;
  }
  char *tok = xp_token(&key);
  qz_printf(&words, "Yes. The minimised key: %s (%u preemption%s): ", tok, xp_schedule_preemptions(&key),
            xp_schedule_preemptions(&key) == 1 ? "" : "s");
  if (f.bugcheck) qz_printf(&words, "the machine stops with bugcheck 0x%X", f.bugcheck);
  for (int k = 0; k < f.nfind; k++) qz_printf(&words, "%s%s", f.bugcheck || k ? ", " : "", f.find[k]);
  qz_printf(&words, ". Any token that replays to a bugcheck or a finding is right too. Replay the key with: "
                    "iosim run FILE --replay %s", tok);
  if (f.first_seq) qz_printf(&steps, "#%llu", (unsigned long long)f.first_seq);
  out->answer.token = tok;
  xp_schedule_free(&key);
  rc = 0;
out:
  out->answer.text = qz_take(&words);
  out->answer.steps = qz_take(&steps);
  out->answer.expects = qz_take(&expects);
  if (have_all) xp_report_free(&all);
  if (have_strict) xp_report_free(&strict);
  scn_free(sq);
  scn_free(ss);
  free(text);
  return rc;
}
