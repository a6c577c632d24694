/*
 * grade_cmd.c - `iosim grade FILE ANSWERS`: checks a student's predictions
 * of the cells `iosim run --blank` showed as `?`.  The scenario is run again
 * (same seed) and each blanked row compared with the answers; each row is
 * reported right or wrong with the correct values and, in one line, why the
 * step happened (the --explain text).
 *
 * An answer file holds one line per step: the step number (`#31` or `31`)
 * then the blanked values in the order of the columns, and the `blank COLS
 * after N seed S` line `run --blank` printed (or the --blank options).  The
 * filled-in table itself is accepted too: a line that starts with the step
 * and has as many words as the row is read as the row, `?` replaced.
 * Exit 0 all right, 1 some wrong or not answered, 2 bad input.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "iosim/scenario.h"
#include "iosim/alloc.h"

static const char *const usage_grade =
    "usage: iosim grade FILE ANSWERS [--blank COLS] [--blank-after N] [--seed N]\n"
    "                                [--include-dir DIR]\n"
    "\n"
    "Runs the scenario again and checks the cells `iosim run --blank` showed\n"
    "as `?`: per row, right or wrong, the correct values, and why the step\n"
    "happened (the sentence run's explain option prints under it).  ANSWERS\n"
    "holds a line per step: the step and its blanked values in the order of\n"
    "the columns (`#31 PASSIVE app`), or the printed table with each ?\n"
    "replaced; its `blank` line (printed by run --blank) says which cells\n"
    "were blanked, unless the options say it.\n"
    "  --blank COLS     the columns blanked (as for run --blank)\n"
    "  --blank-after N  only the steps after step N were blanked\n"
    "  --seed N         the seed the table was printed with\n"
    "  --include-dir D  allow includes from D\n"
    "Values compare without case, `STATUS_` or `_LEVEL`; `3.650us` or\n"
    "`3.650 us`.  Exit 0 all right, 1 some wrong or not answered, 2 bad input\n"
    "(`file:line:col: message`).\n";

/* ---- the run's rows ---- */

typedef struct rows {
  sim_t *S;
  pr_row_t *v;
  size_t n, cap;
} rows_t;

static void rows_event(void *ud, const trc_event_t *ev) {
  rows_t *r = ud;
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 256;
    r->v = iosim_realloc(r->v, r->cap * sizeof *r->v);
  }
  pr_row_make(r->S, ev, &r->v[r->n++]);
}

static void rows_start(void *ud, sim_t *S) {
  rows_t *r = ud;
  r->S = S;
  trc_sink_t t = {.event = rows_event, .ud = r};
  sim_add_sink(S, &t);
}

static pr_row_t *row_of(const rows_t *r, uint64_t seq) {
  /* Steps are numbered 1, 2, ... in order. */
  if (seq == 0 || seq > r->n || r->v[seq - 1].seq != seq) return NULL;
  return &r->v[seq - 1];
}

/* ---- words of a line, with their columns ---- */

typedef struct word {
  char s[200];
  int col; /* 1-based */
} word_t;

#define MAX_WORDS 96

/* Splits `line` at blanks; "3.650 us" becomes one word "3.650us", as the
   time cell is one answer. */
static int split(const char *line, word_t *w) {
  int n = 0;
  for (const char *p = line; *p && n < MAX_WORDS;) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (!*p) break;
    size_t len = strcspn(p, " \t\r\n");
    if (n > 0 && len == 2 && !strncmp(p, "us", 2) && isdigit((unsigned char)w[n - 1].s[0]) &&
        strlen(w[n - 1].s) + 3 < sizeof w[n - 1].s) {
      strcat(w[n - 1].s, "us");
    } else {
      snprintf(w[n].s, sizeof w[n].s, "%.*s", (int)(len < sizeof w[n].s ? len : sizeof w[n].s - 1), p);
      w[n].col = (int)(p - line) + 1;
      n++;
    }
    p += len;
  }
  return n;
}

/* A step word: "#31" or "31". */
static bool step_word(const char *s, uint64_t *seq) {
  if (*s == '#') s++;
  if (!isdigit((unsigned char)*s)) return false;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end) return false;
  *seq = v;
  return true;
}

/* A value as compared: no case, no STATUS_ / _LEVEL, no blanks. */
static void norm(const char *s, char *out, size_t n) {
  size_t k = 0;
  if (!strncasecmp(s, "STATUS_", 7)) s += 7;
  for (; *s && k + 1 < n; s++)
    if (*s != ' ') out[k++] = (char)tolower((unsigned char)*s);
  out[k] = '\0';
  if (k > 6 && !strcmp(out + k - 6, "_level")) out[k - 6] = '\0';
}

