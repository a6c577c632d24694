/*
 * html_cmd.c - `iosim html`: the explorer page of a run (viz_html).  From
 * a scenario, the run is recorded into a temporary trace database (with
 * `run --explain`'s sentence for every step, which needs the live
 * machine's names); from a database (--db), the run recorded there, with
 * the explanations of a fresh run of its scenario when that file is still
 * there and its run takes the very same steps.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "iosim/scenario.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"
#include "iosim/alloc.h"

static const char *const usage_html =
    "usage: iosim html FILE.iosim [--seed N] [--replay TOKEN] [--include-dir DIR] -o PAGE.html\n"
    "       iosim html --db TRACE.db [--run N] -o PAGE.html\n"
    "\n"
    "Writes one self-contained HTML page (script, style and pictures inline;\n"
    "nothing is fetched) that steps through the run: the scenario with the\n"
    "step's line marked, the steps around it, the IRP's flow diagram with the\n"
    "step's arrow lit, its !irp view, the explanation, what changed, and a\n"
    "timeline to click on.  Keys: Left/Right a step, Shift for the same IRP,\n"
    "Home/End, n/p the next/previous step of the kind chosen; PAGE.html#48\n"
    "opens at step 48.  docs/explorer.md describes the page.\n"
    "  --seed N        override the scenario's seed\n"
    "  --replay TOKEN  the schedule `iosim explore` printed\n"
    "  --db TRACE.db   a run recorded with `iosim run --db` (--run N: which;\n"
    "                  default the last)\n"
    "  -o PAGE.html    where to write the page\n"
    "Exit 0 when the page is written, 2 on bad input.\n";

/* Every step's explanation, in step order, and its kind (to check that a
   second run of a scenario took the same steps as the recorded one). */
typedef struct explain_log {
  sim_t *S;
  char **text;
  int *kind;
  size_t n, cap;
} explain_log_t;

static void explain_event(void *ud, const trc_event_t *ev) {
  explain_log_t *x = ud;
  if (x->n == x->cap) {
    x->cap = x->cap ? x->cap * 2 : 256;
    x->text = iosim_realloc(x->text, x->cap * sizeof *x->text);
    x->kind = iosim_realloc(x->kind, x->cap * sizeof *x->kind);
  }
  char b[400];
  scn_explain(x->S, ev, b, sizeof b);
  x->text[x->n] = iosim_strdup(b);
  x->kind[x->n++] = (int)ev->kind;
}

static void explain_free(explain_log_t *x) {
  for (size_t i = 0; i < x->n; i++) free(x->text[i]);
  free(x->text);
  free(x->kind);
  *x = (explain_log_t){0};
}

typedef struct html_run {
  tracedb_hooks_t dbh; /* .db NULL: explanations only */
  explain_log_t log;
  xp_replay_t *replay;
} html_run_t;

static void on_start(void *ud, sim_t *S) {
  html_run_t *h = ud;
  if (h->dbh.db) tracedb_on_start(&h->dbh, S);
  if (h->replay) xp_replay_install(h->replay, S);
  h->log.S = S;
  trc_sink_t t = {.event = explain_event, .ud = &h->log};
  sim_add_sink(S, &t);
}

static void on_finish(void *ud, sim_t *S, const scn_result_t *r) {
  html_run_t *h = ud;
  if (h->dbh.db) tracedb_on_finish(&h->dbh, S, r);
}

/* The whole of a scenario file, or NULL. */
static char *read_source(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  if (m) {
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, m);
    fclose(m);
  }
  fclose(f);
  return text;
}

static bool parse_num(const char *s, uint64_t *v) {
  char *end;
  if (!*s || *s == '-') return false;
  unsigned long long x = strtoull(s, &end, 10);
  if (*end) return false;
  *v = x;
  return true;
}

/* Runs sc (into db when given), collecting explanations in h->log.
   0, or 2 after printing why. */
static int run_scenario(const scn_t *sc, bool has_seed, uint64_t seed, html_run_t *h) {
  scn_run_opts_t o = {.has_seed = has_seed, .seed = seed, .on_start = on_start, .on_finish = on_finish, .ud = h};
  scn_result_t r;
  scn_error_t err;
  if (scn_run(sc, &o, &r, &err) != 0) {
    fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
    return 2;
  }
  scn_result_free(&r);
  if (h->dbh.db && h->dbh.rc != 0) {
    fprintf(stderr, "iosim html: %s\n", h->dbh.err);
    return 2;
  }
  if (h->replay) {
    char why[200];
    if (xp_replay_diverged(h->replay, why, sizeof why)) {
      fprintf(stderr, "iosim html: the token does not fit this run: %s\n", why);
      return 2;
    }
  }
  return 0;
}

