/* weft — simulated hosts: machines that own tasks and sockets, and can be
 * crashed, restarted, paused and resumed; their clocks; injected lookup
 * failures; the disk helper.
 *
 * Ownership: when the sim scheduler sees a spawn, the task is entered in a
 * map (task id -> host, incarnation) under the host whose code is running
 * (hosts->cur: set around each task's poll and around a start function).
 * So a task spawned by a host's task belongs to that host, transitively,
 * and the fake network asks hosts->cur whose a new socket is.
 *
 * A crash cancels every task of the host as weft_abort does, then runs
 * the cancellations at once (each drops its future), so when crash returns
 * the host's cleanup has run; a task of an old incarnation that shows up
 * later (spawned by a drop, say) is cancelled when it is picked.  A pause
 * moves the host's ready tasks aside and holds every later wake until
 * resume puts them back, in order.
 *
 * Single-threaded: every call must come from the simulator's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "net_impl.h"
#include "task.h"

/* ------------------------------------------------------------- registry */

static void *h_alloc(weft__sim *s, size_t n) { return weft__alloc(s->rt, n); }
static void h_free(weft__sim *s, void *p, size_t n) {
    if (p)
        weft__free(s->rt, p, n);
}

static uint64_t view_local(void *ctx, uint64_t ns) {
    return weft__host_to_local(weft__host_cur((weft__sim *)ctx), ns);
}
static uint64_t view_global(void *ctx, uint64_t local) {
    return weft__host_to_global(weft__host_cur((weft__sim *)ctx), local);
}

#define MAP_MIN 64

/* The hosts of a sim, made on first use; NULL when out of memory. */
static weft__hosts *hosts_of(weft__sim *s) {
    if (s->hosts)
        return s->hosts;
    weft__hosts *hs = h_alloc(s, sizeof *hs);
    if (!hs)
        return NULL;
    memset(hs, 0, sizeof *hs);
    hs->slots = MAP_MIN;
    hs->keys = h_alloc(s, MAP_MIN * sizeof *hs->keys);
    hs->owner = h_alloc(s, MAP_MIN * sizeof *hs->owner);
    hs->inc = h_alloc(s, MAP_MIN * sizeof *hs->inc);
    if (!hs->keys || !hs->owner || !hs->inc) {
        h_free(s, hs->keys, MAP_MIN * sizeof *hs->keys);
        h_free(s, hs->owner, MAP_MIN * sizeof *hs->owner);
        h_free(s, hs->inc, MAP_MIN * sizeof *hs->inc);
        h_free(s, hs, sizeof *hs);
        return NULL;
    }
    memset(hs->keys, 0, MAP_MIN * sizeof *hs->keys);
    s->hosts = hs;
    /* From now on weft_now in a host's task reads the host's clock. */
    if (s->rt->time)
        weft__time_set_view(s->rt, &(weft__clock_view){view_local, view_global, s});
    return hs;
}

static weft__sim *sim_of_handle(weft_handle *h) {
    weft__rt *rt = h ? (weft__rt *)h : weft__cur.rt;
    return rt && rt->sched == &weft__sim_ops ? weft__sim_of(rt) : NULL;
}

/* Host calls may come from the test's thread between two block_ons: the
 * start function spawns on this thread's runtime, and the network reads
 * its time, so the runtime is entered for the call. */
static weft__tls enter(weft__sim *s) {
    weft__tls saved = weft__cur;
    if (weft__cur.rt != s->rt) /* none of this thread's lists or caches are the sim's */
        weft__cur = (weft__tls){.rt = s->rt};
    return saved;
}
static void leave(weft__tls saved) { weft__cur = saved; }

static void host_event(weft_sim_host *h, int op, uint64_t b) {
    weft__sim_ev(h->sim, WEFT__EV_HOST, (uint64_t)op << 32 | h->id, b, NULL);
}

