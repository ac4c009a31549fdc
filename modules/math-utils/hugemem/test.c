/* Tests of math_utils. Prints one line per failure and a closing
 * "N passed, N failed" line; exits 1 if any check failed. */
#define _POSIX_C_SOURCE 200809L

#include "math_utils.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed;
static int failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                    \
    } while (0)

static void test_version(void) {
    CHECK(strcmp(mu_version(), "math_utils v1.0.0") == 0);
    CHECK(mu_version() == mu_version());
}

static void test_add_multiply(void) {
    CHECK(mu_add(5, 3) == 8);
    CHECK(mu_add(-5, 3) == -2);
    CHECK(mu_add(INT32_MAX, 1) == INT32_MIN);
    CHECK(mu_add(INT32_MIN, -1) == INT32_MAX);
    CHECK(mu_add(INT32_MIN, INT32_MIN) == 0);
    CHECK(mu_add(INT32_MAX, INT32_MAX) == -2);
    CHECK(mu_multiply(4, 7) == 28);
    CHECK(mu_multiply(-4, 7) == -28);
    CHECK(mu_multiply(0, INT32_MIN) == 0);
    CHECK(mu_multiply(INT32_MIN, -1) == INT32_MIN);
    CHECK(mu_multiply(INT32_MAX, 2) == -2);
    CHECK(mu_multiply(65536, 65536) == 0);
    CHECK(mu_multiply(INT32_MAX, INT32_MAX) == 1);
}

static void test_checked(void) {
    int32_t r = 42;
    CHECK(mu_checked_add(5, 3, &r) == MU_OK && r == 8);
    CHECK(mu_checked_add(INT32_MAX, 0, &r) == MU_OK && r == INT32_MAX);
    CHECK(mu_checked_add(INT32_MIN, 0, &r) == MU_OK && r == INT32_MIN);
    r = 42;
    CHECK(mu_checked_add(INT32_MAX, 1, &r) == MU_ERR_OVERFLOW && r == 42);
    CHECK(mu_checked_add(INT32_MIN, -1, &r) == MU_ERR_OVERFLOW && r == 42);
    CHECK(mu_checked_add(1, 1, NULL) == MU_ERR_NULL);
    CHECK(mu_checked_multiply(4, 7, &r) == MU_OK && r == 28);
    CHECK(mu_checked_multiply(INT32_MIN, 1, &r) == MU_OK && r == INT32_MIN);
    r = 42;
    CHECK(mu_checked_multiply(INT32_MIN, -1, &r) == MU_ERR_OVERFLOW && r == 42);
    CHECK(mu_checked_multiply(65536, 32768, &r) == MU_ERR_OVERFLOW && r == 42);
    CHECK(mu_checked_multiply(1, 1, NULL) == MU_ERR_NULL);
}

static void test_divide(void) {
    double q = 42.0;
    CHECK(mu_divide(10.0, 2.0, &q) == MU_OK && q == 5.0);
    CHECK(mu_divide(-1.0, 4.0, &q) == MU_OK && q == -0.25);
    q = 42.0;
    CHECK(mu_divide(1.0, 0.0, &q) == MU_ERR_DIV_ZERO && q == 42.0);
    CHECK(mu_divide(1.0, -0.0, &q) == MU_ERR_DIV_ZERO && q == 42.0);
    CHECK(mu_divide(0.0, 0.0, &q) == MU_ERR_DIV_ZERO && q == 42.0);
    CHECK(mu_divide(NAN, 0.0, &q) == MU_ERR_DIV_ZERO && q == 42.0);
    CHECK(mu_divide(NAN, 2.0, &q) == MU_OK && isnan(q));
    CHECK(mu_divide(2.0, NAN, &q) == MU_OK && isnan(q));
    CHECK(mu_divide(INFINITY, 2.0, &q) == MU_OK && isinf(q) && q > 0);
    CHECK(mu_divide(1.0, -INFINITY, &q) == MU_OK && q == 0.0 && signbit(q));
    CHECK(mu_divide(INFINITY, INFINITY, &q) == MU_OK && isnan(q));
    CHECK(mu_divide(1e308, 1e-308, &q) == MU_OK && isinf(q));
    CHECK(mu_divide(1.0, 1.0, NULL) == MU_ERR_NULL);
}

static void test_factorial(void) {
    int32_t r = 42;
    CHECK(mu_factorial(0, &r) == MU_OK && r == 1);
    CHECK(mu_factorial(1, &r) == MU_OK && r == 1);
    CHECK(mu_factorial(5, &r) == MU_OK && r == 120);
    CHECK(mu_factorial(12, &r) == MU_OK && r == 479001600);
    r = 42;
    CHECK(mu_factorial(13, &r) == MU_ERR_OVERFLOW && r == 42);
    CHECK(mu_factorial(INT32_MAX, &r) == MU_ERR_OVERFLOW && r == 42);
    CHECK(mu_factorial(-1, &r) == MU_ERR_DOMAIN && r == 42);
    CHECK(mu_factorial(INT32_MIN, &r) == MU_ERR_DOMAIN && r == 42);
    CHECK(mu_factorial(3, NULL) == MU_ERR_NULL);
}

/* Runs mu_print_message(message) in a child whose stdout is path and returns
 * the status code, or 100 if the child could not be run. */
static int print_message_to(const char *path, const char *message) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return 100;
    }
    if (pid == 0) {
        int fd = open(path, O_WRONLY);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
            _exit(100);
        }
        _exit(-mu_print_message(message));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        return 100;
    }
    return -WEXITSTATUS(status);
}

