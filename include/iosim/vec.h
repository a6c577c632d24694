/*
 * vec.h - the one growable-array helper, for every layer: the engine (whose
 * core.h VEC_RESERVE wraps it to count the bytes), the sinks, the verifier,
 * the scenario language, the trace database, the pictures, the CLI and the
 * tests.  An array is three fields the caller owns: a pointer (NULL when
 * empty), a count and a capacity in elements (size_t); only the capacity is
 * the helper's business.  Free the pointer with free().
 *
 *   if (!IOSIM_VEC_RESERVE(v, cap, n + 1)) return error;
 *   v[n++] = x;
 *
 * Header-only so that nothing outside the engine links against the engine's
 * internals for it.  Plain C11: no void ** pun (storing through a
 * (void **)&typed_pointer breaks strict aliasing), the pointer is returned.
 */
#ifndef IOSIM_VEC_H
#define IOSIM_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "iosim/alloc.h"

/* The smallest capacity a growing array gets: small tables stay small,
   and the doubling starts without a run of tiny reallocations. */
#define IOSIM_VEC_MIN_CAP 8

/* Makes room for `need` elements of `elem` bytes in the array `v` of
   capacity *cap: doubles the capacity (from IOSIM_VEC_MIN_CAP) until it
   holds `need`, so appending one at a time is amortised O(1).  Returns the
   (possibly moved) array.  On failure - the byte count would overflow
   size_t - returns `v` untouched (out of memory ends the process, alloc.h) with *cap unchanged, so
   the caller still owns a valid array; test *cap >= need for success (the
   macro below does).  The new elements are not initialised. */
static inline void *iosim_vec_grow(void *v, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return v;
  if (elem == 0) return v;
  size_t ncap = *cap ? *cap : IOSIM_VEC_MIN_CAP;
  while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  if (ncap > SIZE_MAX / elem) return v;
  void *nv = iosim_realloc(v, ncap * elem); /* out of memory: exits (alloc.h) */
  *cap = ncap;
  return nv;
}

/* Typed use: `arr` is a pointer lvalue, `capv` its size_t capacity.
   True when `arr` now holds at least `need` elements, false on failure
   (arr and capv unchanged).  The arguments are evaluated more than once:
   pass plain lvalues and side-effect-free counts. */
#define IOSIM_VEC_RESERVE(arr, capv, need) \
  ((arr) = iosim_vec_grow((arr), &(capv), (need), sizeof *(arr)), (capv) >= (need))

#endif
