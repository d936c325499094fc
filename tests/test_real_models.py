"""Real models as deposited: ligands restrained from the CCD, unknown residues held, waters and ions
tethered, struct_conn and metal links, odd files (no element columns, deuterium, a chain twice)."""
from __future__ import annotations

import bz2
import warnings

import gemmi
import numpy as np
import pytest
import torch

from cryonb.data.sources import mdanalysis_test_file
from cryonb.errors import ModelError
from cryonb.geometry.library import RestraintLibrary
from cryonb.geometry.topology import build_topology
from cryonb.io import read_model, write_model
from cryonb.refinement.geometry_only import GeometryRefineConfig, refine_geometry
from cryonb.validation.geometry import clash_list, covalent_geometry

biotite_info = pytest.importorskip("biotite.structure.info")


pytestmark = pytest.mark.usefixtures("one_thread")


def ccd_structure(name: str) -> gemmi.Structure:
    """One CCD component at its ideal coordinates, heavy atoms only, as chain A residue 1."""
    arr = biotite_info.residue(name)
    res = gemmi.Residue()
    res.name, res.seqid, res.het_flag = name, gemmi.SeqId(1, " "), "H"
    for atom_name, element, xyz in zip(arr.atom_name, arr.element, arr.coord):
        if element in ("H", "D"):
            continue
        atom = gemmi.Atom()
        atom.name, atom.element, atom.pos = str(atom_name), gemmi.Element(str(element)), gemmi.Position(*map(float, xyz))
        atom.occ, atom.b_iso = 1.0, 20.0
        res.add_atom(atom)
    chain = gemmi.Chain("A")
    chain.add_residue(res)
    model = gemmi.Model("1")
    model.add_chain(chain)
    st = gemmi.Structure()
    st.add_model(model)
    st.setup_entities()
    st.name = name
    return st


@pytest.fixture(scope="module")
def protease():
    """HIV protease 4E43 as deposited: two chains, ACT/BME/DMS/GOL ligands, waters, altlocs."""
    return read_model(mdanalysis_test_file("4E43.pdb"))


def test_haem_is_restrained_from_the_ccd_with_its_iron_in_the_pyrrole_planes():
    lib = RestraintLibrary()
    t = lib.template("HEM", "free")
    assert lib.origin("HEM") == "CCD" and t is not None
    fe = t.index("FE")
    fe_n = {t.atoms[b if a == fe else a]: v for (a, b), v in zip(t.bonds.tolist(), t.bond_ideal) if fe in (a, b)}
    assert set(fe_n) == {"NA", "NB", "NC", "ND"}
    assert all(abs(v - 2.03) < 1e-6 for v in fe_n.values())    # typical Fe-N, not the CCD's poor values
    assert not any(fe in a for a in t.angles.tolist())         # no angle through the metal
    assert sum(fe in p for p, _ in t.planes) >= 4              # the iron sits in each pyrrole's plane


def test_ccd_stereo_centres_are_signed_as_the_dictionary_has_them():
    t = RestraintLibrary().template("ATP", "free")
    signed = {t.atoms[c[0]]: s for c, s in zip(t.chirals.tolist(), t.chiral_sign) if s != 0}
    assert set(signed) == {"C1'", "C2'", "C3'", "C4'"}         # the ribose R/S centres in the CCD
    xyz = torch.as_tensor(t.ideal_xyz)
    vol = ((xyz[t.chirals[:, 1]] - xyz[t.chirals[:, 0]])
           * torch.cross(xyz[t.chirals[:, 2]] - xyz[t.chirals[:, 0]],
                         xyz[t.chirals[:, 3]] - xyz[t.chirals[:, 0]], dim=-1)).sum(-1).numpy()
    ok = t.chiral_sign != 0
    assert np.all(np.sign(vol[ok]) == t.chiral_sign[ok])


