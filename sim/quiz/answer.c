/*
 * answer.c - the answers: one run of the generated scenario through the
 * engine (scn_run, with a sink that keeps the typed facts of every step,
 * names resolved), and, per question, what the trace says: the words, the
 * steps that prove it, and the `expect` lines `iosim check` verifies.
 * Nothing here knows what the generator meant to happen.
 */
#include <stdlib.h>
#include <string.h>

#include "quiz_int.h"
#include "iosim/alloc.h"

typedef struct sink_ctx {
  qz_run_t *run;
  sim_t *S;
  xp_replay_t *replay;
} sink_ctx_t;

static void copy_name(char *dst, size_t n, const char *s) { snprintf(dst, n, "%s", s ? s : ""); }

static void on_event(void *ud, const trc_event_t *e) {
  sink_ctx_t *c = ud;
  qz_run_t *r = c->run;
  if (r->nev == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    qz_ev_t *ev = iosim_realloc(r->ev, cap * sizeof *ev);
    r->ev = ev;
    r->cap = cap;
  }
  qz_ev_t *q = &r->ev[r->nev++];
  memset(q, 0, sizeof *q);
  q->seq = e->seq;
  q->t = e->t_ns;
  q->kind = (int)e->kind;
  q->irql = e->irql;
  q->frame = (int)e->frame;
  q->cpu = e->cpu;
  q->stage2 = (int)e->stage2;
  q->count = e->count;
  q->wait_index = e->wait_index;
  q->cancel_routine = e->cancel_routine;
  q->major = e->major;
  q->has_status = e->has_status;
  q->status = e->status;
  if (e->thread) copy_name(q->thread, sizeof q->thread, sim_thread_name(c->S, e->thread));
  if (e->target_thread) copy_name(q->target, sizeof q->target, sim_thread_name(c->S, e->target_thread));
  if (e->device) copy_name(q->dev, sizeof q->dev, sim_device_name(c->S, e->device));
  if (e->routine_device) copy_name(q->routine_dev, sizeof q->routine_dev, sim_device_name(c->S, e->routine_device));
  if (e->object) copy_name(q->object, sizeof q->object, sim_object_name(c->S, e->object));
  if (e->irp) {
    const sim_irp_info_t *in = sim_irp_info(c->S, e->irp);
    if (in && in->tag) copy_name(q->irp, sizeof q->irp, in->tag);
  }
  copy_name(q->text, sizeof q->text, e->text);
  copy_name(q->service, sizeof q->service, e->service);
}

static void on_start(void *ud, sim_t *S) {
  sink_ctx_t *c = ud;
  c->S = S;
  trc_sink_t sink = {.event = on_event, .ud = c};
  sim_add_sink(S, &sink);
  if (c->replay) xp_replay_install(c->replay, S);
}

static void on_finish(void *ud, sim_t *S, const scn_result_t *res) {
  sink_ctx_t *c = ud;
  (void)res;
  uint32_t n = sim_thread_count(S);
  c->run->nthreads = 0;
  for (uint32_t id = 1; id <= n && c->run->nthreads < 16; id++) {
    int k = c->run->nthreads++;
    copy_name(c->run->names[k], sizeof c->run->names[k], sim_thread_name(S, id));
    copy_name(c->run->states[k], sizeof c->run->states[k], sim_thread_state(S, id));
  }
}

/* `file:line:col: message`, or `file: message` when no line applies (a
   file that cannot be opened), as the command line prints it. */
