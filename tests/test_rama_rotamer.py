"""MolProbity-definition Ramachandran and rotamer validation on real structures (AdK, the corpus).

Reference numbers marked "ramalyze" / "rotalyze" were produced by cctbx-base 2025.11 on the same
cleaned AdK file; "MolProbity" values for ARG/LYS come from MolProbity's own 4-D grids.
"""
from __future__ import annotations

import numpy as np
import pytest

from cryonb import data
from cryonb.errors import InputFileError
from cryonb.validation import reference_data
from cryonb.validation.dihedrals import dihedral_angles, is_cis, residue_torsions
from cryonb.validation.rama import rama_scores, ramachandran
from cryonb.validation.reference_data import MetricUnavailable, top8000_dir
from cryonb.validation.rotamer import rotamer_names, rotamer_scores, rotamers

needs_top8000 = pytest.mark.skipif(top8000_dir() is None, reason="Top8000 tables not found "
                                   "(set CRYONB_TOP8000 to the folder holding rama/ and rotamer_grids/)")


@pytest.fixture(scope="module")
def adk():
    return data.adk_closed()


def _index(st, seqnum: int) -> int:
    return [r.seqid.num for r in st[0][0]].index(seqnum)


def _rotate_after(st, res_index: int, axis: tuple[str, str], angle: float, atoms) -> None:
    """Rotate ``atoms`` (names in residue res_index, or "downstream" for the rest of the chain
    plus O/OXT) by ``angle`` degrees about the bond axis[0] -> axis[1] of that residue."""
    chain = st[0][0]
    res = chain[res_index]
    a = np.array(res[axis[0]][0].pos.tolist())
    u = np.array(res[axis[1]][0].pos.tolist()) - a
    u /= np.linalg.norm(u)
    th = np.radians(angle)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    rot = np.eye(3) + np.sin(th) * k + (1 - np.cos(th)) * k @ k
    if atoms == "downstream":
        moving = [at for at in res if at.name in ("O", "OXT")]
        moving += [at for r in list(chain)[res_index + 1:] for at in r]
    else:
        moving = [at for at in res if at.name in atoms]
    for at in moving:
        p = rot @ (np.array(at.pos.tolist()) - a) + a
        at.pos = type(at.pos)(*p)


# --- reference data -----------------------------------------------------------------------

def test_missing_tables_give_a_clear_reason(monkeypatch, tmp_path, adk):
    monkeypatch.setenv("CRYONB_TOP8000", str(tmp_path))
    with pytest.raises(MetricUnavailable, match=r"^rama: not computed \(.*CRYONB_TOP8000"):
        ramachandran(adk)
    with pytest.raises(MetricUnavailable, match=r"^rotamer: not computed \(.*not found"):
        rotamers(adk)
    monkeypatch.setenv("CRYONB_TOP8000", str(tmp_path / "nowhere"))
    with pytest.raises(InputFileError, match="nowhere.*CRYONB_TOP8000"):
        ramachandran(adk)


def test_no_top8000_anywhere(monkeypatch, tmp_path, adk):
    monkeypatch.delenv("CRYONB_TOP8000", raising=False)
    monkeypatch.setenv("CRYONB_DATA", str(tmp_path))
    monkeypatch.setattr(reference_data, "__file__", str(tmp_path / "a" / "b" / "c.py"))
    assert top8000_dir() is None
    with pytest.raises(MetricUnavailable) as err:
        ramachandran(adk)
    assert str(err.value) == "rama: not computed (Top8000 tables not found; set CRYONB_TOP8000)"


@needs_top8000
def test_interpolation_hits_table_nodes_and_wraps():
    grid = reference_data.load_grid("rama", "rama/rama8000-general-noGPIVpreP.data")
    assert grid.values.shape == (180, 180)
    # bin centres are odd degrees: (-31, -63) is a node listed in the file
    assert rama_scores(["general"], [-31.0], [-63.0])[0] == pytest.approx(0.0015975298571359944)
    a, b = rama_scores(["general"] * 2, [-179.9, 180.1], [20.0, 20.0])
    assert a == pytest.approx(b)


# --- dihedrals ----------------------------------------------------------------------------

