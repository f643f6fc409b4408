/* kv — a small replicated key-value store, written only against weft's
 * public API (weft/net.h datagrams, weft/time.h), so the same code runs on
 * real sockets and on the simulator's hosts.
 *
 * The protocol is Raft's core, cut to what a key-value store needs: a
 * leader elected by a majority for a term, a replicated log of commands
 * (puts and gets alike, so reads are linearizable), an entry committed
 * once a majority stores it, and applied to an in-memory table in log
 * order.  Messages are UDP datagrams, each a whole message: loss, delay,
 * duplication and reordering are the network's to choose, and the
 * protocol copes (leaders resend, clients retry).
 *
 * What must survive a crash lives in a `kv_disk`, an object the caller owns
 * and hands to the replica again when it restarts: the current term, the
 * vote given in it and the log.  A replica writes it before it answers
 * (a real store would fsync there).  Everything else (the table, the
 * commit point, a leader's bookkeeping) is rebuilt after a restart.
 *
 * The bug on purpose.  With `persist_vote` false the replica keeps its
 * vote in memory, on the theory that a vote only matters for the current
 * term and the term is on disk.  A replica that votes in term T, crashes
 * and restarts while T is still current has forgotten that it voted and
 * can vote again for another candidate of T: two leaders in one term,
 * whose logs may then disagree at one index with one term, which Raft's
 * safety argument rules out.  It takes a crash at the wrong moment and a
 * second candidate of the same term (messages held up between the two),
 * so a plain run never shows it; the simulator finds it.
 */
#ifndef KV_H
#define KV_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/net.h"
#include "weft/time.h"
#include "weft/weft.h"

#define KV_MAX_REPLICAS 5
#define KV_KEY_MAX 24    /* bytes of a key, its NUL included */
#define KV_VAL_MAX 40    /* bytes of a value, its NUL included */
#define KV_LOG_MAX 512   /* entries a log holds (no compaction: a demo's bound) */
#define KV_KEYS_MAX 256  /* distinct keys the table holds */
#define KV_CLIENTS_MAX 16 /* clients whose last request is remembered */
#define KV_BATCH 8       /* log entries per append message */
#define KV_WAIT_MAX 64   /* client requests a leader answers once committed */
#define KV_MSG_MAX 1024  /* bytes of the largest message */

enum { KV_PUT = 1, KV_GET = 2 };
/* A request's outcome (a kv_call's output). */
enum {
    KV_OK = 0,
    KV_NOTFOUND = 1,  /* get of a key never put */
    KV_NOTLEADER = 2, /* (on the wire only: the client tries another) */
    KV_FULL = 3,      /* the log is full */
    KV_TIMEOUT = 4,   /* no answer before the call's deadline */
};

/* One command of the log. */
typedef struct kv_entry {
    uint64_t term;         /* the leader's term when it was appended */
    uint64_t client, seq;  /* who asked: a retried put is applied once */
    uint8_t op;            /* KV_PUT or KV_GET */
    char key[KV_KEY_MAX], val[KV_VAL_MAX];
} kv_entry;

/* A replica's stable storage (see above). */
typedef struct kv_disk {
    uint64_t term;
    int32_t voted_for; /* -1: none in `term` (written only with persist_vote) */
    uint32_t len;      /* entries 1..len are log[0..len-1] */
    kv_entry log[KV_LOG_MAX];
} kv_disk;

/* An empty disk: term 0, no vote, no log. */
void kv_disk_init(kv_disk *d);

/* The cluster, shared by its replicas and clients.  Outlives them. */
typedef struct kv_config {
    int n;                             /* replicas, 3..KV_MAX_REPLICAS */
    weft_addr addrs[KV_MAX_REPLICAS];  /* replica i listens on addrs[i] */
    bool persist_vote;                 /* the fix: the vote goes to disk */
    weft_duration heartbeat;           /* a leader's resend interval */
    weft_duration election_min, election_max; /* a follower's patience, drawn per wait */
    /* Observers (may be NULL): a replica became leader of `term`; a line of
     * what a replica did, for a log or a trace. */
    void (*on_leader)(void *ctx, int id, uint64_t term);
    void (*log)(void *ctx, int id, const char *line);
    void *ctx;
} kv_config;

/* Fills the timing defaults (heartbeat 20 ms, elections 100-200 ms) and
 * n; the caller sets the addresses. */
void kv_config_init(kv_config *c, int n, bool persist_vote);

/* ------------------------------------------------------------------ wire */

/* Message kinds. */
enum { KV_M_VOTE = 1, KV_M_VOTED, KV_M_APPEND, KV_M_APPENDED, KV_M_REQUEST, KV_M_REPLY };

/* One message, decoded.  Fields by kind:
 *   VOTE      term, a = last log index, b = last log term
 *   VOTED     term, a = granted
 *   APPEND    term, a = prev index, b = prev term, c = leader commit, entries
 *   APPENDED  term, a = success, b = the follower's match (or length on failure)
 *   REQUEST   one entry (op, key, val, client, seq)
 *   REPLY     a = status, b = seq, c = leader hint + 1 (0: unknown), one entry (the value) */
