"""The ``cryonb`` subcommands, one module each (see :mod:`cryonb.cli`).

`cryonb --help` imports every command module (``cryonb NAME ...`` only NAME's), so each imports
what loads torch (refinement, series, validation reports, the CNN, assembly) or papermill inside
``main``, once the options and input files are checked: a bad input is refused in under a second.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import sys
from pathlib import Path

from ..errors import CryonbError
from ..io import MODEL_SUFFIXES, read_model


def fmt_value(v) -> str:
    """A metric for a before/after table: 3 decimals for floats, 'n/a' for None."""
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def run_folder(args) -> tuple[Path, bool]:
    """The run folder and whether to resume, from `--out DIR [--resume]` or `--resume DIR`."""
    if isinstance(args.resume, str):
        if args.out and Path(args.out).resolve() != Path(args.resume).resolve():
            raise CryonbError(args.out, f"--out and --resume name different folders ({args.resume})")
        return Path(args.resume), True
    if not args.out:
        raise CryonbError(None, "give the run folder: --out DIR (or --resume DIR to continue a run)")
    return Path(args.out), bool(args.resume)


def read_first_model(path: str):
    """The model file ``path`` read; a warning on stderr when it holds several models (the commands
    that take one model use the first)."""
    st = read_model(path)
    if len(st) > 1:
        print(f"WARNING: {path} holds {len(st)} models; only the first model is used", file=sys.stderr)
    return st


MAP_OUT_SUFFIXES = (".mrc", ".map", ".ccp4")


def check_output(path: str | None, kind: str, inputs: tuple = ()) -> None:
    """Refuse, before any work, an output that cannot be written: one of the ``inputs``, a ``kind``
    ("model", "map" or "json") with the wrong suffix, an existing folder, a parent that is a file
    or not writable."""
    if not path:
        return
    p = Path(path)
    if any(i and Path(i).resolve() == p.resolve() for i in inputs):
        raise CryonbError(path, "the output would overwrite the input file; choose another name")
    suffix = p.suffix.lower()
    wanted = {"model": tuple(MODEL_SUFFIXES), "map": MAP_OUT_SUFFIXES, "json": (".json",)}[kind]
    if suffix not in wanted:
        raise CryonbError(path, f"unknown {kind} format {suffix or '(no suffix)'!r}: a {kind} output needs one "
                                f"of the suffixes {', '.join(wanted)}")
    if p.is_dir():
        raise CryonbError(path, f"is a folder; give a {kind} file name")
    check_folder_writable(p.parent)


def check_folder_writable(folder: Path) -> None:
    """CryonbError naming ``folder`` when it cannot be created or written into."""
    existing = next((a for a in [folder, *folder.parents] if a.exists()), Path("."))
    if not existing.is_dir():
        raise CryonbError(folder, f"cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CryonbError(folder, f"cannot be written: folder {existing} is not writable")


def check_positive(**values) -> None:
    """CryonbError naming the option for any value that is not a finite number > 0 (None passes)."""
    for name, v in values.items():
        if v is not None and not (math.isfinite(v) and v > 0):
            raise CryonbError(None, f"--{name.replace('_', '-')} must be a finite number > 0 (got {v})")


def saved_arguments(out: Path, command: str) -> dict:
    """The arguments.json of run folder ``out`` being resumed by ``command`` ("refine" or "series");
    CryonbError naming the folder when it does not exist, is another command's run or the file is
    damaged. {} when the folder has no arguments.json."""
    if not out.exists():
        raise CryonbError(out, "no such run folder to resume")
    if not out.is_dir():
        raise CryonbError(out, "is a file, not a run folder")
    saved = out / "arguments.json"
    if not saved.is_file():
        return {}
    try:
        values = json.loads(saved.read_text())
    except (OSError, ValueError) as exc:
        raise CryonbError(saved, f"cannot be read ({exc}): edited or damaged; start a new run") from None
    if not isinstance(values, dict):
        raise CryonbError(saved, "is not a cryonb arguments file (expected a JSON object)")
    kind = "series" if "maps" in values else "refine"
    if kind != command:
        raise CryonbError(out, f"is a cryonb {kind} run folder: continue it with `cryonb {kind} --resume {out}`")
    return values


_LOCKS: dict = {}


def lock_run_folder(out: Path) -> None:
    """Create run folder ``out`` and hold an exclusive lock on it until this process ends;
    CryonbError when another run holds it (two runs would write into each other's files)."""
    out.mkdir(parents=True, exist_ok=True)
    key = str(out.resolve())
    if key in _LOCKS:
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise CryonbError(out, "another cryonb run is writing into this folder; wait for it to end "
                               "or choose another folder") from None
    _LOCKS[key] = fd


def check_new_run_folder(out: Path, out_option: str, inputs: tuple) -> None:
    """CryonbError when the run folder ``out`` names one of the ``inputs`` (paths or None), is a
    file, or cannot be written."""
    for given in inputs:
        if given and Path(given).resolve() == out.resolve():
            raise CryonbError(out_option, "--out names an input; give a new folder for the run")
    if out.exists() and not out.is_dir():
        raise CryonbError(out_option, "is a file; --out takes a folder")
    check_folder_writable(out)


def read_map_and_sequence(map_path: str, sequence_path: str, resolution: float):
    """(map, sequence): the checked map (density, resolution within Nyquist) and the FASTA's one chain."""
    from ..io import read_map
    from ..maps import check_resolution, require_density
    from ..sequence import read_fasta
    sequence = read_fasta(sequence_path)
    m = read_map(map_path)
    check_resolution(m, resolution)
    require_density(m)
    return m, sequence
