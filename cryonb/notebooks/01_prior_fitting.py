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
# # 01 · Prior fitting: differentiable Ramachandran and rotamer priors
#
# MolProbity judges backbone and side-chain conformations with the Top8000 tables: for each
# Ramachandran class and each rotameric residue type, the fraction *R* of reference residues in
# lower-density regions (favoured: R ≥ 2 %; outlier: R < 0.05–0.2 % for Ramachandran classes,
# < 0.3 % for rotamers). The tables are histograms, so they have no gradient. Following the seed
# paper, this notebook fits each table with a **periodic Gaussian mixture** G, not to *R* itself
# but to ln(R + e⁻¹⁰), with hinges along the outlier and favoured boundaries so that every cell
# that is an outlier in the table stays an outlier under the mixture.
#
# The fitted parameters ship in `cryonb/data/priors/` (refinement needs no reference data at run
# time); this notebook regenerates them, shows each fit beside its table and reports:
#
# * **outlier cells**: fraction of the table's outlier cells that the mixture also calls outliers (bar ≥ 99.5 %),
# * **agreement**: fraction of all cells whose favoured/allowed/outlier category agrees (bar ≥ 99 %),
# * **rms log**: rms of ln(G + e⁻¹⁰) − ln(R + e⁻¹⁰) over the cells.
#
# Top8000 data: Richardson lab, Duke University (CC-BY 4.0; Williams et al. 2018, *Protein Sci.* 27:293).

# %% tags=["parameters"]
import os
reference_dir = os.environ.get("CRYONB_TOP8000", "")  # Top8000 folder (rama/, rotamer_grids/); "" = cryonb's search
rama_iterations = 1500      # Adam steps per Ramachandran fit
rotamer_iterations = 0      # Adam steps per rotamer fit; 0: 2000/2000/1500/800 for 1-4 chis
rama_components = 0         # 0: the smallest count of the ladder that meets the bars; else this count
rotamer_components = 0      # same, for rotamers
classes = "all"             # comma-separated Ramachandran classes, or "all"
residues = "all"            # comma-separated rotamer types (PHE stands for PHE/TYR), or "all"
install = False             # also copy the fitted parameters into cryonb/data/priors
seed = 0
run_dir = None              # papermill sets it; None: papermill_runs/01_prior_fitting/interactive (cryonb.notebook_runs.interactive_run_dir)

# %%
from pathlib import Path
import matplotlib.pyplot as plt
from cryonb import plots, runs
from cryonb.notebook_runs import interactive_run_dir
from cryonb.priors import figures, tables
from cryonb.validation import rama, rotamer
from cryonb.validation.reference_data import top8000_dir

if reference_dir:
    os.environ["CRYONB_TOP8000"] = str(Path(reference_dir).resolve())
print("Top8000 tables from:", top8000_dir())
run = runs.run_folder(run_dir or interactive_run_dir("01_prior_fitting"))
out = runs.run_folder(run / "priors")
rama_classes = list(rama.TABLES) if classes == "all" else [c.strip() for c in classes.split(",")]
rotamer_types = tables.rotamer_fit_types() if residues == "all" else [r.strip().upper() for r in residues.split(",")]
runs.begin_run(run, "priors", {"rama_iterations": rama_iterations, "rotamer_iterations": rotamer_iterations,
                                "rama_components": rama_components, "rotamer_components": rotamer_components,
                                "classes": rama_classes, "rotamer_types": rotamer_types},
               inputs={"reference_dir": str(top8000_dir())}, seed=seed)
reports = {}

# %% [markdown]
# ## Ramachandran classes
# Six classes, as MolProbity splits them: general, Gly, trans-Pro, cis-Pro, pre-Pro and Ile/Val.
# White: the table's outlier contour; black dashed: the mixture's.

# %%
for name in rama_classes:
    mix, rep = tables.fit_rama_class(name, n_components=rama_components or None,
                                     iterations=rama_iterations, seed=seed)
    mix.save(out / f"rama_{name}.npz")
    reports[f"rama_{name}"] = rep
    fig = figures.plot_fit(mix, rama.rama_tables()[name], tables.rama_thresholds(name)[0],
                           f"Ramachandran {name}: agreement {100 * rep.agreement:.2f} %")
    plots.save_figure(fig, run / f"rama_{name}")
    plt.show()

# %% [markdown]
# ## Rotamers
# One mixture per Top8000 rotamer grid (PHE and TYR share one; Pro is scored on chi1; ARG and LYS
# use 4-D grids built from the Top8000 points). Centres start at the central rotamer values and
# the grid's local maxima. For 3 and 4 chis the panels show the maximum over the other chis.

# %%
for res in rotamer_types:
    mix, rep = tables.fit_rotamer_type(res, n_components=rotamer_components or None,
                                       iterations=rotamer_iterations or None, seed=seed)
    key = tables.rotamer_file_key(res)
    mix.save(out / f"rotamer_{key}.npz")
    reports[f"rotamer_{key}"] = rep
    fig = figures.plot_fit(mix, rotamer.rotamer_grid(res), rotamer.OUTLIER,
                           f"rotamer {key}: agreement {100 * rep.agreement:.2f} %", labels=("chi1", "chi2"))
    plots.save_figure(fig, run / f"rotamer_{key}")
    plt.show()

# %% [markdown]
# ## Fit figures against the bars

# %%
print(f"{'table':<22} {'K':>5} {'rms log':>8} {'outlier cells':>14} {'agreement':>10} {'seconds':>8}  bars")
for key, r in reports.items():
    ok = r.outlier_cells >= tables.BARS[0] and r.agreement >= tables.BARS[1]
    print(f"{key:<22} {r.n_components:>5} {r.rms_log:>8.3f} {100 * r.outlier_cells:>13.2f}% "
          f"{100 * r.agreement:>9.2f}% {r.seconds:>8.1f}  {'hold' if ok else 'FAIL'}")
fits = {k: r.as_dict() for k, r in reports.items()}
runs.write_json(fits, out / "fit_report.json")
runs.finish_run(run, {"tables": len(reports), "seconds": sum(r.seconds for r in reports.values()),
                      "worst_outlier_cells": min(r.outlier_cells for r in reports.values()),
                      "worst_agreement": min(r.agreement for r in reports.values()),
                      "all_bars_hold": all(r.outlier_cells >= tables.BARS[0] and r.agreement >= tables.BARS[1]
                                           for r in reports.values())})
if install:   # replace the shipped parameters by this run's (then commit them with the fit report)
    written = tables.install_priors(out)
    print("installed into the package:", ", ".join(p.name for p in written))
