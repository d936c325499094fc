"""RNA backbone suites (cryonb.validation.suites) against MolProbity's suitename.

Reference numbers come from cctbx-base 2025.11 (``mmtbx.suitename.suitealyze`` and
``mmtbx.suitename.suitename.compute``), run once in a separate environment; cctbx is not a
dependency of cryonb or of these tests.
"""
from __future__ import annotations

import math

import gemmi
import numpy as np
import pytest

from cryonb import data
from cryonb.validation.suites import (
    ANGLE_NAMES,
    OUTLIER,
    classify,
    dihedrals,
    load_table,
    suite_angles,
    suites,
)

# 1K5I (23-nt hairpin, corpus copy): residue number -> (cluster, suiteness) from cctbx suitealyze;
# residue 1 starts the chain and has no complete suite ('__').
CCTBX_1K5I = {
    2: ("1a", 0.714), 3: ("1a", 0.349), 4: ("1a", 0.297), 5: ("1a", 0.317), 6: ("1a", 0.698),
    7: ("1a", 0.922), 8: ("1a", 0.811), 9: ("7a", 0.018), 10: ("!!", 0.0), 11: ("1b", 0.536),
    12: ("!!", 0.0), 13: ("1a", 0.098), 14: ("1a", 0.742), 15: ("1a", 0.678), 16: ("!!", 0.0),
    17: ("1a", 0.582), 18: ("&a", 0.543), 19: ("1a", 0.594), 20: ("1a", 0.890), 21: ("1a", 0.279),
    22: ("1a", 0.131), 23: ("1b", 0.373),
}
CCTBX_1K5I_MEAN = 0.43511703681333463  # "For all 22 suites: average suiteness== 0.435", 3 outliers

# (seven torsions, cluster, suiteness) from cctbx suitename.compute, one per decision path
CCTBX_CASES = [
    ([154.1, 254.2, 288.0, 288.6, 214.0, 45.2, 154.0], '2[', 0.695305),  # only-one
    ([71.8, 205.5, 303.7, 168.1, 137.8, 182.3, 93.2], '1f', 0.599376),  # OUTSIDE-sat
    ([83.3, 213.4, 219.9, 313.5, 161.0, 47.4, 81.6], '7a', 0.888784),  # None-dom
    ([74.1, 218.9, 293.1, 292.3, 175.1, 50.2, 83.0], '1a', 0.820377),  # OUTSIDE-dom
    ([145.3, 244.6, 62.0, 73.8, 131.8, 172.1, 88.5], '6j', 0.759894),  # BETWEEN-dom-sat
    ([80.1, 216.1, 286.1, 288.7, 178.7, 49.7, 82.4], '1a', 0.936832),  # BETWEEN-dom-sat
    ([79.9, 220.0, 301.6, 283.2, 218.1, 64.5, 82.7], '1m', 0.81677),  # BETWEEN-dom-sat
    ([147.4, 273.2, 107.9, 85.1, 241.4, 174.2, 85.9], '0i', 0.849364),  # BETWEEN-dom-sat
    ([147.2, 218.5, 141.5, 290.7, 157.8, 48.3, 81.7], '0a', 0.942017),  # BETWEEN-dom-sat
    ([85.4, 191.8, 265.8, 291.7, 170.9, 47.0, 79.0], '&a', 0.898082),  # BETWEEN-dom-sat
    ([151.7, 255.1, 163.1, 288.4, 164.0, 53.2, 82.3], '4a', 0.835419),  # BETWEEN-dom-sat
    ([88.5, 200.8, 289.5, 151.9, 193.3, 184.1, 81.7], '1c', 0.782136),  # BETWEEN-dom-sat
    ([158.9, 198.7, 148.4, 301.7, 157.2, 35.7, 78.5], '#a', 0.56649),  # BETWEEN-dom-sat
    ([96.3, 240.5, 269.7, 305.0, 138.7, 62.0, 72.9], '1L', 0.641935),  # BETWEEN-dom-sat
    ([73.6, 221.9, 286.3, 294.4, 209.0, 47.0, 135.0], '1[', 0.606861),  # BETWEEN-dom-sat
    ([143.5, 277.7, 85.2, 63.0, 196.1, 172.8, 87.9], '6n', 0.827311),  # BETWEEN-dom-sat
    ([82.4, 200.2, 297.7, 169.1, 141.4, 173.3, 80.6], '1f', 0.94341),  # BETWEEN-dom-sat
    ([91.2, 217.2, 298.5, 302.4, 178.4, 58.0, 146.2], '1b', 0.821265),  # BETWEEN-dom-sat
    ([166.1, 267.9, 295.5, 294.1, 220.2, 52.5, 148.6], '!!', 0.0),  # bad deltam
    ([75.5, 246.1, 209.4, 74.3, 180.6, 70.2, 117.8], '!!', 0.0),  # bad delta
    ([156.6, 252.3, 165.6, 58.6, 203.9, 74.3, 63.4], '!!', 0.0),  # only-one 7D
    ([129.8, 203.4, 305.4, 189.7, 151.3, 135.7, 84.6], '!!', 0.0),  # g out
    ([99.2, 226.9, 291.5, 292.6, 147.1, 83.0, 62.0], '!!', 0.0),  # BETWEEN-dom-sat 7D
    ([143.3, 252.9, 78.7, 64.7, 187.5, 141.9, 85.1], '!!', 0.0),  # OUTSIDE-dom 7D
    ([99.9, 256.9, 215.6, 51.7, 161.4, 20.6, 79.7], '!!', 0.0),  # None-dom 7D
    ([102.7, 216.2, 290.6, 305.8, 236.5, 78.6, 164.4], '!!', 0.0),  # OUTSIDE-sat 7D
    ([77.8, 224.2, 293.1, 337.4, 166.0, 62.8, 95.5], '!!', 0.0),  # a out
    ([168.1, 145.4, 127.9, 278.6, 161.7, 31.6, 99.3], '!!', 0.0),  # e out
    ([98.4, 240.2, 190.1, 71.0, 181.1, 292.3, 142.5], '!!', 0.0),  # outlier distance
    ([72.7, 194.7, 23.3, 177.6, 155.2, 26.3, 158.9], '!!', 0.0),  # z out
    ([85.6, 229.5, 246.3, 289.9, 190.5, 26.7, 66.0], '7a', 0.042411),  # not-sat
    ([70.6, 187.1, 282.0, 263.8, 49.1, 175.8, 91.4], '!!', 0.0),  # b out
    ([79.6, 219.4, 241.9, 296.0, 149.4, 87.3, 96.6], '!!', 0.0),  # not-sat 7D
    ([62.7, 209.5, 274.3, 199.1, 179.3, 267.8, 64.8], '!!', 0.0),  # vacant bin
]


