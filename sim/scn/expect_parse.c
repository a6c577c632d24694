/*
 * expect_parse.c - the `expect` lines: predictions about a run, parsed into
 * what expect.c checks against the trace.
 */
#include "expect_facts.h"
#include "scn_int.h"

#define TKP(L, k) lex_tok((L), (k))

typedef struct ep {
  parser_t *p;
  lexline_t *L;
  int k;
  expect_t *e;
} ep_t;

#define EP_ERR(x, ...) perr((x)->p, (x)->L->file, (x)->L->line, TKP((x)->L, (x)->k)->col, __VA_ARGS__)

static tok_t *cur(ep_t *x) { return TKP(x->L, x->k); }
static bool at_word(ep_t *x, const char *w) { return cur(x)->t == T_WORD && !strcmp(cur(x)->s, w); }
static bool at_op(ep_t *x, const char *o) { return cur(x)->t == T_OP && !strcmp(cur(x)->s, o); }

static const char *kind_alias(const char *w) {
  if (!strcmp(w, "completion")) return "completion-routine";
  if (!strcmp(w, "return")) return "dispatch-return";
  if (!strcmp(w, "call")) return "call-driver";
  if (!strcmp(w, "stopped")) return "walk-stopped";
  return w;
}

/* A word that names a status (STATUS_SUCCESS, ...): never a device, thread
   or request name, which cannot start with STATUS_ and be a known status. */
static bool is_status_name(const char *w) {
  NTSTATUS st;
  return !strncmp(w, "STATUS_", 7) && iosim_status_parse(w, &st);
}

/* KIND(arg, arg...) where an arg is a name, a "text" (a note's or an
   operation's own words), a typed fact `field == value`, a status (the
   same as `status == STATUS_X`), or the occurrence number.  A fact is stored as "field=value" (names never hold '='). */
static void parse_pattern(ep_t *x, pattern_t *pt) {
  int start = x->k;
  if (cur(x)->t != T_WORD) EP_ERR(x, "expected an event pattern such as dpc(disk0) or completion(fs0, r1)");
  const char *w = kind_alias(cur(x)->s);
  pt->kind = !strcmp(w, "any") ? -1 : trc_kind_parse(w);
  if (pt->kind < 0 && strcmp(w, "any"))
    EP_ERR(x, "unknown event kind '%s' (dispatch, return, complete, completion, mark-pending, dpc, isr, apc, stage2, walk-stopped, event-set, ... see docs/scenario-language.md)", cur(x)->s);
  x->k++;
  if (at_op(x, "(")) {
    x->k++;
    while (!at_op(x, ")")) {
      tok_t *t = cur(x);
      if (t->t == T_END) EP_ERR(x, "missing ')' in the event pattern");
      if (pt->nargs == 4) EP_ERR(x, "at most 4 arguments in an event pattern");
      if (t->t == T_STR) {
        size_t n = strlen(t->s);
        char *q = ar_alloc(&x->p->sc->ar, n + 3);
        q[0] = '"';
        memcpy(q + 1, t->s, n);
        q[n + 1] = 0;
        pt->args[pt->nargs++] = q;
      } else if (t->t == T_NUM) {
        pt->nth = (int)t->n;
      } else if (t->t == T_WORD && TKP(x->L, x->k + 1)->t == T_OP && !strcmp(TKP(x->L, x->k + 1)->s, "==")) {
        if (!ex_fact_known(t->s))
          EP_ERR(x, "unknown fact '%s' in the event pattern (%s)", t->s, EX_FACT_NAMES);
        tok_t *val = TKP(x->L, x->k + 2);
        if (val->t != T_WORD && val->t != T_NUM && val->t != T_STR)
          EP_ERR(x, "expected a value after '%s =='", t->s);
        const char *want = ex_fact_bad_value(t->s, val->s);
        if (want) {
          x->k += 2;
          EP_ERR(x, "'%s' is not a value of %s (%s)", val->s, t->s, want);
        }
        size_t n = strlen(t->s) + strlen(val->s) + 2;
        char *q = ar_alloc(&x->p->sc->ar, n);
        snprintf(q, n, "%s=%s", t->s, val->s);
        pt->args[pt->nargs++] = q;
        x->k += 2;
      } else if (t->t == T_WORD && is_status_name(t->s)) {
        /* A bare status means the step's status: `complete(r1, STATUS_CANCELLED)`. */
        size_t n = strlen(t->s) + sizeof "status=";
        char *q = ar_alloc(&x->p->sc->ar, n);
        snprintf(q, n, "status=%s", t->s);
        pt->args[pt->nargs++] = q;
      } else if (t->t == T_WORD && !strncmp(t->s, "STATUS_", 7)) {
        EP_ERR(x, "unknown status '%s' (a status argument is a name such as STATUS_SUCCESS or STATUS_CANCELLED; "
                  "for any other value write status == 0x...)", t->s);
      } else if (t->t == T_WORD) {
        pt->args[pt->nargs++] = t->s;
      } else {
        EP_ERR(x, "unexpected '%s' in the event pattern", t->s);
      }
      x->k++;
      if (at_op(x, ",")) x->k++;
      else if (!at_op(x, ")") && cur(x)->t != T_END) EP_ERR(x, "expected ',' or ')' here");
    }
    x->k++;
  }
  size_t len = 0;
  for (int i = start; i < x->k; i++) len += strlen(TKP(x->L, i)->s) + 2;
  pt->text = ar_alloc(&x->p->sc->ar, len + 1);
  for (int i = start; i < x->k; i++) {
    strcat(pt->text, TKP(x->L, i)->s);
    if (TKP(x->L, i)->t == T_OP && !strcmp(TKP(x->L, i)->s, ",")) strcat(pt->text, " ");
  }
}

