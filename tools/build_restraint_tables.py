"""Derive cryonb's compact restraint tables from the CCP4 monomer library.

Reads the monomer library (a folder with ``list/mon_lib_list.cif``, ``ener_lib.cif``
and ``a/ALA.cif``-style entries; default: the copy in the pip wheel
``coot-headless-api==1.3.3rc1``, downloaded with ``pip download --pre`` when no
folder is given) and writes ``cryonb/geometry/monomers.json.gz``:

* for each standard amino acid and nucleotide, three forms with the library's
  modifications applied as a polymer needs them: ``internal`` (linked on both
  sides), ``start`` (N-terminus / 5' end), ``end`` (C-terminus / 3' end) and ``free``;
  each form lists atoms (name, element, energy type, ideal xyz in Å), bonds
  (electron-cloud and nucleus distances in Å with esds), angles, torsions,
  chiral centres and planes;
* the polymer and disulfide links (TRANS, CIS, PTRANS, PCIS, p, disulf);
* the energy types' element, H-bond class and van der Waals radius.

Usage: ``python tools/build_restraint_tables.py [MONOMER_DIR]``.
The CCP4 monomer library is distributed under the LGPL; the derived values
are ideal geometry from it (see README, data credits).
"""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import gemmi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cryonb.geometry.library import chirality_sign, comp_restraints, compact_form, pair_key  # noqa: E402

AMINO_ACIDS = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
               "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"]
NUCLEOTIDES = ["A", "C", "G", "U", "DA", "DC", "DG", "DT"]
LINKS = ["TRANS", "CIS", "PTRANS", "PCIS", "p", "disulf"]
# Modifications a polymer residue receives: (mods on its linked-forward side, linked-backward side).
PEPTIDE_MODS = {"next": "DEL-OXT", "prev": "DEL-HN1"}
PROLINE_MODS = {"next": "DEL-OXT", "prev": "DEL-HNP"}
NUCLEIC_MODS = {"next": "DEL_HO3p", "prev": "DEL_OP3"}
WHEEL = ("coot-headless-api", "1.3.3rc1")
WHEEL_DIR = "coot_headless_api/share/coot/lib/data/monomers/"
OUT = Path(__file__).resolve().parents[1] / "cryonb" / "geometry" / "monomers.json.gz"