def test_a_distorted_haem_is_regularised_by_its_ccd_restraints():
    st = ccd_structure("HEM")
    rng = np.random.default_rng(0)
    for atom in st[0][0][0]:
        atom.pos = atom.pos + gemmi.Position(*rng.normal(0, 0.25, 3))
    topo = build_topology(st, warn=False)
    assert not topo.atoms.held.any() and topo.atoms.restrained.all()
    before, _ = covalent_geometry(topo, topo.xyz(st))
    result = refine_geometry(st, GeometryRefineConfig(steps=200, tether_sigma=2.0))
    after, _ = covalent_geometry(topo, result.xyz)
    assert before["ligand_bond_rmsz"] > 5 and after["ligand_bond_rmsz"] < 1.0
    assert after["ligand_angle_rmsz"] < 1.0
    x = result.xyz
    fe = topo.residues[0].atoms["FE"]
    d = [np.linalg.norm(x[fe] - x[topo.residues[0].atoms[n]]) for n in ("NA", "NB", "NC", "ND")]
    assert np.allclose(d, 2.03, atol=0.1)
    ring = [topo.residues[0].atoms[n] for n in ("NA", "NB", "NC", "ND", "FE")]
    q = x[ring] - x[ring].mean(0)
    assert np.linalg.svd(q)[1][-1] / np.sqrt(5) < 0.1          # Fe and the four N stay coplanar


def test_an_unknown_residue_is_held_fixed_and_named(protease):
    st = protease.clone()
    renamed = 0
    for ch in st[0]:
        for res in ch:
            if res.name == "GOL":
                res.name = "QZ9"   # in no library
                renamed += 1
    assert renamed and RestraintLibrary().template("QZ9", "free") is None
    topo = build_topology(st, warn=False)
    held = topo.atoms.held
    assert held.sum() == sum(len(r.atoms) for r in topo.residues if r.name == "QZ9")
    assert any("held fixed" in n and "QZ9" in n for n in topo.notes)
    result = refine_geometry(st, GeometryRefineConfig(steps=30))
    x0 = topo.xyz(st)
    assert np.array_equal(result.xyz[held], x0[held])           # never moved
    assert np.abs(result.xyz[~held] - x0[~held]).max() > 0.01    # everything else did


def test_waters_are_tethered_and_take_part_in_clashes(protease):
    topo = build_topology(protease, warn=False)
    water = topo.atoms.water
    assert water.sum() == sum(r.name == "HOH" for r in topo.residues) > 50
    assert np.array_equal(topo.atoms.tethered, water)            # 4E43 has no ions
    x = topo.xyz(protease)
    lib = RestraintLibrary()
    base, _, _ = clash_list(topo, lib, x)
    # put one water 2.0 Å from a protein C-alpha: a clash the score must see
    ca = next(r.atoms["CA"] for r in topo.residues if r.name == "ALA")
    w = np.flatnonzero(water)[0]
    moved = x.copy()
    moved[w] = x[ca] + np.array([2.0, 0.0, 0.0])
    score, pairs, _ = clash_list(topo, lib, moved)
    assert score > base and any("HOH" in p.residue or "HOH" in p.atoms for p in pairs)
    result = refine_geometry(protease, GeometryRefineConfig(steps=30))
    assert np.linalg.norm(result.xyz[water] - x[water], axis=1).max() < 0.5


def test_struct_conn_metal_links_are_restrained_and_found_by_distance_without_records():
    from cryonb.data.sources import cache_dir
    plain = cache_dir() / "corpus" / "6msm.pdb"
    if not plain.exists():
        plain.parent.mkdir(parents=True, exist_ok=True)
        plain.write_bytes(bz2.decompress(mdanalysis_test_file("6msm.pdb.bz2").read_bytes()))
    st = read_model(plain)
    topo = build_topology(st, warn=False)
    metal = [lk for lk in topo.links if lk.name == "metal"]
    assert len(metal) == 8                                        # the file's 8 MetalC records
    r = topo.restraints
    mg = {topo.residues[lk.i].atoms[lk.atoms[0]] for lk in metal} | {topo.residues[lk.j].atoms[lk.atoms[1]] for lk in metal}
    pairs = {tuple(sorted(b)) for b in r.bonds.tolist()}
    for lk in metal:
        a, b = topo.residues[lk.i].atoms[lk.atoms[0]], topo.residues[lk.j].atoms[lk.atoms[1]]
        assert tuple(sorted((a, b))) in pairs and a in mg
    k = [i for i, b in enumerate(r.bonds.tolist()) if any(x in mg and topo.atoms.elements[x] == "Mg" for x in b)]
    assert np.allclose(r.bond_ideal[k], 2.07) and np.allclose(r.bond_sigma[k], 0.1)
    # without the records, every donor within reach of a Mg is linked by distance
    bare = st.clone()
    bare.connections.clear()
    found = [lk for lk in build_topology(bare, warn=False).links if lk.name == "metal"]
    assert len(found) >= 6
    assert any("found by distance" in n for n in build_topology(bare, warn=False).notes)