void weft__host_format(unsigned long long seq, uint64_t a, uint64_t b, char *buf, size_t n) {
    unsigned long long id = a & 0xffffffffu;
    switch (a >> 32) {
    case WEFT__HOST_EV_CREATE:
        snprintf(buf, n, "%llu host create host=%llu clock_offset=%llu.%09llu", seq, id,
                 (unsigned long long)(b / 1000000000u), (unsigned long long)(b % 1000000000u));
        break;
    case WEFT__HOST_EV_DRIFT:
        snprintf(buf, n, "%llu host clock host=%llu drift_ppm=%lld", seq, id, (long long)(int64_t)b);
        break;
    case WEFT__HOST_EV_CRASH:
        snprintf(buf, n, "%llu host crash host=%llu how=%s", seq, id,
                 b == WEFT_SIM_CRASH_SILENT ? "silent" : "reset");
        break;
    case WEFT__HOST_EV_RESTART:
        snprintf(buf, n, "%llu host restart host=%llu restarts=%llu", seq, id, (unsigned long long)b);
        break;
    case WEFT__HOST_EV_PAUSE:
        snprintf(buf, n, "%llu host pause host=%llu", seq, id);
        break;
    case WEFT__HOST_EV_RESUME:
        snprintf(buf, n, "%llu host resume host=%llu", seq, id);
        break;
    case WEFT__HOST_EV_LOOKUP_FAIL:
        snprintf(buf, n, "%llu lookup fail host=%llu err=%s", seq, id,
                 weft_err_name((int)(int64_t)b));
        break;
    default:
        snprintf(buf, n, "%llu host op=%llu host=%llu b=%llu", seq, (unsigned long long)(a >> 32),
                 id, (unsigned long long)b);
    }
}

/* ----------------------------------------------------- task -> host map */

static size_t slot_of(uint64_t id, size_t slots) {
    uint64_t x = id * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(x ^ (x >> 29)) & (slots - 1);
}

static void map_insert(weft__hosts *hs, uint64_t id, weft_sim_host *h, uint32_t inc) {
    size_t i = slot_of(id, hs->slots);
    while (hs->keys[i] && hs->keys[i] != id)
        i = (i + 1) & (hs->slots - 1);
    if (!hs->keys[i])
        hs->used++;
    hs->keys[i] = id;
    hs->owner[i] = h;
    hs->inc[i] = inc;
}

static bool map_get(const weft__hosts *hs, uint64_t id, weft_sim_host **h, uint32_t *inc) {
    size_t i = slot_of(id, hs->slots);
    while (hs->keys[i]) {
        if (hs->keys[i] == id) {
            *h = hs->owner[i];
            *inc = hs->inc[i];
            return true;
        }
        i = (i + 1) & (hs->slots - 1);
    }
    return false;
}

typedef struct live_count {
    const weft__hosts *hs;
    size_t n;
} live_count;

static void count_live(void *ctx, weft__task *t) {
    live_count *c = ctx;
    weft_sim_host *h;
    uint32_t inc;
    if (map_get(c->hs, weft__task_pid(t), &h, &inc))
        c->n++;
}

typedef struct rebuild {
    const weft__hosts *old;
    weft__hosts *fresh;
} rebuild;

static void copy_live(void *ctx, weft__task *t) {
    rebuild *r = ctx;
    weft_sim_host *h;
    uint32_t inc;
    if (map_get(r->old, weft__task_pid(t), &h, &inc))
        map_insert(r->fresh, weft__task_pid(t), h, inc);
}

/* The map is half full: keep only the entries of tasks still alive (on an
 * owned list), in a table four times their number.  Amortized O(1) per
 * spawn.  False when out of memory. */
