"""Template pool, alignment and reranking by fingerprints on real structures (AdK, corpus chains).

The 'predicted' C-alphas are AdK closed's true C-alphas with 0.8 Å Gaussian noise, 10 atoms
dropped and 15 false atoms added inside their box, shuffled, in a random frame.
"""
import gzip
import warnings

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cryonb import Map
from cryonb.cnn.score import ca_score
from cryonb.data import adk_closed, adk_open, corpus_entries, load_corpus_structure
from cryonb.errors import CryonbError
from cryonb.io import write_model
from cryonb.superpose import rmsd
from cryonb.templates import (align, chain_templates, density_correlation, fingerprints, place, read_pool,
                              rerank)

UNRELATED = ["1ahsA", "2cviA", "3e8mA", "3ny7A", "4gcnA", "5PTI"]


@pytest.fixture(scope="module")
def adk():
    return chain_templates(adk_closed(), "adk_closed")[0], chain_templates(adk_open(), "adk_open")[0]


@pytest.fixture(scope="module")
def unrelated():
    return [t for n in UNRELATED for t in chain_templates(load_corpus_structure(n), n)]


def predicted_atoms(truth: np.ndarray, seed: int = 0, noise: float = 0.8, drop: int = 10, extra: int = 15):
    """Noisy, incomplete, shuffled C-alphas in a random frame, and the truth moved into that frame."""
    rng = np.random.default_rng(seed)
    rot, shift = Rotation.random(random_state=seed).as_matrix(), rng.normal(0, 30, 3)
    moved = truth @ rot.T + shift
    kept = moved[np.sort(rng.choice(len(truth), len(truth) - drop, replace=False))]
    kept = kept + rng.normal(0, noise, kept.shape)
    false = rng.uniform(kept.min(0), kept.max(0), (extra, 3))
    atoms = np.vstack([kept, false])
    return atoms[rng.permutation(len(atoms))], moved


def test_pool_chains_are_protein_chains_with_their_residues(adk):
    closed, _ = adk
    assert len(closed) == 214 and closed.xyz.shape == (214, 3) and closed.chain == "A"
    assert closed.sequence.startswith("MRIILLGAPGAGKGTQ")
    assert np.array_equal(closed.resnums, np.arange(1, 215))
    chains = chain_templates(load_corpus_structure("1BD2"), "1BD2")   # chain C: a 9-residue peptide
    assert [t.chain for t in chains] == ["A", "B", "D", "E"]
    assert chain_templates(load_corpus_structure("1K5I"), "1K5I") == []     # RNA


def test_alignment_identity_coverage_and_zscores(adk, unrelated):
    closed, opened = adk
    same = align(closed.sequence, opened.sequence, seed=1)
    assert same.identity == 1.0 and same.coverage == 1.0 and same.n_aligned == 214
    assert np.array_equal(same.query_index, same.template_index)
    assert same.zscore > 30
    half = align(closed.sequence, closed.sequence[100:], shuffles=20)
    assert half.coverage == pytest.approx(114 / 214) and half.identity == 1.0
    assert np.array_equal(half.query_index, half.template_index + 100)
    z = [align(closed.sequence, t.sequence).zscore for t in unrelated]
    assert max(z) < 5 and same.zscore > 10 * max(z)
    again = align(closed.sequence, unrelated[0].sequence)
    assert again.zscore == z[0]                                 # seeded: deterministic


def test_fingerprints_are_sorted_neighbour_distances(adk):
    xyz = adk[0].xyz
    fp = fingerprints(xyz)
    assert fp.shape == (214, 20)
    assert np.all(np.diff(fp, axis=1) >= 0) and np.all(fp > 2.5)   # a cis peptide: 2.9 Å
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    assert np.allclose(fp[7], np.sort(d[7])[1:21])
    assert fp[:, 0].mean() == pytest.approx(3.8, abs=0.1)      # the C-alpha virtual bond


def test_place_puts_the_template_on_its_own_noisy_atoms(adk):
    closed, _ = adk
    atoms, truth = predicted_atoms(closed.xyz, seed=3)
    p = place(closed.xyz, atoms)
    assert rmsd(p.xyz, truth) < 1.5
    assert len(set(p.template_index)) == len(p.template_index)            # one-to-one
    assert len(set(p.predicted_index)) == len(p.predicted_index)
    d = np.linalg.norm(p.xyz[p.template_index] - atoms[p.predicted_index], axis=1)
    assert np.all(d < 10) and np.median(d) < 2.0
    assert len(p.template_index) >= 200 and p.converged


def test_rerank_puts_adk_first_and_second(adk, unrelated):
    closed, opened = adk
    atoms, truth = predicted_atoms(closed.xyz, seed=0)
    ranking = rerank(atoms, closed.sequence, unrelated + [opened, closed], shuffles=30)
    names = [r["template"] for r in ranking.table]
    assert names[:2] == ["adk_closed", "adk_open"]
    top = ranking.table[0]
    assert top["rank"] == 1 and top["crscore"] > 0.85 and top["identity"] == 1.0
    assert all(r["crscore"] < 0.6 for r in ranking.table[2:])
    placed = ranking.placed[("adk_closed", "A")]
    assert rmsd(placed.xyz, truth) < 1.5 and rmsd(placed.chain_xyz, truth) < 1.5
    assert sorted(r["rank_sequence"] for r in ranking.table) == list(range(1, 9))
    assert {r["rank_sequence"] for r in ranking.table[:2]} == {1, 2}
    assert top["crscore"] == pytest.approx(ca_score(placed.xyz, atoms, length=214).crscore)


