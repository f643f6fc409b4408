/* weft — symbol visibility. The library builds with hidden visibility by
 * default; only what is marked WEFT_EXTERN is exported. */
#ifndef WEFT_EXPORT_H
#define WEFT_EXPORT_H

#if defined(_WIN32)
#if defined(WEFT_BUILDING_SHARED)
#define WEFT_EXTERN __declspec(dllexport)
#elif defined(WEFT_USING_SHARED)
#define WEFT_EXTERN __declspec(dllimport)
#else
#define WEFT_EXTERN
#endif
#elif defined(__GNUC__)
#define WEFT_EXTERN __attribute__((visibility("default")))
#else
#define WEFT_EXTERN
#endif

#endif
