"""C-alpha traces on real structures: true C-alphas of AdK and two corpus chains with 0.3 Å noise,
shuffled, with missing and false atoms; direction and threading on maps simulated at 3 Å."""
from __future__ import annotations

import numpy as np
import pytest

from cryonb import data
from cryonb.density import SimulationConfig, simulate_map
from cryonb.io import calpha
from cryonb.trace import build_traces, links_at, paths, pseudo_cb, thread_trace, trace_structure, vote_links
from cryonb.trace.align import pieces, step_costs, viterbi
from cryonb.trace.direction import direction_score
from cryonb.trace.evaluate import link_scores, match_atoms, register_right, trace_direction_right
from cryonb.trace.thread import structure_sequence

CORPUS = ("2j49A", "3l4rA")        # two corpus chains (mixed helix and sheet)


def noisy_atoms(ca: np.ndarray, rng, sigma=0.3, missing=4, false=4):
    """C-alphas with Gaussian noise (Å per axis), ``missing`` dropped, ``false`` atoms added 3.3-4.5 Å
    from a true one and at least 3.3 Å from all (as the network's peak picking keeps them), shuffled."""
    keep = np.sort(rng.choice(len(ca), len(ca) - missing, replace=False))
    xyz = list(ca[keep] + rng.normal(0, sigma, (len(keep), 3)))
    while len(xyz) < len(keep) + false:
        v = rng.normal(size=3)
        p = ca[rng.integers(len(ca))] + v / np.linalg.norm(v) * rng.uniform(3.3, 4.5)
        if np.min(np.linalg.norm(np.array(xyz) - p, axis=1)) >= 3.3:
            xyz.append(p)
    order = rng.permutation(len(xyz))
    return np.array(xyz)[order]


@pytest.fixture(scope="module")
def chains():
    """{name: (structure, true C-alphas (L, 3), sequence)} for AdK closed and the corpus chains."""
    out = {"adk_closed": data.adk_closed()}
    out.update({n: data.load_corpus_structure(n) for n in CORPUS})
    return {k: (st, calpha(st)[1], structure_sequence(st)) for k, st in out.items()}


@pytest.fixture(scope="module")
def adk_3a(chains):
    return simulate_map(chains["adk_closed"][0], SimulationConfig(resolution=3.0, voxel_size=1.0))


def test_corpus_chains_exist():
    names = {e.name for e in data.corpus_entries()}
    assert set(CORPUS) <= names


def test_voted_links_find_the_chain(chains):
    """Pooled over 3 chains x 2 noise draws: precision >= 0.90, recall >= 0.85."""
    hits = n_links = n_possible = 0
    for _, ca, _ in chains.values():
        for seed in (0, 1):
            xyz = noisy_atoms(ca, np.random.default_rng(seed))
            links, votes = vote_links(xyz)
            assert np.all(votes > 0.4) and len(votes) == len(links)
            s = link_scores(links, match_atoms(xyz, ca), ca)
            hits, n_links, n_possible = hits + s["hits"], n_links + s["n_links"], n_possible + s["n_possible"]
    assert hits / n_links >= 0.90
    assert hits / n_possible >= 0.85


def test_seed_rule_read_literally_loses_helices(chains):
    """The literal rule keeps far fewer true links than the greedy one on helical AdK."""
    _, ca, _ = chains["adk_closed"]
    xyz = noisy_atoms(ca, np.random.default_rng(2))
    match = match_atoms(xyz, ca)
    greedy = link_scores(vote_links(xyz)[0], match, ca)["recall"]
    seed = link_scores(vote_links(xyz, rule="seed")[0], match, ca)["recall"]
    assert greedy > seed + 0.15


def test_fragments_are_paths(chains):
    _, ca, _ = chains["2j49A"]
    xyz = noisy_atoms(ca, np.random.default_rng(3))
    for cutoff in (3.8, 4.6, 5.5):
        links = links_at(xyz, cutoff)
        assert np.bincount(links.ravel(), minlength=len(xyz)).max() <= 2
        frags = paths(len(xyz), links)                       # raises on a cycle
        assert sorted(np.concatenate(frags).tolist()) == list(range(len(xyz)))
        assert sum(len(f) - 1 for f in frags) == len(links)  # a forest of paths: E = N - components
    with pytest.raises(ValueError, match="cycle"):
        paths(3, np.array([[0, 1], [1, 2], [2, 0]]))
    with pytest.raises(ValueError, match="more than two"):
        paths(4, np.array([[0, 1], [0, 2], [0, 3]]))


