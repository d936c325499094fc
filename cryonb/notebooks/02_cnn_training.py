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
# # 02 · CNN training: a 3D residual network that finds C-alpha atoms in density maps
#
# The first stage of CR-I-TASSER (Zhang et al.): a **3D residual convolutional network** labels every
# voxel of a map as C-alpha or not, and greedy peak picking on its probability map gives the
# C-alpha atoms that later rerank templates and seed C-alpha traces.
#
# * **Training data**: maps simulated from 50 single-chain X-ray structures and AdK, each in a random
#   orientation, at a resolution drawn per map (2–10 Å), with white noise (SNR 0.5–20), on a fixed
#   voxel size (1.5 Å); the label marks voxels within 1.6 Å of a C-alpha. The split is by whole
#   structure: AdK (open and closed) and five corpus chains are **never** used for training or
#   validation.
# * **Network** (the seed's): convolution → instance norm → ReLU to 32 channels, 10 residual blocks,
#   a final convolution to 2 classes; cross-entropy with class weights 1 : 50, Adam at 5e-4,
#   dropout 0.2, batch 1. It is fully convolutional; whole maps are predicted in overlapping
#   windows.
# * **Peaks to atoms**: highest probability first with a 3.3 Å exclusion, at least L atoms (the
#   sequence length), up to 1.2 L while the next peak is above 0.9. The seed's **CRscore** (greedy
#   pairing, d0 of the TM-score) scores them against the true C-alpha atoms, beside recall and
#   precision at 3 Å. The **naive baseline** runs the same picking on the density itself.
#
# This notebook trains a network (`full=False`: a few minutes, to see it learn; `full=True`: the
# settings of the shipped network, 2 hours on two CPU threads), plots its curves, and scores it and
# the shipped network on the held-out structures at every resolution, like the seed's
# Supplementary Fig. 1. Use the shipped network on your own map with
# `cryonb predict-ca --map X --resolution R --length L --out ca.pdb`.

# %% tags=["parameters"]
full = False                 # True: the shipped network's settings (epochs of 200 steps for time_limit seconds;
                             #   patch, width, blocks and voxel_size at their defaults)
epochs = 4                   # full=False: epochs of steps_per_epoch training steps
steps_per_epoch = 50
patch = 48                   # training patch edge (voxels)
width = 32                   # channels
blocks = 10                  # residual blocks
voxel_size = 1.5             # Å, the network's grid
time_limit = None            # seconds of training (full=True: 7000)
threads = None               # torch CPU threads (None: torch's default)
resume = False               # continue this run folder's training
ship = False                 # copy the trained weights into the package (cryonb/data/cnn/weights.pt)
compare_shipped = True       # also score the shipped network and show its training curves
structures = None            # names to score (None: the split's held-out test structures)
resolutions = [2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]   # Å, maps to score at
orientations = 1             # random orientations per structure and resolution
snr = None                   # noise of the scoring maps (None: noise-free)
view_structure = "adk_closed"
view_resolution = 5.0
show_3d = True               # build the nglview widget (it draws only in a live browser)
experimental = False         # train on experimental-looking maps (cryonb.cnn.experimental) instead of clean ones
seed = 0
run_dir = None               # papermill sets it; None: papermill_runs/02_cnn_training/interactive (cryonb.notebook_runs.interactive_run_dir)

# %%
import numpy as np
import matplotlib.pyplot as plt
from cryonb import plots, runs, viz
from cryonb.notebook_runs import interactive_run_dir
from cryonb.torch_utils import resolve_device
from cryonb.cnn import (DEFAULT_WEIGHTS, DataConfig, NetworkConfig, TrainConfig, ca_score, ca_structure,
                        calpha_chain, load_weights, pick_atoms, predict_probability, ship_weights,
                        shipped_config, shipped_data, split_structures, structure_names, train_network)
from cryonb.cnn import figures
from cryonb.cnn.dataset import load_structure, make_sample
from cryonb.refinement import figures as single

run = runs.run_folder(run_dir or interactive_run_dir("02_cnn_training"))
split = split_structures(structure_names())
if full:   # the shipped network's settings
    network, data, training = NetworkConfig(), shipped_data(), shipped_config(threads, time_limit or 7000, seed)
else:
    network, data = NetworkConfig(width=width, blocks=blocks), DataConfig(voxel_size=voxel_size)
    training = TrainConfig(epochs=epochs, steps_per_epoch=steps_per_epoch, patch=patch, seed=seed,
                           threads=threads, time_limit=time_limit)
shipped = load_weights() if compare_shipped and DEFAULT_WEIGHTS.is_file() else None
names = structures or split.test
runs.write_parameters(run, {"full": full, "experimental": experimental, "scored": names, "resolutions": resolutions, "orientations": orientations,
                            "snr": snr})
runs.begin_run(run, "cnn_training", {"network": network.as_dict(), "data": data.as_dict(),
                                     "training": training},
               inputs={"split": split.as_dict()}, seed=training.seed, threads=training.threads,
               device=str(resolve_device(training.device)))
print(f"train {len(split.train)} structures, validate on {len(split.val)}, test {len(split.test)}: {split.test}")
print(f"run folder: {run}")

# %% [markdown]
# ## Maps that look experimental
# Real maps are not clean sums of atoms. `experimental=True` trains on maps made the way
# reconstructions look (`cryonb.cnn.experimental`): B-factors that blur some regions more than
# others, noise whose signal-to-noise falls to about 1/3 at the resolution, sharpening and
# filters, neighbouring chains (labelled), RNA, ligands and detergent (unlabelled), a smeared
# segment whose labels are ignored (grey), masks and other voxel sizes. The shipped second network
# (`tools/train_ca_network.py --experimental`) was fine-tuned on such maps and on a real map with
# its deposited model; `cryonb predict-ca` then runs both networks and reports how far they agree.

