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
# # 06 · Series refinement: a continuous model series along a latent trajectory
#
# Heterogeneity analysis (cryoDRGN, the GMM-DNN's own, 3D variability...) places every particle in a
# latent space; reconstructions from particles grouped along a trajectory through it give a **series
# of maps**, each with its **latent coordinate**. Series refinement (Chen & Ludtke, the GMM-DNN model
# series) turns them into a **continuous series of atomic models**, one at any point of the trajectory:
#
# * **a start model**: the input model, first refined as a single model (notebook 05) into the map it
#   fits best (`refine_start`);
# * **conditional decoders**: the same decoders as single refinement (`patches`, then `residues`, then
#   `atoms`), but their input is the map's latent coordinate instead of a constant, plus **a little
#   random noise** (as in a variational autoencoder), so the models change smoothly between the
#   latents the maps sit at. Each map is scored by the FRC of its own cached projections, all maps at
#   once, and each new decoder is trained on top of the ones before it, stage by stage, its geometry
#   weight balanced afresh every round (the residue stage also turns the side-chain chis and keeps
#   phi/psi by the Ramachandran prior);
# * **joint fit and smoothing**: final rounds train all the decoders together, all atoms against
#   every map with the single-refinement polish's geometry, its Ramachandran prior eased from 100
#   to 6 (`fit`: map weight ×10, where the stages had left the models short of the maps at low
#   resolution; `smooth`: the polish's own map weight),
#   with the geometry scored also at latents drawn **uniformly along the trajectory** and at the
#   points of a fine grid along it where the models have the most Ramachandran outliers or clashes,
#   so frames between the maps get as clean a geometry as the maps' own (the seed's Fig. 3B: Ramachandran,
#   rotamer outliers and clashscore for every frame of the series).
#
# By default this notebook refines the bundled example: adenylate kinase along the **DIMS closed →
# open trajectory** (98 frames, all superposed by the CORE domain). `n_maps` maps are simulated at
# evenly spaced frames at `resolution` with noise, the latent of a map is its frame / 97, and the
# start model is AdK closed (PDB 1AKE). Every true frame is known, so the series is scored by its
# C-alpha RMSD at all 98 frames, against the obvious alternative: refine each map on its own and
# interpolate the coordinates in between (`baseline`).
#
# Your own data: `maps=[...]` (MRC files), a folder (cryoDRGN `eval_vol` output) or one volume stack;
# `latent="z.pkl"` (cryoDRGN), `.npy` or text, one row per map ("" for map order); `model=...` and
# `resolution=...`. Relative paths are read from the kernel's working folder (with `cryonb notebook`, the
# folder it is run from), so absolute paths are safest. Everything lands in the run folder.

# %% tags=["parameters"]
maps = ""                    # MRC files (list), a folder of them or a volume stack; "": the bundled AdK DIMS example
latent = ""                  # latent per map: .npy, text or cryoDRGN z.pkl; "": map order (bundled: frame / 97)
model = ""                   # start model (PDB/mmCIF path or example name); "": AdK closed (1AKE)
resolution = 8.0             # Å, resolution of the maps (the FRC limit)
n_maps = 10                  # bundled example: maps at evenly spaced DIMS frames
snr = 1.0                    # bundled example: noise (signal-to-noise variance ratio)
voxel_size = 1.5             # bundled example: Å per voxel
eval_latent = ""             # latents to write models at (file); "": bundled: all 98 DIMS frames, else the maps'
n_frames = None              # N: N latents evenly along a 1-D latent, plus the maps' own (instead of the above)
iterations = None            # None: SeriesConfig's defaults, else an int (atoms stage; residues 3x)
patch_iterations = None      # each patch stage
fit_iterations = None        # joint all-atom fit of every decoder to every map (0: none)
smooth_iterations = None     # joint smoothing at the polish's balance, geometry along the trajectory (0: none)
batch = None                 # projections per map per round
n_orientations = None        # cached projections per map
refine_start = True          # refine the start model into the map it fits best first
baseline = False             # bundled example: also refine each map on its own and interpolate (minutes per map)
baseline_iterations = None   # None: single-refinement defaults, else an int per decoder stage
baseline_polish_steps = None # None: the series' start-refinement polish
seed = 0
threads = None               # torch CPU threads (None: torch's default)
resume = False               # True: continue from this run folder's checkpoints
show_3d = True               # build the nglview widget (it draws only in a live browser)
show_maps = True             # in the 3D view, the map nearest each frame's latent
sigma_level = 1.5            # isosurface level of the maps, in standard deviations
run_dir = None               # papermill sets it; None: papermill_runs/06_series_refinement/interactive (cryonb.notebook_runs.interactive_run_dir)

