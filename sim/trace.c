/* weft — the simulator's trace: every decision is an event folded into a
 * rolling XXH3 hash (the run's fingerprint), optionally written as text and
 * kept in memory for the determinism check.
 *
 * An event is encoded as three little-endian 64-bit words {kind, a, b};
 * the fingerprint is XXH3-64 of the concatenated stream (fed to XXH3's
 * streaming state a block at a time, so the hot path only stores), which
 * depends only on the sequence of decisions: never on addresses, the
 * compiler or -O level.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define XXH_INLINE_ALL
/* On x86-64 built for the baseline (SSE2), XXH3's AVX2 kernels are
 * compiled too, for CPUs that have AVX2: the hash is the same (XXH3 gives
 * one result whatever its vector width), the flush about twice as fast.
 * They are reached through XXH3's internal streaming routine, whose
 * signature is that of xxHash 0.8.0 and 0.8.1; another version takes the
 * public call.  Not on Windows, where GCC does not align the stack for
 * AVX locals (its bug 54412): the accumulators live there. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__) && !defined(_WIN32)
#define WEFT__XXH_AVX2 1
#define XXH_DISPATCH_AVX2 1
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#define XXH_ACC_ALIGN 32 /* the AVX2 kernels load the accumulators aligned */
#include <immintrin.h>
#endif
#include <xxhash.h>
#if defined(WEFT__XXH_AVX2) && (XXH_VERSION_NUMBER < 800 || XXH_VERSION_NUMBER > 801)
#undef WEFT__XXH_AVX2
#endif

#include "host.h"
#include "sim.h"
#include "timeline.h"

_Static_assert(sizeof(XXH3_state_t) + 64 <= sizeof(((weft__sim *)0)->xxh_mem),
               "xxh_mem too small for XXH3_state_t");

#ifdef WEFT__XXH_AVX2
static XXH_TARGET_AVX2 void update_avx2(XXH3_state_t *st, const unsigned char *p, size_t n) {
    XXH3_update(st, p, n, XXH3_accumulate_512_avx2, XXH3_scrambleAcc_avx2);
}
#endif

void weft__sim_hash_init(weft__sim *s) {
    uintptr_t p = ((uintptr_t)s->xxh_mem + 63) & ~(uintptr_t)63;
    s->xxh = (void *)p;
    XXH3_64bits_reset((XXH3_state_t *)s->xxh);
    s->buf_len = 0;
    s->hash = 0;
#ifdef WEFT__XXH_AVX2
    s->xxh_avx2 = __builtin_cpu_supports("avx2");
#endif
}

void weft__sim_flush(weft__sim *s) {
#ifdef WEFT__XXH_AVX2
    if (s->buf_len && s->xxh_avx2) {
        update_avx2((XXH3_state_t *)s->xxh, s->buf, s->buf_len);
        s->buf_len = 0;
        return;
    }
#endif
    if (s->buf_len)
        XXH3_64bits_update((XXH3_state_t *)s->xxh, s->buf, s->buf_len);
    s->buf_len = 0;
}

uint64_t weft__sim_digest(weft__sim *s) {
    weft__sim_flush(s);
    s->hash = XXH3_64bits_digest((const XXH3_state_t *)s->xxh);
    return s->hash;
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
    case WEFT__EV_NET:
    case WEFT__EV_NET_CTL:
        weft__sim_net_format(e, buf, n);
        break;
    case WEFT__EV_HOST: /* sim/host.h */
        weft__host_format(seq, a, b, buf, n);
        break;
    default:
        snprintf(buf, n, "%llu %s kind=%u a=%llu b=%llu%s%s", seq, kind_name(e->kind), e->kind,
                 a, b, e->str ? " " : "", e->str ? e->str : "");
    }
}

/* Doubles the recorded events' buffer, through the builder's allocator (the
 * harness hands the buffer back after the runtime is gone). */
static bool grow_events(weft__sim *s) {
    size_t cap = s->ev_cap ? s->ev_cap * 2 : 1024;
    weft_allocator a = s->ev_alloc;
    weft__sim_event *ev = a.alloc(a.ctx, cap * sizeof *ev);
    if (!ev)
        return false;
    if (s->events) {
        memcpy(ev, s->events, s->ev_cap * sizeof *ev);
        a.free(a.ctx, s->events, s->ev_cap * sizeof *ev);
    }
    s->events = ev;
    s->ev_cap = cap;
    return true;
}

