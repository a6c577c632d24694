/*
 * parse_ops.c - the scenario language's one keyword table (every statement
 * word: what it is, where it may appear, what reads it) and the readers of
 * driver-routine and thread-program operations, each filling its own typed
 * fields of an op_t.
 */
#include "parse_int.h"

/* Allocates an operation of kw's kind where the block is being read; it is
   linked in at once, which is safe because any error abandons the load. */
static op_t *add_op(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = ar_alloc(&c->p->sc->ar, sizeof *o);
  o->kind = kw->op;
  o->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 0)->col};
  o->text = c->L.raw;
  *b->tail = o;
  b->tail = &o->next;
  return o;
}

static bool is_op(const lexline_t *L, int k, const char *s) {
  const tok_t *t = TK(L, k);
  return t->t == T_OP && strcmp(t->s, s) == 0;
}

/* `info N` or `info length` at k; returns the next index. */
static int parse_info(cursor_t *c, op_status_t *st, int k) {
  if (!is_word(&c->L, k, "info")) return k;
  if (is_word(&c->L, k + 1, "length")) st->info = INFO_LENGTH;
  else {
    st->info = INFO_NUM;
    st->info_bytes = need_num(c, k + 1, "a byte count or 'length'");
  }
  return k + 2;
}

static cmp_t parse_cmp(cursor_t *c, int k) {
  static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="}; /* in cmp_t order */
  tok_t *t = TK(&c->L, k);
  if (t->t == T_OP)
    for (int i = 0; i < 6; i++)
      if (strcmp(t->s, ops[i]) == 0) return (cmp_t)i;
  ERR_AT(c, k, "expected a comparison (==, !=, <, <=, >, >=) here");
}

/* ---- conditions of if and while ---- */

/* What follows a condition's word. */
typedef enum { CA_NONE, CA_NAME, CA_STATUS, CA_CMP_NUM, CA_NAME_CMP_NUM, CA_CMP_DEVICE } cond_args_t;

static const struct cond_word {
  const char *word;
  cond_kind_t kind;
  cond_args_t args;
  const char *name_what, *num_what;
} cond_words[] = {
    {"pending-returned", COND_PENDING_RETURNED, CA_NONE, NULL, NULL},
    {"cancel", COND_CANCEL, CA_NONE, NULL, NULL},
    {"irp", COND_HAS_IRP, CA_NONE, NULL, NULL},
    {"queue-empty", COND_QUEUE_EMPTY, CA_NAME, "a queue name", NULL},
    {"status", COND_STATUS, CA_STATUS, NULL, NULL},
    {"lower-status", COND_LOWER_STATUS, CA_STATUS, NULL, NULL},
    {"cached", COND_CACHED, CA_NONE, NULL, NULL},       /* the request's byte range */
    {"locked", COND_LOCKED, CA_NONE, NULL, NULL},
    {"cancel-owned", COND_CANCEL_OWNED, CA_NONE, NULL, NULL}, /* the last set/clear-cancel took a routine away */
    {"context", COND_CONTEXT, CA_CMP_NUM, NULL, "a context value"}, /* set-completion ... context N */
    {"counter", COND_COUNTER, CA_NAME_CMP_NUM, "a counter name", "a count"},
    /* the routine's DeviceObject argument: a completion routine's is the
       device of the location above its own, NULL for the IRP's creator */
    {"device-object", COND_DEVICE_OBJECT, CA_CMP_DEVICE, NULL, NULL},
};

