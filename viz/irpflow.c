/*
 * irpflow.c - the flow diagram of one IRP, rebuilt from its trace steps and
 * drawn with Graphviz's dot: the issuing thread on top, the device stack
 * below it in call order, the hardware at the bottom.  Arrows are numbered
 * in the order things happened: IoCallDriver going down, dispatch routines
 * returning (STATUS_PENDING in orange), the hardware started and
 * interrupting, the completion walk going up one layer at a time with each
 * completion routine on the arrow into the layer that set it, a
 * STATUS_MORE_PROCESSING_REQUIRED stop, re-completions, and the final stage
 * in the issuing thread.  Requests a driver sends itself while handling the
 * IRP (and associated IRPs) are drawn as linked sub-flows.
 */
#include <stdlib.h>
#include <string.h>

#include "viz_int.h"

/* Past this many arrows the picture stops being readable; it says so. */
#define MAX_EDGES 160
#define MAX_FLOWS 8
#define MAX_CHAIN 32

/* IO_STACK_LOCATION Control bits (wdm.h; viz/ reads only the database). */
#define SL_INVOKE_ON_CANCEL 0x20u
#define SL_INVOKE_ON_SUCCESS 0x40u
#define SL_INVOKE_ON_ERROR 0x80u

#define FONT "Helvetica,Arial,sans-serif"
#define C_CALL "#222222"
#define C_RETURN "#8C8C8C"
#define C_PENDING "#E66100"
#define C_UP "#1F5FBF"
#define C_HW "#1B7837"
#define C_STOP "#C8102E"
#define C_SUB "#7B3294"

typedef enum { N_THREAD, N_DEVICE, N_HW, N_STOP } ntype_t;

typedef struct fnode {
  ntype_t type;
  int flow;        /* the flow whose cluster holds it */
  int depth;       /* rank: 0 the thread, then one per layer */
  uint32_t dev;    /* N_DEVICE, N_HW: the device */
  int loc;         /* N_DEVICE: the stack location it was called with */
  vz_str_t did;    /* HTML rows: what the driver did to its location */
  vz_str_t marks;  /* HTML rows: pending marks */
  vz_str_t text;   /* N_THREAD, N_STOP: the body */
  bool proxy;      /* a sub-flow's copy of the device that sent it */
  Agnode_t *gv;
} fnode_t;

typedef enum { E_CALL, E_RETURN, E_PENDING, E_HW, E_UP, E_LINK } ekind_t;

typedef struct fedge {
  int64_t seq; /* order: the step that made it, */
  int sub;     /* then creation order */
  int from, to;
  ekind_t kind;
  int flow;
  vz_str_t text; /* HTML lines after the number */
} fedge_t;

typedef struct flow {
  uint32_t irp;
  int issuer;            /* node: the thread, or the device that sent it */
  int chain[MAX_CHAIN];  /* the devices it was called into, top first */
  int nchain;
  /* the walk in progress */
  int cur;               /* chain index the walk is at; -1: at the issuer */
  bool walking, stopped_once;
  vz_str_t pending_text; /* the IoCompleteRequest line, for the walk's first arrow */
  int routine_edge;      /* the arrow carrying the routine that runs now */
  int routine_node;
  int final_edge;        /* the arrow into the issuer: stage 2 lines go there */
  int isr_edge;          /* the last interrupt arrow: its DPC lines go there */
  int dstack[MAX_CHAIN]; /* dispatch routines running, innermost last */
  int ndstack;
  int last_holder;       /* the node that last had the IRP */
} flow_t;

typedef struct fctx {
  const vz_model_t *m;
  fnode_t *node;
  size_t nnode, capnode;
  fedge_t *edge;
  size_t nedge, capedge;
  flow_t flow[MAX_FLOWS];
  int nflow;
  int sub;
  bool truncated;
  double k; /* font sizes relative to the default (the style's font size / 12 points) */
} fctx_t;

/* A font size of the picture: `base` points at the default size. */
static const char *pt(const fctx_t *c, double base, char buf[16]) {
  snprintf(buf, 16, "%.1f", base * c->k);
  return buf;
}

/* ---- nodes and arrows ---- */

static int new_node(fctx_t *c, ntype_t type, int flow, int depth, uint32_t dev) {
  VZ_RESERVE(c->node, c->capnode, c->nnode + 1);
  c->node[c->nnode] = (fnode_t){.type = type, .flow = flow, .depth = depth, .dev = dev};
  return (int)c->nnode++;
}

static int new_edge(fctx_t *c, const vz_ev_t *e, int from, int to, ekind_t kind, int flow) {
  if (from < 0 || to < 0) return -1;
  if (c->nedge >= MAX_EDGES) {
    c->truncated = true;
    return -1;
  }
  VZ_RESERVE(c->edge, c->capedge, c->nedge + 1);
  c->edge[c->nedge] = (fedge_t){.seq = e->seq, .sub = c->sub++, .from = from, .to = to, .kind = kind, .flow = flow};
  return (int)c->nedge++;
}

static vz_str_t *etext(fctx_t *c, int e) { return e >= 0 ? &c->edge[e].text : NULL; }

/* "204.460 us, CPU 0, DISPATCH, DPC": when and where a step ran. */
static void put_ctx(fctx_t *c, vz_str_t *b, const vz_ev_t *e) {
  char tb[32], ib[16], nb[32];
  vz_printf(b, "%s", vz_time(e->t_ns, tb));
  if (e->cpu < 0) return;
  vz_printf(b, ", CPU %d, %s, ", e->cpu, vz_irql_name(e->irql, ib));
  const char *who = e->thread ? vz_thread_name(c->m, e->thread, nb, sizeof nb) : NULL;
  switch (e->frame) {
  case VZ_F_THREAD: vz_puts(b, "thread "); vz_put_html(b, who ? who : "?"); break;
  case VZ_F_APC: vz_puts(b, "APC in "); vz_put_html(b, who ? who : "?"); break;
  case VZ_F_DPC:
  case VZ_F_ISR:
    vz_puts(b, vz_frame_name(e->frame));
    if (who) {
      vz_puts(b, " over ");
      vz_put_html(b, who);
    }
    break;
  default: vz_puts(b, vz_frame_name(e->frame));
  }
}