def test_pseudo_cb_lies_on_the_true_cb_only_forwards(chains):
    st, ca, _ = chains["adk_closed"]
    cb = np.array([[a.pos.x, a.pos.y, a.pos.z] for r in st[0][0] for a in r if a.name == "CB"])
    has_cb = np.array([r.find_atom("CB", "*") is not None for r in st[0][0]])
    inner = has_cb.copy()
    inner[[0, -1]] = False
    fwd = np.linalg.norm(pseudo_cb(ca)[inner] - cb[inner[has_cb]], axis=1)
    rev = np.linalg.norm(pseudo_cb(ca[::-1])[::-1][inner] - cb[inner[has_cb]], axis=1)
    assert np.sqrt(np.mean(fwd ** 2)) < 0.5 < 1.5 < np.sqrt(np.mean(rev ** 2))


def test_direction_from_density(chains, adk_3a):
    """Noisy 15-atom pieces of AdK on its 3 Å map: direction right for >= 90 %, either way read."""
    _, ca, _ = chains["adk_closed"]
    xyz = ca + np.random.default_rng(4).normal(0, 0.3, ca.shape)
    right = []
    for k in range(0, len(xyz) - 15, 15):
        piece = xyz[k:k + 15]
        right += [direction_score(adk_3a, piece) > 0, direction_score(adk_3a, piece[::-1]) < 0]
    assert np.mean(right) >= 0.9


def test_gapless_threading_of_clean_pieces(chains):
    """40-residue pieces (noisy, read either way) on 3 Å maps: register (within one) and direction
    right for most (measured 0.71 over 14 pieces of 3 chains); the best register has a margin."""
    right, margins = [], []
    for st, ca, seq in chains.values():
        m = simulate_map(st, SimulationConfig(resolution=3.0, voxel_size=1.0))
        xyz = ca + np.random.default_rng(5).normal(0, 0.3, ca.shape)
        for n, k in enumerate(range(0, len(ca) - 40, 30)):
            rev = n % 2 == 1
            piece = xyz[k:k + 40][::-1] if rev else xyz[k:k + 40]
            reg = thread_trace(m, piece, np.arange(40), seq, 3.0)
            right.append(reg.direction == (-1 if rev else 1) and abs(reg.offset - k) <= 1)
            margins.append(reg.margin)
            assert reg.scores.shape == (2, len(seq) - 39)
    assert np.mean(right) >= 0.6
    assert np.nanmedian(margins) > 0


def test_viterbi_splits_at_a_jump():
    """Emissions that favour index k+10 on atoms 0-9 and index 60-k on atoms 10-19 (reversed)."""
    emit = np.zeros((2, 20, 80))
    for k in range(10):
        emit[0, k, 10 + k] = 1.0
        emit[1, 10 + k, 60 - k] = 1.0
    path = viterbi(emit, step_costs(np.full(19, 3.8)))
    assert path[:10].tolist() == [[0, 10 + k] for k in range(10)]
    assert path[10:].tolist() == [[1, 60 - k] for k in range(10)]
    assert [p.tolist() for p in pieces(path)] == [list(range(10)), list(range(10, 20))]


def test_build_traces_on_adk(chains, adk_3a):
    """Noisy, shuffled AdK C-alphas with missing and false atoms on the 3 Å map: traces are
    disjoint, turned N->C, and >= 70 % of the atoms of traces of 20 or more get their residue
    within one; the model has one chain per trace, named by the threaded sequence."""
    _, ca, seq = chains["adk_closed"]
    xyz = noisy_atoms(ca, np.random.default_rng(6))
    result = build_traces(xyz, adk_3a, seq, 3.0)
    atoms = np.concatenate([t.atoms for t in result.traces])
    assert len(atoms) == len(set(atoms.tolist())) == len(xyz)
    match = match_atoms(xyz, ca)
    dirs = [trace_direction_right(t, match) for t in result.traces if len(t.atoms) >= 10]
    assert np.mean([d for d in dirs if d is not None]) >= 0.8
    assert register_right(result.traces, match)["fraction"] >= 0.7
    st = trace_structure(result, xyz, seq)
    assert len(st[0]) == len(result.traces)
    first = result.traces[0]
    chain = st[0][0]
    assert [r.name for r in chain][:3] == [_three(seq[k]) for k in first.residues[:3]]
    assert [r.seqid.num for r in chain] == (first.residues + 1).tolist()
    assert all(len(r) == 1 and r[0].name == "CA" for r in chain)


def _three(letter):
    """Three-letter name of a one-letter code, from gemmi's residue table."""
    import gemmi
    names = ("ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
             "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL")
    return {gemmi.find_tabulated_residue(n).one_letter_code.upper(): n for n in names}[letter]


