/*
 * out.c - the plumbing every picture shares: a growable string, HTML and
 * JSON escaping, the output format from a file's extension, files written
 * whole or not at all, and the Graphviz calls (layout, render) with their
 * failures turned into messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iosim/alloc.h"
#include "iosim/vec.h"
#include "viz_int.h"

/* ---- strings ---- */

/* Room for `more` bytes and the NUL (out of memory exits: alloc.h). */
static void reserve(vz_str_t *b, size_t more) {
  if (b->len + more + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1) cap *= 2;
  b->s = iosim_realloc(b->s, cap);
  b->cap = cap;
}

static void put_n(vz_str_t *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void vz_puts(vz_str_t *b, const char *s) { put_n(b, s, strlen(s)); }

void vz_printf(vz_str_t *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    put_n(b, small, (size_t)n);
    return;
  }
  reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void vz_put_html(vz_str_t *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': vz_puts(b, "&amp;"); break;
    case '<': vz_puts(b, "&lt;"); break;
    case '>': vz_puts(b, "&gt;"); break;
    case '"': vz_puts(b, "&quot;"); break;
    default: put_n(b, s, 1);
    }
  }
}

void vz_put_json(vz_str_t *b, const char *s) { vz_put_json_n(b, s, strlen(s)); }

void vz_put_json_n(vz_str_t *b, const char *s, size_t n) {
  for (const char *end = s + n; s < end; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put_n(b, e, 2);
    } else if (c < 0x20) {
      vz_printf(b, "\\u%04x", c);
    } else {
      put_n(b, s, 1);
    }
  }
}

const char *vz_cstr(const vz_str_t *b) { return b->s ? b->s : ""; }

void vz_str_free(vz_str_t *b) {
  free(b->s);
  *b = (vz_str_t){0};
}

void *vz_grow(void *v, size_t *cap, size_t need, size_t elem) {
  void *nv = iosim_vec_grow(v, cap, need, elem);
  if (*cap < need) iosim_oom(need * elem);
  return nv;
}

int vz_fail(char *err, size_t errlen, int code, const char *file, const char *fmt, ...) {
  if (!err || !errlen) return code;
  int n = snprintf(err, errlen, "%s: ", file ? file : "iosim");
  if ((size_t)n >= errlen) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return code;
}

/* ---- formats and files ---- */

int vz_format(const char *out_path, bool json_only, vz_format_t *fmt, char *err, size_t errlen) {
  const char *slash = strrchr(out_path, '/');
  const char *dot = strrchr(slash ? slash : out_path, '.');
  const char *ext = dot ? dot + 1 : "";
  if (json_only) {
    if (!strcasecmp(ext, "json")) {
      *fmt = VZ_OUT_JSON;
      return VIZ_OK;
    }
    return vz_fail(err, errlen, VIZ_EINVAL, out_path, "the trace-event export is JSON: name the file *.json");
  }
  if (!strcasecmp(ext, "svg")) *fmt = VZ_OUT_SVG;
  else if (!strcasecmp(ext, "png")) *fmt = VZ_OUT_PNG;
  else if (!strcasecmp(ext, "pdf")) *fmt = VZ_OUT_PDF;
  else if (!strcasecmp(ext, "dot") || !strcasecmp(ext, "gv")) *fmt = VZ_OUT_DOT;
  else
    return vz_fail(err, errlen, VIZ_EINVAL, out_path,
                   "unknown picture format '%s%s' (name the file .svg, .png, .pdf or .dot)", dot ? "." : "",
                   dot ? ext : "no extension");
  return VIZ_OK;
}

int vz_out_begin(vz_out_t *o, const char *file, char *err, size_t errlen) {
  *o = (vz_out_t){.path = file};
  const char *slash = strrchr(file, '/');
  size_t dirlen = slash ? (size_t)(slash - file) + 1 : 0;
  size_t n = strlen(file) + 64;
  o->tmp = iosim_malloc(n);
  /* A hidden name beside the target, so rename() stays in one file system;
     O_EXCL and the pid keep two writers apart. */
  for (int attempt = 0; attempt < 100; attempt++) {
    snprintf(o->tmp, n, "%.*s.%s.%ld.%d.tmp", (int)dirlen, file, file + dirlen, (long)getpid(), attempt);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) break;
    o->f = fdopen(fd, "w");
    if (!o->f) {
      close(fd);
      unlink(o->tmp);
      break;
    }
    return VIZ_OK;
  }
  int e = errno;
  free(o->tmp);
  o->tmp = NULL;
  return vz_fail(err, errlen, VIZ_EIO, file, "cannot write here: %s", strerror(e));
}

int vz_out_end(vz_out_t *o, bool ok, char *err, size_t errlen) {
  int rc = VIZ_OK;
  /* fclose flushes what is buffered; a write that failed before left the
     stream's error flag. */
  bool failed = ferror(o->f);
  if (fclose(o->f) != 0) failed = true;
  o->f = NULL;
  if (ok && failed) {
    rc = vz_fail(err, errlen, VIZ_EIO, o->path, "cannot write: %s", strerror(errno));
    ok = false;
  }
  if (ok && rename(o->tmp, o->path) != 0) {
    rc = vz_fail(err, errlen, VIZ_EIO, o->path, "cannot replace it: %s", strerror(errno));
    ok = false;
  }
  if (!ok) unlink(o->tmp);
  free(o->tmp);
  o->tmp = NULL;
  return rc;
}

/* ---- Graphviz ---- */

void vz_set(void *obj, const char *name, const char *value) {
  agsafeset(obj, (char *)name, (char *)value, (char *)"");
}

