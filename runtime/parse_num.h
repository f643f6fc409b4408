/* weft — reading a number from the environment or a seeds file (private).
 *
 * A seed or a count: decimal digits, or 0x and hex digits, nothing else
 * (strtoull alone takes "-1" as 2^64-1, "12abc" as 12 and "0x" as 0).
 * The end of the number is returned in *end (NULL: it must end the text).
 * Shared by the test fixtures (runtime/testing.c) and the sweep
 * (sim/harness.c), so WEFT_SEED reads the same in both. */
#ifndef WEFT_RUNTIME_PARSE_NUM_H
#define WEFT_RUNTIME_PARSE_NUM_H

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static inline bool weft__parse_u64(const char *p, uint64_t *out, const char **end) {
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!(base == 16 ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)))
        return false;
    char *stop;
    errno = 0;
    unsigned long long x = strtoull(p, &stop, base);
    if (errno)
        return false;
    if (end)
        *end = stop;
    else if (*stop)
        return false;
    *out = x;
    return true;
}

#endif
