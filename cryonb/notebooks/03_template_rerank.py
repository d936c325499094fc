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
# # 03 · Template rerank: templates ranked by the C-alphas a network finds in the map, and C-alpha traces
#
# The second stage of CR-I-TASSER (Zhang et al., "Deep learning-based template selection and
# regeneration"). A sequence search ranks templates by sequence alone; the map knows more. Here:
#
# * **C-alphas** are predicted in the map by the 3D residual network of notebook 02 (no sequence
#   order, no chain: just positions, L or more of them).
# * **Rerank**: every chain of a folder of templates is aligned to the query sequence (parasail,
#   BLOSUM62; identity and a shuffled-sequence z-score: the *sequence ranking*), its aligned
#   C-alphas are placed on the predicted ones by the seed's fingerprint matching (20 sorted
#   neighbour distances per C-alpha, weighted pairing, Kabsch, re-pairing under 10 Å) and scored
#   by **CRscore** against them (the *rerank*), and by the **density correlation** of the placed
#   C-alphas with the map.
# * **Traces**: the predicted C-alphas linked under 18 cutoffs (3.8-5.5 Å, kept by vote), joined,
#   turned N->C by the density at pseudo C-betas and threaded with the sequence: the seed's
#   regenerated templates.
#
# The example: the map of AdK closed (1AKE) made as an experimental map looks (B-factors, a
# global blur, a low-pass and coloured noise calibrated to the resolution), its sequence, and a
# pool of AdK open (4AKE: the same protein, a 7 Å hinge motion away) and ~55 unrelated real
# chains. Set `map`, `resolution`, `sequence` and `templates` to your own (an AlphaFold model is
# one more template). The same run from the shell: `cryonb rerank` and `cryonb trace`
# (docs/templates.md).

# %% tags=["parameters"]
map = None                   # MRC/CCP4 file; None: the example (AdK closed, simulated as an experimental map)
resolution = 4.0             # Å
sequence = None              # FASTA file (one chain); None: the example's (AdK)
templates = "example"        # folder of PDB/mmCIF templates; "example": AdK open + corpus chains
example_templates = None     # "example": how many corpus chains (None: all)
target = "adk_closed"        # the true model, when known (example name or file): TM-scores; None: unknown
ca = None                    # C-alphas from `cryonb predict-ca` (file) instead of running the network
top = 10                     # placed templates written and shown
shuffles = 100               # shuffled sequences per template for the z-score
threads = None               # torch CPU threads (None: torch's default)
show_3d = True               # build the nglview widgets (they draw only in a live browser)
seed = 0
run_dir = None               # papermill sets it; None: papermill_runs/03_template_rerank/interactive (notebook_runs.interactive_run_dir)

# %%
import numpy as np
import torch
from cryonb import runs, viz
from cryonb.cnn.predict import calphas_or_predicted
from cryonb.data.examples import example_template_folder, load_model, map_and_query
from cryonb.io import calpha, read_model
from cryonb.notebook_runs import interactive_run_dir
from cryonb.templates import align, read_pool
from cryonb.templates.figures import plot_rerank, top_tm
from cryonb.templates.rerank import ranking_text
from cryonb.templates.pipeline import RerankConfig, rerank_map
from cryonb.templates.tmscore import template_tm_score
from cryonb.trace.pipeline import trace_map, trace_rows

run = runs.run_folder(run_dir or interactive_run_dir("03_template_rerank"))
if threads:
    torch.set_num_threads(threads)
truth = load_model(target) if target else None
m, map_label, query = map_and_query(map, resolution, sequence, seed)
folder = run / "templates" if templates == "example" else templates
if templates == "example":
    example_template_folder(folder, example_templates)
pool = read_pool(folder)
runs.write_parameters(run, {"map": map_label, "resolution": resolution, "sequence": query.name, "templates": str(folder),
                            "target": target, "ca": ca})
runs.begin_run(run, "template_rerank", {"top": top, "shuffles": shuffles}, seed=seed, threads=threads,
               inputs={"map": map_label, "resolution": resolution, "length": len(query), "templates": len(pool.templates)})
print(f"query {query.name}: {len(query)} residues; {len(pool.templates)} template chains in {folder}")
print(f"run folder: {run}")

