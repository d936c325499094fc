"""Models and maps in and out.

Models go through gemmi (PDB, mmCIF, gzip, multi-model); maps through mrcfile
into :class:`cryonb.maps.Map`, with voxel size, origin (header origin or
``nstart``), axis order (``mapc/mapr/maps``) and non-cubic boxes handled.
Outputs are written atomically (:mod:`cryonb.atomic`); inputs are never modified.
"""
from __future__ import annotations

import bz2
import gzip
import os
import warnings
from collections import Counter
from pathlib import Path

import gemmi
import mrcfile
import numpy as np

from .atomic import atomic_path, protect_input
from .errors import MapError, ModelError, require_file
from .maps import Map

# CHARMM names -> PDB names (MD models: HSD/HSE/HSP histidines, ILE CD, OT1/OT2, CHARMM36 nucleic
# acids, TIP3 water and ions). Several CHARMM names are other CCD components (HSD, CLA, ...).
CHARMM_RESIDUES = {"HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HIE": "HIS", "HID": "HIS", "HIP": "HIS",
                   "ADE": "A", "CYT": "C", "GUA": "G", "URA": "U", "THY": "DT", "TIP3": "HOH", "TIP": "HOH",
                   "POT": "K", "SOD": "NA", "CLA": "CL", "CAL": "CA"}
CHARMM_ATOMS = {("ILE", "CD"): "CD1", ("*", "OT1"): "O", ("*", "OT2"): "OXT", ("*", "O1P"): "OP1",
                ("*", "O2P"): "OP2", ("DT", "C5M"): "C7", ("HOH", "OH2"): "O", ("K", "POT"): "K",
                ("NA", "SOD"): "NA", ("CL", "CLA"): "CL", ("CA", "CAL"): "CA"}
_CHARMM_ONLY = {"HSD", "HSE", "HSP", "TIP3", "ADE", "CYT", "GUA", "URA", "THY"}


# ----------------------------------------------------------------------------- models
MAX_COORDINATE = 1.0e5   # Å from the origin: beyond any molecule, map or PDB-format column
def read_model(path: str | os.PathLike) -> gemmi.Structure:
    """Read a PDB or mmCIF model (optionally .gz) into a gemmi Structure.

    Raises ModelError naming the file when it cannot be parsed, holds no atoms,
    or holds non-finite coordinates.
    """
    p = require_file(path)
    kind = model_format(p)
    elements_given = True
    if kind == "pdb":
        elements_given = _check_pdb_coordinates(p)
    try:
        st = _read_structure(p, kind)
    except (OSError, EOFError) as exc:
        raise ModelError(p, _unreadable(p, exc)) from None
    except Exception as exc:  # gemmi raises RuntimeError/ValueError with a line number
        raise ModelError(p, f"not a readable {'PDB' if kind == 'pdb' else 'mmCIF'} model ({exc})") from None
    if len(st) > 0:
        _check_repeated_chains(p, st)
    st.merge_chain_parts()
    st.setup_entities()
    if len(st) == 0 or st[0].count_atom_sites() == 0:
        raise ModelError(p, "model contains no atoms (is this a PDB/mmCIF coordinate file?)")
    for i in range(len(st)):
        xyz = model_xyz(st, i)
        if not np.all(np.isfinite(xyz)):
            raise ModelError(p, f"model {i + 1} has non-finite (NaN/inf) atom coordinates")
        if np.abs(xyz).max() > MAX_COORDINATE:
            raise ModelError(p, f"model {i + 1} spans to {np.abs(xyz).max():.3g} Å from the origin (more than "
                                f"{MAX_COORDINATE:g} Å): damaged coordinates or wrong units")
    if is_charmm(st):
        n = charmm_to_pdb_names(st)
        warnings.warn(f"{p}: CHARMM names read as PDB names ({n} residue or atom names: HSD/HSE/HSP -> HIS, "
                      "ILE CD -> CD1, OT1/OT2 -> O/OXT, TIP3 -> HOH, ...)", stacklevel=2)
    if not elements_given:
        n = assign_elements(st)
        warnings.warn(f"{p}: no element symbols (PDB columns 77-78 are blank): elements assigned from atom "
                      f"names ({n} atoms; a metal only for a one-atom residue of that name, such as CA "
                      "calcium, never for a C-alpha)", stacklevel=2)
    st.name = Path(p).name.split(".")[0]
    protect_input(p)
    return st