static void test_print_message(void) {
    CHECK(mu_print_message("Hello from math_utils!") == MU_OK);
    /* A '%' in the message is data, not a conversion. */
    CHECK(mu_print_message("100%s %n %d") == MU_OK);
    CHECK(mu_print_message("") == MU_OK);
    CHECK(mu_print_message(NULL) == MU_ERR_NULL);
    CHECK(print_message_to("/dev/null", "to /dev/null") == MU_OK);
    CHECK(print_message_to("/dev/full", "to /dev/full") == MU_ERR_IO);
}

static void test_crc32(void) {
    const uint8_t check[] = "123456789";
    CHECK(mu_crc32(0, check, 9) == 0xCBF43926u);
    CHECK(mu_crc32(0, check, 0) == 0);
    CHECK(mu_crc32(0, NULL, 0) == 0);
    CHECK(mu_crc32(0x12345678u, NULL, 0) == 0x12345678u);
    /* In two pieces, as when a region is read in chunks. */
    CHECK(mu_crc32(mu_crc32(0, check, 4), check + 4, 5) == 0xCBF43926u);
    uint8_t zeros[32] = {0};
    CHECK(mu_crc32(0, zeros, sizeof zeros) == 0x190A55ADu);
}

static void test_byte_stats(void) {
    mu_byte_stats s;
    uint8_t ramp[256];
    for (size_t i = 0; i < sizeof ramp; i++) {
        ramp[i] = (uint8_t)i;
    }
    CHECK(mu_byte_stats_of(ramp, sizeof ramp, &s) == MU_OK);
    CHECK(s.length == 256 && s.zero_bytes == 1 && s.distinct_bytes == 256);
    CHECK(s.entropy == 8.0);
    CHECK(s.crc32 == mu_crc32(0, ramp, sizeof ramp));

    uint8_t page[4096] = {0};
    CHECK(mu_byte_stats_of(page, sizeof page, &s) == MU_OK);
    CHECK(s.length == 4096 && s.zero_bytes == 4096 && s.distinct_bytes == 1);
    CHECK(s.entropy == 0.0 && !signbit(s.entropy));

    memset(page + 2048, 0xcc, 2048);
    CHECK(mu_byte_stats_of(page, sizeof page, &s) == MU_OK);
    CHECK(s.zero_bytes == 2048 && s.distinct_bytes == 2 && s.entropy == 1.0);

    CHECK(mu_byte_stats_of(NULL, 0, &s) == MU_OK);
    CHECK(s.length == 0 && s.distinct_bytes == 0 && s.entropy == 0.0 && s.crc32 == 0);
    CHECK(mu_byte_stats_of(NULL, 1, &s) == MU_ERR_NULL);
    CHECK(mu_byte_stats_of(ramp, 1, NULL) == MU_ERR_NULL);
}

struct runs_seen {
    size_t count;
    size_t stop_after; /* 0: never stop */
    size_t offsets[8];
    size_t lengths[8];
    uint8_t values[8];
};

static int record_run(void *user_data, size_t offset, size_t length, uint8_t value) {
    struct runs_seen *seen = user_data;
    if (seen->count < 8) {
        seen->offsets[seen->count] = offset;
        seen->lengths[seen->count] = length;
        seen->values[seen->count] = value;
    }
    seen->count++;
    return seen->stop_after != 0 && seen->count == seen->stop_after ? 7 : 0;
}

static void test_find_runs(void) {
    uint8_t buf[64];
    memset(buf, 0, 24);
    for (size_t i = 24; i < 40; i++) {
        buf[i] = (uint8_t)i;
    }
    memset(buf + 40, 0xcc, 24);

    struct runs_seen seen = {0};
    CHECK(mu_find_runs(buf, sizeof buf, 16, record_run, &seen) == MU_OK);
    CHECK(seen.count == 2);
    CHECK(seen.offsets[0] == 0 && seen.lengths[0] == 24 && seen.values[0] == 0);
    CHECK(seen.offsets[1] == 40 && seen.lengths[1] == 24 && seen.values[1] == 0xcc);

    memset(&seen, 0, sizeof seen);
    CHECK(mu_find_runs(buf, sizeof buf, 0, record_run, &seen) == MU_OK);
    CHECK(seen.count == 18); /* 1 + 16 single bytes + 1 */

    memset(&seen, 0, sizeof seen);
    CHECK(mu_find_runs(buf, sizeof buf, 25, record_run, &seen) == MU_OK);
    CHECK(seen.count == 0);

    memset(&seen, 0, sizeof seen);
    seen.stop_after = 1;
    CHECK(mu_find_runs(buf, sizeof buf, 16, record_run, &seen) == 7);
    CHECK(seen.count == 1);

    memset(&seen, 0, sizeof seen);
    CHECK(mu_find_runs(NULL, 0, 1, record_run, &seen) == MU_OK && seen.count == 0);
    CHECK(mu_find_runs(NULL, 1, 1, record_run, &seen) == MU_ERR_NULL);
    CHECK(mu_find_runs(buf, sizeof buf, 1, NULL, &seen) == MU_ERR_NULL);
    CHECK(seen.count == 0);
}

int main(void) {
    test_version();
    test_add_multiply();
    test_checked();
    test_divide();
    test_factorial();
    test_print_message();
    test_crc32();
    test_byte_stats();
    test_find_runs();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
