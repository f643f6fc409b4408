/* weft — task blocks: a slab allocator with 16-byte size classes.
 *
 * A task block comes from a 256 KiB chunk that holds blocks of one size
 * only, so a block costs its size and nothing more (malloc would add its
 * header and round up: 144 bytes for a 128-byte task).  A chunk is aligned
 * to its size, so a freed block finds its chunk by masking its address.
 *
 * A block finds its runtime through its chunk's header (weft__chunk_rt),
 * so a task needs no word for it.
 *
 * A simulated runtime (and one recording a timeline) instead carves blocks
 * of every class from arenas that grow from 16 KiB (doubling up to 1 MiB)
 * and keeps freed blocks on per-class lists until it is freed.  Each such
 * block is prefixed by its runtime and task id (weft__block_prefix), as is
 * every block above 1 KiB.  It is made and freed once per seed
 * with a handful of tasks: per-class chunks would ask malloc for 512 KiB
 * per size class, memory malloc maps (or grows its heap for) and gives
 * back to the OS at every seed, to be faulted in again at the next; one
 * small arena stays in malloc's heap from seed to seed.
 *
 * Each driving thread keeps an unlocked cache of free blocks per class and
 * trades with the runtime's slab in batches; other threads take and give
 * one block at a time under the slab's lock.  A chunk hands out its never
 * used blocks from a bump index (so pages are touched only when needed)
 * and then those given back; once every block is back, the chunk is
 * released, except one kept per class as a spare.  Blocks above 1 KiB come
 * straight from the runtime's allocator.
 *
 * The slab holds one reference on the runtime while any block is out (in
 * use or in a thread cache), so a task needs none of its own: no shared
 * counter is touched per spawn.  The tasks alive are counted per cache by
 * its own thread and summed on demand (weft__slab_alive).
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

#define CHUNK_SIZE WEFT__CHUNK_SIZE
#define ARENA_FIRST ((size_t)16 * 1024) /* the simulator's first arena */
#define ARENA_MAX ((size_t)1024 * 1024)
#define ARENA_SLACK ((size_t)64) /* left to malloc's header, so that an arena
                                  * it maps fills its pages and no more */
#define CHUNK_HDR ((size_t)128) /* the chunk's header, then its blocks */
#define PREFIX sizeof(weft__block_prefix) /* before an arena's or a large block */
#define BATCH 64u              /* blocks a thread cache takes at once, at most:
                                * 4 the first time, twice as many each next */
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
    _Alignas(64) weft__rt *rt;  /* its own line (weft__chunk_rt) */
} chunk;
_Static_assert(sizeof(chunk) <= CHUNK_HDR, "the chunk header fits its slot");
_Static_assert(offsetof(chunk, rt) == WEFT__CHUNK_RT, "weft__chunk_rt finds the runtime");
_Static_assert(PREFIX == 16, "a prefix keeps the block 16-aligned");

typedef struct slab_class {
    chunk *partial; /* chunks with a block to give */
    chunk *spare;   /* one empty chunk kept for the next burst */
    void *free;     /* arena mode: blocks given back */
} slab_class;

/* An arena (the simulator's): its header, then blocks of any class. */
typedef struct arena {
    struct arena *next; /* every arena, for the slab's destroy */
    size_t size;
} arena;
#define ARENA_HDR ((sizeof(arena) + 15u) & ~(size_t)15u)

/* One lock for every field: threads come here once per batch. */
struct weft__slab {
    weft__mutex lock;
    uint64_t touched;      /* classes that ever had a chunk */
    bool arenas;           /* arena mode (a simulated runtime) */
    arena *arena_list;     /* newest first */
    char *bump, *bump_end; /* what the newest arena has not handed out */
    uint64_t out;          /* blocks out of the chunks, and large blocks */
    uint64_t allocs, frees; /* task blocks not counted by a listed cache */
    weft__task_cache *caches; /* listed caches */
    slab_class cls[WEFT__CACHE_CLASSES];
};

/* `n` more blocks are out (lock held): the first takes the runtime
 * reference.  The caller holds a reference of its own meanwhile. */
static inline void out_add(weft__rt *rt, uint64_t n) {
    if (n && rt->slab->out == 0)
        weft__rt_ref(rt);
    rt->slab->out += n;
}

/* One block fewer out (lock held); true when it was the last: the caller
 * drops the runtime reference once it has unlocked. */
static inline bool out_sub(weft__rt *rt) { return --rt->slab->out == 0; }

static inline size_t class_size(unsigned cls) { return (size_t)(cls + 1) * WEFT__CACHE_GRAIN; }

/* What a free list of class `cls` holds: blocks, or in arena mode units
 * of a prefix and its block (the list points at the prefix). */
