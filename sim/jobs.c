/* weft — a sweep's worker processes (WEFT_JOBS): fork n children, each
 * running its share of the seeds and sending what it finds back over a
 * pipe as records, which the parent reads as they come (poll), so it can
 * show progress and put the failures back in seed order.
 *
 * Seeds share nothing, so processes are the simplest way to use the
 * cores: no runtime state is shared, a crashing seed takes down only its
 * worker, and each worker's run is the very run a replay makes.
 *
 * A record: one type byte, a little-endian u32 length, the payload.
 * Where fork is missing (Windows) weft__jobs_run says WEFT_ENOTSUP and
 * the sweep runs on one process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "weft/error.h"

#if defined(_WIN32)

int weft__jobs_send(int fd, char type, const void *data, size_t len) {
    (void)fd, (void)type, (void)data, (void)len;
    return WEFT_ENOTSUP;
}

int weft__jobs_run(unsigned jobs, const weft__jobs_hooks *h) {
    (void)jobs, (void)h;
    return WEFT_ENOTSUP;
}

#else

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return WEFT_EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int weft__jobs_send(int fd, char type, const void *data, size_t len) {
    unsigned char head[5] = {(unsigned char)type, (unsigned char)len, (unsigned char)(len >> 8),
                             (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
    int err = write_all(fd, head, sizeof head);
    return err ? err : write_all(fd, data, len);
}

typedef struct inbox {
    int fd;
    pid_t pid;
    char *buf;
    size_t len, cap;
} inbox;

/* Hands every whole record of `in` to the hook; keeps the tail. */
static void deliver(inbox *in, unsigned job, const weft__jobs_hooks *h) {
    size_t at = 0;
    while (in->len - at >= 5) {
        const unsigned char *p = (const unsigned char *)in->buf + at;
        size_t n = (size_t)p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16 | (size_t)p[4] << 24;
        if (in->len - at - 5 < n)
            break;
        h->on_record(h->ctx, job, (char)p[0], p + 5, n);
        at += 5 + n;
    }
    memmove(in->buf, in->buf + at, in->len - at);
    in->len -= at;
}

int weft__jobs_run(unsigned jobs, const weft__jobs_hooks *h) {
    if (jobs == 0 || !h || !h->work || !h->on_record)
        return WEFT_EINVAL;
    inbox *in = calloc(jobs, sizeof *in);
    if (!in)
        return WEFT_ENOMEM;
    fflush(NULL); /* nothing buffered is written twice */
    unsigned started = 0;
    int err = 0;
    for (; started < jobs; started++) {
        int fds[2];
        if (pipe(fds) != 0) {
            err = weft_translate_errno(errno);
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            err = weft_translate_errno(errno);
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pid == 0) { /* the worker: its share, then gone without atexit hooks */
            close(fds[0]);
            for (unsigned i = 0; i < started; i++)
                close(in[i].fd);
            h->work(h->ctx, started, fds[1]);
            close(fds[1]);
            _exit(0);
        }
        close(fds[1]);
        in[started] = (inbox){fds[0], pid, NULL, 0, 0};
    }
    if (err && started == 0) {
        free(in);
        return err;
    }
    /* Reads until every worker closed its pipe; ticks between. */
    struct pollfd *pf = calloc(started, sizeof *pf);
    unsigned open_pipes = started;
    while (pf && open_pipes) {
        for (unsigned i = 0; i < started; i++)
            pf[i] = (struct pollfd){in[i].fd, POLLIN, 0};
        int n = poll(pf, started, 200);
        if (n < 0 && errno != EINTR)
            break;
        for (unsigned i = 0; n > 0 && i < started; i++) {
            if (in[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (in[i].cap - in[i].len < 4096) {
                size_t cap = in[i].cap ? in[i].cap * 2 : 8192;
                char *b = realloc(in[i].buf, cap);
                if (!b) {
                    err = WEFT_ENOMEM;
                    goto out;
                }
                in[i].buf = b;
                in[i].cap = cap;
            }
            ssize_t got = read(in[i].fd, in[i].buf + in[i].len, in[i].cap - in[i].len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(in[i].fd);
                in[i].fd = -1;
                pf[i].fd = -1;
                open_pipes--;
                continue;
            }
            in[i].len += (size_t)got;
            deliver(&in[i], i, h);
        }
        if (h->on_tick)
            h->on_tick(h->ctx);
    }
out:
    for (unsigned i = 0; i < started; i++) {
        if (in[i].fd >= 0) {
            close(in[i].fd);
            kill(in[i].pid, SIGKILL);
        }
        int status = 0;
        while (waitpid(in[i].pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && h->on_death)
            h->on_death(h->ctx, i, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        free(in[i].buf);
    }
    free(pf);
    free(in);
    return err;
}

#endif
