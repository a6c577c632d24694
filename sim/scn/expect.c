/*
 * expect.c - checks a scenario's `expect` lines against what happened: the
 * trace recorded in memory, the final facts of each IRP, the threads and the
 * bugcheck.  Each result says which trace facts decided it.
 */
#include "iosim/alloc.h"
#include "expect_facts.h"
#include "iosim/vec.h"
#include "run_int.h"

/* A step kept for the expectations, its borrowed strings copied. */
typedef struct ev_rec {
  trc_event_t ev;
  char *detail, *text, *service;
} ev_rec_t;

/* Only the steps an `expect` pattern can match are kept: a run to its
   step limit does not hold every step in memory, only those of the kinds
   the scenario's expectations name (all of them if a pattern matches any
   kind). */
struct ev_log {
  ev_rec_t *v;
  size_t n, cap;
  bool keep[TRC_KIND_COUNT];
  sim_t *S; /* charged for what the log holds */
};

ev_log_t *evlog_new(const scn_t *sc, sim_t *S) {
  ev_log_t *l = iosim_calloc(1, sizeof *l);
  l->S = S;
  for (const expect_t *e = sc->expects; e; e = e->next)
    for (int i = 0; i < e->npats; i++) {
      int k = e->pats[i].kind;
      if (k >= 0 && k < TRC_KIND_COUNT) l->keep[k] = true;
      else
        for (int j = 0; j < TRC_KIND_COUNT; j++) l->keep[j] = true;
    }
  return l;
}

void evlog_free(ev_log_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].detail);
    free(l->v[i].text);
    free(l->v[i].service);
  }
  free(l->v);
  free(l);
}

static void evlog_event(void *ud, const trc_event_t *ev) {
  ev_log_t *l = ud;
  if ((unsigned)ev->kind >= TRC_KIND_COUNT || !l->keep[ev->kind]) return;
  size_t cap = l->cap;
  (void)IOSIM_VEC_RESERVE(l->v, l->cap, l->n + 1); /* never short: it exits when out of memory */
  ev_rec_t *r = &l->v[l->n++];
  r->ev = *ev;
  r->detail = iosim_strdup(ev->detail);
  r->text = ev->text ? iosim_strdup(ev->text) : NULL;
  r->service = ev->service ? iosim_strdup(ev->service) : NULL;
  /* A run that keeps millions of steps stops at the memory limit instead
     of growing until the host kills it (docs/reliability.md). */
  sim_charge_memory(l->S, (l->cap - cap) * sizeof *l->v + strlen(ev->detail) + 1 + (ev->text ? strlen(ev->text) + 1 : 0) +
                              (ev->service ? strlen(ev->service) + 1 : 0));
  r->ev.detail = r->detail;
  r->ev.text = r->text;
  r->ev.service = r->service;
}

trc_sink_t evlog_sink(ev_log_t *l) { return (trc_sink_t){.event = evlog_event, .ud = l}; }

typedef struct chk {
  const scn_t *sc;
  sim_t *S;
  const ev_log_t *log;
  run_state_t *rs;          /* the run's state (never NULL) */
  bool indexed; /* index_names has run */
} chk_t;

/* Names to ids, once per check (a table in the run's arena): the last IRP
   tagged with a name (a loop rebinds it), devices, threads.  Value id + 0
   as a pointer; ids start at 1. */
static void index_names(chk_t *c) {
  if (c->indexed) return;
  c->indexed = true;
  run_state_t *rs = c->rs;
  for (uint32_t id = 1; id <= sim_irp_count(c->S); id++) {
    const sim_irp_info_t *in = sim_irp_info(c->S, id);
    if (in && in->tag) names_put(&rs->ar, &rs->names, NK_TAG, in->tag, (void *)(uintptr_t)id);
  }
  for (uint32_t id = sim_device_count(c->S); id >= 1; id--) /* the first of a name wins */
    names_put(&rs->ar, &rs->names, NK_DEVICE_ID, sim_device_name(c->S, id), (void *)(uintptr_t)id);
  for (uint32_t id = sim_thread_count(c->S); id >= 1; id--)
    names_put(&rs->ar, &rs->names, NK_THREAD_ID, sim_thread_name(c->S, id), (void *)(uintptr_t)id);
}

static uint32_t name_id(chk_t *c, int kind, const char *name) {
  index_names(c);
  return (uint32_t)(uintptr_t)names_get(&c->rs->names, kind, name);
}
#define irp_by_name(c, name) name_id((c), NK_TAG, (name))
#define device_by_name(c, name) name_id((c), NK_DEVICE_ID, (name))
#define thread_by_name(c, name) name_id((c), NK_THREAD_ID, (name))

