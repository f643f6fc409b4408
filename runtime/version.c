/* weft — the library's version (include/weft/version.h): the values the
 * library was built with, which a program compiled against other headers
 * can compare with its own WEFT_VERSION_* macros. */
#include "weft/version.h"

const char *weft_version(void) { return WEFT_VERSION_STRING; }

unsigned weft_version_number(void) { return WEFT_VERSION_NUMBER; }
