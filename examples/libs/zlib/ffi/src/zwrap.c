/* The zwrap FFI unit: a few zlib entry points with boundary-only types.
 *
 * Strings arrive NUL-terminated, so the data is the bytes before the NUL.
 * Every buffer is malloc'ed per call and freed before returning.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "zwrap.h"

int64_t coex_zlib_crc32(const char *data)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)data, (uInt)strlen(data));
    return (int64_t)crc;
}

int64_t coex_zlib_adler32(const char *data)
{
    uLong a = adler32(0L, Z_NULL, 0);
    a = adler32(a, (const Bytef *)data, (uInt)strlen(data));
    return (int64_t)a;
}

static int valid_level(int64_t level)
{
    return level == Z_DEFAULT_COMPRESSION || (level >= 0 && level <= 9);
}

/* Compresses `data` at `level` into a fresh buffer; returns its length, or
 * -1 on error. The caller frees *out. */
static int64_t deflate_to(const char *data, int64_t level, Bytef **out)
{
    uLong src_len = (uLong)strlen(data);
    uLongf dst_len = compressBound(src_len);
    *out = NULL;
    if (!valid_level(level)) {
        return -1;
    }
    *out = malloc(dst_len > 0 ? dst_len : 1);
    if (*out == NULL) {
        return -1;
    }
    if (compress2(*out, &dst_len, (const Bytef *)data, src_len, (int)level) != Z_OK) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return (int64_t)dst_len;
}

/* Length of `data` compressed at `level` (0-9, or -1 for zlib's default);
 * -1 on error. */
int64_t coex_zlib_compressed_size(const char *data, int64_t level)
{
    Bytef *buf;
    int64_t n = deflate_to(data, level, &buf);
    free(buf);
    return n;
}

/* Compresses then decompresses `data`; returns the decompressed length when
 * it equals the input byte for byte, else -1. */
int64_t coex_zlib_roundtrip(const char *data, int64_t level)
{
    uLong src_len = (uLong)strlen(data);
    uLongf back_len = src_len;
    Bytef *packed;
    Bytef *back;
    int64_t packed_len = deflate_to(data, level, &packed);
    int64_t result = -1;
    if (packed_len < 0) {
        return -1;
    }
    back = malloc(src_len > 0 ? src_len : 1);
    if (back != NULL &&
        uncompress(back, &back_len, packed, (uLong)packed_len) == Z_OK &&
        back_len == src_len && memcmp(back, data, src_len) == 0) {
        result = (int64_t)back_len;
    }
    free(back);
    free(packed);
    return result;
}

const char *coex_zlib_version(void)
{
    return zlibVersion();
}
