"""Query sequences: one protein chain read from a FASTA file, checked letter by letter.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "adk.fasta")
>>> _ = open(path, "w").write(">adk chain A\\nMRIILLGAPG\\nAGKGTQ*\\n")
>>> read_fasta(path)
Sequence(name='adk chain A', residues='MRIILLGAPGAGKGTQ')
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputFileError

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
THREE_LETTER = {"A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU", "G": "GLY",
                "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE", "P": "PRO", "S": "SER",
                "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL"}          # one-letter code -> residue name
ONE_LETTER = {three: one for one, three in THREE_LETTER.items()}     # residue name -> one-letter code
AMBIGUOUS = "XBZUOJ"       # read as unknown residues (X)
MIN_LENGTH = 10


@dataclass(frozen=True)
class Sequence:
    """One chain: the FASTA header (without '>') and its one-letter residues (upper case; X unknown)."""

    name: str
    residues: str

    def __len__(self) -> int:
        return len(self.residues)


def read_fasta(path: str | os.PathLike) -> Sequence:
    """The one protein sequence of a FASTA file (a bare sequence without header is accepted).

    Lines are joined, white space and a final '*' dropped, letters upper-cased; B, Z, U, O, J
    become X. InputFileError naming the file for a missing or empty file, several records,
    nucleotides only, a character that is not a residue letter (with its line and column) or a
    sequence shorter than 10 residues.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "no such sequence file" if not p.exists() else "is not a file")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot be read as a FASTA text file ({exc})") from None
    records = _records(text.splitlines())
    if not records:
        raise InputFileError(p, "holds no sequence (empty FASTA file)")
    if len(records) > 1:
        names = ", ".join(n or "(no name)" for n, _ in records[:4])
        raise InputFileError(p, f"holds {len(records)} sequences ({names}); give one chain's sequence")
    name, lines = records[0]
    residues = _residues(p, lines)
    return Sequence(name or p.stem, residues)


def _records(lines: list[str]) -> list[tuple[str, list[tuple[int, str]]]]:
    """(header, [(line number, text)]) per record; a headerless file is one record named ''."""
    records: list[tuple[str, list[tuple[int, str]]]] = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith(">"):
            records.append((stripped[1:].strip(), []))
        elif stripped and not stripped.startswith(";"):
            if not records:
                records.append(("", []))
            records[-1][1].append((number, stripped))
    return records


def _residues(path: Path, lines: list[tuple[int, str]]) -> str:
    """The checked one-letter residues of one record."""
    out = []
    for number, text in lines:
        for column, c in enumerate(text.upper(), 1):
            if c.isspace() or (c == "*" and (number, column) == (lines[-1][0], len(text))):
                continue
            if c in AMINO_ACIDS:
                out.append(c)
            elif c in AMBIGUOUS:
                out.append("X")
            else:
                raise InputFileError(path, f"line {number}, column {column}: {c!r} is not an amino-acid letter")
    residues = "".join(out)
    if not residues:
        raise InputFileError(path, "the record has a header but no residues")
    if set(residues) <= set("ACGTN") and len(residues) >= MIN_LENGTH:
        raise InputFileError(path, "reads as a nucleotide sequence (only A, C, G, T, N); give the protein sequence")
    if len(residues) < MIN_LENGTH:
        raise InputFileError(path, f"the sequence has {len(residues)} residues; at least {MIN_LENGTH} are needed")
    return residues


def structure_sequence(st) -> str:
    """One-letter sequence of model 1's residues with a C-alpha (a gemmi Structure), in chain
    order, X for anything but the 20 amino acids; one letter per atom of :func:`cryonb.io.calpha`."""
    import gemmi
    out = []
    for chain in st[0]:
        for res in chain:
            if res.find_atom("CA", "*", gemmi.Element("C")) is not None:
                info = gemmi.find_tabulated_residue(res.name)
                code = info.one_letter_code.upper() if info is not None else "X"
                out.append(code if code in THREE_LETTER else "X")
    return "".join(out)
