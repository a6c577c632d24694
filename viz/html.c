/*
 * html.c - the explorer page (`iosim html`): one self-contained HTML file
 * holding a whole recorded run - its steps with their typed facts and
 * scenario lines, the scenario's source, each step's explanation, each
 * IRP's flow diagram (Graphviz SVG, as `iosim viz` draws it) and its !irp
 * view after every step that touched it - plus the page's own script and
 * style (viz/html/explorer.js and .css, compiled in by the build).  Nothing
 * is fetched when the page is opened: it works from disk, offline.
 *
 * The data goes into the page as JSON (a <script type="application/json">
 * block the script parses once); the script draws only what is on screen,
 * so a 10,000-step run stays quick.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iosim/tracedb.h"
#include "viz_int.h"
#include "viz_html_assets.h"

#define SVG_BUDGET_DEFAULT ((size_t)500 * 1024)

/* The whole of a small file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *file, size_t *len) {
  FILE *f = fopen(file, "rb");
  if (!f) return NULL;
  vz_str_t b = {0};
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf - 1, f)) > 0) {
    buf[n] = 0;
    vz_puts(&b, buf);
  }
  fclose(f);
  if (b.oom) {
    vz_str_free(&b);
    return NULL;
  }
  *len = b.len;
  return b.s ? b.s : strdup("");
}

/* A JSON string value (quotes included); "</" is written "<\/" so that the
   text can never close the <script> element holding it. */
static void put_jstr(vz_str_t *b, const char *s) {
  vz_puts(b, "\"");
  if (!s) s = "";
  const char *p = s;
  for (const char *lt; (lt = strstr(p, "</"));) {
    size_t n = (size_t)(lt - p);
    char *part = strndup(p, n);
    if (!part) {
      b->oom = true;
      return;
    }
    vz_put_json(b, part);
    free(part);
    vz_puts(b, "<\\/");
    p = lt + 2;
  }
  vz_put_json(b, p);
  vz_puts(b, "\"");
}

/* The index of `s` in a small table of distinct strings (kinds, explanations). */
typedef struct strtab {
  char **s;
  size_t n, cap;
} strtab_t;

static long intern(strtab_t *t, const char *s) {
  for (size_t i = t->n; i-- > 0;)
    if (!strcmp(t->s[i], s)) return (long)i;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    char **ns = realloc(t->s, cap * sizeof *ns);
    if (!ns) return -1;
    t->s = ns, t->cap = cap;
  }
  t->s[t->n] = strdup(s);
  return t->s[t->n] ? (long)t->n++ : -1;
}

static void strtab_free(strtab_t *t) {
  for (size_t i = 0; i < t->n; i++) free(t->s[i]);
  free(t->s);
}

static void put_strtab(vz_str_t *b, const char *name, const strtab_t *t) {
  vz_printf(b, "\"%s\":[", name);
  for (size_t i = 0; i < t->n; i++) {
    if (i) vz_puts(b, ",");
    put_jstr(b, t->s[i]);
  }
  vz_puts(b, "]");
}

/* The steps: one array per step, columns named in the page's script. */
static int put_steps(vz_str_t *b, const vz_model_t *m, const viz_html_opts_t *o) {
  strtab_t kinds = {0}, expl = {0};
  int rc = VIZ_OK;
  vz_puts(b, "\"steps\":[");
  for (size_t i = 0; i < m->nev && rc == VIZ_OK; i++) {
    const vz_ev_t *e = &m->ev[i];
    long k = intern(&kinds, e->kind);
    const char *x = o && o->explain && e->seq >= 1 && (size_t)e->seq <= o->nexplain ? o->explain[e->seq - 1] : NULL;
    long xi = x && x[0] ? intern(&expl, x) : -1;
    if (k < 0 || (x && x[0] && xi < 0)) {
      rc = VIZ_ENOMEM;
      break;
    }
    vz_printf(b, "%s[%lld,%lld,%d,%d,%d,%u,%u,%u,%d,%ld,", i ? ",\n" : "", (long long)e->seq, (long long)e->t_ns,
              e->cpu, e->irql, (int)e->frame, e->thread, e->irp, e->device, e->loc, k);
    put_jstr(b, e->status);
    vz_printf(b, ",%d,", e->line);
    put_jstr(b, e->detail);
    vz_printf(b, ",%ld]", xi);
  }
  vz_puts(b, "],\n");
  put_strtab(b, "kinds", &kinds);
  vz_puts(b, ",\n");
  put_strtab(b, "expl", &expl);
  vz_puts(b, ",\n");
  strtab_free(&kinds);
  strtab_free(&expl);
  return rc;
}