static bool map_rebuild(weft__sim *s) {
    weft__hosts *hs = s->hosts;
    live_count c = {hs, 0};
    weft__owned_visit(s->rt, &s->owned, count_live, &c);
    size_t slots = MAP_MIN;
    while (slots < 4 * (c.n + 1))
        slots *= 2;
    weft__hosts fresh = {0};
    fresh.slots = slots;
    fresh.keys = h_alloc(s, slots * sizeof *fresh.keys);
    fresh.owner = h_alloc(s, slots * sizeof *fresh.owner);
    fresh.inc = h_alloc(s, slots * sizeof *fresh.inc);
    if (!fresh.keys || !fresh.owner || !fresh.inc) {
        h_free(s, fresh.keys, slots * sizeof *fresh.keys);
        h_free(s, fresh.owner, slots * sizeof *fresh.owner);
        h_free(s, fresh.inc, slots * sizeof *fresh.inc);
        return false;
    }
    memset(fresh.keys, 0, slots * sizeof *fresh.keys);
    rebuild r = {hs, &fresh};
    weft__owned_visit(s->rt, &s->owned, copy_live, &r);
    h_free(s, hs->keys, hs->slots * sizeof *hs->keys);
    h_free(s, hs->owner, hs->slots * sizeof *hs->owner);
    h_free(s, hs->inc, hs->slots * sizeof *hs->inc);
    hs->keys = fresh.keys;
    hs->owner = fresh.owner;
    hs->inc = fresh.inc;
    hs->slots = slots;
    hs->used = fresh.used;
    return true;
}

/* The owner of task `id`: NULL for the root's (and for a task of an older
 * incarnation, which *stale says). */
static weft_sim_host *owner_of(const weft__hosts *hs, uint64_t id, bool *stale) {
    weft_sim_host *h;
    uint32_t inc;
    *stale = false;
    if (!hs->used || !map_get(hs, id, &h, &inc))
        return NULL;
    *stale = inc != h->incarnation;
    return h;
}

/* ---------------------------------------------------- scheduler hooks */

static bool hold(weft_sim_host *h, weft__task *t) {
    weft__sim *s = h->sim;
    if (h->nheld == h->held_cap) {
        size_t cap = h->held_cap ? 2 * h->held_cap : 16;
        weft__task **a = h_alloc(s, cap * sizeof *a);
        if (!a) {
            weft__sim_set_failure(s, WEFT_ENOMEM, "sim: out of memory holding a paused host's task");
            return false;
        }
        if (h->nheld)
            memcpy(a, h->held, h->nheld * sizeof *a);
        h_free(s, h->held, h->held_cap * sizeof *a);
        h->held = a;
        h->held_cap = cap;
    }
    h->held[h->nheld++] = t;
    return true;
}

bool weft__hosts_schedule(weft__sim *s, weft__task *t, int hint) {
    weft__hosts *hs = s->hosts;
    if (hint == WEFT__SCHED_SPAWN && hs->cur) {
        if (2 * (hs->used + 1) > hs->slots && !map_rebuild(s)) {
            weft__sim_set_failure(s, WEFT_ENOMEM, "sim: out of memory recording a task's host");
            return false;
        }
        map_insert(hs, weft__task_pid(t), hs->cur, hs->cur->incarnation);
    }
    if (!hs->npaused)
        return false;
    bool stale;
    weft_sim_host *h = owner_of(hs, weft__task_pid(t), &stale);
    return h && !stale && h->state == WEFT__HOST_PAUSED && hold(h, t);
}

/* Cancels a task as weft_abort does: it is (or will be) queued with
 * CANCELLED, and its next run drops it instead of polling it.  Through a
 * handle made for the call (abort reads it, takes no reference), so the
 * task code keeps one abort path. */
static void abort_task(weft__task *t) {
    weft_join_handle jh = {.task = t, .id = weft__task_pid(t)};
    weft_join_abort(&jh);
}

void weft__hosts_enter(weft__sim *s, weft__task *t) {
    weft__hosts *hs = s->hosts;
    bool stale;
    weft_sim_host *h = owner_of(hs, weft__task_pid(t), &stale);
    hs->cur = h;
    if (h && (stale || h->state == WEFT__HOST_CRASHED))
        abort_task(t); /* spawned for a host that is gone: never polled */
}

