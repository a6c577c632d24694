/*
 * report_cmd.c - `iosim check FILE... --format gradescope|junit|json`: the
 * same checks as `iosim check`, written for a grader to read.  Every
 * `expect` line is one test (an `expect finding` line is a predicted
 * finding), and each file whose runs are watched by the verifier gets one
 * more: "no finding that no expect line predicts".  A test's output is the
 * trace facts that decided it.
 *
 * Weights and visibility come from comments of the scenario: `# weight N`
 * and `# visibility V` on the expect line or in the comment lines right
 * above it set that test's; a `# visibility V` anywhere else sets the whole
 * result's (Gradescope's top-level "visibility").  V is one of Gradescope's
 * hidden, after_due_date, after_published, visible.
 *
 * Shapes: gradescope - results.json as Gradescope's autograder
 * specification gives it (tests[] with name, score, max_score, status,
 * output, visibility); junit - <testsuites><testsuite><testcase> with
 * <failure> as JUnit XML readers (CI graders) take it; json - iosim's own,
 * documented in docs/teaching.md.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "iosim/explore.h"
#include "iosim/scenario.h"
#include "iosim/alloc.h"

typedef struct rtest {
  char *file;
  int line;        /* of the expect line; 0 for the verifier's test */
  char *text;      /* the expect line, or what the test checks */
  char *output;    /* the trace facts that decided it */
  double weight;
  char visibility[24]; /* "" = the default */
  bool passed;
} rtest_t;

typedef struct rfile {
  char *path;
  char *error; /* did not load / run: the message, file:line:col */
  unsigned seeds;
  int first, count; /* its tests */
} rfile_t;

typedef struct report {
  rtest_t *t;
  int n, cap;
  rfile_t *f;
  int nf;
  char visibility[24]; /* top level */
  int bad_settings; /* malformed `# weight` / `# visibility` comments */
} report_t;

static rtest_t *add_test(report_t *R, const char *file, int line, const char *text) {
  if (R->n == R->cap) {
    R->cap = R->cap ? 2 * R->cap : 32;
    R->t = iosim_realloc(R->t, (size_t)R->cap * sizeof *R->t);
  }
  rtest_t *t = &R->t[R->n++];
  memset(t, 0, sizeof *t);
  t->file = iosim_strdup(file);
  t->line = line;
  t->text = iosim_strdup(text);
  t->output = iosim_strdup("");
  t->weight = 1;
  return t;
}

static void set_output(rtest_t *t, const char *s) {
  free(t->output);
  t->output = iosim_strdup(s);
}

/* ---- weights and visibility from the scenario's comments ---- */

static const char *const visibilities[] = {"hidden", "after_due_date", "after_published", "visible"};

/* Reads `# weight N` / `# visibility V` in one comment: 1 if found, 0 if
   none, -1 (message printed) if malformed. */
static int comment_setting(const char *path, int lineno, const char *c, rtest_t *t, char *vis, size_t vn) {
  bool found = false;
  while (*c == '#' || *c == ' ' || *c == '\t') c++;
  if (!strncmp(c, "weight", 6) && (c[6] == ' ' || c[6] == '\t')) {
    char *end;
    double w = strtod(c + 7, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
    if (end == c + 7 || *end || w < 0 || w != w) {
      fprintf(stderr, "%s:%d:%d: `# weight` needs a number of points (0 or more)\n", path, lineno, 1);
      return -1;
    }
    if (t) t->weight = w;
    found = true;
  } else if (!strncmp(c, "visibility", 10) && (c[10] == ' ' || c[10] == '\t')) {
    char v[64] = "";
    sscanf(c + 11, "%63s", v);
    bool ok = false;
    for (size_t i = 0; i < sizeof visibilities / sizeof *visibilities; i++) ok |= !strcmp(v, visibilities[i]);
    if (!ok) {
      fprintf(stderr, "%s:%d:%d: `# visibility` is one of hidden, after_due_date, after_published, visible\n", path,
              lineno, 1);
      return -1;
    }
    snprintf(vis, vn, "%s", v);
    found = true;
  }
  return found;
}

typedef struct src {
  char **line; /* 1-based */
  int n;
} src_t;

static void src_read(const char *path, src_t *s) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "r");
  if (!f) return;
  char *buf = NULL;
  size_t cap = 0;
  s->line = iosim_calloc(1, sizeof *s->line);
  while (getline(&buf, &cap, f) > 0) {
    s->line = iosim_realloc(s->line, (size_t)(s->n + 2) * sizeof *s->line);
    s->line[++s->n] = iosim_strdup(buf);
  }
  free(buf);
  fclose(f);
}

