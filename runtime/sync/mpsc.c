/* weft — mpsc: many senders, one receiver; bounded or unbounded.
 *
 * One allocation holds the state; a bounded channel's values live in a
 * ring of fixed-size slots (a power of two at least the capacity), an
 * unbounded one's in a list of blocks.  A bounded send that finds the ring full queues
 * its op (FIFO); each receive that frees a slot copies the first waiting
 * sender's value in and wakes it, so a sender is done the moment it is
 * granted and a dropped send either sent everything or nothing.
 *
 * The receiver reserves up to RX_BATCH queued values (bounded; the rest of
 * the head block, unbounded) under the lock and reads them without it, so
 * a receive costs no atomic operation most of the time; the batch's slots
 * go back to the senders at the receiver's next locked step.  The
 * receiver's waker is taken out by the send that wakes it and stored
 * again by the next receive that finds the channel empty.  Handles are the
 * channel pointer; `senders` and `rx_alive` count the ends.
 */
#include "sync_impl.h"

#define UNBOUNDED SIZE_MAX
#define BLOCK_SLOTS 256
/* Values a bounded receiver takes out of the ring at once (at most the
 * capacity): with cap >= 2 up to min(cap, RX_BATCH) - 1 values may sit in
 * the receiver's batch beyond `cap`. */
#define RX_BATCH 32

typedef struct weft__mpsc_block {
    struct weft__mpsc_block *next;
    _Alignas(16) unsigned char data[];
} weft__mpsc_block;

typedef struct weft__mpsc {
    weft__spin lock;
    size_t elem;
    size_t cap;          /* queued values that make a send wait */
    size_t head, len;    /* index of the oldest value (ring or head block) */
    unsigned char *buf;  /* bounded: ring of `mask + 1` slots */
    size_t mask;
    weft__mpsc_block *head_blk, *tail_blk, *spare; /* unbounded */
    size_t tail_idx;     /* next free slot of tail_blk */
    weft__wlist blocked; /* senders waiting for a slot */
    weft_waker rx_waker; /* the receiver, while it waits */
    size_t senders;      /* live sender handles */
    bool rx_alive;
    bool closed;         /* no more sends: receiver closed or gone */
    weft_allocator alloc;
    /* The receiver's batch, read without the lock so most receives take
     * none (only the receiver touches these).  Bounded: values copied out
     * of the ring into rx_buf, their slots freed at once.  Unbounded:
     * values reserved in the head block, released (and counted in `len`)
     * until the receiver's next locked step; no sender ever waits there. */
    unsigned char *rx_buf; /* bounded: rx_cap values */
    size_t rx_cap;
    const unsigned char *rx_at; /* the next one, in rx_buf or in head_blk */
    size_t rx_left;  /* batch values not read yet */
    size_t rx_taken; /* unbounded: reserved values to release */
} weft__mpsc;

#define CH(p) ((weft__mpsc *)(void *)(p))