def test_side_chain_classifier_reads_adk(chains, adk_3a):
    """The classifier fitted on the network's training chains (AdK is held out): on AdK's 3 Å map
    with noisy true C-alphas the true type's mean log-odds is positive, well above a shuffled
    sequence's, and the top type is right far above the 1/20 of chance."""
    from cryonb.trace.sidechain import load_model, map_scale, read_grids, type_indices
    _, ca, seq = chains["adk_closed"]
    xyz = ca + np.random.default_rng(7).normal(0, 0.3, ca.shape)
    model = load_model(3.0)
    assert model is not None and model.resolution == 3.0
    grids, ok = read_grids(adk_3a, xyz, map_scale(adk_3a, xyz))
    types = type_indices(seq)
    ok &= types >= 0
    odds = model.log_odds(grids[ok])
    true = odds[np.arange(ok.sum()), types[ok]]
    shuffled = odds[np.arange(ok.sum()), np.random.default_rng(0).permutation(types[ok])]
    assert np.allclose(np.log(np.exp(odds + model.log_prior).sum(1)), 0.0, atol=1e-6)
    assert true.mean() > 0.3 and true.mean() - shuffled.mean() > 0.5
    assert np.mean(odds.argmax(1) == types[ok]) > 0.2


def test_fit_model_separates_two_types():
    from cryonb.trace.sidechain import fit_model
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (200, 4)), rng.normal(0, 1, (200, 4)) + [3, 0, 0, 0]])
    y = np.repeat([0, 1], 200)
    model = fit_model(x, y, 3.0)
    odds = model.log_odds(np.array([[0.0, 0, 0, 0], [3.0, 0, 0, 0]]))
    assert odds[0, 0] > 0 > odds[0, 1] and odds[1, 1] > 0 > odds[1, 0]


def test_link_costs_and_a_false_atom_in_the_path():
    """Long links favour a skipped residue; a false atom keeps the register of the rest and no
    residue of its own; a jump is taken only where the emissions pay for it."""
    from cryonb.trace.register import PathCosts, link_costs, viterbi_gaps
    costs = link_costs(np.array([3.8, 4.8, 6.2]), PathCosts())
    assert costs[0, 1] == 0 and costs[0, 2] > costs[0, 1] and costs[2, 2] < costs[2, 1]
    emit = np.zeros((2, 21, 60))
    for k in range(21):                 # atom 10 is false: atoms 11-20 are residues 20-29
        if k != 10:
            emit[0, k, 10 + k - (k > 10)] = 1.0
    direction, index, jumped = viterbi_gaps(emit, link_costs(np.full(20, 3.8)), np.full(20, 10.0), 1.5)
    assert direction.tolist() == [0] * 21 and not jumped.any()
    assert index[11:].tolist() == list(range(20, 30)) and index[:10].tolist() == list(range(10, 20))
    emit[0, 11:] = 0                    # atoms 11-20 now read backwards from residue 50: a jump
    for k in range(11, 21):
        emit[1, k, 50 - (k - 11)] = 2.0
    direction, index, jumped = viterbi_gaps(emit, link_costs(np.full(20, 3.8)), np.full(20, 10.0), 1.5)
    assert direction[11:].tolist() == [1] * 10 and index[11:].tolist() == list(range(50, 40, -1))
    assert jumped.sum() == 1 and (jumped[10] or jumped[11])


def test_build_traces_profile_threading_still_runs(chains, adk_3a):
    """The older threading (``threading="profile"``) stays available and threads AdK's traces."""
    from cryonb.trace import TraceConfig
    _, ca, seq = chains["adk_closed"]
    xyz = noisy_atoms(ca, np.random.default_rng(6))
    result = build_traces(xyz, adk_3a, seq, 3.0, TraceConfig(threading="profile"))
    assert all(t.offset >= 0 for t in result.traces if len(t.atoms) >= 5)
    assert register_right(result.traces, match_atoms(xyz, ca))["fraction"] >= 0.5


def test_low_ranked_end_is_left_out_of_the_links(chains):
    """A false atom hanging on a chain's end, least probable of all: with values it is left out
    of the links and becomes a one-atom trace (every atom still in one trace); without values,
    with NaN values or on a 6 Å map (``drop_resolution``) it stays linked."""
    from cryonb.trace.false_atoms import low_ends, value_rank
    _, ca, _ = chains["2j49A"]
    ca = ca[:40]
    out = ca[-1] - ca[-3]
    xyz = np.vstack([ca, ca[-1] + 3.7 * out / np.linalg.norm(out)])
    values = np.r_[np.linspace(1.0, 0.95, 40), 0.5]
    assert np.allclose(value_rank(np.array([0.2, 0.9, 0.5])), [2 / 3, 0, 1 / 3])
    links, _ = vote_links(xyz)
    assert (links == 40).any()
    assert low_ends(41, links, values).tolist() == [False] * 40 + [True]
    assert not low_ends(41, links, np.full(41, np.nan)).any() and not low_ends(41, links, None).any()
    result = build_traces(xyz, values=values)
    assert not (result.links == 40).any()
    atoms = np.concatenate([t.atoms for t in result.traces])
    assert sorted(atoms.tolist()) == list(range(41))
    assert any(len(t.atoms) == 1 and t.atoms[0] == 40 for t in result.traces)
    assert link_scores(result.links, match_atoms(xyz, ca), ca)["precision"] == 1.0
    for kept in (build_traces(xyz), build_traces(xyz, resolution=6.0, values=values)):
        assert (kept.links == 40).any()
