/* gap: reads /in/bands-0.txt, /in/bands-1.txt, ... ("index valence conduction") and writes
 * /out/gap.json: the band gap (conduction minimum - valence maximum) and where it is. */
#include <stdio.h>

int main(void) {
    double vbm = -1e300, cbm = 1e300;
    int at_v = -1, at_c = -1, points = 0;
    for (int c = 0; c < 64; c++) {
        char name[64];
        snprintf(name, sizeof name, "/in/bands-%d.txt", c);
        FILE *f = fopen(name, "r");
        if (!f) break;
        int i;
        double v, e;
        while (fscanf(f, "%d %lf %lf", &i, &v, &e) == 3) {
            if (v > vbm) { vbm = v; at_v = i; }
            if (e < cbm) { cbm = e; at_c = i; }
            points++;
        }
        fclose(f);
    }
    if (points == 0) { fprintf(stderr, "gap: no bands under /in\n"); return 3; }
    FILE *out = fopen("/out/gap.json", "w");
    if (!out) return 4;
    fprintf(out, "{\"material\": \"h-BN\", \"gap_eV\": %.6f, \"valence_max_eV\": %.6f, \"conduction_min_eV\": %.6f, "
                 "\"valence_max_k\": %d, \"conduction_min_k\": %d, \"direct\": %s, \"kpoints\": %d}\n",
            cbm - vbm, vbm, cbm, at_v, at_c, at_v == at_c ? "true" : "false", points);
    fclose(out);
    printf("gap: %.4f eV (%s) over %d k-points\n", cbm - vbm, at_v == at_c ? "direct" : "indirect", points);
    return 0;
}