static inline size_t unit_size(const struct weft__slab *sl, unsigned cls) {
    return class_size(cls) + (sl->arenas ? PREFIX : 0);
}

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
    size_t csize = CHUNK_SIZE;
    void *raw = weft__alloc(rt, 2 * csize);
    if (!raw)
        return NULL;
    chunk *ch = (chunk *)(((uintptr_t)raw + csize - 1) & ~(uintptr_t)(csize - 1));
    size_t size = class_size(cls);
    *ch = (chunk){.raw = raw, .nblocks = (uint32_t)((csize - CHUNK_HDR) / size),
                  .size = (uint32_t)size, .rt = rt};
    POISON((char *)ch + CHUNK_HDR, csize - CHUNK_HDR);
    return ch;
}

static void chunk_release(weft__rt *rt, chunk *ch) {
    void *raw = ch->raw;
    size_t csize = CHUNK_SIZE;
    UNPOISON((char *)ch + CHUNK_HDR, csize - CHUNK_HDR);
    weft__free(rt, raw, 2 * csize);
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

/* Arena mode: one block of class `cls` (slab lock held), or NULL. */
static void *arena_take(weft__rt *rt, slab_class *c, size_t size) {
    struct weft__slab *sl = rt->slab;
    void *b = c->free;
    if (b) {
        c->free = next_of(b);
        UNPOISON(b, size);
        return b;
    }
    if ((size_t)(sl->bump_end - sl->bump) < size) {
        size_t grow = sl->arena_list ? 2 * (sl->arena_list->size + ARENA_SLACK) : ARENA_FIRST;
        if (grow > ARENA_MAX)
            grow = ARENA_MAX;
        grow -= ARENA_SLACK;
        arena *a = weft__alloc(rt, grow);
        if (!a)
            return NULL;
        /* What the last one had left goes unused: at most a block. */
        *a = (arena){sl->arena_list, grow};
        sl->arena_list = a;
        sl->bump = (char *)a + ARENA_HDR;
        sl->bump_end = (char *)a + grow;
        POISON(sl->bump, (size_t)(sl->bump_end - sl->bump));
    }
    b = sl->bump;
    sl->bump += size;
    UNPOISON(b, size);
    return b;
}

/* Takes up to `n` blocks of class `cls` onto the list `*out`; returns how
 * many (0: out of memory). `task`: the one block is for a task right away
 * (no cache counts it). */
static uint32_t slab_take(weft__rt *rt, unsigned cls, uint32_t n, void **out, bool task) {
    slab_class *c = &rt->slab->cls[cls];
    uint32_t got = 0;
    weft__mutex_lock(&rt->slab->lock);
    while (got < n && rt->slab->arenas) {
        void *b = arena_take(rt, c, unit_size(rt->slab, cls));
        if (!b)
            break;
        park_block(b, unit_size(rt->slab, cls), *out);
        *out = b;
        got++;
    }
    while (got < n && !rt->slab->arenas) {
        chunk *ch = c->partial;
        if (!ch) {
            ch = c->spare;
            c->spare = NULL;
            if (!ch)
                ch = chunk_new(rt, cls);
            if (!ch)
                break;
            rt->slab->touched |= UINT64_C(1) << cls;
            partial_push(c, ch);
        }
        void *b = chunk_take(c, ch);
        park_block(b, ch->size, *out);
        *out = b;
        got++;
    }
    out_add(rt, got);
    if (task)
        rt->slab->allocs += got;
    weft__mutex_unlock(&rt->slab->lock);
    return got;
}

/* Gives back one block (slab lock held); true if it was the last out. */
static bool slab_give_one(weft__rt *rt, slab_class *c, void *b, size_t size) {
    if (rt->slab->arenas) {
        park_block(b, size, c->free);
        c->free = b;
        return out_sub(rt);
    }
    chunk *ch = chunk_of(b);
    park_block(b, ch->size, ch->free);
    ch->free = b;
    if (!ch->partial)
        partial_push(c, ch);
    bool last = out_sub(rt);
    if (--ch->live)
        return last;
    /* Every block is back: keep the chunk as the spare, fresh, or release it. */
    partial_remove(c, ch);
    if (c->spare) {
        chunk_release(rt, ch);
        return last;
    }
    ch->free = NULL;
    ch->carved = 0;
    POISON((char *)ch + CHUNK_HDR, CHUNK_SIZE - CHUNK_HDR);
    c->spare = ch;
    return last;
}

/* Gives back the blocks of the list `blocks`; `task`: one block, of a task
 * no cache counted.  The last block out drops the slab's reference on the
 * runtime, which may free it. */
static void slab_give(weft__rt *rt, unsigned cls, void *blocks, bool task) {
    slab_class *c = &rt->slab->cls[cls];
    bool last = false;
    weft__mutex_lock(&rt->slab->lock);
    if (task)
        rt->slab->frees++;
    while (blocks) {
        void *b = blocks;
        blocks = next_of(b);
        last = slab_give_one(rt, c, b, unit_size(rt->slab, cls));
    }
    weft__mutex_unlock(&rt->slab->lock);
    if (last)
        weft__rt_unref(rt);
}

/* Blocks above 1 KiB: from the allocator, prefixed, counted out all the
 * same.  `size` counts the prefix. */
static void *large_alloc(weft__rt *rt, size_t size, bool task) {
    void *b = weft__alloc(rt, size);
    if (!b)
        return NULL;
    weft__mutex_lock(&rt->slab->lock);
    out_add(rt, 1);
    if (task)
        rt->slab->allocs++;
    weft__mutex_unlock(&rt->slab->lock);
    return b;
}

static void large_free(weft__rt *rt, void *b, size_t size, bool task) {
    weft__free(rt, b, size);
    weft__mutex_lock(&rt->slab->lock);
    if (task)
        rt->slab->frees++;
    bool last = out_sub(rt);
    weft__mutex_unlock(&rt->slab->lock);
    if (last)
        weft__rt_unref(rt);
}

/* ------------------------------------------------------------ the slab */

int weft__slab_create(weft__rt *rt) {
    rt->slab = weft__alloc(rt, sizeof *rt->slab);
    if (!rt->slab)
        return WEFT_ENOMEM;
    memset(rt->slab, 0, sizeof *rt->slab);
    /* The simulator and the timeline name tasks by id: their blocks are
     * prefixed, from arenas. */
    rt->slab->arenas = rt->config.flavor == WEFT_SIM || rt->prof != NULL;
    weft__mutex_init(&rt->slab->lock);
    return 0;
}

uint64_t weft__slab_alive(weft__rt *rt, uint64_t *allocated) {
    weft__mutex_lock(&rt->slab->lock);
    uint64_t allocs = rt->slab->allocs, frees = rt->slab->frees;
    for (weft__task_cache *c = rt->slab->caches; c; c = c->next) {
        allocs += atomic_load_explicit(&c->allocs, memory_order_relaxed);
        frees += atomic_load_explicit(&c->frees, memory_order_relaxed);
    }
    weft__mutex_unlock(&rt->slab->lock);
    if (allocated)
        *allocated = allocs;
    /* A block freed through one cache may show before its allocation
     * through another does. */
    return allocs > frees ? allocs - frees : 0;
}

/* Releases every chunk.  By now each block is back (the slab holds a
 * reference on the runtime while one is out), so every chunk is a spare. */
void weft__slab_destroy(weft__rt *rt) {
    if (!rt->slab)
        return;
    for (arena *a = rt->slab->arena_list, *next; a; a = next) {
        next = a->next;
        UNPOISON((char *)a + ARENA_HDR, a->size - ARENA_HDR);
        weft__free(rt, a, a->size);
    }
    for (uint64_t m = rt->slab->touched; m; m &= m - 1) {
        slab_class *c = &rt->slab->cls[__builtin_ctzll(m)];
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

/* The calling thread's cache for `rt`, listed with the slab, or NULL. */
static inline weft__task_cache *cache_for(weft__rt *rt) {
    weft__task_cache *c = weft__cur.rt == rt ? weft__cur.cache : NULL;
    if (c && !c->listed) {
        weft__mutex_lock(&rt->slab->lock);
        c->next = rt->slab->caches;
        rt->slab->caches = c;
        c->listed = true;
        c->arenas = rt->slab->arenas;
        weft__mutex_unlock(&rt->slab->lock);
    }
    return c;
}

/* +1 on a counter only its own thread writes. */
static inline void count(_Atomic uint64_t *n) {
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void *block_alloc_slow(weft__rt *rt, size_t size, bool *prefixed);
static void block_free_slow(weft__rt *rt, void *b, size_t size, bool prefixed);

/* The driving thread's cache, when it serves `rt` and is listed. */
static inline weft__task_cache *listed_cache(weft__rt *rt) {
    weft__task_cache *c = weft__cur.cache;
    return c && weft__cur.rt == rt && c->listed ? c : NULL;
}

/* Spawn's path: a block off the thread's cache, else the slow way. */
void *weft__block_alloc(weft__rt *rt, size_t size, bool *prefixed) {
    unsigned cls = size_class(size);
    weft__task_cache *c = listed_cache(rt);
    void *b;
    if (__builtin_expect(c && cls < WEFT__CACHE_CLASSES && (b = c->head[cls]), 1)) {
        c->head[cls] = next_of(b);
        c->count[cls]--;
        bool arenas = c->arenas;
        UNPOISON(b, class_size(cls) + (arenas ? PREFIX : 0));
        count(&c->allocs);
        *prefixed = arenas;
        return arenas ? (char *)b + PREFIX : b;
    }
    return block_alloc_slow(rt, size, prefixed);
}

/* The task's end: its block onto the thread's cache, else the slow way. */
void weft__block_free(weft__rt *rt, void *b, size_t size, bool prefixed) {
    unsigned cls = size_class(size);
    weft__task_cache *c = listed_cache(rt);
    if (__builtin_expect(c && cls < WEFT__CACHE_CLASSES && c->count[cls] < LOCAL_CAP, 1)) {
        if (prefixed)
            b = (char *)b - PREFIX;
        count(&c->frees);
        park_block(b, class_size(cls) + (prefixed ? PREFIX : 0), c->head[cls]);
        c->head[cls] = b;
        c->used |= UINT64_C(1) << cls;
        c->count[cls]++;
        return;
    }
    block_free_slow(rt, b, size, prefixed);
}

WEFT__NOINLINE static void *block_alloc_slow(weft__rt *rt, size_t size,
                                                        bool *prefixed) {
    unsigned cls = size_class(size);
    weft__task_cache *c = cache_for(rt);
    bool arenas = rt->slab->arenas;
    void *b = NULL;
    if (cls >= WEFT__CACHE_CLASSES) {
        b = large_alloc(rt, PREFIX + size, !c);
        arenas = true; /* prefixed */
    } else if (!c) {
        if (slab_take(rt, cls, 1, &b, true))
            UNPOISON(b, unit_size(rt->slab, cls));
    } else {
        if (!c->head[cls]) {
            /* A class used a little takes a little (a seed of the
             * simulator spawns a few tasks, and gives all back). */
            uint32_t batch = 4u << c->grown[cls];
            if (batch < BATCH)
                c->grown[cls]++;
            c->count[cls] = slab_take(rt, cls, batch, &c->head[cls], false);
            c->used |= UINT64_C(1) << cls;
        }
        b = c->head[cls];
        if (b) {
            c->head[cls] = next_of(b);
            c->count[cls]--;
            UNPOISON(b, unit_size(rt->slab, cls));
        }
    }
    if (b && c)
        count(&c->allocs);
    *prefixed = arenas;
    return b && arenas ? (char *)b + PREFIX : b;
}

WEFT__NOINLINE static void block_free_slow(weft__rt *rt, void *b, size_t size,
                                                      bool prefixed) {
    unsigned cls = size_class(size);
    weft__task_cache *c = cache_for(rt);
    if (c)
        count(&c->frees);
    if (prefixed) /* the unit starts at the prefix */
        b = (char *)b - PREFIX;
    if (cls >= WEFT__CACHE_CLASSES) {
        large_free(rt, b, PREFIX + size, !c);
        return;
    }
    if (!c) {
        set_next(b, NULL);
        slab_give(rt, cls, b, true);
        return;
    }
    park_block(b, unit_size(rt->slab, cls), c->head[cls]);
    c->head[cls] = b;
    c->used |= UINT64_C(1) << cls;
    if (++c->count[cls] <= LOCAL_CAP)
        return;
    /* Over the cap: give the older half back. */
    void *keep = c->head[cls];
    for (uint32_t i = 1; i < LOCAL_CAP / 2; i++)
        keep = next_of(keep);
    void *rest = next_of(keep);
    set_next(keep, NULL);
    c->count[cls] = LOCAL_CAP / 2;
    slab_give(rt, cls, rest, false);
}

void weft__task_cache_clear(weft__rt *rt, weft__task_cache *c) {
    if (!c->listed)
        return; /* never used */
    /* Off the list first, its counts kept by the slab: the blocks given
     * back below may free the runtime. */
    weft__mutex_lock(&rt->slab->lock);
    weft__task_cache **pp = &rt->slab->caches;
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    rt->slab->allocs += atomic_load_explicit(&c->allocs, memory_order_relaxed);
    rt->slab->frees += atomic_load_explicit(&c->frees, memory_order_relaxed);
    weft__mutex_unlock(&rt->slab->lock);
    c->listed = false;
    atomic_store_explicit(&c->allocs, 0, memory_order_relaxed);
    atomic_store_explicit(&c->frees, 0, memory_order_relaxed);
    void *lists[WEFT__CACHE_CLASSES];
    uint64_t used = c->used;
    c->used = 0;
    for (uint64_t m = used; m; m &= m - 1) {
        unsigned cls = (unsigned)__builtin_ctzll(m);
        lists[cls] = c->head[cls];
        c->head[cls] = NULL;
        c->count[cls] = 0;
        c->grown[cls] = 0;
    }
    for (uint64_t m = used; m; m &= m - 1) {
        unsigned cls = (unsigned)__builtin_ctzll(m);
        if (lists[cls])
            slab_give(rt, cls, lists[cls], false);
    }
}