MODEL_SUFFIXES = {".pdb": "pdb", ".ent": "pdb", ".cif": "mmcif", ".mmcif": "mmcif", ".pdbx": "mmcif"}


PILED_UP = 0.05   # Å: two atoms (not alternates) this close are one atom written twice


def require_polymer(st: gemmi.Structure, path) -> None:
    """ModelError naming ``path`` unless the first model holds an amino-acid or nucleotide residue
    and no more than 1 % of its atoms sit on top of another (a collapsed or damaged model)."""
    names = Counter(r.name for r in _residues(st[0]))
    tabulated = {n: gemmi.find_tabulated_residue(n) for n in names}
    if not any(t is not None and (t.is_amino_acid() or t.is_nucleic_acid()) for t in tabulated.values()):
        held = ", ".join(f"{c} {n}" for n, c in names.most_common(5))
        raise ModelError(path, f"holds no residue of a protein or nucleic acid ({held}): nothing to refine "
                               "or validate (cryonb models chains; ligands and waters ride along with them)")
    xyz = model_xyz(st)
    alt = np.array([a.altloc != "\0" for r in _residues(st[0]) for a in r])
    from scipy.spatial import cKDTree      # here, not at the top: every command imports io (0.4 s)
    pairs = cKDTree(xyz).query_pairs(PILED_UP, output_type="ndarray")
    pairs = pairs[~(alt[pairs[:, 0]] & alt[pairs[:, 1]])] if len(pairs) else pairs
    piled = len(np.unique(pairs)) if len(pairs) else 0
    if piled > 0.01 * len(xyz):
        raise ModelError(path, f"{piled} of {len(xyz)} atoms sit in the same place as another atom (within "
                               f"{PILED_UP} Å): a collapsed or damaged model")


def is_model_file_name(path: str | os.PathLike) -> bool:
    """True when :func:`model_format` knows the file name (no file is read)."""
    try:
        model_format(os.fspath(path))
    except ModelError:
        return False
    return True


def model_format(path: str) -> str:
    """"pdb" or "mmcif" from the file name (``.pdb``/``.ent``, ``.cif``/``.mmcif``/``.pdbx``, each
    optionally ``.gz`` or ``.bz2``); ModelError naming the file for any other name."""
    name = path.lower().removesuffix(".gz").removesuffix(".bz2")
    kind = MODEL_SUFFIXES.get(Path(name).suffix)
    if kind is None:
        raise ModelError(path, f"unknown model format {Path(name).suffix or '(no suffix)'!r}: expected "
                               f"{', '.join(MODEL_SUFFIXES)} (optionally .gz or .bz2)")
    return kind


def _open_text(path: str):
    """``path`` opened as text, decompressed (.gz, .bz2); undecodable bytes replaced."""
    lower = path.lower()
    opener = gzip.open if lower.endswith(".gz") else bz2.open if lower.endswith(".bz2") else open
    return opener(path, "rt", errors="replace")


def _unreadable(path: str, exc: Exception) -> str:
    """Why a (possibly compressed) text file could not be read, in words."""
    lower = str(path).lower()
    kind = "gzip" if lower.endswith(".gz") else "bzip2" if lower.endswith(".bz2") else None
    if isinstance(exc, EOFError):
        return f"is truncated: the {kind or 'file'} stream ends early ({exc})"
    if kind and not isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return f"is not a valid {kind} file ({exc})"
    return f"cannot be read ({exc})"


def _text(path: str) -> str:
    """The text of ``path``, decompressed (.gz, .bz2)."""
    with _open_text(path) as fh:
        return fh.read()


