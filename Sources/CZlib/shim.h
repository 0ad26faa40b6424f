#ifndef LIVEGATE_CZLIB_SHIM_H
#define LIVEGATE_CZLIB_SHIM_H

#include <zlib.h>

// Swift cannot import function-like macros; wrap the two init macros used (explicit return types).
// Raw deflate (negative window bits): RFC 7692 carries DEFLATE blocks without a zlib header.
static inline int livegate_deflateInit2(z_streamp stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
static inline int livegate_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

#endif
