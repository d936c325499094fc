"""Run the shipped notebooks through papermill, and keep committed notebooks output-free."""
from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
RUNS_DIR = REPO / "papermill_runs"


def list_notebooks() -> list[str]:
    """Names (without .ipynb) of the shipped notebooks, in order."""
    return sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def notebook_path(name: str) -> Path:
    """Path of a shipped notebook by name (``00_quickstart`` or ``00_quickstart.ipynb``)."""
    path = NOTEBOOK_DIR / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such notebook; shipped: {', '.join(list_notebooks())}")
    return path


def execute_notebook(name: str, parameters: dict | None = None, run_name: str = "default",
                     runs_root: str | os.PathLike | None = None, kernel_name: str = "python3",
                     progress: bool = False) -> Path:
    """Execute a notebook with papermill into ``runs_root/<name>/<run_name>/``.

    The run folder is passed to the notebook as its ``run_dir`` parameter, so
    every output of the run lands beside the executed notebook. Returns the
    executed notebook's path.
    """
    import papermill

    src = notebook_path(name)
    folder = Path(runs_root or RUNS_DIR) / src.stem / run_name
    folder.mkdir(parents=True, exist_ok=True)
    params = dict(parameters or {})
    params["run_dir"] = str(folder.resolve())
    out = folder / src.name
    papermill.execute_notebook(str(src), str(out), parameters=params, cwd=str(NOTEBOOK_DIR),
                               kernel_name=kernel_name, progress_bar=progress)
    return out


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