void vz_set_html(Agraph_t *g, void *obj, const char *name, const char *html) {
  char *h = agstrdup_html(g, (char *)html);
  agsafeset(obj, (char *)name, h, (char *)"");
  agstrfree(g, h); /* agsafeset took its own reference */
}

Agnode_t *vz_node(Agraph_t *g, const char *name) { return agnode(g, (char *)name, 1); }

Agedge_t *vz_edge(Agraph_t *g, Agnode_t *t, Agnode_t *h) { return agedge(g, t, h, NULL, 1); }

Agraph_t *vz_subgraph(Agraph_t *g, const char *name) { return agsubg(g, (char *)name, 1); }

/* Writes Graphviz's SVG with the spaces of its text kept.  Graphviz cuts
   a label into one <text> per font change ("fs0" in bold, then " returns
   "), placed where it measured them; an SVG viewer drops a text's leading,
   trailing and doubled spaces unless told to preserve them (librsvg drops
   no-break spaces too), which gave "fs0returns".  A failed write leaves
   the stream's error flag, which vz_out_end reports. */
static void put_svg(FILE *f, const char *s, size_t len) {
  const char *root = strstr(s, "<svg ");
  if (root) {
    root += strlen("<svg");
    fwrite(s, 1, (size_t)(root - s), f);
    fputs(" xml:space=\"preserve\"", f);
    len -= (size_t)(root - s);
    s = root;
  }
  fwrite(s, 1, len, f);
}

/* The scale of a finished layout: Graphviz reads the "viewport" attribute
   ("W,H,Z": the final size in points and the zoom) when it renders, after
   the layout, so the zoom can be set from the laid-out bounding box plus
   the padding (`pad` inches) on each side. */
static void set_zoom(Agraph_t *g, double pad, double zoom) {
  boxf bb = GD_bb(g);
  double margin = 2 * 72 * pad;
  char vp[96];
  snprintf(vp, sizeof vp, "%.3f,%.3f,%.4f", (bb.UR.x - bb.LL.x + margin) * zoom, (bb.UR.y - bb.LL.y + margin) * zoom,
           zoom);
  vz_set(g, "viewport", vp);
}

/* Graphviz's last error, or `otherwise`, in a message about o's file. */
static int gv_fail(const vz_out_t *o, char *err, size_t errlen, const char *what, const char *otherwise) {
  char *why = aglasterr();
  int rc = vz_fail(err, errlen, VIZ_EIO, o->path, "Graphviz could not %s%s%s", what, why ? ": " : "",
                   why ? why : otherwise);
  free(why);
  return rc;
}

int vz_render(GVC_t *gvc, Agraph_t *g, const char *engine, vz_out_t *o, vz_format_t fmt, double pad, double zoom,
              char *err, size_t errlen) {
  /* Vector formats are drawn in points (72 to the inch): Graphviz 2.43's
     SVG writer states the size at the dpi asked for but its viewBox in
     points, so any other dpi crops the picture in every viewer.  A PNG
     gets 96 pixels to the inch: 12-point labels are 16 pixels high. */
  vz_set(g, "dpi", fmt == VZ_OUT_PNG ? "96" : "72");
  char pads[32];
  snprintf(pads, sizeof pads, "%g", pad);
  vz_set(g, "pad", pads);
  if (gvLayout(gvc, g, engine) != 0) return gv_fail(o, err, errlen, "lay the picture out", "");
  if (zoom != 1.0) set_zoom(g, pad, zoom);
  int rc = VIZ_OK;
  const char *f = fmt == VZ_OUT_SVG ? "svg" : fmt == VZ_OUT_PNG ? "png" : fmt == VZ_OUT_PDF ? "pdf" : "dot";
  char what[32];
  snprintf(what, sizeof what, "render %s", f);
  if (fmt == VZ_OUT_SVG) {
    char *svg = NULL;
    unsigned int len = 0;
    if (gvRenderData(gvc, g, f, &svg, &len) == 0) put_svg(o->f, svg, len);
    else rc = gv_fail(o, err, errlen, what, " (is its plugin installed?)");
    gvFreeRenderData(svg);
  } else if (gvRender(gvc, g, f, o->f) != 0) {
    rc = gv_fail(o, err, errlen, what, " (is its plugin installed?)");
  }
  gvFreeLayout(gvc, g);
  return rc;
}

/* ---- styles ---- */

int viz_style_check(const viz_style_t *style, char *err, size_t errlen) {
  double scale = vz_scale(style), font = vz_font(style);
  if (scale < VIZ_SCALE_MIN || scale > VIZ_SCALE_MAX)
    return vz_fail(err, errlen, VIZ_EINVAL, NULL, "the scale must be between %g and %g, not %g", VIZ_SCALE_MIN,
                   VIZ_SCALE_MAX, scale);
  if (font < VIZ_FONT_MIN || font > VIZ_FONT_MAX)
    return vz_fail(err, errlen, VIZ_EINVAL, NULL, "the font size must be between %g and %g points, not %g",
                   VIZ_FONT_MIN, VIZ_FONT_MAX, font);
  if (font * scale < VIZ_READABLE_MIN - 1e-9)
    return vz_fail(err, errlen, VIZ_EINVAL, NULL,
                   "font size %g at scale %g makes the smallest labels %.1f points high: under %g, a projector's"
                   " audience cannot read them",
                   font, scale, font * scale, VIZ_READABLE_MIN);
  return VIZ_OK;
}

double vz_scale(const viz_style_t *style) { return style && style->scale > 0 ? style->scale : 1.0; }

double vz_font(const viz_style_t *style) { return style && style->font_size > 0 ? style->font_size : 12.0; }
