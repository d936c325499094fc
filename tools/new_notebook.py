"""Start a new shipped notebook as a jupytext pair: python tools/new_notebook.py 07_name "Title"

Writes cryonb/notebooks/07_name.py (percent format: ``# %%`` cells) and its paired 07_name.ipynb,
outputs empty, with the parameters cell (papermill tag) and run folder every notebook has. Edit
either side afterwards: JupyterLab keeps the pair in sync; after editing the .py in an editor,
``jupytext --sync`` (or ``make strip``) updates the .ipynb. Add small parameters for the new
notebook to tests/test_notebooks.py (SMALL). Never overwrites.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "cryonb" / "notebooks"

SKELETON = '''# %% [markdown]
# # {title}

# %% tags=["parameters"]
seed = 0
run_dir = None               # papermill sets it; None: papermill_runs/{name}/interactive (notebook_runs.interactive_run_dir)

# %%
from cryonb import runs
from cryonb.notebook_runs import interactive_run_dir

run = runs.run_folder(run_dir or interactive_run_dir("{name}"))
runs.begin_run(run, "{name}", {{}}, seed=seed)   # config.json and a "running" status.json

# %%
runs.finish_run(run, {{}})                        # flat metrics.json, steps.json, status "ok"
'''


def new_notebook(name: str, title: str, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Write the pair ``folder/name.ipynb`` and ``folder/name.py``; returns their paths."""
    paths = [folder / f"{name}.ipynb", folder / f"{name}.py"]
    existing = [p for p in paths if p.exists()]
    if existing:
        raise FileExistsError(f"{existing[0]}: already exists; not overwritten")
    nb = jupytext.reads(SKELETON.format(name=name, title=title), fmt="py:percent")
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    jupytext.write(nb, paths[0])
    jupytext.write(nb, paths[1], fmt="py:percent")
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", help="NN_name, e.g. 07_my_analysis")
    p.add_argument("title", help="the notebook's title (its first markdown cell)")
    args = p.parse_args(argv)
    try:
        for path in new_notebook(args.name, args.title):
            print(f"wrote {path}")
    except FileExistsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