def test_dihedrals_match_gemmi(adk):
    import gemmi
    t = residue_torsions(adk)
    chain = adk[0][0]
    assert len(t) == 214 and t.resname[0] == "MET"
    for i in (1, 50, 120, 212):
        phi, psi = gemmi.calculate_phi_psi(chain[i - 1], chain[i], chain[i + 1])
        assert t.phi[i] == pytest.approx(np.degrees(phi), abs=1e-6)
        assert t.psi[i] == pytest.approx(np.degrees(psi), abs=1e-6)
        assert t.omega[i] == pytest.approx(np.degrees(gemmi.calculate_omega(chain[i - 1], chain[i])),
                                           abs=1e-6)
    assert np.isnan(t.phi[0]) and np.isnan(t.psi[-1]) and np.isnan(t.omega[0])
    ile = _index(adk, 3)
    r = chain[ile]
    chi2 = gemmi.calculate_dihedral(*(r[n][0].pos for n in ("CA", "CB", "CG1", "CD1")))
    assert t.chi[ile, 1] == pytest.approx(np.degrees(chi2), abs=1e-6)
    assert np.isnan(t.chi[ile, 2:]).all()


def test_dihedral_sign_convention():
    # a right-handed quadruple: looking down b->c, d is 90 degrees clockwise of a
    quad = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 1, 1]])
    assert dihedral_angles(quad) == pytest.approx(90.0)
    assert dihedral_angles(np.stack([quad, quad[[3, 2, 1, 0]]])) == pytest.approx([90.0, 90.0])


@needs_top8000
def test_chain_break_and_missing_atoms(adk):
    st = adk.clone()
    chain = st[0][0]
    del chain[_index(st, 100)]                 # residue 100 gone: a break between 99 and 101
    chain[_index(st, 50)].remove_atom("NZ", "*")
    t = residue_torsions(st)
    i99, i101, i50 = (list(t.seqid).index(s) for s in ("99", "101", "50"))
    assert np.isnan(t.psi[i99]) and t.next_resname[i99] == ""
    assert np.isnan(t.phi[i101]) and np.isnan(t.omega[i101]) and np.isfinite(t.psi[i101])
    assert np.isfinite(t.chi[i50, :3]).all() and np.isnan(t.chi[i50, 3])
    assert ramachandran(st).n_evaluated == 212 - 3
    assert "50" not in [r.seqid for r in rotamers(st).residues]


# --- Ramachandran -------------------------------------------------------------------------

@needs_top8000
def test_adk_rama_matches_ramalyze(adk):
    result = ramachandran(adk)
    # ramalyze: 212 evaluated, 95.75 % favoured, no outliers; Glu161 scores 0.15329 %
    assert result.n_evaluated == 212
    assert result.favored_pct == pytest.approx(95.7547, abs=1e-3)
    assert result.n_outliers == 0 and result.outliers_pct == 0.0
    by_id = {r.seqid: r for r in result.residues}
    assert by_id["161"].score == pytest.approx(0.0015328844, rel=1e-5)
    assert by_id["161"].category == "allowed"
    assert by_id["29"].rama_class == "ile-val" and by_id["29"].score == pytest.approx(0.008134881, rel=1e-5)


@needs_top8000
def test_rama_classes(adk):
    result = ramachandran(adk)
    t = residue_torsions(adk)
    by_id = {r.seqid: r for r in result.residues}
    for r in result.residues:
        if r.resname == "GLY":
            assert r.rama_class == "gly"
        elif r.resname == "PRO":
            assert r.rama_class in ("cis-pro", "trans-pro")
    cis = [r.seqid for r in result.residues if r.rama_class == "cis-pro"]
    assert cis == ["87"] and is_cis(t.omega[list(t.seqid).index("87")])
    assert by_id["86"].rama_class == "pre-pro" and by_id["8"].rama_class == "pre-pro"
    assert by_id["9"].rama_class == "trans-pro"


@needs_top8000
def test_forbidden_psi_makes_an_outlier(adk):
    st = adk.clone()
    i = _index(st, 22)                         # Glu22, inside a helix
    t0 = residue_torsions(st)
    assert abs(t0.phi[i] + 63) < 15 and abs(t0.psi[i] + 42) < 15
    _rotate_after(st, i, ("CA", "C"), -120.0 - t0.psi[i], "downstream")
    t1 = residue_torsions(st)
    assert t1.psi[i] == pytest.approx(-120.0, abs=1e-6)
    changed = np.flatnonzero(~np.isclose(np.nan_to_num(t0.psi), np.nan_to_num(t1.psi)))
    assert list(changed) == [i]
    before = {r.seqid: r.category for r in ramachandran(adk).residues}
    after = {r.seqid: r.category for r in ramachandran(st).residues}
    assert before["22"] == "favored" and after["22"] == "outlier"
    assert {k: v for k, v in after.items() if k != "22"} == {k: v for k, v in before.items() if k != "22"}


