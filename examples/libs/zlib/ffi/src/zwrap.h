/* Boundary of the zwrap FFI unit (system zlib). */
#ifndef COEX_ZWRAP_H
#define COEX_ZWRAP_H

#include <stdint.h>

int64_t coex_zlib_crc32(const char *data);
int64_t coex_zlib_adler32(const char *data);
int64_t coex_zlib_compressed_size(const char *data, int64_t level);
int64_t coex_zlib_roundtrip(const char *data, int64_t level);
const char *coex_zlib_version(void);

#endif
