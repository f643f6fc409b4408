/* weft — the timeline model and its Chrome trace-event JSON writer.
 *
 * The JSON is the "JSON object" form of the trace-event format: a group is
 * a process (pid = group + 1), a track a thread in it (tid = track + 1),
 * a slice a complete event ("X"), an instant an "i", a flow a start ("s")
 * bound to the slice around it and a finish ("f", binding point "e") bound
 * to the slice that begins where it ends.  Timestamps are microseconds
 * with three decimals, so nanoseconds survive.  Strings are escaped so the
 * text can sit inside an HTML <script> as it is (no '<', '>' or '&').
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"
#include "timeline.h"

static char *dup_str(weft__timeline *tl, const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        tl->oom = true;
        return NULL;
    }
    memcpy(d, s, n);
    return d;
}

void weft__tl_init(weft__timeline *tl, const char *title, bool sim) {
    memset(tl, 0, sizeof *tl);
    tl->sim = sim;
    tl->title = dup_str(tl, title);
}

void weft__tl_free(weft__timeline *tl) {
    for (size_t i = 0; i < tl->nitems; i++) {
        free(tl->items[i].name);
        free(tl->items[i].line);
        free(tl->items[i].detail);
    }
    for (size_t i = 0; i < tl->ntracks; i++)
        free(tl->tracks[i].name);
    for (size_t i = 0; i < tl->ngroups; i++)
        free(tl->groups[i]);
    free(tl->items);
    free(tl->tracks);
    free(tl->groups);
    free(tl->title);
    free(tl->failure);
    memset(tl, 0, sizeof *tl);
}

static bool grow(weft__timeline *tl, void **arr, size_t *cap, size_t n, size_t size) {
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    void *a = realloc(*arr, c * size);
    if (!a) {
        tl->oom = true;
        return false;
    }
    *arr = a;
    *cap = c;
    return true;
}

uint32_t weft__tl_add_group(weft__timeline *tl, const char *name) {
    char **g = realloc(tl->groups, (tl->ngroups + 1) * sizeof *g);
    if (!g) {
        tl->oom = true;
        return 0;
    }
    tl->groups = g;
    g[tl->ngroups] = dup_str(tl, name);
    return (uint32_t)tl->ngroups++;
}

uint32_t weft__tl_add_track(weft__timeline *tl, uint32_t group, const char *name) {
    if (!grow(tl, (void **)&tl->tracks, &tl->cap_tracks, tl->ntracks, sizeof *tl->tracks))
        return 0;
    tl->tracks[tl->ntracks] = (weft__tl_track){group, dup_str(tl, name)};
    return (uint32_t)tl->ntracks++;
}

weft__tl_item *weft__tl_add(weft__timeline *tl, uint8_t type, uint32_t track, uint64_t ts,
                            const char *cat, const char *name) {
    if (!grow(tl, (void **)&tl->items, &tl->cap_items, tl->nitems, sizeof *tl->items))
        return NULL;
    weft__tl_item *it = &tl->items[tl->nitems++];
    *it = (weft__tl_item){.type = type, .track = track, .to_track = track, .ts = ts,
                          .step = WEFT__TL_NO_STEP, .cat = cat, .name = dup_str(tl, name)};
    return it;
}

void weft__tl_set_text(weft__timeline *tl, char **field, const char *text) {
    free(*field);
    *field = dup_str(tl, text);
}

/* ------------------------------------------------------------------ JSON */

