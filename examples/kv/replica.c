/* kv — a replica: leader election, log replication, the table.
 *
 * One task per replica, one loop: wait for a datagram or the next timer
 * (a follower's election timeout, a candidate's or leader's resend), act
 * on it, answer at once.  Sends never wait: a datagram that finds the
 * socket's buffer full is dropped like one lost on the wire, and the
 * resend timer covers both.  See kv.h for the protocol and the bug.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kv.h"

void kv_disk_init(kv_disk *d) {
    memset(d, 0, sizeof *d);
    d->voted_for = -1;
}

void kv_config_init(kv_config *c, int n, bool persist_vote) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->persist_vote = persist_vote;
    c->heartbeat = WEFT_MS(20);
    c->election_min = WEFT_MS(100);
    c->election_max = WEFT_MS(200);
}

static void say(kv_replica *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(kv_replica *r, const char *fmt, ...) {
    if (!r->cfg->log)
        return;
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->cfg->log(r->cfg->ctx, r->id, line);
}

/* Where this replica's vote lives: on disk (the fix) or in memory. */
static int32_t *vote(kv_replica *r) {
    return r->cfg->persist_vote ? &r->disk->voted_for : &r->vote_mem;
}

static uint64_t last_term(const kv_replica *r) {
    return r->disk->len ? r->disk->log[r->disk->len - 1].term : 0;
}

static uint64_t term_at(const kv_replica *r, uint64_t index) {
    return index >= 1 && index <= r->disk->len ? r->disk->log[index - 1].term : 0;
}

static void send_to(kv_replica *r, const weft_addr *to, kv_msg *m) {
    m->from = (uint8_t)r->id;
    size_t len = kv_encode(m, r->out);
    (void)weft_datagram_try_send_to(r->sock, r->out, len, to); /* a loss, if it fails */
}

static void send_peer(kv_replica *r, int peer, kv_msg *m) {
    send_to(r, &r->cfg->addrs[peer], m);
}

/* A follower's patience: election_min..max, doubled for each election of
 * ours that failed (up to 32 times), so that on a network whose round
 * trips outlast the configured timeout the candidates back off until one
 * of them can finish an election (Raft needs elections slower than round
 * trips; the replica learns how much slower instead of being told). */
static void wait_for_leader(kv_replica *r) {
    const kv_config *c = r->cfg;
    uint64_t lo = (uint64_t)c->election_min << r->patience;
    uint64_t span = (uint64_t)(c->election_max - c->election_min) << r->patience;
    r->election_at = weft_now() + lo + weft_random_below(span + 1);
}

/* A newer term: follow it, with no vote given in it yet (on disk first). */
static void adopt_term(kv_replica *r, uint64_t term) {
    if (term <= r->disk->term)
        return;
    r->disk->term = term;
    *vote(r) = -1;
    if (r->role != KV_FOLLOWER)
        say(r, "term %llu: back to follower", (unsigned long long)term);
    r->role = KV_FOLLOWER;
    r->leader = -1;
    r->nwaiting = 0;
}

/* ------------------------------------------------------------- the table */

static int find_key(const kv_replica *r, const char *key) {
    for (int i = 0; i < r->nkeys; i++)
        if (strcmp(r->table[i].key, key) == 0)
            return i;
    return -1;
}

/* A put retried by its client is applied once: a client has one request
 * in flight, so its sequence numbers only grow. */
static bool seen_before(kv_replica *r, uint64_t client, uint64_t seq) {
    for (int i = 0; i < r->nseen; i++)
        if (r->seen[i].client == client) {
            if (seq <= r->seen[i].seq)
                return true;
            r->seen[i].seq = seq;
            return false;
        }
    if (r->nseen < KV_CLIENTS_MAX) {
        r->seen[r->nseen].client = client;
        r->seen[r->nseen++].seq = seq;
    }
    return false;
}

static void reply(kv_replica *r, const weft_addr *to, int status, const kv_entry *e) {
    kv_msg m = {.kind = KV_M_REPLY, .a = (uint64_t)status, .b = e ? e->seq : 0,
                .c = (uint64_t)(r->leader + 1), .nentries = 1};
    if (e)
        m.e[0] = *e;
    send_to(r, to, &m);
}

