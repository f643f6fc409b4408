/* weft tests — the few POSIX calls the tests use that the Windows C
 * runtime names differently.  Force-included (-include) by tests/meson.build
 * in Windows builds only, so the test sources stay free of platform #if.
 * The tests' temporary paths are "/tmp/..." (wine maps them to the Linux
 * /tmp through its Z: drive; native Windows would need a TEMP prefix). */
#ifndef WEFT_TESTS_WIN_COMPAT_H
#define WEFT_TESTS_WIN_COMPAT_H

#include <direct.h>
#include <errno.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>

static inline int setenv(const char *name, const char *value, int overwrite) {
    if (!overwrite && getenv(name))
        return 0;
    return _putenv_s(name, value) ? -1 : 0;
}
/* An empty value removes the variable from the environment on Windows. */
static inline int unsetenv(const char *name) { return _putenv_s(name, "") ? -1 : 0; }

static inline char *mkdtemp(char *tmpl) {
    if (_mktemp_s(tmpl, strlen(tmpl) + 1) || _mkdir(tmpl))
        return NULL;
    return tmpl;
}

#endif
