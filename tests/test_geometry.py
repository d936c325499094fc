"""Restraint library, topology, riding hydrogens and the differentiable geometry terms."""
from __future__ import annotations

import gemmi
import numpy as np
import pytest
import torch

from cryonb.geometry import clashes, terms
from cryonb.geometry.library import RestraintLibrary
from cryonb.geometry.linking import dihedral_deg
from cryonb.geometry.topology import build_topology
from cryonb.perturb import jitter

STANDARD = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
            "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "A", "C", "G", "U", "DA", "DC", "DG", "DT"]


@pytest.fixture(scope="module")
def lib():
    return RestraintLibrary()


@pytest.fixture(scope="module")
def adk_topo(adk_closed, lib):
    return build_topology(adk_closed, lib, warn=False)


def first_residues(st: gemmi.Structure, n: int) -> gemmi.Structure:
    out = st.clone()
    chain = out[0][0]
    for _ in range(len(chain) - n):
        del chain[n]
    return out


def test_tables_cover_standard_residues_in_every_form(lib):
    for name in STANDARD:
        for form in ("internal", "start", "end", "free"):
            t = lib.template(name, form)
            assert t is not None and len(t.bonds) > 5, (name, form)
            assert np.all(t.bond_esd > 0) and np.all((t.bond_ideal > 0.8) & (t.bond_ideal < 2.1))
    ala = lib.template("ALA", "internal")
    assert "OXT" not in ala.atoms and "H2" not in ala.atoms and "H" in ala.atoms
    assert "OXT" in lib.template("ALA", "end").atoms and "H3" in lib.template("ALA", "start").atoms
    assert "H" not in lib.template("PRO", "internal").atoms
    assert "OP3" not in lib.template("A", "internal").atoms and "HO3'" not in lib.template("A", "internal").atoms
    assert lib.template("QZ9") is None and lib.polymer("QZ9") is None   # in no table, library or the CCD
    assert lib.origin("XYZ") == "CCD" and lib.template("XYZ", "free") is not None
    assert set(lib.links) >= {"TRANS", "CIS", "PTRANS", "PCIS", "p", "disulf"}


def test_adk_topology_links_and_counts(adk_topo):
    names = [lk.name for lk in adk_topo.links]
    assert len(names) == 213 and set(names) <= {"TRANS", "PTRANS", "PCIS", "CIS"}
    assert names.count("PCIS") == 1          # 1AKE's cis-proline
    r = adk_topo.restraints
    c = r.counts()
    assert c["bonds"] > 1650 and c["angles"] > 2200 and c["chirals"] > 200 and c["planes"] > 250
    # every peptide link carries a C-N bond restraint near 1.33 Å
    cn = [(i, j) for i, j in r.bonds if {adk_topo.atoms.names[i], adk_topo.atoms.names[j]} == {"C", "N"}]
    assert len(cn) == 213
    assert {"phi", "psi", "omega", "chi1"} <= set(r.torsion_names)
    assert adk_topo.notes == []


def test_stretched_peptide_stays_linked_but_far_gap_breaks(adk_closed, lib):
    st = adk_closed.clone()
    chain = st[0][0]
    for res in list(chain)[100:]:           # pull residues 101.. 1.5 Å away: C-N about 2.8 Å
        for atom in res:
            atom.pos = atom.pos + gemmi.Position(1.5, 0, 0)
    topo = build_topology(st, lib, warn=False)
    assert len(topo.links) == 213
    z = terms.bond_z(torch.as_tensor(topo.xyz(st)), topo.restraints).numpy()
    assert np.abs(z).max() > 50            # the stretched bond is restrained, so it shows
    for res in list(chain)[100:]:           # 10 Å more: a chain break
        for atom in res:
            atom.pos = atom.pos + gemmi.Position(10, 0, 0)
    broken = build_topology(st, lib, warn=False)
    assert len(broken.links) == 212
    assert any("chain breaks" in n for n in broken.notes)


def test_missing_atoms_unknown_residues_and_altlocs_are_reported(adk_closed, lib):
    st = adk_closed.clone()
    res = st[0][0][10]
    name = f"{res.name}{res.seqid.num}"
    del res[[a.name for a in res].index("CB")]
    st[0][0][20].name = "QZ9"
    alt = st[0][0][30]
    atom = alt[len(alt) - 1]
    atom.altloc = "A"
    b = atom.clone()
    b.altloc = "B"
    b.pos = b.pos + gemmi.Position(0.5, 0, 0)
    alt.add_atom(b)
    with pytest.warns(UserWarning) as record:
        topo = build_topology(st, lib)
    text = " ".join(str(w.message) for w in record)
    assert f"{name}: missing atoms CB" in text
    assert "QZ9" in text and "held fixed" in text
    assert "first conformer" in text
    # the unknown residue's atoms are kept (written back), carry no restraints and are held
    unknown = [k for k, r in enumerate(topo.residues) if r.name == "QZ9"][0]
    atoms = set(topo.residues[unknown].atoms.values())
    assert atoms and not atoms & set(topo.restraints.bonds.ravel())
    assert set(np.flatnonzero(topo.atoms.held)) == atoms
    assert topo.n_atoms == sum(1 for r in st[0][0] for a in r if a.altloc != "B")