def _read_structure(path: str, kind: str) -> gemmi.Structure:
    """gemmi Structure of a PDB or mmCIF file, chain parts not merged; .bz2 decompressed here."""
    lower = path.lower()
    if not lower.endswith(".bz2") and not lower.removesuffix(".gz").endswith(".pdbx"):
        return gemmi.read_structure(path, merge_chain_parts=False)
    text = _text(path)
    if kind == "pdb":
        return gemmi.read_pdb_string(text)
    st = gemmi.make_structure_from_block(gemmi.cif.read_string(text).sole_block())
    st.setup_entities()
    return st


def _check_pdb_coordinates(path: str) -> bool:
    """Raise ModelError at the first ATOM/HETATM record whose x, y, z columns are not numbers;
    return whether any record has an element symbol (columns 77-78).

    gemmi reads fixed columns leniently; a damaged line would otherwise give a wrong atom silently.
    """
    elements = False
    try:
        with _open_text(path) as fh:
            for number, line in enumerate(fh, 1):
                if not line.startswith(("ATOM  ", "HETATM")):
                    continue
                try:
                    [float(line[c:c + 8]) for c in (30, 38, 46)]
                except ValueError:
                    raise ModelError(path, f"line {number}: coordinates in columns 31-54 are not "
                                           f"numbers: {line.rstrip()!r}") from None
                elements = elements or bool(line[76:78].strip())
    except (OSError, EOFError) as exc:
        raise ModelError(path, _unreadable(path, exc)) from None
    return elements


def is_charmm(st: gemmi.Structure) -> bool:
    """A model with CHARMM-only residue names (HSD, HSE, HSP, TIP3, ADE, ...) or C-terminal OT1/OT2."""
    return any(r.name in _CHARMM_ONLY or (r.name != "HOH" and r.find_atom("OT1", "*") is not None)
               for ch in st[0] for r in ch)


def charmm_to_pdb_names(st: gemmi.Structure) -> int:
    """Rename CHARMM residues and atoms to PDB names in place (every model); returns the count."""
    n = 0
    for model in st:
        for chain in model:
            for res in chain:
                new = CHARMM_RESIDUES.get(res.name, res.name)
                n += new != res.name
                res.name = new
                for atom in res:
                    name = CHARMM_ATOMS.get((res.name, atom.name), CHARMM_ATOMS.get(("*", atom.name), atom.name))
                    n += name != atom.name
                    atom.name = name
    return n


def assign_elements(st: gemmi.Structure) -> int:
    """Set every atom's element from its name, as for a PDB file without element columns;
    returns the number of atoms set.

    The element is the name's first letter (after leading digits: 1HB -> H), except in a one-atom
    residue named after its atom (CA, ZN, MG, CL ...), which is that ion. So a C-alpha is carbon,
    and a CHARMM or old-style name such as HG1 or CD1 is hydrogen or carbon, never mercury or
    cadmium.
    """
    n = 0
    for model in st:
        for chain in model:
            for res in chain:
                for atom in res:
                    atom.element = _element_from_name(atom.name, res)
                    n += 1
    return n


def _element_from_name(name: str, res: gemmi.Residue) -> gemmi.Element:
    stripped = name.strip().lstrip("0123456789")
    if len(res) == 1 and res.name.strip() == name.strip() and gemmi.Element(name.strip()).atomic_number > 0:
        return gemmi.Element(name.strip())
    return gemmi.Element(stripped[:1] or "X")


