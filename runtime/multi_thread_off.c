/* weft — the multi_thread scheduler when weft is built without
 * `-Dmulti_thread`: building such a runtime says WEFT_ENOTSUP. */
#include "rt.h"

static int off_create(weft__rt *rt, const weft_builder *b) {
    (void)rt;
    (void)b;
    return WEFT_ENOTSUP;
}

const weft__sched_ops weft__multi_thread_ops = {
    .name = "multi_thread (not built)",
    .create = off_create,
};