/* Applies the committed entries in order; the leader answers the clients
 * waiting on them. */
static void apply(kv_replica *r) {
    while (r->applied < r->commit) {
        kv_entry e = r->disk->log[r->applied++];
        int status = KV_OK;
        int k = find_key(r, e.key);
        if (e.op == KV_PUT && !seen_before(r, e.client, e.seq)) {
            if (k < 0 && r->nkeys < KV_KEYS_MAX) {
                k = r->nkeys++;
                memcpy(r->table[k].key, e.key, KV_KEY_MAX);
            }
            if (k >= 0)
                memcpy(r->table[k].val, e.val, KV_VAL_MAX);
            else
                status = KV_FULL;
        } else if (e.op == KV_GET) {
            memset(e.val, 0, sizeof e.val);
            if (k >= 0)
                memcpy(e.val, r->table[k].val, KV_VAL_MAX);
            else
                status = KV_NOTFOUND;
        }
        for (int i = 0; i < r->nwaiting; i++)
            if (r->waiting[i].index == r->applied) {
                if (r->waiting[i].client == e.client && r->waiting[i].seq == e.seq)
                    reply(r, &r->waiting[i].to, status, &e);
                r->waiting[i] = r->waiting[--r->nwaiting];
                break;
            }
    }
}

/* ------------------------------------------------------------ replication */

static void send_append(kv_replica *r, int peer) {
    kv_msg m = {.kind = KV_M_APPEND, .term = r->disk->term};
    uint64_t prev = r->next[peer] - 1;
    m.a = prev;
    m.b = term_at(r, prev);
    m.c = r->commit;
    while (m.nentries < KV_BATCH && prev + m.nentries < r->disk->len) {
        m.e[m.nentries] = r->disk->log[prev + m.nentries];
        m.nentries++;
    }
    send_peer(r, peer, &m);
}

static void broadcast(kv_replica *r) {
    for (int p = 0; p < r->cfg->n; p++)
        if (p != r->id) {
            if (r->role == KV_LEADER)
                send_append(r, p);
            else if (r->role == KV_CANDIDATE && !(r->votes & (1u << p))) {
                kv_msg m = {.kind = KV_M_VOTE, .term = r->disk->term, .a = r->disk->len,
                            .b = last_term(r)};
                send_peer(r, p, &m);
            }
        }
    r->resend_at = weft_now() + (uint64_t)r->cfg->heartbeat;
}

/* The highest index a majority stores, if it is of this term (Raft never
 * commits an older term's entry by counting replicas). */
static void advance_commit(kv_replica *r) {
    for (uint64_t idx = r->disk->len; idx > r->commit; idx--) {
        if (term_at(r, idx) != r->disk->term)
            break;
        int have = 0;
        for (int p = 0; p < r->cfg->n; p++)
            have += r->match[p] >= idx;
        if (have * 2 > r->cfg->n) {
            r->commit = idx;
            apply(r);
            break;
        }
    }
}

static void become_leader(kv_replica *r) {
    r->role = KV_LEADER;
    r->patience = 0;
    r->leader = r->id;
    for (int p = 0; p < r->cfg->n; p++) {
        r->next[p] = r->disk->len + 1;
        r->match[p] = 0;
    }
    r->match[r->id] = r->disk->len;
    say(r, "term %llu: leader (log %u, commit %llu)", (unsigned long long)r->disk->term,
        r->disk->len, (unsigned long long)r->commit);
    if (r->cfg->on_leader)
        r->cfg->on_leader(r->cfg->ctx, r->id, r->disk->term);
    broadcast(r);
}

static void start_election(kv_replica *r) {
    if (r->role == KV_CANDIDATE && r->patience < 5)
        r->patience++; /* our last election failed: wait longer next time */
    r->disk->term++;
    *vote(r) = r->id;
    r->role = KV_CANDIDATE;
    r->leader = -1;
    r->votes = 1u << r->id;
    r->nwaiting = 0;
    say(r, "term %llu: candidate", (unsigned long long)r->disk->term);
    wait_for_leader(r);
    broadcast(r);
}

/* ---------------------------------------------------------------- handlers */