static bool same(const char *answer, const char *truth) {
  char a[200], t[200];
  norm(answer, a, sizeof a);
  norm(truth, t, sizeof t);
  return !strcmp(a, t);
}

/* ---- the answer file ---- */

typedef struct answer {
  bool given;
  int line;
  char v[PR_NCOLS][200]; /* by column */
} answer_t;

typedef struct grader {
  const char *path; /* the answer file, for messages */
  int errors;
  cli_blank_t blank;
  bool has_blank, has_seed;
  uint64_t seed;
} grader_t;

static void bad(grader_t *g, int line, int col, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "%s:%d:%d: ", g->path, line, col);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  g->errors++;
}

/* `blank COLS [after N] [seed S]`: what run --blank printed. */
static void directive(grader_t *g, const word_t *w, int n, int line, bool keep_blank, bool keep_seed) {
  char err[300];
  unsigned cols = 0;
  uint64_t after = 0, seed = 0;
  bool has_seed = false;
  if (n < 2 || pr_parse_cols(w[1].s, &cols, err, sizeof err) != 0) {
    bad(g, line, n < 2 ? w[0].col : w[1].col, "%s%s", "the blank line names the columns blanked: ",
        n < 2 ? "blank irql,thread after 30 seed 7" : err);
    return;
  }
  for (int i = 2; i < n; i += 2) {
    uint64_t v;
    char *end;
    if (i + 1 >= n || (strcmp(w[i].s, "after") && strcmp(w[i].s, "seed"))) {
      bad(g, line, w[i].col, "'%s': the blank line goes on with `after N` and `seed S`%s", w[i].s, "");
      return;
    }
    v = strtoull(w[i + 1].s, &end, 10);
    if (*end || !isdigit((unsigned char)w[i + 1].s[0])) {
      bad(g, line, w[i + 1].col, "'%s' is not a number%s", w[i + 1].s, "");
      return;
    }
    if (!strcmp(w[i].s, "after")) after = v;
    else seed = v, has_seed = true;
  }
  if (!keep_blank) {
    g->blank.cols = cols;
    g->blank.after = after;
    g->has_blank = true;
  }
  if (!keep_seed && has_seed) {
    g->seed = seed;
    g->has_seed = true;
  }
}

/* Matches a filled-in table row against the row as printed with its
   blanks: every word the same, each `?` (alone or inside a word such as
   `[?]`) filled with the answer. */
static void table_row(grader_t *g, const pr_row_t *row, const word_t *w, int n, int line, answer_t *a) {
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  if (!m) abort();
  pr_row_print(m, row, g->blank.cols, false);
  fclose(m);
  word_t t[MAX_WORDS];
  int tn = split(text, t);
  free(text);
  if (tn != n) {
    char k[64];
    snprintf(k, sizeof k, "%d words, the row as printed %d", n, tn);
    bad(g, line, w[0].col,
        "step %s: this line has %s (one value per ?, or the whole row; a table printed with --width wraps"
        " rows: print it with --width 0)",
        w[0].s, k);
    return;
  }
  for (int i = 1; i < n; i++) {
    const char *q = strchr(t[i].s, '?');
    if (!q) {
      if (strcmp(t[i].s, w[i].s) != 0)
        bad(g, line, w[i].col, "'%s' where the run has '%s' (was the table printed with another seed?)", w[i].s,
            t[i].s);
      continue;
    }
    /* Words 1 to 8 are time .. event; a `?` further on is the status. */
    int col = i <= 8 ? PR_TIME + i - 1 : PR_STATUS;
    size_t pre = (size_t)(q - t[i].s), post = strlen(q + 1), wl = strlen(w[i].s);
    if (wl < pre + post || strncmp(w[i].s, t[i].s, pre) || strcmp(w[i].s + wl - post, q + 1)) {
      bad(g, line, w[i].col, "'%s' does not fill in '%s'", w[i].s, t[i].s);
      continue;
    }
    if (!a->v[col][0]) snprintf(a->v[col], sizeof a->v[col], "%.*s", (int)(wl - pre - post), w[i].s + pre);
  }
}