static void src_free(src_t *s) {
  for (int i = 1; i <= s->n; i++) free(s->line[i]);
  free(s->line);
}

static bool comment_only(const char *l) {
  l += strspn(l, " \t");
  return *l == '#';
}

/* The test of the expect line at `line`: its trailing comment, then the
   comment block right above it.  Returns how many settings it found. */
static void expect_settings(report_t *R, const src_t *s, const char *path, int line, rtest_t *t, bool *attached) {
  if (line < 1 || line > s->n) return;
  const char *hash = strchr(s->line[line], '#');
  int k = hash ? comment_setting(path, line, hash, t, t->visibility, sizeof t->visibility) : 0;
  if (k) attached[line] = true;
  R->bad_settings += k < 0;
  for (int l = line - 1; l >= 1 && comment_only(s->line[l]); l--) {
    k = comment_setting(path, l, s->line[l] + strspn(s->line[l], " \t"), t, t->visibility, sizeof t->visibility);
    if (k) attached[l] = true;
    R->bad_settings += k < 0;
  }
}

/* `# visibility V` lines no expect line owns: the whole result's. */
static void file_settings(report_t *R, const src_t *s, const char *path, const bool *attached) {
  for (int l = 1; l <= s->n; l++) {
    if (attached[l] || !comment_only(s->line[l])) continue;
    const char *c = s->line[l] + strspn(s->line[l], " \t#");
    if (!strncmp(c, "visibility", 10) && (c[10] == ' ' || c[10] == '\t'))
      if (comment_setting(path, l, c, NULL, R->visibility, sizeof R->visibility) < 0) R->bad_settings++;
  }
}

/* ---- running the checks ---- */

static void finding_text(const vrf_finding_t *fd, char *buf, size_t n) {
  snprintf(buf, n, "%s%s%s at #%llu: %s", fd->name, fd->irp_tag[0] ? " " : "", fd->irp_tag,
           (unsigned long long)fd->seq, fd->what);
}

