/*
 * parse.c - reads scenario files into the model: top-level statements,
 * blocks closed by `end`, routine and program operations, includes.  Every
 * error is "file:line:col: message" and stops the load.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "scn_int.h"

void perr(parser_t *p, const char *file, int line, int col, const char *fmt, ...) {
  snprintf(p->err->file, sizeof p->err->file, "%s", file ? file : "");
  p->err->line = line;
  p->err->col = col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
  va_end(ap);
  longjmp(p->fail, 1);
}

/* The lines of one file, and where we are in them. */
typedef struct cursor {
  parser_t *p;
  const char *file;
  char **lines;
  int n, i;
  lexline_t L;
} cursor_t;

#define TK(L, k) (&(L)->v[(k) < (L)->n ? (k) : (L)->n])
#define ERR_AT(c, k, ...) perr((c)->p, (c)->L.file, (c)->L.line, TK(&(c)->L, k)->col, __VA_ARGS__)

/* Next non-empty line, tokenized; false at end of file. */
static bool next_line(cursor_t *c) {
  while (c->i < c->n) {
    int lineno = ++c->i;
    if (!lex_line(&c->p->sc->ar, c->lines[lineno - 1], lineno, c->file, &c->L, c->p->err))
      longjmp(c->p->fail, 1);
    if (c->L.n > 0) return true;
  }
  return false;
}

static bool is_word(const lexline_t *L, int k, const char *w) {
  const tok_t *t = TK(L, k);
  return t->t == T_WORD && strcmp(t->s, w) == 0;
}

static char *need_name(cursor_t *c, int k, const char *what) {
  tok_t *t = TK(&c->L, k);
  if (t->t != T_WORD) ERR_AT(c, k, "expected %s here", what);
  return t->s;
}

static int64_t need_num(cursor_t *c, int k, const char *what) {
  tok_t *t = TK(&c->L, k);
  if (t->t != T_NUM) ERR_AT(c, k, "expected %s (a number) here", what);
  return t->n;
}

static int64_t need_time(cursor_t *c, int k) {
  tok_t *t = TK(&c->L, k);
  if (t->t != T_NUM) ERR_AT(c, k, "expected a time here (e.g. 200us, 1ms, 500ns)");
  return t->n;
}

static NTSTATUS need_status(cursor_t *c, int k) {
  tok_t *t = TK(&c->L, k);
  NTSTATUS st;
  if (t->t == T_END || !iosim_status_parse(t->s, &st))
    ERR_AT(c, k, "expected a status here (e.g. STATUS_SUCCESS, STATUS_PENDING, 0xC0000001)");
  return st;
}

static void need_end_of_line(cursor_t *c, int k) {
  if (TK(&c->L, k)->t != T_END) ERR_AT(c, k, "unexpected '%s' at the end of the statement", TK(&c->L, k)->s);
}

const char *scn_major_word(UCHAR m) {
  switch (m) {
  case IRP_MJ_CREATE: return "create";
  case IRP_MJ_CLOSE: return "close";
  case IRP_MJ_READ: return "read";
  case IRP_MJ_WRITE: return "write";
  case IRP_MJ_FLUSH_BUFFERS: return "flush";
  case IRP_MJ_DEVICE_CONTROL: return "ioctl";
  case IRP_MJ_INTERNAL_DEVICE_CONTROL: return "internal-ioctl";
  case IRP_MJ_CLEANUP: return "cleanup";
  default: return "?";
  }
}

int scn_major_parse(const char *w) {
  static const UCHAR all[] = {IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_READ, IRP_MJ_WRITE, IRP_MJ_FLUSH_BUFFERS,
                              IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL, IRP_MJ_CLEANUP};
  for (size_t i = 0; i < sizeof all; i++)
    if (strcmp(scn_major_word(all[i]), w) == 0) return all[i];
  return -1;
}

/* ---- operations ---- */

static op_t *new_op(cursor_t *c, op_kind_t k) {
  op_t *o = ar_alloc(&c->p->sc->ar, sizeof *o);
  o->kind = k;
  o->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 0)->col};
  o->text = c->L.raw;
  return o;
}

/* `info N` or `info length` after k; returns the next index. */
static int parse_info(cursor_t *c, op_t *o, int k) {
  if (!is_word(&c->L, k, "info")) return k;
  if (is_word(&c->L, k + 1, "length")) o->info = INFO_LENGTH;
  else {
    o->info = INFO_NUM;
    o->num = need_num(c, k + 1, "a byte count or 'length'");
  }
  return k + 2;
}

static cmp_t parse_cmp(cursor_t *c, int k) {
  tok_t *t = TK(&c->L, k);
  static const char *ops[] = {"==", "!=", "<", "<=", ">", ">="};
  if (t->t == T_OP)
    for (int i = 0; i < 6; i++)
      if (strcmp(t->s, ops[i]) == 0) return (cmp_t)i;
  ERR_AT(c, k, "expected a comparison (==, !=, <, <=, >, >=) here");
}

static void parse_cond(cursor_t *c, op_t *o, int k) {
  cond_t *cd = &o->cond;
  if (is_word(&c->L, k, "not")) {
    cd->negate = true;
    k++;
  }
  const char *w = need_name(c, k, "a condition (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked)");
  if (strcmp(w, "pending-returned") == 0) cd->kind = COND_PENDING_RETURNED, k++;
  else if (strcmp(w, "cancel") == 0) cd->kind = COND_CANCEL, k++;
  else if (strcmp(w, "irp") == 0) cd->kind = COND_HAS_IRP, k++;
  else if (strcmp(w, "queue-empty") == 0) {
    cd->kind = COND_QUEUE_EMPTY;
    cd->name = need_name(c, k + 1, "a queue name");
    k += 2;
  } else if (strcmp(w, "status") == 0 || strcmp(w, "lower-status") == 0) {
    cd->kind = w[0] == 's' ? COND_STATUS : COND_LOWER_STATUS;
    cd->cmp = parse_cmp(c, k + 1);
    if (cd->cmp != CMP_EQ && cd->cmp != CMP_NE) ERR_AT(c, k + 1, "statuses compare with == or != only");
    if (is_word(&c->L, k + 2, "success") || is_word(&c->L, k + 2, "error")) {
      cd->value = is_word(&c->L, k + 2, "success") ? 1 : 2;
      cd->name = TK(&c->L, k + 2)->s; /* class test: NT_SUCCESS / !NT_SUCCESS */
    } else {
      cd->value = need_status(c, k + 2);
    }
    k += 3;
  } else if (strcmp(w, "cached") == 0 || strcmp(w, "locked") == 0) {
    cd->kind = w[0] == 'c' ? COND_CACHED : COND_LOCKED; /* the request's byte range */
    k++;
  } else if (strcmp(w, "cancel-owned") == 0) {
    cd->kind = COND_CANCEL_OWNED; /* the last set/clear-cancel took a routine away */
    k++;
  } else if (strcmp(w, "context") == 0) {
    cd->kind = COND_CONTEXT; /* the value set-completion ... context N passed */
    cd->cmp = parse_cmp(c, k + 1);
    cd->value = need_num(c, k + 2, "a context value");
    k += 3;
  } else if (strcmp(w, "counter") == 0) {
    cd->kind = COND_COUNTER;
    cd->name = need_name(c, k + 1, "a counter name");
    cd->cmp = parse_cmp(c, k + 2);
    cd->value = need_num(c, k + 3, "a count");
    k += 4;
  } else {
    ERR_AT(c, k, "unknown condition '%s' (pending-returned, status, lower-status, counter, context, cancel, cancel-owned, queue-empty, irp, cached, locked)", w);
  }
  need_end_of_line(c, k);
}