static void error_text(char *err, size_t errn, const scn_error_t *e) {
  if (e->line > 0) snprintf(err, errn, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
  else snprintf(err, errn, "%s: %s", e->file, e->msg);
}

int qz_run(const char *path, uint64_t seed, const xp_schedule_t *sched, qz_run_t *run, char *err, size_t errn) {
  memset(run, 0, sizeof *run);
  scn_error_t e;
  scn_t *sc = scn_load(path, NULL, &e);
  if (!sc) {
    error_text(err, errn, &e);
    return -1;
  }
  sink_ctx_t c = {.run = run};
  scn_run_opts_t o = {.has_seed = true, .seed = seed, .on_start = on_start, .on_finish = on_finish, .ud = &c};
  if (sched) {
    if (xp_token_check(sc, sched, err, errn)) {
      scn_free(sc);
      return -1;
    }
    c.replay = xp_replay_new(sched);
    o.seed = sched->seed;
  }
  int rc = scn_run(sc, &o, &run->res, &e);
  bool diverged = c.replay && xp_replay_diverged(c.replay, err, errn);
  xp_replay_free(c.replay);
  scn_free(sc);
  if (diverged || rc != SIM_OK) {
    if (!diverged) error_text(err, errn, &e); /* a divergence has said why */
    qz_run_free(run); /* with the steps already kept */
    return -1;
  }
  return 0;
}

void qz_run_free(qz_run_t *run) {
  free(run->ev);
  scn_result_free(&run->res);
  memset(run, 0, sizeof *run);
}

/* ---- helpers ---- */

static const char *status_name(int32_t st, char buf[16]) { return iosim_status_name(st, buf); }

static const char *irql_expect(int irql, char buf[16]) {
  static const char *const names[] = {"PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL"};
  if (irql >= 0 && irql <= 2) return names[irql];
  snprintf(buf, 16, "%d", irql);
  return buf;
}

static const char *frame_name(int f) { return trc_frame_name((trc_frame_t)f); }

/* Where a step ran, in words: "in thread app's context", "in a DPC:
   arbitrary thread context", ... */
static const char *context_words(const qz_ev_t *e, char *buf, size_t n) {
  switch (e->frame) {
  case TRC_FRAME_THREAD: snprintf(buf, n, "in thread %s's context", e->thread[0] ? e->thread : "?"); return buf;
  case TRC_FRAME_APC: snprintf(buf, n, "in a kernel APC in thread %s", e->thread[0] ? e->thread : "?"); return buf;
  case TRC_FRAME_DPC: return "in a DPC: arbitrary thread context";
  case TRC_FRAME_ISR: return "in an ISR";
  default: return "on an idle CPU";
  }
}

typedef struct out {
  qz_buf_t text, steps, expects;
} out_t;

static void step(out_t *o, const qz_ev_t *e) { qz_printf(&o->steps, "%s#%llu", o->steps.len ? " " : "", (unsigned long long)e->seq); }

/* The n-th step of `kind` for IRP `irp` (n >= 1), or NULL. */
static const qz_ev_t *nth(const qz_run_t *r, int kind, const char *irp, int n) {
  for (size_t i = 0; i < r->nev; i++) {
    const qz_ev_t *e = &r->ev[i];
    if (e->kind != kind || strcmp(e->irp, irp)) continue;
    if (--n == 0) return e;
  }
  return NULL;
}

static int count_of(const qz_run_t *r, int kind, const char *irp) {
  int n = 0;
  for (size_t i = 0; i < r->nev; i++)
    if (r->ev[i].kind == kind && (!irp || !strcmp(r->ev[i].irp, irp))) n++;
  return n;
}

static const char *thread_or_none(const qz_ev_t *e) { return e->thread[0] ? e->thread : "none"; }

/* ---- one function per question kind ---- */

static int a_cr_order(const qz_q_t *q, const qz_run_t *r, out_t *o, char *why, size_t wn) {
  char cw[96];
  const char *req = q->req[0];
  const qz_ev_t *calls[16];
  int n = 0;
  for (size_t i = 0; i < r->nev && n < 16; i++)
    if (r->ev[i].kind == TRC_COMPLETION_CALL && !strcmp(r->ev[i].irp, req)) calls[n++] = &r->ev[i];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(calls[i]->dev, calls[j]->dev)) {
        snprintf(why, wn, "%s's routine runs twice for %s", calls[i]->dev, req);
        return -1;
      }
  if (n > 8) {
    snprintf(why, wn, "more than 8 completion routines");
    return -1;
  }
  char b1[16];
  if (!n) {
    qz_printf(&o->text, "No completion routine runs for %s.", req);
    qz_printf(&o->expects, "expect never completion(%s)\n", req);
  } else {
    qz_printf(&o->expects, "expect %s", n > 1 ? "order " : "");
    for (int i = 0; i < n; i++) qz_printf(&o->expects, "%scompletion(%s, %s)", i ? " < " : "", calls[i]->dev, req);
    qz_printf(&o->expects, "\n");
  }
  for (int i = 0; i < n; i++) {
    const qz_ev_t *e = calls[i];
    qz_printf(&o->text, "%s%d. %s's routine (step #%llu): IRQL %s, %s.", i ? " " : "", i + 1, e->dev,
              (unsigned long long)e->seq, trc_irql_name(e->irql, b1), context_words(e, cw, sizeof cw));
    step(o, e);
    char ib[16];
    qz_printf(&o->expects, "expect completion(%s, %s).irql == %s\n", e->dev, req, irql_expect(e->irql, ib));
    qz_printf(&o->expects, "expect completion(%s, %s).frame == %s\n", e->dev, req, frame_name(e->frame));
    if (e->frame == TRC_FRAME_THREAD || e->frame == TRC_FRAME_APC)
      qz_printf(&o->expects, "expect completion(%s, %s).thread == %s\n", e->dev, req, thread_or_none(e));
  }
  /* routines set but never called: their invoke-on bits did not match */
  for (size_t i = 0; i < r->nev; i++) {
    const qz_ev_t *e = &r->ev[i];
    if (e->kind != TRC_SET_COMPLETION || strcmp(e->irp, req) || !e->dev[0]) continue;
    bool called = false, dup = false;
    for (int k = 0; k < n; k++) called |= !strcmp(calls[k]->dev, e->dev);
    for (size_t k = 0; k < i; k++)
      dup |= r->ev[k].kind == TRC_SET_COMPLETION && !strcmp(r->ev[k].irp, req) && !strcmp(r->ev[k].dev, e->dev);
    if (called || dup) continue;
    qz_printf(&o->text, " %s set a routine (step #%llu) that is not called: its invoke-on flags do not match how the IRP completed.",
              e->dev, (unsigned long long)e->seq);
    step(o, e);
    qz_printf(&o->expects, "expect never completion(%s, %s)\n", e->dev, req);
  }
  (void)q;
  return 0;
}

