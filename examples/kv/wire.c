/* kv — the wire format: every message one datagram, fixed layout,
 * little-endian, so both ends agree whatever the host's byte order. */
#include <string.h>

#include "kv.h"

#define HEADER (4 + 4 * 8)
#define ENTRY (3 * 8 + 1 + KV_KEY_MAX + KV_VAL_MAX)

static uint8_t *put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static const uint8_t *get64(const uint8_t *p, uint64_t *v) {
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)p[i] << (8 * i);
    return p + 8;
}

size_t kv_encode(const kv_msg *m, uint8_t *buf) {
    uint8_t *p = buf;
    *p++ = m->kind;
    *p++ = m->from;
    *p++ = m->nentries;
    *p++ = 0;
    p = put64(p, m->term);
    p = put64(p, m->a);
    p = put64(p, m->b);
    p = put64(p, m->c);
    for (int i = 0; i < m->nentries; i++) {
        const kv_entry *e = &m->e[i];
        p = put64(p, e->term);
        p = put64(p, e->client);
        p = put64(p, e->seq);
        *p++ = e->op;
        memcpy(p, e->key, KV_KEY_MAX);
        p += KV_KEY_MAX;
        memcpy(p, e->val, KV_VAL_MAX);
        p += KV_VAL_MAX;
    }
    return (size_t)(p - buf);
}

bool kv_decode(const uint8_t *buf, size_t len, kv_msg *m) {
    if (len < HEADER)
        return false;
    const uint8_t *p = buf;
    m->kind = *p++;
    m->from = *p++;
    m->nentries = *p++;
    p++;
    if (m->kind < KV_M_VOTE || m->kind > KV_M_REPLY || m->from >= KV_MAX_REPLICAS ||
        m->nentries > KV_BATCH || len != HEADER + (size_t)m->nentries * ENTRY)
        return false;
    p = get64(p, &m->term);
    p = get64(p, &m->a);
    p = get64(p, &m->b);
    p = get64(p, &m->c);
    for (int i = 0; i < m->nentries; i++) {
        kv_entry *e = &m->e[i];
        p = get64(p, &e->term);
        p = get64(p, &e->client);
        p = get64(p, &e->seq);
        e->op = *p++;
        memcpy(e->key, p, KV_KEY_MAX);
        p += KV_KEY_MAX;
        memcpy(e->val, p, KV_VAL_MAX);
        p += KV_VAL_MAX;
        if (e->key[KV_KEY_MAX - 1] || e->val[KV_VAL_MAX - 1])
            return false;
    }
    return true;
}
