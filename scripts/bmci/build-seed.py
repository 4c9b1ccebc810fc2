#!/usr/bin/env python3
"""Builds BMCI's seed data set (data/bmci/seed.json) offline from data shipped in PyPI wheels,
one record per fact with where it came from: package, version, file, row, upstream DOI, licence.

    scripts/bmci/build-seed.py [--wheels DIR] [-o data/bmci/seed.json]

The wheels are read as zip files, never installed (pip downloads them into DIR when missing):
  * pymatgen: the AFLOW Library of Crystallographic Prototypes (analysis/prototypes/
    aflow_prototypes.json.gz) as structures, with the references each carries, and the
    experimental formation enthalpies (analysis/compatibility/exp_compounds.json.gz).
The output is sorted and stable: running it again gives the same file.
"""
import argparse
import gzip
import io
import json
import math
import pathlib
import re
import subprocess
import unicodedata
import sys
import zipfile

PYMATGEN = "2026.10.24"
AFLOW_DOI = "10.1016/j.commatsci.2017.01.017"


def wheel(wheels: pathlib.Path, name: str, version: str) -> zipfile.ZipFile:
    found = sorted(wheels.glob(f"{name}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
             f"{name}=={version}"],
            check=True,
        )
        found = sorted(wheels.glob(f"{name}-{version}-*.whl"))
    return zipfile.ZipFile(found[0])


def gz_json(z: zipfile.ZipFile, path: str):
    return json.load(gzip.open(io.BytesIO(z.read(path))))


def reduced(formula: str):
    """`SiO2` → `O2Si`: OPTIMADE's reduced formula (elements alphabetically, counts divided by
    their greatest common divisor), or None for a formula with parentheses or fractions."""
    if not re.fullmatch(r"([A-Z][a-z]?\d*)+", formula):
        return None
    counts = {}
    for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula):
        counts[el] = counts.get(el, 0) + (int(n) if n else 1)
    g = 0
    for n in counts.values():
        g = math.gcd(g, n)
    return "".join(f"{el}{'' if n // g == 1 else n // g}" for el, n in sorted(counts.items()))


def bibtex(text: str):
    """The entries of a small BibTeX text: {key, fields}."""
    out = []
    for m in re.finditer(r"@(\w+)\{([^,]+),(.*?)\n\}", text, re.S):
        fields = {}
        for f in re.finditer(r"(\w+)\s*=\s*(?:\{((?:[^{}]|\{[^{}]*\})*)\}|\"([^\"]*)\")", m.group(3)):
            value = (f.group(2) if f.group(2) is not None else f.group(3)).strip()
            fields[f.group(1).lower()] = re.sub(r"[{}]", "", value)
        out.append({"kind": m.group(1).lower(), "key": m.group(2).strip(), "fields": fields})
    return out


GREEK = {
    name: chr(code) for name, code in [
        ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4),
        ("epsilon", 0x3B5), ("varepsilon", 0x3B5), ("zeta", 0x3B6), ("eta", 0x3B7),
        ("theta", 0x3B8), ("iota", 0x3B9), ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC),
        ("nu", 0x3BD), ("xi", 0x3BE), ("pi", 0x3C0), ("rho", 0x3C1), ("sigma", 0x3C3),
        ("tau", 0x3C4), ("upsilon", 0x3C5), ("phi", 0x3C6), ("varphi", 0x3C6), ("chi", 0x3C7),
        ("psi", 0x3C8), ("omega", 0x3C9), ("Gamma", 0x393), ("Delta", 0x394), ("Theta", 0x398),
        ("Lambda", 0x39B), ("Xi", 0x39E), ("Pi", 0x3A0), ("Sigma", 0x3A3), ("Phi", 0x3A6),
        ("Psi", 0x3A8), ("Omega", 0x3A9),
    ]
}
ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
           "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
           "c": "\u0327", "k": "\u0328"}
LETTERS = {"ss": "\u00df", "o": "\u00f8", "O": "\u00d8", "aa": "\u00e5", "AA": "\u00c5",
           "ae": "\u00e6", "AE": "\u00c6", "oe": "\u0153", "l": "\u0142", "L": "\u0141", "i": "\u0131"}


def inline_math(text):
    """Inline math as text: Greek letters, sub- and superscripts inline."""
    t = re.sub(r"\\([A-Za-z]+)\s?", lambda m: GREEK.get(m.group(1), m.group(1)), text)
    return re.sub(r"[_^]\{([^{}]*)\}|[_^](\S)", lambda m: m.group(1) or m.group(2), t)


def latex(text):
    """BibTeX's LaTeX as plain Unicode: accents (`\\"u`, `\\'{c}`), special letters, Greek
    and sub/superscripts in math, `--` dashes; no backslash, brace or dollar is left."""
    if text is None:
        return None
    t = re.sub(r"\\([\"'`^~=.])\s*\{?([A-Za-z])\}?", lambda m: m.group(2) + ACCENTS[m.group(1)], text)
    # An escaped quote before no letter is the quote itself (Strukturbericht `L\\'2`).
    t = re.sub(r"\\([\"'`])", lambda m: m.group(1), t)
    t = re.sub(r"\\([uvHck])\s*\{([A-Za-z])\}", lambda m: m.group(2) + ACCENTS[m.group(1)], t)
    t = re.sub(r"\\([uvHck]) ([A-Za-z])", lambda m: m.group(2) + ACCENTS[m.group(1)], t)
    # `{\\AA}sbrink` reaches here as `\\AAsbrink` (braces are gone): two-letter names
    # need no word boundary, one-letter ones do.
    t = re.sub(r"\\(ss|aa|AA|ae|AE|oe)\s?", lambda m: LETTERS[m.group(1)], t)
    t = re.sub(r"\\(o|O|l|L|i)\b\s?", lambda m: LETTERS[m.group(1)], t)
    t = re.sub(r"\$([^$]*)\$", lambda m: inline_math(m.group(1)), t)
    t = re.sub(r"\\([A-Za-z]+)\s?", lambda m: m.group(1), t)
    t = t.replace("---", "\u2014").replace("--", "\u2013")
    t = re.sub(r"[{}$]", "", t)
    # German babel shorthand: `"Uber` is Über (and a quote left after an umlaut is stray).
    t = re.sub(r'"([AOUaou])(?=[a-z])', lambda m: m.group(1) + ACCENTS['"'], t)
    t = unicodedata.normalize("NFC", t)
    t = re.sub(r'([ÄÖÜäöü])"', r"\1", t)
    assert "\\" not in t, f"LaTeX left in {text!r}: {t!r}"
    return t