bool weft__hosts_paused(const weft__sim *s, char *buf, size_t n) {
    const weft__hosts *hs = s->hosts;
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < hs->n && k + 1 < n; i++) {
        const weft_sim_host *h = hs->all[i];
        if (h->state != WEFT__HOST_PAUSED)
            continue;
        int w = snprintf(buf + k, n - k, "%s%s (%zu task(s) held)", k ? ", " : "hosts paused: ",
                         h->name, h->nheld);
        if (w < 0)
            break;
        k += (size_t)w < n - k ? (size_t)w : n - k - 1;
    }
    return k > 0;
}

void weft__hosts_shutdown(weft__sim *s) {
    weft__hosts *hs = s->hosts;
    for (size_t i = 0; i < hs->n; i++) {
        weft_sim_host *h = hs->all[i];
        while (h->nheld)
            weft__task_unref(h->held[--h->nheld]);
    }
    hs->cur = NULL;
}

void weft__hosts_destroy(weft__sim *s) {
    weft__hosts *hs = s->hosts;
    if (!hs)
        return;
    for (size_t i = 0; i < hs->n; i++) {
        weft_sim_host *h = hs->all[i];
        h_free(s, h->held, h->held_cap * sizeof *h->held);
        h_free(s, h, sizeof *h);
    }
    h_free(s, hs->all, hs->cap * sizeof *hs->all);
    h_free(s, hs->keys, hs->slots * sizeof *hs->keys);
    h_free(s, hs->owner, hs->slots * sizeof *hs->owner);
    h_free(s, hs->inc, hs->slots * sizeof *hs->inc);
    h_free(s, hs->rules, hs->rules_cap * sizeof *hs->rules);
    h_free(s, hs, sizeof *hs);
    s->hosts = NULL;
}

/* --------------------------------------------------------------- clocks */

uint64_t weft__host_to_local(const weft_sim_host *h, uint64_t ns) {
    if (!h)
        return ns;
    __int128 v = (__int128)h->offset_ns + ns;
    __int128 d = (__int128)ns * h->drift_ppm;
    /* floor division, so the clock never runs backwards */
    v += d >= 0 ? d / 1000000 : -((-d + 999999) / 1000000);
    if (v < 0)
        return 0;
    if (v > (__int128)UINT64_MAX)
        return UINT64_MAX;
    return (uint64_t)v;
}

