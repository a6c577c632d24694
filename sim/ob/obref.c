/*
 * obref.c - handles and references (kernel-facts 13.4), minimal but honest:
 * the machine keeps one kernel handle table (handles are multiples of 4
 * with the kernel-handle bit, as on x64 Windows) and a reference count for
 * each object the kernel library hands out (system threads; any other
 * object a driver references is counted from its first ObReferenceObject,
 * starting with its creator's reference).  A count that would go below
 * zero, or to zero while handles are open, is REFERENCE_BY_POINTER (0x18);
 * closing a handle that is not open is INVALID_KERNEL_HANDLE (0x93).
 * Objects are never freed early: their memory is the machine's until it is
 * destroyed, so a reference after the last one is a stop, not a crash.
 */
#include "ob/ob.h"

#include <stdio.h>

/* Kernel handles have the top bit set (x64: 0xFFFFFFFF8xxxxxxx). */
#define KERNEL_HANDLE_BIT ((ULONG_PTR)1 << (sizeof(ULONG_PTR) * 8 - 1))
#define CURRENT_THREAD ((HANDLE)(LONG_PTR)-2)

typedef struct ob_rec {
  PVOID object;
  POBJECT_TYPE type;     /* NULL: a driver's object the kernel met by pointer */
  LONG_PTR refs;
  ULONG handles;
} ob_rec_t;

typedef struct ob_handle {
  PVOID object;          /* NULL: a free slot */
  ACCESS_MASK access;
} ob_handle_t;

struct ob_state {
  ptrmap_t index;        /* object -> its record's index + 1 */
  ob_rec_t *recs;
  size_t nrecs, recs_cap;
  ob_handle_t *table;
  size_t ntable, table_cap;
  PKEVENT *events;       /* the event objects ZwCreateEvent made, freed with the machine */
  size_t nevents, events_cap;
};

/* The type objects: identities, never written. */
static OBJECT_TYPE thread_type = {"Thread"};
static POBJECT_TYPE thread_type_ptr = &thread_type;
POBJECT_TYPE *const PsThreadType = &thread_type_ptr;
POBJECT_TYPE ob_thread_type(void) { return &thread_type; }
static OBJECT_TYPE event_type = {"Event"};
static POBJECT_TYPE event_type_ptr = &event_type;
POBJECT_TYPE *const ExEventObjectType = &event_type_ptr;

static struct ob_state *ob_state(sim_t *S) {
  if (!S->ob) S->ob = mem_calloc(S, sizeof *S->ob);
  return S->ob;
}

static ob_rec_t *ob_find(sim_t *S, PVOID object) {
  struct ob_state *o = ob_state(S);
  uintptr_t k;
  return ptrmap_get(&o->index, object, &k) ? &o->recs[k - 1] : NULL;
}

void ob_insert_object(sim_t *S, PVOID object, POBJECT_TYPE type, LONG_PTR refs) {
  struct ob_state *o = ob_state(S);
  VEC_RESERVE(S, o->recs, o->recs_cap, o->nrecs + 1);
  o->recs[o->nrecs++] = (ob_rec_t){object, type, refs, 0};
  ptrmap_put(S, &o->index, object, o->nrecs);
}

/* Every simulated thread is a thread object, whoever started it: a
   program's thread met first by pointer (KeGetCurrentThread, the
   NtCurrentThread pseudo-handle) is of the thread type as a system thread
   is, so ObReferenceObjectByHandle(NtCurrentThread(), ..., *PsThreadType)
   succeeds in any thread, as on Windows. */
static POBJECT_TYPE ob_type_of(sim_t *S, PVOID object) {
  for (const LIST_ENTRY *e = S->threads.Flink; e != &S->threads; e = e->Flink)
    if (CONTAINING_RECORD(e, KTHREAD, all_link) == object) return &thread_type;
  return NULL;
}

/* An object met first by pointer carries its creator's reference. */
static ob_rec_t *ob_find_or_add(sim_t *S, PVOID object) {
  ob_rec_t *r = ob_find(S, object);
  if (!r) {
    ob_insert_object(S, object, ob_type_of(S, object), 1);
    r = ob_find(S, object);
  }
  return r;
}

HANDLE ob_create_handle(sim_t *S, PVOID object, ACCESS_MASK access) {
  struct ob_state *o = ob_state(S);
  size_t i = 0;
  while (i < o->ntable && o->table[i].object) i++; /* the lowest free slot, as Windows reuses them */
  if (i == o->ntable) {
    VEC_RESERVE(S, o->table, o->table_cap, o->ntable + 1);
    o->ntable++;
  }
  o->table[i] = (ob_handle_t){object, access};
  ob_rec_t *r = ob_find_or_add(S, object);
  r->refs++;
  r->handles++;
  return (HANDLE)(KERNEL_HANDLE_BIT | (ULONG_PTR)(i + 1) * 4);
}

/* The open handle's slot, or NULL. */
static ob_handle_t *ob_handle(sim_t *S, HANDLE h) {
  struct ob_state *o = ob_state(S);
  ULONG_PTR v = (ULONG_PTR)h;
  if (!(v & KERNEL_HANDLE_BIT) || (v & 3)) return NULL;
  ULONG_PTR i = (v & ~KERNEL_HANDLE_BIT) / 4;
  if (i == 0 || i > o->ntable || !o->table[i - 1].object) return NULL;
  return &o->table[i - 1];
}

