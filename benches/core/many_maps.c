/*
 * many_maps N: maps N separate one-page anonymous mappings (alternating protections so that the
 * kernel cannot merge them), touches each, prints `ready` and waits for stdin to close.
 * Used by the benchmarks to measure cost per mapping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long pg = sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, (size_t)n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }
    for (long i = 0; i < n; i++) {
        base[i * pg] = (char)i;
        if (i % 2 && mprotect(base + i * pg, pg, PROT_READ)) { perror("mprotect"); return 1; }
    }
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (fgets(buf, sizeof buf, stdin)) {}
    return 0;
}