static void parse_cond(cursor_t *c, cond_t *cd, int k) {
  if (is_word(&c->L, k, "not")) {
    cd->negate = true;
    k++;
  }
  const char *w = need_name(c, k, "a condition (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked, device-object)");
  const struct cond_word *cw = NULL;
  for (size_t i = 0; i < sizeof cond_words / sizeof cond_words[0] && !cw; i++)
    if (strcmp(cond_words[i].word, w) == 0) cw = &cond_words[i];
  if (!cw)
    ERR_AT(c, k, "unknown condition '%s' (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked, device-object)", w);
  cd->kind = cw->kind;
  k++;
  switch (cw->args) {
  case CA_NONE: break;
  case CA_NAME: cd->name = need_name(c, k++, cw->name_what); break;
  case CA_STATUS:
    cd->cmp = parse_cmp(c, k);
    if (cd->cmp != CMP_EQ && cd->cmp != CMP_NE) ERR_AT(c, k, "statuses compare with == or != only");
    if (is_word(&c->L, k + 1, "success")) cd->status_class = STC_SUCCESS; /* NT_SUCCESS */
    else if (is_word(&c->L, k + 1, "error")) cd->status_class = STC_ERROR;
    else cd->value = need_status(c, k + 1);
    k += 2;
    break;
  case CA_CMP_DEVICE:
    cd->cmp = parse_cmp(c, k);
    if (cd->cmp != CMP_EQ && cd->cmp != CMP_NE) ERR_AT(c, k, "device-object compares with == or != only");
    cd->name = need_name(c, k + 1, "a device name or none");
    if (!strcmp(cd->name, "none")) cd->name = NULL;
    k += 2;
    break;
  case CA_NAME_CMP_NUM: cd->name = need_name(c, k++, cw->name_what); /* fall through */
  case CA_CMP_NUM:
    cd->cmp = parse_cmp(c, k);
    cd->value = need_num(c, k + 1, cw->num_what);
    k += 2;
    break;
  }
  need_end_of_line(c, k);
}

/* ---- driver routine operations ---- */

/* copy-stack, mark-pending, clear-cancel...: the word alone. */
static void p_bare(cursor_t *c, const keyword_t *kw, block_t *b) {
  add_op(c, kw, b);
  need_end_of_line(c, 1);
}

/* queue Q, signal E, close F...: one name, kw->what. */
static void p_named(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  o->named.name = need_name(c, 1, kw->what);
  need_end_of_line(c, 2);
}

static void p_fast_serve(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_status_t *st = &add_op(c, kw, b)->status;
  int k = 1;
  st->status = STATUS_SUCCESS;
  st->has_status = true;
  if (TK(&c->L, k)->t != T_END && !is_word(&c->L, k, "info")) st->status = need_status(c, k++);
  st->info = INFO_LENGTH;
  k = parse_info(c, st, k);
  need_end_of_line(c, k);
}

/* split N to DEV [DEV...]: IoMakeAssociatedIrp N times, IrpCount = N */
static void p_split(cursor_t *c, const keyword_t *kw, block_t *b) {
  lexline_t *L = &c->L;
  op_split_t *s = &add_op(c, kw, b)->split;
  int k = 1;
  int64_t n = need_num(c, k++, "the number of associated IRPs");
  if (n < 1 || n > 16) ERR_AT(c, k - 1, "split makes 1 to 16 associated IRPs");
  s->count = (int)n;
  if (!is_word(L, k, "to")) ERR_AT(c, k, "expected 'to DEVICE...' here");
  k++;
  s->to = ar_alloc(&c->p->sc->ar, sizeof(char *) * (size_t)(L->n + 1));
  for (; TK(L, k)->t == T_WORD; k++) s->to[s->nto++] = TK(L, k)->s;
  if (!s->nto) ERR_AT(c, k, "expected one or more device names after 'to'");
  need_end_of_line(c, k);
}

static void p_set_cancel(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  o->set_cancel.routine = need_name(c, 1, "a cancel routine name");
  need_end_of_line(c, 2);
}

static void p_set_completion(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { SC_ON, SC_SUCCESS, SC_ERROR, SC_CANCEL, SC_CONTEXT };
  static const char *const words[] = {"on", "success", "error", "cancel", "context", NULL};
  lexline_t *L = &c->L;
  op_set_completion_t *s = &add_op(c, kw, b)->set_completion;
  s->routine = need_name(c, 1, "a completion routine name");
  int k = 2;
  for (; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case SC_ON: break;
    case SC_SUCCESS: s->on_success = true; break;
    case SC_ERROR: s->on_error = true; break;
    case SC_CANCEL: s->on_cancel = true; break;
    case SC_CONTEXT:
      s->context = need_num(c, k + 1, "a context value");
      k++;
      break;
    default: ERR_AT(c, k, "expected success, error, cancel or context here");
    }
  }
  if (!s->on_success && !s->on_error && !s->on_cancel) s->on_success = s->on_error = s->on_cancel = true;
}

