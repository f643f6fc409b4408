/* weft — the time driver when weft is built without `-Dtime`: runtimes
 * refuse enable_time, and time queries read the OS clock. */
#include "rt.h"

int weft__time_create(weft__rt *rt, bool start_paused) {
    (void)rt;
    (void)start_paused;
    return WEFT_ENOTSUP;
}
void weft__time_destroy(weft__rt *rt) { (void)rt; }
size_t weft__time_process(weft__rt *rt) {
    (void)rt;
    return 0;
}
uint64_t weft__time_park_deadline(weft__rt *rt) {
    (void)rt;
    return UINT64_MAX;
}
bool weft__time_auto_advance(weft__rt *rt) {
    (void)rt;
    return false;
}
uint64_t weft__time_count(weft__rt *rt) {
    (void)rt;
    return 0;
}
weft_instant weft_now(void) { return weft__os_now_ns(); }
uint64_t weft__time_now(weft__rt *rt) {
    (void)rt;
    return 0;
}