uint64_t weft__host_to_global(const weft_sim_host *h, uint64_t local) {
    if (!h)
        return local;
    if (weft__host_to_local(h, 0) >= local)
        return 0;
    if (weft__host_to_local(h, UINT64_MAX) < local)
        return UINT64_MAX;
    /* The first g with L(g) >= local, L monotonic: bisect between lo, where
     * L(lo) < local, and hi, where L(hi) >= local, starting from a window
     * around the solution of local = offset + g (1 + drift / 1e6), so it
     * mostly takes a step or two (and 64 at most, saturated clocks too). */
    __int128 est = ((__int128)local - h->offset_ns) * 1000000 / (1000000 + h->drift_ppm);
    uint64_t g = est < 0 ? 0 : est > (__int128)UINT64_MAX ? UINT64_MAX : (uint64_t)est;
    uint64_t lo = g > 2 ? g - 2 : 0, hi = g < UINT64_MAX - 2 ? g + 2 : UINT64_MAX;
    if (weft__host_to_local(h, lo) >= local)
        lo = 0;
    if (weft__host_to_local(h, hi) < local)
        hi = UINT64_MAX;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (weft__host_to_local(h, mid) >= local)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

weft_instant weft_sim_host_now(const weft_sim_host *host) {
    if (!host)
        return 0;
    return weft__host_to_local(host, weft__time_now(host->sim->rt));
}

int weft_sim_host_addr(const weft_sim_host *host, int i, weft_addr *out) {
    if (!host || !out)
        return WEFT_EINVAL;
    if (i < 0 || i >= host->naddrs)
        return WEFT_ERANGE;
    *out = host->addrs[i];
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

static int parse_addrs(weft__hosts *hs, weft__rt *rt, const weft_sim_host_config *c,
                       weft_addr *out, int *n) {
    if (c->naddrs < 0 || c->naddrs > 4 || (c->naddrs && !c->addrs))
        return WEFT_EINVAL;
    for (int i = 0; i < c->naddrs; i++)
        if (!c->addrs[i] || weft_addr_from_ip(c->addrs[i], 0, &out[i]))
            return WEFT_EINVAL;
    *n = c->naddrs;
    if (*n)
        return 0;
    /* None given: 10.0.0.1, 10.0.0.2, ... by creation order (no .0, no
     * .255), skipping any taken: a fixed choice, it needs no draw. */
    for (uint32_t k = (uint32_t)hs->n + 1;; k++) {
        weft_addr a = {.family = WEFT_AF_INET};
        a.u.v4[0] = 10;
        a.u.v4[1] = (uint8_t)(k >> 16);
        a.u.v4[2] = (uint8_t)(k >> 8);
        a.u.v4[3] = (uint8_t)k;
        if (!(uint8_t)k || (uint8_t)k == 255 || weft__sim_net_addr_taken(rt, &a))
            continue;
        out[0] = a;
        *n = 1;
        return 0;
    }
}

/* Runs the host's start function on it. */
static void run_start(weft_sim_host *h) {
    if (!h->start)
        return;
    weft__hosts *hs = h->sim->hosts;
    weft_sim_host *saved = hs->cur;
    weft__tls tls = enter(h->sim);
    hs->cur = h;
    h->start(h, h->disk);
    hs->cur = saved;
    leave(tls);
}

int weft_sim_host_create(weft_handle *handle, const weft_sim_host_config *c,
                         weft_sim_host **out) {
    if (out)
        *out = NULL;
    if (!c)
        return WEFT_EINVAL;
    weft__rt *rt = handle ? (weft__rt *)handle : weft__cur.rt;
    if (!rt)
        return WEFT_ENORUNTIME;
    weft__sim *s = sim_of_handle((weft_handle *)rt);
    if (!s || !rt->io)
        return WEFT_ENOTSUP;
    if (!c || !c->name || !c->name[0] || strlen(c->name) >= sizeof((weft_sim_host *)0)->name ||
        strcmp(c->name, "localhost") == 0)
        return WEFT_EINVAL;
    if (c->clock != WEFT_SIM_CLOCK_SEEDED && c->clock != WEFT_SIM_CLOCK_EXACT)
        return WEFT_EINVAL;
    if (c->clock == WEFT_SIM_CLOCK_SEEDED && (c->clock_offset_ns || c->clock_drift_ppm))
        return WEFT_EINVAL; /* a clock given, but the seed would draw one: say EXACT */
    if (c->clock_drift_ppm < -500000 || c->clock_drift_ppm > 500000)
        return WEFT_EINVAL;
    weft__sim_check_draw(s, "weft_sim_host_create");
    weft__hosts *hs = hosts_of(s);
    if (!hs)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < hs->n; i++)
        if (strcmp(hs->all[i]->name, c->name) == 0)
            return WEFT_EINVAL;
    weft_addr addrs[4];
    int naddrs = 0;
    int err = parse_addrs(hs, rt, c, addrs, &naddrs);
    if (err)
        return err;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? 2 * hs->cap : 8;
        weft_sim_host **a = h_alloc(s, cap * sizeof *a);
        if (!a)
            return WEFT_ENOMEM;
        if (hs->n)
            memcpy(a, hs->all, hs->n * sizeof *a);
        h_free(s, hs->all, hs->cap * sizeof *a);
        hs->all = a;
        hs->cap = cap;
    }
    weft_sim_host *h = h_alloc(s, sizeof *h);
    if (!h)
        return WEFT_ENOMEM;
    memset(h, 0, sizeof *h);
    h->sim = s;
    h->id = (uint32_t)hs->n + 1;
    strcpy(h->name, c->name);
    h->start = c->start;
    h->disk = c->disk;
    h->state = WEFT__HOST_RUNNING;
    memcpy(h->addrs, addrs, (size_t)naddrs * sizeof *addrs);
    h->naddrs = naddrs;
    for (int i = 0; i < naddrs; i++)
        h->addrs[i].port = 0;
    err = weft__sim_net_host_add(rt, c->name, addrs, naddrs, h, &h->net_slot);
    if (err) {
        h_free(s, h, sizeof *h);
        return err;
    }
    if (c->clock == WEFT_SIM_CLOCK_EXACT) {
        h->offset_ns = c->clock_offset_ns;
        h->drift_ppm = c->clock_drift_ppm;
    } else {
        h->offset_ns = (int64_t)weft__sim_below(s, 10000000000u);
        h->drift_ppm = (int32_t)weft__sim_below(s, 201) - 100;
    }
    hs->all[hs->n++] = h;
    host_event(h, WEFT__HOST_EV_CREATE, (uint64_t)h->offset_ns);
    host_event(h, WEFT__HOST_EV_DRIFT, (uint64_t)(int64_t)h->drift_ppm);
    if (s->trace) /* the events name hosts by id */
        fprintf(s->trace, "   host %u is %s\n", h->id, h->name);
    if (out)
        *out = h;
    run_start(h);
    return 0;
}