/* set-status, complete, complete-original */
static void p_status(cursor_t *c, const keyword_t *kw, block_t *b) {
  lexline_t *L = &c->L;
  op_status_t *st = &add_op(c, kw, b)->status;
  int k = 1;
  if (is_word(L, k, "lower-status")) {
    st->from_lower = true; /* the status the last call-lower / send returned */
    st->has_status = true;
    k++;
  } else if (TK(L, k)->t != T_END && !is_word(L, k, "info") && !is_word(L, k, "boost")) {
    st->status = need_status(c, k++);
    st->has_status = true;
  } else if (kw->op == OP_SET_STATUS) {
    need_status(c, k); /* set-status says which */
  }
  k = parse_info(c, st, k);
  if (is_word(L, k, "boost")) {
    st->boost = need_num(c, k + 1, "a priority boost");
    st->has_boost = true;
    k += 2;
  }
  need_end_of_line(c, k);
}

static void p_return(cursor_t *c, const keyword_t *kw, block_t *b) {
  /* in ret_kind_t order after RET_STATUS */
  static const char *const words[] = {"lower-status", "irp-status", "more-processing", "continue", NULL};
  op_return_t *r = &add_op(c, kw, b)->ret;
  int w = word_index(&c->L, 1, words);
  if (w >= 0) r->how = (ret_kind_t)(RET_LOWER + w);
  else {
    r->how = RET_STATUS;
    r->status = need_status(c, 1);
  }
  need_end_of_line(c, 2);
}

static void p_start_io(cursor_t *c, const keyword_t *kw, block_t *b) {
  lexline_t *L = &c->L;
  op_start_io_t *s = &add_op(c, kw, b)->start_io;
  for (int k = 1; TK(L, k)->t != T_END; k++) {
    if (is_word(L, k, "latency")) {
      s->latency = need_time(c, k + 1);
      s->has_latency = true;
      k++;
    } else if (is_word(L, k, "detached")) {
      s->detached = true;
    } else ERR_AT(c, k, "expected latency or detached here");
  }
}

/* request-dpc [importance I] [cpu N]: KeSetImportanceDpc and
   KeSetTargetProcessorDpc on the device's DPC, then IoRequestDpc. */
static void p_request_dpc(cursor_t *c, const keyword_t *kw, block_t *b) {
  lexline_t *L = &c->L;
  op_request_dpc_t *r = &add_op(c, kw, b)->request_dpc;
  r->importance = r->cpu = -1;
  for (int k = 1; TK(L, k)->t != T_END; k += 2) {
    if (is_word(L, k, "importance")) {
      r->importance = need_importance(c, k + 1);
    } else if (is_word(L, k, "cpu")) {
      int64_t n = need_num(c, k + 1, "the CPU whose queue gets the DPC");
      if (n >= SIM_MAX_CPUS) ERR_AT(c, k + 1, "cpu must be 0..%d", SIM_MAX_CPUS - 1);
      r->cpu = (int)n;
      r->cpu_col = TK(L, k + 1)->col;
    } else ERR_AT(c, k, "expected importance or cpu here");
  }
}

/* The objects, modes and timeout of a wait, from token 1 to the end. */
typedef struct wait_list {
  const char **names;
  int n;
  bool all, alertable, has_timeout;
  int64_t timeout;
} wait_list_t;

static void parse_wait_list(cursor_t *c, wait_list_t *w) {
  enum { WT_ANY, WT_ALL, WT_ALERTABLE, WT_TIMEOUT };
  static const char *const words[] = {"any", "all", "alertable", "timeout", NULL};
  lexline_t *L = &c->L;
  w->names = ar_alloc(&c->p->sc->ar, sizeof(char *) * (size_t)(L->n + 1));
  for (int k = 1; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case WT_ANY: break;
    case WT_ALL: w->all = true; break;
    case WT_ALERTABLE: w->alertable = true; break;
    case WT_TIMEOUT:
      w->timeout = need_time(c, k + 1);
      w->has_timeout = true;
      k++;
      break;
    default:
      if (TK(L, k)->t != T_WORD) ERR_AT(c, k, "expected an object name, any, all, timeout or alertable");
      w->names[w->n++] = TK(L, k)->s;
    }
  }
}

static void p_kwait(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_kwait_t *kwt = &add_op(c, kw, b)->kwait;
  wait_list_t w = {0};
  parse_wait_list(c, &w);
  if (w.n != 1) ERR_AT(c, 1, "a driver waits for exactly one event");
  if (w.all || w.alertable)
    ERR_AT(c, 2, "a driver's wait is a kernel-mode wait for one event: only 'timeout T' may follow");
  kwt->event = w.names[0];
  kwt->has_timeout = w.has_timeout;
  kwt->timeout = w.timeout;
}