# %%
import shutil
from dataclasses import replace
import numpy as np
import matplotlib.pyplot as plt
from cryonb import data, plots, runs, viz
from cryonb.notebook_runs import interactive_run_dir
from cryonb.data.series_cases import adk_dims_series
from cryonb.refinement import figures as single
from cryonb.refinement.stages import default_stages
from cryonb.series import figures
from cryonb.series.baseline import interpolate_models, refine_independently
from cryonb.series.inputs import SeriesInputs, load_series, read_latents
from cryonb.series.outputs import summarise
from cryonb.series.pipeline import SeriesConfig, refine_series

run = runs.run_folder(run_dir or interactive_run_dir("06_series_refinement"))
bundled = not maps
case = adk_dims_series(resolution, n_maps=n_maps, snr=snr, voxel_size=voxel_size, seed=seed) if bundled else None
if bundled:
    inputs = SeriesInputs(case.maps, case.latents, [f"DIMS frame {i}" for i in case.map_frames], "array")
else:
    inputs = load_series(maps, latent or None)
if not model and not bundled:
    raise ValueError("give the start model: model='start.cif'")
start = data.load_model(model) if model else case.model

evaluate, truth_index = figures.evaluation_latents(inputs.latents, read_latents(eval_latent) if eval_latent else None,
                                                   n_frames, case.frame_latents if bundled else None)
truth = case.frames[truth_index] if bundled and model in ("", "adk_closed") else None   # true model per latent

settings = {"iterations": iterations, "patch_iterations": patch_iterations, "fit_iterations": fit_iterations,
            "smooth_iterations": smooth_iterations,
            "batch": batch, "n_orientations": n_orientations, "threads": threads}
config = SeriesConfig(refine_start=refine_start, seed=seed, **{k: v for k, v in settings.items() if v is not None})
runs.write_parameters(run, {"maps": maps or f"bundled: adk_dims_series({resolution}, n_maps={n_maps}, snr={snr}, "
                             f"voxel_size={voxel_size})", "latent": latent or None, "model": model or "adk_closed",
                             "resolution": resolution, "eval_latent": eval_latent or None, "n_frames": n_frames,
                             "baseline": baseline and bundled})

print(f"model: {start.name or model}: {start[0].count_atom_sites()} atoms in {sum(len(ch) for ch in start[0])} residues")
print(f"maps:  {len(inputs.maps)}, box {inputs.maps[0].shape[::-1]} voxels (x, y, z) of "
      f"{inputs.maps[0].voxel_size[0]:.2f} Å, resolution {resolution} Å; latents ({inputs.latent_source}) "
      f"of dimension {inputs.latents.shape[1]}: {np.round(inputs.latents[:, 0], 3).tolist()}")
print(f"frames to evaluate: {len(evaluate)}")
print(f"run folder: {run}")

# %% [markdown]
# ## Refine the series
# `refine_series` runs the steps in order (`start`, `patches_coarse`, `patches`, `residues`, `atoms`,
# `fit`, `smooth`) on every map at once, checkpointing the decoders of each finished step in the run folder;
# `resume=True` continues an interrupted run. It then validates the model at every latent to evaluate
# and writes the series and the run record, as `cryonb series` does. The default bundled run takes
# several minutes on two CPU threads.

# %%
checkpoints = run / "checkpoints"
if not resume and checkpoints.exists():
    shutil.rmtree(checkpoints)   # a fresh run replaces this run folder's outputs, checkpoints included
result = refine_series(start, inputs, resolution, config, out_dir=run, resume=resume, progress=True,
                       evaluate=evaluate)
print(f"refined the series in {result.seconds:.0f} s")

# %% [markdown]
# ## Step by step
# Time per step, rounds of L-BFGS, the automatically balanced geometry weight, and the notes.

# %%
print(single.format_steps(figures.step_rows(result.steps)))
print()
print("\n".join(result.notes))

# %% [markdown]
# ## Loss curves
# Per step, after every round: the map score (1 − FRC averaged over all maps, blue) and the geometry
# loss (red). In `fit` and `smooth` the geometry is also scored at latents between the maps.

# %%
fig = single.plot_loss_curves(result.steps)
plots.save_figure(fig, run / "loss_curves")
plt.show()

# %% [markdown]
# ## Every frame validated
# The series gives a model at any latent: here at every latent to evaluate. Each model is validated
# (MolProbity definitions, see `cryonb validate`), and where a map sits at its latent, its model-map
# FSC averaged to the resolution.

# %%
traj = result.trajectory(evaluate)
table = result.table
x, xlabel = figures.frame_axis(table, evaluate)
sampled = np.array([bool(row["map"]) for row in table])
print(single.format_table([[k, v["min"], v["median"], v["max"]] for k, v in summarise(table).items()],
                          ["metric", "min", "median", "max"]))

