/*
 * predict.c - predict mode: the trace table with some of its cells shown
 * as `?` (`iosim run --blank COLS --blank-after N`), for a student to fill
 * in and `iosim grade` to check.  Both sides render a row from the same
 * typed event through pr_row_make(), so the blanks `run` prints and the
 * answers `grade` expects cannot drift apart.  The row is laid out as the
 * console sink lays it out (sim/sinks/console.c); a test compares the two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "iosim/scenario.h"
#include "iosim/alloc.h"

static const char *const col_names[PR_NCOLS] = {"time",   "cpu",    "irql",  "frame", "thread",
                                                "irp",    "device", "event", "status", "detail"};

const char *pr_col_name(int col) { return col >= 0 && col < PR_NCOLS ? col_names[col] : "?"; }

int pr_parse_cols(const char *list, unsigned *cols, char *err, size_t n) {
  *cols = 0;
  const char *p = list;
  while (*p) {
    size_t len = strcspn(p, ",");
    int found = -1;
    for (int c = 0; c < PR_NCOLS; c++)
      if (strlen(col_names[c]) == len && !strncmp(p, col_names[c], len)) found = c;
    if (found < 0) {
      snprintf(err, n, "'%.*s' is no column of the step table (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", (int)len, p,
               col_names[0], col_names[1], col_names[2], col_names[3], col_names[4], col_names[5], col_names[6],
               col_names[7], col_names[8], col_names[9]);
      return -1;
    }
    *cols |= 1u << found;
    p += len;
    if (*p == ',') p++;
  }
  if (!*cols) {
    snprintf(err, n, "no column named");
    return -1;
  }
  return 0;
}

void pr_cols_text(unsigned cols, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = '\0';
  for (int c = 0; c < PR_NCOLS; c++)
    if (cols & (1u << c)) k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%s", k ? "," : "", col_names[c]);
}

bool pr_blanked(const cli_blank_t *b, uint64_t seq) { return b->cols && seq > b->after; }

static void time_text(uint64_t ns, char *buf, size_t n) {
  snprintf(buf, n, "%llu.%03llu us", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

void pr_row_make(sim_t *S, const trc_event_t *ev, pr_row_t *r) {
  memset(r, 0, sizeof *r);
  r->seq = ev->seq;
  char irql[16], st[16];
  time_text(ev->t_ns, r->cell[PR_TIME], sizeof r->cell[PR_TIME]);
  snprintf(r->cell[PR_CPU], sizeof r->cell[PR_CPU], ev->cpu >= 0 ? "%d" : "-", ev->cpu);
  snprintf(r->cell[PR_IRQL], sizeof r->cell[PR_IRQL], "%s", ev->cpu >= 0 ? trc_irql_name(ev->irql, irql) : "-");
  snprintf(r->cell[PR_FRAME], sizeof r->cell[PR_FRAME], "%s", ev->cpu >= 0 ? trc_frame_name(ev->frame) : "-");
  snprintf(r->cell[PR_THREAD], sizeof r->cell[PR_THREAD], "%s", ev->thread ? sim_thread_name(S, ev->thread) : "-");
  snprintf(r->cell[PR_IRP], sizeof r->cell[PR_IRP], ev->irp ? "%u" : "-", ev->irp);
  snprintf(r->cell[PR_DEVICE], sizeof r->cell[PR_DEVICE], "%s", ev->device ? sim_device_name(S, ev->device) : "-");
  snprintf(r->cell[PR_EVENT], sizeof r->cell[PR_EVENT], "%s", trc_kind_name(ev->kind));
  snprintf(r->cell[PR_STATUS], sizeof r->cell[PR_STATUS], "%s",
           ev->has_status ? iosim_status_name(ev->status, st) : "-");
  snprintf(r->cell[PR_DETAIL], sizeof r->cell[PR_DETAIL], "%s", ev->detail);
  scn_explain(S, ev, r->explain, sizeof r->explain);
}

/* Writes `s` with every occurrence of `name` replaced by `?`. */
static void put_without(FILE *f, const char *s, const char *name) {
  size_t n = strlen(name);
  const char *hit;
  while (n && (hit = strstr(s, name))) {
    fprintf(f, "%.*s?", (int)(hit - s), s);
    s = hit + n;
  }
  fputs(s, f);
}