static int a_iosb(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  char cw[96];
  const char *req = q->req[0];
  const qz_ev_t *w = nth(r, TRC_IOSB_WRITTEN, req, 1);
  char b1[16];
  if (!w) {
    qz_printf(&o->text, "Nobody: %s's I/O status block is never written.", req);
    qz_printf(&o->expects, "expect never iosb-written(%s)\n", req);
  } else {
    qz_printf(&o->text, "%s writes it at step #%llu (%s, IRQL %s).", w->thread[0] ? w->thread : "no thread",
              (unsigned long long)w->seq, context_words(w, cw, sizeof cw), trc_irql_name(w->irql, b1));
    step(o, w);
    qz_printf(&o->expects, "expect iosb-written(%s).thread == %s\n", req, thread_or_none(w));
    qz_printf(&o->expects, "expect iosb-written(%s).frame == %s\n", req, frame_name(w->frame));
  }
  const qz_ev_t *a = NULL;
  for (size_t i = 0; i < r->nev && !a; i++)
    if (r->ev[i].kind == TRC_APC_QUEUED && !strcmp(r->ev[i].irp, req) && r->ev[i].count == 0) a = &r->ev[i];
  if (a) {
    qz_printf(&o->text, " A special kernel APC (IopCompleteRequest) is queued to %s at step #%llu.", a->target,
              (unsigned long long)a->seq);
    step(o, a);
    qz_printf(&o->expects, "expect apc-queued(%s, count == 0, target == %s)\n", req, a->target);
  } else {
    qz_printf(&o->text, " No special kernel APC is queued: stage 2 runs %s.",
              nth(r, TRC_STAGE2, req, 1) ? "inline, in the system service" : "nowhere");
    qz_printf(&o->expects, "expect never apc-queued(%s, count == 0)\n", req);
  }
  return 0;
}

static int a_sysret(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  const char *req = q->req[0];
  const qz_ev_t *e = nth(r, TRC_SYSCALL_RETURN, req, 1);
  char b1[16];
  if (!e) {
    qz_printf(&o->text, "ReadFile never returns for %s.", req);
    qz_printf(&o->expects, "expect never syscall-return(%s)\n", req);
    return 0;
  }
  const char *st = status_name(e->status, b1);
  qz_printf(&o->text, "The system service returns %s at step #%llu: ReadFile returns %s.", st, (unsigned long long)e->seq,
            e->status == STATUS_PENDING ? "FALSE with GetLastError() == ERROR_IO_PENDING"
            : e->status >= 0        ? "TRUE"
                                    : "FALSE with the error");
  step(o, e);
  qz_printf(&o->expects, "expect syscall-return(%s).status == %s\n", req, st);
  return 0;
}

static int a_wait(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  /* the n-th wait or sleep of the thread, whichever kind it was */
  int n = q->n, nw = 0, ns = 0;
  const qz_ev_t *e = NULL;
  for (size_t i = 0; i < r->nev && !e; i++) {
    const qz_ev_t *x = &r->ev[i];
    if (strcmp(x->thread, q->thr[0])) continue;
    if (x->kind == TRC_WAIT_DONE) nw++;
    else if (x->kind == TRC_SLEEP_DONE) ns++;
    else continue;
    if (nw + ns == n) e = x;
  }
  char b1[16];
  if (!e) {
    qz_printf(&o->text, "Wait %d of %s never returns: the thread hangs in it.", n, q->thr[0]);
    qz_printf(&o->expects, "expect thread %s waiting\n", q->thr[0]);
    return 0;
  }
  const char *st = status_name(e->status, b1);
  bool sleep = e->kind == TRC_SLEEP_DONE;
  qz_printf(&o->text, "It returns %s at step #%llu", st, (unsigned long long)e->seq);
  if (sleep && e->status == STATUS_USER_APC) qz_printf(&o->text, ": user APCs (the completion routines) ran in it");
  else if (sleep) qz_printf(&o->text, ": its time ran out");
  else if (e->status == STATUS_TIMEOUT) qz_printf(&o->text, ": it timed out");
  else if (strstr(q->stmt, " all")) qz_printf(&o->text, ": every object it waits for is signalled");
  else if (e->wait_index >= 0 && e->object[0]) qz_printf(&o->text, ": %s is signalled (index %d)", e->object, e->wait_index);
  qz_printf(&o->text, "%s.", e->count == 0 ? ", without blocking" : "");
  step(o, e);
  qz_printf(&o->expects, "expect %s(%s, %d).status == %s\n", sleep ? "sleep-done" : "wait-done", q->thr[0],
            sleep ? ns : nw, st);
  return 0;
}

static const char *state_of(const qz_run_t *r, const char *thread) {
  for (int i = 0; i < r->nthreads; i++)
    if (!strcmp(r->names[i], thread)) return r->states[i];
  return "";
}

static bool res_bugcheck(const qz_run_t *r) { return r->res.outcome == SIM_RUN_BUGCHECK; }