/* Every seed the scenario asks for, as `iosim check` runs them. */
static int check_seeds(report_t *R, const scn_t *sc, const char *path, const cli_check_opts_t *o, rfile_t *rf,
                       const src_t *src, bool *attached) {
  unsigned seeds = o->has_seed ? 1 : scn_seed_count(sc);
  uint64_t base = o->has_seed ? o->seed : scn_seed(sc);
  rf->seeds = seeds;
  bool *decided = NULL; /* the test's output is the facts of the seed that decided it */
  char *unpredicted = NULL;
  size_t ulen = 0;
  FILE *um = open_memstream(&unpredicted, &ulen);
  if (!um) abort();
  int nunpredicted = 0;
  scn_error_t err;
  for (unsigned i = 0; i < seeds; i++) {
    scn_run_opts_t ro = {.has_seed = true, .seed = base + i};
    scn_result_t r;
    if (scn_run(sc, &ro, &r, &err) != 0) {
      char msg[1200];
      snprintf(msg, sizeof msg, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
      fprintf(stderr, "%s\n", msg);
      rf->error = iosim_strdup(msg);
      free(decided);
      fclose(um);
      free(unpredicted);
      return 2;
    }
    if (i == 0) {
      decided = iosim_calloc((size_t)r.expect_total + 1, sizeof *decided);
      for (int k = 0; k < r.expect_total; k++) {
        rtest_t *t = add_test(R, path, r.expects[k].line, r.expects[k].text);
        expect_settings(R, src, path, r.expects[k].line, t, attached);
        t->passed = !r.expects[k].sometimes; /* plain: until a seed fails it; sometimes: until one holds */
      }
    }
    for (int k = 0; k < r.expect_total; k++) {
      rtest_t *t = &R->t[rf->first + k];
      const scn_expect_result_t *e = &r.expects[k];
      char out[700];
      if (seeds > 1) snprintf(out, sizeof out, "seed %llu: %s", (unsigned long long)r.seed, e->facts);
      else snprintf(out, sizeof out, "%s", e->facts);
      /* A plain line is decided by the first seed that fails it, a
         `sometimes` line by the first where it holds. */
      bool decisive = e->sometimes ? e->passed : !e->passed;
      if (i == 0 || (decisive && !decided[k])) set_output(t, out);
      if (decisive && !decided[k]) {
        decided[k] = true;
        t->passed = e->sometimes;
      }
    }
    if (o->verify)
      for (int k = 0; k < r.finding_total; k++) {
        if (r.findings[k].predicted) continue;
        char ft[800];
        finding_text(&r.findings[k], ft, sizeof ft);
        if (seeds > 1) fprintf(um, "seed %llu: ", (unsigned long long)r.seed);
        fprintf(um, "%s\n", ft);
        nunpredicted++;
      }
    scn_result_free(&r);
  }
  fclose(um);
  for (int k = 0; decided && k < R->n - rf->first; k++) {
    rtest_t *t = &R->t[rf->first + k];
    char out[800];
    if (!decided[k] && !t->passed) { /* a `sometimes` line that held in no seed */
      snprintf(out, sizeof out, "held in none of the %u seed%s; %s", seeds, seeds == 1 ? "" : "s", t->output);
      set_output(t, out);
    } else if (!decided[k] && seeds > 1) { /* a plain line no seed failed */
      snprintf(out, sizeof out, "held in all %u seeds; %s", seeds, t->output);
      set_output(t, out);
    }
  }
  if (o->verify) {
    rtest_t *t = add_test(R, path, 0, "no finding that no `expect finding` line predicts");
    t->passed = nunpredicted == 0;
    set_output(t, nunpredicted ? unpredicted : "the verifier found nothing unpredicted");
  }
  free(unpredicted);
  free(decided);
  return 0;
}

/* A scenario with `machine explore bound K`: over its schedules. */
static int check_explore(report_t *R, const scn_t *sc, const char *path, const cli_check_opts_t *o,
                         const src_t *src, bool *attached) {
  xp_opts_t xo;
  xp_opts_default(&xo);
  int b = scn_explore_bound(sc);
  xo.bound = b == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : b;
  xo.no_verify = !o->verify;
  xp_report_t r;
  scn_error_t err;
  if (xp_explore(sc, &xo, &r, &err) != SIM_OK) {
    fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
    return 2;
  }
  for (int k = 0; k < r.nexpects; k++) {
    const xp_expect_t *e = &r.expects[k];
    rtest_t *t = add_test(R, path, e->line, e->text);
    expect_settings(R, src, path, e->line, t, attached);
    t->passed = e->sometimes ? e->held > 0 : e->failed == 0;
    char out[300];
    snprintf(out, sizeof out, "held in %llu of %llu schedules%s", (unsigned long long)e->held,
             (unsigned long long)(e->held + e->failed), r.complete ? "" : " (the search did not cover the space)");
    set_output(t, out);
    if (!r.complete) t->passed = false;
  }
  if (o->verify) {
    rtest_t *t = add_test(R, path, 0, "no finding that no `expect finding` line predicts");
    t->passed = r.finding_rules == 0;
    char out[600] = "the verifier found nothing unpredicted";
    if (r.finding_rules) {
      size_t k = (size_t)snprintf(out, sizeof out, "in %llu schedules:", (unsigned long long)r.finding_schedules);
      for (int i = 0; i < r.finding_rules && k < sizeof out; i++)
        k += (size_t)snprintf(out + k, sizeof out - k, " %s", r.finding_names[i]);
    }
    set_output(t, out);
  }
  xp_report_free(&r);
  return 0;
}

static int check_one(report_t *R, const char *path, const cli_check_opts_t *o) {
  R->f = iosim_realloc(R->f, (size_t)(R->nf + 1) * sizeof *R->f);
  rfile_t *rf = &R->f[R->nf++];
  memset(rf, 0, sizeof *rf);
  rf->path = iosim_strdup(path);
  rf->first = R->n;
  scn_error_t err;
  scn_t *sc = scn_load(path, o->include_dir, &err);
  int rc = 0;
  if (!sc) {
    char msg[1200];
    if (err.line > 0) snprintf(msg, sizeof msg, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    else snprintf(msg, sizeof msg, "%s: %s", err.file, err.msg);
    fprintf(stderr, "%s\n", msg);
    rf->error = iosim_strdup(msg);
    rc = 2;
  } else {
    src_t src;
    src_read(path, &src);
    bool *attached = iosim_calloc((size_t)src.n + 2, sizeof *attached);
    if (!o->has_seed && scn_explore_bound(sc) != SCN_EXPLORE_NONE) rc = check_explore(R, sc, path, o, &src, attached);
    else rc = check_seeds(R, sc, path, o, rf, &src, attached);
    file_settings(R, &src, path, attached);
    free(attached);
    src_free(&src);
    scn_free(sc);
  }
  /* A file that did not load or run is one failed test, so a grader shows why. */
  if (rc == 2) {
    R->n = rf->first;
    rtest_t *t = add_test(R, path, 0, "the scenario loads and runs");
    t->passed = false;
    set_output(t, rf->error ? rf->error : "it did not run");
  }
  rf->count = R->n - rf->first;
  return rc;
}

/* ---- writing ---- */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void xml_str(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default:
      /* XML 1.0 allows no other control characters. */
      if (c < 0x20 && c != '\n' && c != '\t') fputc('?', f);
      else fputc(c, f);
    }
  }
}