static void on_vote(kv_replica *r, const kv_msg *m) {
    adopt_term(r, m->term);
    int32_t *v = vote(r);
    bool up_to_date = m->b > last_term(r) || (m->b == last_term(r) && m->a >= r->disk->len);
    bool grant = m->term == r->disk->term && (*v == -1 || *v == m->from) && up_to_date;
    if (grant) {
        if (*v == -1)
            say(r, "term %llu: votes for r%d", (unsigned long long)m->term, m->from);
        *v = m->from; /* on disk before the answer leaves, with the fix */
        wait_for_leader(r);
    }
    kv_msg out = {.kind = KV_M_VOTED, .term = r->disk->term, .a = grant};
    send_peer(r, m->from, &out);
}

static void on_voted(kv_replica *r, const kv_msg *m) {
    adopt_term(r, m->term);
    if (r->role != KV_CANDIDATE || m->term != r->disk->term || !m->a)
        return;
    r->votes |= 1u << m->from;
    int n = 0;
    for (int p = 0; p < r->cfg->n; p++)
        n += (r->votes >> p) & 1;
    if (n * 2 > r->cfg->n)
        become_leader(r);
}

static void on_append(kv_replica *r, const kv_msg *m) {
    adopt_term(r, m->term);
    kv_msg out = {.kind = KV_M_APPENDED, .term = r->disk->term};
    if (m->term < r->disk->term) {
        send_peer(r, m->from, &out); /* a stale leader learns the term */
        return;
    }
    if (r->role != KV_FOLLOWER)
        say(r, "term %llu: r%d leads, back to follower", (unsigned long long)m->term, m->from);
    if (r->role == KV_LEADER)
        r->nwaiting = 0; /* (two leaders in a term: only the bug does that) */
    r->role = KV_FOLLOWER;
    r->leader = m->from;
    wait_for_leader(r);
    uint64_t prev = m->a;
    if (prev > r->disk->len || term_at(r, prev) != m->b) {
        out.b = r->disk->len < prev ? r->disk->len : prev - 1; /* back off to here */
        send_peer(r, m->from, &out);
        return;
    }
    /* Only a conflicting entry truncates: an old, shorter append arriving
     * late must not cut entries this follower already acknowledged. */
    for (int i = 0; i < m->nentries; i++) {
        uint64_t idx = prev + 1 + (uint64_t)i;
        if (idx <= r->disk->len && term_at(r, idx) == m->e[i].term)
            continue;
        if (idx - 1 > KV_LOG_MAX - 1)
            break;
        if (idx <= r->disk->len)
            say(r, "log: replaced from %llu (term %llu by %llu)", (unsigned long long)idx,
                (unsigned long long)term_at(r, idx), (unsigned long long)m->e[i].term);
        r->disk->log[idx - 1] = m->e[i];
        r->disk->len = (uint32_t)idx;
    }
    uint64_t match = prev + m->nentries;
    if (match > r->disk->len)
        match = r->disk->len;
    uint64_t known = m->c < match ? m->c : match; /* committed, and here */
    if (known > r->commit)
        r->commit = known;
    apply(r);
    out.a = 1;
    out.b = match;
    send_peer(r, m->from, &out);
}

static void on_appended(kv_replica *r, const kv_msg *m) {
    adopt_term(r, m->term);
    if (r->role != KV_LEADER || m->term != r->disk->term)
        return;
    int p = m->from;
    bool moved = false; /* a late or duplicated answer moves nothing */
    if (m->a) {
        if (m->b > r->match[p]) {
            r->match[p] = m->b;
            moved = true;
        }
        if (r->next[p] < r->match[p] + 1)
            r->next[p] = r->match[p] + 1;
        advance_commit(r);
    } else {
        uint64_t back = m->b + 1 < r->next[p] ? m->b + 1 : r->next[p] - 1;
        back = back > r->match[p] ? back : r->match[p] + 1;
        moved = back < r->next[p];
        r->next[p] = back;
    }
    /* More to send: go on at once rather than at the next heartbeat, but
     * only on news, or every answer would breed another append. */
    if (moved && r->next[p] <= r->disk->len)
        send_append(r, p);
}