static void p_counter(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_counter_t *n = &add_op(c, kw, b)->counter;
  n->name = need_name(c, 1, "a counter name");
  if (is_op(&c->L, 2, "+=")) n->add = true;
  else if (!is_op(&c->L, 2, "==")) ERR_AT(c, 2, "expected '+=' or '==' (assign) here");
  n->value = need_num(c, 3, "the counter's value");
  need_end_of_line(c, 4);
}

static void p_send(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { SD_TO, SD_COMPLETION, SD_AS };
  static const char *const words[] = {"to", "completion", "as", NULL};
  lexline_t *L = &c->L;
  op_send_t *s = &add_op(c, kw, b)->send;
  int m = scn_major_parse(need_name(c, 1, "a major function (read, write, ioctl, ...)"));
  if (m < 0) ERR_AT(c, 1, "unknown major function '%s'", TK(L, 1)->s);
  s->major = (UCHAR)m;
  s->length = need_num(c, 2, "a length");
  int k = 3;
  for (; TK(L, k)->t != T_END; k += 2) {
    switch (word_index(L, k, words)) {
    case SD_TO: s->to = need_name(c, k + 1, "a device name"); break;
    case SD_COMPLETION: s->completion = need_name(c, k + 1, "a completion routine name"); break;
    case SD_AS: s->as = need_name(c, k + 1, "a name for the IRP"); break;
    default: ERR_AT(c, k, "expected to, completion or as here");
    }
  }
  need_end_of_line(c, k);
}

static void p_if(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  parse_cond(c, &o->branch.cond, 1);
  bool el = false;
  o->branch.body = parse_block(c, b->where, o->at, "if", true, &el);
  if (el) o->branch.else_body = parse_block(c, b->where, o->at, "else", false, NULL);
}

static void p_while(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  parse_cond(c, &o->branch.cond, 1);
  o->branch.body = parse_block(c, b->where, o->at, "while", false, NULL);
}

/* ---- in routines and programs alike ---- */

static void p_delay(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  o->delay_ns = need_time(c, 1);
  need_end_of_line(c, 2);
}

static void p_note(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  if (TK(&c->L, 1)->t != T_STR) ERR_AT(c, 1, "expected a quoted text after %s", kw->word);
  o->note = TK(&c->L, 1)->s;
  need_end_of_line(c, 2);
}

/* ---- thread program statements ---- */

static void p_open(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { OM_OVERLAPPED, OM_ALERTABLE, OM_SYNCHRONOUS };
  static const char *const words[] = {"overlapped", "alertable", "synchronous", NULL};
  lexline_t *L = &c->L;
  op_open_t *o = &add_op(c, kw, b)->open;
  o->file = need_name(c, 1, "a file name");
  o->device = need_name(c, 2, "a device name");
  for (int k = 3; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case OM_OVERLAPPED: o->overlapped = true; break;
    case OM_ALERTABLE: o->alertable = true; break;
    case OM_SYNCHRONOUS: break;
    default: ERR_AT(c, k, "expected overlapped, synchronous or alertable here");
    }
  }
}

/* BYTES: "text" (its characters) or 0xHEX (its bytes, two digits each, in
   the order written); the bytes live in the scenario's arena. */
static const unsigned char *need_bytes(cursor_t *c, int k, int64_t *len) {
  const tok_t *t = TK(&c->L, k);
  if (t->t == T_STR) {
    *len = (int64_t)strlen(t->s);
    return (const unsigned char *)t->s;
  }
  size_t n = t->t == T_NUM ? strlen(t->s) : 0;
  if (n < 4 || t->s[0] != '0' || (t->s[1] != 'x' && t->s[1] != 'X') || n % 2)
    ERR_AT(c, k, "expected bytes here: \"text\" or 0x followed by pairs of hex digits");
  unsigned char *b = ar_alloc(&c->p->sc->ar, (n - 2) / 2);
  for (size_t i = 2; i < n; i += 2) {
    char hx[3] = {t->s[i], t->s[i + 1], 0};
    b[(i - 2) / 2] = (unsigned char)strtoul(hx, NULL, 16);
  }
  *len = (int64_t)(n - 2) / 2;
  return b;
}

/* fill BYTES: into the IRP's output buffer, by the request's method. */
static void p_fill(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_io_t *f = &add_op(c, kw, b)->fill;
  f->data = need_bytes(c, 1, &f->data_len);
  need_end_of_line(c, 2);
}

