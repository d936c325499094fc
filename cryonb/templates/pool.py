"""A pool of templates: the protein chains of a folder of PDB/mmCIF files.

One :class:`Template` per protein chain of the first model: the one-letter sequence of the
amino-acid residues that carry a C-alpha (the residues actually present, not SEQRES), their
C-alpha coordinates and residue numbers. Chains with fewer than ``min_residues`` such residues
(peptides, nucleic acids, ligands, waters) are left out.

A bad file does not stop a pool: :func:`read_pool` skips it, lists every skipped file with its
reason in one warning and keeps them in ``Pool.skipped``. Only a pool with no template at all is an
error (:class:`~cryonb.errors.InputFileError` naming the folder and each file's problem).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np

from ..errors import CryonbError, InputFileError
from ..io import is_model_file_name, read_model

MIN_RESIDUES = 20


@dataclass
class Template:
    """One protein chain: ``sequence`` (L letters), C-alphas ``xyz`` (L, 3) Å, ``resnums`` (L,)."""

    name: str
    chain: str
    sequence: str
    xyz: np.ndarray
    resnums: np.ndarray
    path: str | None = None

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass
class Pool:
    """Templates read from a folder and the files skipped, as (path, reason)."""

    templates: list[Template]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def chain_templates(st: gemmi.Structure, name: str, min_residues: int = MIN_RESIDUES,
                    path: str | None = None) -> list[Template]:
    """The protein chains of model 1 of ``st`` with at least ``min_residues`` C-alpha residues."""
    out = []
    for chain in st[0]:
        letters, xyz, nums = [], [], []
        for res in chain:
            info = gemmi.find_tabulated_residue(res.name)
            atom = res.find_atom("CA", "*", gemmi.Element("C"))
            if info is None or not info.is_amino_acid() or atom is None:
                continue
            code = info.one_letter_code.upper()
            letters.append(code if code.isalpha() else "X")
            xyz.append(atom.pos.tolist())
            nums.append(res.seqid.num)
        if len(letters) >= min_residues:
            out.append(Template(name, chain.name, "".join(letters), np.asarray(xyz, dtype=np.float64),
                                np.asarray(nums, dtype=int), path))
    return out


def read_templates(path: str | os.PathLike, min_residues: int = MIN_RESIDUES) -> list[Template]:
    """The protein chains of one PDB/mmCIF file, named by the file's stem; ModelError if unreadable."""
    st = read_model(path)
    return chain_templates(st, st.name, min_residues, os.fspath(path))


def model_files(folder: str | os.PathLike) -> list[Path]:
    """The files of ``folder`` (not recursive) whose names are model files, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError(root, "is not a folder of template models")
    return [p for p in sorted(root.iterdir()) if is_model_file_name(p)]


def read_pool(folder: str | os.PathLike, min_residues: int = MIN_RESIDUES) -> Pool:
    """Every protein chain of every model file in ``folder``; bad files skipped with one warning."""
    files = model_files(folder)
    if not files:
        raise InputFileError(folder, "holds no PDB/mmCIF files (.pdb, .ent, .cif, .mmcif, .pdbx, "
                                     "optionally .gz/.bz2)")
    templates, skipped = [], []
    for p in files:
        try:
            found = read_templates(p, min_residues)
        except CryonbError as exc:
            skipped.append((str(p), exc.problem))
            continue
        if not found:
            skipped.append((str(p), f"no protein chain with {min_residues} or more C-alpha residues"))
        templates += found
    if not templates:
        raise InputFileError(folder, "no usable template: " + "; ".join(f"{p}: {r}" for p, r in skipped))
    if skipped:
        warnings.warn(f"{folder}: {len(skipped)} of {len(files)} files skipped: "
                      + "; ".join(f"{Path(p).name}: {r}" for p, r in skipped), stacklevel=2)
    return Pool(templates, skipped)
