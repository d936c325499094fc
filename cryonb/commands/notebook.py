"""Execute a shipped notebook through papermill into papermill_runs/<notebook>/<run>/.

Example: cryonb notebook 00_quickstart --run demo -p resolution 4.0
"""
from __future__ import annotations

import argparse
import ast
import json

from ..notebooks import execute_notebook, list_notebooks


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="notebook name, e.g. 00_quickstart")
    p.add_argument("--run", default="default", help="run folder name (default: default)")
    p.add_argument("--runs-root", help="root folder for runs (default: papermill_runs/)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="papermill parameter (Python literal or text)")


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(args: argparse.Namespace) -> int:
    if args.name.removesuffix(".ipynb") not in list_notebooks():
        raise SystemExit(f"unknown notebook {args.name}; shipped: {', '.join(list_notebooks())}")
    params = {k: _literal(v) for k, v in args.parameter}
    out = execute_notebook(args.name, params, run_name=args.run, runs_root=args.runs_root,
                           progress=True)
    print(f"executed notebook: {out}")
    print(f"run folder:        {out.parent}")
    for path in sorted(out.parent.rglob("*")):
        if path.is_file() and path != out:
            print(f"  {path.relative_to(out.parent)}")
    metrics = out.parent / "metrics.json"
    if metrics.exists():
        print("metrics.json:")
        for key, value in json.loads(metrics.read_text()).items():
            print(f"  {key:34s} {value:.3f}" if isinstance(value, float) else f"  {key:34s} {value}")
    return 0