static size_t pow2_at_least(size_t n) {
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static int make(size_t elem, size_t cap, size_t slots, const weft_allocator *a,
                weft_mpsc_tx **tx, weft_mpsc_rx **rx) {
    if (!tx || !rx)
        return WEFT_EINVAL;
    size_t e = elem ? elem : 1, rx_cap = cap < RX_BATCH ? cap : RX_BATCH, bytes;
    /* Bounded: the ring and the receiver's batch in one allocation;
     * unbounded: blocks of BLOCK_SLOTS values.  Either must be sizeable. */
    if (slots ? !weft__size_mac(&bytes, 0, slots + rx_cap, e)
              : !weft__size_mac(&bytes, sizeof(weft__mpsc_block), BLOCK_SLOTS, e))
        return WEFT_EINVAL;
    weft_allocator al = weft__sync_allocator(a);
    weft__mpsc *c = al.alloc(al.ctx, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    c->rx_cap = rx_cap;
    c->buf = NULL;
    if (slots && !(c->buf = al.alloc(al.ctx, bytes))) {
        al.free(al.ctx, c, sizeof *c);
        return WEFT_ENOMEM;
    }
    c->rx_buf = slots ? c->buf + slots * e : NULL;
    c->head_blk = c->tail_blk = c->spare = NULL;
    c->tail_idx = 0;
    c->rx_at = NULL;
    c->rx_left = c->rx_taken = 0;
    weft__spin_init(&c->lock);
    c->elem = elem;
    c->cap = cap;
    c->mask = slots ? slots - 1 : 0;
    c->head = c->len = 0;
    c->blocked = (weft__wlist){0};
    c->rx_waker = (weft_waker){0};
    c->senders = 1;
    c->rx_alive = true;
    c->closed = false;
    c->alloc = al;
    *tx = (weft_mpsc_tx *)(void *)c;
    *rx = (weft_mpsc_rx *)(void *)c;
    return 0;
}

int weft_mpsc_bounded(size_t elem, size_t cap, const weft_allocator *a, weft_mpsc_tx **tx,
                      weft_mpsc_rx **rx) {
    if (cap == 0 || cap > ((size_t)1 << 40))
        return WEFT_EINVAL;
    return make(elem, cap, pow2_at_least(cap), a, tx, rx);
}

int weft_mpsc_unbounded(size_t elem, const weft_allocator *a, weft_mpsc_tx **tx,
                        weft_mpsc_rx **rx) {
    return make(elem, UNBOUNDED, 0, a, tx, rx);
}

static void free_blocks(weft__mpsc *c);

static void destroy(weft__mpsc *c) {
    if (c->buf)
        c->alloc.free(c->alloc.ctx, c->buf, (c->mask + 1 + c->rx_cap) * (c->elem ? c->elem : 1));
    free_blocks(c);
    c->alloc.free(c->alloc.ctx, c, sizeof *c);
}

/* -------------------------------------------------------------- storage */

/* Copies one value; the common sizes become plain moves. */
static inline void copy_elem(void *dst, const void *src, size_t n) {
    switch (n) {
    case 8:
        memcpy(dst, src, 8);
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    case 0: /* a channel of empty values: the send may pass no value */
        break;
    default:
        memcpy(dst, src, n);
    }
}

/* Unbounded storage: a list of blocks of BLOCK_SLOTS values, so growing
 * never copies what is queued, and a drained block is kept as a spare
 * (the next one needed) instead of going back to the allocator. */
static size_t block_bytes(const weft__mpsc *c) {
    return sizeof(weft__mpsc_block) + BLOCK_SLOTS * (c->elem ? c->elem : 1);
}

static int push_block(weft__mpsc *c) {
    weft__mpsc_block *b = c->spare;
    if (b)
        c->spare = NULL;
    else if (!(b = c->alloc.alloc(c->alloc.ctx, block_bytes(c))))
        return WEFT_ENOMEM;
    b->next = NULL;
    if (c->tail_blk)
        c->tail_blk->next = b;
    else
        c->head_blk = b;
    c->tail_blk = b;
    c->tail_idx = 0;
    return 0;
}

static void free_blocks(weft__mpsc *c) {
    weft__mpsc_block *b = c->head_blk, *next;
    for (; b; b = next) {
        next = b->next;
        c->alloc.free(c->alloc.ctx, b, block_bytes(c));
    }
    if (c->spare)
        c->alloc.free(c->alloc.ctx, c->spare, block_bytes(c));
    c->head_blk = c->tail_blk = c->spare = NULL;
}

static inline int push(weft__mpsc *c, const void *v) {
    if (c->cap != UNBOUNDED) {
        size_t i = (c->head + c->len) & c->mask;
        copy_elem(c->buf + i * c->elem, v, c->elem);
    } else {
        if (!c->tail_blk || c->tail_idx == BLOCK_SLOTS) {
            int err = push_block(c);
            if (err)
                return err;
        }
        copy_elem(c->tail_blk->data + c->tail_idx++ * c->elem, v, c->elem);
    }
    c->len++;
    return 0;
}

/* Hands free slots to the senders waiting for one (their wakers go to
 * `b`); lock held. */
static void grant_senders(weft__mpsc *c, weft__wakes *b) {
    weft_waiter *n;
    while ((n = c->blocked.weft__head) && c->len < c->cap && !weft__wakes_full(b)) {
        weft_mpsc_send_op *op = (weft_mpsc_send_op *)((char *)n - offsetof(weft_mpsc_send_op, node));
        weft__wl_remove(&c->blocked, n);
        push(c, op->value); /* a bounded slot just freed: cannot fail */
        weft__wakes_take(b, n, WEFT__W_GRANTED);
    }
}

/* Unbounded: frees the reserved values of the finished batch; lock held. */
static void release_batch(weft__mpsc *c) {
    size_t k = c->rx_taken;
    c->rx_taken = c->rx_left = 0;
    c->len -= k;
    if ((c->head += k) == BLOCK_SLOTS) {
        weft__mpsc_block *blk = c->head_blk;
        c->head = 0;
        c->head_blk = blk->next;
        if (!blk->next)
            c->tail_blk = NULL;
        if (c->spare)
            c->alloc.free(c->alloc.ctx, blk, block_bytes(c));
        else
            c->spare = blk;
    }
}

/* Takes the next batch (len > 0); lock held.  Bounded: copies it out and
 * frees its slots for the waiting senders (wakers to `b`).  Unbounded:
 * reserves it; senders only write past the queued values, so its slots
 * stay put until released. */
static void take_batch(weft__mpsc *c, weft__wakes *b) {
    size_t k = c->len;
    if (c->cap != UNBOUNDED) {
        if (k > c->rx_cap)
            k = c->rx_cap;
        size_t e = c->elem, first = c->mask + 1 - c->head; /* slots before the wrap */
        if (first > k)
            first = k;
        memcpy(c->rx_buf, c->buf + c->head * e, first * e);
        memcpy(c->rx_buf + first * e, c->buf, (k - first) * e);
        c->head = (c->head + k) & c->mask;
        c->len -= k;
        c->rx_at = c->rx_buf;
        c->rx_left = k;
        grant_senders(c, b);
        return;
    }
    if (k > BLOCK_SLOTS - c->head)
        k = BLOCK_SLOTS - c->head; /* stay within the head block */
    c->rx_at = c->head_blk->data + c->head * c->elem;
    c->rx_left = c->rx_taken = k;
}

/* Reads the next reserved value (rx_left > 0); no lock needed. */
static inline void read_one(weft__mpsc *c, void *dst) {
    const unsigned char *src = c->rx_at;
    c->rx_at = src + c->elem;
    c->rx_left--;
    if (dst)
        copy_elem(dst, src, c->elem);
}

/* Tries to queue `v` now; lock held.  0, EFULL, ECLOSED or ENOMEM; on 0
 * `*wake` may hold the receiver's waker. */
static int try_push(weft__mpsc *c, const void *v, weft_waker *wake) {
    if (c->closed)
        return WEFT_ECLOSED;
    if (c->len >= c->cap || !weft__wl_empty(&c->blocked))
        return WEFT_EFULL;
    int err = push(c, v);
    if (err)
        return err;
    *wake = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    return 0;
}

/* ---------------------------------------------------------------- senders */

weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx) {
    if (!tx)
        return NULL;
    weft__mpsc *c = CH(tx);
    weft__spin_lock(&c->lock);
    c->senders++;
    weft__spin_unlock(&c->lock);
    return tx;
}

void weft_mpsc_tx_drop(weft_mpsc_tx *tx) {
    if (!tx)
        return;
    weft__mpsc *c = CH(tx);
    weft_waker w = {0};
    weft__spin_lock(&c->lock);
    if (c->senders == 0)
        weft__die("mpsc sender dropped twice");
    bool last = --c->senders == 0;
    if (last) { /* the receiver sees the end once it drained the ring */
        w = c->rx_waker;
        c->rx_waker = (weft_waker){0};
    }
    bool free_it = last && !c->rx_alive;
    weft__spin_unlock(&c->lock);
    weft_waker_wake(&w);
    if (free_it)
        destroy(c);
}

/* try_send's value of an uncommon size: copied, then the lock released. */
static WEFT__NOINLINE int copy_unlock(weft__mpsc *c, unsigned char *dst, const void *value) {
    copy_elem(dst, value, c->elem);
    weft__spin_unlock(&c->lock);
    return 0;
}

/* try_send but for the common case; lock held on entry. */
static WEFT__NOINLINE int try_send_locked(weft__mpsc *c, const void *value) {
    weft_waker w = {0};
    int rc = try_push(c, value, &w);
    weft__spin_unlock(&c->lock);
    if (w.vt)
        weft_waker_wake(&w);
    return rc;
}

/* try_send that found the lock taken: waits for it, then the general way. */
static WEFT__NOINLINE int try_send_contended(weft__mpsc *c, const void *value) {
    weft__spin_lock(&c->lock);
    return try_send_locked(c, value);
}

int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value) {
    if (!tx || (!value && CH(tx)->elem))
        return WEFT_EINVAL;
    weft__mpsc *c = CH(tx);
    if (!weft__spin_try(&c->lock))
        return try_send_contended(c, value);
    /* Unbounded, room in the tail block, the receiver not waiting: what
     * try_push does then, without its other cases (or a frame). */
    if (c->cap == UNBOUNDED && !c->closed && c->tail_blk && c->tail_idx < BLOCK_SLOTS &&
        !c->rx_waker.vt) {
        unsigned char *dst = c->tail_blk->data + c->tail_idx++ * c->elem;
        c->len++;
        if (c->elem != 8)
            return copy_unlock(c, dst, value);
        memcpy(dst, value, 8);
        weft__spin_unlock(&c->lock);
        return 0;
    }
    return try_send_locked(c, value);
}