static void put_names(vz_str_t *b, const vz_model_t *m) {
  vz_puts(b, "\"threads\":{");
  for (size_t i = 0; i < m->nthr; i++) {
    vz_printf(b, "%s\"%u\":", i ? "," : "", m->thr[i].id);
    put_jstr(b, m->thr[i].name);
  }
  vz_puts(b, "},\n\"devices\":{");
  for (size_t i = 0; i < m->ndev; i++) {
    vz_printf(b, "%s\"%u\":", i ? "," : "", m->dev[i].id);
    put_jstr(b, m->dev[i].name);
  }
  vz_puts(b, "},\n\"irps\":{");
  for (size_t i = 0; i < m->nirp; i++) {
    const vz_irp_t *p = &m->irp[i];
    vz_printf(b, "%s\"%u\":{\"tag\":", i ? "," : "", p->id);
    put_jstr(b, p->tag);
    vz_puts(b, ",\"major\":");
    put_jstr(b, p->major);
    vz_printf(b, ",\"master\":%u}", p->master);
  }
  vz_puts(b, "},\n");
}

/* What each CPU executed, as blocks of time for the timeline's lanes:
   [cpu, frame, thread, t0, t1] (frames.c cuts them). */
static int put_blocks(vz_str_t *b, const vz_model_t *m, char *err, size_t errlen) {
  vz_block_t *bl = NULL;
  size_t n = 0;
  if (vz_frames(m, &bl, &n, NULL) != VIZ_OK) return vz_fail(err, errlen, VIZ_ENOMEM, m->path, "out of memory");
  vz_puts(b, "\"blocks\":[");
  for (size_t i = 0; i < n; i++)
    vz_printf(b, "%s[%d,%d,%u,%lld,%lld]", i ? "," : "", bl[i].cpu, (int)bl[i].kind, bl[i].thread, (long long)bl[i].t0,
              (long long)bl[i].t1);
  vz_puts(b, "],\n");
  free(bl);
  return VIZ_OK;
}

/* Each IRP's !irp view after every step that touched it (only when it
   changed), from the trace database's replay of its stack locations. */
static int put_irp_views(vz_str_t *b, const vz_model_t *m, const char *db_path, char *err, size_t errlen) {
  tracedb_t *t = tracedb_open_readonly(db_path, err, errlen);
  if (!t) return VIZ_EIO;
  vz_puts(b, "\"irpviews\":{");
  char *text = NULL, *prev = NULL;
  size_t len = 0;
  for (size_t i = 0; i < m->nirp; i++) {
    uint32_t id = m->irp[i].id;
    vz_printf(b, "%s\"%u\":[", i ? ",\n" : "", id);
    bool first = true;
    free(prev);
    prev = NULL;
    for (size_t j = 0; j < m->nev; j++) {
      const vz_ev_t *e = &m->ev[j];
      if (e->irp != id) continue;
      /* The last of the steps at one moment stands for them all: the
         database's replay is by time. */
      if (j + 1 < m->nev && m->ev[j + 1].irp == id && m->ev[j + 1].t_ns == e->t_ns) continue;
      FILE *f = open_memstream(&text, &len);
      if (!f) {
        b->oom = true;
        break;
      }
      char e2[256];
      int rc = tracedb_print_irp(t, m->run, id, e->t_ns, f, e2, sizeof e2);
      fclose(f);
      if (rc == SIM_OK && (!prev || strcmp(prev, text))) {
        vz_printf(b, "%s[%lld,", first ? "" : ",", (long long)e->seq);
        put_jstr(b, text);
        vz_puts(b, "]");
        first = false;
        free(prev);
        prev = text;
      } else {
        free(text);
      }
      text = NULL;
    }
    vz_puts(b, "]");
  }
  free(prev);
  vz_puts(b, "},\n");
  tracedb_close(t);
  return VIZ_OK;
}

/* Each IRP's flow diagram, as SVG text (the XML prolog cut), while the
   budget lasts: a page for a long run keeps its diagrams for the first
   IRPs and says so for the others. */
static int put_diagrams(vz_str_t *b, const vz_model_t *m, const char *db_path, size_t budget, char *err,
                        size_t errlen) {
  char dir[] = "/tmp/iosim-html.XXXXXX";
  if (!mkdtemp(dir)) return vz_fail(err, errlen, VIZ_EIO, "/tmp", "cannot make a temporary folder: %s", strerror(errno));
  size_t used = 0;
  int rc = VIZ_OK;
  vz_puts(b, "\"svgs\":{");
  bool first = true;
  for (size_t i = 0; i < m->nirp && rc == VIZ_OK; i++) {
    if (used >= budget) break;
    char svg_path[64];
    snprintf(svg_path, sizeof svg_path, "%s/irp%u.svg", dir, m->irp[i].id);
    rc = viz_irp(db_path, m->run, m->irp[i].id, svg_path, NULL, err, errlen);
    if (rc != VIZ_OK) break;
    size_t len = 0;
    char *svg = slurp(svg_path, &len);
    unlink(svg_path);
    if (!svg) {
      rc = vz_fail(err, errlen, VIZ_EIO, svg_path, "cannot read the diagram back");
      break;
    }
    const char *start = strstr(svg, "<svg");
    if (start) {
      vz_printf(b, "%s\"%u\":", first ? "" : ",\n", m->irp[i].id);
      put_jstr(b, start);
      used += len;
      first = false;
    }
    free(svg);
  }
  vz_puts(b, "},\n");
  rmdir(dir);
  return rc;
}