def test_scoring_only_the_aligned_part_keeps_a_large_unrelated_chain_down(adk):
    """CFTR (6MSM chain A, 1,181 residues) covers the predicted atoms by size alone when scored
    whole; scored on its residues aligned to AdK, it falls behind AdK open."""
    closed, opened = adk
    cftr = [t for t in chain_templates(load_corpus_structure("6MSM"), "6MSM") if t.chain == "A"]
    atoms, _ = predicted_atoms(closed.xyz, seed=0)
    whole = {r["template"]: r for r in rerank(atoms, closed.sequence, [opened] + cftr, shuffles=5,
                                              aligned_only=False).table}
    aligned = {r["template"]: r for r in rerank(atoms, closed.sequence, [opened] + cftr, shuffles=5).table}
    assert whole["6MSM"]["n_scored"] == 1181 and aligned["6MSM"]["n_scored"] < 214
    assert whole["6MSM"]["rank"] == 1 and aligned["adk_open"]["rank"] == 1
    assert aligned["6MSM"]["crscore"] < whole["6MSM"]["crscore"] - 0.2


def test_density_correlation_is_high_on_the_atoms_and_low_off_them(adk, unrelated):
    closed, _ = adk
    xyz = closed.xyz - closed.xyz.min(0) + 5                  # inside a 70 Å box at 1 Å voxels
    dens = np.zeros((70, 70, 70), np.float32)
    zyx = np.rint(xyz[:, ::-1]).astype(int)
    np.add.at(dens, tuple(zyx.T), 1.0)
    m = Map(ndimage.gaussian_filter(dens, 1.5), 1.0)
    ranking = rerank(xyz, closed.sequence, [closed, *unrelated[:2]], shuffles=5, density=m, resolution=4.0)
    row = ranking.table[0]
    assert row["template"] == "adk_closed" and row["density"] > 0.9 and row["rank_density"] == 1
    assert density_correlation(m, xyz + [6.0, 0, 0], 4.0) < 0.5
    assert all(r["density"] < row["density"] - 0.3 for r in ranking.table[1:] if r["density"] is not None)
    assert rerank(xyz, closed.sequence, [closed], shuffles=5).table[0]["density"] is None
    with pytest.raises(ValueError, match="resolution"):
        rerank(xyz, closed.sequence, [closed], shuffles=5, density=m)


def test_pool_folder_skips_bad_files_with_one_warning(tmp_path):
    names = [e.name for e in corpus_entries()][:3]
    for n in names:
        write_model(load_corpus_structure(n), tmp_path / f"{n}.pdb")
    write_model(load_corpus_structure("1K5I"), tmp_path / "rna.pdb")     # no protein chain
    (tmp_path / "garbage.pdb").write_text("this is not a coordinate file\n")
    (tmp_path / "cut.cif.gz").write_bytes(gzip.compress(b"data_x\n" * 400)[:50])
    (tmp_path / "notes.txt").write_text("not a model name: ignored")
    with pytest.warns(UserWarning, match="3 of 6 files skipped") as caught:
        pool = read_pool(tmp_path)
    message = str(caught[0].message)
    assert "garbage.pdb" in message and "cut.cif.gz" in message and "rna.pdb" in message
    assert sorted(t.name for t in pool.templates) == sorted(names)
    assert len(pool.skipped) == 3


def test_pool_with_nothing_usable_is_an_error_naming_the_files(tmp_path):
    with pytest.raises(CryonbError, match="holds no PDB/mmCIF"):
        read_pool(tmp_path)
    (tmp_path / "garbage.pdb").write_text("nothing\n")
    with pytest.raises(CryonbError, match="garbage.pdb"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_pool(tmp_path)
    with pytest.raises(CryonbError, match="not a folder"):
        read_pool(tmp_path / "garbage.pdb")


def _aligned_strings(a, query: str, template: str) -> list[str]:
    """The alignment as two gapped strings (template first), as tmtools takes it."""
    s1, s2, i, j = [], [], 0, 0
    for ti, qi in zip(a.template_index, a.query_index):
        s1 += list(template[j:ti]) + ["-"] * (qi - i)
        s2 += ["-"] * (ti - j) + list(query[i:qi])
        s1.append(template[ti])
        s2.append(query[qi])
        i, j = qi + 1, ti + 1
    s1 += list(template[j:]) + ["-"] * (len(query) - i)
    s2 += ["-"] * (len(template) - j) + list(query[i:])
    return ["".join(s1), "".join(s2)]


def test_template_tm_score_agrees_with_tmtools_on_the_same_alignment(adk, unrelated):
    tmtools = pytest.importorskip("tmtools", reason="tmtools (GPL) is the test oracle: pip install -e .[dev]")
    from cryonb.templates.tmscore import template_tm_score
    closed, opened = adk
    for t in [opened, *unrelated[:3]]:
        a = align(closed.sequence, t.sequence, shuffles=0)
        mine = template_tm_score(t.xyz, a.template_index, a.query_index, closed.xyz)
        ref = tmtools.tm_align(t.xyz, closed.xyz, t.sequence, closed.sequence,
                               _aligned_strings(a, closed.sequence, t.sequence)).tm_norm_chain2
        assert abs(mine - ref) < 0.005, (t.name, mine, ref)
    assert template_tm_score(opened.xyz, np.arange(214), np.arange(214), closed.xyz) > 0.6


def test_adk_open_is_placed_on_its_core_from_most_random_frames(adk):
    """A hinge motion away: the core (CORE residues) lands within 3 Å from at least 5 of 6 frames
    (2 of 6 when only the best first superposition was refined)."""
    closed, opened = adk
    core = np.r_[0:29, 60:121, 160:214]
    placed = 0
    for seed in range(6):
        atoms, moved = predicted_atoms(closed.xyz, seed=seed)
        p = place(opened.xyz, atoms)
        placed += rmsd(p.xyz[core], moved[core]) < 3.0
    assert placed >= 5, placed
