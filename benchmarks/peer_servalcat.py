"""Servalcat as a peer: refine a model in a map with ``servalcat refine_spa_norefmac``, score it with cryonb.

Usage:
  python benchmarks/peer_servalcat.py --model M --map X [X2] --resolution R --out DIR
         [--reference REF] [--ncycle N] [--jellybody] [--no-mask] [--extra "servalcat args"]
  python benchmarks/peer_servalcat.py --cases DIR [--out RUNS] [--tuned | --ncycle N --jellybody --no-mask]

The first form refines M in map X (two maps: half maps) and writes ``DIR/servalcat_metrics.json``:
cryonb's validation summary of the refined model (MolProbity-like keys, model-map FSC 0.5,
CC_mask, Q-score, ``fsc_average``: the model-map FSC averaged to R), servalcat's wall time and
its own end figures, and with ``--reference`` the C-alpha RMSD (Å) of the start and refined
models to REF, matched by chain and residue number with no superposition (both in the map frame).
The second form writes the two AdK cases of cryonb's refinement benchmark into DIR (see
:func:`make_cases`) and runs both, with servalcat's defaults (10 cycles) or, with ``--tuned``,
the settings of ``TUNED``. Peptide bonds stretched past gemmi's 2.01 Å link cut-off get explicit
links (:func:`link_stretched_peptides`; ``--no-link-peptides`` to see servalcat break the chain).
Figures measured on 2 shared cores are in the report of the commit that added this file.

Servalcat lives in its own virtual environment, made by ``tools/install_servalcat.sh``; it is
found through ``$CRYONB_SERVALCAT`` (executable, or the environment's folder) and ``$CLIBD_MON``
(monomer library), then the default install ``/work/peers/servalcat``, then ``PATH``.
Servalcat runs with the threads it likes; this process's numpy is held to one thread.
"""
from __future__ import annotations

import os

_FORCED_ENV = []
if __name__ == "__main__":   # one numpy thread here; the servalcat child gets the caller's settings back
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if _var not in os.environ:
            os.environ[_var] = "1"
            _FORCED_ENV.append(_var)

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

DEFAULT_INSTALL = Path("/work/peers/servalcat")
MONOMER_SUBDIR = "share/coot/lib/data/monomers"
SIMULATION_SEED = 0
MOTION_SNR = 1.0          # var(signal) / var(noise) over the box of the 5 Å large-motion map
# Servalcat settings that did best here (--cases --tuned): jelly-body restraints and no mask around
# the start model let the AdK LID/NMP domains travel 7 Å; FSCaverage still rose at cycle 150.
TUNED = {"large_motion": {"ncycle": 150, "extra": ["--jellybody", "--no_mask"]},
         "polish": {"ncycle": 30, "extra": []}}


class ServalcatError(RuntimeError):
    """Servalcat is missing or a run of it failed; the message says what to do or shows the log tail."""


# ----------------------------------------------------------------------------- finding servalcat
def _is_monomer_library(path: Path | None) -> bool:
    return path is not None and (path / "list" / "mon_lib_list.cif").is_file()


def _monomers_beside(executable: Path) -> Path | None:
    """The coot-headless-api monomer library inside the virtual environment of ``executable``."""
    env = executable.parent.parent
    for site in sorted(env.glob("lib/python3*/site-packages")):
        candidate = site / "coot_headless_api" / MONOMER_SUBDIR
        if _is_monomer_library(candidate):
            return candidate
    return None