def _check_repeated_chains(path: str, st: gemmi.Structure) -> None:
    """Refuse a model in which parts of one chain ID share residue numbers (a chain present twice,
    or two chains given one ID), which merging chain parts would silently fold into one copy."""
    seen: dict[str, set] = {}
    dup = []
    repeated = [f"{part.name}/{r.name}{r.seqid.num}{r.seqid.icode.strip()}" for part in st[0] for r in part
                if len(r) > 1 and all(n > 1 for n in _atom_counts(r).values())]
    if repeated:   # gemmi files a repeated residue's atoms into the first copy
        dup.append(f"{len(repeated)} residues with every atom twice ({', '.join(repeated[:3])}"
                   f"{' ...' if len(repeated) > 3 else ''})")
    for part in st[0]:
        keys = {(r.seqid.num, r.seqid.icode) for r in part}
        if part.name in seen and keys & seen[part.name]:
            first = next(r for r in part if (r.seqid.num, r.seqid.icode) in seen[part.name])
            dup.append(f"chain {part.name} ({len(keys & seen[part.name])} residue numbers again, from "
                       f"{first.name}{first.seqid.num}{first.seqid.icode.strip()})")
        seen.setdefault(part.name, set()).update(keys)
    if dup:
        raise ModelError(path, f"{'; '.join(dup[:5])}: a chain present twice, or two chains sharing an ID? "
                               "Give each copy its own chain ID")


def _atom_counts(res: gemmi.Residue) -> dict:
    counts: dict = {}
    for a in res:
        counts[(a.name, a.altloc)] = counts.get((a.name, a.altloc), 0) + 1
    return counts


def model_xyz(st: gemmi.Structure, model_index: int = 0) -> np.ndarray:
    """Atom coordinates (N, 3) in Angstrom of one model, in file order."""
    return np.array([a.pos.tolist() for r in _residues(st[model_index]) for a in r],
                    dtype=np.float64).reshape(-1, 3)


def trajectory_xyz(st: gemmi.Structure) -> np.ndarray:
    """Coordinates (M, N, 3) of every model of a multi-model structure (same atoms each)."""
    frames = [model_xyz(st, i) for i in range(len(st))]
    if len({f.shape for f in frames}) != 1:
        raise ModelError(st.name, "models of the trajectory have different atom counts")
    return np.stack(frames)


def set_model_xyz(st: gemmi.Structure, xyz: np.ndarray, model_index: int = 0) -> None:
    """Overwrite the coordinates of one model in place with ``xyz`` (N, 3)."""
    atoms = [a for r in _residues(st[model_index]) for a in r]
    if len(atoms) != len(xyz):
        raise ValueError(f"{len(xyz)} coordinates for {len(atoms)} atoms")
    for atom, p in zip(atoms, np.asarray(xyz, dtype=np.float64)):
        atom.pos = gemmi.Position(*p)


def first_model(st: gemmi.Structure) -> gemmi.Structure:
    """A copy of ``st`` holding its first model only."""
    out = st.clone()
    while len(out) > 1:
        del out[len(out) - 1]
    return out


def calpha(st: gemmi.Structure) -> tuple[list[tuple[str, str]], np.ndarray]:
    """C-alpha atoms of model 1: keys (chain, seqid) and coordinates (M, 3) Å, in file order
    (one per residue: the first altloc)."""
    keys, xyz = [], []
    for chain in st[0]:
        for res in chain:
            atom = res.find_atom("CA", "*", gemmi.Element("C"))
            if atom is not None:
                keys.append((chain.name, f"{res.seqid.num}{res.seqid.icode.strip()}"))
                xyz.append(atom.pos.tolist())
    return keys, np.asarray(xyz, dtype=np.float64).reshape(-1, 3)


