/* weft — task blocks: a slab allocator with 16-byte size classes.
 *
 * A task block comes from a 256 KiB chunk that holds blocks of one size
 * only, so a block costs its size and nothing more (malloc would add its
 * header and round up: 144 bytes for a 128-byte task).  A chunk is aligned
 * to its size, so a freed block finds its chunk by masking its address.
 *
 * Each driving thread keeps an unlocked cache of free blocks per class and
 * trades with the runtime's slab in batches; other threads take and give
 * one block at a time under the slab's lock.  A chunk hands out its never
 * used blocks from a bump index (so pages are touched only when needed)
 * and then those given back; once every block is back, the chunk is
 * released, except one kept per class as a spare.  Blocks above 1 KiB come
 * straight from the runtime's allocator.
 *
 * Under AddressSanitizer a free block is poisoned past its link word, so
 * a task used after its block was freed is still caught.
 */
#include <stddef.h>
#include <string.h>

#include "rt.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEFT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#endif
#ifdef WEFT__ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_SIZE ((size_t)256 * 1024)
#define CHUNK_HDR ((size_t)64) /* the chunk's header, then its blocks */
#define BATCH 64u              /* blocks a thread cache takes at once */
#define LOCAL_CAP 512u         /* blocks a thread cache keeps per class */

typedef struct chunk {
    void *raw;                  /* what the allocator returned */
    struct chunk *prev, *next;  /* on its class's partial list */
    void *free;                 /* blocks given back, linked by their first word */
    uint32_t live;              /* blocks out: in use or in a thread cache */
    uint32_t carved;            /* blocks handed out from the bump index */
    uint32_t nblocks;
    uint32_t size;
    bool partial;               /* on the partial list: has a block to give */
} chunk;
_Static_assert(sizeof(chunk) <= CHUNK_HDR, "the chunk header fits its slot");

typedef struct slab_class {
    chunk *partial; /* chunks with a block to give */
    chunk *spare;   /* one empty chunk kept for the next burst */
} slab_class;

/* One lock for every class: threads come here once per batch. */
struct weft__slab {
    weft__mutex lock;
    slab_class cls[WEFT__CACHE_CLASSES];
};

static inline size_t class_size(unsigned cls) { return (size_t)(cls + 1) * WEFT__CACHE_GRAIN; }

static inline chunk *chunk_of(void *block) {
    return (chunk *)((uintptr_t)block & ~(uintptr_t)(CHUNK_SIZE - 1));
}

static inline void *next_of(void *block) {
    void *n;
    memcpy(&n, block, sizeof n);
    return n;
}

static inline void set_next(void *block, void *n) { memcpy(block, &n, sizeof n); }

/* A free block: its link word readable, the rest poisoned. */
static inline void park_block(void *block, size_t size, void *next) {
    UNPOISON(block, sizeof(void *));
    set_next(block, next);
    POISON((char *)block + sizeof(void *), size - sizeof(void *));
}

/* ---------------------------------------------------------------- chunks */

static chunk *chunk_new(weft__rt *rt, unsigned cls) {
    /* Twice the size, to align within it; the half not used is never
     * touched, so it costs address space, not memory. */
    void *raw = weft__alloc(rt, 2 * CHUNK_SIZE);
    if (!raw)
        return NULL;
    chunk *ch = (chunk *)(((uintptr_t)raw + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1));
    size_t size = class_size(cls);
    *ch = (chunk){.raw = raw, .nblocks = (uint32_t)((CHUNK_SIZE - CHUNK_HDR) / size),
                  .size = (uint32_t)size};
    POISON((char *)ch + CHUNK_HDR, CHUNK_SIZE - CHUNK_HDR);
    return ch;
}

static void chunk_release(weft__rt *rt, chunk *ch) {
    void *raw = ch->raw;
    UNPOISON((char *)ch + CHUNK_HDR, CHUNK_SIZE - CHUNK_HDR);
    weft__free(rt, raw, 2 * CHUNK_SIZE);
}

static void partial_push(slab_class *c, chunk *ch) {
    ch->prev = NULL;
    ch->next = c->partial;
    if (c->partial)
        c->partial->prev = ch;
    c->partial = ch;
    ch->partial = true;
}

static void partial_remove(slab_class *c, chunk *ch) {
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        c->partial = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    ch->partial = false;
}

/* One block of `ch`, which has one to give (slab lock held). */
static void *chunk_take(slab_class *c, chunk *ch) {
    void *b;
    if (ch->free) {
        b = ch->free;
        ch->free = next_of(b);
    } else {
        b = (char *)ch + CHUNK_HDR + (size_t)ch->carved++ * ch->size;
    }
    ch->live++;
    if (!ch->free && ch->carved == ch->nblocks)
        partial_remove(c, ch);
    UNPOISON(b, ch->size);
    return b;
}

/* Takes up to `n` blocks of class `cls` onto the list `*out`; returns how
 * many (0: out of memory). */
