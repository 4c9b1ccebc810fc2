"""Hartree–Fock (or DFT) energy of diborane, B2H6, with PySCF: a MetaMesh process task.

Reads the geometry from /in/b2h6.xyz (Å), writes /out/energy.json: the total energy in Hartree,
the orbital energies of the occupied orbitals, and the dipole moment. Replicas on different
machines agree to about 1e-9 Hartree, not bit for bit: the job's comparator checks the numbers
within rtol/atol, not the file's bytes.

    python3 scf.py --basis sto-3g [--xc b3lyp]
"""
import argparse
import json
import os
import sys

from pyscf import dft, gto, scf

parser = argparse.ArgumentParser()
parser.add_argument("--basis", default="sto-3g")
parser.add_argument("--xc", default=None, help="a DFT functional; Hartree–Fock without one")
parser.add_argument("--geometry", default=os.path.join(os.environ.get("METAMESH_IN", "/in"), "b2h6.xyz"))
args = parser.parse_args()

with open(args.geometry) as f:
    lines = f.read().split("\n")
atoms = "\n".join(l for l in lines[2:] if l.strip())

mol = gto.M(atom=atoms, basis=args.basis, unit="Angstrom", verbose=3)
mf = dft.RKS(mol, xc=args.xc) if args.xc else scf.RHF(mol)
mf.conv_tol = 1e-10
energy = mf.kernel()
if not mf.converged:
    sys.exit("SCF did not converge")

occupied = [float(e) for e, n in zip(mf.mo_energy, mf.mo_occ) if n > 0]
result = {
    "molecule": "B2H6",
    "method": args.xc or "RHF",
    "basis": args.basis,
    "energy_hartree": float(energy),
    "occupied_orbital_energies": [round(e, 8) for e in occupied],
    "dipole_debye": [round(float(d), 6) for d in mf.dip_moment(verbose=0)],
}
out = os.environ.get("METAMESH_OUT", "/out")
with open(os.path.join(out, "energy.json"), "w") as f:
    json.dump(result, f, indent=1, sort_keys=True)
print(f"E({result['method']}/{args.basis}) = {energy:.10f} Eh")