def calpha_model(chains, name: str = "calpha") -> gemmi.Structure:
    """A C-alpha-only model: one chain per ``(chain, xyz, residues, numbers, values)`` of
    ``chains``, with xyz (K, 3) Å, residue names (a str for all or K names), sequence numbers (K,)
    (ints, or (int, insertion code) pairs; None: 1..K) and values (K,) written as B-factor
    100 x value (None: 0)."""
    st = gemmi.Structure()
    st.name = name
    model = gemmi.Model("1")
    for chain_name, xyz, residues, numbers, values in chains:
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        names = [residues] * len(xyz) if isinstance(residues, str) else list(residues)
        numbers = range(1, len(xyz) + 1) if numbers is None else list(numbers)
        values = np.zeros(len(xyz)) if values is None else np.asarray(values, dtype=np.float64)
        ch = gemmi.Chain(chain_name)
        for pos, res_name, num, value in zip(xyz, names, numbers, values):
            res = gemmi.Residue()
            num, icode = num if isinstance(num, tuple) else (num, " ")
            res.name, res.seqid, res.entity_type = res_name, gemmi.SeqId(int(num), icode), gemmi.EntityType.Polymer
            atom = gemmi.Atom()
            atom.name, atom.element, atom.pos = "CA", gemmi.Element("C"), gemmi.Position(*pos)
            atom.occ, atom.b_iso = 1.0, float(np.clip(100 * value, 0, 999.99))
            res.add_atom(atom)
            ch.add_residue(res)
        model.add_chain(ch)
    st.add_model(model)
    st.setup_entities()
    return st


def structure_from_frames(template: gemmi.Structure, frames: np.ndarray) -> gemmi.Structure:
    """A multi-model Structure: the first model of ``template`` with coordinates ``frames`` (M, N, 3)."""
    out = first_model(template)
    base = out[0].clone()
    del out[0]
    for i, xyz in enumerate(np.asarray(frames)):
        model = base.clone()
        model.num = i + 1
        out.add_model(model)
        set_model_xyz(out, xyz, i)
    return out