@pytest.fixture(scope="module")
def hairpin():
    """1K5I, PDB names, no hydrogens."""
    return data.load_corpus_structure("1K5I")


def _by_residue(result):
    return {int(r.seqid): r for r in result.records}


def _set_torsion(st: gemmi.Structure, seqnum: int, name: str, target: float) -> gemmi.Structure:
    """A copy of ``st`` with alpha or gamma of residue ``seqnum`` set to ``target`` degrees.

    Everything upstream of the rotatable bond (earlier residues, then P, OP1, OP2 and, for
    gamma, O5') turns rigidly about the bond, so no other torsion changes.
    """
    bond, moving = {"alpha": (("P", "O5'"), {"P", "OP1", "OP2"}),
                    "gamma": (("C5'", "C4'"), {"P", "OP1", "OP2", "O5'"})}[name]
    out = st.clone()
    chain = out[0][0]
    res = next(r for r in chain if r.seqid.num == seqnum)
    axis_from, axis_to = (np.array(res[n][0].pos.tolist()) for n in bond)
    i = [r.seqid.num for r in chain].index(seqnum)
    before = chain[i - 1]
    quad = {"alpha": [before["O3'"][0], res["P"][0], res["O5'"][0], res["C5'"][0]],
            "gamma": [res["O5'"][0], res["C5'"][0], res["C4'"][0], res["C3'"][0]]}[name]
    current = math.degrees(gemmi.calculate_dihedral(*(a.pos for a in quad)))
    theta = math.radians(current - target)  # turning the first atom by +t lowers the torsion by t
    k = (axis_to - axis_from) / np.linalg.norm(axis_to - axis_from)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx
    for j, r in enumerate(chain):
        for atom in r:
            if j < i or (j == i and atom.name in moving):
                xyz = rot @ (np.array(atom.pos.tolist()) - axis_from) + axis_from
                atom.pos = gemmi.Position(*xyz)
    return out


def test_table_holds_the_published_conformers():
    table = load_table()
    clusters = [n for b in table.bins.values() for n in b.names]
    assert len(table.bins) == 12 and len(clusters) == 54 and len(set(clusters)) == 54
    assert {"1a", "1b", "1c", "0a", "6n", "&a", "#a", "1["} <= set(clusters)
    assert table.widths.tolist() == [28, 60, 55, 50, 70, 35, 28]
    for b in table.bins.values():  # every centre is its own cluster with suiteness 1
        for name, centre in zip(b.names, b.centers):
            assert classify(centre, table)[:3] == (name, 1.0, b.name)