static uint32_t slab_take(weft__rt *rt, unsigned cls, uint32_t n, void **out) {
    slab_class *c = &rt->slab->cls[cls];
    uint32_t got = 0;
    weft__mutex_lock(&rt->slab->lock);
    while (got < n) {
        chunk *ch = c->partial;
        if (!ch) {
            ch = c->spare;
            c->spare = NULL;
            if (!ch)
                ch = chunk_new(rt, cls);
            if (!ch)
                break;
            partial_push(c, ch);
        }
        void *b = chunk_take(c, ch);
        park_block(b, ch->size, *out);
        *out = b;
        got++;
    }
    weft__mutex_unlock(&rt->slab->lock);
    return got;
}

/* Gives back one block (slab lock held). */
static void slab_give_one(weft__rt *rt, slab_class *c, void *b) {
    chunk *ch = chunk_of(b);
    park_block(b, ch->size, ch->free);
    ch->free = b;
    if (!ch->partial)
        partial_push(c, ch);
    if (--ch->live)
        return;
    /* Every block is back: keep the chunk as the spare, fresh, or release it. */
    partial_remove(c, ch);
    if (c->spare) {
        chunk_release(rt, ch);
        return;
    }
    ch->free = NULL;
    ch->carved = 0;
    POISON((char *)ch + CHUNK_HDR, CHUNK_SIZE - CHUNK_HDR);
    c->spare = ch;
}

/* Gives back the blocks of the list `blocks`. */
static void slab_give(weft__rt *rt, unsigned cls, void *blocks) {
    slab_class *c = &rt->slab->cls[cls];
    weft__mutex_lock(&rt->slab->lock);
    while (blocks) {
        void *b = blocks;
        blocks = next_of(b);
        slab_give_one(rt, c, b);
    }
    weft__mutex_unlock(&rt->slab->lock);
}

/* ------------------------------------------------------------ the slab */

int weft__slab_create(weft__rt *rt) {
    rt->slab = weft__alloc(rt, sizeof *rt->slab);
    if (!rt->slab)
        return WEFT_ENOMEM;
    memset(rt->slab->cls, 0, sizeof rt->slab->cls);
    weft__mutex_init(&rt->slab->lock);
    return 0;
}

/* Releases every chunk.  By now each block is back (a task holds a
 * reference on the runtime, and the thread caches were flushed), so every
 * chunk is a spare or, if some block leaked, still counted: the allocator
 * then reports it. */
void weft__slab_destroy(weft__rt *rt) {
    if (!rt->slab)
        return;
    for (unsigned i = 0; i < WEFT__CACHE_CLASSES; i++) {
        slab_class *c = &rt->slab->cls[i];
        while (c->partial) {
            chunk *ch = c->partial;
            partial_remove(c, ch);
            if (!ch->live)
                chunk_release(rt, ch);
        }
        if (c->spare)
            chunk_release(rt, c->spare);
    }
    weft__mutex_destroy(&rt->slab->lock);
    weft__free(rt, rt->slab, sizeof *rt->slab);
    rt->slab = NULL;
}

/* ---------------------------------------------------------------- blocks */

static inline unsigned size_class(size_t size) {
    return (unsigned)((size - 1) / WEFT__CACHE_GRAIN);
}

static inline weft__task_cache *cache_for(weft__rt *rt) {
    return weft__cur.rt == rt ? weft__cur.cache : NULL;
}

void *weft__block_alloc(weft__rt *rt, size_t size) {
    unsigned cls = size_class(size);
    if (cls >= WEFT__CACHE_CLASSES)
        return weft__alloc(rt, size);
    weft__task_cache *c = cache_for(rt);
    if (!c) {
        void *b = NULL;
        if (!slab_take(rt, cls, 1, &b))
            return NULL;
        UNPOISON(b, class_size(cls));
        return b;
    }
    if (!c->head[cls]) {
        c->count[cls] = slab_take(rt, cls, BATCH, &c->head[cls]);
        if (!c->count[cls])
            return NULL;
    }
    void *b = c->head[cls];
    c->head[cls] = next_of(b);
    c->count[cls]--;
    UNPOISON(b, class_size(cls));
    return b;
}

void weft__block_free(weft__rt *rt, void *b, size_t size) {
    unsigned cls = size_class(size);
    if (cls >= WEFT__CACHE_CLASSES) {
        weft__free(rt, b, size);
        return;
    }
    weft__task_cache *c = cache_for(rt);
    if (!c) {
        set_next(b, NULL);
        slab_give(rt, cls, b);
        return;
    }
    park_block(b, class_size(cls), c->head[cls]);
    c->head[cls] = b;
    if (++c->count[cls] <= LOCAL_CAP)
        return;
    /* Over the cap: give the older half back. */
    void *keep = c->head[cls];
    for (uint32_t i = 1; i < LOCAL_CAP / 2; i++)
        keep = next_of(keep);
    void *rest = next_of(keep);
    set_next(keep, NULL);
    c->count[cls] = LOCAL_CAP / 2;
    slab_give(rt, cls, rest);
}

void weft__task_cache_clear(weft__rt *rt, weft__task_cache *c) {
    for (unsigned cls = 0; cls < WEFT__CACHE_CLASSES; cls++) {
        if (c->head[cls])
            slab_give(rt, cls, c->head[cls]);
        c->head[cls] = NULL;
        c->count[cls] = 0;
    }
}