bool weft_mpsc_is_closed(weft_mpsc_tx *tx) {
    if (!tx)
        return true;
    weft__mpsc *c = CH(tx);
    weft__spin_lock(&c->lock);
    bool closed = c->closed;
    weft__spin_unlock(&c->lock);
    return closed;
}

static const weft_future_vtable send_vt, send_done_vt;

/* An op ready with `rc`: done, and its drop has nothing to do (send_drop
 * and recv_drop act on a queued or registered op only), so it goes to its
 * vtable without one, `done_vt`. */
static inline weft_poll op_ready(weft_future *f, const weft_future_vtable *done_vt, void *out,
                                 int rc) {
    f->resume = WEFT__DONE;
    f->vt = done_vt;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

/* A send ready with `rc`. */
static inline weft_poll send_ready(weft_future *f, void *out, int rc) {
    return op_ready(f, &send_done_vt, out, rc);
}

/* A send whose node was queued: its state says, under the lock, whether
 * it was granted (the value went in), closed out, or still waits. */
static WEFT__NOINLINE weft_poll send_poll_queued(weft_future *f, weft_context *cx, void *out) {
    weft_mpsc_send_op *op = (weft_mpsc_send_op *)f;
    weft__mpsc *c = CH(op->tx);
    weft_waiter *n = &op->node;
    weft_waker w = {0};
    weft__spin_lock(&c->lock);
    int st = n->weft__state;
    if (st == WEFT__W_QUEUED) {
        weft__waiter_set_waker(n, cx->weft__waker, &w);
        weft__spin_unlock(&c->lock);
        weft_waker_drop(&w);
        return WEFT_PENDING;
    }
    n->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&c->lock);
    return send_ready(f, out, st == WEFT__W_GRANTED ? 0 : WEFT_ECLOSED);
}