static bool arg_matches(chk_t *c, const char *a, const trc_event_t *ev) {
  /* A quoted text: the scenario's own words (a note's, an operation's). */
  if (a[0] == '"') return ev->text && strstr(ev->text, a + 1) != NULL;
  const char *eq = strchr(a, '=');
  if (eq) {
    char field[32];
    size_t n = (size_t)(eq - a) < sizeof field - 1 ? (size_t)(eq - a) : sizeof field - 1;
    memcpy(field, a, n);
    field[n] = 0;
    return ex_fact_matches(c->S, field, eq + 1, ev);
  }
  uint32_t id;
  if ((id = device_by_name(c, a))) return ev->device == id;
  if (!strcmp(a, "none")) return ev->thread == 0;
  /* A step outside any CPU (the end-of-run account) runs in no thread: it
     is about the thread it names. */
  if ((id = thread_by_name(c, a))) return ev->thread == id || (ev->cpu < 0 && ev->target_thread == id);
  if ((id = irp_by_name(c, a))) return ev->irp == id;
  /* An event, a file or a port: the step names it in a typed field. */
  return (ev->object && !strcmp(sim_object_name(c->S, ev->object), a)) ||
         (ev->file && !strcmp(sim_file_name(c->S, ev->file), a)) ||
         (ev->port && !strcmp(sim_port_name(c->S, ev->port), a));
}

static bool pattern_matches(chk_t *c, const pattern_t *p, const trc_event_t *ev) {
  if (p->kind >= 0 && (int)ev->kind != p->kind) return false;
  for (int i = 0; i < p->nargs; i++)
    if (!arg_matches(c, p->args[i], ev)) return false;
  return true;
}

/* The chosen occurrence (nth, default first) at or after `from`, or NULL. */
static const trc_event_t *find(chk_t *c, const pattern_t *p, size_t from) {
  int want = p->nth > 0 ? p->nth : 1, seen = 0;
  for (size_t i = from; i < c->log->n; i++)
    if (pattern_matches(c, p, &c->log->v[i].ev) && ++seen == want) return &c->log->v[i].ev;
  return NULL;
}

static size_t count(chk_t *c, const pattern_t *p) {
  size_t n = 0;
  for (size_t i = 0; i < c->log->n; i++) n += pattern_matches(c, p, &c->log->v[i].ev);
  return n;
}

static int describe(chk_t *c, const trc_event_t *ev, char *buf, size_t n) {
  char irql[16];
  if (ev->cpu < 0) /* the run's own steps: its start, the end-of-run account, its end */
    return snprintf(buf, n, "#%llu at %llu ns, outside any CPU: %s %s", (unsigned long long)ev->seq,
                    (unsigned long long)ev->t_ns, trc_kind_name(ev->kind), ev->detail);
  return snprintf(buf, n, "#%llu at %llu ns on CPU %d, %s, %s frame, thread %s: %s %s",
                  (unsigned long long)ev->seq, (unsigned long long)ev->t_ns, ev->cpu,
                  trc_irql_name(ev->irql, irql), trc_frame_name(ev->frame),
                  ev->thread ? sim_thread_name(c->S, ev->thread) : "none", trc_kind_name(ev->kind),
                  ev->detail);
}

/* r.data == BYTES: the first bytes of the program's buffer, as the run
   left them; the failure shows what was there. */
static bool check_data(chk_t *c, const expect_t *e, char *f, size_t n) {
  size_t req = rs_req(c->rs, e->subject);
  const named_req_t *r = req ? &c->rs->reqs[req - 1] : NULL;
  if (!r || !r->buf) return snprintf(f, n, "%s had no buffer", e->subject), false;
  size_t want = (size_t)e->value;
  bool same = want <= r->len && !memcmp(r->buf, e->svalue, want);
  int w = snprintf(f, n, "%s's buffer (%zu bytes) starts with 0x", e->subject, r->len);
  for (size_t i = 0; i < r->len && i < 16 && w > 0 && (size_t)w + 3 < n; i++)
    w += snprintf(f + w, n - (size_t)w, "%02x", r->buf[i]);
  if (r->len > 16 && w > 0 && (size_t)w + 4 < n) snprintf(f + w, n - (size_t)w, "...");
  return e->cmp == CMP_EQ ? same : !same;
}

