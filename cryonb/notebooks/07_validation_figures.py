# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Validation figures: every figure of `figures/`, from run records
#
# The figures of cryonb's results are drawn from small **records** (`figures/data/*.csv`), never
# by re-running a refinement: the records are gathered from the run folders of `cryonb batch` and
# the benchmarks (`cryonb figures --collect-batch DIR ...`, see `docs/figures.md`), committed, and
# every figure is redrawn from them in seconds, with the style shipped in the package, as SVG, PNG
# and the CSV of its numbers. Drawn twice on one machine, the files are byte-identical.
#
# This notebook draws them into its run folder and shows them; `make figures` (or `cryonb figures`)
# draws the same files into `figures/`.

# %% tags=["parameters"]
data_dir = ""       # records folder; "": figures/data of the cryonb checkout
figures = "all"     # figure names separated by commas, or "all"
run_dir = None      # papermill sets it; None: papermill_runs/07_validation_figures/interactive

# %%
from pathlib import Path
from IPython.display import Image, Markdown, display
from cryonb import runs
from cryonb.errors import CryonbError
from cryonb.figures.book import FIGURES, make_figures
from cryonb.notebook_runs import interactive_run_dir, source_checkout

run = runs.run_folder(run_dir or interactive_run_dir("07_validation_figures"))
if data_dir:
    data = Path(data_dir)
elif source_checkout() is not None:
    data = source_checkout() / "figures" / "data"
else:
    raise CryonbError(None, "an installed cryonb has no records: set data_dir to a figures/data folder")
names = sorted(FIGURES) if figures == "all" else [f.strip() for f in figures.split(",") if f.strip()]
runs.begin_run(run, "figures", {"data": str(data), "figures": names})
print(f"records: {data}\nrun folder: {run}")

# %% [markdown]
# ## Draw
# Each figure reads its records and writes `<name>.svg`, `<name>.png` and `<name>.csv` (the plotted
# numbers) into the run folder.

# %%
paths = make_figures(data, run, names)
runs.finish_run(run, {"figures": len(names), "files": len(paths)})
for name in names:
    print(f"{name}: reads {', '.join(FIGURES[name][1])}")

# %% [markdown]
# ## The figures
# Under each figure, what it shows (the producer's description in `cryonb.figures.book`).

# %%
for name in names:
    display(Markdown(f"### {name}\n{FIGURES[name][0].__doc__}"))
    display(Image(filename=str(run / f"{name}.png")))