typedef enum { CTX_ROUTINE, CTX_PROGRAM } ops_ctx_t;
static op_t *parse_ops(cursor_t *c, ops_ctx_t ctx, loc_t opener, const char *what, bool allow_else,
                       bool *ended_with_else);

static void parse_wait_objects(cursor_t *c, op_t *o, int k) {
  o->names = ar_alloc(&c->p->sc->ar, sizeof(char *) * (size_t)(c->L.n + 1));
  for (; TK(&c->L, k)->t != T_END; k++) {
    tok_t *t = TK(&c->L, k);
    if (is_word(&c->L, k, "any")) continue;
    if (is_word(&c->L, k, "all")) o->flags |= PF_ALL;
    else if (is_word(&c->L, k, "alertable")) o->flags |= PF_ALERTABLE;
    else if (is_word(&c->L, k, "timeout")) {
      o->num2 = need_time(c, k + 1);
      o->has_num2 = true;
      k++;
    } else if (t->t == T_WORD) o->names[o->nnames++] = t->s;
    else ERR_AT(c, k, "expected an object name, any, all, timeout or alertable");
  }
  if (o->kind == OP_UWAIT && o->nnames == 0) ERR_AT(c, 1, "wait needs at least one object");
}

static op_t *parse_routine_op(cursor_t *c, const char *w) {
  lexline_t *L = &c->L;
  op_t *o;
  int k = 1;
  if (!strcmp(w, "copy-stack")) o = new_op(c, OP_COPY_STACK);
  else if (!strcmp(w, "skip-stack")) o = new_op(c, OP_SKIP_STACK);
  else if (!strcmp(w, "mark-pending")) o = new_op(c, OP_MARK_PENDING);
  else if (!strcmp(w, "request-dpc")) o = new_op(c, OP_REQUEST_DPC);
  else if (!strcmp(w, "free-irp")) o = new_op(c, OP_FREE_IRP);
  else if (!strcmp(w, "call-lower")) o = new_op(c, OP_CALL_LOWER);
  else if (!strcmp(w, "clear-cancel")) o = new_op(c, OP_SET_CANCEL); /* IoSetCancelRoutine(Irp, NULL) */
  else if (!strcmp(w, "release-cancel-lock")) o = new_op(c, OP_RELEASE_CANCEL_LOCK);
  else if (!strcmp(w, "fast-decline")) o = new_op(c, OP_FAST_DECLINE);
  else if (!strcmp(w, "cache-setup")) o = new_op(c, OP_CACHE_SETUP);
  else if (!strcmp(w, "cache-fill")) o = new_op(c, OP_CACHE_FILL);
  else if (!strcmp(w, "fast-serve")) {
    o = new_op(c, OP_FAST_SERVE);
    o->status = STATUS_SUCCESS;
    o->has_status = true;
    if (TK(L, k)->t != T_END && !is_word(L, k, "info")) o->status = need_status(c, k++);
    o->info = INFO_LENGTH;
    k = parse_info(c, o, k);
  }
  else if (!strcmp(w, "unqueue") || !strcmp(w, "csq-insert") || !strcmp(w, "csq-remove")) {
    o = new_op(c, w[0] == 'u' ? OP_UNQUEUE : w[4] == 'i' ? OP_CSQ_INSERT : OP_CSQ_REMOVE);
    o->name = need_name(c, k++, "a queue name");
  } else if (!strcmp(w, "split")) {
    /* split N to DEV [DEV...]: IoMakeAssociatedIrp N times, IrpCount = N */
    o = new_op(c, OP_SPLIT);
    o->num = need_num(c, k++, "the number of associated IRPs");
    if (o->num < 1 || o->num > 16) ERR_AT(c, k - 1, "split makes 1 to 16 associated IRPs");
    if (!is_word(L, k, "to")) ERR_AT(c, k, "expected 'to DEVICE...' here");
    k++;
    o->names = ar_alloc(&c->p->sc->ar, sizeof(char *) * (size_t)(L->n + 1));
    for (; TK(L, k)->t == T_WORD; k++) o->names[o->nnames++] = TK(L, k)->s;
    if (!o->nnames) ERR_AT(c, k, "expected one or more device names after 'to'");
  }
  else if (!strcmp(w, "set-cancel")) {
    o = new_op(c, OP_SET_CANCEL);
    o->name = need_name(c, k++, "a cancel routine name");
  }
  else if (!strcmp(w, "set-completion")) {
    o = new_op(c, OP_SET_COMPLETION);
    o->name = need_name(c, k++, "a completion routine name");
    for (; TK(L, k)->t != T_END; k++) {
      if (is_word(L, k, "on")) continue;
      if (is_word(L, k, "success")) o->flags |= INV_SUCCESS;
      else if (is_word(L, k, "error")) o->flags |= INV_ERROR;
      else if (is_word(L, k, "cancel")) o->flags |= INV_CANCEL;
      else if (is_word(L, k, "context")) {
        o->num = need_num(c, k + 1, "a context value");
        o->has_num = true;
        k++;
      } else ERR_AT(c, k, "expected success, error, cancel or context here");
    }
    if (!o->flags) o->flags = INV_SUCCESS | INV_ERROR | INV_CANCEL;
  } else if (!strcmp(w, "set-status") || !strcmp(w, "complete") || !strcmp(w, "complete-original")) {
    o = new_op(c, w[0] == 's' ? OP_SET_STATUS : w[8] == '-' ? OP_COMPLETE_ORIGINAL : OP_COMPLETE);
    if (is_word(L, k, "lower-status")) {
      o->ret = RET_LOWER; /* the status the last call-lower / send returned */
      o->has_status = true;
      k++;
    } else if (TK(L, k)->t != T_END && !is_word(L, k, "info") && !is_word(L, k, "boost")) {
      o->status = need_status(c, k++);
      o->has_status = true;
      o->ret = RET_STATUS;
    } else if (o->kind == OP_SET_STATUS) {
      need_status(c, k);
    }
    k = parse_info(c, o, k);
    if (is_word(L, k, "boost")) {
      o->num2 = need_num(c, k + 1, "a priority boost");
      o->has_num2 = true;
      k += 2;
    }
  } else if (!strcmp(w, "return")) {
    o = new_op(c, OP_RETURN);
    if (is_word(L, k, "lower-status")) o->ret = RET_LOWER;
    else if (is_word(L, k, "irp-status")) o->ret = RET_IRP;
    else if (is_word(L, k, "more-processing")) o->ret = RET_MORE;
    else if (is_word(L, k, "continue")) o->ret = RET_CONTINUE;
    else {
      o->ret = RET_STATUS;
      o->status = need_status(c, k);
    }
    k++;
  } else if (!strcmp(w, "start-io")) {
    o = new_op(c, OP_START_IO);
    for (; TK(L, k)->t != T_END; k++) {
      if (is_word(L, k, "latency")) {
        o->num2 = need_time(c, k + 1);
        o->has_num2 = true;
        k++;
      } else if (is_word(L, k, "detached")) {
        o->flags |= PF_DETACHED; /* the interrupt carries no IRP */
      } else ERR_AT(c, k, "expected latency or detached here");
    }
  } else if (!strcmp(w, "queue") || !strcmp(w, "dequeue")) {
    o = new_op(c, w[0] == 'q' ? OP_QUEUE : OP_DEQUEUE);
    o->name = need_name(c, k++, "a queue name");
  } else if (!strcmp(w, "wait")) {
    o = new_op(c, OP_KWAIT);
    parse_wait_objects(c, o, k);
    if (o->nnames != 1) ERR_AT(c, 1, "a driver waits for exactly one event");
    if (o->flags & (PF_ALL | PF_ALERTABLE))
      ERR_AT(c, 2, "a driver's wait is a kernel-mode wait for one event: only 'timeout T' may follow");
    k = L->n;
  } else if (!strcmp(w, "signal") || !strcmp(w, "clear") || !strcmp(w, "reset")) {
    o = new_op(c, w[0] == 's' ? OP_SIGNAL : OP_CLEAR);
    o->name = need_name(c, k++, "an event name");
  } else if (!strcmp(w, "counter")) {
    o = new_op(c, OP_COUNTER);
    o->name = need_name(c, k++, "a counter name");
    tok_t *t = TK(L, k);
    if (t->t != T_OP || (strcmp(t->s, "+=") && strcmp(t->s, "=="))) ERR_AT(c, k, "expected '+=' or '==' (assign) here");
    if (t->s[0] == '+') o->flags |= PF_ADD;
    o->num = need_num(c, k + 1, "a number");
    k += 2;
  } else if (!strcmp(w, "send")) {
    o = new_op(c, OP_SEND);
    int m = scn_major_parse(need_name(c, k, "a major function (read, write, ioctl, ...)"));
    if (m < 0) ERR_AT(c, k, "unknown major function '%s'", TK(L, k)->s);
    o->major = (UCHAR)m;
    o->num = need_num(c, k + 1, "a length");
    k += 2;
    for (; TK(L, k)->t != T_END; k += 2) {
      if (is_word(L, k, "to")) o->name2 = need_name(c, k + 1, "a device name");
      else if (is_word(L, k, "completion")) o->name = need_name(c, k + 1, "a completion routine name");
      else if (is_word(L, k, "as")) o->names = (char **)need_name(c, k + 1, "a name for the IRP");
      else ERR_AT(c, k, "expected to, completion or as here");
    }
  } else {
    return NULL;
  }
  if (o->kind != OP_KWAIT) need_end_of_line(c, k);
  return o;
}

