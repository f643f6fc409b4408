/* weft example — a channel, a JoinSet and a timeout together.
 *
 * Three producers, spawned into a JoinSet, send numbers into one bounded
 * mpsc channel; a fourth is stuck (it would send in an hour).  main
 * receives with a timeout on each receive: when nothing arrives for
 * 100 ms it stops waiting, aborts what is left of the set and joins every
 * task, printing how each one ended.  The clock is paused (WEFT_MAIN's
 * .paused), so the times printed are exact and the output is the same on
 * every run: docs/guide.md shows it, and CI checks that it still matches.
 *
 *   build/examples/pipeline
 */
#include <stdio.h>
#include <string.h>

#include "weft/sync.h"
#include "weft/time.h"
#include "weft/weft.h"

/* Sends id*100 + k for k = 0, 1, 2, one every `every_ms`. */
typedef struct producer {
    weft_future base;
    int id, every_ms;
    weft_mpsc_tx *tx; /* its own sender: released when it ends */
    int k, value, rc;
    weft_sleep nap;
    weft_mpsc_send_op send;
} producer;

static weft_poll producer_poll(weft_future *f, weft_context *cx, void *out) {
    producer *p = (producer *)f;
    WEFT_BEGIN(f);
    for (p->k = 0; p->k < 3; p->k++) {
        WEFT_AWAIT(f, cx, weft_sleep(&p->nap, WEFT_MS(p->every_ms)), NULL);
        p->value = p->id * 100 + p->k; /* the send op reads it until done */
        WEFT_AWAIT(f, cx, weft_mpsc_send(&p->send, p->tx, &p->value), &p->rc);
        if (p->rc != 0)
            break;
    }
    WEFT_RETURN(f, out, int, p->k); /* how many it sent */
    WEFT_END(f);
}

/* Completed or aborted, the producer's sender goes with it. */
static void producer_drop(weft_future *f) { weft_mpsc_tx_drop(((producer *)f)->tx); }
WEFT_FUTURE_DEFINE(producer, producer_poll, producer_drop, int);

typedef struct app {
    weft_future base;
    int argc;
    char **argv;
    int i, value, rc, sent, received;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    weft_join_set set;
    weft_mpsc_recv_op recv;
    weft_timeout limit;
    weft_join_next_op next;
} app;

static int usage(const char *prog, FILE *to) {
    fprintf(to, "usage: %s [--help]\n"
                "  three producers and a stuck one feed a channel; main receives with a\n"
                "  100 ms timeout, then aborts the JoinSet and joins every task\n",
            prog);
    return to == stdout ? 0 : 2;
}

static int start_producers(app *s) {
    /* ids 1..3 send every 10, 20, 30 ms; id 4 would wait an hour */
    static const int every_ms[4] = {10, 20, 30, 3600 * 1000};
    for (int i = 0; i < 4; i++) {
        producer p = WEFT_NEW(producer, .id = i + 1, .every_ms = every_ms[i],
                              .tx = weft_mpsc_tx_clone(s->tx));
        int err = weft_join_set_spawn(&s->set, &p, NULL);
        if (err)
            return err;
    }
    weft_mpsc_tx_drop(s->tx); /* the producers hold the only senders now */
    s->tx = NULL;
    return 0;
}

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *s = (app *)f;
    WEFT_BEGIN(f);
    if (s->argc == 2 && strcmp(s->argv[1], "--help") == 0)
        WEFT_RETURN(f, out, int, usage(s->argv[0], stdout));
    if (s->argc > 1) {
        fprintf(stderr, "%s: unknown argument '%s'\n", s->argv[0], s->argv[1]);
        WEFT_RETURN(f, out, int, usage(s->argv[0], stderr));
    }
    if (weft_mpsc_bounded(sizeof(int), 4, NULL, &s->tx, &s->rx) != 0)
        WEFT_RETURN(f, out, int, 1);
    weft_join_set_init(&s->set, NULL, NULL);
    if (start_producers(s) != 0)
        WEFT_RETURN(f, out, int, 1);

    for (;;) {
        /* The timeout owns the receive: when it fires, it drops the
         * receive, which is cancel-safe (no value is lost). */
        WEFT_AWAIT(f, cx, weft_timeout(&s->limit, WEFT_MS(100),
                                       weft_mpsc_recv(&s->recv, s->rx, &s->value)),
                   &s->rc);
        if (weft_timeout_status(&s->limit) == WEFT_ETIMEDOUT) {
            printf("%4lld ms  nothing for 100 ms: stop waiting\n",
                   (long long)(weft_now() / WEFT_MS(1)));
            break;
        }
        if (s->rc == WEFT_ECLOSED)
            break;
        s->received++;
        printf("%4lld ms  received %d\n", (long long)(weft_now() / WEFT_MS(1)), s->value);
    }

    weft_join_set_abort_all(&s->set); /* only the stuck one is left running */
    for (;;) {
        WEFT_AWAIT(f, cx, weft_join_next(&s->next, &s->set, &s->value), &s->rc);
        if (s->rc == WEFT_ECLOSED) /* the set is empty */
            break;
        if (s->next.status == 0) {
            s->sent += s->value;
            printf("task %llu: sent %d\n", (unsigned long long)s->next.id, s->value);
        } else {
            printf("task %llu: %s\n", (unsigned long long)s->next.id,
                   weft_err_name(s->next.status));
        }
    }
    weft_join_set_destroy(&s->set);
    weft_mpsc_rx_drop(s->rx);
    printf("received %d of %d sent\n", s->received, s->sent);
    WEFT_RETURN(f, out, int, s->received == s->sent ? 0 : 1);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

/* A paused clock: the hour the stuck producer waits costs nothing. */
WEFT_MAIN(app, .paused = true)