int viz_html(const char *db, int64_t run, const viz_html_opts_t *o, const char *out_path, char *err, size_t errlen) {
  vz_model_t m;
  int rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  rc = vz_load_events(&m, true, err, errlen);
  vz_str_t b = {0};
  if (rc == VIZ_OK) {
    char t[32];
    vz_puts(&b, "{\"title\":");
    put_jstr(&b, o && o->title ? o->title : m.scenario);
    vz_puts(&b, ",\"scenario\":");
    put_jstr(&b, m.scenario);
    vz_printf(&b, ",\"run\":%lld,\"seed\":%lld,\"cpus\":%d,\"end_ns\":%lld,\"end\":\"%s\",\"outcome\":", (long long)m.run,
              (long long)m.seed, m.cpus, (long long)m.end_ns, vz_time(m.end_ns, t));
    put_jstr(&b, m.outcome);
    vz_puts(&b, ",\"source\":");
    if (o && o->source) put_jstr(&b, o->source);
    else vz_puts(&b, "null");
    vz_puts(&b, ",\n");
    put_names(&b, &m);
    rc = put_steps(&b, &m, o);
    if (rc != VIZ_OK) rc = vz_fail(err, errlen, VIZ_ENOMEM, out_path, "out of memory");
  }
  if (rc == VIZ_OK) rc = put_blocks(&b, &m, err, errlen);
  if (rc == VIZ_OK) rc = put_irp_views(&b, &m, db, err, errlen);
  if (rc == VIZ_OK && o && o->extra_json && o->extra_json[0]) {
    vz_puts(&b, o->extra_json);
    vz_puts(&b, ",\n");
  }
  if (rc == VIZ_OK) rc = put_diagrams(&b, &m, db, o && o->svg_budget ? o->svg_budget : SVG_BUDGET_DEFAULT, err, errlen);
  if (rc == VIZ_OK) vz_puts(&b, "\"v\":1}");
  if (rc == VIZ_OK && b.oom) rc = vz_fail(err, errlen, VIZ_ENOMEM, out_path, "out of memory");
  vz_out_t out = {0};
  if (rc == VIZ_OK) rc = vz_out_begin(&out, out_path, err, errlen);
  if (rc == VIZ_OK) {
    vz_str_t title = {0};
    vz_put_html(&title, o && o->title ? o->title : m.scenario ? m.scenario : "run");
    fprintf(out.f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"generator\" content=\"iosim " IOSIM_VERSION "\">\n"
            "<title>iosim explorer: %s</title>\n<style>\n%s</style>\n</head>\n<body>\n"
            "<noscript>This page steps through an iosim run; it needs JavaScript.</noscript>\n"
            "<script type=\"application/json\" id=\"run-data\">\n",
            vz_cstr(&title), viz_html_css);
    vz_str_free(&title);
    fputs(vz_cstr(&b), out.f);
    fprintf(out.f, "\n</script>\n<script>\n%s</script>\n</body></html>\n", viz_html_js);
    rc = vz_out_end(&out, !ferror(out.f), err, errlen);
  }
  vz_str_free(&b);
  vz_close(&m);
  return rc;
}

int viz_run_info(const char *db, int64_t run, char *scenario, size_t n, uint64_t *seed, int64_t *picked, char *err,
                 size_t errlen) {
  vz_model_t m;
  int rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  snprintf(scenario, n, "%s", m.scenario ? m.scenario : "");
  *seed = (uint64_t)m.seed;
  *picked = m.run;
  vz_close(&m);
  return VIZ_OK;
}

int viz_check_kinds(const char *db, int64_t run, const int *kinds, size_t n) {
  vz_model_t m;
  char err[256];
  int rc = vz_open(&m, db, run, err, sizeof err);
  if (rc != VIZ_OK) return rc;
  rc = vz_load_events(&m, false, err, sizeof err);
  if (rc == VIZ_OK && m.nev != n) rc = VIZ_EINVAL;
  for (size_t i = 0; rc == VIZ_OK && i < n; i++)
    if (strcmp(m.ev[i].kind, trc_kind_name((trc_kind_t)kinds[i]))) rc = VIZ_EINVAL;
  vz_close(&m);
  return rc;
}
