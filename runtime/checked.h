/* weft — size arithmetic that fails instead of wrapping (private).
 *
 * Every allocation size computed from a caller's numbers (an element size
 * times a capacity, a future's state size plus a header) goes through
 * here, so a huge argument is refused (WEFT_EINVAL) instead of wrapping to
 * a small allocation that is then written past.  Objects are capped at
 * PTRDIFF_MAX, as C's own pointer arithmetic is.
 */
#ifndef WEFT_RUNTIME_CHECKED_H
#define WEFT_RUNTIME_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* *out = base + n * elem; false when that overflows or passes PTRDIFF_MAX. */
static inline bool weft__size_mac(size_t *out, size_t base, size_t n, size_t elem) {
    size_t prod, sum;
    if (__builtin_mul_overflow(n, elem, &prod) || __builtin_add_overflow(base, prod, &sum) ||
        sum > (size_t)PTRDIFF_MAX)
        return false;
    *out = sum;
    return true;
}

/* *out = a + b, with the same limits. */
static inline bool weft__size_add(size_t *out, size_t a, size_t b) {
    return weft__size_mac(out, a, b, 1);
}

#endif