/* A step's status as the database has it ("?" if none), escaped: nothing
   read from a database goes into a label unescaped. */
static void put_status(vz_str_t *b, const vz_ev_t *e) { vz_put_html(b, e->status[0] ? e->status : "?"); }

static const char *dev_name(const fctx_t *c, uint32_t id) {
  const vz_device_t *d = vz_device(c->m, id);
  return d ? d->name : "?";
}

/* The node of device `dev` in flow f, created below `above` if new. */
static int dev_node(fctx_t *c, int f, uint32_t dev, int above) {
  flow_t *fl = &c->flow[f];
  for (int i = 0; i < fl->nchain; i++)
    if (c->node[fl->chain[i]].dev == dev) return fl->chain[i];
  if (c->node[fl->issuer].type == N_DEVICE && c->node[fl->issuer].dev == dev) return fl->issuer;
  if (fl->nchain == MAX_CHAIN) return -1;
  int depth = above >= 0 ? c->node[above].depth + 1 : c->node[fl->issuer].depth + 1;
  int n = new_node(c, N_DEVICE, f, depth, dev);
  fl->chain[fl->nchain++] = n;
  return n;
}

static int chain_index(const fctx_t *c, int f, uint32_t dev) {
  const flow_t *fl = &c->flow[f];
  for (int i = 0; i < fl->nchain; i++)
    if (c->node[fl->chain[i]].dev == dev) return i;
  return -1;
}

static int hw_node(fctx_t *c, int f, uint32_t dev) {
  for (size_t i = 0; i < c->nnode; i++)
    if (c->node[i].type == N_HW && c->node[i].dev == dev && c->node[i].flow == f) return (int)i;
  int above = dev_node(c, f, dev, -1);
  if (above < 0) return -1;
  /* Below the lowest device of the flow, so the hardware is the bottom row. */
  int depth = c->node[above].depth + 1;
  for (int i = 0; i < c->flow[f].nchain; i++)
    if (c->node[c->flow[f].chain[i]].depth + 1 > depth) depth = c->node[c->flow[f].chain[i]].depth + 1;
  return new_node(c, N_HW, f, depth, dev);
}

/* ---- the completion walk ---- */

/* The node the walk reaches from chain index i going up one layer. */
static int up_of(const fctx_t *c, int f, int i) {
  const flow_t *fl = &c->flow[f];
  return i > 0 ? fl->chain[i - 1] : fl->issuer;
}

/* Moves the walk up to node `target` (a device of the chain or the
   issuer), one arrow per layer crossed, all made by step e.  Returns the
   arrow into the target. */
static int walk_up(fctx_t *c, int f, const vz_ev_t *e, int target) {
  flow_t *fl = &c->flow[f];
  int last = -1;
  while (fl->cur >= 0) {
    int from = fl->chain[fl->cur], to = up_of(c, f, fl->cur);
    last = new_edge(c, e, from, to, E_UP, f);
    fl->cur--;
    if (last >= 0 && fl->pending_text.len) {
      vz_puts(etext(c, last), vz_cstr(&fl->pending_text));
      vz_str_free(&fl->pending_text);
    } else if (last >= 0 && to != target) {
      vz_puts(etext(c, last), "walk goes up: no routine in this location");
    }
    if (to == target) break;
  }
  return last;
}

static void complete_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  int i = chain_index(c, f, e->device);
  fl->cur = i;
  fl->walking = true;
  vz_str_free(&fl->pending_text);
  vz_puts(&fl->pending_text, "<b>");
  vz_put_html(&fl->pending_text, dev_name(c, e->device));
  vz_puts(&fl->pending_text, fl->stopped_once ? "</b> completes it again" : "</b>: IoCompleteRequest");
  vz_puts(&fl->pending_text, " (");
  put_status(&fl->pending_text, e);
  vz_puts(&fl->pending_text, ")<br/>");
  put_ctx(c, &fl->pending_text, e);
  if (i < 0) {
    /* Completed by a device that never had it (its own IRP, or a bug):
       the walk starts above nobody; draw it straight to the issuer. */
    int from = dev_node(c, f, e->device, -1);
    fl->cur = -1;
    int a = new_edge(c, e, from, fl->issuer, E_UP, f);
    if (a >= 0) vz_puts(etext(c, a), vz_cstr(&fl->pending_text));
    vz_str_free(&fl->pending_text);
  }
}

static void routine_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  /* Device NULL: the routine of the driver that allocated the IRP, which
     has no location of its own - the sender of this sub-flow. */
  int target = e->device ? dev_node(c, f, e->device, -1) : fl->issuer;
  int a = walk_up(c, f, e, target);
  if (a < 0 && fl->nchain && c->nedge) a = fl->routine_edge; /* nothing crossed: keep to the last */
  vz_str_t *t = etext(c, a);
  fl->routine_edge = a;
  fl->routine_node = target;
  if (!t) return;
  if (t->len) vz_puts(t, "<br/>");
  vz_printf(t, "<font color=\"%s\"><b>", C_UP);
  vz_put_html(t, e->device ? dev_name(c, e->device) : "the sender");
  vz_puts(t, "'s completion routine</b></font>");
  if (e->pending_returned >= 0) vz_printf(t, " (PendingReturned=%d)", e->pending_returned);
  vz_puts(t, "<br/>");
  put_ctx(c, t, e);
}