static op_t *parse_io_op(cursor_t *c, op_kind_t kind) {
  lexline_t *L = &c->L;
  op_t *o = new_op(c, kind);
  o->name = need_name(c, 1, "a file name");
  int k = 2;
  if (kind == OP_IOCTL) o->num2 = need_num(c, k++, "an IOCTL code");
  else o->num = need_num(c, k++, "a length");
  for (; TK(L, k)->t != T_END; k++) {
    if (is_word(L, k, "event")) o->names = (char **)need_name(c, ++k, "an event name");
    else if (is_word(L, k, "as")) o->name2 = need_name(c, ++k, "a name for the IRP");
    else if (is_word(L, k, "apc")) o->flags |= PF_APC;
    else if (is_word(L, k, "no-port")) o->flags |= PF_NO_PORT;
    else if (is_word(L, k, "at") && kind != OP_IOCTL) o->has_num2 = true, o->num2 = need_num(c, ++k, "a byte offset");
    else if (kind == OP_IOCTL && (is_word(L, k, "in") || is_word(L, k, "out"))) {
      int64_t v = need_num(c, k + 1, "a buffer length");
      if (TK(L, k)->s[0] == 'o') o->num = v;
      else o->in_len = v;
      k++;
    } else if (kind == OP_IOCTL) ERR_AT(c, k, "expected event, as, apc, no-port, in or out here");
    else ERR_AT(c, k, "expected event, as, apc, no-port or at here");
  }
  return o;
}

static op_t *parse_program_op(cursor_t *c, const char *w) {
  lexline_t *L = &c->L;
  op_t *o;
  int k = 1;
  if (!strcmp(w, "open")) {
    o = new_op(c, OP_OPEN);
    o->name = need_name(c, k++, "a file name");
    o->name2 = need_name(c, k++, "a device name");
    for (; TK(L, k)->t != T_END; k++) {
      if (is_word(L, k, "overlapped")) o->flags |= PF_OVERLAPPED;
      else if (is_word(L, k, "alertable")) o->flags |= PF_ALERTABLE;
      else if (is_word(L, k, "synchronous")) continue;
      else ERR_AT(c, k, "expected overlapped, synchronous or alertable here");
    }
  } else if (!strcmp(w, "read")) return parse_io_op(c, OP_READ);
  else if (!strcmp(w, "write")) return parse_io_op(c, OP_WRITE);
  else if (!strcmp(w, "ioctl")) return parse_io_op(c, OP_IOCTL);
  else if (!strcmp(w, "wait")) {
    o = new_op(c, OP_UWAIT);
    parse_wait_objects(c, o, k);
    return o;
  } else if (!strcmp(w, "sleep")) {
    o = new_op(c, OP_SLEEP);
    o->num = need_time(c, k++);
    if (is_word(L, k, "alertable")) o->flags |= PF_ALERTABLE, k++;
  } else if (!strcmp(w, "signal") || !strcmp(w, "reset") || !strcmp(w, "clear")) {
    o = new_op(c, w[0] == 's' ? OP_SIGNAL : OP_RESET);
    o->name = need_name(c, k++, "an event name");
  } else if (!strcmp(w, "close")) {
    o = new_op(c, OP_CLOSE);
    o->name = need_name(c, k++, "a file name");
  } else if (!strcmp(w, "cancel") || !strcmp(w, "cancel-io") || !strcmp(w, "cancel-sync")) {
    /* CancelIoEx(file[, request]), CancelIo(file), CancelSynchronousIo(thread) */
    o = new_op(c, !strcmp(w, "cancel") ? OP_CANCEL_IO_EX : w[7] == 'i' ? OP_CANCEL_IO : OP_CANCEL_SYNC);
    o->name = need_name(c, k++, o->kind == OP_CANCEL_SYNC ? "a thread name" : "a file name");
    if (o->kind == OP_CANCEL_IO_EX && TK(L, k)->t == T_WORD) o->name2 = TK(L, k)->s, k++;
  } else if (!strcmp(w, "lock")) {
    o = new_op(c, OP_LOCK); /* LockFileEx, exclusive */
    o->name = need_name(c, k++, "a file name");
    o->num2 = need_num(c, k++, "a byte offset");
    o->num = need_num(c, k++, "a length");
  } else if (!strcmp(w, "associate")) {
    o = new_op(c, OP_ASSOCIATE);
    o->name = need_name(c, k++, "a file name");
    o->name2 = need_name(c, k++, "a port name");
    if (is_word(L, k, "key")) o->num = need_num(c, k + 1, "a completion key"), k += 2;
  } else if (!strcmp(w, "gqcs")) {
    o = new_op(c, OP_GQCS);
    o->name = need_name(c, k++, "a port name");
    if (is_word(L, k, "timeout")) o->num2 = need_time(c, k + 1), o->has_num2 = true, k += 2;
  } else if (!strcmp(w, "post")) {
    o = new_op(c, OP_POST);
    o->name = need_name(c, k++, "a port name");
    for (; TK(L, k)->t != T_END; k += 2) {
      if (is_word(L, k, "key")) o->num = need_num(c, k + 1, "a completion key");
      else if (is_word(L, k, "info")) o->num2 = need_num(c, k + 1, "a byte count");
      else if (is_word(L, k, "status")) o->status = need_status(c, k + 1), o->has_status = true;
      else ERR_AT(c, k, "expected key, status or info here");
    }
  } else {
    return NULL;
  }
  need_end_of_line(c, k);
  return o;
}

/* Operations until `end` (or `else` inside an if).  An unterminated block
   is reported where it was opened. */
