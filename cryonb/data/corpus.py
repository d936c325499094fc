"""The small structure corpus for training and validation (DATA.md).

50 single X-ray chains from MDAnalysisTests' ``dssp`` folder (79-173 residues)
plus the other structures it ships: 1BD2, 3KPR, 3PWP, 5PTI (mmCIF), 4E43,
6MSM (CFTR, cryo-EM 3.2 Å) and the 1K5I RNA hairpin (CHARMM36 names).
"""
from __future__ import annotations

import bz2
import re
from dataclasses import dataclass

import gemmi

from ..atomic import atomic_path
from .charmm import clean_charmm, read_bundled, remove_non_polymer
from .sources import cache_dir, mdanalysis_test_file

OTHER_ENTRIES = {
    "1BD2": ("mmcif/1BD2.cif.gz", "protein"),
    "3KPR": ("mmcif/3KPR.cif.gz", "protein"),
    "3PWP": ("mmcif/3PWP.cif.gz", "protein"),
    "5PTI": ("mmcif/5PTI.cif.gz", "protein"),
    "4E43": ("4E43.pdb", "protein"),
    "6MSM": ("6msm.pdb.bz2", "protein"),
    "1K5I": ("analysis/1k5i_c36.pdb.gz", "rna"),
}
_DSSP_CHAIN = re.compile(r"^(\d\w{3})([A-Za-z0-9])\.pdb\.gz$")


@dataclass(frozen=True)
class CorpusEntry:
    """One corpus structure: a name like ``1ahsA``, its file inside MDAnalysisTests/data, a kind."""

    name: str
    relpath: str
    kind: str          # "protein" or "rna"
    source: str        # "dssp" or "other"


def corpus_entries() -> list[CorpusEntry]:
    """Every corpus entry: the 50 dssp chains (sorted) followed by the other structures."""
    folder = mdanalysis_test_file("dssp/README.md").parent
    chains = sorted(p.name for p in folder.glob("*.pdb.gz") if _DSSP_CHAIN.match(p.name))
    entries = [CorpusEntry(n.split(".")[0], f"dssp/{n}", "protein", "dssp") for n in chains]
    entries += [CorpusEntry(k, path, kind, "other") for k, (path, kind) in OTHER_ENTRIES.items()]
    return entries


def load_corpus_structure(name: str) -> gemmi.Structure:
    """Load one corpus structure by name: polymer residues only, no hydrogens, PDB names.

    Only the first model is kept for multi-model files.
    """
    entry = {e.name: e for e in corpus_entries()}.get(name)
    if entry is None:
        raise KeyError(f"no corpus structure named {name!r}; see corpus_entries()")
    path = mdanalysis_test_file(entry.relpath)
    if path.suffix == ".bz2":
        plain = cache_dir() / "corpus" / path.name[:-4]
        if not plain.exists():
            with atomic_path(plain) as tmp, open(tmp, "wb") as out:
                out.write(bz2.decompress(path.read_bytes()))
        path = plain
    st = read_bundled(path)
    while len(st) > 1:
        del st[len(st) - 1]
    st.remove_alternative_conformations()
    st, _ = clean_charmm(st)
    remove_non_polymer(st)
    return st
