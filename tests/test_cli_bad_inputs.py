"""Every command on bad and odd inputs, run as a user would: a subprocess of the real ``cryonb`` CLI.

Each case asserts exit code 2 (argparse's and cryonb's "usage or input error"), a last line on
stderr that names the file or option and the problem, no traceback and no "unexpected" error,
no input file changed, nothing left in the case's output folder, and an end within 60 s. A few
"warned" cases (exit 0) check that a documented odd input runs with its warning and leaves its
inputs unchanged. Cases run two at a time (a CLI start is about a second); their files are made by
tests/hostile_files.py; each case's time goes to tests/_output/cli_bad_inputs.json.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile_files import make_inputs

LIMIT_S = 60.0
S = "simulate {in}/good.pdb --resolution 6 --voxel-size 2 -o {out}/m.mrc"
FSC = "fsc {in}/good.mrc {in}/good.mrc --json {out}/f.json"
V = "validate {in}/good.pdb --json {out}/v.json"
G = "refine-geometry {in}/good.pdb -o {out}/o.cif --steps 5"
R = "refine --model {in}/good.pdb --map {in}/good.mrc --resolution 6 --out {out}/run"
SE = "series --maps {in}/good.mrc {in}/good.mrc --latent {in}/z2.npy --model {in}/good.pdb --resolution 6 --out {out}/run"
P = "predict-ca --map {in}/good.mrc --resolution 6 --length 214 --out {out}/ca.pdb"
PL = "place --model {in}/good.pdb --map {in}/good.mrc --resolution 6 --out {out}/p.cif"
RR = "rerank --map {in}/good.mrc --resolution 6 --sequence {in}/good.fasta --templates {in}/pool --out {out}/rr"
TR = "trace --map {in}/good.mrc --resolution 6 --sequence {in}/good.fasta --out {out}/tr"
BU = "build --map {in}/good.mrc --resolution 6 --sequence {in}/good.fasta --templates {in}/pool --out {out}/bu"
AS = "assemble --map {in}/good.mrc --resolution 6 --sequence {in}/good.fasta --rerank {in}/good_rerank --out {out}/as"
BAD_FASTA = [("no_such.fasta", "no such sequence file"), ("empty.fasta", "empty FASTA"), ("two.fasta", "2 sequences"),
             ("dna.fasta", "nucleotide"), ("bad_letter.fasta", "line 2, column 31"), ("short.fasta", "at least 10"),
             ("header_only.fasta", "no residues"), ("binary.fasta", "FASTA text"), ("folder.mrc", "is not a file")]

BAD_MODELS = [  # file, what the message must say
    ("no_such.pdb", "does not exist"), ("garbage.pdb", "no atoms"), ("empty.pdb", "empty"),
    ("header_only.pdb", "no atoms"), ("binary.pdb", "no atoms"), ("damaged_coords.pdb", "line 41"),
    ("nan_coords.pdb", "non-finite"), ("broken.cif", "not a readable"), ("short_lines.pdb", "line 1"),
    ("model.xyz", "unknown model format"), ("fake.pdb.gz", "gzip"), ("fake.cif.bz2", "bzip2"),
    ("cut.pdb.gz", "truncated"), ("folder.pdb", "is a directory"), ("huge.cif", "spans"),
]
BAD_MAPS = [
    ("no_such.mrc", "does not exist"), ("truncated.mrc", "truncated"), ("header_only.mrc", "truncated"),
    ("corrupt.mrc", "corrupt"), ("empty.mrc", "empty"), ("text.mrc", "corrupt"), ("fake.mrc.gz", "not a readable MRC"),
    ("nan.mrc", "NaN"), ("inf.mrc", "infinite"), ("zero_voxel.mrc", "voxel size must be positive"),
    ("negative_voxel.mrc", "voxel size must be positive"), ("nan_cell.mrc", "voxel size"),
    ("huge_cell.mrc", "voxel size"), ("tiny_cell.mrc", "voxel size"), ("far_origin.mrc", "origin"),
    ("nan_origin.mrc", "origin"), ("bad_axes.mrc", "axis order"), ("negative_grid.mrc", "grid"),
    ("huge_grid.mrc", "truncated"), ("huge_extended_header.mrc", "extended header"), ("bad_mode.mrc", "mode"),
    ("flat.mrc", "not a 3-D map"), ("one_voxel.mrc", "not a 3-D map"), ("folder.mrc", "is a directory"),
]
FLAT_MAPS = [("zero.mrc", "one value everywhere"), ("constant.mrc", "one value everywhere")]
NO_KNOWN_RESIDUE = [("waters_only.pdb", "no residue"), ("ions_only.pdb", "no residue"),
                    ("ligand_only.pdb", "no residue"), ("collapsed.pdb", "same place")]


def _models(base: str, slot: str, cases, tag: str) -> list:
    return [(f"{tag}-model-{f}", base.replace(slot, "{in}/" + f, 1), [f, why]) for f, why in cases]


def _maps(base: str, slot: str, cases, tag: str) -> list:
    return [(f"{tag}-map-{f}", base.replace(slot, "{in}/" + f, 1), [f, why]) for f, why in cases]


CASES = [
    # simulate
    *_models(S, "{in}/good.pdb", BAD_MODELS, "simulate"),
    *_maps(S + " --like {in}/good.mrc", "{in}/good.mrc", BAD_MAPS, "simulate-like"),
    ("simulate-far-from-like", S.replace("good.pdb", "far.pdb") + " --like {in}/good.mrc", ["far.pdb", "inside the map box"]),
    ("simulate-resolution-0", S.replace("6", "0", 1), ["--resolution", "> 0"]),
    ("simulate-resolution-negative", S.replace("6", "-5", 1), ["--resolution", "> 0"]),
    ("simulate-resolution-nan", S.replace("6", "nan", 1), ["--resolution", "> 0"]),
    ("simulate-resolution-inf", S.replace("6", "inf", 1), ["--resolution", "> 0"]),
    ("simulate-resolution-text", S.replace("6", "six", 1), ["--resolution", "invalid float"]),
    ("simulate-resolution-500", S.replace("6", "500", 1), ["--resolution", "coarser than half the box"]),
    ("simulate-beyond-nyquist", S.replace("6", "3", 1), ["--resolution", "Nyquist"]),
    ("simulate-voxel-0", S.replace("--voxel-size 2", "--voxel-size 0"), ["--voxel-size", "> 0"]),
    ("simulate-voxel-negative", S.replace("--voxel-size 2", "--voxel-size -1"), ["--voxel-size", "> 0"]),
    ("simulate-voxel-nan", S.replace("--voxel-size 2", "--voxel-size nan"), ["--voxel-size", "> 0"]),
    ("simulate-voxel-tiny", S.replace("6 --voxel-size 2", "0.01 --voxel-size 0.001"), ["--voxel-size", "voxels"]),
    ("simulate-padding-huge", S + " --padding 1e6", ["--padding", "voxels"]),
    ("simulate-padding-negative", S + " --padding -1", ["--padding", ">= 0"]),
    ("simulate-padding-nan", S + " --padding nan", ["--padding", ">= 0"]),
    ("simulate-snr-negative", S + " --snr -1", ["--snr", "> 0"]),
    ("simulate-snr-zero", S + " --snr 0", ["--snr", "> 0"]),
    ("simulate-snr-nan", S + " --snr nan", ["--snr", "> 0"]),
    ("simulate-half-maps-no-snr", S + " --half-maps", ["--half-maps", "--snr"]),
    ("simulate-method-unknown", S + " --method xray", ["--method", "invalid choice"]),
    ("simulate-seed-text", S + " --seed x", ["--seed", "invalid int"]),
    ("simulate-no-resolution", "simulate {in}/good.pdb -o {out}/m.mrc", ["--resolution", "required"]),
    ("simulate-out-pdb", S.replace("m.mrc", "m.pdb"), ["m.pdb", ".mrc"]),
    ("simulate-out-no-suffix", S.replace("m.mrc", "m"), ["{out}/m", "no suffix"]),
    ("simulate-out-folder", S.replace("{out}/m.mrc", "{in}/folder.mrc"), ["folder.mrc", "is a folder"]),
    ("simulate-out-parent-file", S.replace("{out}/m.mrc", "{in}/good.pdb/m.mrc"), ["good.pdb", "is a file"]),
    ("simulate-out-is-like", S.replace("{out}/m.mrc", "{in}/good.mrc") + " --like {in}/good.mrc",
     ["good.mrc", "overwrite"]),
    ("simulate-half-maps-overwrite", "simulate {in}/good.pdb --resolution 6 --like {in}/g_half1.mrc --snr 1 "
     "--half-maps -o {in}/g.mrc", ["g_half1.mrc", "overwrite"]),
    # fsc
    *_maps(FSC, "{in}/good.mrc", BAD_MAPS, "fsc"),
    *_maps(FSC, "{in}/good.mrc", FLAT_MAPS, "fsc"),
    *_models("fsc --model {in}/good.pdb {in}/good.mrc --json {out}/f.json", "{in}/good.pdb",
             BAD_MODELS[:10] + [("far.pdb", "inside the map box")], "fsc"),
    ("fsc-one-map", "fsc {in}/good.mrc --json {out}/f.json", ["two maps", "--model"]),
    ("fsc-three-maps", "fsc {in}/good.mrc {in}/good.mrc {in}/good.mrc", ["three", "two maps"]),
    ("fsc-grids-differ", "fsc {in}/good.mrc {in}/other_grid.mrc", ["other_grid.mrc", "grid"]),
    ("fsc-model-and-two-maps", "fsc --model {in}/good.pdb {in}/good.mrc {in}/good.mrc", ["--model", "one map"]),
    ("fsc-model-on-flat", "fsc --model {in}/good.pdb {in}/constant.mrc", ["constant.mrc", "one value everywhere"]),
    ("fsc-json-txt", FSC.replace("f.json", "f.txt"), ["f.txt", ".json"]),
    ("fsc-json-folder", FSC.replace("{out}/f.json", "{in}/folder.mrc"), ["folder.mrc", ".json"]),
    ("fsc-json-parent-file", FSC.replace("{out}/f.json", "{in}/good.pdb/f.json"), ["good.pdb", "is a file"]),
    # validate
    *_models(V, "{in}/good.pdb", BAD_MODELS, "validate"),
    *_models(V, "{in}/good.pdb", NO_KNOWN_RESIDUE, "validate"),
    *_maps(V + " --map {in}/good.mrc --resolution 6", "{in}/good.mrc", BAD_MAPS[:12] + FLAT_MAPS, "validate"),
    ("validate-far-model", V.replace("good.pdb", "far.pdb") + " --map {in}/good.mrc --resolution 6",
     ["good.mrc", "inside the map box"]),
    ("validate-map-no-resolution", V + " --map {in}/good.mrc", ["--resolution", "--map"]),
    ("validate-resolution-0", V + " --map {in}/good.mrc --resolution 0", ["--resolution", "> 0"]),
    ("validate-resolution-nan", V + " --map {in}/good.mrc --resolution nan", ["--resolution", "> 0"]),
    ("validate-resolution-200", V + " --map {in}/good.mrc --resolution 200", ["good.mrc", "coarser than half the box"]),
    ("validate-beyond-nyquist", V + " --map {in}/good.mrc --resolution 1", ["good.mrc", "Nyquist"]),
    ("validate-monomer-library-missing", V + " --monomer-library {in}/no_such_dir", ["no_such_dir", "not found"]),
    ("validate-json-txt", V.replace("v.json", "v.txt"), ["v.txt", ".json"]),
    ("validate-json-folder", V.replace("{out}/v.json", "{in}/folder.mrc"), ["folder.mrc", ".json"]),
    ("validate-json-is-input", V.replace("{out}/v.json", "{in}/good.pdb"), ["good.pdb", "overwrite"]),
    # refine-geometry
    *_models(G, "{in}/good.pdb", BAD_MODELS[:10], "refine-geometry"),
    *_models(G, "{in}/good.pdb", NO_KNOWN_RESIDUE, "refine-geometry"),
    ("refine-geometry-steps-0", G.replace("--steps 5", "--steps 0"), ["--steps", ">= 1"]),
    ("refine-geometry-steps-negative", G.replace("--steps 5", "--steps -5"), ["--steps", ">= 1"]),
    ("refine-geometry-steps-text", G.replace("--steps 5", "--steps many"), ["--steps", "invalid int"]),
    ("refine-geometry-tether-0", G + " --tether 0", ["--tether", "> 0"]),
    ("refine-geometry-tether-nan", G + " --tether nan", ["--tether", "> 0"]),
    ("refine-geometry-tether-inf", G + " --tether inf", ["--tether", "> 0"]),
    ("refine-geometry-out-txt", G.replace("o.cif", "o.txt"), ["o.txt", ".cif"]),
    ("refine-geometry-out-is-input", G.replace("{out}/o.cif", "{in}/good.pdb"), ["good.pdb", "overwrite"]),
    ("refine-geometry-out-folder", G.replace("{out}/o.cif", "{in}/folder.pdb"), ["folder.pdb", "is a folder"]),
    ("refine-geometry-json-txt", G + " --json {out}/g.txt", ["g.txt", ".json"]),
    ("refine-geometry-json-is-input", G + " --json {in}/good.pdb", ["good.pdb", "overwrite"]),
    ("refine-geometry-monomer-library-file", G + " --monomer-library {in}/good.pdb", ["good.pdb", "folder"]),
    # refine
    *_models(R, "{in}/good.pdb", BAD_MODELS[:8], "refine"),
    *_models(R, "{in}/good.pdb", NO_KNOWN_RESIDUE, "refine"),
    *_maps(R, "{in}/good.mrc", BAD_MAPS[:14] + FLAT_MAPS, "refine"),
    ("refine-far-model", R.replace("good.pdb", "far.pdb"), ["inside the map box"]),
    ("refine-no-model", "refine --map {in}/good.mrc --resolution 6 --out {out}/run", ["--model"]),
    ("refine-no-out", "refine --model {in}/good.pdb --map {in}/good.mrc --resolution 6", ["--out"]),
    ("refine-map-no-resolution", R.replace(" --resolution 6", ""), ["--resolution", "--map"]),
    ("refine-resolution-0", R.replace("resolution 6", "resolution 0"), ["--resolution", "> 0"]),
    ("refine-resolution-nan", R.replace("resolution 6", "resolution nan"), ["--resolution", "> 0"]),
    ("refine-resolution-200", R.replace("resolution 6", "resolution 200"), ["good.mrc", "coarser than half the box"]),
    ("refine-beyond-nyquist", R.replace("resolution 6", "resolution 3"), ["good.mrc", "Nyquist"]),
    ("refine-iterations-negative", R + " --iterations -1", ["--iterations", ">= 1"]),
    ("refine-patches-0", R + " --patches 0", ["--patches", ">= 1"]),
    ("refine-patches-too-many", R + " --patches 100000", ["--patches", "residues"]),
    ("refine-stages-unknown", R + " --stages patches,wobble", ["--stages", "wobble"]),
    ("refine-polish-negative", R + " --polish-steps -1", ["--polish-steps", ">= 0"]),
    ("refine-orientations-0", R + " --orientations 0", ["--orientations", ">= 1"]),
    ("refine-threads-0", R + " --threads 0", ["--threads", ">= 1"]),
    ("refine-device-unknown", R + " --device tpu", ["--device", "invalid choice"]),
    ("refine-out-parent-file", R.replace("{out}/run", "{in}/good.pdb/run"), ["good.pdb", "is a file"]),
    ("refine-out-is-file", R.replace("{out}/run", "{in}/a_file_not_a_run"), ["a_file_not_a_run", "is a file"]),
    ("refine-resume-missing", "refine --resume {out}/never", ["never", "no such run folder"]),
    ("refine-resume-file", "refine --resume {in}/a_file_not_a_run", ["a_file_not_a_run", "is a file"]),
    ("refine-resume-damaged-checkpoint", "refine --resume {in}/refine_damaged_checkpoint", ["0_patches_coarse.npz", "damaged"]),
    ("refine-resume-bad-arguments", "refine --resume {in}/refine_bad_arguments", ["arguments.json", "cannot be read"]),
    ("refine-resume-list-arguments", "refine --resume {in}/refine_list_arguments", ["arguments.json", "not a cryonb"]),
    ("refine-resume-changed-input", "refine --resume {in}/refine_changed_input", ["no_longer_here.pdb", "does not exist"]),
    ("refine-resume-series-folder", "refine --resume {in}/series_run", ["series_run", "series run folder"]),
    ("refine-resume-and-other-out", "refine --out {out}/x --resume {in}/refine_bad_arguments", ["--out", "different"]),
    # series
    ("series-one-map", SE.replace(" {in}/good.mrc --latent {in}/z2.npy", ""), ["good.mrc", "at least 2 maps"]),
    *_maps(SE.replace("{in}/good.mrc {in}/good.mrc", "{in}/good.mrc {in}/second.mrc"), "{in}/second.mrc", [("truncated.mrc", "truncated"), ("nan.mrc", "NaN"), ("constant.mrc", "one value"),
                                 ("huge_cell.mrc", "voxel size"), ("other_grid.mrc", "grid"),
                                 ("no_such.mrc", "does not exist")], "series"),
    ("series-maps-empty-folder", SE.replace("{in}/good.mrc {in}/good.mrc", "{in}/folder.mrc"), ["folder.mrc", "no map files"]),
    ("series-latent-count", SE.replace("z2.npy", "z3.npy"), ["z3.npy", "3", "2 maps"]),
    ("series-latent-same", SE.replace("z2.npy", "z_same.npy"), ["z_same.npy", "the same latent"]),
    ("series-latent-nan", SE.replace("z2.npy", "z_nan.npy"), ["z_nan.npy", "NaN"]),
    ("series-latent-text", SE.replace("z2.npy", "z_text.txt"), ["z_text.txt", "line 2"]),
    ("series-latent-pickle", SE.replace("z2.npy", "z_garbage.pkl"), ["z_garbage.pkl", "not a readable"]),
    ("series-latent-npy", SE.replace("z2.npy", "z_garbage.npy"), ["z_garbage.npy", "not a readable"]),
    ("series-latent-missing", SE.replace("z2.npy", "none.npy"), ["none.npy", "does not exist"]),
    ("series-eval-latent-garbage", SE + " --eval-latent {in}/z_garbage.npy", ["z_garbage.npy", "not a readable"]),
    ("series-model-garbage", SE.replace("good.pdb", "garbage.pdb"), ["garbage.pdb", "no atoms"]),
    ("series-model-waters", SE.replace("good.pdb", "waters_only.pdb"), ["waters_only.pdb", "no residue"]),
    ("series-resolution-0", SE.replace("resolution 6", "resolution 0"), ["--resolution", "> 0"]),
    ("series-resolution-200", SE.replace("resolution 6", "resolution 200"), ["coarser than half the box"]),
    ("series-iterations-negative", SE + " --iterations -3", ["--iterations", ">= 1"]),
    ("series-fit-iterations-negative", SE + " --fit-iterations -3", ["--fit-iterations", ">= 0"]),
    ("series-device-cuda-absent", SE + " --device cuda", ["cuda", "no CUDA device"]),
    ("series-out-parent-file", SE.replace("{out}/run", "{in}/good.pdb/run"), ["good.pdb", "is a file"]),
    ("series-resume-missing", "series --resume {out}/never", ["never", "no such run folder"]),
    ("series-resume-refine-folder", "series --resume {in}/refine_damaged_checkpoint",
     ["refine_damaged_checkpoint", "refine run folder"]),
    ("series-resume-damaged-checkpoint", "series --resume {in}/series_damaged_checkpoint", ["start.pt", "damaged"]),
    # predict-ca
    *_maps(P, "{in}/good.mrc", BAD_MAPS[:10] + FLAT_MAPS, "predict-ca"),
    ("predict-ca-length-0", P.replace("214", "0"), ["--length", ">= 1"]),
    ("predict-ca-length-negative", P.replace("214", "-3"), ["--length", ">= 1"]),
    ("predict-ca-length-text", P.replace("214", "many"), ["--length", "invalid int"]),
    ("predict-ca-length-huge", P.replace("214", "100000"), ["--length", "map"]),
    ("predict-ca-resolution-0", P.replace("resolution 6", "resolution 0"), ["--resolution", "> 0"]),
    ("predict-ca-beyond-nyquist", P.replace("resolution 6", "resolution 2"), ["Nyquist"]),
    ("predict-ca-window-0", P + " --window 0", ["--window", ">= 1"]),
    ("predict-ca-overlap-window", P + " --window 16 --overlap 16", ["--overlap", "--window"]),
    ("predict-ca-batch-0", P + " --batch 0", ["--batch", ">= 1"]),
    ("predict-ca-weights-missing", P + " --weights {in}/none.pt", ["none.pt", "does not exist"]),
    ("predict-ca-weights-garbage", P + " --weights {in}/garbage.pdb", ["garbage.pdb", "weights"]),
    ("predict-ca-out-txt", P.replace("ca.pdb", "ca.txt"), ["ca.txt", ".pdb"]),
    ("predict-ca-out-is-map", P.replace("{out}/ca.pdb", "{in}/good.mrc"), ["good.mrc", ".pdb"]),
    ("predict-ca-probability-map-pdb", P + " --probability-map {out}/p.pdb", ["p.pdb", ".mrc"]),
    ("predict-ca-probability-map-is-input", P + " --probability-map {in}/good.mrc", ["good.mrc", "is the input map"]),
    # place
    *_models(PL, "{in}/good.pdb", BAD_MODELS[:6], "place"),
    *_maps(PL, "{in}/good.mrc", BAD_MAPS[:10] + FLAT_MAPS, "place"),
    ("place-resolution-0", PL.replace("6", "0", 1), ["--resolution", "> 0"]),
    ("place-resolution-nan", PL.replace("6", "nan", 1), ["--resolution", "> 0"]),
    ("place-beyond-nyquist", PL.replace("6", "1", 1), ["good.mrc", "Nyquist"]),
    ("place-tiny-box", PL.replace("good.mrc", "tiny_box.mrc"), ["tiny_box.mrc", "coarser than half the box"]),
    ("place-out-is-input", PL.replace("{out}/p.cif", "{in}/good.pdb"), ["good.pdb", "overwrite"]),
    ("place-out-txt", PL.replace("p.cif", "p.txt"), ["p.txt", ".cif"]),
    # rerank and trace
    *[(f"rerank-sequence-{f}", RR.replace("good.fasta", f), [f, why]) for f, why in BAD_FASTA],
    *_maps(RR, "{in}/good.mrc", BAD_MAPS[1:3] + FLAT_MAPS[:1], "rerank"),
    ("rerank-templates-missing", RR.replace("{in}/pool", "{in}/no_pool"), ["no_pool", "no such folder"]),
    ("rerank-templates-file", RR.replace("{in}/pool", "{in}/good.pdb"), ["good.pdb", "is not a folder"]),
    ("rerank-templates-empty", RR.replace("{in}/pool", "{in}/empty_pool"), ["empty_pool", "no PDB/mmCIF"]),
    ("rerank-templates-junk", RR.replace("{in}/pool", "{in}/junk_pool"), ["junk_pool", "no usable template"]),
    ("rerank-out-is-pool", RR.replace("{out}/rr", "{in}/pool"), ["pool", "template folder"]),
    ("rerank-out-is-file", RR.replace("{out}/rr", "{in}/good.pdb"), ["good.pdb", "is a file"]),
    ("rerank-out-is-map", RR.replace("{out}/rr", "{in}/good.mrc"), ["good.mrc", "names an input"]),
    ("rerank-resolution-0", RR.replace("resolution 6", "resolution 0"), ["--resolution", "> 0"]),
    ("rerank-beyond-nyquist", RR.replace("resolution 6", "resolution 1"), ["good.mrc", "Nyquist"]),
    ("rerank-top-negative", RR + " --top -1", ["--top", ">= 0"]),
    ("rerank-ca-garbage", RR + " --ca {in}/garbage.pdb", ["garbage.pdb", "no atoms"]),
    ("rerank-ca-few", RR + " --ca {in}/ca_few.pdb", ["ca_few.pdb", "at least 21"]),
    ("rerank-too-long-for-box", RR.replace("good.mrc", "tiny_box.mrc").replace("resolution 6", "resolution 4"),
     ["tiny_box.mrc"]),
    *[(f"trace-sequence-{f}", TR.replace("good.fasta", f), [f, why]) for f, why in BAD_FASTA[1:3]],
    *_maps(TR, "{in}/good.mrc", BAD_MAPS[:2], "trace"),
    ("trace-ca-garbage", TR + " --ca {in}/garbage.pdb", ["garbage.pdb", "no atoms"]),
    ("trace-out-is-file", TR.replace("{out}/tr", "{in}/good.pdb"), ["good.pdb", "is a file"]),
    ("trace-threads-0", TR + " --threads 0", ["--threads", "> 0"]),
    # assemble
    *[(f"assemble-sequence-{f}", AS.replace("good.fasta", f), [f, why]) for f, why in BAD_FASTA[1:4]],
    *_maps(AS, "{in}/good.mrc", BAD_MAPS[:3] + FLAT_MAPS[:1], "assemble"),
    ("assemble-rerank-not-a-run", AS.replace("{in}/good_rerank", "{in}/pool"), ["pool", "no ranking.csv"]),
    ("assemble-rerank-missing", AS.replace("{in}/good_rerank", "{in}/no_rerank"), ["no_rerank", "no ranking.csv"]),
    ("assemble-placed-missing", AS.replace("good_rerank", "rerank_placed_missing"),
     ["ranking.csv", "01_good_A.cif", "missing"]),
    ("assemble-nothing-placed", AS.replace("good_rerank", "rerank_nothing_placed"),
     ["rerank_nothing_placed", "nothing to assemble"]),
    ("assemble-traces-missing", AS + " --traces {in}/no_such.cif", ["no_such.cif", "does not exist"]),
    ("assemble-traces-garbage", AS + " --traces {in}/garbage.pdb", ["garbage.pdb", "no atoms"]),
    ("assemble-out-is-file", AS.replace("{out}/as", "{in}/good.pdb"), ["good.pdb", "is a file"]),
    ("assemble-out-is-rerank", AS.replace("{out}/as", "{in}/good_rerank"), ["good_rerank", "names an input"]),
    ("assemble-steps-0", AS + " --steps 0", ["--steps", "> 0"]),
    ("assemble-replicas-0", AS + " --replicas 0", ["--replicas", "> 0"]),
    ("assemble-geometry-steps-0", AS + " --geometry-steps 0", ["--geometry-steps", "> 0"]),
    ("assemble-resolution-nan", AS.replace("resolution 6", "resolution nan"), ["--resolution", "> 0"]),
    # build
    *[(f"build-sequence-{f}", BU.replace("good.fasta", f), [f, why]) for f, why in BAD_FASTA[3:5]],
    *_maps(BU, "{in}/good.mrc", BAD_MAPS[3:5], "build"),
    ("build-templates-missing", BU.replace("{in}/pool", "{in}/no_pool"), ["no_pool", "no such folder"]),
    ("build-out-is-pool", BU.replace("{out}/bu", "{in}/pool"), ["pool", "names an input"]),
    ("build-out-is-file", BU.replace("{out}/bu", "{in}/good.pdb"), ["good.pdb", "is a file"]),
    ("build-steps-0", BU + " --steps 0", ["--steps", "> 0"]),
    ("build-too-long-for-box", BU.replace("good.mrc", "tiny_box.mrc").replace("resolution 6", "resolution 4"),
     ["tiny_box.mrc"]),
    # notebook
    ("notebook-unknown", "notebook 99_nothing --runs-root {out}", ["99_nothing", "unknown notebook"]),
    ("notebook-run-escapes", "notebook 00_quickstart --run ../../escape --runs-root {out}", ["--run", "plain folder name"]),
    ("notebook-run-absolute", "notebook 00_quickstart --run /tmp/abs --runs-root {out}", ["--run", "plain folder name"]),
    ("notebook-parameter-file-missing", "notebook 00_quickstart -p model no/such/model.pdb --runs-root {out}",
     ["no/such/model.pdb", "file not found"]),
    ("notebook-parameter-no-value", "notebook 00_quickstart -p model --runs-root {out}", ["-p", "expected 2"]),
    ("notebook-runs-root-file", "notebook 00_quickstart --runs-root {in}/good.pdb", ["good.pdb", "is a file"]),
    ("notebook-parameter-unknown", "notebook 00_quickstart -p wobble 3 --runs-root {out}", ["wobble", "parameter"]),
    ("notebook-name-is-a-path", "notebook ../cryonb/cli --runs-root {out}", ["../cryonb/cli", "unknown notebook"]),
    ("notebook-run-dir-parameter", "notebook 00_quickstart -p run_dir /tmp --runs-root {out}",
     ["run_dir", "not a parameter"]),
    ("notebook-copy-onto-a-file", "notebook 00_quickstart --copy {in}/good.pdb", ["good.pdb", "is a file"]),
    ("notebook-copy-with-parameter", "notebook 00_quickstart --copy {out}/mine -p resolution 6", ["--copy", "-p"]),
]

WARNED = [  # odd but legitimate inputs: exit 0 and the warning or note named here
    ("simulate-two-models", "simulate {in}/two_models.cif --resolution 6 --voxel-size 2 -o {out}/m.mrc",
     ["holds 2 models; only the first model is used"]),
    ("simulate-no-elements", "simulate {in}/no_elements.pdb --resolution 6 --voxel-size 2 -o {out}/m.mrc",
     ["element"]),
    ("validate-one-atom", "validate {in}/one_atom.pdb --json {out}/v.json", []),
    ("refine-geometry-one-atom", "refine-geometry {in}/one_atom.pdb -o {out}/o.cif --steps 5", []),
    ("refine-small-model-default-patches", "refine --model {in}/one_atom.pdb --out {out}/run --polish-steps 5", []),
    ("simulate-bz2-model", "simulate {in}/good.pdb.bz2 --resolution 6 --voxel-size 2 -o {out}/m.mrc", []),
    ("simulate-pdbx-model", "simulate {in}/good.pdbx --resolution 6 --voxel-size 2 -o {out}/m.mrc", []),
]

FAILED_IN_A_CELL = [  # a notebook that fails inside: one line, exit 2, the executed notebook kept to read
    ("notebook-fails-in-a-cell", "notebook 00_quickstart -p resolution -5 -p show_3d False --runs-root {out}",
     ["failed in cell", "resolution"]),
]

CASE_IDS = [c[0] for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "duplicate case ids"


def _fill(text: str, inputs: Path, out: Path) -> str:
    return text.replace("{in}", str(inputs)).replace("{out}", str(out))


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(case, inputs: Path, outputs: Path) -> dict:
    name, cmd = case[0], case[1]
    out = outputs / name
    out.mkdir()
    argv = [_fill(a, inputs, out) for a in shlex.split(cmd)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "cryonb.cli", *argv], capture_output=True, text=True,
                              timeout=LIMIT_S, env=env, cwd=out)
        rc, err = done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "timed out"
    return {"rc": rc, "stderr": err, "seconds": time.perf_counter() - start, "out": out}


@pytest.fixture(scope="module")
def results(request, tmp_path_factory, adk_closed):
    """Run the selected cases (two at a time); their results by case id, and the inputs' digest."""
    inputs = tmp_path_factory.mktemp("inputs")
    make_inputs(inputs, adk_closed)
    _odd_inputs(inputs, adk_closed)
    outputs = tmp_path_factory.mktemp("outputs")
    before = _digest(inputs)
    wanted = {item.callspec.id for item in request.session.items
              if getattr(item, "module", None) is request.module and hasattr(item, "callspec")}
    todo = [c for c in CASES + WARNED + FAILED_IN_A_CELL if c[0] in wanted]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip([c[0] for c in todo], pool.map(lambda c: _run(c, inputs, outputs), todo)))
    _write_timings(done)
    return {"cases": done, "inputs": inputs, "before": before, "after": _digest(inputs)}