def fetch_monomer_library(dest: Path) -> Path:
    """Download the coot-headless-api wheel and unpack its monomer library into dest."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--pre", "--no-deps", "-q",
                    f"{WHEEL[0]}=={WHEEL[1]}", "-d", str(dest)], check=True)
    wheel = next(dest.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(WHEEL_DIR):
                z.extract(name, dest)
    return dest / WHEEL_DIR


def read_mods(doc: gemmi.cif.Document, names: set[str]) -> dict[str, dict[str, list[dict]]]:
    """Rows of the named modifications, per category (atom, bond, angle, tor, plane_atom, chir)."""
    mods: dict[str, dict[str, list[dict]]] = {}
    for name in names:
        block = doc.find_block(f"mod_{name}")
        if block is None:
            raise SystemExit(f"modification {name} not found in mon_lib_list.cif")
        cats = {}
        for cat in ["atom", "bond", "angle", "tor", "plane_atom", "chir"]:
            table = block.find_mmcif_category(f"_chem_mod_{cat}.")
            tags = [t.split(".", 1)[1] for t in table.tags]
            cats[cat] = [dict(zip(tags, (gemmi.cif.as_string(v) for v in row))) for row in table]
        mods[name] = cats
    return mods


def apply_mod(t: dict, mod: dict[str, list[dict]]) -> None:
    """Apply one CCP4 modification (delete/change rows) in place; 'add' rows are not needed here."""
    for row in mod["atom"]:
        if row["function"] == "delete":
            t["atoms"].pop(row["atom_id"], None)
        elif row["function"] == "change" and row["new_type_energy"] not in ("", "."):
            t["atoms"][row["atom_id"]][1] = row["new_type_energy"]
    for row in mod["bond"]:
        _edit(t["bonds"], pair_key(row["atom_id_1"], row["atom_id_2"]), row["function"],
              [row.get(k) for k in ("new_value_dist", "new_value_dist_esd",
                                    "new_value_dist_nucleus", "new_value_dist_nucleus_esd")])
    for row in mod["angle"]:
        key = (row["atom_id_1"], row["atom_id_2"], row["atom_id_3"])
        key = key if key in t["angles"] else key[::-1]
        _edit(t["angles"], key, row["function"], [row["new_value_angle"], row["new_value_angle_esd"]])
    for row in mod["tor"]:
        key = tuple(row[f"atom_id_{i}"] for i in range(1, 5))
        key = key if key in t["torsions"] else key[::-1]
        if row["function"] == "delete":
            t["torsions"].pop(key, None)
    for row in mod["plane_atom"]:
        if row["function"] == "delete":
            t["planes"].get(row["plane_id"], {}).pop(row["atom_id"], None)
    for row in mod["chir"]:
        if row["function"] == "delete":
            t["chirals"].pop(row["atom_id_centre"], None)


def _edit(table: dict, key: tuple, function: str, new: list) -> None:
    if function == "delete":
        table.pop(key, None)
    elif function == "change" and key in table:
        for i, v in enumerate(new):
            if v not in (None, "", "."):
                table[key][i] = float(v)


def _drop_missing_atoms(t: dict) -> None:
    have = set(t["atoms"])
    for cat in ["bonds", "angles", "torsions"]:
        t[cat] = {k: v for k, v in t[cat].items() if set(k) <= have}
    t["chirals"] = {k: v for k, v in t["chirals"].items() if k in have and set(v[:3]) <= have}
    planes = {k: {a: e for a, e in v.items() if a in have} for k, v in t["planes"].items()}
    t["planes"] = {k: v for k, v in planes.items() if len(v) >= 4}


def residue_forms(cc: gemmi.ChemComp, mods: dict) -> dict[str, dict]:
    """The internal, start, end and free forms of a polymer residue, in compact list form."""
    names = NUCLEIC_MODS if cc.group in (gemmi.ChemComp.Group.Rna, gemmi.ChemComp.Group.Dna) else \
        PROLINE_MODS if cc.name == "PRO" else PEPTIDE_MODS
    forms = {}
    for form, applied in [("internal", ["next", "prev"]), ("start", ["next"]), ("end", ["prev"]), ("free", [])]:
        t = comp_restraints(cc)
        for side in applied:
            apply_mod(t, mods[names[side]])
        _drop_missing_atoms(t)
        forms[form] = compact_form(t)
    return forms


def link_table(link: gemmi.ChemLink) -> dict:
    """Restraints of an inter-residue link; atoms are [side (1|2), name]."""
    rt = link.rt

    def ids(*atom_ids):
        return [[int(i.comp), i.atom] for i in atom_ids]

    return {
        "mods": [link.side1.mod, link.side2.mod],
        "bonds": [[*ids(b.id1, b.id2), b.value, b.esd] for b in rt.bonds],
        "angles": [[*ids(a.id1, a.id2, a.id3), a.value, a.esd] for a in rt.angles],
        "torsions": [[t.label, *ids(t.id1, t.id2, t.id3, t.id4), t.value, t.esd, t.period] for t in rt.torsions],
        "chirals": [[*ids(c.id_ctr, c.id1, c.id2, c.id3), chirality_sign(c.sign)] for c in rt.chirs],
        "planes": [[p.label, ids(*p.ids), p.esd] for p in rt.planes],
    }


def energy_types(path: Path) -> dict[str, list]:
    """Energy type -> [element, H-bond class (D/A/B/H/N), vdW radius Å]."""
    block = gemmi.cif.read(str(path)).sole_block()
    table = block.find("_lib_atom.", ["type", "element", "hb_type", "vdw_radius"])
    return {row[0]: [row[1], row[2], float(row[3]) if row[3] not in (".", "?") else None] for row in table}


def build(mon_dir: Path) -> dict:
    ml = gemmi.read_monomer_lib(str(mon_dir), AMINO_ACIDS + NUCLEOTIDES)
    doc = gemmi.cif.read(str(mon_dir / "list" / "mon_lib_list.cif"))
    mods = read_mods(doc, {*PEPTIDE_MODS.values(), *PROLINE_MODS.values(), *NUCLEIC_MODS.values()})
    residues = {}
    for name in AMINO_ACIDS + NUCLEOTIDES:
        cc = ml.monomers[name]
        residues[name] = {"group": cc.group.name.lower(),
                          "forms": residue_forms(cc, mods)}
    return {
        "source": f"CCP4 monomer library from pip {WHEEL[0]}=={WHEEL[1]} ({WHEEL_DIR})",
        "residues": residues,
        "links": {name: link_table(ml.links[name]) for name in LINKS},
        "energy_types": energy_types(mon_dir / "ener_lib.cif"),
    }


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mon_dir = Path(argv[0]) if argv else fetch_monomer_library(Path(tmp))
        tables = build(mon_dir)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(tables, separators=(",", ":")).encode()
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write(data)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB): {len(tables['residues'])} residues, "
          f"{len(tables['links'])} links, {len(tables['energy_types'])} energy types")


if __name__ == "__main__":
    main(sys.argv[1:])
