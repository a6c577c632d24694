/*
 * viz.h - pictures and exports drawn from a trace database (written by
 * `iosim run --db`): the flow of one IRP through its device stack, the
 * machine's timeline (one lane per CPU and per thread), and the
 * Chrome / Perfetto trace-event JSON.  Everything here reads only the
 * database; docs/diagrams.md explains how to read the pictures.
 *
 * Every function takes the database path and a run id (0: the last run in
 * the file), writes out_path completely or not at all (a temporary file in
 * the same folder, renamed when done), and returns VIZ_OK or a negative
 * VIZ_E* code with a message "file: what went wrong" in err.
 */
#ifndef IOSIM_VIZ_H
#define IOSIM_VIZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VIZ_OK 0
#define VIZ_EINVAL -1 /* bad input: not a trace, no such run or IRP, unknown format */
#define VIZ_EIO -2    /* the database could not be read or the output written */
#define VIZ_ENOMEM -3

/* How a picture is drawn (NULL, or a field 0: its default).  A picture is
   as large as its content needs: nothing squeezes it to a page or a
   screen, so its smallest text (the arrows' labels, the timeline's ticks)
   is font_size * scale points high - 16 pixels by default in a PNG, which
   draws 96 pixels to the inch, and as large in a browser showing the SVG. */
typedef struct viz_style {
  double scale;     /* the whole picture multiplied by this; default 1 */
  double font_size; /* points of the smallest text, default 12; the rest keeps its proportion */
} viz_style_t;

#define VIZ_SCALE_MIN 0.25
#define VIZ_SCALE_MAX 4.0
#define VIZ_FONT_MIN 8.0
#define VIZ_FONT_MAX 48.0
/* The least font_size * scale allowed: smaller labels cannot be read on a
   projector (8 points: 10.7 pixels in a PNG). */
#define VIZ_READABLE_MIN 8.0

/* Checks a style: VIZ_OK, or VIZ_EINVAL with a message in err. */
int viz_style_check(const viz_style_t *style, char *err, size_t errlen);

/* Above this many frames, the timeline is summarised: time is cut into
   equal bins, each lane stacks per bin the share of time each kind of frame
   had, and the picture says so ("summarised: N frames merged into M
   blocks").  Keeps a 100,000-step trace's picture small and fast. */
#define VIZ_TIMELINE_MAX_FRAMES 400
/* Thread lanes drawn; further threads share one "other threads" lane. */
#define VIZ_TIMELINE_MAX_THREADS 24

/* The flow of IRP `irp`: the issuing thread on top, the device stack below
   it (one node per device, with its driver and stack location, what it did
   to its location and its pending marks), the hardware at the bottom;
   numbered arrows for IoCallDriver going down, dispatch routines returning
   (STATUS_PENDING in orange), the completion walk going up with each
   completion routine and what it returned, a STATUS_MORE_PROCESSING_REQUIRED
   stop, re-completions, and requests a driver issued itself (or associated
   IRPs) as linked sub-flows; a legend.  Format from out_path's extension:
   .svg, .png, .pdf or .dot (the Graphviz source). */
int viz_irp(const char *db, int64_t run, uint32_t irp, const char *out_path, const viz_style_t *style, char *err,
            size_t errlen);

/* The machine's timeline: one lane per CPU and per thread, frames (thread,
   ISR, DPC, APC, idle) as blocks along time, thread waits, arrows from an
   ISR to the DPC it requested and from a DPC to the APC that finished its
   IRP.  .svg, .png, .pdf or .dot.  Summarised above VIZ_TIMELINE_MAX_FRAMES. */
int viz_timeline(const char *db, int64_t run, const char *out_path, const viz_style_t *style, char *err,
                 size_t errlen);

/* The Chrome / Perfetto trace-event JSON (.json): a track per CPU with one
   complete slice ("ph":"X", "cat":"frame") per frame and, inside, one per
   step of an IRP's journey ("cat":"irp"); a process per thread with a track
   of where it ran and one of its system calls with their waits (slices of
   one track always nest); counters (IRQL, DPC and APC queues, live IRPs,
   completion-port queues); process and track names as metadata; each IRP
   as a flow from IoCallDriver to its completion (docs/diagrams.md). */
int viz_export_perfetto(const char *db, int64_t run, const char *out_path, char *err, size_t errlen);

/* The explorer page (`iosim html`): one self-contained HTML file (script,
   style and pictures inline, nothing fetched) that steps through the whole
   run - the scenario's source with the step's line marked, the step table,
   the IRP's flow diagram with the step's arrow lit and later ones dimmed,
   the !irp view, the explanation, what changed, a timeline to click on.
   docs/explorer.md describes the page. */
typedef struct viz_html_opts {
  const char *title;            /* NULL: the run's scenario path */
  const char *source;           /* the scenario's text, NULL if unknown */
  const char *const *explain;   /* explain[seq - 1]: `run --explain`'s sentence, or NULL */
  size_t nexplain;
  const char *extra_json;       /* more members of the page's data object
                                   ("\"machine\":[...]"), or NULL */
  size_t svg_budget;            /* bytes of IRP diagrams at most; 0: 256 KiB */
} viz_html_opts_t;
int viz_html(const char *db, int64_t run, const viz_html_opts_t *opts, const char *out_path, char *err,
             size_t errlen);

/* The recorded run's scenario path (run.scenario, "" if none) and seed,
   and which run `run` (0: the last) picked. */
int viz_run_info(const char *db, int64_t run, char *scenario, size_t n, uint64_t *seed, int64_t *picked, char *err,
                 size_t errlen);
/* VIZ_OK when the run's steps are exactly these kinds (trc_kind_t), in order. */
int viz_check_kinds(const char *db, int64_t run, const int *kinds, size_t n);

/* The id of the IRP the scenario named `tag` (as in `read f 4096 as r1`). */
int viz_find_irp(const char *db, int64_t run, const char *tag, uint32_t *irp, char *err, size_t errlen);

/* Lists the run's IRPs, one a line: "id tag major issuer", tag "-" when
   the scenario gave none. */
int viz_list_irps(const char *db, int64_t run, FILE *out, char *err, size_t errlen);

#endif
