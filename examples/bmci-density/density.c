/* density: a BMCI algorithm. Reads a material's structure as extended XYZ (argv[1], default
 * /in/structure.xyz: a count line, a comment line with Lattice="ax ay az bx by bz cx cy cz",
 * then one "Symbol x y z" line per site, Angstrom) and writes /out/properties.json with the
 * cell's mass density (g/cm^3) and its volume per site (Angstrom^3), keys sorted:
 *   {"density": 2.28, "volume_per_atom": 5.95}
 * Exit codes: 2 unreadable input, 3 malformed structure, 4 unknown element, 5 cannot write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "masses.h"

/* One atomic mass unit per cubic Angstrom in g/cm^3 (CODATA 2018 u = 1.66053906660e-24 g). */
#define U_PER_A3_IN_G_PER_CM3 1.66053906660
#define MAX_SITES 100000

static double mass_of(const char *symbol) {
    for (size_t i = 0; i < sizeof MASSES / sizeof MASSES[0]; i++)
        if (strcmp(MASSES[i].symbol, symbol) == 0) return MASSES[i].mass;
    return -1;
}

static int fail(int code, const char *what, const char *detail) {
    fprintf(stderr, "density: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return code;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/in/structure.xyz";
    FILE *in = fopen(path, "r");
    if (!in) return fail(2, "cannot open", path);
    char line[4096];
    long n = 0;
    if (!fgets(line, sizeof line, in) || sscanf(line, "%ld", &n) != 1 || n < 1 || n > MAX_SITES)
        return fail(3, "the first line is not a site count (1..100000)", NULL);
    if (!fgets(line, sizeof line, in)) return fail(3, "no comment line", NULL);
    const char *lat = strstr(line, "Lattice=\"");
    if (!lat) return fail(3, "the comment line has no Lattice=\"...\"", NULL);
    lat += strlen("Lattice=\"");
    double m[9];
    for (int i = 0; i < 9; i++) {
        char *end;
        m[i] = strtod(lat, &end);
        if (end == lat || !isfinite(m[i])) return fail(3, "the lattice is not nine numbers", NULL);
        lat = end;
    }
    double volume = fabs(m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                         m[2] * (m[3] * m[7] - m[4] * m[6]));
    if (!(volume > 1e-9)) return fail(3, "the lattice vectors span no volume", NULL);
    double mass = 0;
    for (long i = 0; i < n; i++) {
        char symbol[8];
        double x, y, z;
        if (!fgets(line, sizeof line, in) || sscanf(line, "%7s %lf %lf %lf", symbol, &x, &y, &z) != 4)
            return fail(3, "fewer site lines than the count says", NULL);
        double mi = mass_of(symbol);
        if (mi < 0) return fail(4, "unknown element", symbol);
        mass += mi;
    }
    fclose(in);
    FILE *out = fopen("/out/properties.json", "w");
    if (!out) return fail(5, "cannot write", "/out/properties.json");
    double density = mass / volume * U_PER_A3_IN_G_PER_CM3;
    fprintf(out, "{\"density\": %.12g, \"volume_per_atom\": %.12g}\n", density, volume / n);
    if (fclose(out) != 0) return fail(5, "cannot write", "/out/properties.json");
    printf("density: %ld sites, %.4f u in %.4f A^3: %.6f g/cm^3\n", n, mass, volume, density);
    return 0;
}