def test_pdb_without_element_columns_reads_c_alpha_as_carbon_and_says_so(adk_closed, tmp_path):
    st = adk_closed.clone()
    ion = gemmi.Residue()
    ion.name, ion.seqid, ion.het_flag = "CA", gemmi.SeqId(500, " "), "H"
    atom = gemmi.Atom()
    atom.name, atom.element, atom.pos = "CA", gemmi.Element("Ca"), gemmi.Position(60, 60, 60)
    ion.add_atom(atom)
    st[0][0].add_residue(ion)
    path = tmp_path / "with_elements.pdb"
    write_model(st, path)
    lines = [ln[:76] + "  " + ln[78:] if ln.startswith(("ATOM", "HETATM")) else ln
             for ln in path.read_text().splitlines()]
    bare = tmp_path / "no_elements.pdb"
    bare.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="no element symbols"):
        read = read_model(bare)
    elements = {(r.name, a.name): a.element.name for r in read[0][0] for a in r}
    assert elements[("ALA", "CA")] == "C" and elements[("CA", "CA")] == "Ca"
    assert all(a.element.name in ("C", "N", "O", "S") for r in read[0][0] if r.name != "CA" for a in r)


def test_a_chain_present_twice_is_refused(adk_closed, tmp_path):
    path = tmp_path / "twice.pdb"
    write_model(adk_closed, path)
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() != "END"]
    atoms = [ln for ln in lines if ln.startswith("ATOM")]
    path.write_text("\n".join(lines + atoms + ["END"]) + "\n")
    with pytest.raises(ModelError, match="present twice"):
        read_model(path)