static void routine_return(fctx_t *c, int f, const vz_ev_t *e) {
  vz_str_t *t = etext(c, c->flow[f].routine_edge);
  if (!t) return;
  bool mpr = !strcmp(e->status, "STATUS_MORE_PROCESSING_REQUIRED");
  vz_printf(t, "<br/>routine returned <font color=\"%s\"><b>", mpr ? C_STOP : C_UP);
  put_status(t, e);
  vz_puts(t, "</b></font>");
}

static void stop_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  fl->walking = false;
  fl->stopped_once = true;
  int owner = fl->routine_node >= 0 ? fl->routine_node : fl->issuer;
  int s = new_node(c, N_STOP, c->node[owner].flow, c->node[owner].depth, 0);
  char tb[32], fs[16];
  vz_str_t *t = &c->node[s].text;
  vz_printf(t, "<font point-size=\"%s\"><b>STOP</b></font><br/>walk stopped, %s<br/>", pt(c, 18, fs),
            vz_time(e->t_ns, tb));
  if (c->node[owner].type == N_DEVICE) vz_put_html(t, dev_name(c, c->node[owner].dev));
  else vz_puts(t, "its driver");
  vz_printf(t, " owns IRP %u again", fl->irp);
  if (fl->routine_edge >= 0) c->edge[fl->routine_edge].to = s;
  else new_edge(c, e, owner, s, E_UP, f);
}

static void done_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  int a = fl->cur >= 0 ? walk_up(c, f, e, fl->issuer) : -1;
  if (a < 0) {
    /* The walk ended where the issuer is (the completing driver is the top). */
    int top = fl->nchain ? fl->chain[0] : -1;
    a = new_edge(c, e, top, fl->issuer, E_UP, f);
    if (a >= 0 && fl->pending_text.len) vz_puts(etext(c, a), vz_cstr(&fl->pending_text));
    vz_str_free(&fl->pending_text);
  }
  fl->walking = false;
  fl->final_edge = a;
  vz_str_t *t = etext(c, a);
  if (!t) return;
  if (t->len) vz_puts(t, "<br/>");
  vz_printf(t, "<font color=\"%s\"><b>walk done</b></font>", C_UP);
  if (e->pending_returned >= 0) vz_printf(t, " (PendingReturned=%d)", e->pending_returned);
  if (e->stage2 == VZ_S2_INLINE) vz_puts(t, ": finished inline by the system service");
}

/* Stage 2 (IopCompleteRequest in the issuing thread) and its APC. */
static void stage2_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  vz_str_t *t = etext(c, fl->final_edge);
  if (!t) return;
  if (!strcmp(e->kind, "apc")) {
    vz_printf(t, "<br/><font color=\"%s\"><b>special kernel APC</b></font> ", C_UP);
    put_ctx(c, t, e);
  } else if (!strcmp(e->kind, "stage2")) {
    vz_puts(t, "<br/><b>stage 2</b> ");
    put_ctx(c, t, e);
  } else {
    /* iosb-written: what the requester's I/O status block now holds. */
    vz_puts(t, "<br/>IoStatus = ");
    put_status(t, e);
    if (e->has_info) vz_printf(t, ", Information %lld", (long long)e->info);
  }
}

static void mark_step(fctx_t *c, int f, const vz_ev_t *e, int n, const char *how) {
  if (n < 0) return;
  char tb[32];
  vz_str_t *t = &c->node[n].marks;
  vz_printf(t, "<tr><td bgcolor=\"%s\" align=\"left\"><font color=\"white\"><b>PENDING</b> ", C_STOP);
  vz_puts(t, how);
  vz_printf(t, ", %s</font></td></tr>", vz_time(e->t_ns, tb));
  (void)f;
}

static void did_step(fctx_t *c, int n, const char *what, const char *more) {
  if (n < 0) return;
  vz_str_t *t = &c->node[n].did;
  if (t->len) vz_puts(t, "<br/>");
  vz_puts(t, what);
  if (more) {
    vz_puts(t, " ");
    vz_put_html(t, more);
  }
}

/* "invoke on success, error, cancel" from a location's Control bits. */
static const char *invoke_text(int control, char *buf, size_t n) {
  if (control < 0) return NULL;
  const unsigned on[] = {SL_INVOKE_ON_SUCCESS, SL_INVOKE_ON_ERROR, SL_INVOKE_ON_CANCEL};
  const char *name[] = {"success", "error", "cancel"};
  size_t len = (size_t)snprintf(buf, n, "(invoke on");
  bool any = false;
  for (int i = 0; i < 3; i++)
    if ((unsigned)control & on[i]) {
      len += (size_t)snprintf(buf + len, n - len, "%s %s", any ? "," : "", name[i]);
      any = true;
    }
  snprintf(buf + len, n - len, "%s)", any ? "" : " nothing");
  return buf;
}

/* The node of the device that holds location `loc` after a skip: the lowest one. */
static int loc_node(const fctx_t *c, int f, int loc) {
  const flow_t *fl = &c->flow[f];
  for (int i = fl->nchain - 1; i >= 0; i--)
    if (c->node[fl->chain[i]].loc == loc) return fl->chain[i];
  return -1;
}

/* ---- one IRP's steps ---- */

static void call_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  int from = fl->ndstack ? fl->dstack[fl->ndstack - 1] : fl->last_holder >= 0 ? fl->last_holder : fl->issuer;
  int to = dev_node(c, f, e->device, from);
  if (to < 0) return;
  if (!c->node[to].loc) c->node[to].loc = e->loc;
  int a = new_edge(c, e, from, to, E_CALL, f);
  vz_str_t *t = etext(c, a);
  if (!t) return;
  vz_puts(t, "IoCallDriver(<b>");
  vz_put_html(t, dev_name(c, e->device));
  vz_printf(t, "</b>) -&gt; location %d<br/>", e->loc);
  put_ctx(c, t, e);
}