static cmp_t parse_cmp_ep(ep_t *x) {
  static const char *ops[] = {"==", "!=", "<", "<=", ">", ">="};
  if (cur(x)->t == T_OP)
    for (int i = 0; i < 6; i++)
      if (!strcmp(cur(x)->s, ops[i])) {
        x->k++;
        return (cmp_t)i;
      }
  EP_ERR(x, "expected a comparison (== or !=, <, <=, >, >=) here");
}

static int parse_irql(ep_t *x) {
  tok_t *t = cur(x);
  if (t->t == T_NUM) return (int)t->n;
  const char *w = t->s;
  if (!strcmp(w, "PASSIVE_LEVEL") || !strcmp(w, "PASSIVE")) return 0;
  if (!strcmp(w, "APC_LEVEL") || !strcmp(w, "APC")) return 1;
  if (!strcmp(w, "DISPATCH_LEVEL") || !strcmp(w, "DISPATCH")) return 2;
  if (!strcmp(w, "HIGH_LEVEL") || !strcmp(w, "HIGH")) return 15;
  EP_ERR(x, "expected an IRQL (PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL or a number)");
}

static bool in_list(const char *w, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(w, *list)) return true;
  return false;
}

/* `.field OP value` after a request (on_event false) or an event pattern;
   field_k is the field's token, where an unknown field is reported. */
