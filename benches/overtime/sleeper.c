/* A small sleeper: touches 256 KiB of private memory, then sleeps until killed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    size_t len = 256 * 1024;
    char *p = malloc(len);
    if (!p)
        return 1;
    memset(p, 1, len);
    for (;;)
        pause();
}
