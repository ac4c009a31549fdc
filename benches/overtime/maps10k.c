/* A process with about 10,000 mappings: maps N (default 10000) single pages with alternating
 * protections so that neighbours cannot merge, touches each, prints its PID, then sleeps. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    long page = sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, (size_t)n * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return 1;
    for (int i = 0; i < n; i++) {
        base[(size_t)i * page] = 1;
        if (i % 2)
            mprotect(base + (size_t)i * page, page, PROT_READ);
    }
    printf("%d\n", (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