void pr_row_print(FILE *f, const pr_row_t *r, unsigned cols, bool header) {
  if (header)
    fprintf(f, "%5s %14s %-3s %-8s %-6s %-8s %-4s %-8s %-22s %s\n", "step", "time", "cpu", "irql", "frame", "thread",
            "irp", "device", "event", "detail");
  const char *c[PR_NCOLS];
  for (int i = 0; i < PR_NCOLS; i++)
    c[i] = (cols & (1u << i)) && strcmp(r->cell[i], "-") != 0 ? "?" : r->cell[i];
  char step[24];
  snprintf(step, sizeof step, "#%llu", (unsigned long long)r->seq);
  fprintf(f, "%5s %14s %-3s %-8s %-6s %-8s %-4s %-8s %-22s ", step, c[PR_TIME], c[PR_CPU], c[PR_IRQL], c[PR_FRAME],
          c[PR_THREAD], c[PR_IRP], c[PR_DEVICE], c[PR_EVENT]);
  bool has_status = strcmp(r->cell[PR_STATUS], "-") != 0;
  bool status_in_detail = has_status && strstr(r->cell[PR_DETAIL], r->cell[PR_STATUS]) != NULL;
  /* The detail names the event in words: it goes with it.  A blanked
     status is blanked wherever the detail names it too. */
  if (cols & ((1u << PR_DETAIL) | (1u << PR_EVENT))) {
    fputs(cols & (1u << PR_DETAIL) ? "..." : "", f);
    status_in_detail = false;
  } else if (has_status && (cols & (1u << PR_STATUS))) {
    put_without(f, r->cell[PR_DETAIL], r->cell[PR_STATUS]);
  } else {
    fputs(r->cell[PR_DETAIL], f);
  }
  if (has_status && !status_in_detail)
    fprintf(f, "%s[%s]", (cols & ((1u << PR_DETAIL) | (1u << PR_EVENT))) ? "" : " ",
            cols & (1u << PR_STATUS) ? "?" : r->cell[PR_STATUS]);
  fputc('\n', f);
}

int pr_row_blanks(const pr_row_t *r, unsigned cols, int out[PR_NCOLS]) {
  int n = 0;
  for (int i = 0; i < PR_NCOLS; i++)
    if (i != PR_DETAIL && (cols & (1u << i)) && strcmp(r->cell[i], "-") != 0) out[n++] = i;
  return n;
}

/* ---- the sink of `iosim run --blank` ---- */

typedef struct blank_sink {
  sim_t *S;
  FILE *f;
  cli_blank_t b;
  bool header;
} blank_sink_t;

static void blank_event(void *ud, const trc_event_t *ev) {
  blank_sink_t *x = ud;
  pr_row_t r;
  pr_row_make(x->S, ev, &r);
  pr_row_print(x->f, &r, pr_blanked(&x->b, ev->seq) ? x->b.cols : 0, !x->header);
  x->header = true;
}

static void blank_close(void *ud) { free(ud); }

trc_sink_t pr_blank_sink(sim_t *S, FILE *f, const cli_blank_t *b) {
  blank_sink_t *x = iosim_calloc(1, sizeof *x);
  x->S = S;
  x->f = f;
  x->b = *b;
  return (trc_sink_t){.event = blank_event, .close = blank_close, .ud = x};
}

void pr_print_intro(FILE *f, const cli_blank_t *b, uint64_t seed) {
  char cols[128];
  pr_cols_text(b->cols, cols, sizeof cols);
  /* A made-up answer line, one value per column, to show the shape. */
  static const char *const sample[PR_NCOLS] = {"204.070us", "0", "DISPATCH", "dpc", "app", "2", "disk0", "dpc", "STATUS_SUCCESS", ""};
  char example[200] = "";
  for (int c = 0; c < PR_DETAIL; c++)
    if (b->cols & (1u << c))
      snprintf(example + strlen(example), sizeof example - strlen(example), "%s%s", example[0] ? " " : "", sample[c]);
  fprintf(f,
          "predict: replace each ? (after step #%llu), then `iosim grade FILE ANSWERS`.  Answer a line\n"
          "per step: the step, then its blanked values in the order of the columns (%s),\n"
          "e.g. `#57 %s`; a cell shown as - is not asked.\n",
          (unsigned long long)b->after, cols, example);
  fprintf(f, "blank %s after %llu seed %llu\n\n", cols, (unsigned long long)b->after, (unsigned long long)seed);
}
