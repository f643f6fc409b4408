/* kv — the client: one request retried until a leader answers it, and
 * the workload that checks what the store promised. */
#include <stdio.h>
#include <string.h>

#include "kv.h"

static weft_poll call_poll(weft_future *f, weft_context *cx, void *out) {
    kv_call *c = (kv_call *)f;
    WEFT_BEGIN(f);
    if (*c->hint < 0 || *c->hint >= c->cfg->n)
        *c->hint = 0;
    c->target = *c->hint;
    for (;;) {
        if (c->deadline && weft_now() >= c->deadline)
            WEFT_RETURN(f, out, int, KV_TIMEOUT);
        {
            kv_msg m = {.kind = KV_M_REQUEST, .nentries = 1};
            m.e[0].op = c->opcode;
            m.e[0].client = c->client;
            m.e[0].seq = c->seq;
            memcpy(m.e[0].key, c->key, KV_KEY_MAX);
            if (c->opcode == KV_PUT)
                memcpy(m.e[0].val, c->val, KV_VAL_MAX);
            size_t len = kv_encode(&m, c->out);
            (void)weft_datagram_try_send_to(c->sock, c->out, len, &c->cfg->addrs[c->target]);
            /* An attempt lasts an election's worth: long enough for a leader
             * to commit, short enough to move on from a dead one; twice
             * as long after each unanswered one (a slow network), up to 32
             * times. */
            c->give_up = weft_now() + ((weft_instant)c->cfg->election_max << c->patience);
            if (c->deadline && c->give_up > c->deadline)
                c->give_up = c->deadline;
        }
        c->status = -1;
        while (c->status < 0 && weft_now() < c->give_up) {
            c->n = 0;
            WEFT_AWAIT(f, cx,
                       weft_timeout(&c->to, (weft_duration)(c->give_up - weft_now()),
                                    weft_datagram_recv_from(&c->op, c->sock, c->in, sizeof c->in,
                                                            NULL)),
                       &c->n);
            kv_msg m;
            if (c->n <= 0 || !kv_decode(c->in, (size_t)c->n, &m) || m.kind != KV_M_REPLY ||
                m.nentries != 1 || m.e[0].client != c->client || m.b != c->seq)
                continue; /* nothing, or an answer to an earlier request */
            if (m.a == KV_NOTLEADER) {
                /* Go where it points, or round the replicas. */
                int hint = (int)m.c - 1;
                c->target = hint >= 0 && hint < c->cfg->n && hint != c->target
                                ? hint
                                : (c->target + 1) % c->cfg->n;
                c->status = KV_NOTLEADER;
                break;
            }
            *c->hint = c->target;
            if (c->opcode == KV_GET)
                memcpy(c->val, m.e[0].val, KV_VAL_MAX);
            WEFT_RETURN(f, out, int, (int)m.a);
        }
        if (c->status < 0) {
            c->target = (c->target + 1) % c->cfg->n; /* no answer: try the next */
            if (c->patience < 5)
                c->patience++;
        }
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(kv_call, call_poll, NULL, int);

kv_call kv_call_new(const kv_config *cfg, weft_datagram *sock, int *hint, int op,
                    uint64_t client, uint64_t seq, const char *key, char *val,
                    weft_instant deadline) {
    kv_call c = WEFT_NEW(kv_call, .cfg = cfg, .sock = sock, .hint = hint, .opcode = (uint8_t)op,
                         .client = client, .seq = seq, .val = val, .deadline = deadline);
    snprintf(c.key, sizeof c.key, "%s", key);
    return c;
}

/* ------------------------------------------------------------ the workload */

/* Key i of the writer `client`, and the one value it puts there. */
static void key_of(char *key, int i, uint64_t client) {
    snprintf(key, KV_KEY_MAX, "c%llu.k%d", (unsigned long long)client, i);
}
static void value_of(char *val, int i, uint64_t client) {
    memset(val, 0, KV_VAL_MAX);
    snprintf(val, KV_VAL_MAX, "v%d.c%llu", i, (unsigned long long)client);
}

static weft_poll workload_poll(weft_future *f, weft_context *cx, void *out) {
    kv_workload *w = (kv_workload *)f;
    char key[KV_KEY_MAX];
    WEFT_BEGIN(f);
    {
        int err = weft_datagram_bind(&w->bind, NULL, &w->sock);
        if (err) {
            snprintf(w->why, sizeof w->why, "client bind: %s", weft_strerror(err));
            WEFT_RETURN(f, out, int, -1);
        }
    }
    for (w->i = 0; w->i < w->nops; w->i++) {
        w->j = w->acked[w->i] ? w->i : -1;
        if (!w->verify_only) {
            value_of(w->val, w->i, w->writer);
            key_of(key, w->i, w->writer);
            w->call = kv_call_new(w->cfg, w->sock, &w->hint, KV_PUT, w->client, ++w->seq, key,
                                  w->val, w->deadline);
            WEFT_AWAIT(f, cx, &w->call, &w->status);
            if (w->status == KV_OK)
                w->acked[w->i] = true;
            else if (w->status == KV_TIMEOUT)
                w->timeouts++;
            else
                break; /* the log is full */
            /* Read back one key we were told is written. */
            w->j = (int)weft_random_below((uint64_t)w->i + 1);
            while (w->j <= w->i && !w->acked[w->j])
                w->j++;
            if (w->j > w->i)
                w->j = -1;
        }
        if (w->j >= 0) {
            key_of(key, w->j, w->writer);
            memset(w->val, 0, sizeof w->val);
            w->call = kv_call_new(w->cfg, w->sock, &w->hint, KV_GET, w->client, ++w->seq, key,
                                  w->val, w->deadline);
            WEFT_AWAIT(f, cx, &w->call, &w->status);
            char want[KV_VAL_MAX];
            value_of(want, w->j, w->writer);
            if (w->status == KV_TIMEOUT) {
                w->timeouts++;
            } else if (w->status != KV_OK || strcmp(w->val, want) != 0) {
                key_of(key, w->j, w->writer);
                if (!w->violations++)
                    snprintf(w->why, sizeof w->why,
                             "get %s: %s, but its put of \"%s\" was acknowledged", key,
                             w->status == KV_NOTFOUND ? "not found" : w->val, want);
            }
        }
        if (w->pause_max > 0)
            WEFT_AWAIT(f, cx,
                       weft_sleep(&w->nap, (weft_duration)weft_random_below(
                                               (uint64_t)w->pause_max)),
                       NULL);
    }
    WEFT_RETURN(f, out, int, w->violations);
    WEFT_END(f);
}

static void workload_drop(weft_future *f) {
    kv_workload *w = (kv_workload *)f;
    if (w->sock)
        weft_socket_close(w->sock);
    w->sock = NULL;
}
WEFT_FUTURE_DEFINE(kv_workload, workload_poll, workload_drop, int);

kv_workload kv_workload_new(const kv_config *cfg, const weft_addr *bind, uint64_t client,
                            int nops, bool *acked) {
    return WEFT_NEW(kv_workload, .cfg = cfg, .bind = *bind, .client = client, .writer = client,
                    .nops = nops, .acked = acked);
}