# %% [markdown]
# ## C-alphas in the map
# The network's C-alpha probability, picked greedily 3.3 Å apart: at least L atoms (the query
# length), more while the next peak is above 0.9. Coloured by probability (blue low, red high);
# the true chain, when known, as a grey trace.

# %%
given = None if ca is None else calpha(read_model(ca))[1]
xyz, probability = calphas_or_predicted(m, len(query), given)
print(f"{len(xyz)} C-alphas for {len(query)} residues")
if truth is not None:
    from cryonb.cnn import ca_score
    score = ca_score(xyz, calpha(truth)[1])
    print(f"against the true C-alphas: CRscore {score.crscore:.3f}")
if show_3d:
    from cryonb.cnn import calpha_chain
    predicted_view = viz.show_predicted_calpha(calpha_chain(xyz, np.nan_to_num(probability)), m,
                                               true=truth)
predicted_view if show_3d else None

# %% [markdown]
# ## Rerank
# The same templates in three orders: by the sequence z-score (what a threading search gives),
# by CRscore against the predicted C-alphas (the seed's reselection), and by density correlation.
# With the target known, each template's TM-score is that of its alignment model (its C-alphas on
# the query residues they align to).

# %%
config = RerankConfig(shuffles=shuffles, top=top, seed=seed)
ranking = rerank_map(m, resolution, query, pool, run / "rerank", xyz, probability, config)
tm = None
if truth is not None:
    truth_xyz = calpha(truth)[1]
    by_key = {(t.name, t.chain): t for t in pool.templates}
    tm = {}
    for key, t in by_key.items():
        a = align(query.residues, t.sequence, shuffles=0)
        tm[key] = template_tm_score(t.xyz, a.template_index, a.query_index, truth_xyz) if a.n_aligned >= 3 else 0.0
print("before: the sequence ranking\n" + ranking_text(ranking.table, "rank_sequence", 10, tm))
print("\nafter: the rerank by CRscore\n" + ranking_text(ranking.table, "rank", 10, tm))

# %%
fig = plot_rerank(ranking.table, tm)
fig.savefig(run / "rerank.png", dpi=120)

# %% [markdown]
# The best templates placed on the map (cartoons, in rank order: blue, orange, green) over the
# predicted C-alphas.

# %%
placed = [read_model(run / "rerank" / r["placed"]) for r in ranking.table[:3] if r.get("placed")]
if show_3d:
    placed_view = viz.show_model_in_map(placed[0], m, representation="cartoon", color=viz.PALETTE[0])
    viz.add_models(placed_view, *placed[1:], colors=viz.PALETTE[1:])
placed_view if show_3d else None

# %% [markdown]
# ## C-alpha traces
# The predicted C-alphas linked into traces and threaded with the sequence (gapless). Residue
# numbers give the register; docs/templates.md says how far to trust it (the register is right
# only where the C-alphas are accurate).

# %%
traces = trace_map(m, resolution, query, run / "trace", xyz, probability)
rows = trace_rows(traces)
for r in rows[:12]:
    where = f"residues {r['first_residue']}-{r['last_residue']}" if r["threaded"] else "not threaded"
    print(f"trace {r['chain']}: {r['atoms']:3d} atoms, {where}")
if show_3d:
    trace_view = viz.show_models(read_model(run / "trace" / "traces.cif"), representation="backbone")
    viz.add_map(trace_view, m)
trace_view if show_3d else None

# %%
top_row = ranking.table[0]
metrics = {"templates": len(ranking.table), "calphas": len(xyz), "top_template": f"{top_row['template']}:{top_row['chain']}",
           "top_crscore": top_row["crscore"], "traces": len(rows), "longest_trace": max((r["atoms"] for r in rows), default=0)}
if tm:
    metrics.update({f"tm_top{k}_{name}": top_tm(ranking.table, tm, key, k)
                    for k in (1, 10) for name, key in (("sequence", "rank_sequence"), ("rerank", "rank"))})
    print(f"TM-score of the top template: sequence ranking {metrics['tm_top1_sequence']:.3f}, "
          f"rerank {metrics['tm_top1_rerank']:.3f}")
runs.finish_run(run, metrics)
