/* Baseline for copy mode: a raw process_vm_readv + process_vm_writev loop with a 64 MiB
 * bounce buffer. Usage: pvm_copy SRCPID SRCADDR DSTPID DSTADDR SIZE. Prints seconds. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 6)
        return 2;
    pid_t sp = atoi(argv[1]), dp = atoi(argv[3]);
    unsigned long sa = strtoul(argv[2], NULL, 16), da = strtoul(argv[4], NULL, 16);
    size_t size = strtoull(argv[5], NULL, 0), chunk = 64UL << 20;
    char *buf = malloc(chunk);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        struct iovec l = {buf, len}, r = {(void *)(sa + off), len};
        if (process_vm_readv(sp, &l, 1, &r, 1, 0) != (ssize_t)len)
            return 1;
        r.iov_base = (void *)(da + off);
        if (process_vm_writev(dp, &l, 1, &r, 1, 0) != (ssize_t)len)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.4f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
