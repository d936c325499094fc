"""One source per notebook: each shipped ``.ipynb`` is paired with a jupytext percent-format ``.py``
and the two agree cell for cell (type, source, parameters tag); the ``.ipynb`` carries no outputs.

After editing one side outside JupyterLab: ``jupytext --sync cryonb/notebooks/NN_name.ipynb``
(or ``make strip``, which also syncs).
"""
import jupytext
import pytest

from cryonb.notebook_runs import NOTEBOOK_DIR, cells_with_outputs

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def cells(path) -> list[tuple[str, str, bool]]:
    """(cell type, source, has the parameters tag) of each cell, as jupytext reads ``path``."""
    return [(c.cell_type, c.source, "parameters" in c.metadata.get("tags", []))
            for c in jupytext.read(path).cells]


def first_difference(a: list, b: list) -> str:
    """Where two cell lists first disagree, in words ('' when they agree)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x[0] != y[0] or x[2] != y[2]:
            return f"cell {i}: ipynb {x[0]}, parameters tag {x[2]}; .py {y[0]}, parameters tag {y[2]}"
        lines = [(u, v) for u, v in zip(x[1].splitlines() + [""], y[1].splitlines() + [""]) if u != v]
        if lines:
            return f"cell {i}: ipynb {lines[0][0]!r} vs .py {lines[0][1]!r}"
    return "" if len(a) == len(b) else f"{len(a)} cells in the ipynb, {len(b)} in the .py"


def test_every_notebook_has_its_py_source():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.py")) == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_its_py_source_agree(ipynb):
    source = ipynb.with_suffix(".py")
    for path in (ipynb, source):
        assert jupytext.read(path).metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", \
            f"{path.name}: not paired (jupytext --set-formats ipynb,py:percent {path.name})"
    diff = first_difference(cells(ipynb), cells(source))
    assert not diff, f"{ipynb.name} and {source.name} disagree (jupytext --sync {ipynb.name}): {diff}"
    assert sum(tagged for *_, tagged in cells(source)) == 1, f"{source.name}: one parameters cell"
    assert not cells_with_outputs(ipynb), f"{ipynb.name}: strip outputs (make strip)"