# %% [markdown]
# ## Validation along the trajectory
# The seed's Fig. 3B for this series: Ramachandran outliers, rotamer outliers and clashscore of every
# frame, and the model-map FSC at the frames with a map. Orange points are frames at a map's latent,
# dotted lines the maps' latents; the frames between them had no map of their own.

# %%
fig = figures.plot_frames(table, evaluate, inputs.latents)
plots.save_figure(fig, run / "frames")
plt.show()

# %% [markdown]
# ## Against the true frames (bundled example)
# C-alpha RMSD (no superposition) of each frame of the series to the true DIMS frame at its latent,
# beside the start model (no refinement) and, with `baseline`, the independent refinements at the maps
# interpolated linearly in between: the morph that the series replaces, whose frames between the
# maps follow no map and no geometry.

# %%
rmsd = {}
if truth is not None:
    rmsd["series"] = figures.calpha_rmsd_frames(traj, truth)
    if baseline:
        few = {k: replace(c, iterations=baseline_iterations, round_length=min(c.round_length, baseline_iterations))
               for k, c in default_stages(resolution).items()} if baseline_iterations else {}
        base_config = replace(config.start, threads=threads, seed=seed, **few,
                              **({"polish_steps": baseline_polish_steps} if baseline_polish_steps is not None else {}))
        independent = refine_independently(start, inputs.maps, resolution, base_config, progress=True)
        print(f"baseline: {len(independent)} single refinements in {sum(r.seconds for r in independent):.0f} s")
        xyz = interpolate_models(np.stack([r.xyz for r in independent]), inputs.latents, evaluate)
        rmsd["independent + interpolated"] = figures.calpha_rmsd_frames(result.trajectory_of(xyz), truth)
    unrefined = np.repeat(result.topology.xyz(start)[None], len(truth), axis=0)
    rmsd["start model"] = figures.calpha_rmsd_frames(result.trajectory_of(unrefined), truth)
    fig = figures.plot_calpha_rmsd(x, rmsd, sampled, xlabel)
    plots.save_figure(fig, run / "calpha_rmsd")
    plt.show()
    print(single.format_table([[k, float(np.median(v)), float(v.max())] for k, v in rmsd.items()],
                              ["C-alpha RMSD to truth (Å)", "median", "max"]))
else:
    print("no true frames: nothing to score against")

# %% [markdown]
# ## Outputs
# `series.cif` / `series.pdb` (one model per evaluated latent), `frames.csv` (the per-frame table),
# the run record `refine_series` wrote (`config.json`, `status.json`, `steps.json`, and `metrics.json`:
# the worst frame's value of every headline metric as `<key>` and the median as `<key>_median`; read
# it back with `cryonb.runs.load_run(run)`), for the bundled example the C-alpha RMSD to the true
# frames (`ca_rmsd.csv` per frame, medians and maxima added to `metrics.json`), the figures (PNG and
# SVG) and `summary.txt`.

# %%
ca = {k: {"median": float(np.median(v)), "max": float(v.max())} for k, v in rmsd.items()}
keys = {"series": "ca_rmsd", "independent + interpolated": "ca_rmsd_baseline", "start model": "ca_rmsd_start"}
if rmsd:
    runs.update_metrics(run, {f"{keys[k]}_{stat}": v[stat] for k, v in ca.items() for stat in ("median", "max")})
    np.savetxt(run / "ca_rmsd.csv", np.column_stack([np.arange(len(table)), *rmsd.values()]), delimiter=",",
               header=",".join(["frame", *(keys[k] for k in rmsd)]), comments="", fmt="%.4f")
summary = (f"series of {len(table)} models from {len(inputs.maps)} maps at {resolution} Å in {result.seconds:.0f} s "
           f"({', '.join(s.name for s in result.steps)})\n"
           + "".join(f"{k}: median {v['median']:.3g}, max {v['max']:.3g}\n" for k, v in summarise(table).items())
           + "".join(f"C-alpha RMSD to truth, {k}: median {v['median']:.2f} Å, max {v['max']:.2f} Å\n"
                     for k, v in ca.items()))
(run / "summary.txt").write_text(summary)
print(summary)

# %% [markdown]
# ## Watch the series
# The series as a trajectory (cartoon, coloured along the chain): drag the **frame** slider under the
# view to move along the latent trajectory; the red line in the per-frame plot under it follows the
# slider. With `show_maps`, each frame shows the map nearest its latent as a wireframe at
# `sigma_level` standard deviations. (Widgets draw in a live notebook only.)

# %%
view = None
if show_3d:
    nearest = figures.nearest_index(evaluate, inputs.latents)
    view = viz.show_series(traj, inputs.maps if show_maps else (), nearest, sigma=sigma_level,
                           plot=lambda k: figures.plot_frames(table, evaluate, inputs.latents, current=k))
view
