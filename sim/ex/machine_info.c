/*
 * machine_info.c - read-only questions about a built machine, for the
 * trace database, pictures and expectations.
 */
#include "io/io.h"

#include <stdio.h>

void sim_keep_irp_info(sim_t *S, bool on) { S->keep_irp_info = on; }
uint32_t sim_device_count(const sim_t *S) { return S->device_names.n; }
uint32_t sim_thread_count(const sim_t *S) { return S->thread_names.n; }
int sim_cpu_count(const sim_t *S) { return S->ncpu; }

/* Deleted devices too: a driver's DriverUnload deletes its devices before
   the run is written down, and the trace still names them. */
PDEVICE_OBJECT sim_device_object(sim_t *S, uint32_t id) {
  for (size_t i = 0; i < S->ndrivers; i++)
    for (PDEVICE_OBJECT d = S->drivers[i]->DeviceObject; d; d = d->NextDevice)
      if (d->SimId == id) return d;
  for (PDEVICE_OBJECT d = S->deleted_devices; d; d = d->NextDevice)
    if (d->SimId == id) return d;
  return NULL;
}


const char *sim_device_driver(sim_t *S, uint32_t id) {
  PDEVICE_OBJECT d = sim_device_object(S, id);
  return d ? d->DriverObject->SimName : "";
}

uint32_t sim_device_lower(sim_t *S, uint32_t id) {
  PDEVICE_OBJECT d = sim_device_object(S, id);
  return d && d->SimLowerDevice ? d->SimLowerDevice->SimId : 0;
}

int sim_device_stack_size(sim_t *S, uint32_t id) {
  PDEVICE_OBJECT d = sim_device_object(S, id);
  return d ? d->StackSize : 0;
}

const char *sim_thread_state(sim_t *S, uint32_t id) {
  static const char *const n[] = {"ready", "ready", "running", "waiting", "terminated"};
  for (LIST_ENTRY *e = S->threads.Flink; e != &S->threads; e = e->Flink) {
    PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, all_link);
    if (t->id == id) return n[t->state];
  }
  return "";
}

/* What a waiting thread waits for, for a deadlock report: the objects'
   names ("h", "thread worker", "object#7") joined, "" if it does not wait. */
int sim_thread_wait_names(sim_t *S, uint32_t id, char *buf, size_t n) {
  if (n) buf[0] = '\0';
  for (LIST_ENTRY *e = S->threads.Flink; e != &S->threads; e = e->Flink) {
    PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, all_link);
    if (t->id != id || t->state != THR_WAITING) continue;
    size_t used = 0;
    for (int i = 0; i < t->wait_count && used < n; i++) {
      DISPATCHER_HEADER *h = t->wb[i].obj;
      const char *sep = i == 0 ? "" : i == t->wait_count - 1 ? (t->wait_type == WaitAll ? " and " : " or ") : ", ";
      int k = h->Type == OBJ_THREAD ? snprintf(buf + used, n - used, "%sthread %s", sep, h->Name)
              : h->Name            ? snprintf(buf + used, n - used, "%s%s", sep, h->Name)
                                   : snprintf(buf + used, n - used, "%sobject#%u", sep, obj_id(S, h));
      used += k > 0 ? (size_t)k : 0;
    }
    return t->wait_count;
  }
  return 0;
}

const char *sim_port_name(sim_t *S, uint32_t id) {
  for (const sim_port_t *p = S->ports; p; p = p->next)
    if (p->id == id) return p->name;
  return "";
}

const char *sim_object_name(sim_t *S, uint32_t id) { return name_get(&S->object_names, id); }
uint32_t sim_port_count(const sim_t *S) { return S->nports; }
uint32_t sim_object_count(const sim_t *S) { return S->object_names.n; }
const char *sim_file_name(sim_t *S, uint32_t id) { return name_get(&S->object_names, id); }