@pytest.mark.parametrize("angles,cluster,suiteness", CCTBX_CASES)
def test_classify_matches_cctbx_suitename(angles, cluster, suiteness):
    got_cluster, got_suiteness, _, _ = classify(angles)
    assert got_cluster == cluster
    assert got_suiteness == pytest.approx(suiteness, abs=1e-6)


def test_triage_names_the_torsion():
    assert classify([129.8, 203.4, 305.4, 189.7, 151.3, 135.7, 84.6])[2:] == ("trig", "gamma")
    assert classify([166.1, 267.9, 295.5, 294.1, 220.2, 52.5, 148.6])[3] == "delta-1"
    out = classify([156.6, 252.3, 165.6, 58.6, 203.9, 74.3, 63.4])
    assert out[0] == OUTLIER and out[3].startswith("7D dist")


def test_dihedrals_match_gemmi(hairpin):
    atoms = [a for r in hairpin[0][0] for a in r][:40]
    quads = [atoms[i:i + 4] for i in range(0, 36, 3)]
    ours = dihedrals(np.array([[a.pos.tolist() for a in q] for q in quads]))
    ref = [math.degrees(gemmi.calculate_dihedral(*(a.pos for a in q))) for q in quads]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_1k5i_matches_cctbx_suitename(hairpin):
    result = suites(hairpin)
    assert result.n_suites == 22 and result.n_incomplete == 1 and result.n_outliers == 3
    assert result.mean_suiteness == pytest.approx(CCTBX_1K5I_MEAN, abs=1e-9)
    got = {k: (r.cluster, round(r.suiteness, 3)) for k, r in _by_residue(result).items()}
    assert got == CCTBX_1K5I
    first = result.records[0]
    assert (first.chain, first.seqid, first.resname, first.bin) == ("A", "2", "G", "33 p")
    assert all(0 <= a < 360 for r in result.records for a in r.angles)
    assert first.angle("gamma") == first.angles[ANGLE_NAMES.index("gamma")]
    assert result.summary() == {"n_suites": 22, "mean_suiteness": result.mean_suiteness,
                                "n_outliers": 3, "n_incomplete": 1}


@pytest.mark.parametrize("name,target,reason", [("gamma", 120.0, "gamma"),  # between p and t
                                                ("alpha", 227.0, "no cluster")])
def test_rotating_a_torsion_into_empty_space_makes_an_outlier(hairpin, name, target, reason):
    before = _by_residue(suites(hairpin))
    assert before[7].cluster == "1a" and before[7].suiteness > 0.9
    after = _by_residue(suites(_set_torsion(hairpin, 7, name, target)))
    assert after[7].angle(name) == pytest.approx(target, abs=1e-6)
    assert (after[7].cluster, after[7].suiteness, after[7].reason) == (OUTLIER, 0.0, reason)
    for k in before:  # no other suite moved
        if k != 7:
            np.testing.assert_allclose(after[k].angles, before[k].angles, atol=1e-6)
            assert after[k].cluster == before[k].cluster


def test_protein_and_empty_models_have_no_suites(adk_closed):
    for st in (adk_closed, gemmi.Structure()):
        result = suites(st)
        assert result.n_suites == 0 and result.n_outliers == 0 and result.n_incomplete == 0
        assert math.isnan(result.mean_suiteness) and result.summary()["mean_suiteness"] is None


def test_a_removed_residue_breaks_the_backbone(hairpin):
    st = hairpin.clone()
    chain = st[0][0]
    del chain[[r.seqid.num for r in chain].index(12)]
    result = suites(st)
    got = _by_residue(result)
    assert 12 not in got and 13 not in got  # no suite across the gap from 11 to 13
    assert result.n_suites == 20 and result.n_incomplete == 2
    full = _by_residue(suites(hairpin))
    assert all(got[k].cluster == full[k].cluster for k in got)


def test_a_stretched_link_is_not_a_suite(hairpin):
    st = hairpin.clone()
    for r in st[0][0]:
        if r.seqid.num >= 13:
            for atom in r:
                atom.pos = atom.pos + gemmi.Position(3.0, 0.0, 0.0)  # O3'(12)-P(13) > 2.5 Å
    ids, angles, incomplete = suite_angles(st)
    assert [int(s) for _, s, _ in ids] == [k for k in range(2, 24) if k != 13]
    assert angles.shape == (21, 7) and incomplete == 2
