/*
 * lex.c - the scenario language's tokens, one line at a time, and the
 * arena that owns everything a scenario holds.
 */
#include <ctype.h>

#include "iosim/alloc.h"
#include "scn_int.h"

struct arena_blk {
  arena_blk_t *next;
  size_t used, cap;
  max_align_t data[];
};

void *ar_alloc(arena_t *a, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!a->head || a->head->used + n > a->head->cap) {
    size_t cap = n > 16384 ? n : 16384;
    arena_blk_t *b = iosim_malloc(sizeof *b + cap); /* never NULL (alloc.h) */
    if (a->charge) sim_charge_memory(a->charge, sizeof *b + cap);
    b->next = a->head;
    b->used = 0;
    b->cap = cap;
    a->head = b;
  }
  void *p = (char *)a->head->data + a->head->used;
  a->head->used += n;
  memset(p, 0, n);
  return p;
}

char *ar_strndup(arena_t *a, const char *s, size_t n) {
  char *d = ar_alloc(a, n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *ar_strdup(arena_t *a, const char *s) { return ar_strndup(a, s, strlen(s)); }

void ar_free(arena_t *a) {
  for (arena_blk_t *b = a->head, *n; b; b = n) {
    n = b->next;
    free(b);
  }
  a->head = NULL;
}

static bool lex_err(scn_error_t *err, const char *file, int line, int col, const char *msg) {
  snprintf(err->file, sizeof err->file, "%s", file);
  err->line = line;
  err->col = col;
  snprintf(err->msg, sizeof err->msg, "%s", msg);
  return false;
}

static bool word_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/'; }

/* A number with an optional unit: 42, 0x44, 200us, 1.5ms, 64k. */
static bool lex_number(const char *s, size_t n, tok_t *t) {
  char buf[64];
  if (n >= sizeof buf) return false;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
    unsigned long long v = strtoull(buf, &end, 16);
    if (*end) return false;
    t->n = (int64_t)v;
    return true;
  }
  double v = strtod(buf, &end); /* s starts with a digit: at least one is read, and no sign */
  static const struct { const char *u; double mul; } units[] = {
      {"", 1}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"k", 1024}, {"K", 1024}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(end, units[i].u) == 0) {
      double r = v * units[i].mul;
      if (r > 9.2e18 || (r != (double)(int64_t)r && units[i].mul == 1)) return false;
      t->n = (int64_t)r;
      snprintf(t->unit, sizeof t->unit, "%s", units[i].u);
      return true;
    }
  return false;
}

bool lex_line(arena_t *a, const char *line, int lineno, const char *file, lexline_t *out,
              scn_error_t *err) {
  size_t len = strlen(line);
  /* A line has at most len tokens and its end: the array is the cursor's,
     reused, and grows by doubling (memory stays linear in the longest
     line, not in the file). */
  if (out->cap < len + 2) {
    size_t cap = out->cap ? out->cap : 64;
    while (cap < len + 2) cap *= 2;
    out->v = ar_alloc(a, cap * sizeof *out->v);
    out->cap = cap;
  }
  tok_t *v = out->v;
  int n = 0;
  size_t i = 0;
  size_t last = 0; /* end of the last token, for raw */
  while (i < len) {
    unsigned char c = (unsigned char)line[i];
    if (c == '#') break;
    if (c == ' ' || c == '\t' || c == '\r') {
      i++;
      continue;
    }
    tok_t *t = &v[n];
    memset(t, 0, sizeof *t);
    t->col = (int)i + 1;
    if (c == '"') {
      size_t j = i + 1;
      while (j < len && line[j] != '"') j++;
      if (j >= len) return lex_err(err, file, lineno, (int)i + 1, "unterminated string (a \" is missing)");
      t->t = T_STR;
      t->s = ar_strndup(a, line + i + 1, j - i - 1);
      i = j + 1;
    } else if (strchr("=!<>+:(),", c)) {
      size_t j = i + 1;
      if (j < len && line[j] == '=' && strchr("=!<>+", c)) j++;
      t->t = T_OP;
      t->s = ar_strndup(a, line + i, j - i);
      if (strcmp(t->s, "=") == 0 || strcmp(t->s, "!") == 0)
        return lex_err(err, file, lineno, (int)i + 1, "expected '==' or '!=' here");
      i = j;
    } else if (word_char(c)) {
      size_t j = i;
      while (j < len && word_char((unsigned char)line[j])) j++;
      t->s = ar_strndup(a, line + i, j - i);
      if (isdigit(c)) {
        t->t = T_NUM;
        if (!lex_number(line + i, j - i, t)) {
          char msg[160];
          snprintf(msg, sizeof msg, "bad number '%s' (write e.g. 42, 0x44, 200us, 4k)", t->s);
          return lex_err(err, file, lineno, (int)i + 1, msg);
        }
      } else {
        t->t = T_WORD;
      }
      i = j;
    } else {
      char msg[96];
      snprintf(msg, sizeof msg, c < 32 || c > 126 ? "unexpected byte 0x%02X" : "unexpected character '%c'", c);
      return lex_err(err, file, lineno, (int)i + 1, msg);
    }
    last = i;
    n++;
  }
  memset(&v[n], 0, sizeof v[n]);
  v[n].t = T_END;
  v[n].col = (int)i + 1;
  v[n].s = (char *)"";
  out->n = n;
  out->line = lineno;
  out->file = file;
  size_t s0 = 0;
  while (s0 < last && (line[s0] == ' ' || line[s0] == '\t')) s0++;
  out->raw = ar_strndup(a, line + s0, last > s0 ? last - s0 : 0);
  return true;
}

tok_t *lex_tok(const lexline_t *L, int k) { return &L->v[k < L->n ? k : L->n]; }
