/* weft — the timeline model (private): tracks grouped by host or process,
 * slices, instants and flows, written as Chrome trace-event JSON (which
 * Perfetto and chrome://tracing open) or as a self-contained HTML page.
 *
 * Producers fill it: the simulator from its events (sim/timeline_sim.c),
 * a production runtime from its poll records (runtime/profile.c).  The
 * model knows nothing of either, so a simulated network adds a group per
 * host, and a flow per message (category "message", its drop reason in
 * the detail), without touching the writers.
 *
 * Times are "display" nanoseconds: the producer decides what they mean
 * (virtual time under the simulator, the OS clock in production).
 * Strings the model is given are copied; it owns everything it holds.
 */
#ifndef WEFT_RUNTIME_TIMELINE_H
#define WEFT_RUNTIME_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { WEFT__TL_SLICE = 0, WEFT__TL_INSTANT = 1, WEFT__TL_FLOW = 2 };

#define WEFT__TL_NO_STEP UINT64_MAX

typedef struct weft__tl_track {
    uint32_t group; /* index into groups: a simulated host, a process */
    char *name;
} weft__tl_track;

typedef struct weft__tl_item {
    uint8_t type;       /* WEFT__TL_SLICE / INSTANT / FLOW */
    bool failure;       /* the failing event: highlighted */
    uint32_t track;     /* where it is drawn (a flow: where it starts) */
    uint32_t to_track;  /* a flow: where it ends */
    uint64_t ts;        /* display ns (a flow: when it starts) */
    uint64_t dur;       /* a slice's length; a flow: end - start */
    uint64_t step;      /* the scheduling step, or WEFT__TL_NO_STEP */
    uint64_t vt;        /* virtual time (ns) under the simulator */
    const char *cat;    /* static: "poll", "wake", "timer", "fault", ... */
    char *name;
    char *line;         /* the event's line in the text trace, or NULL */
    char *detail;       /* free text shown when clicked, or NULL */
} weft__tl_item;

typedef struct weft__timeline {
    char *title;
    char *failure;        /* the run's failure, or NULL */
    bool sim;             /* steps and virtual time are meaningful */
    char **groups;
    size_t ngroups;
    weft__tl_track *tracks;
    size_t ntracks, cap_tracks;
    weft__tl_item *items;
    size_t nitems, cap_items;
    bool oom;             /* an allocation failed: the writers refuse */
} weft__timeline;

void weft__tl_init(weft__timeline *tl, const char *title, bool sim);
void weft__tl_free(weft__timeline *tl);
uint32_t weft__tl_add_group(weft__timeline *tl, const char *name);
uint32_t weft__tl_add_track(weft__timeline *tl, uint32_t group, const char *name);
/* Appends an item (name, line and detail are copied); returns it, or NULL
 * when out of memory (the timeline then remembers it). */
weft__tl_item *weft__tl_add(weft__timeline *tl, uint8_t type, uint32_t track, uint64_t ts,
                            const char *cat, const char *name);
void weft__tl_set_text(weft__timeline *tl, char **field, const char *text);

/* Chrome trace-event JSON ("traceEvents"), and the HTML page embedding the
 * same JSON with its viewer.  Both return 0 or a WEFT_E* code. */
int weft__tl_write_json(const weft__timeline *tl, FILE *f);
int weft__tl_write_html(const weft__timeline *tl, FILE *f);
/* Writes to `path`, the format chosen by its ending (".html": the page,
 * anything else: JSON). */
int weft__tl_write_file(const weft__timeline *tl, const char *path);
bool weft__tl_is_timeline_path(const char *path);

/* The viewer's script and style (timeline_html.c). */
extern const char weft__tl_viewer_css[];
extern const char weft__tl_viewer_js[];

#endif
