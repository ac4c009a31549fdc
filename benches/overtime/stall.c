/* The stall a reader of /proc/PID/smaps_rollup imposes on its target. Maps SIZE GiB (default 4)
 * as one anonymous mapping and makes it resident, prints pid= and ready, then waits for a line on
 * stdin; each line "measure SECONDS" runs a thread that maps and unmaps one page in a loop for
 * that long and answers "worst_us=N p999_us=N ops=N" (the worst and the 99.9th percentile
 * latency of one mmap+munmap pair); "quit" exits. A page-table walk of the big mapping holds
 * the mmap lock, so a mapping change waits for it: the worst latency is the stall. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double seconds;
static double worst, p999;
static long ops;

static void *measure(void *arg) {
    (void)arg;
    size_t cap = 1 << 24, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    double end = now_us() + seconds * 1e6;
    worst = 0;
    while (now_us() < end) {
        double t0 = now_us();
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            munmap(p, 4096);
        double d = now_us() - t0;
        if (d > worst)
            worst = d;
        if (n < cap)
            lat[n++] = d;
        /* A change every 100 us: frequent enough to meet every walk. */
        struct timespec s = {0, 100000};
        nanosleep(&s, NULL);
    }
    qsort(lat, n, sizeof *lat, cmp);
    p999 = n ? lat[(size_t)(n * 0.999)] : 0;
    ops = (long)n;
    free(lat);
    return NULL;
}

int main(int argc, char **argv) {
    long gib = argc > 1 ? atol(argv[1]) : 4;
    size_t len = (size_t)gib << 30;
    char *big = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (big == MAP_FAILED)
        return 1;
    /* Small pages, so that the walk visits every page table entry. */
    madvise(big, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < len; i += 4096)
        big[i] = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("pid=%d\nready\n", (int)getpid());
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        if (!strncmp(line, "quit", 4))
            break;
        if (sscanf(line, "measure %lf", &seconds) == 1) {
            pthread_t t;
            pthread_create(&t, NULL, measure, NULL);
            pthread_join(t, NULL);
            printf("worst_us=%.0f p999_us=%.0f ops=%ld\n", worst, p999, ops);
        }
    }
    return 0;
}