typedef struct kv_msg {
    uint8_t kind, from, nentries;
    uint64_t term, a, b, c;
    kv_entry e[KV_BATCH];
} kv_msg;

/* Little-endian, fixed layout; returns the bytes written (<= KV_MSG_MAX). */
size_t kv_encode(const kv_msg *m, uint8_t *buf);
/* false for a datagram that is no message (short, unknown kind, too many
 * entries, a key or value without its NUL). */
bool kv_decode(const uint8_t *buf, size_t len, kv_msg *m);

/* --------------------------------------------------------------- replica */

enum { KV_FOLLOWER, KV_CANDIDATE, KV_LEADER };

/* A replica: a future that runs until dropped (a crash is a drop; a
 * restart is a new kv_replica on the same disk).  Make it with
 * kv_replica_new and spawn it.  Its fields are its own. */
typedef struct kv_replica {
    weft_future base;
    const kv_config *cfg;
    int id;
    kv_disk *disk;
    weft_datagram *sock;
    int role, leader;        /* leader: who we follow, -1 unknown */
    int32_t vote_mem;        /* the buggy version's vote */
    uint64_t commit, applied;
    uint32_t votes;          /* bit i: replica i granted us its vote */
    unsigned patience;       /* election timeouts are doubled this many times */
    uint64_t next[KV_MAX_REPLICAS], match[KV_MAX_REPLICAS];
    weft_instant election_at, resend_at;
    int nkeys;
    struct { char key[KV_KEY_MAX], val[KV_VAL_MAX]; } table[KV_KEYS_MAX];
    int nseen;
    struct { uint64_t client, seq; } seen[KV_CLIENTS_MAX];
    struct { uint64_t index, client, seq; weft_addr to; } waiting[KV_WAIT_MAX];
    int nwaiting;
    int64_t n;
    weft_addr from;
    weft_net_op op;
    weft_timeout to;
    weft_sleep nap;
    uint8_t in[KV_MSG_MAX], out[KV_MSG_MAX];
} kv_replica;

/* A replica `id` of `cfg` on `disk` (both outlive it), not yet polled. */
kv_replica kv_replica_new(const kv_config *cfg, int id, kv_disk *disk);

/* ---------------------------------------------------------------- client */

/* One request, retried until a leader answers it or `deadline` passes (0:
 * no deadline).  Output: KV_OK, KV_NOTFOUND, KV_FULL or KV_TIMEOUT; a get's
 * value in `val`.  `sock` is the client's bound datagram socket; `*hint`
 * is the replica to try first, updated to the leader that answered. */
typedef struct kv_call {
    weft_future base;
    const kv_config *cfg;
    weft_datagram *sock;
    int *hint;
    uint8_t opcode;
    uint64_t client, seq;
    weft_instant deadline;
    char key[KV_KEY_MAX];
    char *val;               /* KV_VAL_MAX bytes: put's value in, get's out */
    int target, status;
    unsigned patience;       /* attempts that went unanswered: each waits twice as long */
    weft_instant give_up;    /* this attempt's end */
    int64_t n;
    weft_net_op op;
    weft_timeout to;
    uint8_t in[KV_MSG_MAX], out[KV_MSG_MAX];
} kv_call;

/* Makes a call (see above); `key` is copied, `val` is not. */
kv_call kv_call_new(const kv_config *cfg, weft_datagram *sock, int *hint, int op,
                    uint64_t client, uint64_t seq, const char *key, char *val,
                    weft_instant deadline);

/* The workload both runs use: one client puts keys c<id>.k0..k<n-1> (each once)
 * and, after each put, reads back a key it was told was written; then
 * (verify) reads every acknowledged key.  A read that misses an
 * acknowledged write is a violation: the lost write the bug causes.
 * Output: the number of violations; the first is described in `why`. */
typedef struct kv_workload {
    weft_future base;
    const kv_config *cfg;
    weft_addr bind;          /* the client's address (port 0: any) */
    uint64_t client;
    uint64_t writer;         /* whose keys (the client itself, unless verifying another's) */
    int nops;
    weft_duration pause_max; /* a random pause up to this between ops */
    weft_instant deadline;   /* for each call (0: none) */
    bool verify_only;        /* skip the puts: just read what `acked` says */
    bool *acked;             /* nops flags, kept by the caller */
    int violations, timeouts;
    char why[160];
    weft_datagram *sock;
    int hint, i, j, status;
    uint64_t seq;
    char val[KV_VAL_MAX];
    kv_call call;
    weft_sleep nap;
} kv_workload;

/* Makes a workload (see above); `acked` holds nops flags, all false for a
 * fresh one. */
kv_workload kv_workload_new(const kv_config *cfg, const weft_addr *bind, uint64_t client,
                            int nops, bool *acked);

#endif
