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
# # 04 · Assembly: replica-exchange Monte Carlo of C-alpha chains in the map, SPICKER clusters, eTM-score
#
# The third stage of CR-I-TASSER (Zhang et al., "Density map-guided structural assembly
# simulations" and "Final model selection and model quality estimation"):
#
# * **Starts**: the placed templates of notebook 03 with CRscore above 0.5 (the seed's "good"
#   templates; the 5 best when none is) and the threaded C-alpha traces, each made a whole chain.
# * **Replica exchange**: 40 replicas (the seed's number) at geometric temperatures make crankshaft,
#   end and segment-shift moves (a long crankshaft turns a whole domain between two hinges) under a
#   C-alpha potential fitted on the structure corpus (bonds, virtual angles and dihedrals, contacts,
#   clashes), distance wells from the templates, and the map smoothed to the resolution (the seed's
#   E_EM, exactly separable: each move costs only the atoms it moves).
# * **Clusters**: SPICKER on the decoys of the 8 coldest replicas; each cluster's mean, relaxed, is a
#   model, scored without the answer by the seed's **eTM-score**, and per residue by **local PCC**
#   and **local confidence**.
#
# The example: AdK closed (1AKE) simulated as an experimental 4 Å map, its sequence, and notebook
# 03's pool (AdK open, a 7 Å hinge motion away, and unrelated corpus chains). Set `map`,
# `resolution`, `sequence` and `templates` to your own, or `rerank` to a `cryonb rerank` run folder.
# The same run from the shell: `cryonb assemble` (docs/assembly.md). The models are C-alpha
# chains; full atoms and refinement come next (notebook 05 refines a full-atom model).

# %% tags=["parameters"]
map = None                   # MRC/CCP4 file; None: the example (AdK closed, simulated as an experimental map)
resolution = 4.0             # Å
sequence = None              # FASTA file (one chain); None: the example's (AdK)
templates = "example"        # folder of PDB/mmCIF templates; "example": AdK open + corpus chains
example_templates = 20       # "example": how many corpus chains (None: all)
rerank = None                # a `cryonb rerank` run folder to start from (skips the rerank and trace here)
traces = None                # with `rerank`: a `cryonb trace` traces.cif (optional)
target = "adk_closed"        # the true model, when known (example name or file): TM-scores; None: unknown
replicas = 40                # the seed's 40
steps = 20000                # Monte Carlo steps per replica
shuffles = 100               # shuffled sequences per template for the z-score
geometry_steps = 200         # geometry-only refinement of each full-atom model (iterations)
threads = None               # torch CPU threads (None: torch's default)
show_3d = True               # build the nglview widgets (they draw only in a live browser)
seed = 0
run_dir = None               # papermill sets it; None: papermill_runs/04_assembly/interactive (notebook_runs.interactive_run_dir)

# %%
import numpy as np
import torch
from cryonb import runs, viz
from cryonb.assembly.anchors import template_anchors
from cryonb.assembly.figures import plot_local_confidence, plot_remc, read_remc
from cryonb.assembly.pipeline import AssemblyConfig, assemble_map
from cryonb.assembly.remc import RemcConfig
from cryonb.data.examples import example_template_folder, load_model, map_and_query
from cryonb.io import calpha, read_model
from cryonb.notebook_runs import interactive_run_dir
from cryonb.superpose import superpose
from cryonb.tables import read_table
from cryonb.templates import read_pool
from cryonb.templates.pipeline import RerankConfig, rerank_map
from cryonb.templates.tmscore import tm_score
from cryonb.trace.pipeline import trace_map

run = runs.run_folder(run_dir or interactive_run_dir("04_assembly"))
if threads:
    torch.set_num_threads(threads)
truth = load_model(target) if target else None
m, map_label, query = map_and_query(map, resolution, sequence, seed)
runs.write_parameters(run, {"map": map_label, "resolution": resolution, "sequence": query.name, "templates": str(templates),
                            "rerank": rerank, "target": target})
runs.begin_run(run, "assembly", {"replicas": replicas, "steps": steps, "geometry_steps": geometry_steps}, seed=seed, threads=threads,
               inputs={"map": map_label, "resolution": resolution, "length": len(query)})
print(f"query {query.name}: {len(query)} residues; run folder: {run}")