static op_t *parse_ops(cursor_t *c, ops_ctx_t ctx, loc_t opener, const char *what, bool allow_else,
                       bool *ended_with_else) {
  op_t *head = NULL, **tail = &head;
  while (next_line(c)) {
    lexline_t *L = &c->L;
    if (TK(L, 0)->t != T_WORD) ERR_AT(c, 0, "expected a statement here");
    const char *w = TK(L, 0)->s;
    if (!strcmp(w, "end")) {
      need_end_of_line(c, 1);
      return head;
    }
    /* A statement that can only start a new block or a top-level line
       means this block lacks its `end`: say so where it was opened. */
    static const char *const starters[] = {"driver", "device", "thread", "expect", "machine", "include",
                                           "scenario", "event", "port", "usermode-fs", "cost", "dispatch", "completion",
                                           "isr", "dpc", "cancel", "fastio", NULL};
    for (const char *const *s = starters; *s; s++)
      if (!strcmp(w, *s) && !(ctx == CTX_PROGRAM && !strcmp(w, "cancel")))
        perr(c->p, opener.file, opener.line, opener.col, "'%s' block is never closed with 'end' (found '%s' at line %d)",
             what, w, L->line);
    if (!strcmp(w, "else")) {
      if (!allow_else) ERR_AT(c, 0, "'else' outside an 'if' block");
      need_end_of_line(c, 1);
      *ended_with_else = true;
      return head;
    }
    op_t *o = NULL;
    if (!strcmp(w, "if") && ctx == CTX_ROUTINE) {
      o = new_op(c, OP_IF);
      parse_cond(c, o, 1);
      bool el = false;
      o->body = parse_ops(c, ctx, o->at, "if", true, &el);
      if (el) o->else_body = parse_ops(c, ctx, o->at, "else", false, NULL);
    } else if (!strcmp(w, "while") && ctx == CTX_ROUTINE) {
      o = new_op(c, OP_WHILE);
      parse_cond(c, o, 1);
      o->body = parse_ops(c, ctx, o->at, "while", false, NULL);
    } else if (!strcmp(w, "repeat") && ctx == CTX_PROGRAM) {
      o = new_op(c, OP_REPEAT);
      o->num = need_num(c, 1, "a repeat count");
      need_end_of_line(c, 2);
      o->body = parse_ops(c, ctx, o->at, "repeat", false, NULL);
    } else if (!strcmp(w, "delay")) {
      o = new_op(c, OP_DELAY);
      o->num = need_time(c, 1);
      need_end_of_line(c, 2);
    } else if (!strcmp(w, "note")) {
      o = new_op(c, OP_NOTE);
      if (TK(L, 1)->t != T_STR) ERR_AT(c, 1, "expected a quoted text after note");
      o->name = TK(L, 1)->s;
      need_end_of_line(c, 2);
    } else {
      o = ctx == CTX_ROUTINE ? parse_routine_op(c, w) : parse_program_op(c, w);
      if (!o) {
        if (ctx == CTX_ROUTINE)
          ERR_AT(c, 0, "unknown operation '%s' in a driver routine (see docs/scenario-language.md)", w);
        ERR_AT(c, 0, "unknown statement '%s' in a thread program (open, read, write, ioctl, wait, sleep, signal, reset, repeat, close, lock, associate, gqcs, post, cancel, cancel-io, cancel-sync, delay, note)", w);
      }
    }
    *tail = o;
    tail = &o->next;
  }
  perr(c->p, opener.file, opener.line, opener.col, "'%s' block is never closed with 'end'", what);
}

/* ---- top-level statements ---- */

static void parse_driver(cursor_t *c) {
  scn_t *sc = c->p->sc;
  driver_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a driver name");
  d->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 1)->col};
  need_end_of_line(c, 2);
  for (driver_decl_t *o = sc->drivers; o; o = o->next)
    if (!strcmp(o->name, d->name)) ERR_AT(c, 1, "driver '%s' is already declared at %s:%d", d->name, o->at.file, o->at.line);
  routine_t **tail = &d->routines;
  loc_t opener = d->at;
  for (;;) {
    if (!next_line(c)) perr(c->p, opener.file, opener.line, opener.col, "'driver %s' block is never closed with 'end'", d->name);
    lexline_t *L = &c->L;
    const char *w = need_name(c, 0, "dispatch, completion, isr, dpc, cancel, fastio or end");
    if (!strcmp(w, "end")) break;
    static const char *const top[] = {"driver", "device", "thread", "expect", "machine", "include", "scenario",
                                      "event", "port", "usermode-fs", "cost", NULL};
    for (const char *const *s = top; *s; s++)
      if (!strcmp(w, *s))
        perr(c->p, opener.file, opener.line, opener.col, "'driver %s' block is never closed with 'end' (found '%s' at line %d)",
             d->name, w, L->line);
    routine_t *r = ar_alloc(&sc->ar, sizeof *r);
    r->driver = d;
    r->at = (loc_t){L->file, L->line, TK(L, 0)->col};
    if (!strcmp(w, "dispatch")) {
      r->kind = RT_DISPATCH;
      if (TK(L, 1)->t == T_END) ERR_AT(c, 1, "dispatch needs one or more major functions (read write ioctl create close cleanup flush internal-ioctl, or default)");
      for (int k = 1; TK(L, k)->t != T_END; k++) {
        const char *m = need_name(c, k, "a major function");
        if (!strcmp(m, "default")) {
          for (routine_t *o = d->routines; o; o = o->next)
            if (o->kind == RT_DISPATCH && o->is_default)
              ERR_AT(c, k, "driver %s already has a default dispatch routine (line %d)", d->name, o->at.line);
          r->is_default = true;
          continue;
        }
        int mj = scn_major_parse(m);
        if (mj < 0) ERR_AT(c, k, "unknown major function '%s' (read write ioctl create close cleanup flush internal-ioctl default)", m);
        for (routine_t *o = d->routines; o; o = o->next)
          if (o->kind == RT_DISPATCH && (o->majors[mj / 32] & (1u << (mj % 32))))
            ERR_AT(c, k, "driver %s already dispatches %s (line %d)", d->name, m, o->at.line);
        if (r->majors[mj / 32] & (1u << (mj % 32))) ERR_AT(c, k, "%s is listed twice", m);
        r->majors[mj / 32] |= 1u << (mj % 32);
      }
      r->name = TK(L, 1)->s;
    } else if (!strcmp(w, "completion") || !strcmp(w, "cancel")) {
      r->kind = w[1] == 'o' ? RT_COMPLETION : RT_CANCEL;
      r->name = need_name(c, 1, "a routine name");
      need_end_of_line(c, 2);
      for (routine_t *o = d->routines; o; o = o->next)
        if ((o->kind == RT_COMPLETION || o->kind == RT_CANCEL) && !strcmp(o->name, r->name))
          ERR_AT(c, 1, "routine '%s' is already declared in driver %s", r->name, d->name);
    } else if (!strcmp(w, "fastio")) {
      /* fastio read|write: the FAST_IO_DISPATCH routine, tried before any
         IRP for a cached synchronous file; ends in fast-serve or fast-decline */
      r->kind = RT_FASTIO;
      int mj = scn_major_parse(need_name(c, 1, "read or write"));
      if (mj != IRP_MJ_READ && mj != IRP_MJ_WRITE) ERR_AT(c, 1, "fast I/O routines exist for read and write");
      r->majors[0] = 1u << mj;
      r->name = TK(L, 1)->s;
      need_end_of_line(c, 2);
      for (routine_t *o = d->routines; o; o = o->next)
        if (o->kind == RT_FASTIO && o->majors[0] == r->majors[0])
          ERR_AT(c, 1, "driver %s already has a fast I/O %s routine (line %d)", d->name, r->name, o->at.line);
    } else if (!strcmp(w, "isr") || !strcmp(w, "dpc")) {
      r->kind = w[0] == 'i' ? RT_ISR : RT_DPC;
      r->name = TK(L, 0)->s;
      need_end_of_line(c, 1);
      for (routine_t *o = d->routines; o; o = o->next)
        if (o->kind == r->kind) ERR_AT(c, 0, "driver %s already has its %s routine (line %d)", d->name, w, o->at.line);
    } else {
      ERR_AT(c, 0, "unknown routine kind '%s' in driver %s (dispatch, completion, isr, dpc, cancel, fastio)", w, d->name);
    }
    char what[96];
    if (r->kind == RT_ISR || r->kind == RT_DPC) snprintf(what, sizeof what, "%s", w);
    else snprintf(what, sizeof what, "%s %s", w, r->name);
    r->body = parse_ops(c, CTX_ROUTINE, r->at, ar_strdup(&sc->ar, what), false, NULL);
    *tail = r;
    tail = &r->next;
  }
  d->next = sc->drivers;
  sc->drivers = d;
}