static void on_request(kv_replica *r, const kv_msg *m, const weft_addr *from) {
    if (m->nentries != 1 || (m->e[0].op != KV_PUT && m->e[0].op != KV_GET))
        return;
    if (r->role != KV_LEADER) {
        reply(r, from, KV_NOTLEADER, &m->e[0]);
        return;
    }
    if (r->nwaiting >= KV_WAIT_MAX)
        return; /* too many in flight: dropped, the client will retry */
    if (r->disk->len >= KV_LOG_MAX) {
        reply(r, from, KV_FULL, &m->e[0]);
        return;
    }
    kv_entry *e = &r->disk->log[r->disk->len];
    *e = m->e[0];
    e->term = r->disk->term;
    r->disk->len++;
    r->match[r->id] = r->disk->len;
    r->waiting[r->nwaiting].index = r->disk->len;
    r->waiting[r->nwaiting].client = e->client;
    r->waiting[r->nwaiting].seq = e->seq;
    r->waiting[r->nwaiting++].to = *from;
    broadcast(r);
}

static void on_message(kv_replica *r, size_t len) {
    kv_msg m;
    if (!kv_decode(r->in, len, &m))
        return; /* not ours: a real service ignores garbage */
    if (m.kind != KV_M_REQUEST && m.kind != KV_M_REPLY &&
        (m.from >= r->cfg->n || m.from == r->id))
        return;
    switch (m.kind) {
    case KV_M_VOTE: on_vote(r, &m); break;
    case KV_M_VOTED: on_voted(r, &m); break;
    case KV_M_APPEND: on_append(r, &m); break;
    case KV_M_APPENDED: on_appended(r, &m); break;
    case KV_M_REQUEST: on_request(r, &m, &r->from); break;
    default: break;
    }
}

static void on_timer(kv_replica *r) {
    weft_instant now = weft_now();
    if (r->role != KV_LEADER && now >= r->election_at)
        start_election(r);
    else if (r->role != KV_FOLLOWER && now >= r->resend_at)
        broadcast(r);
}

/* -------------------------------------------------------------- the loop */

static weft_instant next_timer(const kv_replica *r) {
    if (r->role == KV_LEADER)
        return r->resend_at;
    if (r->role == KV_CANDIDATE && r->resend_at < r->election_at)
        return r->resend_at;
    return r->election_at;
}

static weft_poll replica_poll(weft_future *f, weft_context *cx, void *out) {
    kv_replica *r = (kv_replica *)f;
    (void)out;
    WEFT_BEGIN(f);
    /* A restarted replica may find its old socket not yet gone: retry. */
    while ((r->n = weft_datagram_bind(&r->cfg->addrs[r->id], NULL, &r->sock)) != 0) {
        say(r, "bind: %s, retrying", weft_strerror((int)r->n));
        WEFT_AWAIT(f, cx, weft_sleep(&r->nap, WEFT_MS(10)), NULL);
    }
    if (*vote(r) >= 0)
        say(r, "up: term %llu, voted for r%d, log %u", (unsigned long long)r->disk->term,
            *vote(r), r->disk->len);
    else
        say(r, "up: term %llu, no vote on record, log %u", (unsigned long long)r->disk->term,
            r->disk->len);
    wait_for_leader(r);
    for (;;) {
        if (weft_now() >= next_timer(r)) {
            on_timer(r);
            continue;
        }
        r->n = 0;
        WEFT_AWAIT(f, cx,
                   weft_timeout(&r->to, (weft_duration)(next_timer(r) - weft_now()),
                                weft_datagram_recv_from(&r->op, r->sock, r->in, sizeof r->in,
                                                        &r->from)),
                   &r->n);
        if (r->n > 0)
            on_message(r, (size_t)r->n);
        /* A receive error (a truncated datagram, a reset from an ICMP
         * report) loses that datagram only: go on. */
    }
    WEFT_END(f);
}

/* A crash or a shutdown: the socket goes with the replica; the disk stays. */
static void replica_drop(weft_future *f) {
    kv_replica *r = (kv_replica *)f;
    if (r->sock)
        weft_socket_close(r->sock);
    r->sock = NULL;
}
WEFT_FUTURE_DEFINE_VOID(kv_replica, replica_poll, replica_drop);

kv_replica kv_replica_new(const kv_config *cfg, int id, kv_disk *disk) {
    return WEFT_NEW(kv_replica, .cfg = cfg, .id = id, .disk = disk, .role = KV_FOLLOWER,
                    .leader = -1, .vote_mem = -1);
}
