/* weft — addresses: parsing and formatting IPv4, IPv6 and Unix paths,
 * written here without the OS (inet_pton differs per platform, and the
 * simulator must read addresses exactly as production does).  Formatting
 * follows RFC 5952: lowercase hex, the longest run of two or more zero
 * groups shortened to "::" (the first such run on a tie). */
#include <stdio.h>
#include <string.h>

#include "weft/net.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four decimal octets, nothing else, within [s, end). */
static bool parse_v4(const char *s, const char *end, uint8_t out[4]) {
    for (int i = 0; i < 4; i++) {
        if (s >= end || *s < '0' || *s > '9')
            return false;
        unsigned v = 0, digits = 0;
        for (; s < end && *s >= '0' && *s <= '9'; s++, digits++) {
            if (digits == 1 && v == 0)
                return false; /* no leading zeros: "01" reads as octal elsewhere */
            v = v * 10 + (unsigned)(*s - '0');
            if (v > 255)
                return false;
        }
        out[i] = (uint8_t)v;
        if (i < 3) {
            if (s >= end || *s != '.')
                return false;
            s++;
        }
    }
    return s == end;
}

static bool parse_scope(const char *s, const char *end, uint32_t *scope) {
    if (s >= end)
        return false;
    uint64_t v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false; /* numeric zones only: names need the OS */
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *scope = (uint32_t)v;
    return true;
}

/* Eight groups with at most one "::", an optional trailing IPv4 part. */
static bool parse_v6(const char *s, const char *end, uint8_t out[16], uint32_t *scope) {
    *scope = 0;
    const char *pct = memchr(s, '%', (size_t)(end - s));
    if (pct) {
        if (!parse_scope(pct + 1, end, scope))
            return false;
        end = pct;
    }
    uint16_t groups[8] = {0};
    int n = 0, gap = -1;
    const char *p = s;
    if (p + 1 < end && p[0] == ':' && p[1] == ':') {
        gap = 0;
        p += 2;
    } else if (p < end && *p == ':') {
        return false;
    }
    while (p < end) {
        if (n == 8)
            return false;
        const char *q = p;
        unsigned v = 0;
        int digits = 0;
        for (; q < end && hexval(*q) >= 0; q++) {
            if (++digits > 4)
                return false;
            v = v * 16 + (unsigned)hexval(*q);
        }
        if (q < end && *q == '.') { /* the last 32 bits as IPv4 */
            uint8_t v4[4];
            if (n > 6 || !parse_v4(p, end, v4))
                return false;
            groups[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
            p = end;
            break;
        }
        if (digits == 0)
            return false;
        groups[n++] = (uint16_t)v;
        p = q;
        if (p == end)
            break;
        if (*p != ':')
            return false;
        p++;
        if (p < end && *p == ':') {
            if (gap >= 0)
                return false; /* two "::" */
            gap = n;
            p++;
        } else if (p == end) {
            return false; /* a trailing single ':' */
        }
    }
    if (gap < 0 && n != 8)
        return false;
    if (gap >= 0 && n > 7)
        return false;
    uint16_t full[8] = {0};
    if (gap < 0) {
        memcpy(full, groups, sizeof full);
    } else {
        int tail = n - gap;
        memcpy(full, groups, (size_t)gap * sizeof *groups);
        memcpy(full + 8 - tail, groups + gap, (size_t)tail * sizeof *groups);
    }
    for (int i = 0; i < 8; i++) {
        out[2 * i] = (uint8_t)(full[i] >> 8);
        out[2 * i + 1] = (uint8_t)full[i];
    }
    return true;
}

static bool parse_port(const char *s, uint16_t *port) {
    if (!*s)
        return false;
    unsigned v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned)(*s - '0');
        if (v > 65535)
            return false;
    }
    *port = (uint16_t)v;
    return true;
}

int weft_addr_unix(const char *path, weft_addr *out) {
    if (!path || !out)
        return WEFT_EINVAL;
    size_t n = strlen(path);
    if (n == 0 || n > WEFT_ADDR_PATH_MAX)
        return WEFT_EINVAL;
    weft_addr a = {.family = WEFT_AF_UNIX};
    memcpy(a.u.path, path, n + 1);
    *out = a;
    return 0;
}