static void return_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  int d = dev_node(c, f, e->device, -1);
  while (fl->ndstack && fl->dstack[fl->ndstack - 1] != d) fl->ndstack--;
  if (fl->ndstack) fl->ndstack--;
  int to = fl->ndstack ? fl->dstack[fl->ndstack - 1] : fl->issuer;
  /* The caller of the top driver may have been a device (a sub-flow's sender). */
  if (!fl->ndstack && fl->nchain && d != fl->chain[0]) {
    int i = chain_index(c, f, e->device);
    if (i > 0) to = fl->chain[i - 1];
  }
  bool pending = !strcmp(e->status, "STATUS_PENDING");
  int a = new_edge(c, e, d, to, pending ? E_PENDING : E_RETURN, f);
  vz_str_t *t = etext(c, a);
  if (!t) return;
  vz_puts(t, "<b>");
  vz_put_html(t, dev_name(c, e->device));
  vz_puts(t, pending ? "</b> returns <font color=\"" C_PENDING "\"><b>" : "</b> returns ");
  put_status(t, e);
  vz_puts(t, pending ? "</b></font><br/>" : "<br/>");
  put_ctx(c, t, e);
}

/* A DPC no interrupt asked for (a driver's IoRequestDpc in dispatch, say):
   a line in the device's box, with no hardware drawn. */
static void dpc_line(fctx_t *c, int d, const vz_ev_t *e, const char *what) {
  if (d < 0) return;
  vz_str_t *t = &c->node[d].did;
  if (t->len) vz_puts(t, "<br/>");
  vz_puts(t, what);
  vz_puts(t, ", ");
  put_ctx(c, t, e);
}

static void hw_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  int d = dev_node(c, f, e->device, -1);
  /* Hardware is drawn only for a device that started it or interrupted. */
  int h = !strcmp(e->kind, "hw-start") || !strcmp(e->kind, "isr") ? hw_node(c, f, e->device) : -1;
  if ((!strcmp(e->kind, "dpc-queued") || !strcmp(e->kind, "dpc")) && fl->isr_edge < 0) {
    dpc_line(c, d, e, !strcmp(e->kind, "dpc") ? "its DPC runs" : "requests its DPC");
    return;
  }
  if (!strcmp(e->kind, "hw-start")) {
    int a = new_edge(c, e, d, h, E_HW, f);
    vz_str_t *t = etext(c, a);
    if (!t) return;
    vz_puts(t, "starts the device");
    if (e->offset >= 0) vz_printf(t, " at offset %lld", (long long)e->offset);
    vz_puts(t, "<br/>");
    put_ctx(c, t, e);
  } else if (!strcmp(e->kind, "isr")) {
    fl->isr_edge = new_edge(c, e, h, d, E_HW, f);
    vz_str_t *t = etext(c, fl->isr_edge);
    if (!t) return;
    vz_printf(t, "<font color=\"%s\"><b>interrupt: ISR</b></font><br/>", C_HW);
    put_ctx(c, t, e);
  } else if (!strcmp(e->kind, "dpc-queued")) {
    vz_str_t *t = etext(c, fl->isr_edge);
    if (t) vz_puts(t, "<br/>the ISR queues a DPC");
  } else if (!strcmp(e->kind, "dpc")) {
    vz_str_t *t = etext(c, fl->isr_edge);
    if (t) {
      vz_printf(t, "<br/><font color=\"%s\"><b>DPC</b></font> ", C_HW);
      put_ctx(c, t, e);
    }
    fl->isr_edge = -1;
  }
}

/* The node a step of device `dev` concerns; device 0 is the driver that
   allocated the IRP (it has no location): the sender of a sub-flow. */
static int step_node(fctx_t *c, int f, uint32_t dev) {
  return dev ? dev_node(c, f, dev, -1) : c->flow[f].issuer;
}

static void irp_step(fctx_t *c, int f, const vz_ev_t *e) {
  flow_t *fl = &c->flow[f];
  const char *k = e->kind;
  if (!strcmp(k, "call-driver")) call_step(c, f, e);
  else if (!strcmp(k, "dispatch")) {
    int d = dev_node(c, f, e->device, -1);
    if (d >= 0 && fl->ndstack < MAX_CHAIN) fl->dstack[fl->ndstack++] = d;
    fl->last_holder = d;
  } else if (!strcmp(k, "dispatch-return")) return_step(c, f, e);
  else if (!strcmp(k, "copy-stack")) did_step(c, step_node(c, f, e->device), "copies its location to the next", NULL);
  else if (!strcmp(k, "skip-stack")) did_step(c, step_node(c, f, e->device), "skips its location", NULL);
  else if (!strcmp(k, "set-completion")) {
    char ib[64];
    did_step(c, step_node(c, f, e->device), "sets a completion routine", invoke_text(e->control, ib, sizeof ib));
  }
  else if (!strcmp(k, "mark-pending")) {
    int d = e->device ? dev_node(c, f, e->device, -1) : fl->issuer;
    bool in_routine = fl->walking && fl->routine_node == d;
    mark_step(c, f, e, d, in_routine ? "IoMarkIrpPending in its completion routine" : "IoMarkIrpPending in dispatch");
  } else if (!strcmp(k, "pending-propagated")) {
    /* No routine below: the I/O manager copied the mark up to loc_to. */
    int loc = e->loc_to > 0 ? e->loc_to : e->loc;
    mark_step(c, f, e, loc_node(c, f, loc), "copied up by the I/O manager (no routine below)");
  } else if (!strcmp(k, "hw-start") || !strcmp(k, "isr") || !strcmp(k, "dpc-queued") || !strcmp(k, "dpc"))
    hw_step(c, f, e);
  else if (!strcmp(k, "complete")) {
    fl->last_holder = dev_node(c, f, e->device, -1);
    complete_step(c, f, e);
  } else if (!strcmp(k, "completion-routine")) routine_step(c, f, e);
  else if (!strcmp(k, "completion-return")) routine_return(c, f, e);
  else if (!strcmp(k, "walk-stopped")) stop_step(c, f, e);
  else if (!strcmp(k, "walk-done")) done_step(c, f, e);
  else if (!strcmp(k, "apc") || !strcmp(k, "stage2") || !strcmp(k, "iosb-written")) stage2_step(c, f, e);
  else if (!strcmp(k, "cancel") || !strcmp(k, "cancel-routine")) {
    int d = e->device ? dev_node(c, f, e->device, -1) : fl->issuer;
    char tb[32];
    did_step(c, d, !strcmp(k, "cancel") ? "<b>cancelled</b> at" : "its cancel routine ran at", vz_time(e->t_ns, tb));
  }
}

