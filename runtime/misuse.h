/* weft — how misuse a call cannot report is reported (private): one line,
 * "weft: <function>: <what>", then abort.  The calls that return an int
 * code report WEFT_EINVAL instead; the ones that release something are
 * no-ops on NULL (guide section 7). */
#ifndef WEFT_RUNTIME_MISUSE_H
#define WEFT_RUNTIME_MISUSE_H

/* Prints "weft: <msg>" on one line and aborts. */
_Noreturn void weft__die(const char *msg);
/* Prints "weft: <fn>: <what>" on one line and aborts. */
_Noreturn void weft__die_misuse(const char *fn, const char *what);

/* Aborts naming `fn` when `p` is NULL. */
#define WEFT__NEED(p, fn, what)                                                \
    do {                                                                       \
        if (!(p))                                                              \
            weft__die_misuse((fn), "NULL " what);                              \
    } while (0)

#endif
