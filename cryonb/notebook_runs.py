"""Run the shipped notebooks through papermill, copy them out, and keep committed notebooks output-free.

The notebooks ship inside the package (``cryonb/notebooks/``), each as a jupytext pair: the
``.ipynb`` and its percent-format ``.py`` source (``notebooks/`` of a checkout links there).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .errors import CryonbError
from .runs import fail_run, load_run

NOTEBOOK_DIR = Path(__file__).resolve().parent / "notebooks"
RUNS_FOLDER = "papermill_runs"


def list_notebooks() -> list[str]:
    """Names (without .ipynb) of the shipped notebooks, in order."""
    return sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def notebook_path(name: str) -> Path:
    """Path of a shipped notebook by name (``00_quickstart`` or ``00_quickstart.ipynb``)."""
    path = NOTEBOOK_DIR / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such notebook; shipped: {', '.join(list_notebooks())}")
    return path


def pair_paths(name: str) -> list[Path]:
    """The shipped notebook ``name`` and its percent-format source: ``[NN_x.ipynb, NN_x.py]``."""
    ipynb = notebook_path(name)
    return [ipynb, ipynb.with_suffix(".py")]


def source_checkout() -> Path | None:
    """Root of the source checkout this package runs from, or None for an installed package."""
    root = NOTEBOOK_DIR.parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def default_runs_root() -> Path:
    """``papermill_runs/`` under the current folder: where runs go unless told otherwise."""
    return Path.cwd() / RUNS_FOLDER


def copy_notebook(name: str, folder: str | os.PathLike) -> list[Path]:
    """Copy the pair of notebook ``name`` into ``folder`` for editing. A file already there is
    never overwritten: CryonbError names it and nothing is copied. Returns the copies' paths."""

    sources = pair_paths(name)
    targets = [Path(folder) / s.name for s in sources]
    existing = [t for t in targets if t.exists() or t.is_symlink()]
    if existing:
        raise CryonbError(existing[0], "already exists; not overwritten (remove it or copy elsewhere)")
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    for source, target in zip(sources, targets):
        shutil.copyfile(source, target)
    return targets


def execute_notebook(name: str, parameters: dict | None = None, run_name: str = "default",
                     runs_root: str | os.PathLike | None = None, kernel_name: str = "python3",
                     progress: bool = False) -> Path:
    """Execute a notebook with papermill into ``runs_root/<name>/<run_name>/``.

    ``runs_root`` defaults to ``papermill_runs/`` under the current folder. The run folder
    is passed to the notebook as its ``run_dir`` parameter, so every output of the run lands
    beside the executed notebook; the kernel runs in the current folder, so relative paths
    in ``parameters`` are read from there. Returns the executed notebook's path.
    """
    import papermill

    src = notebook_path(name)
    folder = Path(runs_root or default_runs_root()) / src.stem / run_name
    folder.mkdir(parents=True, exist_ok=True)
    params = dict(parameters or {})
    params["run_dir"] = str(folder.resolve())
    out = folder / src.name
    try:
        papermill.execute_notebook(_unpaired(src), str(out), parameters=params, cwd=str(Path.cwd()),
                                   kernel_name=kernel_name, progress_bar=progress)
    except BaseException as exc:
        _mark_failed(folder, exc)
        raise
    return out


def _mark_failed(folder: Path, exc: BaseException) -> None:
    """A run record the notebook left "running" (a cell raised, or the run was stopped) says failed."""
    try:
        running = load_run(folder).state == "running"
    except CryonbError:
        return                                   # no run record (yet): nothing to mark
    if running:
        fail_run(folder, exc)


def _unpaired(src: Path):
    """The notebook at ``src`` without its jupytext pairing, so that an executed copy stands alone."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    nb.metadata.pop("jupytext", None)
    return nb


def cells_with_outputs(path: str | os.PathLike) -> list[int]:
    """Indices of code cells that carry outputs or execution counts."""
    nb = json.loads(Path(path).read_text())
    return [i for i, c in enumerate(nb.get("cells", []))
            if c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count"))]


def strip_outputs(path: str | os.PathLike) -> bool:
    """Remove outputs, execution counts and widget state in place; True if anything changed."""
    path = Path(path)
    nb = json.loads(path.read_text())
    before = json.dumps(nb, sort_keys=True)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    nb.get("metadata", {}).pop("widgets", None)
    nb.get("metadata", {}).pop("papermill", None)
    changed = json.dumps(nb, sort_keys=True) != before
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def interactive_run_dir(notebook: str) -> Path:
    """Run folder of a notebook run by hand: ``papermill_runs/<notebook>/interactive`` under the
    kernel's working folder, or under the checkout when that is the shipped notebooks folder
    (``notebooks/`` of a checkout). An installed package's own copy is refused: copy it out."""
    base = Path.cwd()
    if base.resolve() == NOTEBOOK_DIR:
        base = source_checkout()
        if base is None:
            raise CryonbError(NOTEBOOK_DIR, "is the installed package's copy of the notebooks; run an "
                                            f"editable copy instead: cryonb notebook {notebook} --copy DIR")
    return base / RUNS_FOLDER / notebook / "interactive"
