/* weft — error codes.
 *
 * Every fallible weft call returns 0 or a negative code from this one table.
 * Platform errors (errno, WSA, NTSTATUS) are translated into it at the edge,
 * so code whose tasks move between threads never reads errno.
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include "weft/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define WEFT_ERRNO_MAP(X)                                                      \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(ESHUTDOWN, -3, "runtime is shut down")                                   \
    X(ECANCELED, -4, "task was cancelled")                                     \
    X(ENESTED, -5, "Cannot start a runtime from within a runtime")             \
    X(EJOINED, -6, "join handle was already joined or detached")               \
    X(ETIMEDOUT, -7, "deadline elapsed")                                       \
    X(ECLOSED, -8, "channel or primitive is closed")                           \
    X(EAGAIN, -9, "operation would block")                                     \
    X(ENORUNTIME, -10, "no weft runtime is running on this thread")            \
    X(EBUSY, -11, "resource is busy")                                          \
    X(ENOTSUP, -12, "operation not supported by this runtime")                 \
    X(ELAGGED, -13, "receiver lagged behind and missed values")                \
    X(EFULL, -14, "no capacity left")                                          \
    X(EDEADLOCK, -15, "tasks are blocked and nothing can wake them")           \
    X(ELIVELOCK, -16, "run exceeded its step or virtual-time limit")           \
    X(EFAILED, -17, "task failed")                                             \
    X(EIO, -18, "input/output error")                                          \
    X(ERANGE, -19, "value out of range")                                       \
    X(ECONNREFUSED, -20, "connection refused")                                 \
    X(ECONNRESET, -21, "connection reset by peer")                             \
    X(ECONNABORTED, -22, "connection aborted")                                 \
    X(EPIPE, -23, "broken pipe: the peer no longer reads")                     \
    X(EADDRINUSE, -24, "address already in use")                               \
    X(EADDRNOTAVAIL, -25, "address not available")                             \
    X(ENETUNREACH, -26, "network is unreachable")                              \
    X(EHOSTUNREACH, -27, "host is unreachable")                                \
    X(EMFILE, -28, "too many open files in this process")                      \
    X(ENFILE, -29, "too many open files in the system")                        \
    X(ENOTCONN, -30, "socket is not connected")                                \
    X(EISCONN, -31, "socket is already connected")                             \
    X(ETRUNCATED, -32, "datagram truncated: larger than the buffer")           \
    X(EEOF, -33, "unexpected end of stream")                                   \
    X(ENOTFOUND, -34, "host name not found")                                   \
    X(ETRYAGAIN, -35, "temporary failure in name lookup")                      \
    X(EACCES, -36, "permission denied")                                        \
    X(ENOENT, -37, "no such file or directory")                                \
    X(EMSGSIZE, -38, "message too long")                                       \
    X(ENOBUFS, -39, "no buffer space available")                               \
    X(EAFNOSUPPORT, -40, "address family not supported")                       \
    X(ENETDOWN, -41, "network is down")                                        \
    /* the simulator's codes, from -60 on */                                   \
    X(ESCHEDULE, -60, "the schedule does not fit the code under test")

enum {
    WEFT_OK = 0,
#define WEFT__ERR_ENUM(name, value, msg) WEFT_##name = (value),
    WEFT_ERRNO_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
};

/* A sentence describing `err`; never NULL, also for unknown codes. */
WEFT_EXTERN const char *weft_strerror(int err);

/* The code's name ("WEFT_ETIMEDOUT"); "WEFT_UNKNOWN" for unknown codes. */
WEFT_EXTERN const char *weft_err_name(int err);

/* Translates a positive errno value into a weft code (EIO for the rest). */
WEFT_EXTERN int weft_translate_errno(int sys_errno);

#ifdef __cplusplus
}
#endif
#endif