/* read F N, write F N | write F data BYTES, ioctl F CODE, and their options. */
static void p_io(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { IO_EVENT, IO_AS, IO_APC, IO_NO_PORT, IO_AT, IO_IN, IO_OUT, IO_DATA };
  static const char *const words[] = {"event", "as", "apc", "no-port", "at", "in", "out", "data", NULL};
  lexline_t *L = &c->L;
  bool ioctl = kw->op == OP_IOCTL;
  op_io_t *io = &add_op(c, kw, b)->io;
  io->file = need_name(c, 1, "a file name");
  int k = 2;
  bool has_length = true;
  if (ioctl) io->code = need_num(c, k++, "an IOCTL code");
  else if (kw->op == OP_WRITE && is_word(L, k, "data")) has_length = false; /* the data's length */
  else io->length = need_num(c, k++, "a length");
  for (; TK(L, k)->t != T_END; k++) {
    int w = word_index(L, k, words);
    if (w == IO_EVENT) io->event = need_name(c, ++k, "an event name");
    else if (w == IO_AS) io->as = need_name(c, ++k, "a name for the IRP");
    else if (w == IO_APC) io->apc = true;
    else if (w == IO_NO_PORT) io->no_port = true;
    else if (w == IO_AT && !ioctl) io->has_offset = true, io->offset = need_num(c, ++k, "a byte offset");
    else if (w == IO_DATA && kw->op != OP_READ) {
      io->data = need_bytes(c, ++k, &io->data_len);
      if (ioctl && io->in_len < io->data_len) io->in_len = io->data_len;
      else if (!has_length) io->length = io->data_len;
      else if (io->data_len > io->length) ERR_AT(c, k, "%lld bytes of data do not fit in a write of %lld",
                                                 (long long)io->data_len, (long long)io->length);
    } else if (ioctl && w == IO_IN && TK(L, k + 1)->t == T_STR) {
      io->data = need_bytes(c, ++k, &io->data_len);
      io->in_len = io->data_len;
    } else if (ioctl && (w == IO_IN || w == IO_OUT)) {
      int64_t v = need_num(c, k + 1, "a buffer length");
      if (w == IO_OUT) io->length = v;
      else io->in_len = v;
      k++;
    } else if (ioctl) ERR_AT(c, k, "expected event, as, apc, no-port, in, out or data here");
    else if (kw->op == OP_WRITE) ERR_AT(c, k, "expected event, as, apc, no-port, at or data here");
    else ERR_AT(c, k, "expected event, as, apc, no-port or at here");
  }
}

static void p_uwait(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_uwait_t *u = &add_op(c, kw, b)->uwait;
  wait_list_t w = {0};
  parse_wait_list(c, &w);
  if (w.n == 0) ERR_AT(c, 1, "wait needs at least one object");
  *u = (op_uwait_t){.objects = w.names, .nobjects = w.n, .all = w.all, .alertable = w.alertable,
                    .has_timeout = w.has_timeout, .timeout = w.timeout};
}

static void p_sleep(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_sleep_t *s = &add_op(c, kw, b)->sleep;
  int k = 1;
  s->ns = need_time(c, k++);
  if (is_word(&c->L, k, "alertable")) s->alertable = true, k++;
  need_end_of_line(c, k);
}

static void p_repeat(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_t *o = add_op(c, kw, b);
  o->repeat.count = need_num(c, 1, "a repeat count");
  need_end_of_line(c, 2);
  o->repeat.body = parse_block(c, b->where, o->at, "repeat", false, NULL);
}

/* CancelIoEx(file[, request]), CancelIo(file), CancelSynchronousIo(thread) */
static void p_cancel(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_cancel_t *x = &add_op(c, kw, b)->cancel;
  int k = 1;
  x->target = need_name(c, k++, kw->what);
  if (kw->op == OP_CANCEL_IO_EX && TK(&c->L, k)->t == T_WORD) x->request = TK(&c->L, k)->s, k++;
  need_end_of_line(c, k);
}

/* queue-apc THREAD [name NAME]: QueueUserAPC */
static void p_queue_apc(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_queue_apc_t *q = &add_op(c, kw, b)->queue_apc;
  int k = 1;
  q->thread = need_name(c, k++, "a thread name");
  if (is_word(&c->L, k, "name")) {
    q->name = need_name(c, k + 1, "a name for the APC");
    k += 2;
  }
  need_end_of_line(c, k);
}

/* LockFileEx, exclusive */
static void p_lock(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_lock_t *l = &add_op(c, kw, b)->lock;
  l->file = need_name(c, 1, "a file name");
  l->offset = need_num(c, 2, "a byte offset");
  l->length = need_num(c, 3, "a length");
  need_end_of_line(c, 4);
}

