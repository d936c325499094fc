"""Write a notebook from a list of (kind, source) cells, outputs empty (a one-off builder).

Usage in Python: write_notebook(path, [("md", "# Title"), ("params", "x = 1"), ("code", "...")]);
a notebook builder (tools/build_notebook_NN.py) ends with ``build(TARGET, CELLS)``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]


def write_notebook(path: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src.strip()))
        else:
            cell = nbformat.v4.new_code_cell(src.strip())
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.write(nb, path)


def build(target: Path, cells: list[tuple[str, str]]) -> None:
    """Write ``cells`` to ``target`` with outputs stripped, and say so."""
    sys.path.insert(0, str(REPO))
    from cryonb.notebooks import strip_outputs
    write_notebook(str(target), cells)
    strip_outputs(target)
    print(f"wrote {target.relative_to(REPO)} ({len(cells)} cells)")
