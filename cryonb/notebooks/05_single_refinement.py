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
# # 05 · Single-model refinement: GMM-DNN refinement of one model into one map
#
# GMM-DNN refinement (Chen & Ludtke) moves an atomic model into a cryo-EM map without ever building
# a map from the model on a grid:
#
# * **the model as a Gaussian mixture**: one isotropic Gaussian per heavy atom, weighted by its
#   electron scattering factor, with a width of 0.225 × the resolution widened by the atom's B-factor;
# * **Fourier-space projections**: the mixture is projected along a fixed set of orientations
#   (`n_orientations`) directly in Fourier space, and each projection is compared with the same
#   projection of the map by the **Fourier ring correlation** (FRC) up to the target resolution;
#   the map score is 1 − mean FRC (0 is a perfect match). Within a stage the FRC limit can start
#   coarse and rise to the target resolution;
# * **three decoders**, small dense networks trained one after the other, each moving the model
#   the previous one left: **patches** (K-means groups of residues moved rigidly, map score only;
#   a coarse pass with 1/8 as many, larger patches runs first to find domain motions),
#   **residues** (one rigid body per residue, plus bonds, angles and clashes) and **atoms**
#   (per-atom offsets and side-chain chi angles, every geometry term and the Ramachandran /
#   rotamer priors of notebook 01). At 3.5 Å and better the default plan (`stages="auto"`) leaves
#   `atoms` out, because the polish does its work better there; a rotamer rebuild runs before
#   `atoms` when it is asked for at those resolutions;
# * **auto-weight**: each stage measures how much geometry one unit of map score costs over two
#   map-only iterations, and weights geometry by that ratio;
# * **polish**: L-BFGS on the coordinates with every geometry term (held tighter than in the
#   stages), a 0.5 Å tether and the map score (`polish_steps`).
#
# By default this notebook refines the bundled example: adenylate kinase in its **open** state
# (PDB 4AKE) placed on the closed state by its CORE domain, into a map simulated from the **closed**
# state (1AKE) at `resolution` with noise. The LID and NMP domains must swing 6-7 Å (C-alpha RMSD)
# to fit, and the true answer is known, so every step can be scored against it.
#
# Your own data: `model="model.cif"`, `map_path="map.mrc"`, `resolution=...` (and optionally
# `reference="true.cif"`). Relative paths are read from the kernel's working folder (with `cryonb
# notebook`, the folder it is run from), so absolute paths are safest. Every output lands in the run folder.

# %% tags=["parameters"]
model = "adk_open_on_core"   # bundled example (AdK open on closed by CORE), example name (adk_open, adk_closed) or PDB/mmCIF path
map_path = ""                # MRC map; "" or None: the bundled example map (AdK closed simulated at `resolution`)
resolution = 5.0             # Å, the map's resolution (the FRC limit of the refinement)
reference = ""               # optional true model (path) to score C-alpha errors; the bundled map's is AdK closed
snr = 1.0                    # noise of the bundled example map (signal-to-noise variance ratio)
stages = "auto"              # decoder stages in order, e.g. "patches,residues,atoms"; "auto": by resolution
iterations = None            # None: the stage defaults; an int: iterations of each patches/residues/atoms stage
polish_steps = 1000          # L-BFGS iterations of the final polish against map and geometry (0: no polish)
n_orientations = 96          # cached map projections
device = "auto"              # "auto", "cpu" or "cuda"
seed = 0
threads = None               # torch CPU threads (None: torch's default)
resume = False               # True: continue from this run folder's checkpoints
sigma_level = 1.5            # isosurface level of the 3D view, in map standard deviations
show_3d = True               # build the nglview widget (it draws only in a live browser)
run_dir = None               # papermill sets it; None: papermill_runs/05_single_refinement/interactive (cryonb.notebook_runs.interactive_run_dir)

# %%
import shutil
from dataclasses import replace
import matplotlib.pyplot as plt
import cryonb
from cryonb import data, density, io, plots, runs, viz
from cryonb.notebook_runs import interactive_run_dir
from cryonb.data.refinement_cases import adk_domain_motion
from cryonb.refinement import RefineConfig, figures
from cryonb.refinement.stages import STAGES, default_stages

run = runs.run_folder(run_dir or interactive_run_dir("05_single_refinement"))
bundled = model == "adk_open_on_core"
example = adk_domain_motion(resolution, snr=snr, seed=seed) if bundled or not map_path else None
start = example.model if bundled else data.load_model(model)
m = io.read_map(map_path) if map_path else example.map
truth = io.read_model(reference) if reference else (example.reference if not map_path else None)

stage_names = None if stages == "auto" else tuple(s.strip() for s in stages.split(",") if s.strip())
if stage_names is not None and set(stage_names) - set(STAGES):
    raise ValueError(f"unknown stages {sorted(set(stage_names) - set(STAGES))}; stages are {STAGES}")
scaled = {}
if iterations:   # same iterations for every decoder stage; rounds no longer than the stage
    scaled = {k: replace(c, iterations=int(iterations), round_length=min(c.round_length, int(iterations)))
              for k, c in default_stages(resolution).items() if k in STAGES}
config = RefineConfig(stages=stage_names, polish_steps=polish_steps, n_orientations=n_orientations,
                      device=device, seed=seed, threads=threads, **scaled)