static void test_name(const rtest_t *t, char *buf, size_t n) {
  if (t->line) snprintf(buf, n, "%s:%d: %s", t->file, t->line, t->text);
  else snprintf(buf, n, "%s: %s", t->file, t->text);
}

static void write_gradescope(const report_t *R, FILE *f) {
  double score = 0, max = 0;
  int passed = 0;
  for (int i = 0; i < R->n; i++) {
    score += R->t[i].passed ? R->t[i].weight : 0;
    max += R->t[i].weight;
    passed += R->t[i].passed;
  }
  fputs("{\n", f);
  char out[200];
  snprintf(out, sizeof out, "iosim check: %d of %d tests pass, %g of %g points", passed, R->n, score, max);
  fputs("  \"output\": ", f);
  json_str(f, out);
  fputs(",\n", f);
  if (R->visibility[0]) fprintf(f, "  \"visibility\": \"%s\",\n", R->visibility);
  fputs("  \"tests\": [", f);
  for (int i = 0; i < R->n; i++) {
    const rtest_t *t = &R->t[i];
    char name[1200];
    test_name(t, name, sizeof name);
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    json_str(f, name);
    fprintf(f, ", \"score\": %g, \"max_score\": %g, \"status\": \"%s\"", t->passed ? t->weight : 0, t->weight,
            t->passed ? "passed" : "failed");
    if (t->visibility[0]) fprintf(f, ", \"visibility\": \"%s\"", t->visibility);
    fputs(", \"output\": ", f);
    json_str(f, t->output);
    fputc('}', f);
  }
  fputs("\n  ]\n}\n", f);
}