int weft_sim_host_add(weft_handle *h, const char *name, const char *const *addrs, int naddrs) {
    if (!name || !addrs || naddrs < 1 || naddrs > 4)
        return WEFT_EINVAL;
    weft_sim_host_config c = {.name = name, .addrs = addrs, .naddrs = naddrs,
                              .clock = WEFT_SIM_CLOCK_EXACT};
    return weft_sim_host_create(h, &c, NULL);
}

weft_sim_host *weft_sim_host_find(weft_handle *handle, const char *name) {
    weft__sim *s = sim_of_handle(handle);
    if (!s || !s->hosts || !name)
        return NULL;
    for (size_t i = 0; i < s->hosts->n; i++)
        if (strcmp(s->hosts->all[i]->name, name) == 0)
            return s->hosts->all[i];
    return NULL;
}

weft_sim_host *weft_sim_host_current(void) {
    weft__sim *s = weft__sim_current();
    return s ? weft__host_cur(s) : NULL;
}

const char *weft_sim_host_name(const weft_sim_host *host) { return host ? host->name : ""; }

int weft_sim_host_state(const weft_sim_host *host) { return host ? host->state : WEFT_EINVAL; }

uint32_t weft_sim_host_restarts(const weft_sim_host *host) { return host ? host->incarnation : 0; }

/* -------------------------------------------------------- crash, pause */

/* Takes the host's tasks out of the ready set, keeping the order of the
 * others; they go to `out` (NULL: to the host's held list). */
static size_t take_ready(weft_sim_host *h, weft__task **out) {
    weft__sim *s = h->sim;
    size_t kept = 0, taken = 0;
    for (size_t i = 0; i < s->nready; i++) {
        weft__task *t = s->ready[i];
        bool stale;
        weft_sim_host *o = owner_of(s->hosts, weft__task_pid(t), &stale);
        if (o == h && (out || !stale)) {
            if (out)
                out[taken++] = t;
            else if (!hold(h, t))
                s->ready[kept++] = t; /* out of memory: failed, left to run */
            continue;
        }
        s->ready[kept++] = t;
    }
    s->nready = kept;
    return taken;
}

static void abort_owned(void *ctx, weft__task *t) {
    weft_sim_host *h = ctx;
    bool stale;
    if (atomic_load_explicit(&t->state, memory_order_acquire) & WEFT__T_COMPLETE)
        return;
    if (owner_of(h->sim->hosts, weft__task_pid(t), &stale) == h)
        abort_task(t);
}

