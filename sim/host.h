/* weft — simulated hosts (private): who owns which task, the host being
 * run, and the hooks the sim scheduler and the fake network call.
 *
 * Ownership lives here, not in the task header: a map from task id to
 * (host, incarnation), filled when the sim scheduler sees a spawn, so a
 * task costs nothing extra outside the simulator.  Ids are never reused
 * within a run; entries of finished tasks are pruned in batches (the live
 * tasks are found on the owned lists).
 */
#ifndef WEFT_SIM_HOST_H
#define WEFT_SIM_HOST_H

#include "sim.h"
#include "weft/net.h"

enum { WEFT__HOST_RUNNING = WEFT_SIM_HOST_RUNNING, WEFT__HOST_PAUSED = WEFT_SIM_HOST_PAUSED,
       WEFT__HOST_CRASHED = WEFT_SIM_HOST_CRASHED };

/* Host events (a = op << 32 | host id). */
#define WEFT__EV_HOST (WEFT__EV_USER + 32)
enum {
    WEFT__HOST_EV_CREATE = 1,  /* b = clock offset (ns, as uint64) */
    WEFT__HOST_EV_DRIFT = 2,   /* b = drift (ppm, as uint64) */
    WEFT__HOST_EV_CRASH = 3,   /* b = how */
    WEFT__HOST_EV_RESTART = 4, /* b = restarts so far */
    WEFT__HOST_EV_PAUSE = 5,
    WEFT__HOST_EV_RESUME = 6,
    WEFT__HOST_EV_LOOKUP_FAIL = 7, /* b = the error (as uint64) */
};

struct weft_sim_host {
    weft__sim *sim;
    uint32_t id;          /* 1, 2, ... in creation order: the trace names hosts by it */
    char name[64];
    void (*start)(weft_sim_host *host, void *disk);
    void *disk;
    int state;            /* WEFT__HOST_* */
    int how;              /* the last crash's WEFT_SIM_CRASH_* */
    uint32_t incarnation; /* restarts so far: tasks of an older one never run */
    int64_t offset_ns;    /* the clock: offset + (1 + drift / 1e6) * true time */
    int32_t drift_ppm;
    int net_slot;         /* its entry in the network's address table */
    weft_addr addrs[4];   /* its addresses (port 0) */
    int naddrs;
    weft__task **held;    /* tasks woken while paused, in order, with their queue reference */
    size_t nheld, held_cap;
};

typedef struct weft__host_rule {
    char name[64];        /* "*": every name */
    int err;
    uint32_t ppm;
} weft__host_rule;

typedef struct weft__hosts {
    weft_sim_host **all;
    size_t n, cap;
    weft_sim_host *cur;   /* the host whose task or start function runs, or NULL */
    size_t npaused;       /* hosts paused: wakes need a look only while some are */
    /* task id -> owner: open addressing, linear probing; key 0 is empty */
    uint64_t *keys;
    weft_sim_host **owner;
    uint32_t *inc;
    size_t slots, used, prune_at;
    weft__host_rule *rules;
    size_t nrules, rules_cap;
} weft__hosts;

/* The host the running code belongs to, or NULL (the root). */
static inline weft_sim_host *weft__host_cur(const weft__sim *s) {
    return s->hosts ? s->hosts->cur : NULL;
}

/* The scheduler's hooks (only called once s->hosts exists). */
/* A task made ready: a spawn records its owner; a task of a paused host is
 * held (true: the caller must not queue it). */
bool weft__hosts_schedule(weft__sim *s, weft__task *t, int hint);
/* Before a task's poll: its host becomes the current one; a task of a
 * crashed host (or of an older incarnation) is cancelled instead. */
void weft__hosts_enter(weft__sim *s, weft__task *t);
/* After the poll. */
static inline void weft__hosts_leave(weft__sim *s) { s->hosts->cur = NULL; }
/* For a deadlock report: "hosts paused: a (2 task(s) held), ..." into
 * buf; false (buf empty) when none is paused. */
bool weft__hosts_paused(const weft__sim *s, char *buf, size_t n);
/* Scheduler shutdown: drops the queue references of held tasks. */
void weft__hosts_shutdown(weft__sim *s);
void weft__hosts_destroy(weft__sim *s);

/* A host event as a line of the text trace (no newline). */
void weft__host_format(unsigned long long seq, uint64_t a, uint64_t b, char *buf, size_t n);

/* The clock of `h` at true virtual time `ns` (identity for NULL), and back:
 * the first true instant at which it reads at least `local`. */
uint64_t weft__host_to_local(const weft_sim_host *h, uint64_t ns);
uint64_t weft__host_to_global(const weft_sim_host *h, uint64_t local);

/* A lookup of `name` by the running code: 0, or the injected failure. */
int weft__hosts_lookup_fault(weft__sim *s, const char *name);

/* net.c: the network's side of hosts. */
/* Registers a host's addresses (`owner` NULL: none drawn, name only
 * checked); its slot in *slot.  WEFT_EINVAL for a name or address taken. */
int weft__sim_net_host_add(weft__rt *rt, const char *name, const weft_addr *addrs, int naddrs,
                           weft_sim_host *owner, int *slot);
/* Whether `a` (port ignored) is an address of some host already. */
bool weft__sim_net_addr_taken(weft__rt *rt, const weft_addr *a);
/* The host's sockets vanish (peers reset or not, per `how`); packets held
 * for it go back to the network to meet the crashed host. */
void weft__sim_net_crash(weft__rt *rt, weft_sim_host *h, int how);
/* The packets held for a paused host are delivered, in order. */
void weft__sim_net_resume(weft__rt *rt, weft_sim_host *h);

/* scheduler.c: queues a task that was held. */
void weft__sim_push_ready(weft__sim *s, weft__task *t);

#endif