def _executable(value: str) -> Path | None:
    path = Path(value).expanduser()
    if path.is_dir():
        path = path / "bin" / "servalcat"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_servalcat() -> tuple[Path, Path] | None:
    """(servalcat executable, monomer library folder), or None when either cannot be found.

    Executable: ``$CRYONB_SERVALCAT`` (the executable or its virtual environment), else
    ``/work/peers/servalcat/bin/servalcat``, else ``servalcat`` on PATH. Monomer library:
    ``$CLIBD_MON``, else the coot-headless-api copy inside the executable's environment.
    """
    chosen = os.environ.get("CRYONB_SERVALCAT")
    if chosen and _executable(chosen) is None:
        warnings.warn(f"CRYONB_SERVALCAT={chosen} is not a servalcat executable nor an environment "
                      "holding bin/servalcat; looking elsewhere", stacklevel=2)
    candidates = [chosen, str(DEFAULT_INSTALL), shutil.which("servalcat")]
    executable = next((e for c in candidates if c and (e := _executable(c))), None)
    if executable is None:
        return None
    clibd = os.environ.get("CLIBD_MON")
    if clibd and not _is_monomer_library(Path(clibd)):
        warnings.warn(f"CLIBD_MON={clibd} has no list/mon_lib_list.cif; looking beside {executable}",
                      stacklevel=2)
        clibd = None
    monomers = Path(clibd) if clibd else _monomers_beside(executable)
    return (executable, monomers) if monomers is not None else None


def _require_servalcat() -> tuple[Path, Path]:
    found = find_servalcat()
    if found is None:
        raise ServalcatError("servalcat or its monomer library not found: run tools/install_servalcat.sh, "
                             "or set CRYONB_SERVALCAT (executable) and CLIBD_MON (folder with list/"
                             "mon_lib_list.cif)")
    return found


# ----------------------------------------------------------------------------- running it
def _child_env(monomers: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _FORCED_ENV}
    env["CLIBD_MON"] = str(monomers)
    return env


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def servalcat_figures(stats_json: Path) -> dict:
    """Servalcat's own end-of-run figures from ``PREFIX_stats.json`` (its last cycle)."""
    try:
        last = json.loads(stats_json.read_text())[-1]
    except (OSError, ValueError, IndexError):
        return {}
    geom = last.get("geom", {}).get("summary", {})
    rmsd, rmsz = geom.get("r.m.s.d.", {}), geom.get("r.m.s.Z", {})
    return {"cycles": last.get("Ncyc"), "weight": last.get("weight"),
            "fsc_average": last.get("data", {}).get("summary", {}).get("FSCaverage"),
            "bond_rmsd": rmsd.get("Bond distances, non H"), "angle_rmsd": rmsd.get("Bond angles, non H"),
            "bond_rmsz": rmsz.get("Bond distances, non H"), "angle_rmsz": rmsz.get("Bond angles, non H")}