def test_riding_hydrogens_reproduce_library_geometry(adk_topo, adk_closed, lib):
    h = adk_topo.hydrogens
    x = torch.as_tensor(adk_topo.xyz(adk_closed))
    hx = h.place(x).numpy()
    d = np.linalg.norm(hx - x.numpy()[h.parent], axis=1)
    assert np.allclose(d, h.length, atol=1e-9)
    assert 1600 < len(h) < 1750            # about one hydrogen per heavy atom for a protein
    # amide H in the peptide plane, opposite C(i-1)
    amide = np.flatnonzero((h.names == "H") & (adk_topo.atoms.residue[h.frame_b] != h.residue))
    assert len(amide) > 190
    quads = np.c_[h.frame_b[amide], h.frame_a[amide], h.parent[amide]]
    pts = np.concatenate([x.numpy()[quads], hx[amide][:, None]], axis=1)
    assert np.all(np.abs(np.abs(dihedral_deg(pts)) - 180) < 1e-6)
    # on a residue at the library's ideal coordinates, hydrogens land on the ideal hydrogens
    t = lib.template("TYR", "free")
    heavy = [i for i, e in enumerate(t.elements) if e != "H"]
    st = gemmi.Structure()
    st.add_model(gemmi.Model("1"))
    st[0].add_chain(gemmi.Chain("A"))
    res = gemmi.Residue()
    res.name, res.seqid = "TYR", gemmi.SeqId(1, " ")
    for i in heavy:
        a = gemmi.Atom()
        a.name, a.element, a.pos = t.atoms[i], gemmi.Element(t.elements[i]), gemmi.Position(*t.ideal_xyz[i])
        res.add_atom(a)
    st[0][0].add_residue(res)
    topo = build_topology(st, lib, warn=False)
    placed = topo.hydrogens.place(torch.as_tensor(topo.xyz(st))).numpy()
    ideal = t.ideal_xyz[[t.index(n) for n in topo.hydrogens.names]]
    assert np.abs(placed - ideal).max() < 0.12      # library angles vs its own model coordinates


@pytest.mark.parametrize("term", ["bond", "angle", "planarity", "chirality", "clash", "hydrogens"])
def test_gradients_match_finite_differences(adk_closed, lib, term):
    st = jitter(first_residues(adk_closed, 8), 0.15, seed=1)
    topo = build_topology(st, lib, warn=False)
    r = topo.restraints
    x0 = torch.as_tensor(topo.xyz(st), dtype=torch.float64)
    if term == "clash":
        atoms = clashes.atom_set(topo, lib)
        allx = atoms.coordinates(topo, x0)
        pairs = clashes.candidate_pairs(atoms, allx.numpy(), cutoff=4.0)
        assert len(pairs) > 20

        def f(x):
            o = clashes.overlaps(atoms, pairs, atoms.coordinates(topo, x))
            return (torch.nn.functional.softplus(5 * o) ** 2).sum()
    else:
        f = {"bond": lambda x: terms.bond_loss(x, r), "angle": lambda x: terms.angle_loss(x, r),
             "planarity": lambda x: terms.planarity_loss(x, r), "chirality": lambda x: terms.chirality_loss(x, r),
             "hydrogens": lambda x: (topo.hydrogens.place(x) ** 2).sum()}[term]
    x = x0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert float(f(x0)) > 0


def test_terms_are_batched(adk_topo, adk_closed):
    x = torch.as_tensor(adk_topo.xyz(adk_closed))
    noisy = x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    batch = torch.stack([x, noisy])
    r = adk_topo.restraints
    for fn in (terms.bond_loss, terms.angle_loss, terms.planarity_loss, terms.chirality_loss):
        both = fn(batch, r)
        assert both.shape == (2,)
        assert torch.allclose(both, torch.stack([fn(x, r), fn(noisy, r)]))
        assert both[1] > both[0]


def test_regularised_model_reaches_near_zero_bond_and_angle_loss(adk_closed, lib):
    """Minimising the geometry terms alone from the deposited model drives Z-scores to ~0."""
    st = first_residues(adk_closed, 40)
    topo = build_topology(st, lib, warn=False)
    r = topo.restraints
    x = torch.as_tensor(topo.xyz(st)).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], max_iter=400, line_search_fn="strong_wolfe", tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = terms.bond_loss(x, r) + terms.angle_loss(x, r) + terms.planarity_loss(x, r) \
            + terms.chirality_loss(x, r)
        loss.backward()
        return loss

    start = float(terms.bond_loss(x.detach(), r) + terms.angle_loss(x.detach(), r))
    opt.step(closure)
    x = x.detach()
    end_bond, end_angle = float(terms.bond_loss(x, r)), float(terms.angle_loss(x, r))
    assert start > 0.5
    assert end_bond < 0.02 and end_angle < 0.05
    assert float(torch.sqrt((terms.bond_z(x, r) ** 2).mean())) < 0.2