static bool check_irp_field(chk_t *c, const expect_t *e, char *f, size_t n) {
  uint32_t id = irp_by_name(c, e->subject);
  const sim_irp_info_t *in = id ? sim_irp_info(c->S, id) : NULL;
  if (!in) return snprintf(f, n, "no request named %s was ever issued", e->subject), false;
  if (!in->completed) return snprintf(f, n, "%s (IRP %u) never completed", e->subject, id), false;
  if (!strcmp(e->field, "data")) return check_data(c, e, f, n);
  char sb[16];
  int64_t got;
  if (!strcmp(e->field, "status")) got = in->final.Status;
  else if (!strcmp(e->field, "information")) got = (int64_t)in->final.Information;
  else got = in->pending_returned;
  snprintf(f, n, "%s (IRP %u) completed at %llu ns with %s, information %llu, PendingReturned %d", e->subject,
           id, (unsigned long long)in->completed_ns, iosim_status_name(in->final.Status, sb),
           (unsigned long long)in->final.Information, in->pending_returned);
  return cmp_eval(e->cmp, got, e->value);
}

static bool check_event_field(chk_t *c, const expect_t *e, char *f, size_t n) {
  const trc_event_t *ev = find(c, &e->pats[0], 0);
  if (!ev) return snprintf(f, n, "%s never happened", e->pats[0].text), false;
  describe(c, ev, f, n);
  const char *fl = e->field;
  if (!strcmp(fl, "thread")) {
    bool same = !strcmp(e->svalue, "none") ? ev->thread == 0
                                          : ev->thread && !strcmp(sim_thread_name(c->S, ev->thread), e->svalue);
    return e->cmp == CMP_EQ ? same : !same;
  }
  int64_t got = !strcmp(fl, "irql") ? ev->irql : !strcmp(fl, "frame") ? (int64_t)ev->frame
              : !strcmp(fl, "cpu") ? ev->cpu : !strcmp(fl, "time") ? (int64_t)ev->t_ns : ev->status;
  if (!strcmp(fl, "status") && !ev->has_status) return false;
  return cmp_eval(e->cmp, got, e->value);
}

/* A < B < C: A's occurrence, then B's first occurrence after it, and so
   on ("then" order); an explicit occurrence number is counted from the start. */
static bool check_order(chk_t *c, const expect_t *e, char *f, size_t n) {
  size_t used = 0, from = 0;
  uint64_t last = 0;
  bool ok = true;
  for (int i = 0; i < e->npats; i++) {
    const trc_event_t *ev = find(c, &e->pats[i], e->pats[i].nth ? 0 : from);
    if (!ev) {
      const char *why = i && !e->pats[i].nth && find(c, &e->pats[i], 0) ? "never happened after that" : "never happened";
      used += (size_t)snprintf(f + used, used < n ? n - used : 0, "%s%s %s", i ? " ; " : "", e->pats[i].text, why);
      return false;
    }
    used += (size_t)snprintf(f + used, used < n ? n - used : 0, "%s%s at #%llu", i ? " ; " : "", e->pats[i].text,
                             (unsigned long long)ev->seq);
    if (i && ev->seq <= last) ok = false;
    last = ev->seq;
    from = (size_t)((const ev_rec_t *)(const void *)ev - c->log->v) + 1;
  }
  return ok;
}

static bool check_finding(chk_t *c, const expect_t *e, scn_result_t *res, char *f, size_t n);

