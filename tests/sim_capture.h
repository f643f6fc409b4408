/* weft tests — a simulator sweep with its stderr captured, for the suites
 * that check what a sweep prints (test_sim, test_timeline,
 * test_sim_inputs). */
#ifndef WEFT_TESTS_SIM_CAPTURE_H
#define WEFT_TESTS_SIM_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft/sim.h"

/* Runs a sweep with stderr captured into `buf`; returns its failures. */
static inline int captured_sweep(const weft_sim_test *t, char *buf, size_t n) {
    char path[] = "/tmp/weft-err-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int failed = weft_sim_sweep(t);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t got = read(fd, buf, n - 1);
    buf[got > 0 ? got : 0] = 0;
    close(fd);
    unlink(path);
    return failed;
}

#endif
