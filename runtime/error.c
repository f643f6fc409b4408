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
    default:
        return WEFT_EIO;
    }
}