static int a_hang(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  const char *t = q->thr[0], *st = state_of(r, t);
  static const char *const outcomes[] = {"ok", "stalled", "bugcheck", "limit", "stopped"};
  unsigned oc = (unsigned)r->res.outcome;
  const char *ocn = oc < sizeof outcomes / sizeof outcomes[0] ? outcomes[oc] : "?";
  if (!strcmp(st, "waiting")) {
    qz_printf(&o->text, "Yes: %s is still waiting when the run ends (%s).", t, ocn);
    qz_printf(&o->expects, "expect thread %s waiting\n", t);
    for (size_t i = 0; i < r->nev; i++) {
      const qz_ev_t *e = &r->ev[i];
      if (e->kind == TRC_THREAD_STUCK && !strcmp(e->target, t)) {
        qz_printf(&o->text, " It waits for %s (step #%llu).", e->object[0] ? e->object : "a request", (unsigned long long)e->seq);
        step(o, e);
      }
      if (e->kind == TRC_IRP_OUTSTANDING && e->irp[0]) {
        qz_printf(&o->text, " %s is never finished (step #%llu).", e->irp, (unsigned long long)e->seq);
        step(o, e);
        qz_printf(&o->expects, "expect irp-outstanding(%s)\n", e->irp);
      }
    }
  } else if (!strcmp(st, "terminated")) {
    const qz_ev_t *x = NULL;
    for (size_t i = 0; i < r->nev; i++)
      if (r->ev[i].kind == TRC_THREAD_EXIT && (!strcmp(r->ev[i].thread, t) || !strcmp(r->ev[i].target, t))) x = &r->ev[i];
    if (x) {
      qz_printf(&o->text, "No: %s exits at step #%llu; the run ends %s.", t, (unsigned long long)x->seq, ocn);
      step(o, x);
    } else qz_printf(&o->text, "No: %s finishes; the run ends %s.", t, ocn);
    qz_printf(&o->expects, "expect thread %s finished\n", t);
  } else if (res_bugcheck(r)) {
    qz_printf(&o->text, "It cannot finish: the machine stops with a bugcheck first.");
  } else {
    qz_printf(&o->text, "%s is %s when the run ends (%s).", t, st, ocn);
    qz_printf(&o->expects, "expect thread %s running\n", t);
  }
  qz_printf(&o->expects, "expect outcome %s\n", ocn);
  return 0;
}

static int a_findings(const qz_q_t *q, const qz_run_t *r, out_t *o, char *why, size_t wn) {
  const scn_result_t *res = &r->res;
  bool on_bug = false;
  if (!res->finding_total) {
    qz_printf(&o->text, "None: the verifier finds nothing wrong.");
    qz_printf(&o->expects, "expect no finding\n");
  }
  for (int i = 0; i < res->finding_total; i++) {
    const vrf_finding_t *f = &res->findings[i];
    bool dup = false;
    for (int k = 0; k < i; k++)
      dup |= !strcmp(res->findings[k].name, f->name) && !strcmp(res->findings[k].irp_tag, f->irp_tag);
    /* the bug's driver, or (an IRP it allocated itself, which the verifier
       may charge to no device) the request named with it */
    if (q->ndev && !strcmp(f->device_name, q->dev[0])) on_bug = true;
    if (q->nreq && !strcmp(f->irp_tag, q->req[0])) on_bug = true;
    if (dup) continue;
    qz_printf(&o->text, "%s%s", i ? " " : "", f->name);
    if (f->irp_tag[0]) qz_printf(&o->text, " for %s", f->irp_tag);
    if (f->device_name[0]) qz_printf(&o->text, " in %s's driver", f->device_name);
    if (f->seq) {
      qz_printf(&o->text, " at step #%llu", (unsigned long long)f->seq);
      qz_printf(&o->steps, "%s#%llu", o->steps.len ? " " : "", (unsigned long long)f->seq);
    } else qz_printf(&o->text, " at the end of the run");
    qz_printf(&o->text, ".");
    qz_printf(&o->expects, "expect finding %s%s%s\n", f->name, f->irp_tag[0] ? " " : "", f->irp_tag);
  }
  if (res->outcome == SIM_RUN_BUGCHECK) {
    qz_printf(&o->text, " The machine stops with bugcheck 0x%X.", res->bugcheck.code);
    qz_printf(&o->expects, "expect bugcheck 0x%X\n", res->bugcheck.code);
  }
  if (q->line) {
    if (!on_bug) {
      snprintf(why, wn, "the generated bug (line %d) shows no finding of %s", q->line, q->dev[0]);
      return -1;
    }
    qz_printf(&o->text, " The bug is in line %d, in %s's driver.", q->line, q->dev[0]);
  } else if (res->finding_total && !q->n) {
    snprintf(why, wn, "findings without a generated bug");
    return -1;
  }
  return 0;
}