@needs_top8000
def test_coordinate_noise_creates_outliers(adk):
    st = adk.clone()
    rng = np.random.default_rng(1)
    for res in st[0][0]:
        for at in res:
            at.pos = type(at.pos)(*(np.array(at.pos.tolist()) + rng.normal(0, 0.3, 3)))
    noisy_rama, noisy_rot = ramachandran(st), rotamers(st)
    assert noisy_rama.outliers_pct > 10 and noisy_rot.outliers_pct > 20
    assert noisy_rama.n_evaluated < 212          # some C-N links stretched beyond 2.0 A


# --- rotamers -----------------------------------------------------------------------------

@needs_top8000
def test_adk_rotamers_match_rotalyze(adk):
    result = rotamers(adk)
    # rotalyze on grid types (ARG/LYS scored with these grids): 175 evaluated, 6 outliers
    assert result.n_evaluated == 175 and result.not_evaluated == {}
    assert sorted(r.seqid for r in result.outliers) == sorted(["2", "40", "74", "75", "98", "160"])
    assert result.outliers_pct == pytest.approx(100 * 6 / 175)
    assert result.favored_pct == pytest.approx(88.5714, abs=1e-3)
    assert "GLY" not in result.residue_types and "ALA" not in result.residue_types
    by_id = {r.seqid: r for r in result.residues}
    assert by_id["1"].score == pytest.approx(0.00333, abs=1e-5) and by_id["1"].rotamer == "tmm"
    assert by_id["4"].rotamer == "mt" and by_id["9"].rotamer == "Cg_exo"


@needs_top8000
def test_eclipsed_chi1_is_an_outlier(adk):
    st = adk.clone()
    i = _index(st, 4)                          # Ile4, favoured mt rotamer
    before = {r.seqid: r for r in rotamers(st).residues}["4"]
    assert before.category == "favored"
    _rotate_after(st, i, ("CA", "CB"), 0.0 - before.chis[0], ["CG1", "CG2", "CD1"])
    after = {r.seqid: r for r in rotamers(st).residues}["4"]
    assert after.chis[0] == pytest.approx(0.0, abs=1e-6)
    assert after.chis[1] == pytest.approx(before.chis[1], abs=1e-6)
    assert after.category == "outlier" and after.rotamer == "OUTLIER"


@needs_top8000
def test_symmetric_chis_fold():
    # Phe/Tyr chi2, Asp chi2 and Glu chi3 are scored modulo 180
    assert rotamer_scores("PHE", [[-66.8, -80.6]])[0] == pytest.approx(
        rotamer_scores("PHE", [[-66.8, 99.4]])[0])
    assert rotamer_scores("ASP", [[-68.8, -29.2]])[0] == pytest.approx(
        rotamer_scores("ASP", [[-68.8, 150.8]])[0])
    assert rotamer_names("TYR", [[-66.8, 99.4]]) == ["m-80"]


