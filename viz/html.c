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

#include "iosim/state.h"
#include "iosim/tracedb.h"
#include "viz_int.h"
#include "viz_html_assets.h"
#include "iosim/alloc.h"

#define SVG_BUDGET_DEFAULT ((size_t)256 * 1024)

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
  *len = b.len;
  return b.s ? b.s : iosim_strdup("");
}

/* A JSON string value (quotes included), safe inside a <script> element:
   "</" is written "<\/" and "<!" as "\u003c!", so no text (an SVG, the
   scenario) can end the element or open an HTML comment in it. */
static void put_jstr(vz_str_t *b, const char *s) {
  vz_puts(b, "\"");
  const char *p = s;
  for (const char *lt = p; (lt = strchr(lt, '<'));) {
    if (lt[1] != '/' && lt[1] != '!') {
      lt++;
      continue;
    }
    vz_put_json_n(b, p, (size_t)(lt - p));
    vz_puts(b, lt[1] == '/' ? "<\\/" : "\\u003c!");
    p = lt = lt + 2;
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
  VZ_RESERVE(t->s, t->cap, t->n + 1);
  t->s[t->n] = iosim_strdup(s);
  return (long)t->n++;
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
static void put_steps(vz_str_t *b, const vz_model_t *m, const viz_html_opts_t *o) {
  strtab_t kinds = {0}, expl = {0};
  vz_puts(b, "\"steps\":[");
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    long k = intern(&kinds, e->kind);
    const char *x = o && o->explain && e->seq >= 1 && (size_t)e->seq <= o->nexplain ? o->explain[e->seq - 1] : NULL;
    long xi = x && x[0] ? intern(&expl, x) : -1;
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
static void put_blocks(vz_str_t *b, const vz_model_t *m) {
  vz_block_t *bl = NULL;
  size_t n = 0;
  vz_frames(m, &bl, &n, NULL);
  vz_puts(b, "\"blocks\":[");
  for (size_t i = 0; i < n; i++)
    vz_printf(b, "%s[%d,%d,%u,%lld,%lld]", i ? "," : "", bl[i].cpu, (int)bl[i].kind, bl[i].thread, (long long)bl[i].t0,
              (long long)bl[i].t1);
  vz_puts(b, "],\n");
  free(bl);
}

/* ---- the machine and the IRPs at every step (state.h) ----
   Views are kept as lists of line numbers into one table of distinct
   lines: a machine's view changes a line or two a step, so a long run
   costs a few numbers a step, not a page of text. */

typedef struct linetab {
  char **line;
  size_t n, cap;
  uint32_t *slot; /* open addressing: index + 1, 0 = empty */
  size_t nslot;
} linetab_t;

static uint32_t hash_line(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static void lt_rehash(linetab_t *t) {
  size_t ns = t->nslot ? t->nslot * 2 : 1024;
  uint32_t *slot = iosim_calloc(ns, sizeof *slot);
  for (size_t i = 0; i < t->n; i++) {
    size_t k = hash_line(t->line[i], strlen(t->line[i])) & (ns - 1);
    while (slot[k]) k = (k + 1) & (ns - 1);
    slot[k] = (uint32_t)i + 1;
  }
  free(t->slot);
  t->slot = slot, t->nslot = ns;
}

/* The number of the line s[0..n) in the table, added if new. */
static long lt_intern(linetab_t *t, const char *s, size_t n) {
  if ((t->n + 1) * 2 > t->nslot) lt_rehash(t);
  size_t k = hash_line(s, n) & (t->nslot - 1);
  for (; t->slot[k]; k = (k + 1) & (t->nslot - 1)) {
    const char *l = t->line[t->slot[k] - 1];
    if (!strncmp(l, s, n) && l[n] == 0) return (long)t->slot[k] - 1;
  }
  VZ_RESERVE(t->line, t->cap, t->n + 1);
  char *l = t->line[t->n] = iosim_malloc(n + 1);
  memcpy(l, s, n);
  l[n] = 0;
  t->slot[k] = (uint32_t)t->n + 1;
  return (long)t->n++;
}

static void lt_free(linetab_t *t) {
  for (size_t i = 0; i < t->n; i++) free(t->line[i]);
  free(t->line);
  free(t->slot);
}

/* text as "3,17,4" (its lines' numbers), into out (reset first). */
static void lt_encode(linetab_t *t, const char *text, vz_str_t *out) {
  out->len = 0;
  if (out->s) out->s[0] = 0;
  for (const char *p = text; *p;) {
    size_t n = strcspn(p, "\n");
    vz_printf(out, "%s%ld", out->len ? "," : "", lt_intern(t, p, n));
    p += n + (p[n] == '\n');
  }
}

/* What a view printed, as text (a memory stream's buffer). */
typedef struct capture {
  char *text;
  size_t len;
  FILE *f;
} capture_t;

static bool cap_begin(capture_t *c) {
  free(c->text);
  c->text = NULL;
  c->f = open_memstream(&c->text, &c->len);
  return c->f != NULL;
}

/* The fields a click in the !irp view asks about, and the step that last
   set each, by the rule `iosim why` answers with (state_why.c): the step
   where the value changed, or one that wrote it (its `writes` bits;
   IoCompleteRequest for Status and Information; the end of the walk for
   PendingReturned), and the IRP's allocation. */
enum { F_STATUS, F_INFO, F_PENDING, F_CURRENT, F_CANCEL, F_NFIXED };
typedef struct irp_track {
  uint32_t id;
  int64_t val[F_NFIXED];
  bool known[F_NFIXED];
  uint64_t set[F_NFIXED];
  int nloc;
  unsigned *control;
  uint64_t *control_set;
} irp_track_t;

static int64_t field_value(const mst_irp_t *p, int f, bool *known) {
  *known = true;
  switch (f) {
  case F_STATUS: *known = p->has_status; return p->status;
  case F_INFO: *known = p->has_info; return (int64_t)p->info;
  case F_PENDING: return p->pending_returned;
  case F_CURRENT: return p->cur;
  default: return p->cancel;
  }
}

static bool field_written(const trc_event_t *e, int f) {
  switch (f) {
  case F_STATUS:
  case F_INFO: return e->kind == TRC_COMPLETE;
  case F_PENDING: return (e->writes & TRC_W_PENDING_RETURNED) || e->kind == TRC_WALK_DONE;
  case F_CURRENT: return (e->writes & TRC_W_CURRENT_LOCATION) != 0;
  default: return (e->writes & TRC_W_CANCEL) != 0;
  }
}

static void track_step(irp_track_t *k, const mst_irp_t *p, const trc_event_t *ev) {
  bool named = ev->irp == k->id, fresh = named && ev->kind == TRC_IRP_ALLOC;
  for (int f = 0; f < F_NFIXED; f++) {
    bool known;
    int64_t v = field_value(p, f, &known);
    if (fresh || (known && (!k->known[f] || v != k->val[f] || (named && field_written(ev, f))))) k->set[f] = ev->seq;
    k->val[f] = v;
    k->known[f] = known;
  }
  if (p->n > k->nloc) {
    k->control = iosim_realloc(k->control, (size_t)p->n * sizeof *k->control);
    k->control_set = iosim_realloc(k->control_set, (size_t)p->n * sizeof *k->control_set);
    for (int l = k->nloc; l < p->n; l++) k->control[l] = 0, k->control_set[l] = 0;
    k->nloc = p->n;
  }
  for (int l = 1; l <= p->n && p->loc; l++) {
    unsigned c = p->loc[l].control;
    if (fresh || c != k->control[l - 1] || (named && (ev->writes & TRC_W_CONTROL) && ev->loc_to == l))
      k->control_set[l - 1] = ev->seq;
    k->control[l - 1] = c;
  }
}

static irp_track_t *track_of(irp_track_t **v, size_t *n, uint32_t id) {
  for (size_t i = 0; i < *n; i++)
    if ((*v)[i].id == id) return &(*v)[i];
  irp_track_t *nv = *v = iosim_realloc(*v, (*n + 1) * sizeof *nv);
  irp_track_t *k = &nv[(*n)++];
  *k = (irp_track_t){.id = id};
  return k;
}

/* Every live IRP as !irp shows it, its first line cut to "IRP 2 (r1)":
   the rest of it names the step, which would make the part change at
   every step. */
static void print_live_irps(const mst_t *m, FILE *out) {
  char *text = NULL;
  size_t len = 0;
  for (size_t i = 0; i < mst_nirps(m); i++) {
    const mst_irp_t *p = mst_irp_at(m, i);
    if (!p->live) continue;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    bool ok = mst_print_irp(m, p->id, f);
    fclose(f);
    if (ok && text) {
      char *nl = strchr(text, '\n'), *of = strstr(text, " of run ");
      if (nl && of && of < nl) fprintf(out, "\n%.*s%s", (int)(of - text), text, nl);
      else fprintf(out, "\n%s", text);
    }
    free(text);
    text = NULL;
  }
}

/* "machine": [[seq, lines]...] when the machine's view changed;
   "irpviews": {id: [[seq, lines, [setters]]...]} after each step naming
   the IRP; "lines": the table. */
static int put_state(vz_str_t *b, const char *db_path, int64_t run, char *err, size_t errlen) {
  tracedb_t *t = tracedb_open_readonly(db_path, err, errlen);
  if (!t) return VIZ_EIO;
  mst_run_t *r = mst_load(t, run, err, errlen);
  mst_t *m = r ? mst_new(r) : NULL;
  if (!m) {
    mst_run_free(r);
    tracedb_close(t);
    return VIZ_EIO;
  }
  linetab_t lt = {0};
  /* The machine's view in five parts (CPUs, threads, ports, the live IRPs'
     list, each live IRP as !irp shows it), each kept only when it
     changed: threads rarely change when a CPU does. */
  enum { NPART = 5 };
  vz_str_t machine[NPART] = {{0}}, views = {0}, enc = {0};
  char *prev_machine[NPART] = {0};
  irp_track_t *tr = NULL;
  size_t ntr = 0;
  capture_t c = {0};
  while (mst_next(m)) {
    const trc_event_t *ev = mst_run_event(r, mst_step(m));
    for (int part = 0; part < NPART; part++) {
      if (!cap_begin(&c)) break;
      if (part == 0) mst_print_cpus(m, c.f);
      else if (part == 1) mst_print_thread(m, 0, c.f);
      else if (part == 2 && mst_nports(m)) mst_print_port(m, 0, c.f);
      else if (part == 3) {
        fprintf(c.f, "Live IRPs (!irpfind):\n");
        mst_print_irpfind(m, c.f);
      } else if (part == 4)
        print_live_irps(m, c.f);
      fclose(c.f);
      lt_encode(&lt, c.text, &enc);
      if (!prev_machine[part] || strcmp(prev_machine[part], vz_cstr(&enc))) {
        vz_printf(&machine[part], "%s[%llu,\"%s\"]", prev_machine[part] ? "," : "", (unsigned long long)ev->seq,
                  vz_cstr(&enc));
        free(prev_machine[part]);
        prev_machine[part] = iosim_strdup(vz_cstr(&enc));
      }
    }
    /* every IRP seen so far: their fields' setters; views of those named */
    for (size_t i = 0; i < mst_nirps(m); i++) {
      const mst_irp_t *p = mst_irp_at(m, i);
      if (!p->live && p->freed && p->freed < ev->seq && p->id != ev->irp) continue;
      irp_track_t *k = track_of(&tr, &ntr, p->id);
      track_step(k, p, ev);
      if (p->id != ev->irp && p->id != ev->target_irp) continue;
      if (!cap_begin(&c)) break;
      bool exists = mst_print_irp(m, p->id, c.f);
      fclose(c.f);
      if (!exists) continue;
      lt_encode(&lt, c.text, &enc);
      vz_printf(&views, "%s[%u,%llu,\"%s\",[", views.len ? ",\n" : "", p->id, (unsigned long long)ev->seq,
                vz_cstr(&enc));
      for (int f = 0; f < F_NFIXED; f++) vz_printf(&views, "%llu,", (unsigned long long)k->set[f]);
      vz_puts(&views, "[");
      for (int l = 0; l < k->nloc; l++) vz_printf(&views, "%s%llu", l ? "," : "", (unsigned long long)k->control_set[l]);
      vz_puts(&views, "]]]");
    }
  }
  free(c.text);
  for (size_t i = 0; i < ntr; i++) {
    free(tr[i].control);
    free(tr[i].control_set);
  }
  free(tr);
  vz_puts(b, "\"machine\":[");
  for (int part = 0; part < NPART; part++) {
    vz_printf(b, "%s[%s]", part ? ",\n" : "", vz_cstr(&machine[part]));
    vz_str_free(&machine[part]);
    free(prev_machine[part]);
  }
  vz_puts(b, "],\n");
  /* [irp, seq, lines, setters] rows; the page groups them by IRP */
  vz_puts(b, "\"irprows\":[");
  vz_puts(b, vz_cstr(&views));
  vz_puts(b, "],\n\"lines\":[");
  for (size_t i = 0; i < lt.n; i++) {
    if (i) vz_puts(b, ",\n");
    put_jstr(b, lt.line[i]);
  }
  vz_puts(b, "],\n");
  vz_str_free(&views);
  vz_str_free(&enc);
  lt_free(&lt);
  mst_free(m);
  mst_run_free(r);
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
    char *start = strstr(svg, "<svg");
    if (start) {
      /* Graphviz's comments (one per node and edge) only repeat names. */
      char *w = start;
      for (const char *q = start; *q;) {
        const char *e = !strncmp(q, "<!--", 4) ? strstr(q, "-->") : NULL;
        if (e) {
          q = e + 3;
          while (*q == '\n') q++;
        } else {
          *w++ = *q++;
        }
      }
      *w = 0;
      len = (size_t)(w - start);
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
    put_steps(&b, &m, o);
    put_blocks(&b, &m);
  }
  if (rc == VIZ_OK) rc = put_state(&b, db, m.run, err, errlen);
  if (rc == VIZ_OK && o && o->extra_json && o->extra_json[0]) {
    vz_puts(&b, o->extra_json);
    vz_puts(&b, ",\n");
  }
  if (rc == VIZ_OK) rc = put_diagrams(&b, &m, db, o && o->svg_budget ? o->svg_budget : SVG_BUDGET_DEFAULT, err, errlen);
  if (rc == VIZ_OK) vz_puts(&b, "\"v\":1}");
  vz_out_t out = {0};
  if (rc == VIZ_OK) rc = vz_out_begin(&out, out_path, err, errlen);
  if (rc == VIZ_OK) {
    vz_str_t title = {0};
    vz_put_html(&title, o && o->title ? o->title : m.scenario);
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
  snprintf(scenario, n, "%s", m.scenario);
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