def write_model(st: gemmi.Structure, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write ``st`` as PDB (.pdb/.ent) or mmCIF (.cif/.mmcif) atomically; returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelError(path, f"unknown model format '{suffix}' (use one of {', '.join(MODEL_SUFFIXES)})")
    with atomic_path(path, overwrite=overwrite) as tmp:
        if suffix in (".pdb", ".ent"):
            st.write_pdb(tmp)
        else:
            st.make_mmcif_document().write_file(tmp)
    return path


def _residues(model: gemmi.Model):
    for chain in model:
        yield from chain


# ----------------------------------------------------------------------------- maps
def read_map(path: str | os.PathLike) -> Map:
    """Read an MRC/CCP4 map (optionally .gz/.bz2) into a Map with data indexed [z, y, x].

    Raises MapError naming the file for a truncated or corrupt file, an axis
    order that is not a permutation of 1,2,3, a zero or negative voxel size,
    or NaN/inf values. Warns (does not fail) for non-orthogonal cells and
    crystallographic space groups, whose symmetry is not applied.
    """
    p = require_file(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with mrcfile.open(p, mode="r", permissive=True) as mrc:
                header = mrc.header.copy()
                data = None if mrc.data is None else np.array(mrc.data)
        except Exception as exc:
            raise MapError(p, f"not a readable MRC/CCP4 map ({exc})") from None
    problems = "; ".join(str(w.message) for w in caught)
    if data is None:
        raise MapError(p, f"map data could not be read (truncated or corrupt file: {problems})")
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise MapError(p, f"holds a {data.ndim}-D array of shape {list(data.shape)}, not one 3-D map "
                          "(a volume stack: pass it to the series inputs, which read every volume)")
    if min(data.shape) < MIN_GRID:
        raise MapError(p, f"is not a 3-D map: grid {' x '.join(map(str, data.shape[::-1]))} voxels "
                          f"(at least {MIN_GRID} along each axis; a 2-D image or a damaged header?)")
    m = _map_from_header(p, header, data)
    protect_input(p)
    return m


MIN_VOXEL, MAX_VOXEL = 0.01, 100.0   # Å: what a map header may claim (cryo-EM and tomograms sit well inside)
MAX_ORIGIN = 1.0e5                   # Å
MIN_GRID = 4                         # voxels along each axis of a 3-D map


def _map_from_header(p: str, header, data: np.ndarray) -> Map:
    if np.iscomplexobj(data):
        raise MapError(p, f"map holds complex values (MRC mode {int(header.mode)}), not a density")
    axes = [int(header.mapc), int(header.mapr), int(header.maps)]  # axis of columns, rows, sections
    if sorted(axes) != [1, 2, 3]:
        raise MapError(p, f"axis order mapc/mapr/maps = {axes} is not a permutation of 1,2,3")
    # data is [section, row, column]; the axis (1=x, 2=y, 3=z) of each array dimension:
    dim_axis = [axes[2], axes[1], axes[0]]
    data = np.transpose(data, [dim_axis.index(a) for a in (3, 2, 1)])
    cell = np.array([header.cella.x, header.cella.y, header.cella.z], dtype=np.float64)
    sampling = np.array([header.mx, header.my, header.mz], dtype=np.float64)
    if np.any(sampling <= 0):
        sampling = np.array(data.shape[::-1], dtype=np.float64)  # old files leave mx/my/mz at 0
    voxel = np.divide(cell, sampling)
    if not np.all(np.isfinite(voxel)) or np.any(voxel <= 0):
        raise MapError(p, f"voxel size must be positive, header gives {voxel.round(4).tolist()} Å "
                          f"(cell {cell.round(3).tolist()} Å over {sampling.astype(int).tolist()} samples)")
    if np.any(voxel < MIN_VOXEL) or np.any(voxel > MAX_VOXEL):
        raise MapError(p, f"header voxel size {[float(f'{v:.4g}') for v in voxel]} Å is outside "
                          f"{MIN_VOXEL}-{MAX_VOXEL} Å (cell {[float(f'{c:.4g}') for c in cell]} Å over "
                          f"{sampling.astype(int).tolist()} samples): a damaged header or a wrong cell")
    angles = (float(header.cellb.alpha), float(header.cellb.beta), float(header.cellb.gamma))
    if not np.allclose(angles, 90.0, atol=0.01) and any(angles):
        warnings.warn(f"{p}: cell angles {angles} are not 90°; the grid is treated as orthogonal",
                      stacklevel=3)
    if int(header.ispg) not in (0, 1, 401):
        warnings.warn(f"{p}: space group {int(header.ispg)} (crystallographic map); "
                      "symmetry is not applied, only the stored block is used", stacklevel=3)
    starts = [int(header.nxstart), int(header.nystart), int(header.nzstart)]  # col, row, section
    start_xyz = np.zeros(3)
    for axis, start in zip(axes, starts):
        start_xyz[axis - 1] = start
    header_origin = np.array([header.origin.x, header.origin.y, header.origin.z], dtype=np.float64)
    # ChimeraX/RELION convention: a non-zero header origin wins; otherwise nstart * voxel
    if not np.all(np.isfinite(header_origin)):
        raise MapError(p, f"header origin {header_origin.tolist()} is not finite: a damaged header")
    if np.any(header_origin != 0):
        origin = header_origin
    else:
        origin = start_xyz * voxel
    if np.any(np.abs(origin) > MAX_ORIGIN):
        raise MapError(p, f"header origin {[float(f'{o:.4g}') for o in origin]} Å lies more than "
                          f"{MAX_ORIGIN:g} Å from zero: a damaged header (ORIGIN or NSTART words)")
    return Map(data=data.astype(np.float32), voxel_size=voxel, origin=origin, path=p)


def write_map(m: Map, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write ``m`` as MRC2014 (axis order 1,2,3) atomically; returns the path.

    When the origin is a whole number of voxels it is written as ``nstart``
    (read the same by Coot, ChimeraX, RELION); otherwise in the header origin.
    """
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with mrcfile.new(tmp, overwrite=True) as mrc:
            mrc.set_data(np.ascontiguousarray(m.data, dtype=np.float32))
            mrc.voxel_size = tuple(float(v) for v in m.voxel_size)
            steps = m.origin / m.voxel_size
            if np.allclose(steps, np.round(steps), atol=1e-3):
                mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = np.round(steps).astype(int)
                mrc.header.origin = (0.0, 0.0, 0.0)
            else:
                mrc.header.origin = tuple(float(v) for v in m.origin)
            mrc.update_header_stats()
    return path