void weft__sim_free_events(weft__sim *s) {
    if (s->events)
        s->ev_alloc.free(s->ev_alloc.ctx, s->events, s->ev_cap * sizeof *s->events);
    s->events = NULL;
    s->ev_cap = 0;
}

int weft__sim_trace_flush(weft__sim *s) {
    if (!s->trace)
        return 0;
    int e = fflush(s->trace) ? errno : 0;
    if (!e && ferror(s->trace))
        e = EIO;
    return e;
}

void weft__sim_event_slow(weft__sim *s, uint32_t kind, uint64_t a, uint64_t b, const char *str) {
    weft__sim_event e = {s->nevents, kind, a, b, str, weft__time_now(s->rt),
                         s->polling ? s->current : WEFT__SIM_NOBODY};
    weft__sim_fold(s, kind, a, b);
    if (s->record) {
        if (e.seq == s->ev_cap && !grow_events(s)) {
            s->record = false; /* the run fails; nothing more is kept */
            weft__sim_set_failure(s, WEFT_ENOMEM, "out of memory recording the run's events");
        }
        if (s->record)
            s->events[e.seq] = e;
    }
    if (s->trace) {
        char line[768];
        weft__sim_format(&e, line, sizeof line);
        fprintf(s->trace, "%s\n", line);
    }
}

int weft__sim_trace_open(weft__sim *s, const char *path) {
    if (weft__tl_is_timeline_path(path)) {
        /* a timeline: recorded now, written when the runtime goes */
        s->record = true;
        snprintf(s->tl_own, sizeof s->tl_own, "%s", path); /* the builder's string may go */
        s->tl_paths[0] = s->tl_own;
        snprintf(s->tl_title, sizeof s->tl_title, "weft sim seed=%llu",
                 (unsigned long long)s->seed);
        return 0;
    }
    s->trace = strcmp(path, "-") == 0 ? stderr : fopen(path, "w");
    if (!s->trace)
        return weft_translate_errno(errno);
    fprintf(s->trace, "# weft sim trace: seed=%llu strategy=%s\n", (unsigned long long)s->seed,
            weft__sim_strategy_text(s)); /* swarm's draw included */
    return 0;
}

void weft__sim_trace_close(weft__sim *s) {
    if (!s->trace)
        return;
    fprintf(s->trace, "# end: steps=%llu events=%llu fingerprint=%016llx\n",
            (unsigned long long)s->steps, (unsigned long long)s->nevents,
            (unsigned long long)weft__sim_digest(s));
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

/* Keeps a note for the timeline; a note that cannot be kept is only lost
 * from the picture (the run goes on). */
static void keep_note(weft__sim *s, const char *text) {
    if (s->nnotes == s->notes_cap) {
        size_t cap = s->notes_cap ? s->notes_cap * 2 : 32;
        weft__sim_note *n = realloc(s->notes, cap * sizeof *n);
        if (!n)
            return;
        s->notes = n;
        s->notes_cap = cap;
    }
    size_t len = strlen(text) + 1;
    char *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, text, len);
    s->notes[s->nnotes++] = (weft__sim_note){s->nevents, s->polling ? s->current : WEFT__SIM_NOBODY,
                                             copy};
}

void weft__sim_free_notes(weft__sim *s) {
    for (size_t i = 0; i < s->nnotes; i++)
        free(s->notes[i].text);
    free(s->notes);
    s->notes = NULL;
    s->nnotes = s->notes_cap = 0;
}

void weft_sim_note(const char *fmt, ...) {
    weft__sim *s = weft__sim_current();
    if (!s || !fmt || (!s->trace && !s->record))
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (s->trace) {
        if (s->current)
            fprintf(s->trace, "   note task=%llu: %s\n", (unsigned long long)s->current, text);
        else
            fprintf(s->trace, "   note root: %s\n", text);
    }
    if (s->record)
        keep_note(s, text);
}