/* ---- which IRPs belong to the picture ---- */

/* The IRP (and the device) that was being handled on the CPU when a driver
   allocated IRP `j`: the nearest earlier step of the same frame that
   concerns another IRP.  Returns 0 when there is none. */
static uint32_t parent_of(const vz_model_t *m, uint32_t j, uint32_t *creator) {
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *a = &m->ev[i];
    if (a->irp != j || strcmp(a->kind, "irp-alloc") != 0 || a->cpu < 0) continue;
    for (size_t k = i; k-- > 0 && i - k < 256;) {
      const vz_ev_t *p = &m->ev[k];
      if (p->cpu != a->cpu) continue;
      if (p->frame != a->frame || p->thread != a->thread) return 0;
      if (p->irp && p->irp != j) {
        *creator = p->device;
        return p->irp;
      }
    }
    return 0;
  }
  return 0;
}

static void thread_text(fctx_t *c, int n, const vz_irp_t *p) {
  const vz_model_t *m = c->m;
  char tb[32], nb[32];
  vz_str_t *t = &c->node[n].text;
  vz_puts(t, "<b>thread ");
  vz_put_html(t, vz_thread_name(m, p->thread, nb, sizeof nb));
  vz_puts(t, "</b>");
  /* The system call that built the IRP: the thread's last one before it. */
  const vz_ev_t *sys = NULL, *ret = NULL;
  for (size_t i = 0; i < m->nev; i++) {
    const vz_ev_t *e = &m->ev[i];
    if (e->irp == p->id && !strcmp(e->kind, "irp-alloc")) break;
    if (e->thread == p->thread && !strcmp(e->kind, "syscall")) sys = e;
  }
  for (size_t i = 0; i < m->nev; i++)
    if (m->ev[i].irp == p->id && !strcmp(m->ev[i].kind, "syscall-return")) ret = &m->ev[i];
  if (sys) {
    vz_puts(t, "<br/>");
    vz_put_html(t, sys->service ? sys->service : "a system call");
  }
  if (!ret) vz_printf(t, "<br/><font color=\"%s\"><b>the system call never returned</b></font>", C_STOP);
  if (ret) {
    bool pend = !strcmp(ret->status, "STATUS_PENDING");
    vz_puts(t, pend ? "<br/>the call returned <font color=\"" C_PENDING "\"><b>" : "<br/>the call returned ");
    vz_put_html(t, ret->status);
    vz_printf(t, "%s at %s", pend ? "</b></font>" : "", vz_time(ret->t_ns, tb));
  }
  if (p->completed && p->final_status[0]) {
    vz_puts(t, "<br/>IRP's final status ");
    vz_put_html(t, p->final_status);
    if (p->information >= 0) vz_printf(t, ", %lld bytes", (long long)p->information);
  }
  const vz_thread_t *th = vz_thread(m, p->thread);
  if (th && !strcmp(th->state, "waiting"))
    vz_printf(t, "<br/><font color=\"%s\"><b>at the end of the run the thread still waits: a hang</b></font>", C_STOP);
}

/* A new flow; the caller checked there is room (MAX_FLOWS). */
static int add_flow(fctx_t *c, uint32_t irp, int issuer) {
  int f = c->nflow++;
  c->flow[f] = (flow_t){.irp = irp, .issuer = issuer, .cur = -1, .routine_edge = -1, .routine_node = -1,
                        .final_edge = -1, .isr_edge = -1, .last_holder = -1};
  return f;
}

/* Builds the flows: IRP p first, then the IRPs sent while it was being
   handled (recursively), each sent from its creator's node. */