static void parse_device(cursor_t *c) {
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  device_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a device name");
  d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  d->cpu = -1;
  d->irql = 5;
  d->latency = 100000;
  for (int k = 2; TK(L, k)->t != T_END; k++) {
    if (is_word(L, k, "driver")) d->driver = need_name(c, ++k, "a driver name");
    else if (is_word(L, k, "on")) d->on = need_name(c, ++k, "the device to attach to");
    else if (is_word(L, k, "with")) d->with = need_name(c, ++k, "a second device");
    else if (is_word(L, k, "hardware")) d->has_hw = true;
    else if (is_word(L, k, "latency")) d->latency = need_time(c, ++k), d->has_hw = true;
    else if (is_word(L, k, "irql")) {
      d->irql = (int)need_num(c, ++k, "a device IRQL (3..15)");
      if (d->irql <= DISPATCH_LEVEL || d->irql > HIGH_LEVEL) ERR_AT(c, k, "a device IRQL is above DISPATCH_LEVEL (2) and at most 15");
      d->has_hw = true;
    } else if (is_word(L, k, "cpu")) {
      if (is_word(L, k + 1, "any")) d->cpu = -1;
      else d->cpu = (int)need_num(c, k + 1, "a CPU number or any");
      k++;
      d->has_hw = true;
    } else ERR_AT(c, k, "expected driver, on, with, hardware, latency, cpu or irql here");
  }
  if (!d->driver) ERR_AT(c, 2, "device %s needs 'driver NAME'", d->name);
  device_decl_t **tail = &sc->devices;
  for (; *tail; tail = &(*tail)->next)
    if (!strcmp((*tail)->name, d->name)) ERR_AT(c, 1, "device '%s' is already declared", d->name);
  *tail = d; /* declaration order is attach order */
}

/* usermode-fs NAME [async] [work T] [return T] [idle T]: a device of the
   built-in user-mode file system, with its dispatcher (and worker) threads. */
static void parse_ufs(cursor_t *c) {
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  device_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
  d->name = need_name(c, 1, "a device name");
  d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  d->driver = ar_strdup(&sc->ar, "usermode-fs");
  d->ufs = true;
  d->ufs_work = 5000;
  d->ufs_return = 1000;
  d->ufs_idle = 1000000;
  for (int k = 2; TK(L, k)->t != T_END; k++) {
    if (is_word(L, k, "async")) d->ufs_async = true;
    else if (is_word(L, k, "sync")) d->ufs_async = false;
    else if (is_word(L, k, "work")) d->ufs_work = need_time(c, ++k);
    else if (is_word(L, k, "return")) d->ufs_return = need_time(c, ++k);
    else if (is_word(L, k, "idle")) d->ufs_idle = need_time(c, ++k);
    else ERR_AT(c, k, "expected async, sync, work, return or idle here");
  }
  device_decl_t **tail = &sc->devices;
  for (; *tail; tail = &(*tail)->next)
    if (!strcmp((*tail)->name, d->name)) ERR_AT(c, 1, "device '%s' is already declared", d->name);
  *tail = d;
}

static void parse_event(cursor_t *c) {
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  event_decl_t *e = ar_alloc(&sc->ar, sizeof *e);
  e->name = need_name(c, 1, "an event name");
  e->at = (loc_t){L->file, L->line, TK(L, 1)->col};
  for (int k = 2; TK(L, k)->t != T_END; k++) {
    if (is_word(L, k, "notification")) e->sync = false;
    else if (is_word(L, k, "synchronization")) e->sync = true;
    else if (is_word(L, k, "signaled") || is_word(L, k, "signalled")) e->signaled = true;
    else ERR_AT(c, k, "expected notification, synchronization or signaled here");
  }
  for (event_decl_t *o = sc->events; o; o = o->next)
    if (!strcmp(o->name, e->name)) ERR_AT(c, 1, "event '%s' is already declared", e->name);
  e->next = sc->events;
  sc->events = e;
}

static void parse_thread(cursor_t *c) {
  scn_t *sc = c->p->sc;
  thread_decl_t *t = ar_alloc(&sc->ar, sizeof *t);
  t->name = need_name(c, 1, "a thread name");
  t->at = (loc_t){c->L.file, c->L.line, TK(&c->L, 1)->col};
  need_end_of_line(c, 2);
  thread_decl_t **tail = &sc->threads;
  for (; *tail; tail = &(*tail)->next)
    if (!strcmp((*tail)->name, t->name)) ERR_AT(c, 1, "thread '%s' is already declared", t->name);
  char what[96];
  snprintf(what, sizeof what, "thread %s", t->name);
  t->body = parse_ops(c, CTX_PROGRAM, t->at, ar_strdup(&sc->ar, what), false, NULL);
  *tail = t;
}

static void parse_machine(cursor_t *c) {
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  for (int k = 1; TK(L, k)->t != T_END; k += 2) {
    if (is_word(L, k, "cpus")) {
      int64_t n = need_num(c, k + 1, "a CPU count");
      if (n < 1 || n > SIM_MAX_CPUS) ERR_AT(c, k + 1, "cpus must be 1..%d", SIM_MAX_CPUS);
      sc->cfg.cpus = (int)n;
    } else if (is_word(L, k, "seed")) sc->cfg.seed = (uint64_t)need_num(c, k + 1, "a seed");
    else if (is_word(L, k, "jitter")) {
      int64_t j = need_num(c, k + 1, "a jitter percentage");
      if (j > 100) ERR_AT(c, k + 1, "jitter is a percentage, 0..100");
      sc->cfg.jitter_pct = (unsigned)j;
    } else if (is_word(L, k, "seeds")) {
      int64_t n = need_num(c, k + 1, "a number of seeds");
      if (n < 1 || n > 100000) ERR_AT(c, k + 1, "seeds must be 1..100000");
      sc->seeds = (unsigned)n;
    } else if (is_word(L, k, "max-time")) sc->cfg.max_time_ns = (uint64_t)need_time(c, k + 1);
    else if (is_word(L, k, "max-steps")) sc->cfg.max_steps = (uint64_t)need_num(c, k + 1, "a step count");
    else ERR_AT(c, k, "expected cpus, seed, seeds, jitter, max-time or max-steps here");
  }
}

static void parse_file(parser_t *p, const char *path, const char *display, loc_t from);