static void parse_field(ep_t *x, const char *field, int field_k, bool on_event) {
  static const char *const irp_fields[] = {"status", "information", "pending-returned", "data", NULL};
  static const char *const ev_fields[] = {"irql", "frame", "cpu", "thread", "status", "time", NULL};
  expect_t *e = x->e;
  if (!in_list(field, on_event ? ev_fields : irp_fields)) {
    x->k = field_k; /* reported at the field */
    EP_ERR(x, on_event ? "unknown field '%s' of an event (irql, frame, cpu, thread, status, time)"
                       : "unknown field '%s' of a request (status, information, pending-returned, data)",
           field);
  }
  e->field = (char *)field;
  e->cmp = parse_cmp_ep(x);
  tok_t *t = cur(x);
  if (t->t == T_END) EP_ERR(x, "expected a value here");
  if (!strcmp(field, "status")) {
    NTSTATUS st;
    if (!iosim_status_parse(t->s, &st)) EP_ERR(x, "expected a status here (e.g. STATUS_SUCCESS)");
    e->value = st;
  } else if (!strcmp(field, "irql")) {
    e->value = parse_irql(x);
  } else if (!strcmp(field, "information") || !strcmp(field, "cpu") || !strcmp(field, "time")) {
    if (t->t != T_NUM) EP_ERR(x, "expected a number here");
    e->value = t->n;
  } else if (!strcmp(field, "data")) { /* "text" or 0xHEX: the buffer's first bytes */
    if (t->t == T_STR) {
      e->svalue = t->s;
      e->value = (int64_t)strlen(t->s);
    } else {
      size_t len = t->t == T_NUM ? strlen(t->s) : 0;
      if (len < 4 || t->s[0] != '0' || (t->s[1] != 'x' && t->s[1] != 'X') || len % 2)
        EP_ERR(x, "expected bytes here: \"text\" or 0x followed by pairs of hex digits");
      e->svalue = ar_alloc(&x->p->sc->ar, (len - 2) / 2 + 1);
      for (size_t i = 2; i < len; i += 2) {
        char hx[3] = {t->s[i], t->s[i + 1], 0};
        e->svalue[(i - 2) / 2] = (char)strtoul(hx, NULL, 16);
      }
      e->value = (int64_t)(len - 2) / 2;
    }
  } else if (!strcmp(field, "pending-returned")) {
    if (strcmp(t->s, "true") && strcmp(t->s, "false")) EP_ERR(x, "expected true or false");
    e->value = !strcmp(t->s, "true");
  } else if (!strcmp(field, "frame")) {
    static const char *fr[] = {"idle", "thread", "apc", "dpc", "isr"};
    int f = -1;
    for (int i = 0; i < 5; i++)
      if (!strcmp(t->s, fr[i])) f = i;
    if (f < 0) EP_ERR(x, "expected a frame: thread, apc, dpc, isr or idle");
    e->value = f;
  } else { /* thread: the last field of the lists above */
    if (t->t != T_WORD) EP_ERR(x, "expected a thread name or none");
    e->svalue = t->s;
  }
  if ((e->cmp != CMP_EQ && e->cmp != CMP_NE) && strcmp(field, "information") && strcmp(field, "cpu") &&
      strcmp(field, "irql") && strcmp(field, "time"))
    EP_ERR(x, "'%s' compares with == or != only", field);
  x->k++;
}