static void read_answers(grader_t *g, FILE *f, const rows_t *rows, answer_t *ans, bool pass_directives,
                         bool keep_blank, bool keep_seed) {
  char buf[4096];
  char *prev = NULL; /* a table row waiting for its wrapped continuation */
  int line = 0, prev_line = 0;
  bool table = false;
  /* First: is it the printed table (its header line)? */
  rewind(f);
  while (fgets(buf, sizeof buf, f)) {
    word_t w[MAX_WORDS];
    int n = split(buf, w);
    if (n >= 4 && !strcmp(w[0].s, "step") && !strcmp(w[1].s, "time") && !strcmp(w[2].s, "cpu")) table = true;
  }
  rewind(f);
  for (;;) {
    char *got = fgets(buf, sizeof buf, f);
    line += got != NULL;
    /* A wrapped table row goes on in a line indented past the columns. */
    if (got && table && prev && strspn(buf, " ") >= 20 && strncmp(buf + strspn(buf, " "), "\\_", 2) != 0) {
      size_t pl = strlen(prev);
      if (pl && prev[pl - 1] == '\n') prev[--pl] = '\0';
      prev = iosim_realloc(prev, pl + strlen(buf) + 2);
      strcat(prev, " ");
      strcat(prev, buf);
      continue;
    }
    if (prev && !pass_directives) {
      word_t w[MAX_WORDS];
      int n = split(prev, w);
      uint64_t seq = 0;
      step_word(w[0].s, &seq);
      const pr_row_t *row = row_of(rows, seq);
      int blanks[PR_NCOLS];
      int nb = row ? pr_row_blanks(row, g->blank.cols, blanks) : 0;
      char num[32];
      snprintf(num, sizeof num, "%llu", (unsigned long long)rows->n);
      if (!row) {
        bad(g, prev_line, w[0].col, "step %s is not in the run (it has %s steps)", w[0].s, num);
      } else if (!pr_blanked(&g->blank, seq) || nb == 0) {
        if (!table) /* the printed table has its rows without blanks too */
          bad(g, prev_line, w[0].col, "step %s has no blanks to fill in%s", w[0].s, "");
      } else if (ans[seq - 1].given) {
        snprintf(num, sizeof num, "%d", ans[seq - 1].line);
        bad(g, prev_line, w[0].col, "step %s was answered already, in line %s", w[0].s, num);
      } else if (n - 1 == nb) {
        answer_t *a = &ans[seq - 1];
        for (int i = 0; i < nb; i++) snprintf(a->v[blanks[i]], sizeof a->v[0], "%s", w[i + 1].s);
        a->given = true;
        a->line = prev_line;
      } else if (table || n > 10) {
        answer_t *a = &ans[seq - 1];
        memset(a, 0, sizeof *a);
        table_row(g, row, w, n, prev_line, a);
        a->given = true;
        a->line = prev_line;
      } else {
        char want[200] = "";
        for (int i = 0; i < nb; i++)
          snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? " " : "", pr_col_name(blanks[i]));
        char k[32];
        snprintf(k, sizeof k, "%d value%s", n - 1, n == 2 ? "" : "s");
        bad(g, prev_line, w[0].col, "this line gives %s; the step's blanks are: %s", k, want);
      }
    }
    free(prev);
    prev = NULL;
    if (!got) break;
    word_t w[MAX_WORDS];
    int n = split(buf, w);
    uint64_t seq;
    if (n == 0) continue;
    if (!strcmp(w[0].s, "blank")) {
      if (pass_directives) directive(g, w, n, line, keep_blank, keep_seed);
      continue;
    }
    /* In the printed table a row's step is right-aligned in 5 columns. */
    if (step_word(w[0].s, &seq) && (!table || (w[0].s[0] == '#' && w[0].col <= 5))) {
      prev = iosim_strdup(buf);
      prev_line = line;
      continue;
    }
    /* Comments, and in the printed table everything that is no row. */
    if (table || w[0].s[0] == '#' || w[0].s[0] == ';') continue;
    if (!pass_directives)
      bad(g, line, w[0].col, "'%s': an answer line starts with the step (#31), then its values%s", w[0].s, "");
  }
}

/* ---- the report ---- */

static int grade_rows(const rows_t *rows, const cli_blank_t *b, const answer_t *ans) {
  int cells = 0, cells_right = 0, nrows = 0, rows_right = 0, missing = 0;
  for (size_t i = 0; i < rows->n; i++) {
    const pr_row_t *row = &rows->v[i];
    int blanks[PR_NCOLS];
    int nb = pr_blanked(b, row->seq) ? pr_row_blanks(row, b->cols, blanks) : 0;
    if (!nb) continue;
    nrows++;
    const answer_t *a = &ans[i];
    char what[1400] = "";
    size_t k = 0;
    int right = 0;
    for (int j = 0; j < nb; j++) {
      int c = blanks[j];
      bool ok = a->given && a->v[c][0] && strcmp(a->v[c], "?") && same(a->v[c], row->cell[c]);
      right += ok;
      if (ok || !a->given) k += (size_t)snprintf(what + k, sizeof what - k, "%s%s %s", j ? ", " : "", pr_col_name(c), row->cell[c]);
      else if (!a->v[c][0] || !strcmp(a->v[c], "?"))
        k += (size_t)snprintf(what + k, sizeof what - k, "%s%s %s (no answer)", j ? ", " : "", pr_col_name(c),
                              row->cell[c]);
      else
        k += (size_t)snprintf(what + k, sizeof what - k, "%s%s %s (not %s)", j ? ", " : "", pr_col_name(c),
                              row->cell[c], a->v[c]);
      if (k >= sizeof what) k = sizeof what - 1;
    }
    cells += nb;
    cells_right += right;
    rows_right += right == nb;
    missing += !a->given;
    const char *verdict = !a->given ? "no answer" : right == nb ? "right" : "wrong";
    printf("  #%-5llu %-9s %s", (unsigned long long)row->seq, verdict, what);
    if (right != nb && row->explain[0]) printf(" - why: %s", row->explain);
    putchar('\n');
  }
  printf("grade: %d of %d cells right; %d of %d rows right", cells_right, cells, rows_right, nrows);
  if (missing) printf(", %d not answered", missing);
  putchar('\n');
  return rows_right == nrows ? 0 : 1;
}