static int a_mpr(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  char cw[96];
  const char *r1 = q->req[0], *r2 = q->req[1];
  const qz_ev_t *ws = nth(r, TRC_WALK_STOPPED, r1, 1);
  int nc = count_of(r, TRC_COMPLETE, r1);
  char b1[16];
  if (ws) {
    qz_printf(&o->text, "%s's walk stops at step #%llu (STATUS_MORE_PROCESSING_REQUIRED).", r1, (unsigned long long)ws->seq);
    step(o, ws);
    qz_printf(&o->expects, "expect walk-stopped(%s)\n", r1);
  } else {
    qz_printf(&o->text, "%s's walk never stops.", r1);
    qz_printf(&o->expects, "expect never walk-stopped(%s)\n", r1);
  }
  qz_printf(&o->text, " %s is completed %d time%s.", r1, nc, nc == 1 ? "" : "s");
  qz_printf(&o->expects, "expect count complete(%s) == %d\n", r1, nc);
  const qz_ev_t *wd = nth(r, TRC_WALK_DONE, r1, 1);
  if (wd) {
    const qz_ev_t *st = nth(r, TRC_COMPLETE, r1, nc);
    qz_printf(&o->text, " Its walk finishes at step #%llu with %s.", (unsigned long long)wd->seq,
              st ? status_name(st->status, b1) : "?");
    step(o, wd);
    if (st) qz_printf(&o->expects, "expect %s.status == %s\n", r1, status_name(st->status, b1));
  } else {
    qz_printf(&o->text, " Its walk never finishes: nobody completes it again.");
    qz_printf(&o->expects, "expect %s not completed\n", r1);
  }
  const qz_ev_t *c2 = nth(r, TRC_COMPLETION_CALL, r2, 1);
  if (c2) {
    qz_printf(&o->text, " %s's routine runs at step #%llu, %s.", r2, (unsigned long long)c2->seq, context_words(c2, cw, sizeof cw));
    step(o, c2);
    qz_printf(&o->expects, "expect completion(%s).frame == %s\n", r2, frame_name(c2->frame));
  }
  const qz_ev_t *fr = nth(r, TRC_IRP_FREE, r2, 1);
  if (fr) {
    qz_printf(&o->text, " %s is freed by its creator's routine (step #%llu).", r2, (unsigned long long)fr->seq);
    step(o, fr);
    qz_printf(&o->expects, "expect irp-free(%s)\n", r2);
  }
  return 0;
}

static int a_port(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  for (int i = 0; i < q->nreq; i++) {
    const qz_ev_t *d = nth(r, TRC_PORT_DEQUEUED, q->req[i], 1);
    if (d) {
      qz_printf(&o->text, "%s%s's packet goes to %s (step #%llu).", i ? " " : "", q->req[i], d->thread, (unsigned long long)d->seq);
      step(o, d);
      qz_printf(&o->expects, "expect port-dequeued(%s).thread == %s\n", q->req[i], thread_or_none(d));
    } else {
      qz_printf(&o->text, "%s%s's packet is taken by nobody.", i ? " " : "", q->req[i]);
      qz_printf(&o->expects, "expect never port-dequeued(%s)\n", q->req[i]);
    }
  }
  /* GetQueuedCompletionStatus returns a packet (port-dequeued) or, after
     its timeout, STATUS_TIMEOUT (wait-done) */
  for (int w = 0; w < q->nthr; w++) {
    int got = 0, timeouts = 0;
    qz_printf(&o->text, " %s's GetQueuedCompletionStatus calls return:", q->thr[w]);
    for (size_t i = 0; i < r->nev; i++) {
      const qz_ev_t *e = &r->ev[i];
      if (strcmp(e->thread, q->thr[w])) continue;
      if (e->kind == TRC_PORT_DEQUEUED) {
        got++;
        if (e->irp[0]) qz_printf(&o->text, "%s %s's packet", got + timeouts > 1 ? "," : "", e->irp);
        else qz_printf(&o->text, "%s a packet", got + timeouts > 1 ? "," : "");
        step(o, e);
      } else if (e->kind == TRC_WAIT_DONE && e->status == STATUS_TIMEOUT) {
        timeouts++;
        qz_printf(&o->text, "%s STATUS_TIMEOUT (step #%llu)", got + timeouts > 1 ? "," : "", (unsigned long long)e->seq);
        step(o, e);
      }
    }
    if (!got && !timeouts) qz_printf(&o->text, " nothing");
    bool hangs = !strcmp(state_of(r, q->thr[w]), "waiting");
    qz_printf(&o->text, "; %s %s.", q->thr[w],
              hangs ? "hangs: it waits on the port with no timeout, and no packet is left for it" : "does not hang");
    qz_printf(&o->expects, "expect count port-dequeued(%s) == %d\n", q->thr[w], got);
    qz_printf(&o->expects, "expect count wait-done(%s, STATUS_TIMEOUT) == %d\n", q->thr[w], timeouts);
    qz_printf(&o->expects, "expect thread %s %s\n", q->thr[w], hangs ? "waiting" : "finished");
  }
  return 0;
}

static int a_callbacks(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  const qz_ev_t *cb[QZ_NAMES];
  int n = 0;
  for (size_t i = 0; i < r->nev && n < QZ_NAMES; i++) {
    const qz_ev_t *e = &r->ev[i];
    if (e->kind != TRC_USER_CALLBACK) continue;
    for (int k = 0; k < q->nreq; k++)
      if (!strcmp(e->irp, q->req[k])) cb[n++] = e;
  }
  if (!n) {
    qz_printf(&o->text, "No completion routine runs.");
    qz_printf(&o->expects, "expect never user-callback\n");
    return 0;
  }
  qz_printf(&o->text, "They run in %s, in this order:", cb[0]->thread);
  qz_printf(&o->expects, "expect %s", n > 1 ? "order " : "");
  for (int i = 0; i < n; i++) {
    qz_printf(&o->text, " %s (step #%llu)", cb[i]->irp, (unsigned long long)cb[i]->seq);
    step(o, cb[i]);
    qz_printf(&o->expects, "%suser-callback(%s)", i ? " < " : "", cb[i]->irp);
  }
  qz_printf(&o->text, ".");
  qz_printf(&o->expects, "\n");
  for (int i = 0; i < n; i++) qz_printf(&o->expects, "expect user-callback(%s).thread == %s\n", cb[i]->irp, thread_or_none(cb[i]));
  for (int k = 0; k < q->nreq; k++) {
    bool ran = false;
    for (int i = 0; i < n; i++) ran |= !strcmp(cb[i]->irp, q->req[k]);
    if (!ran) {
      qz_printf(&o->text, " %s's routine never runs.", q->req[k]);
      qz_printf(&o->expects, "expect never user-callback(%s)\n", q->req[k]);
    }
  }
  return 0;
}

