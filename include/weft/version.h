/* weft — the version of these headers, and of the library linked.
 *
 * The macros say which headers a program was compiled against; the
 * functions say which library it runs with (a shared libweft may be newer).
 * Versions follow semver: until 1.0, a minor release may break the API
 * (CHANGELOG.md says how).
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#include "weft/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING "0.1.0"
/* One comparable number: major * 10000 + minor * 100 + patch. */
#define WEFT_VERSION_NUMBER                                                    \
    (WEFT_VERSION_MAJOR * 10000 + WEFT_VERSION_MINOR * 100 + WEFT_VERSION_PATCH)

/* The library's version as "major.minor.patch" (a static string). */
WEFT_EXTERN const char *weft_version(void);
/* The library's WEFT_VERSION_NUMBER. */
WEFT_EXTERN unsigned weft_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