int weft_addr_from_ip(const char *ip, uint16_t port, weft_addr *out) {
    if (!ip || !out)
        return WEFT_EINVAL;
    const char *end = ip + strlen(ip);
    weft_addr a = {.port = port};
    if (parse_v4(ip, end, a.u.v4)) {
        a.family = WEFT_AF_INET;
    } else if (parse_v6(ip, end, a.u.v6, &a.scope_id)) {
        a.family = WEFT_AF_INET6;
    } else {
        return WEFT_EINVAL;
    }
    *out = a;
    return 0;
}

int weft_addr_parse(const char *text, weft_addr *out) {
    if (!text || !out)
        return WEFT_EINVAL;
    if (strncmp(text, "unix:", 5) == 0)
        return weft_addr_unix(text + 5, out);
    if (text[0] == '/' || (text[0] == '.' && text[1] == '/'))
        return weft_addr_unix(text, out);
    weft_addr a = {0};
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || !parse_port(close + 2, &a.port) ||
            !parse_v6(text + 1, close, a.u.v6, &a.scope_id))
            return WEFT_EINVAL;
        a.family = WEFT_AF_INET6;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || !parse_port(colon + 1, &a.port) || !parse_v4(text, colon, a.u.v4))
            return WEFT_EINVAL;
        a.family = WEFT_AF_INET;
    }
    *out = a;
    return 0;
}

weft_addr weft_addr_loopback4(uint16_t port) {
    return (weft_addr){.family = WEFT_AF_INET, .port = port, .u.v4 = {127, 0, 0, 1}};
}

weft_addr weft_addr_loopback6(uint16_t port) {
    weft_addr a = {.family = WEFT_AF_INET6, .port = port};
    a.u.v6[15] = 1;
    return a;
}

static int format_v6(const uint8_t b[16], char *p, size_t cap) {
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
    int best = -1, best_len = 1; /* a single zero group is not shortened */
    for (int i = 0; i < 8;) {
        if (g[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !g[j])
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    size_t n = 0;
    bool mapped = best == 0 && best_len == 5 && g[5] == 0xffff;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            n += (size_t)snprintf(p + n, cap > n ? cap - n : 0, "::");
            i += best_len - 1;
            if (mapped) {
                n += (size_t)snprintf(p + n, cap > n ? cap - n : 0, "ffff:%u.%u.%u.%u", b[12],
                                      b[13], b[14], b[15]);
                break;
            }
            continue;
        }
        if (i > 0 && i != best + best_len)
            n += (size_t)snprintf(p + n, cap > n ? cap - n : 0, ":");
        n += (size_t)snprintf(p + n, cap > n ? cap - n : 0, "%x", g[i]);
    }
    return (int)n;
}

int weft_addr_format(const weft_addr *a, char *buf, size_t cap) {
    if (!a || !buf)
        return WEFT_EINVAL;
    char tmp[WEFT_ADDR_STRLEN + 16];
    int n;
    switch (a->family) {
    case WEFT_AF_INET:
        n = snprintf(tmp, sizeof tmp, "%u.%u.%u.%u:%u", a->u.v4[0], a->u.v4[1], a->u.v4[2],
                     a->u.v4[3], a->port);
        break;
    case WEFT_AF_INET6: {
        tmp[0] = '[';
        n = 1 + format_v6(a->u.v6, tmp + 1, sizeof tmp - 1);
        if (a->scope_id)
            n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%%%u", a->scope_id);
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "]:%u", a->port);
        break;
    }
    case WEFT_AF_UNIX:
        n = snprintf(tmp, sizeof tmp, "unix:%.*s", WEFT_ADDR_PATH_MAX, a->u.path);
        break;
    default:
        return WEFT_EINVAL;
    }
    if ((size_t)n >= cap)
        return WEFT_ERANGE;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

bool weft_addr_equal(const weft_addr *a, const weft_addr *b) {
    if (!a || !b || a->family != b->family)
        return false;
    switch (a->family) {
    case WEFT_AF_INET:
        return a->port == b->port && memcmp(a->u.v4, b->u.v4, 4) == 0;
    case WEFT_AF_INET6:
        return a->port == b->port && a->scope_id == b->scope_id &&
               memcmp(a->u.v6, b->u.v6, 16) == 0;
    case WEFT_AF_UNIX:
        return strcmp(a->u.path, b->u.path) == 0;
    default:
        return true;
    }
}
