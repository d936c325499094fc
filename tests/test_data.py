"""Example data: AdK open/closed and the DIMS trajectory, cleaned; the corpus."""
import numpy as np
import pytest

from cryonb import data
from cryonb.io import model_xyz
from cryonb.superpose import rmsd, superpose


def _atoms(st):
    return [(ch.name, r.name, r.seqid.num, a.name, a.element.name) for ch in st[0] for r in ch for a in r]


def test_adk_cleaned_to_pdb_naming(adk_open, adk_closed):
    for st in (adk_open, adk_closed):
        atoms = _atoms(st)
        assert len(atoms) == 1656 and sum(1 for ch in st[0] for _ in ch) == 214
        assert {a[0] for a in atoms} == {"A"}
        assert not any(a[4] == "H" for a in atoms), "hydrogens left"
        names = {a[1] for a in atoms}
        assert "HIS" in names and not names & {"HSD", "HSE", "HSP"}
        ile = {a[3] for a in atoms if a[1] == "ILE"}
        assert "CD1" in ile and "CD" not in ile
        last = [a[3] for a in atoms if a[2] == 214]
        assert "OXT" in last and "OT1" not in last and "OT2" not in last
        assert {a[4] for a in atoms} == {"C", "N", "O", "S"}   # CA is carbon, not calcium
    assert [a[:4] for a in _atoms(adk_open)] == [a[:4] for a in _atoms(adk_closed)]


def _ca(st):
    return np.array([a.name == "CA" for ch in st[0] for r in ch for a in r])


def test_adk_open_closed_ca_rmsd(adk_open, adk_closed):
    ca = _ca(adk_open)
    xo, xc = model_xyz(adk_open)[ca], model_xyz(adk_closed)[ca]
    assert rmsd(superpose(xo, xc), xc) == pytest.approx(6.9, abs=0.1)


def test_dims_trajectory_runs_closed_to_open(adk_open, adk_closed):
    frames = data.adk_dims_frames()
    assert frames.shape == (98, 1656, 3) and frames.dtype == np.float32
    ca = _ca(adk_open)
    xo, xc = model_xyz(adk_open)[ca], model_xyz(adk_closed)[ca]
    assert rmsd(superpose(frames[0][ca], xc), xc) < 1.0
    assert rmsd(superpose(frames[-1][ca], xo), xo) < 1.0
    steps = [rmsd(superpose(frames[i][ca], frames[i + 1][ca]), frames[i + 1][ca]) for i in range(97)]
    assert 0.2 < np.mean(steps) < 0.6
    st = data.adk_dims()
    assert len(st) == 98


def test_core_domain_mask(adk_closed):
    mask = data.core_domain_mask(adk_closed)
    seq = np.array([r.seqid.num for ch in adk_closed[0] for r in ch for _ in r])
    assert mask[seq == 1].all() and mask[seq == 214].all() and not mask[seq == 45].any()


def test_adk_cached_in_user_folder():
    cached = data.cache_dir() / data.adk.CACHE / "adk_closed.pdb"
    assert cached.exists()
    text = cached.read_text()
    assert "ATOM" in text and "KCSA" not in text


def test_corpus_entries_and_loading():
    entries = data.corpus_entries()
    dssp = [e for e in entries if e.source == "dssp"]
    assert len(dssp) == 50
    assert {e.name for e in entries} >= {"1BD2", "3KPR", "3PWP", "5PTI", "4E43", "6MSM", "1K5I"}
    st = data.load_corpus_structure(dssp[0].name)
    n_res = sum(len(ch) for ch in st[0])
    assert 79 <= n_res <= 173
    rna = data.load_corpus_structure("1K5I")
    assert {r.name for ch in rna[0] for r in ch} <= {"A", "C", "G", "U"}
    assert sum(len(ch) for ch in rna[0]) == 23
    assert not any(a.is_hydrogen() for ch in rna[0] for r in ch for a in r)
    with pytest.raises(KeyError):
        data.load_corpus_structure("nonexistent")


def test_load_model_by_name_or_path(tmp_path, adk_closed):
    from cryonb.io import write_model

    path = write_model(adk_closed, tmp_path / "m.cif")
    assert data.load_model(str(path))[0].count_atom_sites() == 1656
    assert data.load_model("adk_open")[0].count_atom_sites() == 1656


def test_read_dcd_rejects_other_files(tmp_path):
    from cryonb.errors import InputFileError

    bad = tmp_path / "x.dcd"
    bad.write_bytes(b"\x00" * 200)
    with pytest.raises(InputFileError, match="x.dcd"):
        data.read_dcd(bad)
