/* A malloc-heavy microbenchmark for benches/leaks/run.sh: waits WAIT seconds (so a tracer can
 * attach), then two threads each make PAIRS malloc/free pairs of mixed sizes (16 B to 4 KiB,
 * a few live at a time), and it prints the seconds the work took. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long pairs;

static void *work(void *arg)
{
    unsigned x = (unsigned)(long)arg * 2654435761u + 1;
    void *live[8] = {0};
    for (long i = 0; i < pairs; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int k = x & 7;
        free(live[k]);
        live[k] = malloc(16 + (x >> 8) % 4080);
        ((volatile char *)live[k])[0] = 1;
    }
    for (int k = 0; k < 8; k++)
        free(live[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: malloc_bench WAIT_SECONDS PAIRS_PER_THREAD\n");
        return 2;
    }
    double wait = atof(argv[1]);
    pairs = atol(argv[2]);
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    usleep((useconds_t)(wait * 1e6));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, work, (void *)(i + 1));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.4f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