/* A first send poll with the lock held (taken by `locked`, else here):
 * queue the value or the op. */
static WEFT__NOINLINE weft_poll send_poll_first(weft_future *f, weft_context *cx,
                                                void *out, bool locked) {
    weft_mpsc_send_op *op = (weft_mpsc_send_op *)f;
    weft__mpsc *c = CH(op->tx);
    weft_waker w = {0};
    if (!locked)
        weft__spin_lock(&c->lock);
    int rc = try_push(c, op->value, &w);
    if (rc == WEFT_EFULL)
        return weft__wait_queued(&c->lock, &c->blocked, &op->node, f, cx);
    weft__spin_unlock(&c->lock);
    if (w.vt)
        weft_waker_wake(&w);
    return send_ready(f, out, rc);
}

static weft_poll send_poll(weft_future *f, weft_context *cx, void *out) {
    if (f->resume == QUEUED_ONCE)
        return send_poll_queued(f, cx, out);
    /* never queued: the node is ours and idle */
    weft_mpsc_send_op *op = (weft_mpsc_send_op *)f;
    weft__mpsc *c = CH(op->tx);
    if (!weft__spin_try(&c->lock))
        return send_poll_first(f, cx, out, false);
    /* Bounded, open, room, nobody queued ahead, the receiver not waiting,
     * an 8-byte value: what try_push does then, without a frame. */
    if (c->cap == UNBOUNDED || c->closed || c->len >= c->cap || !weft__wl_empty(&c->blocked) ||
        c->rx_waker.vt || c->elem != 8)
        return send_poll_first(f, cx, out, true);
    memcpy(c->buf + ((c->head + c->len) & c->mask) * 8, op->value, 8);
    c->len++;
    weft__spin_unlock(&c->lock);
    return send_ready(f, out, 0);
}