static int a_cancel(const qz_q_t *q, const qz_run_t *r, out_t *o) {
  const char *req = q->req[0];
  const qz_ev_t *c = nth(r, TRC_CANCEL, req, 1);
  char b1[16], b2[16];
  if (!c) {
    qz_printf(&o->text, "%s is never cancelled (it is finished when the cancel comes).", req);
    qz_printf(&o->expects, "expect never cancel(%s)\n", req);
  } else {
    bool has = c->cancel_routine == 1;
    qz_printf(&o->text, "IoCancelIrp sets %s's Cancel at step #%llu and finds %s.", req, (unsigned long long)c->seq,
              has ? "a cancel routine" : "no cancel routine (the driver will finish it as usual)");
    step(o, c);
    qz_printf(&o->expects, "expect cancel(%s, routine == %s)\n", req, has ? "set" : "none");
    const qz_ev_t *cr = nth(r, TRC_CANCEL_ROUTINE, req, 1);
    if (cr) {
      qz_printf(&o->text, " The cancel routine runs at step #%llu at IRQL %s in %s.", (unsigned long long)cr->seq,
                trc_irql_name(cr->irql, b1),
                thread_or_none(cr));
      step(o, cr);
      qz_printf(&o->expects, "expect cancel-routine(%s).irql == %s\n", req, irql_expect(cr->irql, b2));
      qz_printf(&o->expects, "expect cancel-routine(%s).thread == %s\n", req, thread_or_none(cr));
    } else {
      qz_printf(&o->expects, "expect never cancel-routine(%s)\n", req);
    }
  }
  const qz_ev_t *wd = nth(r, TRC_WALK_DONE, req, 1);
  if (wd) {
    const qz_ev_t *cp = nth(r, TRC_COMPLETE, req, count_of(r, TRC_COMPLETE, req));
    qz_printf(&o->text, " %s finishes with %s.", req, cp ? status_name(cp->status, b1) : "?");
    if (cp) {
      step(o, cp);
      qz_printf(&o->expects, "expect %s.status == %s\n", req, status_name(cp->status, b1));
    }
  } else {
    qz_printf(&o->text, " %s never finishes.", req);
    qz_printf(&o->expects, "expect %s not completed\n", req);
  }
  int k = 0;
  for (size_t i = 0; i < r->nev; i++) {
    const qz_ev_t *e = &r->ev[i];
    if (e->kind != TRC_SYSCALL_RETURN || strcmp(e->thread, "app")) continue;
    if (strcmp(e->service, "NtCancelIoFileEx") && strcmp(e->service, "NtCancelIoFile")) continue;
    k++;
    qz_printf(&o->text, " %s %d returns %s.", e->service, k, status_name(e->status, b1));
    step(o, e);
    qz_printf(&o->expects, "expect syscall-return(app, service == %s, %d).status == %s\n", e->service, k,
              status_name(e->status, b1));
  }
  return 0;
}

static int a_assoc(const qz_q_t *q, const qz_run_t *r, out_t *o, char *why, size_t wn) {
  char cw[96];
  const char *req = q->req[0];
  int na = count_of(r, TRC_IRP_ASSOCIATED, NULL);
  qz_printf(&o->text, "The volume makes %d associated IRPs.", na);
  qz_printf(&o->expects, "expect count irp-associated == %d\n", na);
  const qz_ev_t *d0 = NULL, *d1 = NULL;
  for (size_t i = 0; i < r->nev; i++) {
    const qz_ev_t *e = &r->ev[i];
    if (e->kind != TRC_DPC_RUN) continue;
    if (!d0 && !strcmp(e->dev, q->dev[0])) d0 = e;
    if (!d1 && !strcmp(e->dev, q->dev[1])) d1 = e;
  }
  if (!d0 || !d1) {
    snprintf(why, wn, "a disk's DPC never runs");
    return -1;
  }
  const qz_ev_t *a = d0->seq < d1->seq ? d0 : d1, *b = a == d0 ? d1 : d0;
  qz_printf(&o->text, " %s's part finishes first (its DPC at step #%llu), then %s's (step #%llu).", a->dev,
            (unsigned long long)a->seq, b->dev, (unsigned long long)b->seq);
  step(o, a);
  step(o, b);
  qz_printf(&o->expects, "expect order dpc(%s) < dpc(%s)\n", a->dev, b->dev);
  const qz_ev_t *last = NULL;
  for (size_t i = 0; i < r->nev; i++)
    if (r->ev[i].kind == TRC_ASSOCIATED_DONE && r->ev[i].count == 0) last = &r->ev[i];
  const qz_ev_t *mc = nth(r, TRC_COMPLETE, req, 1);
  if (last && mc) {
    qz_printf(&o->text, " The last associated IRP (step #%llu) makes the I/O manager complete the master %s at step #%llu, %s.",
              (unsigned long long)last->seq, req, (unsigned long long)mc->seq, context_words(mc, cw, sizeof cw));
    step(o, last);
    step(o, mc);
    qz_printf(&o->expects, "expect order associated-done(count == 0) < complete(%s)\n", req);
    qz_printf(&o->expects, "expect complete(%s).frame == %s\n", req, frame_name(mc->frame));
    qz_printf(&o->expects, "expect count complete(%s) == %d\n", req, count_of(r, TRC_COMPLETE, req));
  } else {
    snprintf(why, wn, "the master never completes");
    return -1;
  }
  return 0;
}