# %%
from cryonb.cnn.experimental import RealismConfig, experimental_sample
example = load_structure(view_structure)
clean = make_sample(example, DataConfig(voxel_size=voxel_size), np.random.default_rng(seed), view_structure,
                    resolution=view_resolution)
rough = experimental_sample(example, [load_structure(n) for n in split.train[:3]], DataConfig(voxel_size=voxel_size),
                            RealismConfig(p_neighbour=1.0, p_disordered=1.0), np.random.default_rng(seed),
                            view_structure, resolution=view_resolution)
fig = figures.plot_training_maps({"clean simulated": clean, "experimental-looking": rough})
plots.save_figure(fig, run / "training_maps")
plt.show()

# %% [markdown]
# ## Train
# Every step simulates a fresh map of a random training structure and trains on one patch of it;
# every epoch ends with a validation pass over whole maps of the validation structures at 3, 5 and
# 8 Å and a checkpoint in the run folder (`resume=True` continues). The kept weights are those of the
# epoch with the best mean validation CRscore.

# %%
if not resume and (run / "checkpoint.pt").exists():
    (run / "checkpoint.pt").unlink()   # a fresh run replaces this run folder's training
result = train_network(split, run, network, data, training, resume=resume, progress=True,
                       realism=RealismConfig() if experimental else None)
record = result.record
print(f"{record['epochs']} epochs in {record['seconds']:.0f} s on {record['device']} "
      f"({record['threads']} threads); best epoch {record['best_epoch']}; {record['n_parameters']:,} parameters")
if ship:
    print(f"shipped to {ship_weights(run / 'weights.pt')}")

# %% [markdown]
# ## Training curves
# Loss of the training patches and of the whole validation maps (a), and the validation CRscore at
# each resolution (b). Below, the same for the shipped network, from the record stored with its
# weights.

# %%
fig = figures.plot_history(result.history, "this run")
plots.save_figure(fig, run / "training_curves")
plt.show()
if shipped is not None:
    rec = shipped[1]["record"]
    fig = figures.plot_history(rec["history"], f"shipped network: {rec['epochs']} epochs, "
                               f"{rec['seconds'] / 3600:.2f} h on {rec['device']}")
    plots.save_figure(fig, run / "shipped_training_curves")
    plt.show()

# %% [markdown]
# ## CRscore against resolution (held-out structures)
# Maps of structures the networks never saw, simulated at each resolution; the naive baseline picks
# the same number of atoms (L) from the density itself.

# %%
curves = {"this run": figures.score_by_resolution(result.network, names, resolutions, data, orientations, snr)}
if shipped is not None:
    curves["shipped network"] = figures.score_by_resolution(shipped[0], names, resolutions,
                                                            DataConfig(voxel_size=shipped[1]["voxel_size"]),
                                                            orientations, snr, naive=False)
fig = figures.plot_resolution_curves(curves)
plots.save_figure(fig, run / "crscore_vs_resolution")
plt.show()
table = figures.resolution_table(curves)
print(single.format_table(table, ["network", "resolution (Å)", "CRscore", "recall", "precision", "RMSD (Å)"]))

# %% [markdown]
# ## Predicted C-alpha atoms over the map
# One held-out map: the best network's atoms as spheres coloured by probability (red high), the true
# chain as a grey trace, the map as a wireframe.

# %%
net, voxel = (shipped[0], shipped[1]["voxel_size"]) if shipped is not None else (result.network, voxel_size)
st = load_structure(view_structure)
sample = make_sample(st, DataConfig(voxel_size=voxel, snr_range=None), np.random.default_rng(seed),
                     view_structure, resolution=view_resolution)
atoms = pick_atoms(predict_probability(net, sample.map, voxel), len(sample.ca))
view_score = ca_score(atoms.xyz, sample.ca)
print(f"{view_structure} at {view_resolution} Å: {len(atoms.xyz)} atoms, CRscore {view_score.crscore:.3f}, "
      f"recall {view_score.recall:.3f}, precision {view_score.precision:.3f}")
predicted = ca_structure(atoms)
predicted.write_pdb(str(run / "predicted_ca.pdb"))
view = None
if show_3d:
    true_trace = calpha_chain(sample.ca, residue="ALA")   # a named amino acid, so NGL draws the trace
    view = viz.show_predicted_calpha(predicted, sample.map, true_trace)
view

# %% [markdown]
# ## Outputs
# `weights.pt` (with its training record), `checkpoint.pt`, the run record (`config.json`,
# `status.json`, `metrics.json`: the training summary and the mean CRscore per resolution, flat),
# `scores.json` (every score per resolution, this run and the shipped network, and the naive
# baseline), the figures (PNG and SVG) and `predicted_ca.pdb`.

# %%
scores = {"by_resolution": {label: {f"{r:g}": m for r, m in figures.mean_by_resolution(rows).items()}
                            for label, rows in curves.items()},
          "naive_by_resolution": {f"{r:g}": m for r, m in
                                  figures.mean_by_resolution(curves["this run"], "naive_").items()},
          "view": {"structure": view_structure, "resolution": view_resolution, **view_score.as_dict()}}
runs.write_json(scores, run / "scores.json")
mine = scores["by_resolution"]["this run"]
runs.finish_run(run, {**{k: record[k] for k in ("epochs", "seconds", "best_epoch", "n_parameters")},
                      **{f"final_{k}": v[-1] for k, v in result.history.items()},
                      **{f"crscore_{r}A": m["crscore"] for r, m in mine.items()}})
print(f"wrote {run / 'metrics.json'} and {run / 'scores.json'}")
