"""FSC between two maps (half maps), or between a model and a map.

Examples: cryonb fsc half1.mrc half2.mrc
          cryonb fsc --model model.cif map.mrc
"""
from __future__ import annotations

import argparse

from ..density import fsc, model_map_fsc
from ..errors import CryonbError
from ..io import model_xyz, read_map
from ..maps import check_overlap, require_density
from ..runs import write_json
from . import check_output, read_first_model


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("maps", nargs="+", help="two maps, or one map with --model")
    p.add_argument("--model", help="model for a model-map FSC")
    p.add_argument("--json", help="write the curve and resolutions to this JSON file")


def _count(n: int) -> str:
    return {1: "one map", 3: "three maps"}.get(n, f"{n} maps")


def main(args: argparse.Namespace) -> int:
    check_output(args.json, "json", inputs=(args.model, *args.maps))
    if args.model:
        if len(args.maps) != 1:
            raise CryonbError(None, f"with --model give exactly one map ({len(args.maps)} given)")
        st, m = read_first_model(args.model), read_map(args.maps[0])
        require_density(m)
        check_overlap(model_xyz(st), m, args.model)
        curve = model_map_fsc(st, m)
    else:
        if len(args.maps) != 2:
            raise CryonbError(None, f"{_count(len(args.maps))} given: give two maps (half maps), "
                                    "or one map with --model")
        a, b = read_map(args.maps[0]), read_map(args.maps[1])
        require_density(a)
        require_density(b)
        curve = fsc(a, b)
    res = {"fsc0143_resolution": curve.resolution(0.143), "fsc05_resolution": curve.resolution(0.5)}
    print(f"{'1/Å':>8} {'Å':>8} {'FSC':>7}")
    for f, c in zip(curve.frequency[1:], curve.fsc[1:]):
        print(f"{f:8.4f} {1 / f:8.2f} {c:7.3f}")
    print(f"FSC=0.143 at {res['fsc0143_resolution']:.2f} Å; FSC=0.5 at {res['fsc05_resolution']:.2f} Å")
    if args.json:
        write_json({**res, "frequency": curve.frequency, "fsc": curve.fsc}, args.json)
    return 0