static bool check_one(chk_t *c, const expect_t *e, scn_result_t *res, char *f, size_t n) {
  sim_t *S = c->S;
  const sim_bugcheck_t *b = sim_bugcheck(S);
  switch (e->kind) {
  case EX_IRP_FIELD: return check_irp_field(c, e, f, n);
  case EX_IRP_COMPLETED: {
    uint32_t id = irp_by_name(c, e->subject);
    const sim_irp_info_t *in = id ? sim_irp_info(S, id) : NULL;
    bool done = in && in->completed;
    snprintf(f, n, "%s (IRP %u) %s", e->subject, id,
             !in ? "was never issued" : done ? "completed" : "was not completed when the run ended");
    return e->negate ? !done : done;
  }
  case EX_THREAD_STATE: {
    PKTHREAD t = sim_thread_by_name(S, e->subject);
    const char *st = sim_thread_state(S, sim_thread_id(t));
    snprintf(f, n, "thread %s is %s", e->subject, st);
    if (!strcmp(e->svalue, "finished")) return sim_thread_finished(t);
    if (!strcmp(e->svalue, "waiting")) return sim_thread_waiting(t);
    return !sim_thread_finished(t) && !sim_thread_waiting(t);
  }
  case EX_BUGCHECK:
    if (b) snprintf(f, n, "bugcheck 0x%X %s: %s", b->code, iosim_bugcheck_name(b->code), b->reason);
    else snprintf(f, n, "no bugcheck; the run ended %s", sim_outcome_name(res->outcome));
    return e->negate ? !b : b && (int64_t)b->code == e->value;
  case EX_OUTCOME:
    snprintf(f, n, "the run ended: %s", sim_outcome_name(res->outcome));
    return (int64_t)res->outcome == e->value;
  case EX_FINDING: return check_finding(c, e, res, f, n);
  case EX_ORDER: return check_order(c, e, f, n);
  case EX_EVENT_FIELD: return check_event_field(c, e, f, n);
  case EX_COUNT: {
    size_t k = count(c, &e->pats[0]);
    snprintf(f, n, "%s happened %zu time%s", e->pats[0].text, k, k == 1 ? "" : "s");
    return cmp_eval(e->cmp, (int64_t)k, e->value);
  }
  case EX_EXISTS: break;
  }
  /* EX_EXISTS: the pattern happened (or, negated, never did) */
  const trc_event_t *ev = find(c, &e->pats[0], 0);
  if (ev) describe(c, ev, f, n);
  else snprintf(f, n, "%s never happened", e->pats[0].text);
  return e->negate ? !ev : ev != NULL;
}

/* `expect finding RULE [IRP]`: some finding of that rule (for that IRP)
   exists, and every one it names counts as predicted; `expect no finding
   [RULE]`: none (of that rule) at all. */
static bool check_finding(chk_t *c, const expect_t *e, scn_result_t *res, char *f, size_t n) {
  uint32_t want_irp = e->subject ? irp_by_name(c, e->subject) : 0;
  int hits = 0;
  const vrf_finding_t *first = NULL;
  for (int i = 0; i < res->finding_total; i++) {
    vrf_finding_t *x = &res->findings[i];
    if (e->svalue && strcmp(x->name, e->svalue)) continue;
    if (e->subject && x->irp != want_irp) continue;
    if (!e->negate) x->predicted = true;
    if (!first) first = x;
    hits++;
  }
  if (first) {
    /* A finding about no IRP (a deadlock) or found at the end of the run
       (a lost IRP) has no IRP or step to name. */
    char on[64] = "", at[48] = " at the end of the run";
    if (first->irp)
      snprintf(on, sizeof on, " on IRP %u%s%s%s", first->irp, first->irp_tag[0] ? " (" : "", first->irp_tag,
               first->irp_tag[0] ? ")" : "");
    if (first->seq) snprintf(at, sizeof at, " at step #%llu", (unsigned long long)first->seq);
    snprintf(f, n, "%d finding%s; first: %s%s%s: %.300s", hits, hits == 1 ? "" : "s", first->name, on, at,
             first->what);
  }
  else if (e->subject && !want_irp)
    snprintf(f, n, "no request named %s was ever issued", e->subject);
  else
    snprintf(f, n, "the verifier found nothing%s%s (%d finding%s in all)", e->svalue ? " of rule " : "",
             e->svalue ? e->svalue : "", res->finding_total, res->finding_total == 1 ? "" : "s");
  return e->negate ? hits == 0 : hits > 0;
}

void scn_check(const scn_t *sc, sim_t *S, const ev_log_t *log, run_state_t *rs, scn_result_t *res) {
  chk_t c = {sc, S, log, rs, false};
  res->expect_total = sc->nexpects;
  res->expects = iosim_calloc((size_t)(sc->nexpects ? sc->nexpects : 1), sizeof *res->expects);
  int i = 0;
  for (const expect_t *e = sc->expects; e; e = e->next, i++) {
    scn_expect_result_t *r = &res->expects[i];
    r->text = e->text;
    r->line = e->at.line;
    r->passed = check_one(&c, e, res, r->facts, sizeof r->facts);
    r->sometimes = e->sometimes;
    res->expect_failed += !r->passed && !r->sometimes;
  }
  for (int k = 0; k < res->finding_total; k++) res->finding_unexpected += !res->findings[k].predicted;
}

int scn_sometimes_merge(const scn_result_t *r, bool *seen) {
  int never = 0;
  for (int i = 0; i < r->expect_total; i++) {
    if (!r->expects[i].sometimes) continue;
    seen[i] |= r->expects[i].passed;
    never += !seen[i];
  }
  return never;
}
