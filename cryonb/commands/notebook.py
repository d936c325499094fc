"""Execute a shipped notebook through papermill into papermill_runs/<notebook>/<run>/ (under the
current folder), or copy it out for editing.

Examples: cryonb notebook 00_quickstart --run demo -p resolution 4.0
          cryonb notebook 00_quickstart --copy mine/   (the .ipynb and its .py source)
"""
from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

from ..batch.table import PATH_SUFFIXES
from ..errors import CryonbError
from ..notebook_runs import copy_notebook, default_runs_root, execute_notebook, list_notebooks, notebook_path
from . import check_folder_writable


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="notebook name, e.g. 00_quickstart")
    p.add_argument("--run", default="default", help="run folder name (default: default)")
    p.add_argument("--runs-root", help="root folder for runs (default: papermill_runs/ in the current folder)")
    p.add_argument("--copy", metavar="DIR", help="copy the notebook (.ipynb and its .py source) into DIR "
                                                 "for editing instead of running it; never overwrites")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="papermill parameter (Python literal or text)")


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parameter(name: str, text: str):
    """A -p value: a Python literal, else text; text that names a file is made absolute against the
    current folder (where the notebook's kernel runs too), and must exist."""
    value = _literal(text)
    if not isinstance(value, str) or not ("/" in value or value.lower().endswith(PATH_SUFFIXES)):
        return value
    path = Path(value).expanduser()
    if not path.exists():
        raise CryonbError(value, f"-p {name}: file not found (relative paths are taken from {Path.cwd()})")
    return str(path.resolve())


def _check_run_name(run: str) -> None:
    if not run or run in (".", "..") or Path(run).name != run or "\\" in run:
        raise CryonbError(None, f"--run {run!r}: give a plain folder name (no '/', no '..'); "
                                "--runs-root chooses where runs go")


def _check_parameter_names(name: str, given: list[str]) -> None:
    """Refuse a -p name the notebook's parameters cell does not define (papermill would only warn)."""
    import papermill
    known = [k for k in papermill.inspect_notebook(str(notebook_path(name))) if k != "run_dir"]
    unknown = [k for k in given if k not in known]
    if unknown:
        raise CryonbError(None, f"-p {unknown[0]}: not a parameter of {name.removesuffix('.ipynb')} "
                                f"(its parameters: {', '.join(known)})")


def _copy(args: argparse.Namespace) -> int:
    """``--copy DIR``: the notebook pair into DIR, nothing run."""
    if args.parameter:
        raise CryonbError(None, "--copy copies the notebook without running it; drop -p "
                                "(set parameters in the copy's first code cell)")
    check_folder_writable(Path(args.copy))
    for path in copy_notebook(args.name, args.copy):
        print(f"copied: {path}")
    return 0


def main(args: argparse.Namespace) -> int:
    if args.name.removesuffix(".ipynb") not in list_notebooks():
        raise CryonbError(None, f"unknown notebook {args.name!r}; shipped: {', '.join(list_notebooks())}")
    if args.copy:
        return _copy(args)
    _check_run_name(args.run)
    check_folder_writable(Path(args.runs_root or default_runs_root()))
    _check_parameter_names(args.name, [k for k, _ in args.parameter])
    params = {k: _parameter(k, v) for k, v in args.parameter}
    import papermill.exceptions   # 1-3 s of imports: only once the arguments are checked
    try:
        out = execute_notebook(args.name, params, run_name=args.run, runs_root=args.runs_root,
                               progress=True)
    except papermill.exceptions.PapermillExecutionError as exc:
        executed = Path(args.runs_root or default_runs_root()) / args.name.removesuffix(".ipynb") / args.run
        raise CryonbError(None, f"notebook {args.name} failed in cell {exc.exec_count}: {exc.ename}: "
                                f"{exc.evalue} (the executed notebook in {executed} shows the "
                                "traceback)") from None
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