@needs_top8000
@pytest.mark.parametrize("resname", ["ARG", "LYS"])
def test_built_arg_lys_grids(resname):
    import csv
    path = reference_data.require_table("rotamer", f"rotamer_central_values/{resname}.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    chis = np.array([[float(r[f"chi{i}_mean"]) for i in range(1, 5)] for r in rows])
    freq = np.array([float(r["frequency%"]) for r in rows])
    scores = rotamer_scores(resname, chis)
    assert (scores >= 0.003).all()                      # every named rotamer is allowed
    assert (scores[freq >= 1.0] >= 0.02).all()          # common ones are favoured
    assert rotamer_names(resname, chis) == [r["rotamer"] for r in rows]
    eclipsed = np.array([[0, 0, 0, 0], [0, 180, 180, 180], [-65, 0, 180, 180]])   # chi1 or chi2 = 0
    assert (rotamer_scores(resname, eclipsed) < 0.003).all()


@needs_top8000
def test_built_grids_reproduce_molprobity():
    # percent scores MolProbity's own ARG/LYS grids give at these chi angles
    cases = [("LYS", [-175.6, 176.2, -172.0, -174.2], 81.8), ("LYS", [-179.3, -179.4, -151.1, -49.3], 13.1),
             ("LYS", [-71.7, -173.9, 179.2, 179.4], 94.0), ("LYS", [-60.8, 169.3, 148.9, -89.1], 5.7),
             ("LYS", [-61.5, 173.7, -111.9, -58.8], 2.2), ("ARG", [161.7, 173.6, 174.2, -106.7], 20.5),
             ("ARG", [-55.9, -71.7, 114.2, -128.0], 0.4), ("ARG", [-146.6, 157.6, 92.9, -95.5], 0.9)]
    for resname, chis, percent in cases:
        assert 100 * rotamer_scores(resname, [chis])[0] == pytest.approx(percent, abs=0.5)


# --- corpus -------------------------------------------------------------------------------

@needs_top8000
def test_corpus_xray_chains_look_like_good_structures():
    n = fav = out = n_rot = out_rot = 0
    for entry in data.corpus_entries():
        if entry.source != "dssp":
            continue
        st = data.load_corpus_structure(entry.name)
        rama, rot = ramachandran(st), rotamers(st)
        assert all(r.rama_class == "gly" for r in rama.residues if r.resname == "GLY")
        assert all(r.rama_class.endswith("pro") for r in rama.residues if r.resname == "PRO")
        n += rama.n_evaluated
        fav += rama.favored_pct * rama.n_evaluated / 100
        out += rama.n_outliers
        n_rot += rot.n_evaluated
        out_rot += rot.n_outliers
    assert n > 5000
    assert 100 * fav / n > 95 and 100 * out / n < 1
    assert 100 * out_rot / n_rot < 7


_RAMALYZE = """
import io, json, sys
import iotbx.pdb
from mmtbx.validation.ramalyze import ramalyze
h = iotbx.pdb.input(file_name=sys.argv[1]).construct_hierarchy()
res = ramalyze(pdb_hierarchy=h, out=io.StringIO(), quiet=True).results
print(json.dumps({r.resseq.strip(): [r.score, r.is_outlier()] for r in res}))
"""


@needs_top8000
def test_ramalyze_cross_check_if_cctbx_is_installed(adk, tmp_path):
    """Per-residue agreement with cctbx's ramalyze on AdK with 0.3 A noise (cctbx runs in a
    subprocess: importing it next to gemmi can crash the interpreter)."""
    import importlib.util
    import json
    import subprocess
    import sys

    from cryonb.io import read_model, write_model
    if importlib.util.find_spec("mmtbx") is None:
        pytest.skip("cctbx (mmtbx) is not installed")
    st = adk.clone()
    rng = np.random.default_rng(2)
    for res in st[0][0]:
        for at in res:
            at.pos = type(at.pos)(*(np.array(at.pos.tolist()) + rng.normal(0, 0.3, 3)))
    write_model(st, tmp_path / "noisy.pdb")
    run = subprocess.run([sys.executable, "-c", _RAMALYZE, str(tmp_path / "noisy.pdb")],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.skip(f"cctbx ramalyze did not run: {run.stderr.strip()[-300:]}")
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    ours = {r.seqid: r for r in ramachandran(read_model(tmp_path / "noisy.pdb")).residues}
    assert set(ours) == set(theirs)
    for key, r in ours.items():
        assert 100 * r.score == pytest.approx(theirs[key][0], rel=1e-4, abs=1e-6)
        assert (r.category == "outlier") == theirs[key][1]


@needs_top8000
def test_grid_text_round_trip(tmp_path):
    grid = reference_data.load_grid("rotamer", "rotamer_grids/rota8000-glu.data")
    reference_data.write_grid(grid, tmp_path / "glu.data")
    again = reference_data.read_grid(tmp_path / "glu.data")
    assert again.name == "Top8000 Glu" and again.values.shape == (45, 45, 23)
    np.testing.assert_allclose(again.values, grid.values, rtol=1e-15)


@needs_top8000
def test_rna_has_nothing_to_evaluate():
    st = data.load_corpus_structure("1K5I")
    assert ramachandran(st).n_evaluated == 0 and rotamers(st).n_evaluated == 0