def test_a_deuterated_model_with_altlocs_and_an_unknown_atom_refines(tmp_path):
    """5PTI as distributed: H and D atoms, altlocs, heavy water, phosphate, a UNX atom."""
    from cryonb.density import SimulationConfig, simulate_map
    from cryonb.refinement import RefineConfig, StageConfig, refine
    st = read_model(mdanalysis_test_file("mmcif/5PTI.cif.gz"))
    for atom in st[0]["A"][14]:          # Lys15's side chain unobserved: zero occupancy
        if atom.name not in ("N", "CA", "C", "O"):
            atom.occ = 0.0
    topo = build_topology(st, warn=False)
    assert not any(gemmi.Element(e).atomic_number == 1 for e in topo.atoms.elements)
    unx = [i for r in topo.residues if r.name == "UNX" for i in r.atoms.values()]
    assert unx and topo.atoms.tethered[unx].all()                  # an unknown ion: tethered
    assert topo.atoms.water.sum() > 50                             # DOD counted as water
    clean = st.clone()
    clean.remove_hydrogens()
    m = simulate_map(clean, SimulationConfig(resolution=4.0, voxel_size=1.0))
    short = StageConfig(iterations=2, round_length=2, batch=4)
    cfg = RefineConfig(threads=1, n_patches=8, patches=short, residues=short, atoms=short,
                       polish_steps=10, rebuild_rotamers=False, n_orientations=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = refine(st, m, 4.0, cfg, validate=False)
    assert any("hydrogen atoms in the file ignored" in n for n in result.notes)
    assert any("zero occupancy add no density" in n and "A/LYS15" in n for n in result.notes)
    # the output is the refined conformer, heavy atoms only, and says what it left out
    written = [a for ch in result.structure[0] for r in ch for a in r]
    assert not any(a.is_hydrogen() or a.altloc != "\0" for a in written)
    assert len(written) == result.topology.n_atoms
    assert any("first conformer only" in n for n in result.notes)
    moved = np.linalg.norm(result.xyz - result.start_xyz, axis=1)
    assert moved.max() > 0.01 and moved[result.topology.atoms.tethered].max() < 1.0   # ~3 tether sigmas


def test_ligand_geometry_is_reported_apart_from_the_polymer(protease):
    topo = build_topology(protease, warn=False)
    out, _ = covalent_geometry(topo, topo.xyz(protease))
    assert out["n_ligand_bonds"] > 0 and out["ligand_bond_rmsz"] is not None
    polymer_only = protease.clone()
    polymer_only.remove_ligands_and_waters()
    t2 = build_topology(polymer_only, warn=False)
    out2, _ = covalent_geometry(t2, t2.xyz(polymer_only))
    assert out2["n_ligand_bonds"] == 0 and out2["ligand_bond_rmsz"] is None
    assert out2["n_bonds"] == out["n_bonds"] and out2["bond_rmsz"] == pytest.approx(out["bond_rmsz"])


# ----------------------------------------------------------------------------- refinement does no harm
def _rotate_about(x: np.ndarray, moving: np.ndarray, a: np.ndarray, b: np.ndarray, degrees: float) -> np.ndarray:
    """Turn atoms ``moving`` of ``x`` about the axis a -> b (Rodrigues)."""
    k = (b - a) / np.linalg.norm(b - a)
    t = np.radians(degrees)
    v = x[moving] - a
    out = x.copy()
    out[moving] = a + v * np.cos(t) + np.cross(k, v) * np.sin(t) + np.outer(v @ k, k) * (1 - np.cos(t))
    return out


def test_omega_and_cbeta_terms_undo_a_twisted_peptide_and_a_displaced_cbeta(adk_closed):
    from cryonb.validation.geometry import cbeta_deviations, omega_summary
    st = adk_closed.clone()
    topo = build_topology(st, warn=False)
    x = topo.xyz(st)
    deposited = (cbeta_deviations(topo, x)[0] >= 0.25).sum()   # 1AKE has one (0.27 Å)
    # twist the peptide 100-101 by 40 degrees: everything after C(100) turns about C(100)-N(101)
    k = next(i for i, r in enumerate(topo.residues) if r.seqid == "101")
    c, n = topo.residues[k - 1].atoms["C"], topo.residues[k].atoms["N"]
    after = np.flatnonzero(topo.atoms.residue >= k)
    twisted = _rotate_about(x, after[after != n], x[c], x[n], 40.0)
    cb = topo.residues[20].atoms["CB"]
    twisted[cb] += np.array([0.5, 0.0, 0.0])
    topo.set_xyz(st, twisted)
    assert omega_summary(topo, twisted)["n_twisted"] == 1
    assert (cbeta_deviations(topo, twisted)[0] >= 0.25).sum() >= 1
    result = refine_geometry(st, GeometryRefineConfig(steps=150, tether_sigma=2.0))   # a loose tether
    assert omega_summary(topo, result.xyz)["n_twisted"] == 0
    dev, rows = cbeta_deviations(topo, result.xyz)
    assert dev[rows.index(20)] < 0.25 and (dev >= 0.25).sum() <= deposited


def test_the_residue_stage_holds_peptides_planar():
    from cryonb.refinement.stages import GEOMETRY_TERMS
    from cryonb.series.train import SERIES_GEOMETRY_TERMS
    assert {"planarity", "omega"} <= set(GEOMETRY_TERMS["residues"])
    assert {"omega", "cbeta"} <= set(GEOMETRY_TERMS["atoms"])
    # the series keeps the terms its DIMS benchmark was measured with
    assert "omega" not in SERIES_GEOMETRY_TERMS["residues"] + SERIES_GEOMETRY_TERMS["atoms"]


def test_a_model_in_place_skips_the_fine_patches_rigid_residues_and_atoms():
    from cryonb.refinement import RefineConfig
    from cryonb.refinement.plan import IN_PLACE, skip_in_place
    from cryonb.refinement.stages import StageResult
    x0 = np.zeros((50, 3))
    small = StageResult("patches_coarse", x0 + 0.5 * IN_PLACE, {}, 0.0, 1.0)
    large = StageResult("patches_coarse", x0 + 1.5 * IN_PLACE / np.sqrt(3), {}, 0.0, 1.0)
    for step in ("patches", "residues", "atoms"):
        assert "skipped" in skip_in_place(step, RefineConfig(), [small], x0)
        assert skip_in_place(step, RefineConfig(), [large], x0) is None
        assert skip_in_place(step, RefineConfig(in_place=False), [small], x0) is None
        assert skip_in_place(step, RefineConfig(), [], x0) is None      # no coarse step: nothing to judge
        assert "skipped" in skip_in_place(step, RefineConfig(in_place=True), [], x0)
    assert skip_in_place("residues", RefineConfig(stages=("patches", "residues")), [small], x0) is None
    assert skip_in_place("polish", RefineConfig(in_place=True), [small], x0) is None


def test_the_coarse_move_of_a_model_in_place_is_undone_and_still_reported():
    from cryonb.refinement import RefineConfig
    from cryonb.refinement.plan import IN_PLACE, coarse_shift, keep_model_in_place, skip_in_place
    from cryonb.refinement.stages import StageResult
    x0 = np.random.default_rng(0).normal(size=(50, 3))
    small = StageResult("patches_coarse", x0 + 0.4 * IN_PLACE / np.sqrt(3), {}, 0.0, 1.0)
    kept = keep_model_in_place(small, RefineConfig(), x0)
    assert np.array_equal(kept.xyz, x0) and "undone" in kept.notes[-1]
    assert coarse_shift([kept], x0) == pytest.approx(0.4 * IN_PLACE)         # the move it made, not 0
    assert "moved the model 0.40" in skip_in_place("residues", RefineConfig(), [kept], x0)
    large = StageResult("patches_coarse", x0 + 1.2 * IN_PLACE / np.sqrt(3), {}, 0.0, 1.0)
    assert keep_model_in_place(large, RefineConfig(), x0) is large               # a motion: kept
    assert keep_model_in_place(small, RefineConfig(in_place=False), x0) is small
    assert keep_model_in_place(small, RefineConfig(stages=("patches", "residues")), x0) is small
    fine = StageResult("patches", small.xyz, {}, 0.0, 1.0)
    assert keep_model_in_place(fine, RefineConfig(), x0) is fine                 # only the coarse step


def test_the_polish_tether_tightens_at_low_resolution_but_not_past_its_floor():
    from cryonb.refinement import RefineConfig
    from cryonb.refinement.steps import TETHER_FLOOR, polish_tether
    cfg = RefineConfig()
    assert polish_tether(cfg, None) == polish_tether(cfg, 3.0) == polish_tether(cfg, 3.5) == cfg.polish_tether
    values = [polish_tether(cfg, r) for r in (4.0, 5.0, 6.0, 8.0, 15.0)]
    assert all(a > b for a, b in zip(values[:3], values[1:4]))
    assert values[1] == pytest.approx(0.5 * (3.5 / 5.0) ** 2)
    assert values[-1] == values[-2] == TETHER_FLOOR
    assert polish_tether(RefineConfig(polish_tether=0.05), 8.0) == 0.05       # a tighter choice is kept


def test_a_refinement_that_worsens_the_model_says_so():
    from cryonb.validation.compare import worse_than_input
    before = {"clashscore": 3.0, "n_twisted": 0, "ligand_bond_rmsz": 0.8, "rama_outliers": 1}
    same = dict(before, clashscore=3.04)
    assert worse_than_input(before, same) == []
    worse = {"clashscore": 5.2, "n_twisted": 2, "ligand_bond_rmsz": 1.4, "rama_outliers": 0}
    found = worse_than_input(before, worse)
    assert len(found) == 3 and any("twisted" in f for f in found) and any("ligand bond" in f for f in found)
    assert worse_than_input(before, {"clashscore": None}) == []


def test_a_charmm_model_is_read_with_pdb_names_and_says_so():
    """MDAnalysis' AdK as distributed: CHARMM names (HSD/HSE/HSP, ILE CD, OT1/OT2), hydrogens, no
    element columns. HSD and CLA are other CCD components, so the names must be mapped first."""
    with pytest.warns(UserWarning, match="CHARMM names read as PDB names"):
        st = read_model(mdanalysis_test_file("adk_open.pdb"))
    names = {r.name for r in st[0][0]}
    assert "HIS" in names and not names & {"HSD", "HSE", "HSP"}
    topo = build_topology(st, warn=False)
    assert not topo.atoms.held.any() and topo.n_atoms == 1656       # every heavy atom restrained
    assert all(r.template is not None for r in topo.residues)


def test_alternate_conformers_and_file_hydrogens_move_with_the_refined_atoms():
    st = read_model(mdanalysis_test_file("mmcif/5PTI.cif.gz"))      # altlocs, H and D atoms
    topo = build_topology(st, warn=False)
    x0 = topo.xyz(st)
    rng = np.random.default_rng(1)
    shift = rng.normal(0, 0.5, x0.shape)
    out = st.clone()
    topo.set_xyz(out, x0 + shift)
    moved = 0
    for c, (ch0, ch1) in enumerate(zip(st[0], out[0])):
        for r, (res0, res1) in enumerate(zip(ch0, ch1)):
            first = {res0[a].name: k for k, (cc, rr, a) in enumerate(topo.gemmi_index) if (cc, rr) == (c, r)}
            for a0, a1 in zip(res0, res1):
                if a0.is_hydrogen() or a0.altloc not in ("\0", "A"):
                    d = np.array(a1.pos.tolist()) - np.array(a0.pos.tolist())
                    k = first.get(a0.name)
                    if k is not None:                               # an alternate: its partner's shift
                        assert np.allclose(d, shift[k], atol=1e-6)
                    assert np.linalg.norm(d) > 0                    # nothing left behind
                    moved += 1
    assert moved > 500


def test_a_map_smaller_than_the_model_tethers_the_residues_it_does_not_cover(adk_closed):
    """A cut-out covering part of AdK: residues beyond its faces (or near them) are not pulled by the
    map but tethered, and their restraints still regularise them; the rest refine."""
    from cryonb.density import SimulationConfig, simulate_map
    from cryonb.maps import Map
    from cryonb.perturb import jitter
    from cryonb.refinement import RefineConfig, StageConfig, refine
    full = simulate_map(adk_closed, SimulationConfig(resolution=4.0, voxel_size=1.0))
    keep = full.shape[2] * 2 // 3
    cut = Map(full.data[:, :, :keep].copy(), full.voxel_size, full.origin, "cut-out.mrc")
    start = jitter(adk_closed, 0.3, seed=1)
    short = StageConfig(iterations=2, round_length=2, batch=4)
    cfg = RefineConfig(threads=1, n_patches=8, patches=short, residues=short, atoms=short,
                       polish_steps=100, rebuild_rotamers=False, n_orientations=8)
    result = refine(start, cut, 4.0, cfg, validate=False)
    outside = ~cut.contains(result.start_xyz)
    tethered = result.topology.atoms.tethered
    assert outside.sum() > 100 and tethered[outside].all()
    assert tethered.sum() > outside.sum()                       # whole residues, and the edge margin
    moved = np.linalg.norm(result.xyz - result.start_xyz, axis=1)
    assert np.median(moved[tethered]) < 0.5 and np.median(moved[~tethered]) > 0.01
    topo = result.topology
    bonds = topo.restraints.bonds
    out_bonds = tethered[bonds].all(axis=1)

    def bond_error(x):
        d = np.linalg.norm(x[bonds[:, 0]] - x[bonds[:, 1]], axis=1)
        return np.sqrt(np.mean((d - topo.restraints.bond_ideal) ** 2 * out_bonds) / out_bonds.mean())

    assert bond_error(result.xyz) < 0.5 * bond_error(result.start_xyz)   # regularised, not frozen
    assert any("not pulled by the map and tethered" in n for n in result.notes)


def test_masked_out_voxels_count_as_no_data():
    from cryonb.maps import Map, masked_fill
    data = np.random.default_rng(0).normal(size=(20, 20, 20)).astype(np.float32)
    m = Map(data, 1.0)
    assert masked_fill(m.data) is None and not m.no_data(np.array([[10.0, 10, 10]])).any()
    data[:, :, :] = np.where(np.arange(20)[None, None, :] < 12, data, 0.0)   # x >= 12 masked out
    data[:, :, 0] = data[0] = data[-1] = data[:, 0] = data[:, -1] = 0.0
    masked = Map(data, 1.0)
    assert masked_fill(masked.data) == 0.0
    points = np.array([[6.0, 10, 10], [16.0, 10, 10], [30.0, 10, 10], [10.0, 10, 0.2]])
    assert masked.no_data(points).tolist() == [False, True, True, False]
    assert masked.no_data(points, margin=1.0).tolist() == [False, True, True, True]


def test_a_model_on_the_move_is_not_held_outside_its_map(adk_closed):
    """AdK open starts with its LID partly outside the closed map's box: after a large coarse
    motion nothing is held; after a small one the uncovered residues are."""
    from types import SimpleNamespace

    from cryonb.density import SimulationConfig, simulate_map
    from cryonb.maps import Map
    from cryonb.refinement.plan import IN_PLACE, tether_uncovered
    from cryonb.refinement.stages import StageResult
    full = simulate_map(adk_closed, SimulationConfig(resolution=4.0, voxel_size=1.0))
    cut = Map(full.data[:, :, : full.shape[2] // 2].copy(), full.voxel_size, full.origin)
    topo = build_topology(adk_closed, warn=False)
    x0 = topo.xyz(adk_closed)
    ctx = SimpleNamespace(map=cut, topo=topo, resolution=4.0, map_score=SimpleNamespace(amplitude=torch.ones(len(x0))))
    moving = [StageResult("patches_coarse", x0 + 2 * IN_PLACE, {}, 0.0, 1.0)]
    notes = tether_uncovered(ctx, moving, x0, moving[0].xyz)
    assert "not tethered: the model is moving" in notes[0] and not topo.atoms.tethered.any()
    still = [StageResult("patches_coarse", x0 + 0.1 * IN_PLACE, {}, 0.0, 1.0)]
    notes = tether_uncovered(ctx, still, x0, still[0].xyz)
    outside = cut.no_data(still[0].xyz)
    assert outside.any() and topo.atoms.tethered[outside].all() and "tethered" in notes[0]
    assert (ctx.map_score.amplitude[torch.as_tensor(outside)] == 0).all()
    assert (ctx.map_score.amplitude[torch.as_tensor(~topo.atoms.tethered)] == 1).all()


def test_a_file_with_several_models_says_which_one_is_used(adk_closed):
    from cryonb.io import model_xyz, structure_from_frames
    frames = np.stack([model_xyz(adk_closed) + i for i in range(2)])
    topo = build_topology(structure_from_frames(adk_closed, frames), warn=False)
    assert any("holds 2 models; model 1 only is used" in n for n in topo.notes)
    assert not any("models" in n for n in build_topology(adk_closed, warn=False).notes)


def test_a_patch_move_that_fits_the_map_worse_is_undone(adk_closed):
    from cryonb.density import SimulationConfig, simulate_map
    from cryonb.refinement import RefineConfig
    from cryonb.refinement.pipeline import _context, refine_topology
    from cryonb.refinement.plan import keep_if_map_agrees
    from cryonb.refinement.stages import StageResult
    m = simulate_map(adk_closed, SimulationConfig(resolution=5.0, voxel_size=1.5))
    lib = RestraintLibrary()
    topo = refine_topology(adk_closed, lib)
    true = topo.xyz(adk_closed)
    ctx = _context(adk_closed, topo, lib, true, m, 5.0, RefineConfig(n_orientations=8), torch.device("cpu"))
    off = true + np.array([2.0, -1.0, 0.5])
    closer = keep_if_map_agrees(StageResult("patches_coarse", true.copy(), {}, 0.0, 1.0), ctx, off)
    assert np.array_equal(closer.xyz, true) and not closer.notes
    away = keep_if_map_agrees(StageResult("patches", off.copy(), {}, 0.0, 1.0), ctx, true)
    assert np.array_equal(away.xyz, true) and "undone" in away.notes[0]
    other = keep_if_map_agrees(StageResult("residues", off.copy(), {}, 0.0, 1.0), ctx, true)
    assert np.array_equal(other.xyz, off)                     # only the map-only patch steps are judged


def test_a_cis_peptide_is_kept_from_a_clean_model_and_noise_makes_no_cis():
    """6GYN chain A 460-500 (GLY480-TYR481 cis, |omega| 22 degrees): linked cis as deposited; from
    0.3 Å coordinate noise (a third of the peptides twisted) no non-proline peptide is linked cis, and
    the near-cis ones are named in the notes."""
    from pathlib import Path

    from cryonb.perturb import jitter
    from cryonb.refinement.pipeline import refine_topology
    st = read_model(Path(__file__).parent / "data" / "6gyn_A_460-500.pdb")

    def cis(s):
        topo = refine_topology(s)
        return [f"{topo.residues[l.i].seqid}" for l in topo.links if l.name == "CIS"], topo.notes

    assert cis(st)[0] == ["480"]
    named = 0
    for seed in range(10):
        links, notes = cis(jitter(st, 0.3, seed))
        assert links == [], seed
        named += any("GLY480-TYR481" in n and "linked trans" in n for n in notes)
    assert named > 0   # where the noisy input still looks cis, the notes say it was linked trans
