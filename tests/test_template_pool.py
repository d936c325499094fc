"""The benchmark template pool (cryonb.templates.real_pool) built from local folders of real chains.

AdK (open, closed and a 40 % mutant) and corpus chains written full-atom and C-alpha-only; the
network sources are used only where already cached.
"""
import csv
import importlib.util
import warnings

import gemmi
import numpy as np
import pytest

from cryonb.data import adk_closed, adk_open, load_corpus_structure
from cryonb.data.sources import cache_dir, installed_package_dir
from cryonb.templates.real_pool import (SOURCES, PoolSource, _bio3d_id, _pdbs_chains, benchmark_pool,
                                       build_template_pool, entry_id, is_copy, pool_entries,
                                       read_rdata_db, same_family)
from cryonb.io import write_model


def _ca_only(st: gemmi.Structure) -> gemmi.Structure:
    """A C-alpha-only copy, B-factors 10, 10.5, 11 ... Å² along the chain."""
    out = st.clone()
    for k, res in enumerate(r for ch in out[0] for r in ch):
        for i in reversed(range(len(res))):
            if res[i].name != "CA":
                del res[i]
            else:
                res[i].b_iso = 10 + 0.5 * k
    return out


def _mutant(st: gemmi.Structure, every: int = 5) -> gemmi.Structure:
    """A copy with two residues in every ``every`` renamed (ALA <-> GLY, others to TRP)."""
    out = st.clone()
    for k, res in enumerate(r for ch in out[0] for r in ch):
        if k % every in (1, 3):
            res.name = {"ALA": "GLY", "GLY": "ALA"}.get(res.name, "TRP")
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    write_model(adk_open(), src / "adk_open.pdb")
    write_model(adk_closed(), src / "adk_closed.pdb")            # same sequence: a copy
    write_model(_mutant(adk_open()), src / "adk_mutant.pdb")     # 60 % identical: same family
    one = load_corpus_structure("1ahsA")
    write_model(one, src / "1ahsA.pdb")
    write_model(_ca_only(one), src / "1ahsA_ca.pdb")              # C-alpha-only copy of a full chain
    write_model(_ca_only(load_corpus_structure("2cviA")), src / "2cviA_ca.pdb")
    (src / "broken.pdb").write_text("ATOM      1  CA  ALA A   1    not a coordinate line\n")
    (src / "notes.txt").write_text("not a model\n")
    return src


@pytest.fixture(scope="module")
def pool(folder, tmp_path_factory):
    dest = tmp_path_factory.mktemp("out") / "pool"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_template_pool(dest, sources=[PoolSource("local", "folder", str(folder)),
                                           PoolSource("gone", "folder", str(folder / "absent"))])
    return dest, [str(w.message) for w in caught]


def _row(rows, stem):
    found = [r for r in rows if stem in r["name"]]
    assert len(found) == 1, [r["name"] for r in rows]
    return found[0]


def test_pool_keeps_one_chain_per_protein(pool):
    rows = pool_entries(pool[0])
    assert len(rows) == 4                     # adk, adk mutant, 1ahs, 2cvi
    assert sum("adk_open" in r["name"] or "adk_closed" in r["name"] for r in rows) == 1
    adk = _row(rows, "adk_closed")             # open and closed tie: the file sorted first wins
    assert adk["residues"] == 214 and not adk["calpha_only"]
    full = _row(rows, "1AHS")
    assert not full["calpha_only"] and full["entry"] == "1AHS"
    st = gemmi.read_structure(str(full["path"]))
    assert st[0].count_atom_sites() > 3 * full["residues"]


def test_calpha_only_chain_written_as_calpha_model_with_b_factors(pool, folder):
    row = _row(pool_entries(pool[0]), "2CVI")
    assert row["calpha_only"] and row["entry"] == "2CVI"
    st = gemmi.read_structure(str(row["path"]))
    atoms = [a for r in st[0][0] for a in r]
    assert len(atoms) == row["residues"] and {a.name for a in atoms} == {"CA"}
    source = gemmi.read_structure(str(folder / "2cviA_ca.pdb"))
    b_in = [a.b_iso for r in source[0][0] for a in r]
    assert np.allclose([a.b_iso for a in atoms], b_in[:len(atoms)]) and np.ptp(b_in) > 1


def test_families_join_homologs_only(pool):
    rows = pool_entries(pool[0])
    adk, mutant = _row(rows, "adk_closed"), _row(rows, "adk_mutant")
    assert adk["family"] == mutant["family"] == adk["name"]
    assert _row(rows, "1AHS")["family"] != adk["family"] != _row(rows, "2CVI")["family"]
    assert not is_copy(adk["sequence"], mutant["sequence"])
    assert same_family(adk["sequence"], mutant["sequence"])
    assert not same_family(adk["sequence"], _row(rows, "1AHS")["sequence"])


def test_bad_file_and_missing_source_are_named_and_recorded(pool):
    dest, messages = pool
    assert any("broken.pdb" in m for m in messages)
    assert any("source gone" in m and "absent" in m for m in messages)
    assert not any("notes.txt" in m for m in messages)
    with open(dest / "sources.csv", newline="") as fh:
        table = {r["source"]: r for r in csv.DictReader(fh)}
    assert table["local"]["status"] == "used" and table["local"]["unreadable"] == "1"
    assert table["local"]["files"] == "7" and table["local"]["kept"] == "4"
    assert table["gone"]["status"].startswith("not fetched")


