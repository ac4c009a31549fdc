/*
 * Benchmark target: one anonymous region of SIZE bytes (default 4 GiB) of resident
 * pseudo-random bytes with a 16-byte needle planted at known places: straddling 64 KiB and
 * 1 MiB boundaries, plus one ending one byte before the region's end. Prints `pid=`,
 * `region=START-END`, one `needle=ADDR` per copy, then `ready`, and sleeps until killed.
 * Usage: target [SIZE_MIB]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile unsigned char enc[16] = {
    'B' ^ 0x33, 'E' ^ 0x33, 'N' ^ 0x33, 'C' ^ 0x33, 'H' ^ 0x33, '-' ^ 0x33, 'n' ^ 0x33, 'e' ^ 0x33,
    'e' ^ 0x33, 'd' ^ 0x33, 'l' ^ 0x33, 'e' ^ 0x33, '-' ^ 0x33, '4' ^ 0x33, '2' ^ 0x33, '!' ^ 0x33};

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 4096;
    size_t len = mib << 20;
    uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < len / 8; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = x;
    }
    unsigned char *b = (unsigned char *)p;
    size_t at[] = {(64u << 10) - 8, (3u << 20) + (64u << 10) - 3, (1u << 20) - 1, (7u << 20) - 15,
                   len / 2 - 5, len - 16 - 1};
    printf("pid=%d\nregion=%p-%p\n", getpid(), (void *)b, (void *)(b + len));
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        for (int i = 0; i < 16; i++) b[at[k] + i] = enc[i] ^ 0x33;
        printf("needle=%p\n", (void *)(b + at[k]));
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
