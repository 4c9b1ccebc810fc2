/* prepare: reads the structure (/in/structure.json) and writes the k-point path
 * Gamma - M - K - Gamma of the hexagonal Brillouin zone, split into CHUNKS files
 * /out/kpoints-<i>.txt, each line "index kx ky" (1/Angstrom). argv[1]: points per segment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNKS 3

static double number_after(const char *text, const char *key, double fallback) {
    const char *p = strstr(text, key);
    if (!p) return fallback;
    p = strchr(p, ':');
    return p ? strtod(p + 1, NULL) : fallback;
}

int main(int argc, char **argv) {
    int per = argc > 1 ? atoi(argv[1]) : 32;
    if (per < 1 || per > 100000) {
        fprintf(stderr, "prepare: points per segment must be 1..100000, got %s\n", argc > 1 ? argv[1] : "?");
        return 2;
    }
    FILE *in = fopen("/in/structure.json", "r");
    if (!in) { fprintf(stderr, "prepare: no /in/structure.json\n"); return 3; }
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, in);
    text[n] = 0;
    fclose(in);
    double a = number_after(text, "\"a\"", 2.504); /* lattice constant, Angstrom */
    /* Reciprocal-space corners for a triangular lattice with a1 = a(1,0), a2 = a(1/2, sqrt3/2). */
    double pi = acos(-1.0);
    double gx[4] = {0, pi / a, 4 * pi / (3 * a), 0};
    double gy[4] = {0, pi / (sqrt(3.0) * a), 0, 0};
    int total = 3 * per + 1;
    FILE *out[CHUNKS];
    for (int c = 0; c < CHUNKS; c++) {
        char name[64];
        snprintf(name, sizeof name, "/out/kpoints-%d.txt", c);
        out[c] = fopen(name, "w");
        if (!out[c]) { fprintf(stderr, "prepare: cannot write %s\n", name); return 4; }
    }
    for (int i = 0; i < total; i++) {
        int seg = i / per, step = i % per;
        if (seg == 3) { seg = 2; step = per; }
        double f = (double)step / per;
        double kx = gx[seg] + f * (gx[seg + 1] - gx[seg]);
        double ky = gy[seg] + f * (gy[seg + 1] - gy[seg]);
        fprintf(out[i * CHUNKS / total], "%d %.12f %.12f\n", i, kx, ky);
    }
    for (int c = 0; c < CHUNKS; c++) fclose(out[c]);
    printf("prepare: %d k-points along Gamma-M-K-Gamma (a = %.4f A) in %d chunks\n", total, a, CHUNKS);
    return 0;
}
