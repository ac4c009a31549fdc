/*
 * Floors for `memlink search`: read every readable region of a process with
 * process_vm_readv in 1 MiB chunks (`floor raw PID`), or the same plus glibc memmem for a
 * needle, with a 15-byte overlap so that copies across chunk boundaries count once
 * (`floor memmem PID NEEDLE`). One thread. Prints bytes read, matches and GiB/s.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#define CHUNK (1u << 20)

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: floor raw|memmem PID [NEEDLE]\n"); return 2; }
    int search = !strcmp(argv[1], "memmem");
    pid_t pid = atoi(argv[2]);
    const char *needle = search ? argv[3] : "";
    size_t nlen = strlen(needle);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *maps = fopen(path, "r");
    if (!maps) { perror(path); return 2; }
    static char buf[CHUNK + 64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long total = 0, matches = 0;
    char line[4096];
    while (fgets(line, sizeof line, maps)) {
        unsigned long s, e;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) != 3 || perms[0] != 'r') continue;
        size_t carried = 0;
        for (unsigned long pos = s; pos < e;) {
            size_t n = e - pos < CHUNK ? e - pos : CHUNK;
            struct iovec l = {buf + carried, n}, r = {(void *)pos, n};
            ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
            if (got <= 0) { pos = (pos | 4095) + 1; carried = 0; continue; }
            total += got;
            if (search) {
                size_t have = carried + got;
                char *q = buf;
                while ((q = memmem(q, buf + have - q, needle, nlen))) {
                    if ((size_t)(q - buf) + nlen > carried) matches++;
                    q++;
                }
                carried = have < nlen - 1 ? have : nlen - 1;
                memmove(buf, buf + have - carried, carried);
            }
            pos += got;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("bytes=%llu matches=%llu seconds=%.3f GiB/s=%.2f\n", total, matches, secs,
           total / secs / (1 << 30));
    return 0;
}