def test_finished_pool_is_reused_and_a_foreign_folder_refused(pool, folder, tmp_path):
    dest = pool[0]
    stamp = (dest / "POOL_COMPLETE.json").stat().st_mtime_ns
    again = build_template_pool(dest, sources=[PoolSource("local", "folder", str(folder)),
                                               PoolSource("gone", "folder", str(folder / "absent"))])
    assert again == dest and (dest / "POOL_COMPLETE.json").stat().st_mtime_ns == stamp
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("user data\n")
    with pytest.raises(Exception, match="not a finished template pool"):
        build_template_pool(other, sources=[PoolSource("local", "folder", str(folder))])
    assert (other / "keep.txt").exists()


def test_benchmark_pool_drops_near_identical_and_same_entry(pool):
    rows = pool_entries(pool[0])
    adk = _row(rows, "adk_closed")
    kept = {r["name"] for r in benchmark_pool(adk["sequence"], "4AKE", rows)}
    assert adk["name"] not in kept and _row(rows, "adk_mutant")["name"] in kept and len(kept) == 3
    kept = {r["name"] for r in benchmark_pool(adk["sequence"], "4AKE", rows, max_identity=0.5)}
    assert _row(rows, "adk_mutant")["name"] not in kept and len(kept) == 2
    one = _row(rows, "1AHS")
    kept = {r["name"] for r in benchmark_pool("W" * 40, "1ahs", rows)}
    assert one["name"] not in kept and len(kept) == 3


def test_entry_ids_and_bio3d_row_names(tmp_path):
    assert entry_id(tmp_path / "pdb1ubi_ca.pdb") == "1UBI"
    assert entry_id(tmp_path / "mmcif_6zu5.cif") == "6ZU5"
    assert entry_id(tmp_path / "1ahsA.pdb.gz") == "1AHS"
    assert entry_id(tmp_path / "adk_open.pdb") == "adk_open"
    assert _bio3d_id("1TND_B") == ("1TND", "B")
    assert _bio3d_id("d1v8ka_") == ("1V8K", "A")
    assert _bio3d_id("d1bg2__") == ("1BG2", "A")


def test_bio3d_pdbs_rows_drop_gaps_and_missing_coordinates():
    """A bio3d 'pdbs' set of 2 rows x 35 columns, matrices flattened column-major as R stores them."""
    n, m = 2, 35
    ali = np.array([["A"] * m, ["-"] + ["G"] * (m - 1)], dtype=object)
    xyz = np.arange(n * m * 3, dtype=float).reshape(n, m * 3)
    xyz[0, 3:6] = np.nan                         # residue 2 of row 1 has no coordinates
    resno = np.tile(np.arange(1, m + 1, dtype=float), (n, 1))
    pdbs = {"id": np.array(["1ABC_A", "d2xyzb_"]), "ali": ali.ravel(order="F"), "xyz": xyz,
            "resno": resno, "b": np.full((n, m), 20.0)}
    chains = _pdbs_chains(pdbs, "bio3d", "test")
    assert [(c.entry, c.chain, len(c.sequence)) for c in chains] == [("1ABC", "A", 34), ("2XYZ", "B", 34)]
    assert chains[0].sequence == "A" * 34 and chains[1].sequence == "G" * 34 and chains[0].calpha_only
    first = [r.seqid.num for r in chains[0].structure[0][0]]
    assert first[:2] == [1, 3] and chains[0].hint == "test"


def _bio3d_rdb():
    found = sorted((cache_dir() / "pool_sources").glob("r-cran-bio3d-*/usr/lib/R/site-library/bio3d/data/Rdata.rdb"))
    return found[0] if found else None


@pytest.mark.skipif(importlib.util.find_spec("rdata") is None or _bio3d_rdb() is None,
                    reason="needs rdata and the r-cran-bio3d package already in the cache")
def test_bio3d_database_gives_kinesins_and_g_alphas():
    objects = read_rdata_db(_bio3d_rdb())
    kinesin = _pdbs_chains(objects["kinesin"]["pdbs"], "bio3d", "kinesin")
    galpha = _pdbs_chains(objects["transducin"]["pdbs"], "bio3d", "G-alpha")
    assert len(kinesin) == 15 and len(galpha) == 53
    assert all(c.calpha_only and len(c.sequence) > 200 for c in kinesin + galpha)
    assert same_family(kinesin[0].sequence, kinesin[1].sequence)
    assert not same_family(kinesin[0].sequence, galpha[0].sequence)


def _mdanalysis_cached() -> bool:
    return installed_package_dir("MDAnalysisTests") is not None or \
        any((cache_dir() / "sdist").glob("mdanalysistests-2.11.0.tar.gz"))


@pytest.mark.skipif(not _mdanalysis_cached(), reason="MDAnalysisTests is neither installed nor cached")
def test_pool_from_mdanalysistests(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dest = build_template_pool(tmp_path / "pool", sources=[SOURCES[0]])
    rows = pool_entries(dest)
    assert 60 <= len(rows) <= 90
    adk_seq = "".join(gemmi.find_tabulated_residue(r.name).one_letter_code.upper() for r in adk_open()[0][0])
    assert sum(r["sequence"] == adk_seq for r in rows) == 1
    tcr = {r["family"] for r in rows if r["entry"] in ("1BD2", "3KPR", "3PWP") and r["chain"] in "DE"}
    assert tcr == {"TCR / Ig V"}
