/* weft — BSD sockets for the POSIX drivers (epoll, kqueue): the socket
 * calls of weft_io_sys, shared.  A driver embeds `weft__posix` first in
 * its state so these calls find the spare descriptor. */
#ifndef WEFT_IO_POSIX_SOCKETS_H
#define WEFT_IO_POSIX_SOCKETS_H

#include <pthread.h>

#include "weft/backend.h"

typedef struct weft__posix {
    /* A descriptor kept in reserve: out of descriptors, accept closes it,
     * accepts and closes the pending connection, and takes it back
     * (libuv's trick), so a readable listener is drained, not spun on. */
    int spare;
    pthread_mutex_t spare_lock;
} weft__posix;

int weft__posix_init(weft__posix *p);
void weft__posix_fini(weft__posix *p);

extern const weft_io_sys weft__posix_sys;

#endif