static void parse_include(cursor_t *c) {
  parser_t *p = c->p;
  tok_t *t = TK(&c->L, 1);
  if (t->t != T_STR) ERR_AT(c, 1, "expected a quoted file name after include");
  need_end_of_line(c, 2);
  char joined[PATH_MAX * 2];
  if (t->s[0] == '/') snprintf(joined, sizeof joined, "%s", t->s);
  else {
    const char *slash = strrchr(c->file, '/');
    int dl = slash ? (int)(slash - c->file) : 1;
    snprintf(joined, sizeof joined, "%.*s/%s", dl, slash ? c->file : ".", t->s);
  }
  char real[PATH_MAX];
  if (!realpath(joined, real)) ERR_AT(c, 1, "cannot include \"%s\": %s", t->s, strerror(errno));
  size_t rl = strlen(p->root), el = p->extra_dir ? strlen(p->extra_dir) : 0;
  bool inside = (strncmp(real, p->root, rl) == 0 && real[rl] == '/') ||
                (el && strncmp(real, p->extra_dir, el) == 0 && real[el] == '/');
  if (!inside)
    ERR_AT(c, 1, "include \"%s\" leaves the scenario tree (%s); pass --include-dir to allow it", t->s, p->root);
  parse_file(p, ar_strdup(&p->sc->ar, real), ar_strdup(&p->sc->ar, joined), (loc_t){c->L.file, c->L.line, t->col});
}

static void parse_top(cursor_t *c) {
  scn_t *sc = c->p->sc;
  lexline_t *L = &c->L;
  if (TK(L, 0)->t != T_WORD) ERR_AT(c, 0, "expected a statement here");
  const char *w = TK(L, 0)->s;
  if (!strcmp(w, "scenario")) {
    if (TK(L, 1)->t != T_STR) ERR_AT(c, 1, "expected a quoted title after scenario");
    need_end_of_line(c, 2);
    if (!sc->title) sc->title = TK(L, 1)->s;
  } else if (!strcmp(w, "machine")) parse_machine(c);
  else if (!strcmp(w, "cost")) {
    cost_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
    d->name = need_name(c, 1, "a cost name");
    int64_t ns = need_time(c, 2);
    if (ns > (int64_t)UINT32_MAX) ERR_AT(c, 2, "a cost is at most 4.29 s (4294967295 ns)");
    d->ns = (uint32_t)ns;
    d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
    need_end_of_line(c, 3);
    bool known = false;
    for (int i = 0; i < COST_COUNT; i++) known |= !strcmp(sim_cost_name((sim_cost_t)i), d->name);
    if (!known) ERR_AT(c, 1, "unknown cost '%s' (see docs/scenario-language.md for the cost table)", d->name);
    cost_decl_t **tail = &sc->costs; /* file order: a later line overrides */
    while (*tail) tail = &(*tail)->next;
    *tail = d;
  } else if (!strcmp(w, "include")) parse_include(c);
  else if (!strcmp(w, "driver")) parse_driver(c);
  else if (!strcmp(w, "device")) parse_device(c);
  else if (!strcmp(w, "event")) parse_event(c);
  else if (!strcmp(w, "usermode-fs")) parse_ufs(c);
  else if (!strcmp(w, "port")) {
    port_decl_t *d = ar_alloc(&sc->ar, sizeof *d);
    d->name = need_name(c, 1, "a port name");
    d->at = (loc_t){L->file, L->line, TK(L, 1)->col};
    int k = 2;
    if (is_word(L, k, "concurrency")) {
      int64_t n = need_num(c, k + 1, "a number of threads (0 = one per CPU)");
      if (n > 64) ERR_AT(c, k + 1, "concurrency at most 64");
      d->concurrency = (unsigned)n;
      k += 2;
    }
    need_end_of_line(c, k);
    for (port_decl_t *o = sc->ports; o; o = o->next)
      if (!strcmp(o->name, d->name)) ERR_AT(c, 1, "port '%s' is already declared", d->name);
    d->next = sc->ports;
    sc->ports = d;
  }
  else if (!strcmp(w, "thread")) parse_thread(c);
  else if (!strcmp(w, "expect")) {
    expect_t *e = parse_expect(c->p, L);
    expect_t **tail = &sc->expects;
    while (*tail) tail = &(*tail)->next;
    *tail = e;
    sc->nexpects++;
  } else if (!strcmp(w, "end")) ERR_AT(c, 0, "'end' without an open block");
  else ERR_AT(c, 0, "unknown statement '%s' (scenario, machine, cost, include, driver, device, usermode-fs, event, port, thread, expect)", w);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h;
}

/* Reads a whole file; refuses what is not text. */
static char *read_text(parser_t *p, const char *path, loc_t from, size_t *len) {
  FILE *f = fopen(path, "rb"); /* the display path: relative to the cwd, like the user wrote it */
  if (!f) perr(p, from.file ? from.file : path, from.line, from.col, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    perr(p, path, 0, 0, "not a regular file");
  }
  if (st.st_size > 16 * 1024 * 1024) {
    fclose(f);
    perr(p, path, 0, 0, "file too large for a scenario (%lld bytes)", (long long)st.st_size);
  }
  char *buf = ar_alloc(&p->sc->ar, (size_t)st.st_size + 1);
  size_t n = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  buf[n] = 0;
  int line = 1, col = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)buf[i];
    if (ch == 0 || (ch < 32 && ch != '\n' && ch != '\t' && ch != '\r') || ch == 127)
      perr(p, path, line, col, "this is not a text file (byte 0x%02X at offset %zu)", ch, i);
    if (ch == '\n') line++, col = 1;
    else col++;
  }
  *len = n;
  return buf;
}

static void parse_file(parser_t *p, const char *path, const char *display, loc_t from) {
  for (int i = 0; i < p->depth; i++)
    if (!strcmp(p->stack[i], path)) {
      char chain[400] = "";
      for (int k = i; k < p->depth; k++) {
        const char *b = strrchr(p->stack[k], '/');
        strncat(chain, b ? b + 1 : p->stack[k], sizeof chain - strlen(chain) - 1);
        strncat(chain, " includes ", sizeof chain - strlen(chain) - 1);
      }
      const char *b = strrchr(path, '/');
      strncat(chain, b ? b + 1 : path, sizeof chain - strlen(chain) - 1);
      perr(p, from.file, from.line, from.col, "include loop: %s", chain);
    }
  for (int i = 0; i < p->nseen; i++)
    if (!strcmp(p->seen[i], path)) return; /* included before: once is enough */
  if (p->depth == (int)(sizeof p->stack / sizeof p->stack[0]))
    perr(p, from.file, from.line, from.col, "includes nested too deeply");
  if (p->nseen == p->capseen) {
    p->capseen = p->capseen ? p->capseen * 2 : 16;
    char **ns = ar_alloc(&p->sc->ar, sizeof(char *) * (size_t)p->capseen);
    if (p->nseen) memcpy(ns, p->seen, sizeof(char *) * (size_t)p->nseen);
    p->seen = ns;
  }
  p->seen[p->nseen++] = (char *)path;
  size_t len;
  char *text = read_text(p, display, from, &len);
  p->sc->hash = fnv1a(p->sc->hash, text, len);
  cursor_t c = {.p = p, .file = display};
  int nl = 1;
  for (size_t i = 0; i < len; i++) nl += text[i] == '\n';
  c.lines = ar_alloc(&p->sc->ar, sizeof(char *) * (size_t)nl);
  char *s = text;
  for (char *e; (e = strchr(s, '\n')); s = e + 1) {
    *e = 0;
    c.lines[c.n++] = s;
  }
  if (*s) c.lines[c.n++] = s;
  p->stack[p->depth++] = path;
  while (next_line(&c)) parse_top(&c);
  p->depth--;
}