int cli_html(int argc, char **argv) {
  static const struct option opts[] = {{"seed", required_argument, 0, 's'},     {"replay", required_argument, 0, 'R'},
                                       {"db", required_argument, 0, 'd'},       {"run", required_argument, 0, 'r'},
                                       {"include-dir", required_argument, 0, 'I'}, {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  const char *db = NULL, *out = NULL, *replay = NULL, *include_dir = NULL;
  uint64_t seed = 0, run = 0;
  bool has_seed = false;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "s:R:d:r:I:o:h", opts, NULL)) != -1) {
    switch (ch) {
    case 's':
      if (!parse_num(optarg, &seed)) {
        fprintf(stderr, "iosim html: --seed needs a number, not '%s'\n", optarg);
        return 2;
      }
      has_seed = true;
      break;
    case 'R': replay = optarg; break;
    case 'd': db = optarg; break;
    case 'r':
      if (!parse_num(optarg, &run) || run == 0 || run > INT64_MAX) {
        fprintf(stderr, "iosim html: --run needs a run number (1, 2, ...), not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'I': include_dir = optarg; break;
    case 'o': out = optarg; break;
    case 'h': fputs(usage_html, stdout); return 0;
    default: fputs(usage_html, stderr); return 2;
    }
  }
  bool from_file = optind == argc - 1;
  if (!out || (from_file == (db != NULL)) || optind < argc - 1 || (db && (has_seed || replay)) ||
      (!db && run) || (replay && has_seed)) {
    if (replay && has_seed) fprintf(stderr, "iosim html: a replay token carries its seed; --seed does not go with it\n");
    fputs(usage_html, stderr);
    return 2;
  }
  char err[768];
  html_run_t h = {0};
  char *source = NULL;
  char tmpdb[] = "/tmp/iosim-html-XXXXXX.db";
  const char *dbpath = db;
  int64_t run_id = (int64_t)run;
  int rc = 0;
  scn_error_t serr;
  if (from_file) {
    scn_t *sc = scn_load(argv[optind], include_dir, &serr);
    if (!sc) {
      fprintf(stderr, "%s:%d:%d: %s\n", serr.file, serr.line, serr.col, serr.msg);
      return 2;
    }
    if (replay) {
      xp_schedule_t s = {0};
      if (cli_load_replay(replay, NULL, sc, &s) != 0) {
        xp_schedule_free(&s);
        scn_free(sc);
        return 2;
      }
      h.replay = xp_replay_new(&s);
      has_seed = true;
      seed = s.seed;
      xp_schedule_free(&s);
    }
    int fd = mkstemps(tmpdb, 3);
    if (fd < 0) {
      perror("iosim html: a temporary trace database");
      xp_replay_free(h.replay);
      scn_free(sc);
      return 2;
    }
    close(fd);
    unlink(tmpdb); /* tracedb_open creates it afresh */
    dbpath = tmpdb;
    h.dbh.db = tracedb_open(tmpdb, err, sizeof err);
    if (!h.dbh.db) {
      fprintf(stderr, "%s: %s\n", tmpdb, err);
      rc = 2;
    } else {
      h.dbh.scenario_path = scn_path(sc);
      h.dbh.text_hash = scn_hash(sc);
      h.dbh.seed = has_seed ? seed : scn_seed(sc);
      rc = run_scenario(sc, has_seed, seed, &h);
      run_id = tracedb_run_id(h.dbh.db);
      tracedb_close(h.dbh.db);
      h.dbh.db = NULL;
    }
    source = read_source(argv[optind]);
    scn_free(sc);
  } else {
    /* The recorded run's scenario, run again for the explanations, if it
       is still there and takes the same steps. */
    char path[4096];
    uint64_t rseed = 0;
    int64_t picked = 0;
    if (viz_run_info(db, run_id, path, sizeof path, &rseed, &picked, err, sizeof err) != VIZ_OK) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
    run_id = picked;
    scn_t *sc = path[0] ? scn_load(path, include_dir, &serr) : NULL;
    if (sc) {
      if (run_scenario(sc, true, rseed, &h) != 0 || h.log.n == 0) explain_free(&h.log);
      source = read_source(path);
      scn_free(sc);
    }
  }
  xp_replay_free(h.replay);
  if (rc == 0) {
    viz_html_opts_t o = {.source = source, .explain = (const char *const *)h.log.text, .nexplain = h.log.n};
    if (db && h.log.n && viz_check_kinds(db, run_id, h.log.kind, h.log.n) != VIZ_OK) o.explain = NULL, o.nexplain = 0;
    if (viz_html(dbpath, run_id, &o, out, err, sizeof err) != VIZ_OK) {
      fprintf(stderr, "%s\n", err);
      rc = 2;
    }
  }
  if (from_file) {
    unlink(tmpdb);
    char side[sizeof tmpdb + 8];
    snprintf(side, sizeof side, "%s-wal", tmpdb);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", tmpdb);
    unlink(side);
  }
  explain_free(&h.log);
  free(source);
  return rc;
}
