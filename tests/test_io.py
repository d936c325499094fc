"""Model and map I/O: round trips, real EMDB maps, origins, axis order, atomic writes."""
import os
import warnings

import gemmi
import mrcfile
import numpy as np
import pytest

from cryonb import Map, io
from cryonb.errors import InputFileError


@pytest.mark.parametrize("suffix", [".pdb", ".cif"])
def test_model_round_trip(tmp_path, adk_closed, suffix):
    path = io.write_model(adk_closed, tmp_path / f"adk{suffix}")
    back = io.read_model(path)
    assert np.allclose(io.model_xyz(back), io.model_xyz(adk_closed), atol=1e-3)
    assert [a.name for ch in back[0] for r in ch for a in r] == \
        [a.name for ch in adk_closed[0] for r in ch for a in r]


@pytest.mark.parametrize("suffix", [".pdb", ".cif"])
def test_multi_model_round_trip(tmp_path, adk_closed, suffix):
    frames = np.stack([io.model_xyz(adk_closed) + i for i in range(3)])
    traj = io.structure_from_frames(adk_closed, frames)
    back = io.read_model(io.write_model(traj, tmp_path / f"traj{suffix}"))
    assert len(back) == 3
    assert np.allclose(io.trajectory_xyz(back), frames, atol=1e-3)


def test_write_model_rejects_unknown_format(tmp_path, adk_closed):
    from cryonb.errors import ModelError

    with pytest.raises(ModelError, match="model.xyz"):
        io.write_model(adk_closed, tmp_path / "model.xyz")
    assert not list(tmp_path.iterdir())


def test_emd_3197_matches_gemmi(emd_3197):
    m = io.read_map(emd_3197)
    assert m.shape == (20, 20, 20)
    assert np.allclose(m.voxel_size, 11.4)
    assert np.allclose(m.origin, [-22.8, 0.0, 0.0])          # nxstart = -2
    g = gemmi.read_ccp4_map(str(emd_3197))
    g.setup(float("nan"), gemmi.MapSetup.ReorderOnly)
    assert np.array_equal(np.array(g.grid, copy=False).T, m.data)


def test_emd_3001_axis_order_and_non_cubic_voxels(emd_3001):
    with mrcfile.open(emd_3001, permissive=True) as mrc:
        assert (int(mrc.header.mapc), int(mrc.header.mapr), int(mrc.header.maps)) == (3, 1, 2)
        raw = np.array(mrc.data)                              # [section=y, row=x, column=z]
    with pytest.warns(UserWarning, match="EMD-3001"):
        m = io.read_map(emd_3001)
    assert m.shape == (73, 25, 43)                             # (z, y, x)
    assert np.allclose(m.voxel_size, [17.93 / 40, 4.71 / 12, 33.03 / 72])
    assert np.array_equal(m.data, raw.transpose(2, 0, 1))
    g = gemmi.read_ccp4_map(str(emd_3001))
    g.setup(float("nan"), gemmi.MapSetup.ReorderOnly)
    assert np.array_equal(np.array(g.grid, copy=False).T, m.data)
    # origin from nstart: rows (x) start at -21, sections (y) at -12, columns (z) at 0
    assert np.allclose(m.origin, [-21 * m.voxel_size[0], -12 * m.voxel_size[1], 0.0])


def _write_raw_mrc(path, data_crs, mapcrs, voxel, nstart=(0, 0, 0), origin=(0, 0, 0)):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data_crs)
        mrc.header.mapc, mrc.header.mapr, mrc.header.maps = mapcrs
        n_axis = {}
        for axis, n in zip(mapcrs, data_crs.shape[::-1]):
            n_axis[axis] = n
        mrc.header.mx, mrc.header.my, mrc.header.mz = n_axis[1], n_axis[2], n_axis[3]
        mrc.header.cella = tuple(n_axis[a] * v for a, v in zip((1, 2, 3), voxel))
        mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = nstart
        mrc.header.origin = origin


def test_permuted_axes_nstart_and_non_cubic_box(tmp_path):
    rng = np.random.default_rng(1)
    zyx = rng.normal(size=(7, 5, 9)).astype(np.float32)       # nz=7, ny=5, nx=9
    # store with columns along y, rows along z, sections along x (mapc/mapr/maps = 2,3,1)
    crs = np.ascontiguousarray(zyx.transpose(2, 0, 1))         # [x, z, y] = [section, row, column]
    path = tmp_path / "perm.mrc"
    _write_raw_mrc(path, crs, (2, 3, 1), voxel=(1.5, 1.2, 0.9), nstart=(4, -3, 2))
    m = io.read_map(path)
    assert m.shape == (7, 5, 9)
    assert np.array_equal(m.data, zyx)
    assert np.allclose(m.voxel_size, [1.5, 1.2, 0.9])
    # nstart is per column (y), row (z), section (x)
    assert np.allclose(m.origin, [2 * 1.5, 4 * 1.2, -3 * 0.9])