static void build(fctx_t *c, const vz_irp_t *p) {
  const vz_model_t *m = c->m;
  int top = new_node(c, N_THREAD, 0, 0, 0);
  if (p->thread) thread_text(c, top, p);
  else vz_printf(&c->node[top].text, "<b>IRP %u</b><br/>allocated by a driver", p->id);
  add_flow(c, p->id, top);
  /* Sub-flows are found breadth first; their sender nodes are created as
     their parents' steps are replayed, so replay each flow before looking
     for its children. */
  for (int f = 0; f < c->nflow; f++) {
    for (size_t i = 0; i < m->nev; i++)
      if (m->ev[i].irp == c->flow[f].irp) irp_step(c, f, &m->ev[i]);
    vz_str_free(&c->flow[f].pending_text);
    for (size_t j = 0; j < m->nirp; j++) {
      const vz_irp_t *q = &m->irp[j];
      if (q->id == c->flow[f].irp || q->thread) continue;
      uint32_t creator = 0, parent = parent_of(m, q->id, &creator);
      if (q->master != c->flow[f].irp && parent != c->flow[f].irp) continue;
      bool seen = false;
      for (int g = 0; g < c->nflow; g++) seen |= c->flow[g].irp == q->id;
      if (seen) continue;
      int sender = creator ? dev_node(c, f, creator, -1) : c->flow[f].issuer;
      if (sender < 0) break; /* a sender below the layers drawn */
      /* Checked before its nodes exist: a node's flow picks its cluster. */
      if (c->nflow == MAX_FLOWS) {
        c->truncated = true;
        break;
      }
      /* The sub-flow hangs below everything drawn so far, from a copy of its
         sender, so the picture grows down (readable on a projector) rather
         than sideways; one purple arrow links the sender to its copy. */
      int base = 0;
      for (size_t n = 0; n < c->nnode; n++)
        if (c->node[n].depth + 1 > base) base = c->node[n].depth + 1;
      int proxy = new_node(c, N_DEVICE, c->nflow, base, creator);
      c->node[proxy].proxy = true;
      int g = add_flow(c, q->id, proxy);
      for (size_t i = 0; i < m->nev; i++)
        if (m->ev[i].irp == q->id && !strcmp(m->ev[i].kind, "irp-alloc")) {
          int a = new_edge(c, &m->ev[i], sender, proxy, E_LINK, g);
          vz_str_t *t = etext(c, a);
          if (!t) break;
          vz_printf(t, "<font color=\"%s\"><b>allocates IRP %u", C_SUB, q->id);
          if (q->tag[0]) {
            vz_puts(t, " (");
            vz_put_html(t, q->tag);
            vz_puts(t, ")");
          }
          vz_printf(t, "</b>%s</font><br/>", q->master ? ", associated" : "");
          put_ctx(c, t, &m->ev[i]);
          break;
        }
    }
  }
}

/* ---- drawing ---- */

static int cmp_edge(const void *a, const void *b) {
  const fedge_t *x = a, *y = b;
  if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
  return (x->sub > y->sub) - (x->sub < y->sub);
}

static void node_label(fctx_t *c, Agraph_t *g, int i) {
  fnode_t *n = &c->node[i];
  const vz_device_t *d = n->dev ? vz_device(c->m, n->dev) : NULL;
  vz_str_t b = {0};
  char fs[16];
  vz_puts(&b, "<table border=\"0\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"3\">");
  switch (n->type) {
  case N_THREAD: vz_printf(&b, "<tr><td>%s</td></tr>", vz_cstr(&n->text)); break;
  case N_DEVICE:
    vz_printf(&b, "<tr><td><font point-size=\"%s\"><b>", pt(c, 18, fs));
    vz_put_html(&b, d ? d->name : "?");
    vz_puts(&b, "</b></font></td></tr>");
    if (n->proxy) vz_printf(&b, "<tr><td><font color=\"%s\">sends its own IRP</font></td></tr>", C_SUB);
    vz_puts(&b, "<tr><td>\\Driver\\");
    vz_put_html(&b, d ? d->driver : "?");
    if (n->loc) vz_printf(&b, ",  stack location <b>%d</b>", n->loc);
    vz_puts(&b, "</td></tr>");
    if (n->did.len)
      vz_printf(&b, "<tr><td><font point-size=\"%s\" color=\"#444444\">%s</font></td></tr>", pt(c, 12, fs),
                vz_cstr(&n->did));
    vz_puts(&b, vz_cstr(&n->marks));
    break;
  case N_HW:
    vz_puts(&b, "<tr><td><b>hardware of ");
    vz_put_html(&b, d ? d->name : "?");
    vz_printf(&b, "</b></td></tr><tr><td><font point-size=\"%s\">works on its own, then interrupts</font></td></tr>",
              pt(c, 12, fs));
    break;
  case N_STOP: vz_printf(&b, "<tr><td><font color=\"white\">%s</font></td></tr>", vz_cstr(&n->text)); break;
  }
  vz_puts(&b, "</table>");
  vz_set_html(g, n->gv, "label", vz_cstr(&b));
  vz_str_free(&b);
}

static void style_node(fnode_t *n) {
  switch (n->type) {
  case N_THREAD:
    vz_set(n->gv, "shape", "box");
    vz_set(n->gv, "style", "rounded,filled");
    vz_set(n->gv, "fillcolor", "#FFF4C2");
    break;
  case N_DEVICE:
    vz_set(n->gv, "shape", "box");
    vz_set(n->gv, "style", "rounded,filled");
    vz_set(n->gv, "fillcolor", "#E8EEF7");
    break;
  case N_HW:
    vz_set(n->gv, "shape", "box3d");
    vz_set(n->gv, "style", "filled");
    vz_set(n->gv, "fillcolor", "#E3F1E4");
    break;
  case N_STOP:
    vz_set(n->gv, "shape", "octagon");
    vz_set(n->gv, "margin", "0.02,0.02");
    vz_set(n->gv, "style", "filled");
    vz_set(n->gv, "fillcolor", C_STOP);
    vz_set(n->gv, "color", C_STOP);
    break;
  }
}

static void style_edge(Agedge_t *ge, const fedge_t *e) {
  static const char *const color[] = {C_CALL, C_RETURN, C_PENDING, C_HW, C_UP, C_SUB};
  vz_set(ge, "color", color[e->kind]);
  vz_set(ge, "fontcolor", "#222222");
  switch (e->kind) {
  case E_CALL: vz_set(ge, "penwidth", "2"); break;
  case E_RETURN: vz_set(ge, "style", "dashed"); break;
  case E_PENDING:
    vz_set(ge, "style", "dashed");
    vz_set(ge, "penwidth", "3");
    break;
  case E_HW: vz_set(ge, "penwidth", "2"); break;
  case E_UP: vz_set(ge, "penwidth", "2.5"); break;
  case E_LINK:
    vz_set(ge, "style", "dotted");
    vz_set(ge, "penwidth", "2.5");
    break;
  }
}