/* ---- checks that need the whole scenario ---- */

static device_decl_t *find_device(scn_t *sc, const char *n) {
  for (device_decl_t *d = sc->devices; d; d = d->next)
    if (!strcmp(d->name, n)) return d;
  return NULL;
}
static driver_decl_t *find_driver(scn_t *sc, const char *n) {
  for (driver_decl_t *d = sc->drivers; d; d = d->next)
    if (!strcmp(d->name, n)) return d;
  return NULL;
}
static bool has_event(scn_t *sc, const char *n) {
  for (event_decl_t *e = sc->events; e; e = e->next)
    if (!strcmp(e->name, n)) return true;
  return false;
}
static bool has_port(scn_t *sc, const char *n) {
  for (port_decl_t *e = sc->ports; e; e = e->next)
    if (!strcmp(e->name, n)) return true;
  return false;
}
static bool has_thread(scn_t *sc, const char *n) {
  for (thread_decl_t *t = sc->threads; t; t = t->next)
    if (!strcmp(t->name, n)) return true;
  for (device_decl_t *d = sc->devices; d; d = d->next) /* a user-mode file system's own threads */
    if (d->ufs) {
      size_t l = strlen(d->name);
      if (!strncmp(n, d->name, l) && (!strcmp(n + l, "-dispatcher") || (d->ufs_async && !strcmp(n + l, "-worker"))))
        return true;
    }
  return false;
}
static bool has_routine(driver_decl_t *d, routine_kind_t k, const char *n) {
  if (!d) return false; /* routine operations exist only inside drivers */
  for (routine_t *r = d->routines; r; r = r->next)
    if (r->kind == k && !strcmp(r->name, n)) return true;
  return false;
}

/* Names a program may open or bind (files, IRPs), collected for checks. */
typedef struct names {
  const char *v[256];
  int n;
} names_t;
static bool names_has(const names_t *s, const char *n) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], n)) return true;
  return false;
}
static void names_add(names_t *s, const char *n) {
  if (n && s->n < 256 && !names_has(s, n)) s->v[s->n++] = n;
}

static void collect_names(op_t *o, names_t *files, names_t *irps) {
  for (; o; o = o->next) {
    if (o->kind == OP_OPEN) names_add(files, o->name);
    if (o->kind == OP_READ || o->kind == OP_WRITE || o->kind == OP_IOCTL) names_add(irps, o->name2);
    if (o->kind == OP_SEND) names_add(irps, (const char *)o->names);
    collect_names(o->body, files, irps);
    collect_names(o->else_body, files, irps);
  }
}

static void check_ops(parser_t *p, op_t *o, driver_decl_t *drv, const names_t *files) {
  scn_t *sc = p->sc;
  for (; o; o = o->next) {
    const loc_t *a = &o->at;
    switch (o->kind) {
    case OP_SET_COMPLETION:
      if (!has_routine(drv, RT_COMPLETION, o->name))
        perr(p, a->file, a->line, a->col, "driver %s has no completion routine '%s'", drv->name, o->name);
      break;
    case OP_SET_CANCEL:
      if (o->name && !has_routine(drv, RT_CANCEL, o->name))
        perr(p, a->file, a->line, a->col, "driver %s has no cancel routine '%s'", drv->name, o->name);
      break;
    case OP_SEND:
      if (o->name && !has_routine(drv, RT_COMPLETION, o->name))
        perr(p, a->file, a->line, a->col, "driver %s has no completion routine '%s'", drv->name, o->name);
      if (o->name2 && !find_device(sc, o->name2))
        perr(p, a->file, a->line, a->col, "no device named '%s'", o->name2);
      break;
    case OP_KWAIT:
      if (!has_event(sc, o->names[0])) perr(p, a->file, a->line, a->col, "no event named '%s'", o->names[0]);
      break;
    case OP_SIGNAL:
    case OP_CLEAR:
    case OP_RESET:
      if (!has_event(sc, o->name)) perr(p, a->file, a->line, a->col, "no event named '%s'", o->name);
      break;
    case OP_OPEN:
      if (!find_device(sc, o->name2)) perr(p, a->file, a->line, a->col, "no device named '%s' to open", o->name2);
      break;
    case OP_READ:
    case OP_WRITE:
    case OP_IOCTL:
    case OP_CLOSE:
      if (!names_has(files, o->name)) perr(p, a->file, a->line, a->col, "no file named '%s' is opened by any thread", o->name);
      if (o->names && !has_event(sc, (const char *)o->names)) perr(p, a->file, a->line, a->col, "no event named '%s'", (const char *)o->names);
      break;
    case OP_ASSOCIATE:
      if (!names_has(files, o->name)) perr(p, a->file, a->line, a->col, "no file named '%s' is opened by any thread", o->name);
      if (!has_port(sc, o->name2)) perr(p, a->file, a->line, a->col, "no port named '%s'", o->name2);
      break;
    case OP_SPLIT:
      for (int i = 0; i < o->nnames; i++)
        if (strcmp(o->names[i], "lower") && strcmp(o->names[i], "with") && !find_device(sc, o->names[i]))
          perr(p, a->file, a->line, a->col, "no device named '%s' (or write lower / with)", o->names[i]);
      break;
    case OP_CANCEL_IO:
    case OP_LOCK:
    case OP_CANCEL_IO_EX:
      if (!names_has(files, o->name)) perr(p, a->file, a->line, a->col, "no file named '%s' is opened by any thread", o->name);
      break;
    case OP_CANCEL_SYNC:
      if (!has_thread(sc, o->name)) perr(p, a->file, a->line, a->col, "no thread named '%s'", o->name);
      break;
    case OP_GQCS:
    case OP_POST:
      if (!has_port(sc, o->name)) perr(p, a->file, a->line, a->col, "no port named '%s'", o->name);
      break;
    case OP_UWAIT:
      for (int i = 0; i < o->nnames; i++)
        if (!has_event(sc, o->names[i]) && !names_has(files, o->names[i]) && !has_thread(sc, o->names[i]))
          perr(p, a->file, a->line, a->col, "'%s' is not an event, a file or a thread", o->names[i]);
      if (o->nnames > MAXIMUM_WAIT_OBJECTS)
        perr(p, a->file, a->line, a->col, "a wait takes at most %d objects (MAXIMUM_WAIT_OBJECTS)", MAXIMUM_WAIT_OBJECTS);
      break;
    default:
      break;
    }
    check_ops(p, o->body, drv, files);
    check_ops(p, o->else_body, drv, files);
  }
}

/* What a driver's routines use: queues, counters, hardware, a lower device. */
typedef struct drv_use {
  names_t queues, counters;
  const op_t *start_io, *call_lower;
} drv_use_t;

static void collect_use(const op_t *o, drv_use_t *u) {
  for (; o; o = o->next) {
    if (o->kind == OP_QUEUE || o->kind == OP_DEQUEUE || o->kind == OP_UNQUEUE || o->kind == OP_CSQ_INSERT ||
        o->kind == OP_CSQ_REMOVE)
      names_add(&u->queues, o->name);
    if ((o->kind == OP_IF || o->kind == OP_WHILE) && o->cond.kind == COND_QUEUE_EMPTY) names_add(&u->queues, o->cond.name);
    if (o->kind == OP_COUNTER) names_add(&u->counters, o->name);
    if ((o->kind == OP_IF || o->kind == OP_WHILE) && o->cond.kind == COND_COUNTER) names_add(&u->counters, o->cond.name);
    if (o->kind == OP_START_IO && !u->start_io) u->start_io = o;
    if ((o->kind == OP_CALL_LOWER || (o->kind == OP_SEND && !o->name2)) && !u->call_lower) u->call_lower = o;
    collect_use(o->body, u);
    collect_use(o->else_body, u);
  }
}