int cli_grade(int argc, char **argv) {
  static const struct option opts[] = {{"blank", required_argument, 0, 'B'}, {"blank-after", required_argument, 0, 'A'},
                                       {"seed", required_argument, 0, 's'}, {"include-dir", required_argument, 0, 'I'},
                                       {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  grader_t g = {0};
  const char *include_dir = NULL;
  bool opt_blank = false, opt_after = false, opt_seed = false;
  char err[300];
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "s:I:h", opts, NULL)) != -1) {
    char *end;
    switch (ch) {
    case 'B':
      if (pr_parse_cols(optarg, &g.blank.cols, err, sizeof err) != 0) {
        fprintf(stderr, "iosim grade: --blank: %s\n", err);
        return 2;
      }
      opt_blank = true;
      break;
    case 'A':
    case 's':
      if (!isdigit((unsigned char)optarg[0]) ||
          ((ch == 'A' ? (g.blank.after = strtoull(optarg, &end, 10)) : (g.seed = strtoull(optarg, &end, 10))), *end)) {
        fprintf(stderr, "iosim grade: --%s needs a number, not '%s'\n", ch == 'A' ? "blank-after" : "seed", optarg);
        return 2;
      }
      if (ch == 'A') opt_after = true;
      else opt_seed = g.has_seed = true;
      break;
    case 'I': include_dir = optarg; break;
    case 'h': fputs(usage_grade, stdout); return 0;
    default: fputs(usage_grade, stderr); return 2;
    }
  }
  if (optind != argc - 2) {
    fputs(usage_grade, stderr);
    return 2;
  }
  const char *file = argv[optind];
  g.path = argv[optind + 1];
  FILE *f = fopen(g.path, "r");
  if (!f) {
    fprintf(stderr, "%s: cannot read the answers\n", g.path);
    return 2;
  }
  if (opt_after && !opt_blank) g.blank.cols = 1u << PR_IRQL | 1u << PR_FRAME | 1u << PR_THREAD | 1u << PR_STATUS;
  g.has_blank = opt_blank || opt_after;
  /* The blank line first: it says what to compare. */
  read_answers(&g, f, &(rows_t){0}, NULL, true, g.has_blank, opt_seed);
  if (!g.errors && !g.has_blank) {
    fprintf(stderr,
            "%s:1:1: no `blank` line says which cells were blanked: copy the one `iosim run --blank`"
            " printed, or give --blank\n",
            g.path);
    g.errors++;
  }
  if (g.errors) {
    fclose(f);
    return 2;
  }
  scn_error_t e;
  scn_t *sc = scn_load(file, include_dir, &e);
  if (!sc) {
    if (e.line > 0) fprintf(stderr, "%s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
    else fprintf(stderr, "%s: %s\n", e.file, e.msg);
    fclose(f);
    return 2;
  }
  rows_t rows = {0};
  scn_run_opts_t o = {.has_seed = g.has_seed, .seed = g.seed, .on_start = rows_start, .ud = &rows};
  scn_result_t r;
  if (scn_run(sc, &o, &r, &e) != 0) {
    fprintf(stderr, "%s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
    scn_free(sc);
    fclose(f);
    free(rows.v);
    return 2;
  }
  answer_t *ans = iosim_calloc(rows.n + 1, sizeof *ans);
  read_answers(&g, f, &rows, ans, false, true, true);
  fclose(f);
  int rc = 2;
  if (!g.errors) {
    char cols[128];
    pr_cols_text(g.blank.cols, cols, sizeof cols);
    printf("%s\ngrading %s: blank %s after %llu seed %llu\n\n", scn_title(sc), g.path, cols,
           (unsigned long long)g.blank.after, (unsigned long long)r.seed);
    rc = grade_rows(&rows, &g.blank, ans);
  }
  free(ans);
  free(rows.v);
  scn_result_free(&r);
  scn_free(sc);
  return rc;
}
