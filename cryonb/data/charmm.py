"""Clean CHARMM-named models to standard PDB naming.

MDAnalysis' AdK files use CHARMM names: HSD/HSE/HSP histidines, ILE CD,
C-terminal OT1/OT2, hydrogens present, no chain id. Nucleic acids in CHARMM36
use ADE/CYT/GUA/URA/THY and O1P/O2P. Restraints and validation need PDB names.
"""
from __future__ import annotations

import warnings

import gemmi
import numpy as np

from ..io import charmm_to_pdb_names, read_model

# removed after renaming (io.CHARMM_RESIDUES turns TIP3, POT, SOD, CLA, CAL into HOH, K, NA, CL, CA)
SOLVENT_AND_IONS = {"HOH", "WAT", "SOL", "MG", "K", "NA", "CL", "CA"}


def read_bundled(path) -> gemmi.Structure:
    """read_model for the bundled CHARMM-named files, without the warnings meant for a user's file
    (no element columns, CHARMM names read as PDB names): they are known and cleaned here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_model(path)


def clean_charmm(st: gemmi.Structure, chain_id: str = "A") -> tuple[gemmi.Structure, np.ndarray]:
    """Return a cleaned copy of ``st`` and the indices of the atoms it kept.

    Hydrogens, water and ions are removed; residue and atom names are mapped to
    PDB names; every chain without a name is named ``chain_id``; the crystal cell
    (meaningless for a cryo-EM model) and raw REMARKs are dropped. ``kept`` (n_kept,) indexes the
    atoms of the input's first model in file order, so trajectories in the input
    atom order can be reduced to the cleaned atoms with ``frames[:, kept]``.
    """
    out = st.clone()
    charmm_to_pdb_names(out)
    kept, index = [], 0
    for model in out:
        for chain in model:
            if not chain.name.strip():
                chain.name = chain_id
            for res in chain:
                if _is_polymer(res.name):  # CHARMM files have no element column: CA is carbon, HT1 hydrogen
                    for atom in res:
                        atom.element = gemmi.Element(atom.name.lstrip("0123456789")[0])
    for res in (r for ch in out[0] for r in ch):
        for atom in res:
            if not (atom.is_hydrogen() or res.name in SOLVENT_AND_IONS):
                kept.append(index)
            index += 1
    out.remove_hydrogens()
    _remove_solvent(out)
    out.remove_empty_chains()
    out.raw_remarks = []          # the MDAnalysis files carry stale remarks (about KcsA)
    out.cell = gemmi.UnitCell()
    out.spacegroup_hm = "P 1"
    out.setup_entities()
    return out, np.array(kept, dtype=np.int64)


def _is_polymer(name: str) -> bool:
    info = gemmi.find_tabulated_residue(name)
    return info is not None and (info.is_amino_acid() or info.is_nucleic_acid())


def remove_non_polymer(st: gemmi.Structure) -> None:
    """Remove in place every residue that is not a standard amino acid or nucleotide."""
    for model in st:
        for chain in model:
            for i in reversed(range(len(chain))):
                if not _is_polymer(chain[i].name):
                    del chain[i]
    st.remove_empty_chains()


def _remove_solvent(st: gemmi.Structure) -> None:
    for model in st:
        for chain in model:
            for i in reversed(range(len(chain))):
                if chain[i].name in SOLVENT_AND_IONS:
                    del chain[i]
