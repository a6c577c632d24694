/*
 * console.c - the console sink: the trace as an aligned table (step
 * number, time, CPU, IRQL, frame, thread, IRP, device, event, detail).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/alloc.h"
#include "iosim/sim.h"

typedef struct console {
  sim_t *S;
  FILE *f;
  bool header;
} console_t;

static void console_time(uint64_t ns, char *buf, size_t n) {
  snprintf(buf, n, "%llu.%03llu us", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

static void console_event(void *ud, const trc_event_t *ev) {
  console_t *c = ud;
  if (!c->header) {
    fprintf(c->f, "%5s %14s %-3s %-8s %-6s %-8s %-4s %-8s %-22s %s\n", "step", "time", "cpu", "irql", "frame",
            "thread", "irp", "device", "event", "detail");
    c->header = true;
  }
  char t[32], irql[16], irp[16], cpu[8], st[16], step[24];
  console_time(ev->t_ns, t, sizeof t);
  snprintf(irp, sizeof irp, ev->irp ? "%u" : "-", ev->irp);
  snprintf(cpu, sizeof cpu, ev->cpu >= 0 ? "%d" : "-", ev->cpu);
  const char *thread = ev->thread ? sim_thread_name(c->S, ev->thread) : "-";
  const char *dev = ev->device ? sim_device_name(c->S, ev->device) : "-";
  /* "#31": the step number findings and `order` facts name. */
  snprintf(step, sizeof step, "#%llu", (unsigned long long)ev->seq);
  fprintf(c->f, "%5s %14s %-3s %-8s %-6s %-8s %-4s %-8s %-22s %s", step, t, cpu,
          ev->cpu >= 0 ? trc_irql_name(ev->irql, irql) : "-", ev->cpu >= 0 ? trc_frame_name(ev->frame) : "-",
          thread, irp, dev, trc_kind_name(ev->kind), ev->detail);
  if (ev->has_status && !strstr(ev->detail, "STATUS_"))
    fprintf(c->f, " [%s]", iosim_status_name(ev->status, st));
  fputc('\n', c->f);
}

static void console_close(void *ud) { free(ud); }

trc_sink_t sim_console_sink(sim_t *S, FILE *f) {
  console_t *c = iosim_calloc(1, sizeof *c);
  c->S = S;
  c->f = f;
  return (trc_sink_t){.event = console_event, .close = console_close, .ud = c};
}