static const char legend_html[] =
    "<table border=\"1\" color=\"#999999\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"3\">"
    "<tr><td colspan=\"2\"><b>How to read it</b> (docs/diagrams.md)</td></tr>"
    "<tr><td align=\"left\"><font color=\"" C_CALL "\"><b>&#8212;&#8212;&#9654;</b></font></td>"
    "<td align=\"left\">IoCallDriver: the IRP goes down</td></tr>"
    "<tr><td align=\"left\"><font color=\"" C_RETURN "\"><b>- - -&#9654;</b></font></td>"
    "<td align=\"left\">a dispatch routine returns</td></tr>"
    "<tr><td align=\"left\"><font color=\"" C_PENDING "\"><b>- - -&#9654;</b></font></td>"
    "<td align=\"left\">... returns STATUS_PENDING</td></tr>"
    "<tr><td align=\"left\"><font color=\"" C_HW "\"><b>&#8212;&#8212;&#9654;</b></font></td>"
    "<td align=\"left\">hardware: started, interrupt, ISR, DPC</td></tr>"
    "<tr><td align=\"left\"><font color=\"" C_UP "\"><b>&#8212;&#8212;&#9654;</b></font></td>"
    "<td align=\"left\">completion walk going up; a routine<br align=\"left\"/>sits on the arrow into the driver that set it</td></tr>"
    "<tr><td align=\"left\" bgcolor=\"" C_STOP "\"><font color=\"white\"><b>STOP</b></font></td>"
    "<td align=\"left\">a routine returned<br align=\"left\"/>STATUS_MORE_PROCESSING_REQUIRED</td></tr>"
    "<tr><td align=\"left\" bgcolor=\"" C_STOP "\"><font color=\"white\"><b>PENDING</b></font></td>"
    "<td align=\"left\">SL_PENDING_RETURNED set in that location</td></tr>"
    "<tr><td align=\"left\"><font color=\"" C_SUB "\"><b>&#183;&#183;&#183;&#183;&#9654;</b></font></td>"
    "<td align=\"left\">a driver sends its own IRP (sub-flow)</td></tr>"
    "<tr><td align=\"left\"><b>n</b></td><td align=\"left\">order of the steps; then time, CPU,<br align=\"left\"/>"
    "IRQL and frame the step ran in</td></tr>"
    "</table>";

