/*
 * viz_int.h - what the files of viz/ share: the run read back from the
 * trace database (vizdb.c), the CPU frames cut from its steps (frames.c),
 * a growable string, and the Graphviz and file-output helpers (out.c).
 * viz/ reads only the database; it never links against the engine's state.
 */
#ifndef IOSIM_VIZ_INT_H
#define IOSIM_VIZ_INT_H

/* What a reader accepts from a database (vizdb.c checks it on load). */
#define VZ_MAX_LOCS 128 /* an IRP's StackCount is a CCHAR */
#define VZ_MAX_CPUS 64

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gvc.h>
#include <sqlite3.h>

#include "iosim/viz.h"

/* A directed graph whose memory comes from iosim's allocator (gvmem.c). */
Agraph_t *vz_agopen(const char *name);

/* ---- a growable string ---- */

typedef struct vz_str {
  char *s;    /* NUL-terminated, or NULL before the first append */
  size_t len;
  size_t cap;
} vz_str_t;

void vz_puts(vz_str_t *b, const char *s);
void vz_printf(vz_str_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " escaped: for Graphviz HTML labels and SVG. */
void vz_put_html(vz_str_t *b, const char *s);
/* Appends s (n bytes of it) as the inside of a JSON string. */
void vz_put_json(vz_str_t *b, const char *s);
void vz_put_json_n(vz_str_t *b, const char *s, size_t n);
const char *vz_cstr(const vz_str_t *b); /* "" when empty */
void vz_str_free(vz_str_t *b);

/* Room for `need` elements in an array grown one at a time (iosim_vec_grow,
   vec.h).  Out of memory ends the process (alloc.h); so does the one
   failure left to iosim_vec_grow, a byte count past SIZE_MAX, which an
   array one element short of it in memory cannot reach. */
void *vz_grow(void *v, size_t *cap, size_t need, size_t elem);
#define VZ_RESERVE(arr, capv, need) ((arr) = vz_grow((arr), &(capv), (need), sizeof *(arr)))

/* ---- the run, as the database has it ---- */

/* What a CPU was executing at a step; the database's `frame` column. */
typedef enum { VZ_F_NONE = -1, VZ_F_IDLE, VZ_F_THREAD, VZ_F_APC, VZ_F_DPC, VZ_F_ISR, VZ_F_COUNT } vz_frame_t;

/* How stage 2 reached the requester (the `stage2` column). */
typedef enum { VZ_S2_NONE, VZ_S2_INLINE, VZ_S2_APC } vz_stage2_t;

/* One `event` row.  Strings are owned by the model. */
typedef struct vz_ev {
  int64_t seq, t_ns;
  int cpu;          /* -1: the step is outside any CPU (run start, run end) */
  int irql;         /* -1 with cpu */
  vz_frame_t frame; /* VZ_F_NONE with cpu */
  uint32_t thread, irp, device; /* 0 = none */
  int loc;          /* stack_location, 0 = none */
  char kind[28];
  char status[40];  /* "" = no status */
  /* Typed facts (docs/trace-schema.md); -1 where the column is NULL. */
  int major;
  int loc_from, loc_to;  /* 0 = none */
  int control;           /* SL_* bits */
  int pending_returned;
  bool has_info;
  int64_t info;          /* IoStatus.Information when has_info */
  vz_stage2_t stage2;
  int64_t offset;        /* byte offset of a transfer */
  int minor, stack_size, target_cpu, wait_index, count, running, limit, cancel_routine, touches_irp;
  int irql_from, irql_to;
  uint32_t routine_device, target_thread, port, file, object; /* 0 = none */
  uint32_t writes;       /* TRC_W_* bits of the IRP fields the step wrote */
  int line;              /* the scenario line it came from, 0 = none */
  char outcome[16];      /* on run-end: "ok", "stalled", ...; "" otherwise */
  char *service;         /* the system service or DDI ("NtReadFile"), NULL if none */
  char *text;            /* the scenario's own words (a note, an op's name), NULL if none */
  /* Prose for people, NULL unless the events were loaded with details.
     Nothing in viz/ decides anything from it, nor draws it. */
  char *detail;
} vz_ev_t;

typedef struct vz_device {
  uint32_t id, lower;
  char *name, *driver;
  int stack_size;
} vz_device_t;

typedef struct vz_thread {
  uint32_t id;
  char *name, *state;
} vz_thread_t;

typedef struct vz_irp {
  uint32_t id, thread, master;
  char *tag, *major, *final_status;
  int stack_count;
  int64_t information, issued_ns, completed_ns; /* -1: NULL */
  int pending_returned;                         /* -1: NULL */
  bool completed, freed;
} vz_irp_t;

typedef struct vz_model {
  sqlite3 *db;
  const char *path; /* borrowed: the database's path, for messages */
  int64_t run;
  char *scenario, *outcome;
  int64_t seed, end_ns, nevents_row;
  int cpus;
  vz_device_t *dev;
  size_t ndev;
  vz_thread_t *thr;
  size_t nthr;
  vz_irp_t *irp;
  size_t nirp;
  vz_ev_t *ev;
  size_t nev;
} vz_model_t;

/* Opens `path` read-only (checked like every reader: an iosim trace of a
   schema this version reads), picks run `run` (0: the last), and reads the
   run row and the machine tables.  On failure returns VIZ_E* with a
   "path: message" in err; m is then already released. */
int vz_open(vz_model_t *m, const char *file, int64_t run, char *err, size_t errlen);
/* Reads every event row of the run, in order (details too if asked). */
int vz_load_events(vz_model_t *m, bool details, char *err, size_t errlen);
void vz_close(vz_model_t *m);

const vz_device_t *vz_device(const vz_model_t *m, uint32_t id);
const vz_thread_t *vz_thread(const vz_model_t *m, uint32_t id);
const vz_irp_t *vz_irp(const vz_model_t *m, uint32_t id);
/* A thread's name, or "thread N" when the table does not have it. */
const char *vz_thread_name(const vz_model_t *m, uint32_t id, char *buf, size_t n);
const char *vz_frame_name(vz_frame_t f);
/* "PASSIVE_LEVEL", "DISPATCH_LEVEL", "DIRQL5": the WDK names, which a
   picture can afford (the console abbreviates them). */
const char *vz_irql_name(int irql, char buf[16]);
/* 204460 -> "204.460 us"; the console's unit, so pictures and tables agree. */
const char *vz_time(int64_t ns, char buf[32]);

/* ---- frames: what each CPU executed, as blocks of time ---- */

/* A frame is what one CPU executes without a change: a stretch of a thread
   or of the idle loop, or one ISR, DPC or APC from its `isr`/`dpc`/`apc`
   step to its `-end` step.  It begins at the step where the CPU's frame
   kind or thread changes, or where an ISR, DPC or APC begins (two DPCs in a
   row are two frames); when an ISR, DPC or APC ends, the frame it
   interrupted resumes as a new frame.  So each CPU's frames tile its time
   from its first step to the end of the run, and there is exactly one
   frame per `isr`, `dpc` and `apc` step. */
typedef struct vz_block {
  int cpu;
  vz_frame_t kind;
  uint32_t thread; /* the thread running, or interrupted by an ISR / DPC */
  int irql;        /* the highest IRQL seen in it; -1 if it has no step */
  int64_t t0, t1;
  size_t first_ev; /* index in m->ev of its first step (if nev > 0) */
  size_t nev;      /* its steps; 0 for a resumed frame nothing happened in */
} vz_block_t;

/* Cuts the loaded events into frames (in the order they were cut).  Also
   returns, per event index, the frame it belongs to (SIZE_MAX: none), if
   ev_block is not NULL (caller frees both). */
void vz_frames(const vz_model_t *m, vz_block_t **out, size_t *n, size_t **ev_block);

/* ---- output ---- */

typedef enum { VZ_OUT_SVG, VZ_OUT_PNG, VZ_OUT_PDF, VZ_OUT_DOT, VZ_OUT_JSON } vz_format_t;

/* The format from the file's extension; -1 with a message if unknown. */
int vz_format(const char *out_path, bool json_only, vz_format_t *fmt, char *err, size_t errlen);

/* A file written in full or not at all: the text goes to a temporary file
   in the same folder, renamed over out_path only when complete. */
typedef struct vz_out {
  FILE *f;
  char *tmp;
  const char *path;
} vz_out_t;
int vz_out_begin(vz_out_t *o, const char *file, char *err, size_t errlen);
/* Closes and renames (ok) or removes the temporary file (!ok). */
int vz_out_end(vz_out_t *o, bool ok, char *err, size_t errlen);

/* Lays g out with `engine` and renders it in fmt into o (opened with
   vz_out_begin before any Graphviz work, so a file that cannot be written
   costs nothing), with `pad` inches of margin around it, the whole drawing
   multiplied by zoom; the caller ends o.  The picture is as big as its
   layout: nothing squeezes it to a width. */
int vz_render(GVC_t *gvc, Agraph_t *g, const char *engine, vz_out_t *o, vz_format_t fmt, double pad, double zoom,
              char *err, size_t errlen);

/* The style's scale and font size, with their defaults (1, 12 points). */
double vz_scale(const viz_style_t *style);
double vz_font(const viz_style_t *style);

/* Graphviz 2.x takes `char *` for names and values it only reads; these
   keep string literals const under -Wwrite-strings. */
void vz_set(void *obj, const char *name, const char *value);
void vz_set_html(Agraph_t *g, void *obj, const char *name, const char *html);
Agnode_t *vz_node(Agraph_t *g, const char *name);
Agedge_t *vz_edge(Agraph_t *g, Agnode_t *t, Agnode_t *h);
Agraph_t *vz_subgraph(Agraph_t *g, const char *name);

/* Fills err with "path: message" and returns code. */
int vz_fail(char *err, size_t errlen, int code, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