static void p_associate(cursor_t *c, const keyword_t *kw, block_t *b) {
  op_associate_t *a = &add_op(c, kw, b)->associate;
  int k = 1;
  a->file = need_name(c, k++, "a file name");
  a->port = need_name(c, k++, "a port name");
  if (is_word(&c->L, k, "key")) a->key = need_num(c, k + 1, "a completion key"), k += 2;
  need_end_of_line(c, k);
}

/* SetFileCompletionNotificationModes: one mode or both, in any order. */
static void p_notify_modes(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { NM_PORT, NM_EVENT };
  static const char *const words[] = {"skip-port-on-success", "skip-set-event", NULL};
  lexline_t *L = &c->L;
  op_notify_modes_t *m = &add_op(c, kw, b)->modes;
  int k = 1;
  m->file = need_name(c, k++, "a file name");
  for (; TK(L, k)->t != T_END; k++) {
    switch (word_index(L, k, words)) {
    case NM_PORT: m->skip_port = true; break;
    case NM_EVENT: m->skip_event = true; break;
    default: ERR_AT(c, k, "expected skip-port-on-success or skip-set-event here");
    }
  }
  if (!m->skip_port && !m->skip_event) ERR_AT(c, k, "expected skip-port-on-success or skip-set-event here");
  need_end_of_line(c, k);
}

/* gqcs PORT [timeout T]; gqcs-ex PORT [count N] [alertable] [timeout T] */
static void p_gqcs(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { GQ_TIMEOUT, GQ_COUNT, GQ_ALERTABLE };
  static const char *const words[] = {"timeout", "count", "alertable", NULL};
  lexline_t *L = &c->L;
  bool ex = kw->op == OP_GQCS_EX;
  op_gqcs_t *g = &add_op(c, kw, b)->gqcs;
  int k = 1;
  g->port = need_name(c, k++, "a port name");
  g->count = 1;
  for (; TK(L, k)->t != T_END; k++) {
    int w = word_index(L, k, words);
    if (w == GQ_TIMEOUT) g->timeout = need_time(c, k + 1), g->has_timeout = true, k++;
    else if (ex && w == GQ_ALERTABLE) g->alertable = true;
    else if (ex && w == GQ_COUNT) {
      int64_t n = need_num(c, k + 1, "a packet count");
      if (n < 1 || n > SCN_GQCS_EX_MAX) ERR_AT(c, k + 1, "gqcs-ex takes 1 to %d packets at once", SCN_GQCS_EX_MAX);
      g->count = (int)n;
      k++;
    } else if (ex) ERR_AT(c, k, "expected count, alertable or timeout here");
    else ERR_AT(c, k, "expected timeout here (gqcs-ex takes count and alertable)");
  }
}

static void p_post(cursor_t *c, const keyword_t *kw, block_t *b) {
  enum { PO_KEY, PO_INFO, PO_STATUS };
  static const char *const words[] = {"key", "info", "status", NULL};
  lexline_t *L = &c->L;
  op_post_t *po = &add_op(c, kw, b)->post;
  int k = 1;
  po->port = need_name(c, k++, "a port name");
  for (; TK(L, k)->t != T_END; k += 2) {
    switch (word_index(L, k, words)) {
    case PO_KEY: po->key = need_num(c, k + 1, "a completion key"); break;
    case PO_INFO: po->info = need_num(c, k + 1, "a byte count"); break;
    case PO_STATUS: po->status = need_status(c, k + 1), po->has_status = true; break;
    default: ERR_AT(c, k, "expected key, status or info here");
    }
  }
  need_end_of_line(c, k);
}

/* ---- the table ---- */

#define DECL(w, fn) {w, W_TOP, KW_DECL, {0}, fn, NULL}
#define ROUTINE(w, rk, fn) {w, W_DRIVER, KW_ROUTINE, {.routine = rk}, fn, NULL}
#define OP(w, where, k, fn, what) {w, where, KW_OP, {.op = k}, fn, what}
#define R W_ROUTINE
#define P W_PROGRAM

/* Every word that starts a statement.  A word may have one entry per
   place (wait is a kernel wait in a routine, a user wait in a program).
   The order is of no consequence: places of one word never overlap. */
