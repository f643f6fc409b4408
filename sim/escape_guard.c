/* weft — the escape guard: calls that leak real non-determinism into a
 * simulated run, caught in a test binary and failing the run.
 *
 * A simulated run replays from its seed only while everything it reads
 * comes from the simulation.  The real clock (clock_gettime, gettimeofday,
 * time), libc's random streams (rand, random), the kernel's (getrandom),
 * OS threads (pthread_create) and real sleeping (sleep, usleep, nanosleep)
 * each make a run depend on the machine.  Linked into a test binary with
 * the linker's --wrap for each of those names (the weft_escape_guard
 * dependency adds the flags), every call to them from that binary's code
 * comes here first: during a simulated task's poll it fails the run,
 * naming the call and the task (weft_sim_escape); the call then goes on
 * to the real function, so a program outside the simulation, or between
 * runs, behaves as without the guard.
 *
 * --wrap, not symbol interposition or a preload library: it rewrites only
 * the calls made by the objects of the link (the code under test), never
 * those of libc, of the sanitizers' runtimes, or of weft itself, whose own
 * clock readings (between runs, in the harness) are no escape.
 *
 *   cc test.c -lweft-escape-guard -Wl,--wrap=clock_gettime,--wrap=gettimeofday,
 *      --wrap=time,--wrap=rand,--wrap=random,--wrap=getrandom,
 *      --wrap=pthread_create,--wrap=sleep,--wrap=usleep,--wrap=nanosleep -lweft
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "weft/sim.h"

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __real_gettimeofday(struct timeval *tv, void *tz);
time_t __real_time(time_t *t);
int __real_rand(void);
long __real_random(void);
ssize_t __real_getrandom(void *buf, size_t len, unsigned flags);
int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
unsigned __real_sleep(unsigned secs);
int __real_usleep(useconds_t us);
int __real_nanosleep(const struct timespec *req, struct timespec *rem);

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts) {
    weft_sim_escape("clock_gettime", "the real clock: read weft_now()");
    return __real_clock_gettime(clk, ts);
}

int __wrap_gettimeofday(struct timeval *tv, void *tz);
int __wrap_gettimeofday(struct timeval *tv, void *tz) {
    weft_sim_escape("gettimeofday", "the real clock: read weft_now()");
    return __real_gettimeofday(tv, tz);
}

time_t __wrap_time(time_t *t);
time_t __wrap_time(time_t *t) {
    weft_sim_escape("time", "the real clock: read weft_now()");
    return __real_time(t);
}

int __wrap_rand(void);
int __wrap_rand(void) {
    weft_sim_escape("rand", "libc's random stream: draw weft_random_u64()");
    return __real_rand();
}

long __wrap_random(void);
long __wrap_random(void) {
    weft_sim_escape("random", "libc's random stream: draw weft_random_u64()");
    return __real_random();
}

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags) {
    weft_sim_escape("getrandom", "the kernel's randomness: draw weft_random_u64()");
    return __real_getrandom(buf, len, flags);
}

int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg) {
    weft_sim_escape("pthread_create", "an OS thread, scheduled by the OS: spawn a task, or "
                                      "weft_spawn_blocking");
    return __real_pthread_create(th, attr, fn, arg);
}

unsigned __wrap_sleep(unsigned secs);
unsigned __wrap_sleep(unsigned secs) {
    weft_sim_escape("sleep", "real sleeping: await weft_sleep()");
    return __real_sleep(secs);
}

int __wrap_usleep(useconds_t us);
int __wrap_usleep(useconds_t us) {
    weft_sim_escape("usleep", "real sleeping: await weft_sleep()");
    return __real_usleep(us);
}

int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem) {
    weft_sim_escape("nanosleep", "real sleeping: await weft_sleep()");
    return __real_nanosleep(req, rem);
}