expect_t *parse_expect(parser_t *p, lexline_t *L) {
  expect_t *e = ar_alloc(&p->sc->ar, sizeof *e);
  ep_t X = {.p = p, .L = L, .k = 1, .e = e}, *x = &X;
  e->at = (loc_t){L->file, L->line, TKP(L, 0)->col};
  e->text = L->raw;
  if (at_word(x, "sometimes")) { /* over the scenario's seeds, at least once */
    e->sometimes = true;
    x->k++;
  }
  if (cur(x)->t != T_WORD) EP_ERR(x, "expected a prediction after expect");
  if (at_word(x, "thread")) {
    e->kind = EX_THREAD_STATE;
    x->k++;
    if (cur(x)->t != T_WORD) EP_ERR(x, "expected a thread name");
    e->subject = cur(x)->s;
    x->k++;
    if (!at_word(x, "finished") && !at_word(x, "waiting") && !at_word(x, "running"))
      EP_ERR(x, "expected finished, waiting or running");
    e->svalue = cur(x)->s;
    x->k++;
  } else if (at_word(x, "bugcheck") || (at_word(x, "no") && !strcmp(TKP(L, 2)->s, "bugcheck"))) {
    e->kind = EX_BUGCHECK;
    if (at_word(x, "no")) {
      e->negate = true;
      x->k += 2;
    } else {
      x->k++;
      tok_t *t = cur(x);
      if (t->t == T_NUM) e->value = t->n;
      else {
        ULONG code;
        e->value = iosim_bugcheck_parse(t->s, &code) ? (int64_t)code : -1;
        if (e->value < 0) EP_ERR(x, "expected a bugcheck code or name (e.g. 0x44, MULTIPLE_IRP_COMPLETE_REQUESTS)");
      }
      x->k++;
    }
  } else if (at_word(x, "finding") || (at_word(x, "no") && !strcmp(TKP(L, 2)->s, "finding"))) {
    /* finding RULE [IRP] | no finding [RULE]: what the verifier reports. */
    e->kind = EX_FINDING;
    if (at_word(x, "no")) e->negate = true, x->k++;
    x->k++;
    if (cur(x)->t == T_WORD) {
      if (!vrf_rule_by_name(cur(x)->s)) {
        char names[1024] = "";
        for (int i = 0; i < VRF_RULE_COUNT; i++) {
          strcat(names, i ? ", " : "");
          strcat(names, vrf_rule_info((vrf_rule_t)i)->name);
        }
        EP_ERR(x, "unknown verifier rule '%s' (%s)", cur(x)->s, names);
      }
      e->svalue = cur(x)->s;
      x->k++;
      if (cur(x)->t == T_WORD && !e->negate) e->subject = cur(x)->s, x->k++;
    } else if (!e->negate) {
      EP_ERR(x, "expected a verifier rule after finding (e.g. pending-not-marked)");
    }
  } else if (at_word(x, "outcome")) {
    e->kind = EX_OUTCOME;
    x->k++;
    static const char *oc[] = {"ok", "stalled", "bugcheck", "limit", "stopped"};
    e->value = -1;
    for (int i = 0; i < 5; i++)
      if (at_word(x, oc[i])) e->value = i;
    if (e->value < 0) EP_ERR(x, "expected ok, stalled, bugcheck or limit");
    x->k++;
  } else if (at_word(x, "order")) {
    e->kind = EX_ORDER;
    x->k++;
    for (;;) {
      if (e->npats == 8) EP_ERR(x, "at most 8 events in an order");
      parse_pattern(x, &e->pats[e->npats++]);
      if (!at_op(x, "<")) break;
      x->k++;
    }
    if (e->npats < 2) EP_ERR(x, "an order needs at least two events: A < B");
  } else if (at_word(x, "count")) {
    e->kind = EX_COUNT;
    x->k++;
    bool paren = at_op(x, "("); /* count(PATTERN) and count PATTERN */
    if (paren) x->k++;
    parse_pattern(x, &e->pats[e->npats++]);
    if (paren) {
      if (!at_op(x, ")")) EP_ERR(x, "missing ')' after count(...");
      x->k++;
    }
    e->cmp = parse_cmp_ep(x);
    if (cur(x)->t != T_NUM) EP_ERR(x, "expected a count");
    e->value = cur(x)->n;
    x->k++;
  } else if (at_word(x, "never") || at_word(x, "no")) {
    e->kind = EX_EXISTS;
    e->negate = true;
    x->k++;
    parse_pattern(x, &e->pats[e->npats++]);
  } else if (cur(x)->t == T_WORD && TKP(L, 2)->t != T_OP && strchr(cur(x)->s, '.') == NULL &&
             (!strcmp(TKP(L, 2)->s, "completed") || !strcmp(TKP(L, 2)->s, "not"))) {
    e->kind = EX_IRP_COMPLETED;
    e->subject = cur(x)->s;
    x->k++;
    if (at_word(x, "not")) e->negate = true, x->k++;
    if (!at_word(x, "completed")) EP_ERR(x, "expected completed");
    x->k++;
  } else if (cur(x)->t == T_WORD && strchr(cur(x)->s, '.')) {
    e->kind = EX_IRP_FIELD; /* NAME.field: a request's final facts */
    char *dot = strrchr(cur(x)->s, '.');
    e->subject = ar_strndup(&p->sc->ar, cur(x)->s, (size_t)(dot - cur(x)->s));
    x->k++;
    parse_field(x, dot + 1, x->k - 1, false);
  } else {
    parse_pattern(x, &e->pats[e->npats++]);
    if (cur(x)->t == T_WORD && cur(x)->s[0] == '.') {
      e->kind = EX_EVENT_FIELD;
      const char *f = cur(x)->s + 1;
      x->k++;
      parse_field(x, f, x->k - 1, true);
    } else {
      e->kind = EX_EXISTS;
    }
  }
  if (cur(x)->t != T_END) EP_ERR(x, "unexpected '%s' at the end of the expectation", cur(x)->s);
  return e;
}
