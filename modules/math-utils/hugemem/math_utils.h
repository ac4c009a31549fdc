/*
 * math_utils: the small C library behind memlink's FFI demonstration.
 *
 * Every function is free of undefined behaviour for every input: signed
 * overflow is either defined as two's-complement wrap-around (mu_add,
 * mu_multiply) or reported (mu_checked_*, mu_factorial), division by zero is
 * reported, and pointers are checked for NULL. Errors are returned as the
 * negative MU_ERR_* codes below; results go through out-pointers.
 *
 * The functions keep no state and no pointer they were given, so they may be
 * called from any thread.
 */
#ifndef MATH_UTILS_H
#define MATH_UTILS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version string returned by mu_version(). */
#define MU_VERSION_STRING "math_utils v1.0.0"

/** Success. */
#define MU_OK 0
/** The result does not fit in an int32_t. */
#define MU_ERR_OVERFLOW (-1)
/** The divisor is zero (+0.0 or -0.0). */
#define MU_ERR_DIV_ZERO (-2)
/** The input is outside the function's domain (a negative factorial). */
#define MU_ERR_DOMAIN (-3)
/** A required pointer is NULL. */
#define MU_ERR_NULL (-4)
/** Writing to stdout failed; errno tells why. */
#define MU_ERR_IO (-5)

/** Returns the library's version, MU_VERSION_STRING, a static string. */
const char *mu_version(void);

/** Returns a + b, wrapping around on overflow (two's complement). */
int32_t mu_add(int32_t a, int32_t b);

/** Returns a * b, wrapping around on overflow (two's complement). */
int32_t mu_multiply(int32_t a, int32_t b);

/** Stores a + b in *out; MU_ERR_OVERFLOW (and *out untouched) on overflow. */
int mu_checked_add(int32_t a, int32_t b, int32_t *out);

/** Stores a * b in *out; MU_ERR_OVERFLOW (and *out untouched) on overflow. */
int mu_checked_multiply(int32_t a, int32_t b, int32_t *out);

/**
 * Stores a / b in *out; MU_ERR_DIV_ZERO if b is +0.0 or -0.0. Other IEEE 754
 * cases follow the hardware: NaN in, NaN out; a finite number divided by an
 * infinity is 0; an overflowing quotient is an infinity.
 */
int mu_divide(double a, double b, double *out);

/**
 * Stores n! in *out; MU_ERR_DOMAIN if n < 0, MU_ERR_OVERFLOW if n! does not
 * fit in an int32_t (n > 12).
 */
int mu_factorial(int32_t n, int32_t *out);

/**
 * Prints message and a newline to stdout, then flushes stdout so the line is
 * not reordered with output written by other layers (such as Rust's stdout).
 * message is printed as data, never used as a format. MU_ERR_NULL if message
 * is NULL, MU_ERR_IO if printing or flushing fails.
 */
int mu_print_message(const char *message);

/**
 * Returns the CRC-32 (IEEE 802.3, as zlib's crc32()) of data[0..len),
 * continuing from crc: start with 0, and pass the previous result to checksum
 * a region read in pieces. data may be NULL only when len is 0.
 */
uint32_t mu_crc32(uint32_t crc, const uint8_t *data, size_t len);

/** Byte statistics of a buffer, filled by mu_byte_stats_of(). */
typedef struct mu_byte_stats {
    /** Number of bytes. */
    size_t length;
    /** Number of zero bytes. */
    size_t zero_bytes;
    /** Number of distinct byte values present, 0 to 256. */
    uint32_t distinct_bytes;
    /** CRC-32 of the buffer, as mu_crc32(0, data, length). */
    uint32_t crc32;
    /** Shannon entropy in bits per byte, 0.0 (one value) to 8.0 (uniform). */
    double entropy;
} mu_byte_stats;

/**
 * Computes the statistics of data[0..len) in one pass. MU_ERR_NULL if out is
 * NULL, or data is NULL and len is not 0.
 */
int mu_byte_stats_of(const uint8_t *data, size_t len, mu_byte_stats *out);

/**
 * Called by mu_find_runs() for each run: length (>= 1) copies of value
 * starting at offset. Return 0 to go on; any other value stops the scan and
 * is returned by mu_find_runs() as is (use positive values, so that they
 * cannot be confused with the MU_ERR_* codes).
 */
typedef int (*mu_run_callback)(void *user_data, size_t offset, size_t length,
                               uint8_t value);

/**
 * Calls callback(user_data, ...) for each maximal run of one repeated byte
 * value at least min_len bytes long in data[0..len), in order of offset
 * (min_len 0 counts as 1, reporting every run). Zero-filled pages and fill
 * patterns such as 0xcc show up this way. The callback is called on the
 * calling thread, before mu_find_runs() returns; neither it nor user_data is
 * kept. Returns MU_OK after the last run, the callback's non-zero return
 * value if it stopped the scan, or MU_ERR_NULL if callback is NULL, or data
 * is NULL and len is not 0.
 */
int mu_find_runs(const uint8_t *data, size_t len, size_t min_len,
                 mu_run_callback callback, void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* MATH_UTILS_H */
