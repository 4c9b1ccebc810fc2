/* One program, many ways to end, chosen by argv[1]: the executor's tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "ok";
    if (!strcmp(mode, "trap")) __builtin_trap();
    if (!strcmp(mode, "exit")) return 3;
    if (!strcmp(mode, "spin")) { volatile unsigned long i = 0; for (;;) i++; }
    if (!strcmp(mode, "grow")) {
        /* Kept where the compiler must believe it is used, so the allocations stay. */
        static char *volatile keep;
        for (;;) { char *p = malloc(1 << 20); if (!p) return 7; p[0] = 1; keep = p; }
    }
    if (!strcmp(mode, "escape")) {
        /* Nothing outside /in and /out exists, and /in cannot be written. */
        if (fopen("/etc/passwd", "r")) return 10;
        if (fopen("/in/../../etc/passwd", "r")) return 11;
        if (fopen("/in/new.txt", "w")) return 12;
        if (fopen("/tmp/x", "w")) return 13;
        FILE *f = fopen("/out/ok.txt", "w");
        fprintf(f, "contained\n");
        fclose(f);
        return 0;
    }
    /* ok: echo the arguments, copy every input, show the (fixed) time and randomness. */
    FILE *out = fopen("/out/echo.txt", "w");
    for (int i = 1; i < argc; i++) fprintf(out, "%s\n", argv[i]);
    fprintf(out, "time %lld\n", (long long)time(NULL));
    fprintf(out, "rand %d\n", rand());
    fclose(out);
    FILE *in = fopen("/in/data.txt", "r");
    if (in) {
        char buf[256];
        size_t n = fread(buf, 1, sizeof buf, in);
        fclose(in);
        FILE *copy = fopen("/out/copy.txt", "w");
        fwrite(buf, 1, n, copy);
        fclose(copy);
    }
    printf("hello from wasm\n");
    fprintf(stderr, "a line on stderr\n");
    return 0;
}