static const keyword_t keywords[] = {
    {"end", W_ANY, KW_END, {0}, NULL, NULL},
    {"else", R | P, KW_ELSE, {0}, NULL, NULL},
    /* top level */
    DECL("scenario", parse_scenario_title),
    DECL("machine", parse_machine),
    DECL("cost", parse_cost),
    DECL("include", parse_include),
    DECL("driver", parse_driver),
    DECL("device", parse_device),
    DECL("usermode-fs", parse_ufs),
    DECL("event", parse_event),
    DECL("port", parse_port),
    DECL("thread", parse_thread),
    DECL("expect", parse_expect_line),
    /* a driver's routines */
    ROUTINE("dispatch", RT_DISPATCH, parse_dispatch_routine),
    ROUTINE("completion", RT_COMPLETION, parse_named_routine),
    ROUTINE("cancel", RT_CANCEL, parse_named_routine),
    ROUTINE("fastio", RT_FASTIO, parse_fastio_routine),
    ROUTINE("isr", RT_ISR, parse_irq_routine),
    ROUTINE("dpc", RT_DPC, parse_irq_routine),
    /* routine operations */
    OP("copy-stack", R, OP_COPY_STACK, p_bare, NULL),
    OP("skip-stack", R, OP_SKIP_STACK, p_bare, NULL),
    OP("mark-pending", R, OP_MARK_PENDING, p_bare, NULL),
    OP("request-dpc", R, OP_REQUEST_DPC, p_request_dpc, NULL),
    OP("free-irp", R, OP_FREE_IRP, p_bare, NULL),
    OP("call-lower", R, OP_CALL_LOWER, p_bare, NULL),
    OP("clear-cancel", R, OP_SET_CANCEL, p_bare, NULL), /* IoSetCancelRoutine(Irp, NULL) */
    OP("release-cancel-lock", R, OP_RELEASE_CANCEL_LOCK, p_bare, NULL),
    OP("fast-decline", R, OP_FAST_DECLINE, p_bare, NULL),
    OP("cache-setup", R, OP_CACHE_SETUP, p_bare, NULL),
    OP("cache-fill", R, OP_CACHE_FILL, p_bare, NULL),
    OP("enter-critical-region", R, OP_ENTER_CRITICAL, p_bare, NULL),
    OP("leave-critical-region", R, OP_LEAVE_CRITICAL, p_bare, NULL),
    OP("enter-guarded-region", R, OP_ENTER_GUARDED, p_bare, NULL),
    OP("leave-guarded-region", R, OP_LEAVE_GUARDED, p_bare, NULL),
    OP("fast-serve", R, OP_FAST_SERVE, p_fast_serve, NULL),
    OP("unqueue", R, OP_UNQUEUE, p_named, "a queue name"),
    OP("csq-insert", R, OP_CSQ_INSERT, p_named, "a queue name"),
    OP("csq-remove", R, OP_CSQ_REMOVE, p_named, "a queue name"),
    OP("queue", R, OP_QUEUE, p_named, "a queue name"),
    OP("dequeue", R, OP_DEQUEUE, p_named, "a queue name"),
    OP("split", R, OP_SPLIT, p_split, NULL),
    OP("set-cancel", R, OP_SET_CANCEL, p_set_cancel, NULL),
    OP("set-completion", R, OP_SET_COMPLETION, p_set_completion, NULL),
    OP("set-status", R, OP_SET_STATUS, p_status, NULL),
    OP("complete", R, OP_COMPLETE, p_status, NULL),
    OP("complete-original", R, OP_COMPLETE_ORIGINAL, p_status, NULL),
    OP("return", R, OP_RETURN, p_return, NULL),
    OP("start-io", R, OP_START_IO, p_start_io, NULL),
    OP("wait", R, OP_KWAIT, p_kwait, NULL),
    OP("signal", R, OP_SIGNAL, p_named, "an event name"),
    OP("clear", R, OP_CLEAR, p_named, "an event name"),
    OP("reset", R, OP_CLEAR, p_named, "an event name"),
    OP("counter", R, OP_COUNTER, p_counter, NULL),
    OP("send", R, OP_SEND, p_send, NULL),
    OP("if", R, OP_IF, p_if, NULL),
    OP("while", R, OP_WHILE, p_while, NULL),
    /* both */
    OP("delay", R | P, OP_DELAY, p_delay, NULL),
    OP("note", R | P, OP_NOTE, p_note, NULL),
    OP("dbgprint", R, OP_DBGPRINT, p_note, NULL),
    OP("fill", R, OP_FILL, p_fill, NULL),
    /* thread programs */
    OP("open", P, OP_OPEN, p_open, NULL),
    OP("read", P, OP_READ, p_io, NULL),
    OP("write", P, OP_WRITE, p_io, NULL),
    OP("ioctl", P, OP_IOCTL, p_io, NULL),
    OP("wait", P, OP_UWAIT, p_uwait, NULL),
    OP("sleep", P, OP_SLEEP, p_sleep, NULL),
    OP("signal", P, OP_SIGNAL, p_named, "an event name"),
    OP("reset", P, OP_RESET, p_named, "an event name"),
    OP("clear", P, OP_RESET, p_named, "an event name"),
    OP("close", P, OP_CLOSE, p_named, "a file name"),
    OP("cancel", P, OP_CANCEL_IO_EX, p_cancel, "a file name"),
    OP("cancel-io", P, OP_CANCEL_IO, p_cancel, "a file name"),
    OP("cancel-sync", P, OP_CANCEL_SYNC, p_cancel, "a thread name"),
    OP("lock", P, OP_LOCK, p_lock, NULL),
    OP("associate", P, OP_ASSOCIATE, p_associate, NULL),
    OP("notification-modes", P, OP_NOTIFY_MODES, p_notify_modes, NULL),
    OP("gqcs", P, OP_GQCS, p_gqcs, NULL),
    OP("gqcs-ex", P, OP_GQCS_EX, p_gqcs, NULL),
    OP("post", P, OP_POST, p_post, NULL),
    OP("close-port", P, OP_CLOSE_PORT, p_named, "a port name"),
    OP("repeat", P, OP_REPEAT, p_repeat, NULL),
    OP("queue-apc", P, OP_QUEUE_APC, p_queue_apc, NULL),
    OP("alert", P, OP_ALERT, p_named, "a thread name"),
    OP("unload", P, OP_UNLOAD, p_named, "a driver name"),
};