static void put_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&')
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_us(FILE *f, uint64_t ns) {
    fprintf(f, "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

/* Events are separated by commas: the first one of the array has none. */
static void put_sep(FILE *f, bool *first) {
    fputs(*first ? "\n" : ",\n", f);
    *first = false;
}

static void put_head(FILE *f, bool *first, const char *ph, uint32_t pid, uint32_t tid,
                     uint64_t ts, const char *cat, const char *name) {
    put_sep(f, first);
    fprintf(f, "{\"ph\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":", ph, pid, tid);
    put_us(f, ts);
    fputs(",\"cat\":", f);
    put_json_str(f, cat);
    fputs(",\"name\":", f);
    put_json_str(f, name);
}

static void put_args(FILE *f, const weft__timeline *tl, const weft__tl_item *it) {
    fputs(",\"args\":{", f);
    const char *sep = "";
    if (it->step != WEFT__TL_NO_STEP) {
        fprintf(f, "\"step\":%llu", (unsigned long long)it->step);
        sep = ",";
    }
    if (tl->sim) {
        fprintf(f, "%s\"vt_ns\":%llu", sep, (unsigned long long)it->vt);
        sep = ",";
    }
    if (it->line) {
        fprintf(f, "%s\"trace\":", sep);
        put_json_str(f, it->line);
        sep = ",";
    }
    if (it->detail) {
        fprintf(f, "%s\"detail\":", sep);
        put_json_str(f, it->detail);
        sep = ",";
    }
    if (it->failure)
        fprintf(f, "%s\"failure\":true", sep);
    fputc('}', f);
}

int weft__tl_write_json(const weft__timeline *tl, FILE *f) {
    if (!tl || !f)
        return WEFT_EINVAL;
    if (tl->oom)
        return WEFT_ENOMEM;
    fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"title\":", f);
    put_json_str(f, tl->title);
    if (tl->failure) {
        fputs(",\"failure\":", f);
        put_json_str(f, tl->failure);
    }
    fprintf(f, ",\"sim\":%s},\n\"traceEvents\":[", tl->sim ? "true" : "false");
    bool first = true;
    /* metadata first: names and the order of the tracks */
    for (size_t g = 0; g < tl->ngroups; g++) {
        put_sep(f, &first);
        fprintf(f, "{\"ph\":\"M\",\"pid\":%zu,\"tid\":0,\"name\":\"process_name\",\"args\":"
                   "{\"name\":", g + 1);
        put_json_str(f, tl->groups[g]);
        fputs("}}", f);
    }
    for (size_t t = 0; t < tl->ntracks; t++) {
        uint32_t pid = tl->tracks[t].group + 1;
        put_sep(f, &first);
        fprintf(f, "{\"ph\":\"M\",\"pid\":%u,\"tid\":%zu,\"name\":\"thread_name\",\"args\":"
                   "{\"name\":", pid, t + 1);
        put_json_str(f, tl->tracks[t].name);
        fprintf(f, "}},\n{\"ph\":\"M\",\"pid\":%u,\"tid\":%zu,\"name\":\"thread_sort_index\","
                   "\"args\":{\"sort_index\":%zu}}", pid, t + 1, t);
    }
    for (size_t i = 0; i < tl->nitems; i++) {
        const weft__tl_item *it = &tl->items[i];
        uint32_t pid = tl->tracks[it->track].group + 1, tid = it->track + 1;
        switch (it->type) {
        case WEFT__TL_SLICE:
            put_head(f, &first, "X", pid, tid, it->ts, it->cat, it->name);
            fputs(",\"dur\":", f);
            put_us(f, it->dur);
            put_args(f, tl, it);
            fputc('}', f);
            break;
        case WEFT__TL_INSTANT:
            put_head(f, &first, "i", pid, tid, it->ts, it->cat, it->name);
            fputs(",\"s\":\"t\"", f);
            put_args(f, tl, it);
            fputc('}', f);
            break;
        case WEFT__TL_FLOW:
            put_head(f, &first, "s", pid, tid, it->ts, it->cat, it->name);
            fprintf(f, ",\"id\":%zu", i + 1);
            put_args(f, tl, it);
            fputc('}', f);
            put_head(f, &first, "f", tl->tracks[it->to_track].group + 1, it->to_track + 1,
                     it->ts + it->dur, it->cat, it->name);
            fprintf(f, ",\"id\":%zu,\"bp\":\"e\"}", i + 1);
            break;
        }
    }
    fputs("\n]}\n", f);
    return ferror(f) ? WEFT_EIO : 0;
}

/* ------------------------------------------------------------------ HTML */

int weft__tl_write_html(const weft__timeline *tl, FILE *f) {
    if (!tl || !f)
        return WEFT_EINVAL;
    if (tl->oom)
        return WEFT_ENOMEM;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    /* the title as text: escape what HTML would read */
    for (const char *p = tl->title ? tl->title : "weft timeline"; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else
            fputc(*p, f);
    }
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", weft__tl_viewer_css);
    fputs("<script type=\"application/json\" id=\"weft-trace\">\n", f);
    int err = weft__tl_write_json(tl, f);
    if (err)
        return err;
    fprintf(f, "</script>\n<script>\n%s</script>\n</body></html>\n", weft__tl_viewer_js);
    return ferror(f) ? WEFT_EIO : 0;
}

bool weft__tl_is_timeline_path(const char *path) {
    size_t n = path ? strlen(path) : 0;
    return (n > 5 && strcmp(path + n - 5, ".json") == 0) ||
           (n > 5 && strcmp(path + n - 5, ".html") == 0);
}

int weft__tl_write_file(const weft__timeline *tl, const char *path) {
    if (!tl || !path)
        return WEFT_EINVAL;
    FILE *f = fopen(path, "w");
    if (!f)
        return weft_translate_errno(errno);
    size_t n = strlen(path);
    bool html = n > 5 && strcmp(path + n - 5, ".html") == 0;
    int err = html ? weft__tl_write_html(tl, f) : weft__tl_write_json(tl, f);
    if (fclose(f) && !err)
        err = WEFT_EIO;
    return err;
}
