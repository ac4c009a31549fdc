/* math_utils: see math_utils.h for the contract of each function. */
#include "math_utils.h"

#include <math.h>
#include <stdio.h>

const char *mu_version(void) { return MU_VERSION_STRING; }

/*
 * Converts the low 32 bits of a two's-complement result to int32_t without
 * relying on implementation-defined conversion of out-of-range values.
 */
static int32_t wrap_to_i32(uint32_t u) {
    if (u <= (uint32_t)INT32_MAX) {
        return (int32_t)u;
    }
    /* u - 2^31 is in [0, INT32_MAX]; adding INT32_MIN maps it to [-2^31, -1]. */
    return (int32_t)(u - (uint32_t)INT32_MAX - 1u) + INT32_MIN;
}

/* Unsigned arithmetic is modulo 2^N in C, so these never overflow. */
int32_t mu_add(int32_t a, int32_t b) {
    return wrap_to_i32((uint32_t)a + (uint32_t)b);
}

int32_t mu_multiply(int32_t a, int32_t b) {
    /* uint64_t operands, so that no promotion to (signed) int can happen. */
    uint64_t product = (uint64_t)(uint32_t)a * (uint64_t)(uint32_t)b;
    return wrap_to_i32((uint32_t)(product & UINT32_MAX));
}

/* Both results fit in int64_t: |a + b| <= 2^32 and |a * b| <= 2^62. */
int mu_checked_add(int32_t a, int32_t b, int32_t *out) {
    if (out == NULL) {
        return MU_ERR_NULL;
    }
    int64_t sum = (int64_t)a + (int64_t)b;
    if (sum < INT32_MIN || sum > INT32_MAX) {
        return MU_ERR_OVERFLOW;
    }
    *out = (int32_t)sum;
    return MU_OK;
}

int mu_checked_multiply(int32_t a, int32_t b, int32_t *out) {
    if (out == NULL) {
        return MU_ERR_NULL;
    }
    int64_t product = (int64_t)a * (int64_t)b;
    if (product < INT32_MIN || product > INT32_MAX) {
        return MU_ERR_OVERFLOW;
    }
    *out = (int32_t)product;
    return MU_OK;
}

int mu_divide(double a, double b, double *out) {
    if (out == NULL) {
        return MU_ERR_NULL;
    }
    if (b == 0.0) { /* true for -0.0 too */
        return MU_ERR_DIV_ZERO;
    }
    *out = a / b;
    return MU_OK;
}

int mu_factorial(int32_t n, int32_t *out) {
    if (out == NULL) {
        return MU_ERR_NULL;
    }
    if (n < 0) {
        return MU_ERR_DOMAIN;
    }
    int64_t acc = 1;
    /* acc passes INT32_MAX at 13!, long before i could overflow. */
    for (int32_t i = 2; i <= n; i++) {
        acc *= i;
        if (acc > INT32_MAX) {
            return MU_ERR_OVERFLOW;
        }
    }
    *out = (int32_t)acc;
    return MU_OK;
}

int mu_print_message(const char *message) {
    if (message == NULL) {
        return MU_ERR_NULL;
    }
    if (printf("%s\n", message) < 0) {
        return MU_ERR_IO;
    }
    if (fflush(stdout) == EOF) {
        return MU_ERR_IO;
    }
    return MU_OK;
}

/* CRC-32 four bits at a time: the reflected polynomial 0xEDB88320 times 0..15. */
static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
    0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t mu_crc32(uint32_t crc, const uint8_t *data, size_t len) {
    if (data == NULL) {
        return crc;
    }
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc32_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc32_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

int mu_byte_stats_of(const uint8_t *data, size_t len, mu_byte_stats *out) {
    if (out == NULL || (data == NULL && len != 0)) {
        return MU_ERR_NULL;
    }
    size_t counts[256] = {0};
    for (size_t i = 0; i < len; i++) {
        counts[data[i]]++;
    }
    uint32_t distinct = 0;
    double entropy = 0.0;
    for (size_t v = 0; v < 256; v++) {
        if (counts[v] == 0) {
            continue;
        }
        distinct++;
        double p = (double)counts[v] / (double)len;
        entropy -= p * log2(p);
    }
    out->length = len;
    out->zero_bytes = counts[0];
    out->distinct_bytes = distinct;
    out->crc32 = mu_crc32(0, data, len);
    out->entropy = entropy;
    return MU_OK;
}

int mu_find_runs(const uint8_t *data, size_t len, size_t min_len,
                 mu_run_callback callback, void *user_data) {
    if (callback == NULL || (data == NULL && len != 0)) {
        return MU_ERR_NULL;
    }
    size_t start = 0;
    while (start < len) {
        uint8_t value = data[start];
        size_t end = start + 1;
        while (end < len && data[end] == value) {
            end++;
        }
        if (end - start >= min_len) {
            int rc = callback(user_data, start, end - start, value);
            if (rc != 0) {
                return rc;
            }
        }
        start = end;
    }
    return MU_OK;
}
