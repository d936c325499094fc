"""The ``cryonb`` subcommands, one module each (see :mod:`cryonb.cli`)."""
from __future__ import annotations

from pathlib import Path

from ..errors import CryonbError


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