static void check_driver_use(parser_t *p, driver_decl_t *d) {
  drv_use_t u;
  memset(&u, 0, sizeof u);
  for (routine_t *r = d->routines; r; r = r->next) collect_use(r->body, &u);
  if (u.queues.n > 8) perr(p, d->at.file, d->at.line, d->at.col, "driver %s uses %d queues; at most 8", d->name, u.queues.n);
  if (u.counters.n > 16) perr(p, d->at.file, d->at.line, d->at.col, "driver %s uses %d counters; at most 16", d->name, u.counters.n);
  for (device_decl_t *v = p->sc->devices; v; v = v->next) {
    if (strcmp(v->driver, d->name)) continue;
    if (u.start_io && !v->has_hw)
      perr(p, v->at.file, v->at.line, v->at.col,
           "device %s has no hardware, but driver %s starts hardware I/O (%s:%d); add e.g. 'latency 100us'",
           v->name, d->name, u.start_io->at.file, u.start_io->at.line);
    if (u.call_lower && !v->on)
      perr(p, v->at.file, v->at.line, v->at.col,
           "device %s is attached to nothing, but driver %s calls the lower driver (%s:%d); add 'on DEVICE'",
           v->name, d->name, u.call_lower->at.file, u.call_lower->at.line);
  }
}

static void check_scenario(parser_t *p) {
  scn_t *sc = p->sc;
  names_t files = {0}, irps = {0};
  for (thread_decl_t *t = sc->threads; t; t = t->next) collect_names(t->body, &files, &irps);
  for (driver_decl_t *d = sc->drivers; d; d = d->next)
    for (routine_t *r = d->routines; r; r = r->next) collect_names(r->body, &files, &irps);
  for (device_decl_t *d = sc->devices; d; d = d->next) {
    if (!d->ufs && !find_driver(sc, d->driver))
      perr(p, d->at.file, d->at.line, d->at.col, "device %s uses driver '%s', which is not declared", d->name, d->driver);
    if (d->with && !find_device(sc, d->with))
      perr(p, d->at.file, d->at.line, d->at.col, "device %s names 'with %s', which is not declared", d->name, d->with);
    if (d->on) {
      device_decl_t *o = sc->devices;
      while (o && o != d && strcmp(o->name, d->on)) o = o->next;
      if (!o || o == d)
        perr(p, d->at.file, d->at.line, d->at.col, "device %s is attached on '%s', which is not declared before it", d->name, d->on);
    }
    if (d->cpu >= (sc->cfg.cpus ? sc->cfg.cpus : 1))
      perr(p, d->at.file, d->at.line, d->at.col, "device %s takes its interrupt on CPU %d, but the machine has %d CPU(s)", d->name, d->cpu, sc->cfg.cpus ? sc->cfg.cpus : 1);
  }
  for (driver_decl_t *d = sc->drivers; d; d = d->next) {
    for (routine_t *r = d->routines; r; r = r->next) check_ops(p, r->body, d, &files);
    check_driver_use(p, d);
  }
  for (thread_decl_t *t = sc->threads; t; t = t->next) check_ops(p, t->body, NULL, &files);
  for (expect_t *e = sc->expects; e; e = e->next) {
    const char *subj = e->subject;
    if ((e->kind == EX_IRP_FIELD || e->kind == EX_IRP_COMPLETED) && !names_has(&irps, subj))
      perr(p, e->at.file, e->at.line, e->at.col, "no request is named '%s' (name one with 'as %s')", subj, subj);
    if (e->kind == EX_THREAD_STATE && !has_thread(sc, subj))
      perr(p, e->at.file, e->at.line, e->at.col, "no thread named '%s'", subj);
    if (e->kind == EX_EVENT_FIELD && !strcmp(e->field, "thread") && strcmp(e->svalue, "none") &&
        !has_thread(sc, e->svalue))
      perr(p, e->at.file, e->at.line, e->at.col, "no thread named '%s' (or write none)", e->svalue);
    for (int i = 0; i < e->npats; i++)
      for (int k = 0; k < e->pats[i].nargs; k++) {
        const char *a = e->pats[i].args[k];
        if (a[0] == '"' || (a[0] >= '0' && a[0] <= '9') || !strcmp(a, "none") || strchr(a, '=')) continue;
        if (!find_device(sc, a) && !names_has(&irps, a) && !has_thread(sc, a) && !has_event(sc, a) &&
            !names_has(&files, a) && !has_port(sc, a))
          perr(p, e->at.file, e->at.line, e->at.col, "'%s' in %s is not a device, a request, a thread, an event, a file or a port", a, e->pats[i].text);
      }
  }
  if (!sc->threads && sc->drivers && !sc->devices && !sc->nexpects)
    perr(p, sc->path, 1, 1, "this is a driver library (drivers, no thread): include it from a scenario to run it");
  if (!sc->threads) perr(p, sc->path, 1, 1, "the scenario declares no thread, so nothing would run");
}

/* The scenario tree: the nearest folder named "scenarios" above the file,
   else the file's own folder. */
static char *scenario_root(arena_t *a, const char *real) {
  char *r = ar_strdup(a, real);
  char *slash = strrchr(r, '/');
  if (slash) *slash = 0;
  for (char *s = r + strlen(r); s > r; s--)
    if (*s == '/' && strncmp(s, "/scenarios", 10) == 0 && (s[10] == '/' || s[10] == 0)) {
      s[10] = 0;
      return r;
    }
  return r;
}

/* Parses into p->sc; false when perr() jumped back with an error. */
static bool load_into(parser_t *p, const char *path, const char *extra_dir) {
  if (setjmp(p->fail)) return false;
  scn_t *sc = p->sc;
  char real[PATH_MAX];
  if (!realpath(path, real)) perr(p, path, 0, 0, "cannot open: %s", strerror(errno));
  if (extra_dir) {
    char er[PATH_MAX];
    if (!realpath(extra_dir, er)) perr(p, extra_dir, 0, 0, "include folder: %s", strerror(errno));
    p->extra_dir = ar_strdup(&sc->ar, er);
  }
  p->root = scenario_root(&sc->ar, real);
  sc->path = ar_strdup(&sc->ar, path);
  parse_file(p, ar_strdup(&sc->ar, real), sc->path, (loc_t){NULL, 0, 0});
  check_scenario(p);
  if (!sc->title) sc->title = ar_strdup(&sc->ar, path);
  return true;
}

scn_t *scn_load(const char *path, const char *extra_dir, scn_error_t *err) {
  memset(err, 0, sizeof *err);
  scn_t *sc = calloc(1, sizeof *sc);
  parser_t *p = calloc(1, sizeof *p);
  if (!sc || !p) abort();
  sc->cfg.cpus = 1;
  sc->seeds = 1;
  sc->hash = 0xcbf29ce484222325ull;
  p->sc = sc;
  p->err = err;
  bool ok = load_into(p, path, extra_dir);
  free(p);
  if (!ok) {
    scn_free(sc);
    return NULL;
  }
  return sc;
}

void scn_free(scn_t *sc) {
  if (!sc) return;
  ar_free(&sc->ar);
  free(sc);
}

const char *scn_title(const scn_t *sc) { return sc->title; }
const char *scn_path(const scn_t *sc) { return sc->path; }
uint64_t scn_hash(const scn_t *sc) { return sc->hash; }
uint64_t scn_seed(const scn_t *sc) { return sc->cfg.seed; }
unsigned scn_seed_count(const scn_t *sc) { return sc->seeds; }
