/*
 * parse_int.h - what the pieces of the scenario parser share: the cursor
 * over a file's lines, the token helpers that report "expected ..." errors,
 * and the one keyword table every statement is dispatched through
 * (parse.c reads files, top-level statements and driver blocks;
 * parse_ops.c reads routine and program operations and holds the table;
 * parse_check.c checks what needs the whole scenario).
 */
#ifndef IOSIM_PARSE_INT_H
#define IOSIM_PARSE_INT_H

#include "scn_int.h"

/* The lines of one file, and where we are in them. */
typedef struct cursor {
  parser_t *p;
  const char *file;
  char **lines;
  int n, i;
  lexline_t L;
} cursor_t;

/* Token k of L, or its T_END past the last one, so lookahead never overruns. */
#define TK(L, k) lex_tok((L), (k))
#define ERR_AT(c, k, ...) perr((c)->p, (c)->L.file, (c)->L.line, TK(&(c)->L, k)->col, __VA_ARGS__)

bool next_line(cursor_t *c);
bool is_word(const lexline_t *L, int k, const char *w);
/* The index of token k in the NULL-terminated `words`, or -1 (also when
   the token is not a word). */
int word_index(const lexline_t *L, int k, const char *const *words);
char *need_name(cursor_t *c, int k, const char *what);
int64_t need_num(cursor_t *c, int k, const char *what);
int64_t need_time(cursor_t *c, int k);
NTSTATUS need_status(cursor_t *c, int k);
void need_end_of_line(cursor_t *c, int k);
/* A DPC importance word (low, medium, medium-high, high) as KDPC_IMPORTANCE. */
int need_importance(cursor_t *c, int k);

/* ---- the keyword table ---- */

/* Where a statement may appear. */
typedef enum {
  W_TOP = 1,      /* a scenario file's own lines */
  W_DRIVER = 2,   /* inside `driver NAME ... end`: routine headers */
  W_ROUTINE = 4,  /* a driver routine's body */
  W_PROGRAM = 8,  /* a thread's program */
  W_ANY = W_TOP | W_DRIVER | W_ROUTINE | W_PROGRAM
} where_t;

/* What a parse function adds to: the block being read. */
typedef struct block {
  where_t where;
  driver_decl_t *driver;   /* W_DRIVER: the driver whose routines these are */
  routine_t **routine_tail;
  op_t **tail;             /* W_ROUTINE, W_PROGRAM: where the next operation goes */
} block_t;

typedef struct keyword keyword_t;
typedef void kw_parse_fn(cursor_t *c, const keyword_t *kw, block_t *b);

/* Which of a keyword's meanings (the union below) it has. */
typedef enum {
  KW_DECL,    /* a top-level declaration */
  KW_ROUTINE, /* a routine header inside a driver */
  KW_OP,      /* an operation of a routine or a program */
  KW_END,     /* closes the block */
  KW_ELSE     /* splits an if block */
} kw_kind_t;

struct keyword {
  const char *word;
  unsigned where;          /* where_t bits */
  kw_kind_t kind;
  union {
    op_kind_t op;            /* KW_OP */
    routine_kind_t routine;  /* KW_ROUTINE */
  };
  kw_parse_fn *parse;      /* NULL for end and else: the block reader handles them */
  const char *what;        /* the operand a shared parse function asks for ("a queue name") */
};

/* The entry for `word` valid in one of the `where` bits, or NULL. */
const keyword_t *kw_find(const char *word, unsigned where);

/* Operations until `end` (or `else` when allow_else); an unterminated
   block is reported where it was opened. */
op_t *parse_block(cursor_t *c, where_t where, loc_t opener, const char *what, bool allow_else,
                  bool *ended_with_else);

/* Top-level statements and routine headers (parse.c). */
kw_parse_fn parse_scenario_title, parse_machine, parse_cost, parse_include, parse_driver, parse_device,
    parse_ufs, parse_event, parse_port, parse_thread, parse_expect_line, parse_dispatch_routine,
    parse_named_routine, parse_fastio_routine, parse_irq_routine;

/* Checks that need the whole scenario (parse_check.c). */
void check_scenario(parser_t *p);

#endif
