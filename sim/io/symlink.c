/*
 * symlink.c - the object manager's symbolic links to devices
 * (IoCreateSymbolicLink): kept by name in the simulation, listed by the
 * unload account when a driver leaves one behind.
 */
#include "io/io.h"

static io_symlink_t **symlink_find(sim_t *S, const char *name) {
  io_symlink_t **pp = &S->symlinks;
  while (*pp && strcmp((*pp)->name, name)) pp = &(*pp)->next;
  return pp;
}

NTSTATUS IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName) {
  sim_t *S = ctx_sim();
  char name[256], target[256];
  iosim_unicode_to_utf8(SymbolicLinkName, name, sizeof name);
  iosim_unicode_to_utf8(DeviceName, target, sizeof target);
  if (!*name) return STATUS_OBJECT_NAME_INVALID;
  if (*symlink_find(S, name)) return STATUS_OBJECT_NAME_COLLISION;
  io_symlink_t *l = mem_calloc(S, sizeof *l);
  l->name = mem_strdup(S, name);
  l->target = mem_strdup(S, target);
  l->next = S->symlinks;
  S->symlinks = l;
  return STATUS_SUCCESS;
}

NTSTATUS IoCreateUnprotectedSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName) {
  return IoCreateSymbolicLink(SymbolicLinkName, DeviceName);
}

NTSTATUS IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName) {
  sim_t *S = ctx_sim();
  char name[256];
  iosim_unicode_to_utf8(SymbolicLinkName, name, sizeof name);
  io_symlink_t **pp = symlink_find(S, name), *l = *pp;
  if (!l) return STATUS_OBJECT_NAME_NOT_FOUND;
  *pp = l->next;
  free(l->name);
  free(l->target);
  free(l);
  return STATUS_SUCCESS;
}

void io_symlinks_free(sim_t *S) {
  for (io_symlink_t *l = S->symlinks, *n; l; l = n) {
    n = l->next;
    free(l->name);
    free(l->target);
    free(l);
  }
  S->symlinks = NULL;
}