runs.write_parameters(run, {"model": model, "map_path": map_path or f"bundled: adk_domain_motion({resolution}, snr={snr})",
                             "resolution": resolution, "iterations": iterations,
                             "reference": reference or ("1AKE (bundled)" if truth is not None else None)})

print(f"model: {start.name or model}: {start[0].count_atom_sites()} atoms in {sum(len(ch) for ch in start[0])} residues")
print(f"map:   {map_path or 'bundled example'}: box {m.shape[::-1]} voxels (x, y, z) of {m.voxel_size[0]:.2f} Å, "
      f"resolution {resolution} Å")
if truth is not None:
    print(f"start C-alpha RMSD to the reference: {figures.calpha_rmsd(start, truth):.2f} Å")
print(f"run folder: {run}")

# %% [markdown]
# ## Refine
# `cryonb.refine` runs the steps in order (`patches_coarse`, `patches`, `residues`, [`rotamers`],
# `atoms`, `polish`), checkpointing each in the run folder, then validates the input and the result
# against the map. On two CPU threads the default AdK run takes a few minutes.

# %%
checkpoints = run / "checkpoints"
if not resume and checkpoints.exists():
    shutil.rmtree(checkpoints)   # a fresh run replaces this run folder's outputs, checkpoints included
result = cryonb.refine(start, m, resolution, config, out_dir=run, resume=resume, progress=True)
print(f"refined in {result.seconds:.0f} s")

# %% [markdown]
# ## Step by step
# Time per step, L-BFGS rounds, the automatically balanced geometry weight, how far the C-alpha
# atoms moved in the step (RMS) and, where the true model is known, the C-alpha RMSD to it.

# %%
rows = figures.step_rows(result, start, truth)
print(figures.format_steps(rows))
print()
print("\n".join(result.notes))

# %% [markdown]
# ## Loss curves
# Per step, after every round of L-BFGS: the map score (1 − FRC, blue) and the geometry loss, its
# terms summed with their weights (red). The map score is measured up to the current FRC limit; where
# the limit rises during a step (panel titles), finer rings with lower correlation join the mean and
# the score goes up although the fit improves. In `polish` the Ramachandran/rotamer prior weights
# ramp up over the first half of the rounds, so its total rises there, then settles.

# %%
fig = figures.plot_loss_curves(result.steps)
plots.save_figure(fig, run / "loss_curves")
plt.show()

# %% [markdown]
# ## Model-map FSC before and after
# The FSC between the map and a map computed from the model (unmasked, the curve `validate_model`
# reports); the dotted line marks the map's resolution.

# %%
fsc_input = density.model_map_fsc(start, m)
fsc_refined = density.model_map_fsc(result.structure, m)
fig = figures.plot_fsc_before_after(fsc_input, fsc_refined, resolution, title="model vs map (legend: FSC = 0.5 resolution)")
plots.save_figure(fig, run / "fsc")
plt.show()

# %% [markdown]
# ## Where the model moved
# Per residue, how far each C-alpha atom moved from the input to the refined model; with a known
# true model, the C-alpha error against it before and after.

# %%
fig = figures.plot_calpha_shifts(start, result.structure, truth)
plots.save_figure(fig, run / "calpha_shifts")
plt.show()

# %% [markdown]
# ## Validation before and after
# MolProbity-definition geometry and the fit to the map (see `cryonb validate`): the model-map FSC
# averaged to the resolution, FSC = 0.5 resolution, CC_mask and Q-score.

# %%
extra = {}
if truth is not None:
    extra["C-alpha RMSD to reference (Å)"] = (figures.calpha_rmsd(start, truth),
                                              figures.calpha_rmsd(result.structure, truth))
table = figures.format_table(figures.compare(result.before, result.after, extra), ["metric", "input", "refined"])
print(table)

# %% [markdown]
# ## Look at it in 3D
# The input (grey) and the refined model (orange) as cartoons inside the map, drawn as a wireframe
# isosurface at `sigma_level` standard deviations. Drag to rotate, scroll to zoom.

# %%
view = None
if show_3d:
    view = viz.show_models(start, result.structure, colors=["#9a9a9a", "#e8710a"])
    viz.add_map(view, m, sigma=sigma_level)
view

# %% [markdown]
# ## Outputs
# The refined model (`refined.cif`, `refined.pdb`), the run record that `cryonb.refine` wrote
# (`config.json`: settings, versions and these parameters; `status.json`; `metrics.json`: every
# headline metric of the refined model as `<key>` and of the input as `<key>_input`, with `harm`
# naming whatever the refinement made worse than the input; `steps.json`: what each step did and the
# notes; `cryonb.runs.load_run(run)` reads it back, as for `cryonb refine`), the figures (PNG and SVG)
# and `summary.txt`, the table below, which `make demo` prints.

# %%
io.write_model(result.structure, run / "refined.cif")
io.write_model(result.structure, run / "refined.pdb")
if truth is not None:
    before, after = extra["C-alpha RMSD to reference (Å)"]
    runs.update_metrics(run, {"ca_rmsd_reference": after, "ca_rmsd_reference_input": before})
for finding in result.harm:
    print(f"WARNING: worse than the input: {finding}")
summary = (f"{start.name or model} refined into {map_path or 'the bundled example map'} at {resolution} Å "
           f"in {result.seconds:.0f} s ({', '.join(s.name for s in result.steps)})\n{table}\n")
(run / "summary.txt").write_text(summary)
print(summary)
