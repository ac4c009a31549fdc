/* Benchmark fixture: one thread, one pre-faulted region of SIZE bytes, a free range of HOLE
 * bytes (default SIZE); prints "region=ADDR hole=ADDR" and blocks in read(2) on stdin until
 * EOF. Usage: holder SIZE [HOLE] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 4096;
    size_t hole = argc > 2 ? strtoull(argv[2], NULL, 0) : size;
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    unsigned char *r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (r == MAP_FAILED)
        return 1;
    memset(r, 0x5a, size);
    unsigned char *h = mmap(NULL, hole, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    munmap(h, hole);
    printf("region=%p hole=%p\n", (void *)r, (void *)h);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