static void send_drop(weft_future *f) {
    weft_mpsc_send_op *op = (weft_mpsc_send_op *)f;
    weft_waiter *n = &op->node;
    if (f->resume != QUEUED_ONCE)
        return; /* never queued, or done: nobody else touches the node */
    weft__mpsc *c = CH(op->tx);
    weft_waker old = {0};
    weft__spin_lock(&c->lock);
    if (n->weft__state == WEFT__W_QUEUED) {
        weft__wl_remove(&c->blocked, n); /* nothing was sent */
        old = n->weft__waker;
        n->weft__waker = (weft_waker){0};
    }
    /* GRANTED: the value was queued whole before the drop. */
    n->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&c->lock);
    weft_waker_drop(&old);
}

static const weft_future_vtable send_vt = {send_poll, send_drop, sizeof(weft_mpsc_send_op),
                                           sizeof(int), "weft_mpsc_send", 0};
static const weft_future_vtable send_done_vt = {send_poll, NULL, sizeof(weft_mpsc_send_op),
                                                sizeof(int), "weft_mpsc_send", 0};

weft_future *weft_mpsc_send_init(weft_mpsc_send_op *op, weft_mpsc_tx *tx, const void *value,
                                 const char *site) {
    WEFT__NEED(op, "weft_mpsc_send", "op");
    WEFT__NEED(tx, "weft_mpsc_send", "sender");
    if (!value && CH(tx)->elem)
        weft__die_misuse("weft_mpsc_send", "NULL value");
    op->base = (weft_future){&send_vt, NULL, site, 0, 0}; /* weft_future_init, checks known to pass */
    op->tx = tx;
    op->value = value;
    op->node.weft__state = WEFT__W_IDLE; /* the rest is set when it queues */
    return &op->base;
}

/* --------------------------------------------------------------- receiver */

/* Fails every waiting sender; lock held on entry and return. */
static void close_locked(weft__mpsc *c) {
    c->closed = true;
    weft__wl_wake_all(&c->lock, &c->blocked, WEFT__W_CLOSED);
}

void weft_mpsc_rx_close(weft_mpsc_rx *rx) {
    if (!rx)
        return;
    weft__mpsc *c = CH(rx);
    weft__spin_lock(&c->lock);
    close_locked(c);
    weft__spin_unlock(&c->lock);
}

void weft_mpsc_rx_drop(weft_mpsc_rx *rx) {
    if (!rx)
        return;
    weft__mpsc *c = CH(rx);
    weft__spin_lock(&c->lock);
    close_locked(c);
    c->rx_alive = false;
    weft__wakes none;
    none.n = 0; /* no sender waits any more */
    c->rx_left = 0;
    while (c->rx_taken || c->len) { /* queued values are discarded (plain bytes) */
        if (c->rx_taken)
            release_batch(c);
        if (c->len)
            take_batch(c, &none);
        c->rx_left = 0;
    }
    weft_waker w = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    bool free_it = c->senders == 0;
    weft__spin_unlock(&c->lock);
    weft_waker_drop(&w);
    if (free_it)
        destroy(c);
}

size_t weft_mpsc_len(weft_mpsc_rx *rx) {
    if (!rx)
        return 0;
    weft__mpsc *c = CH(rx);
    weft__spin_lock(&c->lock);
    size_t n = c->len + c->rx_left - c->rx_taken; /* what it has not received */
    weft__spin_unlock(&c->lock);
    return n;
}

/* Receives one value.  From the current batch without locking; else
 * under the lock: release the batch, reserve the next one.  Returns 0,
 * ECLOSED, or EAGAIN with the lock still held (for the caller to register
 * its waker); the senders granted a slot land in `b`. */
