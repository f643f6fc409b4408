/* weft — the simulator's trace: every decision is an event folded into a
 * rolling XXH3 hash (the run's fingerprint), optionally written as text and
 * kept in memory for the determinism check.
 *
 * An event hashes as three little-endian 64-bit words {kind, a, b} with the
 * previous hash as XXH3's seed, so the fingerprint depends only on the
 * sequence of decisions: never on addresses, the compiler or -O level.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "sim.h"

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t weft__sim_fold(uint64_t hash, uint32_t kind, uint64_t a, uint64_t b) {
    unsigned char w[24];
    put_le64(w, kind);
    put_le64(w + 8, a);
    put_le64(w + 16, b);
    return XXH3_64bits_withSeed(w, sizeof w, hash);
}

static const char *kind_name(uint32_t kind) {
    switch (kind) {
    case WEFT__EV_SPAWN:
        return "spawn";
    case WEFT__EV_WAKE:
        return "wake";
    case WEFT__EV_YIELD:
        return "yield";
    case WEFT__EV_PICK:
        return "pick";
    case WEFT__EV_TIME:
        return "time";
    case WEFT__EV_RANDOM:
        return "random";
    case WEFT__EV_BUGGIFY:
        return "buggify";
    case WEFT__EV_PRIO:
        return "priority";
    case WEFT__EV_FAIL:
        return "fail";
    }
    return "event";
}

static const char *cause_name(uint64_t cause) {
    return cause == WEFT__CAUSE_TIMER ? "timer" : cause == WEFT__CAUSE_OUTSIDE ? "outside" : "task";
}

void weft__sim_format(const weft__sim_event *e, char *buf, size_t n) {
    unsigned long long a = e->a, b = e->b, seq = e->seq;
    switch (e->kind) {
    case WEFT__EV_SPAWN:
        snprintf(buf, n, "%llu spawn task=%llu site=%s", seq, a, e->str ? e->str : "?");
        break;
    case WEFT__EV_WAKE:
        if (a)
            snprintf(buf, n, "%llu wake task=%llu by=%s", seq, a, cause_name(b));
        else
            snprintf(buf, n, "%llu wake root by=%s", seq, cause_name(b));
        break;
    case WEFT__EV_YIELD:
        snprintf(buf, n, "%llu yield task=%llu", seq, a);
        break;
    case WEFT__EV_PICK:
        if (a)
            snprintf(buf, n, "%llu pick task=%llu of=%llu", seq, a, b);
        else
            snprintf(buf, n, "%llu pick root of=%llu", seq, b);
        break;
    case WEFT__EV_TIME:
        snprintf(buf, n, "%llu time now=%llu.%09llu", seq, a / 1000000000ull, a % 1000000000ull);
        break;
    case WEFT__EV_RANDOM:
        snprintf(buf, n, "%llu random 0x%016llx", seq, a);
        break;
    case WEFT__EV_BUGGIFY:
        snprintf(buf, n, "%llu buggify site=%s fired=%llu", seq, e->str ? e->str : "?", b);
        break;
    case WEFT__EV_PRIO:
        snprintf(buf, n, "%llu priority task=%llu prio=%llu", seq, a, b);
        break;
    case WEFT__EV_FAIL:
        snprintf(buf, n, "%llu fail %s: %s", seq, weft_err_name((int)(int64_t)a),
                 e->str ? e->str : "");
        break;
    default:
        snprintf(buf, n, "%llu %s kind=%u a=%llu b=%llu%s%s", seq, kind_name(e->kind), e->kind,
                 a, b, e->str ? " " : "", e->str ? e->str : "");
    }
}

void weft__sim_event_slow(weft__sim *s, uint32_t kind, uint64_t a, uint64_t b, const char *str) {
    weft__sim_event e = {s->nevents, kind, a, b, str};
    s->hash = weft__sim_fold(s->hash, kind, a, b);
    s->nevents++;
    if (s->record) {
        if (e.seq == s->ev_cap) {
            size_t cap = s->ev_cap ? s->ev_cap * 2 : 1024;
            weft__sim_event *ev = realloc(s->events, cap * sizeof *ev);
            if (!ev)
                weft__die("sim: out of memory recording events");
            s->events = ev;
            s->ev_cap = cap;
        }
        s->events[e.seq] = e;
    }
    if (s->trace) {
        char line[768];
        weft__sim_format(&e, line, sizeof line);
        fprintf(s->trace, "%s\n", line);
    }
}

int weft__sim_trace_open(weft__sim *s, const char *path) {
    s->trace = strcmp(path, "-") == 0 ? stderr : fopen(path, "w");
    if (!s->trace)
        return weft_translate_errno(errno);
    fprintf(s->trace, "# weft sim trace: seed=%llu strategy=%s\n", (unsigned long long)s->seed,
            s->strategy == WEFT_SIM_PCT ? "pct" : "random");
    return 0;
}

void weft__sim_trace_close(weft__sim *s) {
    if (!s->trace)
        return;
    fprintf(s->trace, "# end: steps=%llu events=%llu fingerprint=%016llx\n",
            (unsigned long long)s->steps, (unsigned long long)s->nevents,
            (unsigned long long)s->hash);
    if (s->trace != stderr)
        fclose(s->trace);
    s->trace = NULL;
}

void weft__sim_set_failure(weft__sim *s, int code, const char *fmt, ...) {
    if (s->fail_code)
        return;
    s->fail_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->failure, sizeof s->failure, fmt, ap);
    va_end(ap);
    weft__sim_ev(s, WEFT__EV_FAIL, (uint64_t)(int64_t)code, 0, s->failure);
}