# %% [markdown]
# ## Templates and traces
# Without a `rerank` folder, notebook 03's two steps run here: the network's C-alphas, the
# templates reranked by CRscore and placed, and the traces threaded with the sequence.

# %%
if rerank is None:
    folder = run / "templates" if templates == "example" else templates
    if templates == "example":
        example_template_folder(folder, example_templates)
    ranking = rerank_map(m, resolution, query, read_pool(folder), run / "rerank", config=RerankConfig(shuffles=shuffles, seed=seed))
    predicted = calpha(read_model(run / "rerank" / "predicted_ca.cif"))[1]
    trace_map(m, resolution, query, run / "trace", predicted)
    rerank, traces = run / "rerank", run / "trace" / "traces.cif"
table = read_table(f"{rerank}/ranking.csv")
for r in table[:5]:
    print(f"rank {r['rank']}: {r['template']}:{r['chain']}  identity {float(r['identity']):.2f}  CRscore {float(r['crscore']):.3f}")

# %% [markdown]
# ## Replica exchange
# Energy per temperature (the coldest should settle lowest), move acceptance per replica (high
# where hot) and the exchange rate between neighbours (too low: the temperatures are too far
# apart). The run checkpoints: run this cell again and it resumes.

# %%
config = AssemblyConfig(replicas=replicas, remc=RemcConfig(steps=steps, seed=seed), seed=seed,
                        geometry_steps=geometry_steps)
rows = assemble_map(m, resolution, query, rerank, run / "assembly", traces, config, progress=True)
remc = read_remc(run / "assembly")
fig = plot_remc(remc)
fig.savefig(run / "remc.png", dpi=120)

# %% [markdown]
# ## Models
# One model per SPICKER cluster, largest first. eTM-score = 0.18 + 0.82 max(C_m, ...) estimates
# the TM-score without the answer (the seed: r = 0.86 against the truth); with the target known,
# the true TM-score stands beside it.

# %%
models = [read_model(run / "assembly" / f"model_{r['model']}.cif") for r in rows]
truth_xyz = calpha(truth)[1] if truth is not None else None
print(f"{'model':>5} {'cluster':>7} {'eTM':>6} {'CRscore':>8} {'local PCC':>9}" + ("  TM (true)" if truth is not None else ""))
for r, st in zip(rows, models):
    true_tm = f"  {tm_score(calpha(st)[1], truth_xyz):.3f}" if truth is not None else ""
    print(f"{r['model']:>5} {r['cluster_size']:>7} {r['etm']:6.3f} {r['crscore']:8.3f} {r['local_pcc']:9.3f}{true_tm}")

# %% [markdown]
# Local confidence of model 1 per residue (the seed's equations 12-13: local PCC weighted by how
# much the models agree there); low where the model is least sure. With the target known, the
# C-alpha error of model 1 after superposition, drawn downward.

# %%
local = read_table(run / "assembly" / "local.csv")
first = [r for r in local if r["model"] == "1"]
lc = np.array([float(r["local_confidence"]) for r in first])
lp = np.array([float(r["local_pcc"]) if r["local_pcc"] != "" else np.nan for r in first])
error = None
if truth is not None:
    x1 = calpha(models[0])[1]
    error = np.linalg.norm(superpose(x1, truth_xyz) - truth_xyz, axis=1)
fig = plot_local_confidence(lc, lp, error)
fig.savefig(run / "local_confidence.png", dpi=120)

# %% [markdown]
# The models in the map (model 1 blue, then orange, green), as C-alpha traces.

# %%
if show_3d:
    model_view = viz.show_models(*models[:3], representation="backbone")
    viz.add_map(model_view, m)
model_view if show_3d else None

# %%
metrics = {"models": len(rows), "etm_1": rows[0]["etm"], "crscore_1": rows[0]["crscore"], "cluster_1": rows[0]["cluster_size"]}
if truth is not None:
    template = template_anchors(rerank, query.residues, top=1)[0]
    on = template.present
    metrics["tm_template"] = tm_score(template.xyz[on], truth_xyz[on], length=len(truth_xyz))
    metrics["tm_1"] = tm_score(calpha(models[0])[1], truth_xyz)
    print(f"TM-score: the top template {metrics['tm_template']:.3f}, model 1 {metrics['tm_1']:.3f} (eTM {rows[0]['etm']:.3f})")
runs.finish_run(run, metrics)