const keyword_t *kw_find(const char *word, unsigned where) {
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if ((keywords[i].where & where) && strcmp(keywords[i].word, word) == 0) return &keywords[i];
  return NULL;
}

op_t *parse_block(cursor_t *c, where_t where, loc_t opener, const char *what, bool allow_else,
                  bool *ended_with_else) {
  op_t *head = NULL;
  block_t b = {.where = where, .tail = &head};
  /* Blocks are read, checked and run by recursion (the run on a simulated
     thread's stack), so their depth is bounded here, once. */
  if (++c->p->nest > SCN_MAX_NESTING)
    perr(c->p, opener.file, opener.line, opener.col,
         "limit reached: blocks nested more than %d deep (the block-nesting limit, SCN_MAX_NESTING; it is "
         "fixed: nest fewer blocks, e.g. split the routine)", SCN_MAX_NESTING);
  while (next_line(c)) {
    lexline_t *L = &c->L;
    if (TK(L, 0)->t != T_WORD) ERR_AT(c, 0, "expected a statement here");
    const char *w = TK(L, 0)->s;
    const keyword_t *kw = kw_find(w, where);
    if (kw && kw->kind == KW_END) {
      need_end_of_line(c, 1);
      c->p->nest--;
      return head;
    }
    /* A word that can only start a top-level line or a routine means this
       block lacks its `end`: say so where it was opened. */
    if (!kw && kw_find(w, W_TOP | W_DRIVER))
      perr(c->p, opener.file, opener.line, opener.col, "'%s' block is never closed with 'end' (found '%s' at line %d)",
           what, w, L->line);
    if (kw && kw->kind == KW_ELSE) {
      if (!allow_else) ERR_AT(c, 0, "'else' outside an 'if' block");
      need_end_of_line(c, 1);
      *ended_with_else = true;
      c->p->nest--;
      return head;
    }
    if (!kw) {
      if (where == W_ROUTINE)
        ERR_AT(c, 0, "unknown operation '%s' in a driver routine (see docs/scenario-language.md)", w);
      ERR_AT(c, 0, "unknown statement '%s' in a thread program (open, read, write, ioctl, wait, sleep, signal, reset, repeat, close, lock, associate, notification-modes, gqcs, gqcs-ex, post, close-port, cancel, cancel-io, cancel-sync, queue-apc, alert, unload, delay, note)", w);
    }
    kw->parse(c, kw, &b);
  }
  perr(c->p, opener.file, opener.line, opener.col, "'%s' block is never closed with 'end'", what);
}