def _write_timings(done: dict) -> None:
    """Seconds and exit code per case, slowest first, to tests/_output/cli_bad_inputs.json (git-ignored)."""
    import json
    folder = Path(__file__).resolve().parent / "_output"
    folder.mkdir(exist_ok=True)
    rows = sorted(({"case": k, "seconds": round(v["seconds"], 2), "rc": v["rc"]} for k, v in done.items()),
                  key=lambda r: -r["seconds"])
    (folder / "cli_bad_inputs.json").write_text(json.dumps(rows, indent=1))


def _odd_inputs(folder: Path, model) -> None:
    from cryonb import io
    two = model.clone()
    two.add_model(two[0])
    two[1].num = 2
    io.write_model(two, folder / "two_models.cif")
    text = (folder / "good.pdb").read_text().splitlines()
    (folder / "good.pdbx").write_bytes((folder / "good.cif").read_bytes())
    (folder / "no_elements.pdb").write_text("\n".join(l[:76] if l.startswith("ATOM") else l for l in text) + "\n")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_bad_input_is_refused_in_one_clear_line(results, case):
    name, _, expect = case
    got = results["cases"][name]
    err = got["stderr"].strip()
    assert got["rc"] is not None and got["seconds"] < LIMIT_S, f"ran past {LIMIT_S} s"
    assert "Traceback" not in err and "unexpected" not in err, err
    last = err.splitlines()[-1] if err else ""
    wanted = [_fill(e, results["inputs"], got["out"]) for e in expect]
    assert got["rc"] == 2 and all(w in last for w in wanted), f"rc {got['rc']}: {err}"
    assert list(got["out"].rglob("*")) == [], "an output was left behind"


