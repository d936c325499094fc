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
# # 00 · Quickstart: adenylate kinase in a simulated map
#
# This notebook is the pattern every cryonb notebook follows:
#
# 1. a **parameters** cell (papermill overrides it: `cryonb notebook 00_quickstart -p resolution 6`),
# 2. a **config dataclass** from `cryonb`, written to the run folder,
# 3. every output (maps, figures, the run record: `config.json`, `status.json`, `metrics.json`) in **one run folder** under `papermill_runs/`,
# 4. matplotlib for figures, nglview for an inline 3D look.
#
# We load adenylate kinase (closed state, PDB 1AKE, from the MDAnalysisTests package), simulate a
# cryo-EM map at the chosen resolution with two noisy half maps, and check the map the way one
# checks a real reconstruction: half-map FSC (0.143) and model-map FSC (0.5).

# %% tags=["parameters"]
model = "adk_closed"     # example name (adk_closed, adk_open) or a PDB/mmCIF path
resolution = 4.0         # Å, the simulated map's resolution
voxel_size = 1.0         # Å
method = "electron"      # "electron" (electron form factors) or "gaussian" (one Gaussian per atom)
snr = 1.0                # signal-to-noise ratio (variance) of the full map; half maps have snr/2
seed = 0                 # noise seed
sigma_level = 1.5        # isosurface level for the 3D view, in map standard deviations
show_3d = True           # build the nglview widget (it draws only in a live browser)
run_dir = None           # papermill sets it; None: papermill_runs/00_quickstart/interactive (cryonb.notebook_runs.interactive_run_dir)

# %%
import matplotlib.pyplot as plt
from cryonb import data, density, io, plots, runs, viz
from cryonb.notebook_runs import interactive_run_dir

run = runs.run_folder(run_dir or interactive_run_dir("00_quickstart"))
config = density.SimulationConfig(resolution=resolution, voxel_size=voxel_size, method=method)
runs.write_parameters(run, {"model": model, "resolution": resolution, "voxel_size": voxel_size, "snr": snr})
runs.begin_run(run, "simulate", config.__dict__, inputs={"model": model}, seed=seed)
st = data.load_model(model)
print(f"{model}: {st[0].count_atom_sites()} atoms in {sum(len(ch) for ch in st[0])} residues; run folder {run}")

# %% [markdown]
# ## Simulate the map and two half maps
# The clean map holds no information beyond the requested resolution; white noise at `snr` is added
# independently to each half map, and the full map is their average.

# %%
clean = density.simulate_map(st, config)
half1, half2 = density.half_maps(clean, snr=snr, seed=seed)
full = density.average(half1, half2)
for name, m in [("map_clean", clean), ("half1", half1), ("half2", half2), ("map", full)]:
    io.write_map(m, run / f"{name}.mrc")
print(f"box {full.shape[::-1]} voxels (x, y, z) of {full.voxel_size[0]:.2f} Å, origin {full.origin.round(2)} Å")

# %% [markdown]
# ## FSC: half maps (0.143) and model against map (0.5)

# %%
half_fsc = density.fsc(half1, half2)
model_fsc = density.model_map_fsc(st, full)
fig = plots.plot_fsc({"half maps": half_fsc, "model vs map": model_fsc},
                     threshold_for={"half maps": 0.143, "model vs map": 0.5},
                     title=f"{model}, simulated at {resolution} Å, SNR {snr}")
plots.save_figure(fig, run / "fsc")
metrics = {"requested_resolution": resolution,
           "halfmap_fsc0143_resolution": half_fsc.resolution(0.143),
           "model_map_fsc05_resolution": model_fsc.resolution(0.5),
           "model_map_fsc_average": model_fsc.average(max_resolution=resolution)}
runs.finish_run(run, metrics)
for k, v in metrics.items():
    print(f"{k:32s} {v:.3f}")
plt.show()

# %% [markdown]
# ## Look at it in 3D
# The model as sticks inside the map drawn as a wireframe isosurface at `sigma_level` standard
# deviations. Drag to rotate, scroll to zoom.

# %%
view = viz.show_model_in_map(st, full, sigma=sigma_level) if show_3d else None
view