def test_header_origin_wins_over_nstart(tmp_path):
    data = np.zeros((4, 4, 4), np.float32)
    path = tmp_path / "o.mrc"
    _write_raw_mrc(path, data, (1, 2, 3), voxel=(1, 1, 1), nstart=(5, 5, 5), origin=(10.5, -3.25, 7))
    assert np.allclose(io.read_map(path).origin, [10.5, -3.25, 7])


@pytest.mark.parametrize("origin", [(-22.8, 0, 11.4), (1.234, -5.5, 3.3)])
def test_map_round_trip_keeps_grid(tmp_path, origin):
    rng = np.random.default_rng(0)
    m = Map(rng.normal(size=(6, 8, 10)), voxel_size=(1.1, 1.1, 1.1), origin=origin)
    back = io.read_map(io.write_map(m, tmp_path / "m.mrc"))
    assert back.same_grid(m) and np.array_equal(back.data, m.data)
    g = gemmi.read_ccp4_map(str(tmp_path / "m.mrc"))           # a second reader agrees on the data
    assert np.array_equal(np.array(g.grid, copy=False).T, m.data)


def test_outputs_are_atomic_and_inputs_protected(tmp_path, adk_closed):
    path = io.write_model(adk_closed, tmp_path / "in.pdb")
    before = path.read_bytes()
    io.read_model(path)
    with pytest.raises(InputFileError, match="in.pdb"):
        io.write_model(adk_closed, path)
    assert path.read_bytes() == before

    class Boom(Exception):
        pass

    m = Map(np.ones((4, 4, 4)), 1.0)
    target = tmp_path / "out.mrc"
    from cryonb.atomic import atomic_path

    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            io.write_map(m, tmp + ".mrc")
            os.replace(tmp + ".mrc", tmp)
            raise Boom()
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdb"]


def test_map_dataclass_validates():
    from cryonb.errors import MapError

    with pytest.raises(MapError, match="3D"):
        Map(np.zeros((4, 4)), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = Map(np.zeros((2, 3, 4)), (1.0, 2.0, 3.0), origin=(1, 2, 3))
    assert np.allclose(m.box_size, [4.0, 6.0, 6.0])
    with pytest.raises(MapError, match="not cubic"):
        _ = m.apix
    assert m.contains(np.array([[1, 2, 3], [100, 0, 0]])).tolist() == [True, False]


def test_complex_map_rejected(tmp_path):
    from cryonb.errors import MapError

    path = tmp_path / "complex.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.ones((4, 4, 4), dtype=np.complex64))
    with pytest.raises(MapError, match="complex.mrc.*complex values"):
        io.read_map(path)


def test_integer_map_read_as_float(tmp_path):
    path = tmp_path / "int16.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.arange(64, dtype=np.int16).reshape(4, 4, 4))
        mrc.voxel_size = 1.5
    m = io.read_map(path)
    assert m.data.dtype == np.float32 and m.data[3, 3, 3] == 63.0


def test_outputs_get_the_usual_file_mode(tmp_path, adk_closed):
    """Written through a temporary file, but readable as any file the user writes (umask applied)."""
    old = os.umask(0o022)
    try:
        model = io.write_model(adk_closed, tmp_path / "m.pdb")
        grid = io.write_map(Map(np.zeros((8, 8, 8)), 1.0), tmp_path / "g.mrc")
        os.umask(0o077)
        private = io.write_model(adk_closed, tmp_path / "p.cif")
    finally:
        os.umask(old)
    assert oct(model.stat().st_mode & 0o777) == oct(0o644) == oct(grid.stat().st_mode & 0o777)
    assert oct(private.stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize("name", ["m.pdb.bz2", "m.pdbx", "m.pdbx.gz", "m.cif.bz2", "m.ent"])
def test_compressed_and_pdbx_models_are_read(tmp_path, adk_closed, name):
    import bz2
    import gzip
    plain = io.write_model(adk_closed, tmp_path / ("plain.pdb" if ".pdb." in name or name.endswith(".ent")
                                                   else "plain.cif"))
    raw = plain.read_bytes()
    pack = bz2.compress if name.endswith(".bz2") else gzip.compress if name.endswith(".gz") else bytes
    (tmp_path / name).write_bytes(pack(raw))
    back = io.read_model(tmp_path / name)
    assert np.allclose(io.model_xyz(back), io.model_xyz(adk_closed), atol=1e-3)


def test_an_unknown_model_suffix_names_the_file_and_the_formats(tmp_path, adk_closed):
    from cryonb.errors import ModelError
    path = tmp_path / "model.xyz"
    path.write_bytes(io.write_model(adk_closed, tmp_path / "m.pdb").read_bytes())
    with pytest.raises(ModelError, match=r"model.xyz.*unknown model format '.xyz'.*\.pdbx"):
        io.read_model(path)
