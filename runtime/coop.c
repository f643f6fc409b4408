/* weft — the cooperative budget.
 *
 * A task that always finds its leaf futures ready (a channel full of
 * messages, JoinHandles of finished tasks) would never return to its
 * scheduler.  The budget bounds the leaf polls per scheduling: the task
 * poller grants WEFT__COOP_BUDGET (task.c), each leaf spends one, and the
 * leaf that finds it spent pretends to be pending after asking to be
 * polled again behind the other ready tasks.  The budget lives with the
 * thread (weft__coop_cur) rather than the context, because a context is copied
 * freely by combinators while the budget belongs to the one running poll.
 */
#include "rt.h"

_Thread_local weft__coop weft__coop_cur;

bool weft_coop_proceed(weft_context *cx) {
    if (!weft__coop_cur.active)
        return true;
    if (weft__coop_cur.left > 0) {
        weft__coop_cur.left--;
        return true;
    }
    weft_yield_request(cx);
    return false;
}
