/* weft — the error table's strings and errno translation. */
#include <errno.h>

#include "weft/error.h"

const char *weft_strerror(int err) {
    switch (err) {
    case 0:
        return "success";
#define WEFT__ERR_STR(name, value, msg)                                        \
    case (value):                                                              \
        return msg;
        WEFT_ERRNO_MAP(WEFT__ERR_STR)
#undef WEFT__ERR_STR
    default:
        return "unknown weft error";
    }
}

const char *weft_err_name(int err) {
    switch (err) {
    case 0:
        return "WEFT_OK";
#define WEFT__ERR_NAME(name, value, msg)                                       \
    case (value):                                                              \
        return "WEFT_" #name;
        WEFT_ERRNO_MAP(WEFT__ERR_NAME)
#undef WEFT__ERR_NAME
    default:
        return "WEFT_UNKNOWN";
    }
}

int weft_translate_errno(int e) {
    if (e == EWOULDBLOCK) /* may differ from EAGAIN */
        return WEFT_EAGAIN;
    switch (e) {
    case 0:
        return 0;
    case EINVAL:
        return WEFT_EINVAL;
    case ENOMEM:
        return WEFT_ENOMEM;
    case EAGAIN:
        return WEFT_EAGAIN;
    case ETIMEDOUT:
        return WEFT_ETIMEDOUT;
    case EBUSY:
        return WEFT_EBUSY;
    case ECANCELED:
        return WEFT_ECANCELED;
    case ERANGE:
        return WEFT_ERANGE;
    case ENOTSUP:
        return WEFT_ENOTSUP;
    case ECONNREFUSED:
        return WEFT_ECONNREFUSED;
    case ECONNRESET:
        return WEFT_ECONNRESET;
    case ECONNABORTED:
        return WEFT_ECONNABORTED;
    case EPIPE:
        return WEFT_EPIPE;
    case EADDRINUSE:
        return WEFT_EADDRINUSE;
    case EADDRNOTAVAIL:
        return WEFT_EADDRNOTAVAIL;
    case ENETUNREACH:
        return WEFT_ENETUNREACH;
    case EHOSTUNREACH:
        return WEFT_EHOSTUNREACH;
    case EMFILE:
        return WEFT_EMFILE;
    case ENFILE:
        return WEFT_ENFILE;
    case ENOTCONN:
        return WEFT_ENOTCONN;
    case EISCONN:
        return WEFT_EISCONN;
    case EACCES:
    case EPERM:
        return WEFT_EACCES;
    case ENOENT:
        return WEFT_ENOENT;
    case EMSGSIZE:
        return WEFT_EMSGSIZE;
    case ENOBUFS:
        return WEFT_ENOBUFS;
    case EAFNOSUPPORT:
        return WEFT_EAFNOSUPPORT;
    case ENETDOWN:
        return WEFT_ENETDOWN;
    case EHOSTDOWN:
        return WEFT_EHOSTUNREACH;
    case EBADF:
    case ENOTSOCK:
        return WEFT_EINVAL;
    default:
        return WEFT_EIO;
    }
}