static void write_junit(const report_t *R, FILE *f) {
  int fails = 0;
  for (int i = 0; i < R->n; i++) fails += !R->t[i].passed;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"iosim check\" tests=\"%d\" failures=\"%d\""
             " errors=\"0\">\n", R->n, fails);
  for (int k = 0; k < R->nf; k++) {
    const rfile_t *rf = &R->f[k];
    int ff = 0;
    for (int i = rf->first; i < rf->first + rf->count; i++) ff += !R->t[i].passed;
    fputs("  <testsuite name=\"", f);
    xml_str(f, rf->path);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\">\n", rf->count, ff);
    for (int i = rf->first; i < rf->first + rf->count; i++) {
      const rtest_t *t = &R->t[i];
      char name[1200];
      if (t->line) snprintf(name, sizeof name, "line %d: %s", t->line, t->text);
      else snprintf(name, sizeof name, "%s", t->text);
      fputs("    <testcase classname=\"", f);
      xml_str(f, rf->path);
      fputs("\" name=\"", f);
      xml_str(f, name);
      fputs("\" file=\"", f);
      xml_str(f, rf->path);
      fprintf(f, "\" line=\"%d\" time=\"0\">", t->line);
      if (!t->passed) {
        fputs("\n      <failure message=\"", f);
        xml_str(f, t->text);
        fputs("\" type=\"", f);
        fputs(t->line ? "expectation" : "verifier", f);
        fputs("\">", f);
        xml_str(f, t->output);
        fputs("</failure>\n    ", f);
      } else {
        fputs("\n      <system-out>", f);
        xml_str(f, t->output);
        fputs("</system-out>\n    ", f);
      }
      fputs("</testcase>\n", f);
    }
    fputs("  </testsuite>\n", f);
  }
  fputs("</testsuites>\n", f);
}

static void write_json(const report_t *R, FILE *f) {
  int passed = 0;
  for (int i = 0; i < R->n; i++) passed += R->t[i].passed;
  fprintf(f, "{\n  \"iosim\": \"%s\",\n  \"tests\": %d,\n  \"passed\": %d,\n  \"failed\": %d,\n", IOSIM_VERSION, R->n,
          passed, R->n - passed);
  fputs("  \"files\": [", f);
  for (int k = 0; k < R->nf; k++) {
    const rfile_t *rf = &R->f[k];
    fprintf(f, "%s\n    {\"path\": ", k ? "," : "");
    json_str(f, rf->path);
    fputs(", \"error\": ", f);
    if (rf->error) json_str(f, rf->error);
    else fputs("null", f);
    fprintf(f, ", \"seeds\": %u, \"tests\": [", rf->seeds);
    for (int i = rf->first; i < rf->first + rf->count; i++) {
      const rtest_t *t = &R->t[i];
      fprintf(f, "%s\n      {\"line\": %d, \"text\": ", i > rf->first ? "," : "", t->line);
      json_str(f, t->text);
      fprintf(f, ", \"passed\": %s, \"weight\": %g, \"visibility\": ", t->passed ? "true" : "false", t->weight);
      if (t->visibility[0]) json_str(f, t->visibility);
      else fputs("null", f);
      fputs(", \"facts\": ", f);
      json_str(f, t->output);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  fputs("\n  ]\n}\n", f);
}

int cli_check_report(char **files, int nfiles, const cli_check_opts_t *o) {
  if (strcmp(o->format, "gradescope") && strcmp(o->format, "junit") && strcmp(o->format, "json")) {
    fprintf(stderr, "iosim check: unknown format '%s' (gradescope, junit or json)\n", o->format);
    return 2;
  }
  report_t R = {0};
  int bad = 0;
  for (int i = 0; i < nfiles; i++)
    if (check_one(&R, files[i], o) == 2) bad = 1;
  if (R.bad_settings) bad = 1;
  if (!strcmp(o->format, "gradescope")) write_gradescope(&R, stdout);
  else if (!strcmp(o->format, "junit")) write_junit(&R, stdout);
  else write_json(&R, stdout);
  int failed = 0;
  for (int i = 0; i < R.n; i++) {
    failed += !R.t[i].passed;
    free(R.t[i].file);
    free(R.t[i].text);
    free(R.t[i].output);
  }
  for (int k = 0; k < R.nf; k++) {
    free(R.f[k].path);
    free(R.f[k].error);
  }
  free(R.t);
  free(R.f);
  if (bad) return 2;
  return failed ? 1 : 0;
}