static void ob_drop(sim_t *S, ob_rec_t *r, const char *routine) {
  if (r->refs <= 0 || (r->refs == 1 && r->handles))
    bugcheck(S, REFERENCE_BY_POINTER, (ULONG_PTR)r->type, (ULONG_PTR)r->object, 0, 0,
             "%s: the object's reference count would go %s (%ld references, %lu handles open)", routine,
             r->refs <= 0 ? "below zero" : "to zero while a handle is open", (long)r->refs,
             (unsigned long)r->handles);
  r->refs--;
}

void ob_release(sim_t *S, PVOID object) { ob_drop(S, ob_find_or_add(S, object), "the kernel's own dereference"); }

NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                   KPROCESSOR_MODE AccessMode, PVOID *Object,
                                   POBJECT_HANDLE_INFORMATION HandleInformation) {
  (void)AccessMode; /* one process, kernel handles only */
  sim_t *S = ctx_sim();
  ke_check_irql(S, APC_LEVEL, "ObReferenceObjectByHandle");
  *Object = NULL;
  PVOID obj;
  ACCESS_MASK granted = DesiredAccess;
  if (Handle == CURRENT_THREAD) {
    obj = thr_current(S);
  } else {
    ob_handle_t *h = ob_handle(S, Handle);
    if (!h) return STATUS_INVALID_HANDLE;
    obj = h->object;
    granted = h->access;
  }
  ob_rec_t *r = ob_find_or_add(S, obj);
  if (ObjectType && r->type != ObjectType) return STATUS_OBJECT_TYPE_MISMATCH;
  r->refs++;
  *Object = obj;
  if (HandleInformation) {
    HandleInformation->HandleAttributes = OBJ_KERNEL_HANDLE;
    HandleInformation->GrantedAccess = granted;
  }
  return STATUS_SUCCESS;
}

NTSTATUS ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                    KPROCESSOR_MODE AccessMode) {
  (void)DesiredAccess, (void)AccessMode;
  sim_t *S = ctx_sim();
  ob_rec_t *r = ob_find_or_add(S, Object);
  if (ObjectType && r->type != ObjectType) return STATUS_OBJECT_TYPE_MISMATCH;
  if (r->refs <= 0)
    ke_verifier_stop(S, 0x3F, (ULONG_PTR)Object, 1, 0, "ObReferenceObjectByPointer on an object with no reference left");
  r->refs++;
  return STATUS_SUCCESS;
}

LONG_PTR ObfReferenceObject(PVOID Object) {
  sim_t *S = ctx_sim();
  ob_rec_t *r = ob_find_or_add(S, Object);
  if (r->refs <= 0)
    ke_verifier_stop(S, 0x3F, (ULONG_PTR)Object, 1, 0, "ObReferenceObject on an object with no reference left");
  return ++r->refs;
}

LONG_PTR ObfDereferenceObject(PVOID Object) {
  sim_t *S = ctx_sim();
  ob_rec_t *r = ob_find_or_add(S, Object);
  ob_drop(S, r, "ObDereferenceObject");
  return r->refs;
}

NTSTATUS ZwClose(HANDLE Handle) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, PASSIVE_LEVEL, "ZwClose");
  ob_handle_t *h = ob_handle(S, Handle);
  if (!h)
    bugcheck(S, INVALID_KERNEL_HANDLE, (ULONG_PTR)Handle, 1, 0, 0,
             "ZwClose(%#lx): not an open kernel handle (closed twice?)", (unsigned long)(ULONG_PTR)Handle);
  ob_rec_t *r = ob_find(S, h->object);
  SIM_ASSERT(r && r->handles > 0); /* a handle holds its object */
  h->object = NULL;
  r->handles--;
  ob_drop(S, r, "ZwClose");
  sched_step(S, COST_STEP);
  return STATUS_SUCCESS;
}

NTSTATUS ObCloseHandle(HANDLE Handle, KPROCESSOR_MODE PreviousMode) {
  (void)PreviousMode;
  return ZwClose(Handle);
}

/* An event object and a kernel handle to it, as a program's CreateEvent
   gets one (the handle is the only reference: ZwClose ends it).  The
   memory stays the machine's: a driver may still hold a reference. */
NTSTATUS ZwCreateEvent(PHANDLE EventHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                       EVENT_TYPE EventType, BOOLEAN InitialState) {
  (void)ObjectAttributes; /* unnamed: iosim has no object namespace for events */
  sim_t *S = ctx_sim();
  ke_check_irql(S, PASSIVE_LEVEL, "ZwCreateEvent");
  struct ob_state *o = ob_state(S);
  VEC_RESERVE(S, o->events, o->events_cap, o->nevents + 1);
  PKEVENT ev = mem_calloc(S, sizeof *ev);
  o->events[o->nevents++] = ev;
  KeInitializeEvent(ev, EventType, InitialState);
  ob_insert_object(S, ev, &event_type, 0);
  *EventHandle = ob_create_handle(S, ev, DesiredAccess);
  sched_step(S, COST_STEP);
  return STATUS_SUCCESS;
}

void ob_destroy(sim_t *S) {
  struct ob_state *o = S->ob;
  if (!o) return;
  for (size_t i = 0; i < o->nevents; i++) mem_free(S, o->events[i], sizeof *o->events[i]);
  mem_free(S, o->events, o->events_cap * sizeof *o->events);
  ptrmap_free(S, &o->index);
  mem_free(S, o->recs, o->recs_cap * sizeof *o->recs);
  mem_free(S, o->table, o->table_cap * sizeof *o->table);
  mem_free(S, o, sizeof *o);
  S->ob = NULL;
}