static int take(weft__mpsc *c, void *dst, weft__wakes *b) {
    if (c->rx_left) {
        read_one(c, dst);
        return 0;
    }
    weft__spin_lock(&c->lock);
    if (c->rx_taken)
        release_batch(c);
    if (c->len == 0) {
        if (c->senders && !c->closed)
            return WEFT_EAGAIN;
        weft__spin_unlock(&c->lock);
        return WEFT_ECLOSED;
    }
    take_batch(c, b);
    weft__spin_unlock(&c->lock);
    read_one(c, dst);
    return 0;
}

int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *dst) {
    if (!rx)
        return WEFT_EINVAL;
    weft__mpsc *c = CH(rx);
    weft__wakes b;
    b.n = 0; /* the array is filled before it is read */
    int rc = take(c, dst, &b);
    if (rc == WEFT_EAGAIN)
        weft__spin_unlock(&c->lock);
    weft__wakes_run(&b);
    return rc;
}

static const weft_future_vtable recv_vt, recv_done_vt;

/* A receive ready with `rc` (see op_ready). */
static inline weft_poll recv_ready(weft_future *f, void *out, int rc) {
    return op_ready(f, &recv_done_vt, out, rc);
}

/* A receive the current batch cannot serve: the locked step. */
static WEFT__NOINLINE weft_poll recv_poll_slow(weft_future *f, weft_context *cx, void *out) {
    weft_mpsc_recv_op *op = (weft_mpsc_recv_op *)f;
    weft__mpsc *c = CH(op->rx);
    weft__wakes b;
    b.n = 0; /* the array is filled before it is read */
    int rc = take(c, op->dst, &b);
    if (rc == WEFT_EAGAIN) {
        weft_waker old = {0};
        if (!weft_waker_will_wake(&c->rx_waker, cx->weft__waker)) {
            old = c->rx_waker;
            c->rx_waker = weft_waker_clone(cx->weft__waker);
        }
        weft__spin_unlock(&c->lock);
        weft_waker_drop(&old);
        weft__wakes_run(&b);
        f->resume = 1; /* registered: the drop takes the waker back */
        return WEFT_PENDING;
    }
    weft__wakes_run(&b);
    return recv_ready(f, out, rc);
}

/* Most receives read the receiver's batch: no lock, no wake. */
static weft_poll recv_poll(weft_future *f, weft_context *cx, void *out) {
    weft__mpsc *c = CH(((weft_mpsc_recv_op *)f)->rx);
    if (c->rx_left) {
        void *dst = ((weft_mpsc_recv_op *)f)->dst;
        recv_ready(f, out, 0); /* first: nothing of the op is needed after the copy */
        read_one(c, dst);
        return WEFT_READY;
    }
    return recv_poll_slow(f, cx, out);
}

/* A receive dropped while waiting takes its waker back, so the channel
 * holds no reference on a task that stopped listening.  Nothing was taken
 * from the ring, so nothing is lost. */
static void recv_drop(weft_future *f) {
    if (f->resume != 1)
        return;
    weft__mpsc *c = CH(((weft_mpsc_recv_op *)f)->rx);
    weft__spin_lock(&c->lock);
    weft_waker w = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    weft__spin_unlock(&c->lock);
    weft_waker_drop(&w);
}

static const weft_future_vtable recv_vt = {recv_poll, recv_drop, sizeof(weft_mpsc_recv_op), sizeof(int),
                                           "weft_mpsc_recv", 0};
static const weft_future_vtable recv_done_vt = {recv_poll, NULL, sizeof(weft_mpsc_recv_op),
                                                sizeof(int), "weft_mpsc_recv", 0};

weft_future *weft_mpsc_recv_init(weft_mpsc_recv_op *op, weft_mpsc_rx *rx, void *dst,
                                 const char *site) {
    WEFT__NEED(op, "weft_mpsc_recv", "op");
    WEFT__NEED(rx, "weft_mpsc_recv", "receiver");
    op->base = (weft_future){&recv_vt, NULL, site, 0, 0}; /* weft_future_init, checks known to pass */
    op->rx = rx;
    op->dst = dst;
    return &op->base;
}