def run_servalcat(model_path, map_path, resolution: float, out_dir, ncycle: int = 10,
                  extra_args: list[str] | tuple[str, ...] = (), prefix: str = "refined",
                  timeout: float | None = None) -> dict:
    """Run ``servalcat refine_spa_norefmac`` on a model and a map in ``out_dir``; returns what it made.

    map_path: one map, or a pair of half maps. resolution: Å. extra_args: more servalcat options
    (e.g. ``["--jellybody"]``). Returns {'refined_model', 'seconds' (wall), 'cycles', 'returncode',
    'log', 'command', 'servalcat' (its own end figures)}. Raises ServalcatError with the log tail
    when servalcat fails, times out or writes no model.
    """
    executable, monomers = _require_servalcat()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    maps = [map_path] if isinstance(map_path, (str, os.PathLike)) else list(map_path)
    if len(maps) not in (1, 2):
        raise ValueError(f"give one map or two half maps, not {len(maps)}")
    inputs = [Path(p).resolve() for p in [model_path, *maps]]
    for p in inputs:
        if not p.is_file():
            raise ServalcatError(f"{p}: no such file")
    command = [str(executable), "refine_spa_norefmac", "--model", str(inputs[0]),
               "--halfmaps" if len(maps) == 2 else "--map", *map(str, inputs[1:]),
               "--resolution", f"{resolution:g}", "--ncycle", str(int(ncycle)),
               "--output_prefix", prefix, *extra_args]
    log = out / "servalcat_run.log"
    start = time.perf_counter()
    try:
        with open(log, "w") as fh:
            fh.write("$ " + shlex.join(command) + "\n")
            fh.flush()
            proc = subprocess.run(command, cwd=out, stdout=fh, stderr=subprocess.STDOUT,
                                  env=_child_env(monomers), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ServalcatError(f"servalcat ran past {timeout} s; log {log}:\n{_log_tail(log)}") from None
    seconds = time.perf_counter() - start
    refined = next((p for p in (out / f"{prefix}.mmcif", out / f"{prefix}.pdb") if p.is_file()), None)
    if proc.returncode != 0 or refined is None:
        why = f"exit code {proc.returncode}" if proc.returncode else "no refined model written"
        raise ServalcatError(f"servalcat failed ({why}): {shlex.join(command)}\nlog {log}, last lines:\n"
                             f"{_log_tail(log)}")
    figures = servalcat_figures(out / f"{prefix}_stats.json")
    return {"refined_model": refined, "seconds": seconds, "cycles": figures.get("cycles", ncycle),
            "returncode": proc.returncode, "log": log, "command": command, "servalcat": figures}


# ----------------------------------------------------------------------------- explicit peptide links
PEPTIDE_LINK_CUTOFF = 1.5 * 1.341   # Å: gemmi (so servalcat) leaves C-N further apart than this unlinked


def link_stretched_peptides(model_path, out_path, max_distance: float = 4.0) -> tuple[Path, int]:
    """Write ``model_path`` to ``out_path`` (mmCIF) with an explicit TRANS/CIS link for each stretched peptide.

    Servalcat (through gemmi) links consecutive amino acids only when C-N is within 2.01 Å, and
    refines the others as separate chain ends pushed apart by van der Waals repulsion. A badly
    distorted start model (e.g. 0.3 Å coordinate noise: C-N up to 2.6 Å) then gains chain
    breaks. Residues numbered consecutively with C-N between the cut-off and ``max_distance`` Å
    get a ``_struct_conn`` link (PTRANS/PCIS before proline; CIS when |omega| < 90 degrees),
    which servalcat confirms and restrains as a peptide bond. Returns (path, links added); with
    no link to add, the input path itself and 0.
    """
    import math

    import gemmi

    from cryonb import io

    st = io.read_model(model_path)
    added = 0
    for chain in st[0]:
        for a, b in zip(chain, chain[1:]):
            atoms = [a.find_atom("CA", "*"), a.find_atom("C", "*"), b.find_atom("N", "*"), b.find_atom("CA", "*")]
            if None in atoms or b.seqid.num - a.seqid.num != 1:
                continue
            if not PEPTIDE_LINK_CUTOFF < atoms[1].pos.dist(atoms[2].pos) < max_distance:
                continue
            omega = math.degrees(gemmi.calculate_dihedral(*(x.pos for x in atoms)))
            link = gemmi.Connection()
            link.name = f"peptide{added + 1}"
            link.type = gemmi.ConnectionType.Covale
            link.link_id = ("P" if b.name == "PRO" else "") + ("CIS" if abs(omega) < 90 else "TRANS")
            link.partner1 = gemmi.AtomAddress(chain.name, a.seqid, a.name, "C")
            link.partner2 = gemmi.AtomAddress(chain.name, b.seqid, b.name, "N")
            st.connections.append(link)
            added += 1
    if not added:
        return Path(model_path), 0
    return io.write_model(st, Path(out_path).with_suffix(".cif")), added


# ----------------------------------------------------------------------------- scoring with cryonb
def ca_positions(st) -> dict:
    """{(chain, residue number, insertion code): C-alpha xyz} of the first model (first altloc)."""
    import gemmi

    out = {}
    for chain in st[0]:
        for res in chain:
            ca = res.find_atom("CA", "*")
            info = gemmi.find_tabulated_residue(res.name)
            if ca is not None and info is not None and info.is_amino_acid():
                out.setdefault((chain.name, res.seqid.num, res.seqid.icode), ca.pos.tolist())
    return out


def ca_rmsd(st, reference) -> tuple[float, int]:
    """C-alpha RMSD (Å) of ``st`` to ``reference`` over residues matched by chain and number, as placed."""
    from cryonb.superpose import rmsd

    a, b = ca_positions(st), ca_positions(reference)
    keys = sorted(set(a) & set(b))
    if not keys and len({k[0] for k in a}) == 1 and len({k[0] for k in b}) == 1:
        a, b = ({k[1:]: v for k, v in d.items()} for d in (a, b))   # one chain each, named apart
        keys = sorted(set(a) & set(b))
    if not keys:
        raise ValueError("no C-alpha atoms match between the model and the reference")
    return rmsd(np.array([a[k] for k in keys]), np.array([b[k] for k in keys])), len(keys)


def validate(model_path, map_path, resolution: float) -> dict:
    """cryonb's validation summary of a model in a map, plus ``fsc_average`` (model-map FSC to ``resolution``)."""
    from cryonb import io
    from cryonb.validation.report import validate_model

    st, m = io.read_model(model_path), io.read_map(map_path)
    report = validate_model(st, m, resolution)
    summary = dict(report.summary)
    summary["fsc_average"] = report.fsc.average(max_resolution=resolution) if report.fsc else None
    return summary


COMPACT = ("rama_favored_pct", "rama_outliers_pct", "rotamer_outliers_pct", "clashscore", "bond_rmsz",
           "angle_rmsz", "molprobity_score", "fsc_average")


def refine_and_score(model_path, map_path, resolution: float, out_dir, reference=None, ncycle: int = 10,
                     extra_args=(), timeout: float | None = None, link_peptides: bool = True,
                     score_inputs: bool = True) -> dict:
    """Run servalcat, validate its model with cryonb and write ``out_dir/servalcat_metrics.json``.

    link_peptides: give servalcat explicit links for stretched peptide bonds
    (:func:`link_stretched_peptides`) so that a distorted start model keeps its chain whole.
    score_inputs: also validate the start model (and the reference) in the same map, under
    ``start_validation`` (``reference_validation``), with the keys of ``COMPACT``.
    """
    from cryonb import io
    from cryonb.runs import write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, links = model_path, 0
    if link_peptides:
        start, links = link_stretched_peptides(model_path, out / "start_linked.cif")
    run = run_servalcat(start, map_path, resolution, out, ncycle, extra_args, timeout=timeout)
    maps = [map_path] if isinstance(map_path, (str, os.PathLike)) else list(map_path)
    scored_map = maps[0] if len(maps) == 1 else _average_half_maps(maps, Path(out_dir))
    metrics = {"program": "servalcat refine_spa_norefmac", "version": _servalcat_version(),
               "model": str(model_path), "map": [str(p) for p in maps], "resolution": resolution,
               "seconds": round(run["seconds"], 2), "cycles": run["cycles"], "peptide_links_added": links,
               "chain_gaps_seen_by_servalcat": _gaps_in_log(run["log"]),
               "refined_model": str(run["refined_model"]), "command": shlex.join(run["command"]),
               "servalcat_figures": run["servalcat"]}
    t = time.perf_counter()
    metrics.update(validate(run["refined_model"], scored_map, resolution))
    metrics["validation_seconds"] = round(time.perf_counter() - t, 2)
    if score_inputs:
        for key, path in (("start_validation", model_path), ("reference_validation", reference)):
            if path is not None:
                summary = validate(path, scored_map, resolution)
                metrics[key] = {k: summary.get(k) for k in COMPACT}
    if reference is not None:
        ref = io.read_model(reference)
        metrics["reference"] = str(reference)
        metrics["ca_rmsd_start"], _ = ca_rmsd(io.read_model(model_path), ref)
        metrics["ca_rmsd"], metrics["ca_matched"] = ca_rmsd(io.read_model(run["refined_model"]), ref)
    write_json(metrics, Path(out_dir) / "servalcat_metrics.json")
    return metrics


def _average_half_maps(maps, out: Path) -> Path:
    from cryonb import io
    from cryonb.density.noise import average

    return io.write_map(average(io.read_map(maps[0]), io.read_map(maps[1])), out / "full_map_for_scoring.mrc")


def _gaps_in_log(log: Path) -> int:
    return sum(line.strip().startswith("gap between") for line in log.read_text(errors="replace").splitlines())


def _servalcat_version() -> str | None:
    found = find_servalcat()
    if found is None:
        return None
    proc = subprocess.run([str(found[0]), "--version"], capture_output=True, text=True)
    words = (proc.stdout + proc.stderr).split()
    return words[1] if len(words) > 1 and words[0] == "Servalcat" else None


# ----------------------------------------------------------------------------- the benchmark cases
def make_cases(out_dir, motion_snr: float = MOTION_SNR, seed: int = SIMULATION_SEED) -> list[dict]:
    """Write the two AdK cases of cryonb's refinement benchmark into ``out_dir``; returns their specs.

    large_motion: AdK open superposed onto closed by its CORE-domain C-alphas, in the closed
    state's map simulated at 5 Å (1 Å voxels) plus white noise at ``motion_snr`` (seed ``seed``).
    polish: closed with 0.3 Å per-coordinate noise (``perturb.jitter``, seed 0) in the closed
    state's own noise-free 3 Å map. Each spec: name, model, map, resolution, reference, note,
    tuned (servalcat settings {'ncycle', 'extra'} from :data:`TUNED`).
    """
    from cryonb import data, io
    from cryonb.data.adk import core_domain_mask
    from cryonb.density.noise import add_noise
    from cryonb.density.simulate import SimulationConfig, simulate_map
    from cryonb.perturb import jitter
    from cryonb.superpose import superpose

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    opened, closed = data.adk_open(), data.adk_closed()
    mask = core_domain_mask(opened) & np.array([a.name == "CA" for ch in opened[0] for r in ch for a in r])
    io.set_model_xyz(opened, superpose(io.model_xyz(opened), io.model_xyz(closed), mask))
    io.write_model(closed, out / "adk_closed.pdb")
    io.write_model(opened, out / "motion_start.pdb")
    clean5 = simulate_map(closed, SimulationConfig(resolution=5.0, voxel_size=1.0))
    io.write_map(add_noise(clean5, motion_snr, seed=seed), out / "motion_5A.mrc")
    io.write_model(jitter(closed, 0.3, seed=0), out / "polish_start.pdb")
    io.write_map(simulate_map(closed, SimulationConfig(resolution=3.0, voxel_size=1.0)), out / "polish_3A.mrc")
    ref = str(out / "adk_closed.pdb")
    return [{"name": "large_motion", "model": str(out / "motion_start.pdb"), "map": str(out / "motion_5A.mrc"),
             "resolution": 5.0, "reference": ref, "note": f"SNR {motion_snr:g}, noise seed {seed}",
             "tuned": TUNED["large_motion"]},
            {"name": "polish", "model": str(out / "polish_start.pdb"), "map": str(out / "polish_3A.mrc"),
             "resolution": 3.0, "reference": ref, "note": "jitter 0.3 Å seed 0, noise-free map",
             "tuned": TUNED["polish"]}]


# ----------------------------------------------------------------------------- command line
PRINTED = [("ca_rmsd_start", "CA RMSD start (Å)", ".3f"), ("ca_rmsd", "CA RMSD refined (Å)", ".3f"),
           ("rama_favored_pct", "Rama favoured %", ".2f"), ("rama_outliers_pct", "Rama outliers %", ".2f"),
           ("rotamer_outliers_pct", "rotamer outliers %", ".2f"), ("clashscore", "clashscore", ".2f"),
           ("bond_rmsz", "bond RMSZ (CDL)", ".3f"), ("angle_rmsz", "angle RMSZ (CDL)", ".3f"),
           ("bond_rmsz_library", "bond RMSZ (library)", ".3f"),
           ("angle_rmsz_library", "angle RMSZ (library)", ".3f"), ("cbeta_deviations", "C-beta deviations", "d"),
           ("molprobity_score", "MolProbity score", ".3f"), ("fsc_average", "model-map FSC average", ".4f"),
           ("fsc05_resolution", "model-map FSC 0.5 (Å)", ".2f"), ("cc_mask", "CC_mask", ".4f"),
           ("qscore", "Q-score", ".4f"), ("seconds", "servalcat wall time (s)", ".1f"), ("cycles", "cycles", "d"),
           ("peptide_links_added", "peptide links added", "d"),
           ("chain_gaps_seen_by_servalcat", "chain gaps servalcat saw", "d")]


def print_metrics(title: str, metrics: dict) -> None:
    print(f"== {title}")
    for key, label, fmt in PRINTED:
        value = metrics.get(key)
        if value is not None:
            print(f"  {label:26s} {value:{fmt}}")
    for key in ("start_validation", "reference_validation"):
        if metrics.get(key):
            print(f"  {key.split('_')[0]:26s} " + ", ".join(f"{k} {v:.4g}" for k, v in metrics[key].items()
                                                           if v is not None))
    own = metrics.get("servalcat_figures", {})
    if own:
        print("  servalcat's own figures:  " + ", ".join(f"{k} {v:.4g}" for k, v in own.items()
                                                     if isinstance(v, (int, float))))


def _servalcat_args(args) -> list[str]:
    extra = shlex.split(args.extra or "")
    if args.jellybody:
        extra.append("--jellybody")
    if args.no_mask:
        extra.append("--no_mask")
    return extra


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="start model (PDB/mmCIF)")
    p.add_argument("--map", nargs="+", help="map, or two half maps")
    p.add_argument("--resolution", type=float, help="map resolution (Å)")
    p.add_argument("--reference", help="true model, for the C-alpha RMSD (no superposition)")
    p.add_argument("--out", default="servalcat_run", help="run folder (with --cases: parent of one per case)")
    p.add_argument("--cases", help="write the two AdK benchmark cases into this folder and run both")
    p.add_argument("--tuned", action="store_true",
                   help="with --cases: each case's TUNED servalcat settings instead of --ncycle/--jellybody/--no-mask")
    p.add_argument("--motion-snr", type=float, default=MOTION_SNR, help="SNR of the 5 Å large-motion map")
    p.add_argument("--ncycle", type=int, default=10, help="servalcat refinement cycles (its default 10)")
    p.add_argument("--jellybody", action="store_true", help="pass --jellybody to servalcat")
    p.add_argument("--no-mask", action="store_true", help="pass --no_mask (no mask around the start model)")
    p.add_argument("--extra", help="more servalcat options, one quoted string")
    p.add_argument("--no-link-peptides", action="store_true",
                   help="do not add explicit links for peptide bonds stretched past 2.01 Å (servalcat then "
                        "treats them as chain breaks)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a servalcat run is stopped")
    args = p.parse_args(argv)
    found = find_servalcat()
    if found is None:
        print("servalcat not found: run tools/install_servalcat.sh (or set CRYONB_SERVALCAT and CLIBD_MON)",
              file=sys.stderr)
        return 2
    print(f"servalcat {found[0]}\nCLIBD_MON {found[1]}")
    if args.cases:
        cases = make_cases(args.cases, args.motion_snr)
    elif args.model and args.map and args.resolution:
        cases = [{"name": Path(args.model).stem, "model": args.model, "map": args.map,
                  "resolution": args.resolution, "reference": args.reference}]
    else:
        p.error("give --model, --map and --resolution, or --cases DIR")
    for case in cases:
        out = Path(args.out) / case["name"] if args.cases else Path(args.out)
        ncycle, extra = args.ncycle, _servalcat_args(args)
        if args.tuned and "tuned" in case:
            ncycle, extra = case["tuned"]["ncycle"], case["tuned"]["extra"]
        try:
            metrics = refine_and_score(case["model"], case["map"], case["resolution"], out, case["reference"],
                                       ncycle, extra, args.timeout, link_peptides=not args.no_link_peptides)
        except ServalcatError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print_metrics(f"{case['name']} ({case.get('note', case['resolution'])}) -> {out}/servalcat_metrics.json",
                      metrics)
        print(f"  command: {metrics['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
