"""Write the ARG and LYS rotamer grids cryonb builds from the Top8000 residue points.

Usage: python tools/build_lys_arg_grids.py [OUTPUT_FOLDER]   (default: cache_dir()/top8000-built)

Writes ``rota8000-arg.data`` and ``rota8000-lys.data`` in MolProbity's NDimTable text format
(4-D, chi1..chi4, 0-360 degrees in 36 wrapped bins), the files cctbx's rotalyze expects in
``chem_data/rotarama_data`` next to the 16 shipped Top8000 grids. The grids are derived from
Top8000 data (Richardson lab, Duke University, CC-BY 4.0); keep that credit with them.
cryonb itself does not need this step: it builds and caches the grids on first use.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cryonb.data.sources import cache_dir
from cryonb.validation.reference_data import CREDIT, built_rotamer_grid, write_grid


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else cache_dir() / "top8000-built"
    for resname in ("ARG", "LYS"):
        path = out / f"rota8000-{resname.lower()}.data"
        write_grid(built_rotamer_grid(resname), path)
        print(f"wrote {path}")
    print(CREDIT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