def test_clash_term_penalises_overlap_and_respects_hbond_allowance(adk_topo, adk_closed, lib):
    x = torch.as_tensor(adk_topo.xyz(adk_closed))
    term = clashes.ClashTerm(adk_topo, lib, neighbours=128, refresh_every=10)
    base = float(term(x))
    # push one side-chain atom onto a neighbouring residue's atom
    names = adk_topo.atoms.names
    i = int(np.flatnonzero(names == "CD1")[3])
    xyz = x.numpy()
    others = np.flatnonzero(adk_topo.atoms.residue != adk_topo.atoms.residue[i])
    j = int(others[np.argmin(np.linalg.norm(xyz[others] - xyz[i], axis=1))])
    moved = x.clone()
    moved[i] = x[j] + (x[i] - x[j]) * 1.5 / float((x[i] - x[j]).norm())
    term.refresh(term.atoms.coordinates(adk_topo, moved))
    assert float(term(moved)) > 10 * base + 1e-3
    atoms = term.atoms
    pairs = np.array([[0, 1]])
    polar_h = adk_topo.n_atoms + int(np.flatnonzero(adk_topo.hydrogens.polar)[0])
    oxygen = int(np.flatnonzero(adk_topo.atoms.elements == "O")[0])
    assert clashes.allowance(atoms, np.array([[polar_h, oxygen]]))[0] == clashes.HBOND_ALLOWANCE
    assert clashes.allowance(atoms, pairs)[0] == 0.0


def test_named_torsions_protein_and_rna(adk_topo, adk_closed, lib):
    from cryonb import data
    from cryonb.geometry.named_torsions import named_torsions
    from cryonb.validation.dihedrals import residue_torsions

    named = named_torsions(adk_topo)
    assert len(named["phi"][0]) == 213 and len(named["psi"][0]) == 213 and len(named["omega"][0]) == 213
    phi = terms.dihedrals_deg(torch.as_tensor(adk_topo.xyz(adk_closed)), named["phi"][0]).numpy()
    ref = residue_torsions(adk_closed).phi[1:]     # MolProbity-side dihedrals, independent code
    assert np.allclose(phi, ref, atol=1e-6)
    assert {"chi1", "chi2", "chi3", "chi4"} <= set(named)
    rna = data.load_corpus_structure("1K5I")
    nt = named_torsions(build_topology(rna, lib, warn=False))
    assert {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "chi"} <= set(nt)
    assert len(nt["delta"][0]) == 23 and len(nt["alpha"][0]) == 22 and len(nt["zeta"][0]) == 22


def test_clash_list_keeps_pairs_near_contact_and_scores_as_the_full_list(adk_topo, adk_closed, lib):
    """The pair list keeps only pairs within the skin of contact at its refresh: for moves smaller
    than half the skin the clash loss equals that of the unpruned 128-neighbour list."""
    x = torch.as_tensor(adk_topo.xyz(jitter(adk_closed, 0.1, seed=2)))
    pruned = clashes.ClashTerm(adk_topo, lib, refresh_every=0)
    full = clashes.ClashTerm(adk_topo, lib, refresh_every=0, skin=np.inf)
    for term in (pruned, full):
        term.refresh(term.atoms.coordinates(adk_topo, x))
    assert len(pruned.pairs) < 0.7 * len(full.pairs)
    assert {tuple(p) for p in pruned.pairs.tolist()} <= {tuple(p) for p in full.pairs.tolist()}
    moved = x + torch.as_tensor(np.random.default_rng(0).uniform(-0.15, 0.15, x.shape))
    shift = (pruned.atoms.coordinates(adk_topo, moved) - pruned.atoms.coordinates(adk_topo, x)).norm(dim=-1)
    assert float(shift.max()) < pruned.skin / 2                  # hydrogens included
    for y in (x, moved):
        assert float(full(y)) > 0 and torch.isclose(pruned(y), full(y), rtol=1e-12)
        assert int(pruned.count(y)) == int(full.count(y))


def test_clash_list_is_remade_only_once_an_atom_moved_half_the_skin(adk_topo, adk_closed, lib):
    x = torch.as_tensor(adk_topo.xyz(jitter(adk_closed, 0.1, seed=4)))
    term = clashes.ClashTerm(adk_topo, lib, refresh_every=0)
    coords = lambda y: term.atoms.coordinates(adk_topo, y)               # noqa: E731
    term.refresh(coords(x))
    made = term.pairs
    small = x + torch.as_tensor(np.random.default_rng(1).uniform(-0.05, 0.05, x.shape))   # hydrogens ride along
    term.refresh(coords(small), if_moved=True)
    assert term.pairs is made                                                # kept
    fresh = clashes.ClashTerm(adk_topo, lib, refresh_every=0)
    fresh.refresh(coords(small))
    assert torch.isclose(term(small), fresh(small), rtol=1e-12) and float(fresh(small)) > 0
    far = x.clone()
    far[10] += torch.tensor([1.2, 0.0, 0.0], dtype=far.dtype)                 # one atom past half the skin
    term.refresh(coords(far), if_moved=True)
    assert term.pairs is not made