int weft_sim_host_crash(weft_sim_host *host, int how) {
    if (!host || (how != WEFT_SIM_CRASH_RESET && how != WEFT_SIM_CRASH_SILENT) ||
        host->state == WEFT__HOST_CRASHED)
        return WEFT_EINVAL;
    weft__sim *s = host->sim;
    weft__hosts *hs = s->hosts;
    weft__sim_check_draw(s, "weft_sim_host_crash");
    if (host->state == WEFT__HOST_PAUSED)
        hs->npaused--;
    host->state = WEFT__HOST_CRASHED;
    host->how = how;
    host_event(host, WEFT__HOST_EV_CRASH, (uint64_t)how);
    weft__tls tls = enter(s);
    /* Sockets first: the drops below close them, and a close would send
     * a FIN where the crash sends a reset or nothing. */
    weft__sim_net_crash(s->rt, host, how);
    /* Every task of the host: cancelled, so that each is queued (or, if it
     * is the one running, cancelled by its poller when its poll returns). */
    weft__owned_visit(s->rt, &s->owned, abort_owned, host);
    /* Then the cancellations run now: the held ones and the queued ones. */
    size_t n = host->nheld + s->nready;
    weft__task **victims = n ? h_alloc(s, n * sizeof *victims) : NULL;
    if (n && !victims) {
        /* Out of memory: each is cancelled when picked instead. */
        for (size_t i = 0; i < host->nheld; i++)
            weft__sim_push_ready(s, host->held[i]);
        host->nheld = 0;
        leave(tls);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < host->nheld; i++)
        victims[k++] = host->held[i];
    host->nheld = 0;
    k += take_ready(host, victims + k);
    weft_sim_host *saved = hs->cur;
    hs->cur = host; /* what a drop spawns is the crashed host's: cancelled too */
    for (size_t i = 0; i < k; i++)
        weft__task_run(victims[i]);
    hs->cur = saved;
    h_free(s, victims, n * sizeof *victims);
    leave(tls);
    return 0;
}

int weft_sim_host_restart(weft_sim_host *host) {
    if (!host || host->state != WEFT__HOST_CRASHED)
        return WEFT_EINVAL;
    weft__sim_check_draw(host->sim, "weft_sim_host_restart");
    host->incarnation++;
    host->state = WEFT__HOST_RUNNING;
    host_event(host, WEFT__HOST_EV_RESTART, host->incarnation);
    run_start(host);
    return 0;
}

int weft_sim_host_pause(weft_sim_host *host) {
    if (!host || host->state != WEFT__HOST_RUNNING)
        return WEFT_EINVAL;
    weft__sim *s = host->sim;
    weft__sim_check_draw(s, "weft_sim_host_pause");
    host->state = WEFT__HOST_PAUSED;
    s->hosts->npaused++;
    host_event(host, WEFT__HOST_EV_PAUSE, 0);
    take_ready(host, NULL);
    return 0;
}

int weft_sim_host_resume(weft_sim_host *host) {
    if (!host || host->state != WEFT__HOST_PAUSED)
        return WEFT_EINVAL;
    weft__sim *s = host->sim;
    weft__sim_check_draw(s, "weft_sim_host_resume");
    host->state = WEFT__HOST_RUNNING;
    s->hosts->npaused--;
    host_event(host, WEFT__HOST_EV_RESUME, 0);
    for (size_t i = 0; i < host->nheld; i++)
        weft__sim_push_ready(s, host->held[i]);
    host->nheld = 0;
    weft__tls tls = enter(s);
    weft__sim_net_resume(s->rt, host);
    leave(tls);
    return 0;
}

/* -------------------------------------------------------------- lookups */

