/*
 * manymaps: maps N pages (default 100000) in one block and gives every other page a different
 * protection, so the process has about N separate mappings. Prints its PID and `ready`, then
 * waits until stdin closes.
 *
 * Usage: manymaps [N]   (needs vm.max_map_count above N)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (long i = 0; i < n; i++) p[i * pg] = (char)i; /* resident, so smaps has figures */
    for (long i = 1; i < n; i += 2) {
        if (mprotect(p + i * pg, pg, PROT_READ) != 0) {
            perror("mprotect (raise vm.max_map_count)");
            return 1;
        }
    }
    printf("pid=%ld\nready\n", (long)getpid());
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
}
