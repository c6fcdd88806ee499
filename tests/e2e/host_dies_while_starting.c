/* host_dies_while_starting.c - an LD_PRELOAD library for test_host_start.py: the next N driver
 * host processes (winedevice.exe) Wine starts die before they finish starting, as Wine's own
 * host did once in 1,000 reloads (docs/reliability.md, "error 1359").
 *
 * The file named by KMD_TEST_HOST_DEATHS holds N. Each winedevice.exe that starts while it exists
 * takes one (the last removes the file) and _exit(0)s from this constructor, before Wine's loader
 * runs: the process never reports "init done" to the wineserver, so services.exe's CreateProcess
 * fails with STATUS_INTERNAL_ERROR, and StartService with 1359. Every other process, and every
 * winedevice.exe while the file is absent, is untouched. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void die_while_starting(void)
{
    const char *deaths_file = getenv("KMD_TEST_HOST_DEATHS");
    if (deaths_file == NULL) return;

    char cmdline[4096];
    int fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd < 0) return;
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    if (n <= 0) return;
    for (ssize_t i = 0; i < n; ++i)
        if (cmdline[i] == '\0') cmdline[i] = ' ';
    cmdline[n] = '\0';
    if (strstr(cmdline, "winedevice.exe") == NULL) return;

    FILE *f = fopen(deaths_file, "r");
    if (f == NULL) return;
    int left = 0;
    if (fscanf(f, "%d", &left) != 1) left = 0;
    fclose(f);
    if (left <= 1) {
        if (unlink(deaths_file) != 0) return; /* another host took the last one */
    } else {
        f = fopen(deaths_file, "w");
        if (f == NULL) return;
        fprintf(f, "%d\n", left - 1);
        fclose(f);
    }
    if (left >= 1) _exit(0);
}