int weft_sim_lookup_fail(weft_handle *handle, const char *name, int err, uint32_t ppm) {
    weft__rt *rt = handle ? (weft__rt *)handle : weft__cur.rt;
    if (!name || !name[0] || strlen(name) >= sizeof((weft__host_rule *)0)->name || err >= 0 ||
        ppm > 1000000)
        return WEFT_EINVAL;
    if (!rt)
        return WEFT_ENORUNTIME;
    weft__sim *s = sim_of_handle((weft_handle *)rt);
    if (!s)
        return WEFT_ENOTSUP;
    weft__hosts *hs = hosts_of(s);
    if (!hs)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < hs->nrules; i++) {
        if (strcmp(hs->rules[i].name, name) != 0)
            continue;
        if (ppm) {
            hs->rules[i].err = err;
            hs->rules[i].ppm = ppm;
        } else {
            hs->rules[i] = hs->rules[--hs->nrules];
        }
        return 0;
    }
    if (!ppm)
        return 0;
    if (hs->nrules == hs->rules_cap) {
        size_t cap = hs->rules_cap ? 2 * hs->rules_cap : 4;
        weft__host_rule *r = h_alloc(s, cap * sizeof *r);
        if (!r)
            return WEFT_ENOMEM;
        if (hs->nrules)
            memcpy(r, hs->rules, hs->nrules * sizeof *r);
        h_free(s, hs->rules, hs->rules_cap * sizeof *r);
        hs->rules = r;
        hs->rules_cap = cap;
    }
    weft__host_rule *r = &hs->rules[hs->nrules++];
    strcpy(r->name, name);
    r->err = err;
    r->ppm = ppm;
    return 0;
}

int weft__hosts_lookup_fault(weft__sim *s, const char *name) {
    weft__hosts *hs = s->hosts;
    if (!hs || !hs->nrules)
        return 0;
    const weft__host_rule *hit = NULL;
    for (size_t i = 0; i < hs->nrules; i++) {
        if (strcmp(hs->rules[i].name, name) == 0) {
            hit = &hs->rules[i];
            break;
        }
        if (strcmp(hs->rules[i].name, "*") == 0)
            hit = &hs->rules[i];
    }
    if (!hit)
        return 0;
    if (hit->ppm < 1000000 && weft__sim_below(s, 1000000) >= hit->ppm)
        return 0;
    weft_sim_host *cur = hs->cur;
    weft__sim_ev(s, WEFT__EV_HOST, (uint64_t)WEFT__HOST_EV_LOOKUP_FAIL << 32 | (cur ? cur->id : 0),
                 (uint64_t)(int64_t)hit->err, NULL);
    return hit->err;
}

/* ----------------------------------------------------------------- disk */

void weft_sim_disk_init(weft_sim_disk *d) {
    if (d)
        memset(d, 0, sizeof *d);
}

int weft_sim_disk_write(weft_sim_disk *d, const void *buf, size_t len) {
    if (!d || (!buf && len))
        return WEFT_EINVAL;
    if (d->len + len < d->len)
        return WEFT_ENOMEM;
    if (d->len + len > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (cap < d->len + len)
            cap = cap > SIZE_MAX / 2 ? d->len + len : 2 * cap;
        char *p = realloc(d->data, cap);
        if (!p)
            return WEFT_ENOMEM;
        d->data = p;
        d->cap = cap;
    }
    if (len)
        memcpy(d->data + d->len, buf, len);
    d->len += len;
    return 0;
}

int weft_sim_disk_sync(weft_sim_disk *d) {
    if (!d)
        return WEFT_EINVAL;
    d->synced = d->len;
    return 0;
}

int weft_sim_disk_recover(weft_sim_disk *d) {
    if (!d)
        return WEFT_EINVAL;
    if (d->synced > d->len)
        d->synced = d->len;
    d->len = d->synced;
    return 0;
}

void weft_sim_disk_free(weft_sim_disk *d) {
    if (!d)
        return;
    free(d->data);
    memset(d, 0, sizeof *d);
}