static void draw(fctx_t *c, Agraph_t *g, const vz_irp_t *p) {
  const vz_model_t *m = c->m;
  vz_set(g, "rankdir", "TB");
  vz_set(g, "nodesep", "0.35");
  vz_set(g, "ranksep", "0.9");
  vz_set(g, "fontname", FONT);
  char fs[16];
  vz_set(g, "fontsize", pt(c, 18, fs));
  vz_set(g, "labelloc", "t");
  vz_set(g, "newrank", "true");
  vz_str_t title = {0};
  vz_printf(&title, "<b>IRP %u", p->id);
  if (p->tag[0]) {
    vz_puts(&title, " (");
    vz_put_html(&title, p->tag);
    vz_puts(&title, ")");
  }
  vz_puts(&title, " ");
  vz_put_html(&title, p->major);
  vz_printf(&title, "</b><br/><font point-size=\"%s\">run %lld of ", pt(c, 13, fs), (long long)m->run);
  vz_put_html(&title, m->scenario);
  vz_printf(&title, ", seed %lld, outcome ", (long long)m->seed);
  vz_put_html(&title, m->outcome);
  vz_printf(&title, "%s</font>", c->truncated ? "<br/>(too many steps: the first ones are shown)" : "");
  vz_set_html(g, g, "label", vz_cstr(&title));
  vz_str_free(&title);
  agattr(g, AGNODE, (char *)"fontname", (char *)FONT);
  agattr(g, AGNODE, (char *)"fontsize", (char *)pt(c, 14, fs));
  agattr(g, AGNODE, (char *)"margin", (char *)"0.12,0.06");
  agattr(g, AGEDGE, (char *)"fontname", (char *)FONT);
  agattr(g, AGEDGE, (char *)"fontsize", (char *)pt(c, 12, fs));
  agattr(g, AGEDGE, (char *)"arrowsize", (char *)"0.9");

  /* Sub-flows in their own clusters, so they read as a side story. */
  Agraph_t *cl[MAX_FLOWS] = {0};
  for (int f = 1; f < c->nflow; f++) {
    char name[32];
    snprintf(name, sizeof name, "cluster_irp%u", c->flow[f].irp);
    cl[f] = vz_subgraph(g, name);
    const vz_irp_t *q = vz_irp(m, c->flow[f].irp); /* a flow is an IRP of the table */
    vz_str_t l = {0};
    vz_printf(&l, "<font color=\"%s\"><b>IRP %u", C_SUB, c->flow[f].irp);
    if (q->tag[0]) {
      vz_puts(&l, " (");
      vz_put_html(&l, q->tag);
      vz_puts(&l, ")");
    }
    vz_printf(&l, "</b>%s</font>", q->master ? ", associated" : ", sent by a driver");
    vz_set_html(g, cl[f], "label", vz_cstr(&l));
    vz_str_free(&l);
    vz_set(cl[f], "color", C_SUB);
    vz_set(cl[f], "style", "dashed,rounded");
    vz_set(cl[f], "fontsize", pt(c, 14, fs));
  }
  for (size_t i = 0; i < c->nnode; i++) {
    fnode_t *n = &c->node[i];
    char name[32];
    snprintf(name, sizeof name, "n%zu", i);
    n->gv = vz_node(n->flow > 0 ? cl[n->flow] : g, name);
    style_node(n);
    node_label(c, g, (int)i);
  }
  /* A stop sits beside the layer that stopped the walk, in its flow's
     cluster: dot 2.42 frees memory twice laying out rank=same groups that
     cross a cluster's border (seven sub-flows that stopped were enough). */
  for (size_t i = 0; i < c->nnode; i++) {
    if (c->node[i].type != N_STOP) continue;
    char name[32];
    snprintf(name, sizeof name, "same%zu", i);
    Agraph_t *s = vz_subgraph(c->node[i].flow > 0 ? cl[c->node[i].flow] : g, name);
    vz_set(s, "rank", "same");
    agsubnode(s, c->node[i].gv, 1);
    for (size_t j = 0; j < c->nnode; j++)
      if (j != i && c->node[j].type == N_DEVICE && c->node[j].depth == c->node[i].depth &&
          c->node[j].flow == c->node[i].flow)
        agsubnode(s, c->node[j].gv, 1);
  }
  if (c->nedge) qsort(c->edge, c->nedge, sizeof *c->edge, cmp_edge); /* edge may be NULL when empty */
  for (size_t i = 0; i < c->nedge; i++) {
    fedge_t *e = &c->edge[i];
    fnode_t *a = &c->node[e->from], *b = &c->node[e->to];
    Agedge_t *ge;
    /* Created top to bottom so that dot keeps the stack's order; arrows
       going up are drawn backwards. */
    if (a->depth <= b->depth) {
      ge = vz_edge(g, a->gv, b->gv);
      if (a->depth == b->depth) vz_set(ge, "constraint", "false");
      if (b->depth - a->depth > 1) {
        /* A sub-flow's link: keep the sub-flow below the main one. */
        char len[16];
        snprintf(len, sizeof len, "%d", b->depth - a->depth);
        vz_set(ge, "minlen", len);
      }
    } else {
      ge = vz_edge(g, b->gv, a->gv);
      vz_set(ge, "dir", "back");
    }
    style_edge(ge, e);
    /* The step that made the arrow, as an SVG class ("step s48"): the
       HTML explorer highlights the current step's arrow and dims later ones. */
    char cls[40];
    snprintf(cls, sizeof cls, "step s%lld", (long long)e->seq);
    vz_set(ge, "class", cls);
    vz_str_t l = {0};
    vz_printf(&l, "<font point-size=\"%s\"><b>%zu</b></font> ", pt(c, 16, fs), i + 1);
    if (e->flow > 0) {
      const vz_irp_t *q = vz_irp(m, c->flow[e->flow].irp);
      vz_printf(&l, "<font color=\"%s\">[", C_SUB);
      vz_put_html(&l, q->tag[0] ? q->tag : "sub");
      vz_puts(&l, "]</font> ");
    }
    vz_puts(&l, vz_cstr(&e->text));
    vz_set_html(g, ge, "label", vz_cstr(&l));
    vz_str_free(&l);
  }
  Agraph_t *low = vz_subgraph(g, "legend_rank");
  vz_set(low, "rank", "sink");
  Agnode_t *legend = vz_node(low, "legend");
  vz_set(legend, "shape", "plaintext");
  vz_set(legend, "fontsize", pt(c, 12, fs));
  vz_set_html(g, legend, "label", legend_html);
}

int viz_irp(const char *db, int64_t run, uint32_t irp, const char *out_path, const viz_style_t *style, char *err,
            size_t errlen) {
  vz_format_t fmt;
  int rc = vz_format(out_path, false, &fmt, err, errlen);
  if (rc == VIZ_OK) rc = viz_style_check(style, err, errlen);
  if (rc != VIZ_OK) return rc;
  vz_model_t m;
  rc = vz_open(&m, db, run, err, errlen);
  if (rc != VIZ_OK) return rc;
  const vz_irp_t *p = vz_irp(&m, irp);
  if (!p) {
    rc = m.nirp ? vz_fail(err, errlen, VIZ_EINVAL, db, "run %lld has no IRP %u (its IRPs are %u to %u)",
                          (long long)m.run, irp, m.irp[0].id, m.irp[m.nirp - 1].id)
                : vz_fail(err, errlen, VIZ_EINVAL, db, "run %lld has no IRPs", (long long)m.run);
    vz_close(&m);
    return rc;
  }
  rc = vz_load_events(&m, false, err, errlen);
  fctx_t c = {.m = &m, .k = vz_font(style) / 12.0};
  if (rc == VIZ_OK) build(&c, p);
  vz_out_t o = {0};
  if (rc == VIZ_OK) rc = vz_out_begin(&o, out_path, err, errlen);
  if (rc == VIZ_OK) {
    /* Graphviz aborts when out of memory; the graph's own memory comes
       from iosim's allocator (gvmem.c), which exits instead. */
    GVC_t *gvc = gvContext();
    Agraph_t *g = vz_agopen("irp");
    draw(&c, g, p);
    rc = vz_render(gvc, g, "dot", &o, fmt, 0.2, vz_scale(style), err, errlen);
    agclose(g);
    gvFreeContext(gvc);
    int rc2 = vz_out_end(&o, rc == VIZ_OK, err, errlen);
    if (rc == VIZ_OK) rc = rc2;
  }
  for (size_t i = 0; i < c.nnode; i++) {
    vz_str_free(&c.node[i].did);
    vz_str_free(&c.node[i].marks);
    vz_str_free(&c.node[i].text);
  }
  for (size_t i = 0; i < c.nedge; i++) vz_str_free(&c.edge[i].text);
  for (int f = 0; f < c.nflow; f++) vz_str_free(&c.flow[f].pending_text);
  free(c.node);
  free(c.edge);
  vz_close(&m);
  return rc;
}