@pytest.mark.parametrize("case", WARNED, ids=[c[0] for c in WARNED])
def test_an_odd_input_runs_with_its_warning(results, case):
    name, _, expect = case
    got = results["cases"][name]
    assert got["rc"] == 0 and "Traceback" not in got["stderr"], got["stderr"]
    text = got["stderr"]
    assert all(w in text for w in expect), text
    assert list(got["out"].iterdir()), "no output written"


@pytest.mark.parametrize("case", FAILED_IN_A_CELL, ids=[c[0] for c in FAILED_IN_A_CELL])
def test_a_notebook_failing_in_a_cell_is_one_line_and_keeps_its_record(results, case):
    name, _, expect = case
    got = results["cases"][name]
    err = got["stderr"].strip()
    assert got["rc"] == 2 and "Traceback" not in err and all(w in err.splitlines()[-1] for w in expect), err
    assert list(got["out"].rglob("*.ipynb")), "the executed notebook (with its traceback) is kept"


RECORD = ("config.json", "status.json")   # a resumed run folder's record says how the resume ended


def test_no_case_changed_an_input(results):
    after, before = results["after"], results["before"]
    record = {k for k in set(after) - set(before) if k.endswith(RECORD)}
    assert {k: v for k, v in after.items() if k not in record} == before
    for key in {k.rsplit("/", 1)[0] for k in record}:   # only resumes of damaged runs wrote a record
        assert key.endswith("_damaged_checkpoint"), key
        status = json.loads((results["inputs"] / key / "status.json").read_text())
        assert status["state"] == "failed" and "damaged" in status["error"], status


def test_every_command_has_its_share_of_cases():
    per_command = {}
    for _, cmd, _ in CASES:
        per_command[cmd.split()[0]] = per_command.get(cmd.split()[0], 0) + 1
    assert len(CASES) >= 150 and set(per_command) == {"simulate", "fsc", "validate", "refine-geometry", "refine",
                                                      "series", "predict-ca", "notebook", "place", "rerank",
                                                      "trace", "assemble", "build"}, per_command