static int a_fastio(const qz_q_t *q, const qz_run_t *r, out_t *o, char *why, size_t wn) {
  int served = 0, tried = 0, reads = 0;
  for (int k = 1; k <= q->n; k++) {
    char from[32], to[32];
    snprintf(from, sizeof from, "read %d", k);
    if (k < q->n) snprintf(to, sizeof to, "read %d", k + 1);
    else snprintf(to, sizeof to, "end");
    size_t i = 0;
    while (i < r->nev && !(r->ev[i].kind == TRC_NOTE && !strcmp(r->ev[i].text, from))) i++;
    const qz_ev_t *fs = NULL, *fd = NULL, *dp = NULL;
    for (i++; i < r->nev && !(r->ev[i].kind == TRC_NOTE && !strcmp(r->ev[i].text, to)); i++) {
      const qz_ev_t *e = &r->ev[i];
      if (e->kind == TRC_FASTIO_SERVED && !fs) fs = e;
      if (e->kind == TRC_FASTIO_DECLINED && !fd) fd = e;
      if (e->kind == TRC_DISPATCH && e->major == IRP_MJ_READ && !strcmp(e->dev, "fs0") && !dp) dp = e;
    }
    if (!fs && !dp) { /* neither fast I/O nor a read IRP between the notes */
      snprintf(why, wn, "read %d: no fast I/O and no read IRP", k);
      return -1;
    }
    qz_printf(&o->text, "%sRead %d: ", k > 1 ? " " : "", k);
    if (fs) {
      served++, tried++;
      qz_printf(&o->text, "served by fast I/O, no IRP (step #%llu).", (unsigned long long)fs->seq);
      step(o, fs);
      qz_printf(&o->expects, "expect order note(\"%s\") < fast-io-served < note(\"%s\")\n", from, to);
    } else if (fd) {
      tried++, reads++;
      qz_printf(&o->text, "fast I/O declines (step #%llu), an IRP does it (step #%llu).", (unsigned long long)fd->seq,
                (unsigned long long)dp->seq);
      step(o, fd);
      qz_printf(&o->expects, "expect order note(\"%s\") < fast-io-declined < dispatch(fs0, major == IRP_MJ_READ) < note(\"%s\")\n",
                from, to);
    } else {
      reads++;
      qz_printf(&o->text, "no fast I/O attempt, an IRP (step #%llu).", (unsigned long long)dp->seq);
      step(o, dp);
      qz_printf(&o->expects, "expect order note(\"%s\") < dispatch(fs0, major == IRP_MJ_READ) < note(\"%s\")\n", from, to);
    }
  }
  qz_printf(&o->text, " In all: %d fast I/O attempts, %d served, %d read IRPs.", tried, served, reads);
  qz_printf(&o->expects, "expect count fast-io == %d\nexpect count fast-io-served == %d\n", tried, served);
  qz_printf(&o->expects, "expect count dispatch(fs0, major == IRP_MJ_READ) == %d\n", reads);
  return 0;
}