def reference(entry, clean=True):
    f = entry["fields"]
    tidy = latex if clean else (lambda v: v)
    authors = [tidy(a.strip()) for a in re.split(r"\s+and\s+", f.get("author", "")) if a.strip()]
    ref = {
        "kind": entry["kind"],
        "title": tidy(re.sub(r"\s+", " ", f.get("title", "")).strip()),
        "authors": authors,
        "journal": tidy(f.get("journal")),
        "year": f.get("year"),
        "volume": f.get("volume"),
        "pages": f.get("pages"),
        "doi": f.get("doi"),
    }
    return {k: v for k, v in ref.items() if v not in (None, "", [])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", default=str(pathlib.Path.home() / ".cache" / "metamesh-bmci-wheels"))
    ap.add_argument("-o", "--output", default="data/bmci/seed.json")
    args = ap.parse_args()
    wheels = pathlib.Path(args.wheels)
    wheels.mkdir(parents=True, exist_ok=True)

    pmg = wheel(wheels, "pymatgen", PYMATGEN)
    licence = "MIT (pymatgen); AFLOW prototypes: cite Mehl et al. 2017"
    structures, references = [], {}
    path = "pymatgen/analysis/prototypes/aflow_prototypes.json.gz"
    for row, proto in enumerate(gz_json(pmg, path)):
        snl, tags = proto["snl"], proto["tags"]
        refs = []
        for e in bibtex(snl["about"].get("references", "")):
            # Ids from the fields as written, so they stay what they were.
            raw = reference(e, clean=False)
            r = reference(e)
            first = (raw.get("authors") or ["anon"])[0].split()[-1]
            key = raw.get("doi") or f"{first}-{raw.get('year')}-{raw.get('journal', '')}-{raw.get('pages', '')}"
            rid = "ref-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:80]
            references[rid] = r
            refs.append(rid)
        sid = "aflow-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", tags["aflow"])
        taken = {x["id"] for x in structures}
        n = 2
        while sid in taken or f"{sid}" in taken:
            sid = f"{sid.rsplit('.', 1)[0] if n > 2 else sid}.{n}"
            n += 1
        structures.append({
            "id": sid,
            "name": latex(tags.get("mineral") or tags["aflow"]),
            "lattice": snl["lattice"]["matrix"],
            "sites": [[s["species"][0]["element"], s["xyz"]] for s in snl["sites"]],
            "tags": {k: latex(v) if isinstance(v, str) else v for k, v in tags.items() if v},
            "references": sorted(set(refs)),
            "source": {"package": "pymatgen", "version": PYMATGEN, "file": path, "row": row,
                       "doi": AFLOW_DOI, "licence": licence},
        })
    facts = []
    path = "pymatgen/analysis/compatibility/exp_compounds.json.gz"
    for row, c in enumerate(gz_json(pmg, path)):
        # Upstream values are per formula unit of the listed formula (Ag2CO3: -5.24 eV, its
        # -505.8 kJ/mol); per atom divides by the atoms in that formula.
        atoms = sum(int(n) if n else 1 for _, n in re.findall(r"([A-Z][a-z]?)(\d*)", c["formula"]))
        facts.append({
            "formula": c["formula"],
            "reduced_formula": reduced(c["formula"]),
            "property": "formation_enthalpy",
            "value": c["exp energy"],
            "per_atom": c["exp energy"] / atoms if atoms else None,
            # Some rows have no uncertainty (NaN upstream): JSON has no NaN, so null.
            "uncertainty": c["uncertainty"] if c.get("uncertainty") == c.get("uncertainty") else None,
            "unit": "eV per formula unit",
            "source": {"package": "pymatgen", "version": PYMATGEN, "file": path, "row": row,
                       "doi": None, "licence": "MIT (pymatgen)"},
        })
    seed = {
        "about": "BMCI seed: AFLOW prototype structures and experimental formation enthalpies, from the pymatgen wheel",
        "structures": sorted(structures, key=lambda s: s["id"]),
        "references": [dict(id=k, **v) for k, v in sorted(references.items())],
        "facts": facts,
    }
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One record per line: small diffs when the sources change.
    lines = ["{"]
    for i, (k, v) in enumerate(sorted(seed.items())):
        end = "," if i + 1 < len(seed) else ""
        if isinstance(v, list):
            rows = [json.dumps(x, sort_keys=True, separators=(",", ":"), allow_nan=False) for x in v]
            lines.append(f"{json.dumps(k)}:[\n" + ",\n".join(rows) + f"\n]{end}")
        else:
            lines.append(f"{json.dumps(k)}:{json.dumps(v)}{end}")
    lines.append("}")
    out.write_text("\n".join(lines) + "\n")
    print(f"{out}: {len(structures)} structures, {len(references)} references, {len(facts)} facts")


if __name__ == "__main__":
    main()
