/* The floor of `memlink audit`'s code comparison for one process: for each private executable
 * file mapping, read its pagemap entries, then every present private anonymous page from
 * /proc/PID/mem and the same bytes of the mapped file through /proc/PID/map_files/, and
 * compare. Prints the pages compared. Usage: audit_floor PID */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[256];
    snprintf(path, sizeof path, "/proc/%s/maps", argv[1]);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof path, "/proc/%s/pagemap", argv[1]);
    int pm = open(path, O_RDONLY);
    snprintf(path, sizeof path, "/proc/%s/mem", argv[1]);
    int mem = open(path, O_RDONLY);
    if (!maps || pm < 0 || mem < 0) return 2;
    long page = sysconf(_SC_PAGESIZE);
    char line[4096], live[4096], disk[4096];
    long compared = 0, differ = 0;
    while (fgets(line, sizeof line, maps)) {
        uint64_t s, e, off;
        char perms[5];
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64, &s, &e, perms, &off) != 4) continue;
        if (perms[2] != 'x' || perms[1] == 'w' || perms[3] != 'p' || !strchr(line, '/')) continue;
        size_t n = (e - s) / page;
        uint64_t *ents = malloc(n * 8);
        if (pread(pm, ents, n * 8, s / page * 8) != (ssize_t)(n * 8)) { free(ents); continue; }
        int fd = -1;
        for (size_t i = 0; i < n; i++) {
            uint64_t v = ents[i];
            if (!(v >> 63 & 1) || (v >> 61 & 1)) continue;
            if (fd < 0) {
                snprintf(path, sizeof path, "/proc/%s/map_files/%" PRIx64 "-%" PRIx64, argv[1], s, e);
                fd = open(path, O_RDONLY);
                if (fd < 0) break;
            }
            uint64_t a = s + i * page;
            if (pread(mem, live, page, a) != page) continue;
            memset(disk, 0, page);
            if (pread(fd, disk, page, off + (a - s)) < 0) continue;
            compared++;
            differ += memcmp(live, disk, page) != 0;
        }
        if (fd >= 0) close(fd);
        free(ents);
    }
    printf("compared=%ld differ=%ld\n", compared, differ);
    return 0;
}