static int a_ufs(const qz_q_t *q, const qz_run_t *r, out_t *o, char *why, size_t wn) {
  const char *req = q->req[0];
  const qz_ev_t *rs = nth(r, TRC_UFS_RESPONSE, req, 1);
  const qz_ev_t *pr = nth(r, TRC_UFS_PENDING, req, 1);
  if (!rs) {
    snprintf(why, wn, "no response");
    return -1;
  }
  qz_printf(&o->text, "%s sends the response (step #%llu).", rs->thread, (unsigned long long)rs->seq);
  step(o, rs);
  qz_printf(&o->expects, "expect ufs-response(%s).thread == %s\n", req, thread_or_none(rs));
  if (pr) {
    bool first = rs->seq < pr->seq;
    qz_printf(&o->text, " The dispatcher's pending return comes %s it (step #%llu).", first ? "after" : "before",
              (unsigned long long)pr->seq);
    step(o, pr);
    qz_printf(&o->expects, "expect order %s(%s) < %s(%s)\n", first ? "ufs-response" : "ufs-pending-return", req,
              first ? "ufs-pending-return" : "ufs-response", req);
  } else {
    qz_printf(&o->text, " The dispatcher answers itself: no pending return.");
    qz_printf(&o->expects, "expect never ufs-pending-return(%s)\n", req);
  }
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* "#93 #100 #93" -> "#93 #100": in order, each once. */
static char *sorted_steps(char *s) {
  uint64_t v[64];
  int n = 0;
  for (char *p = s; (p = strchr(p, '#')) && n < 64; p++) v[n++] = strtoull(p + 1, NULL, 10);
  qsort(v, (size_t)n, sizeof *v, cmp_u64);
  qz_buf_t b = {0};
  for (int i = 0; i < n; i++)
    if (!i || v[i] != v[i - 1]) qz_printf(&b, "%s#%llu", b.len ? " " : "", (unsigned long long)v[i]);
  free(s);
  return qz_take(&b);
}

int qz_answer(const qz_q_t *q, const qz_run_t *r, quiz_question_t *out, char *why, size_t wn) {
  out_t o = {0};
  int rc = 0;
  switch (q->kind) {
  case QK_CR_ORDER: rc = a_cr_order(q, r, &o, why, wn); break;
  case QK_IOSB: rc = a_iosb(q, r, &o); break;
  case QK_SYSRET: rc = a_sysret(q, r, &o); break;
  case QK_WAIT: rc = a_wait(q, r, &o); break;
  case QK_HANG: rc = a_hang(q, r, &o); break;
  case QK_FINDINGS: rc = a_findings(q, r, &o, why, wn); break;
  case QK_MPR: rc = a_mpr(q, r, &o); break;
  case QK_PORT: rc = a_port(q, r, &o); break;
  case QK_CALLBACKS: rc = a_callbacks(q, r, &o); break;
  case QK_CANCEL: rc = a_cancel(q, r, &o); break;
  case QK_ASSOC: rc = a_assoc(q, r, &o, why, wn); break;
  case QK_FASTIO: rc = a_fastio(q, r, &o, why, wn); break;
  case QK_UFS: rc = a_ufs(q, r, &o, why, wn); break;
  case QK_RACE: snprintf(why, wn, "a race is answered over its schedules"); rc = -1; break;
  }
  out->answer.text = qz_take(&o.text);
  out->answer.steps = sorted_steps(qz_take(&o.steps));
  out->answer.expects = qz_take(&o.expects);
  return rc;
}

char *qz_question_text(const qz_q_t *q) {
  qz_buf_t b = {0};
  switch (q->kind) {
  case QK_CR_ORDER:
    qz_printf(&b, "In what order do the completion routines run for %s, at which IRQL and in which context? "
                  "Does any routine that was set not run?", q->req[0]);
    break;
  case QK_IOSB:
    qz_printf(&b, "Which thread writes %s's I/O status block, and when? Is a special kernel APC queued?", q->req[0]);
    break;
  case QK_SYSRET: qz_printf(&b, "What does ReadFile return for %s?", q->req[0]); break;
  case QK_WAIT:
    if (q->line) qz_printf(&b, "What does `%s` (line %d) return, and what ends it?", q->stmt, q->line);
    else qz_printf(&b, "What does %s's wait number %d (a wait or a sleep) return?", q->thr[0], q->n);
    break;
  case QK_HANG: qz_printf(&b, "Does thread %s hang? If so, why?", q->thr[0]); break;
  case QK_FINDINGS:
    qz_printf(&b, "Which verifier rule fires, for which request? %s", q->line ? "In which line is the bug?" : "(Maybe none.)");
    break;
  case QK_MPR:
    qz_printf(&b, "Does %s's completion walk stop, how many times is %s completed, and how does it end? "
                  "Where does %s's completion routine run?", q->req[0], q->req[0], q->req[1]);
    break;
  case QK_PORT:
    qz_printf(&b, "Which worker gets which packet (");
    for (int i = 0; i < q->nreq; i++) qz_printf(&b, "%s%s", i ? ", " : "", q->req[i]);
    qz_printf(&b, ")? What does each GetQueuedCompletionStatus return; does a worker hang?");
    break;
  case QK_CALLBACKS:
    qz_printf(&b, "In which thread and in which order do the ReadFileEx completion routines run?");
    break;
  case QK_CANCEL:
    qz_printf(&b, "What does cancelling %s do: is a cancel routine called, at which IRQL and in which thread? "
                  "How does %s end, and what do the cancel calls return?", q->req[0], q->req[0]);
    break;
  case QK_ASSOC:
    qz_printf(&b, "How many associated IRPs are made, which disk finishes first, and when and where is the master %s completed?",
              q->req[0]);
    break;
  case QK_FASTIO:
    qz_printf(&b, "For each read (after note \"read 1\" to \"read %d\"): is it served by fast I/O with no IRP, "
                  "declined, or not tried? How many read IRPs reach fs0?", q->n);
    break;
  case QK_RACE:
    qz_printf(&b, "Cancel races completion on two CPUs. Is there a schedule (at most 2 preemptions) in which they race "
                  "badly (a bugcheck or a broken rule)? If so, answer with its replay token (iosim explore).");
    break;
  case QK_UFS:
    qz_printf(&b, "Which user-mode thread sends the response to %s, and does it come before or after the dispatcher's "
                  "pending return?", q->req[0]);
    break;
  }
  return qz_take(&b);
}
