"""Series refinement inputs: maps (files, directories, volume stacks) and latents (.npy, text, z.pkl)."""
from __future__ import annotations

import os
import pickle
import re

import mrcfile
import numpy as np
import pytest

from cryonb import io
from cryonb.density import SimulationConfig, simulate_map
from cryonb.errors import CryonbError, GridMismatchError, InputFileError, MapError
from cryonb.maps import Map
from cryonb.series.inputs import (SeriesInputs, load_series, order_latents, read_cryodrgn_z,
                                  read_latents, read_series_maps)


@pytest.fixture(scope="module")
def base_map(adk_closed):
    """AdK closed at 8 Å on 2 Å voxels (34^3)."""
    return simulate_map(adk_closed, SimulationConfig(resolution=8.0, voxel_size=2.0))


def volume(base: Map, k: int) -> Map:
    """Map k of a series: the base density scaled by 1 + k/10 (distinct data, same grid)."""
    return base.copy(data=base.data * np.float32(1 + k / 10))


def write_maps(base: Map, folder, names) -> list[str]:
    folder.mkdir(exist_ok=True)
    return [str(io.write_map(volume(base, k), folder / n)) for k, n in enumerate(names)]


def write_stack(base: Map, path, m: int, nan_volume: int | None = None) -> str:
    vols = np.stack([volume(base, k).data for k in range(m)]).astype(np.float32)
    if nan_volume is not None:
        vols[nan_volume, 3, 4, 5] = np.nan
    with mrcfile.new(path) as f:
        f.set_data(vols)
        f.header.ispg = 401
        f.voxel_size = 2.0
        # the origin as io.write_map writes it: nstart in voxels (x, y, z)
        f.header.nxstart, f.header.nystart, f.header.nzstart = np.round(base.origin / 2.0).astype(int)
    return str(path)


def write_z_pkl(path, z_mu: np.ndarray) -> str:
    """Exactly as cryoDRGN writes z.pkl: two pickles, z_mu then z_logvar, in one file."""
    with open(path, "wb") as f:
        pickle.dump(z_mu, f)
        pickle.dump(np.full_like(z_mu, -3.0), f)
    return str(path)


def assert_series(s: SeriesInputs, base: Map, names: list[str]):
    assert s.names == names
    assert [m.path for m in s.maps] == names
    for k, m in enumerate(s.maps):
        np.testing.assert_array_equal(m.data, volume(base, k).data)
        assert m.same_grid(base)


# ----------------------------------------------------------------------------- happy paths
@pytest.mark.parametrize("ndim", [1, 2])
def test_files_with_npy_latents(tmp_path, base_map, ndim):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    z = np.arange(3.0) if ndim == 1 else np.arange(6.0).reshape(3, 2)
    np.save(tmp_path / "z.npy", z.astype(np.float32))
    s = load_series(paths, tmp_path / "z.npy")
    assert_series(s, base_map, paths)
    assert s.latents.dtype == np.float64
    assert s.latents.shape == ((3, 1) if ndim == 1 else (3, 2))
    np.testing.assert_array_equal(s.latents, z.reshape(3, -1))
    assert s.latent_source == "file"


@pytest.mark.parametrize("text", [
    "# z1 z2 from cryoDRGN\n0.5 -1.0\n\n1.5\t2.0   # map 1\n-3e-1 4\n",
    "# z1,z2\n0.5,-1.0\n1.5, 2.0\n-3e-1 ,4\n",
])
def test_text_latents(tmp_path, base_map, text):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    (tmp_path / "z.txt").write_text(text)
    s = load_series(paths, str(tmp_path / "z.txt"))
    np.testing.assert_array_equal(s.latents, [[0.5, -1.0], [1.5, 2.0], [-0.3, 4.0]])
    assert s.latent_source == "file"


def test_single_column_text_and_array(tmp_path, base_map):
    (tmp_path / "z.csv").write_text("1\n2\n3\n")
    assert read_latents(tmp_path / "z.csv").shape == (3, 1)
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    s = load_series(paths, np.array([0.1, 0.2, 0.3]))
    assert s.latents.shape == (3, 1) and s.latent_source == "array"


def test_directory_of_eval_vol_maps_in_natural_order(tmp_path, base_map):
    """cryoDRGN eval_vol --zfile writes vol_000.mrc ... ; the directory gives them in order."""
    names = [f"vol_{k:03d}.mrc" for k in range(12)]
    write_maps(base_map, tmp_path / "vols", names[::-1])  # vol_k holds volume(11 - k)
    (tmp_path / "vols" / "z.txt").write_text("\n".join(str(k) for k in range(12)))  # not a map: skipped
    (tmp_path / "vols" / ".vol_003.mrc.x1y2.part.mrc").write_bytes(b"partial")  # hidden: skipped
    z = np.linspace(0, 1, 12)[:, None]
    np.savetxt(tmp_path / "z.txt", z)
    s = load_series(tmp_path / "vols", tmp_path / "z.txt")
    assert s.names == [str(tmp_path / "vols" / n) for n in names]
    for k, m in enumerate(s.maps):  # file vol_k was written with volume(11 - k)
        np.testing.assert_array_equal(m.data, volume(base_map, 11 - k).data)
    np.testing.assert_allclose(s.latents, z)


def test_directory_natural_sort_not_lexicographic(tmp_path, base_map):
    order = ["vol_1.mrc", "vol_2.mrc", "vol_10.mrc", "vol_11.map"]
    write_maps(base_map, tmp_path / "vols", order)
    assert sorted(order) != order  # lexicographic order would put vol_10 before vol_2
    maps, names = read_series_maps([tmp_path / "vols"])
    assert [os.path.basename(n) for n in names] == order
    for k, m in enumerate(maps):
        np.testing.assert_array_equal(m.data, volume(base_map, k).data)


def test_volume_stack_gives_one_map_per_volume(tmp_path, base_map):
    stack = write_stack(base_map, tmp_path / "stack.mrc", 4)
    with mrcfile.open(stack) as f:
        assert f.data.ndim == 4 and f.is_volume_stack()
    s = load_series(stack)
    assert_series(s, base_map, [f"{stack}[{k}]" for k in range(4)])
    # the stack's grid is the one read_map gives for the same volume written as a single map
    single = io.read_map(write_maps(base_map, tmp_path / "one", ["v.mrc"])[0])
    assert all(m.same_grid(single) for m in s.maps)
    np.testing.assert_allclose(s.maps[0].origin, base_map.origin)
    np.testing.assert_array_equal(s.latents, order_latents(4))


def test_stack_and_files_mixed(tmp_path, base_map):
    stack = write_stack(base_map, tmp_path / "stack.mrc", 2)
    extra = write_maps(base_map, tmp_path / "maps", ["a.mrc"])
    maps, names = read_series_maps([stack, extra[0]])
    assert names == [f"{stack}[0]", f"{stack}[1]", extra[0]]
    assert len(maps) == 3


def test_cryodrgn_z_pkl(tmp_path, base_map):
    z_mu = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    pkl = write_z_pkl(tmp_path / "z.pkl", z_mu)
    np.testing.assert_array_equal(read_cryodrgn_z(pkl), z_mu)
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    s = load_series(paths, pkl)
    assert s.latent_source == "cryodrgn"
    assert s.latents.dtype == np.float64 and s.latents.shape == (3, 8)
    np.testing.assert_array_equal(s.latents, z_mu)


def test_per_particle_z_pkl_gives_zfile_hint(tmp_path, base_map):
    pkl = write_z_pkl(tmp_path / "z.pkl", np.zeros((500, 8), np.float32))
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    with pytest.raises(InputFileError, match=re.escape(pkl)) as err:
        load_series(paths, pkl)
    msg = str(err.value)
    assert "500" in msg and "3 maps" in msg and "one row per particle" in msg and "--zfile" in msg


def test_map_order_latents(tmp_path, base_map):
    paths = write_maps(base_map, tmp_path / "maps", [f"m{k}.mrc" for k in range(5)])
    s = load_series(paths)
    assert s.latent_source == "order"
    np.testing.assert_array_equal(s.latents, np.linspace(-1, 1, 5)[:, None])
    assert order_latents(2).tolist() == [[-1.0], [1.0]]


# ----------------------------------------------------------------------------- errors
def test_count_mismatch_names_latent_file(tmp_path, base_map):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    np.save(tmp_path / "z.npy", np.zeros((4, 2)))
    with pytest.raises(InputFileError, match=re.escape(str(tmp_path / "z.npy"))) as err:
        load_series(paths, tmp_path / "z.npy")
    assert "4 latent rows for 3 maps" in str(err.value)
    with pytest.raises(CryonbError, match="2 latent rows for 3 maps"):
        load_series(paths, np.zeros(2))


@pytest.mark.parametrize("change", ["voxel", "shape", "origin"])
def test_map_on_another_grid_names_it(tmp_path, base_map, change):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc"])
    if change == "voxel":
        odd = Map(base_map.data, voxel_size=2.1, origin=base_map.origin)
    elif change == "shape":
        odd = Map(base_map.data[:-2, :-2, :-2], voxel_size=2.0, origin=base_map.origin)
    else:
        odd = Map(base_map.data, voxel_size=2.0, origin=base_map.origin + 4.0)
    bad = str(io.write_map(odd, tmp_path / "maps" / "odd.mrc"))
    with pytest.raises(GridMismatchError, match=re.escape(bad)):
        load_series([paths[0], bad, paths[1]])


def test_nan_latent_names_row(tmp_path):
    z = np.zeros((5, 2))
    z[3, 1] = np.nan
    np.save(tmp_path / "z.npy", z)
    with pytest.raises(InputFileError, match=r"z\.npy: row 3 \(0-based\) holds NaN"):
        read_latents(tmp_path / "z.npy")
    (tmp_path / "z.txt").write_text("# header\n1 2\n3 inf\n")
    with pytest.raises(InputFileError, match=r"z\.txt: line 3: value 'inf' is NaN/inf"):
        read_latents(tmp_path / "z.txt")


@pytest.mark.parametrize("text, problem", [
    ("1 2\n3 4\n5\n", r"line 3 has 1 values, expected 2 as on line 1"),
    ("# c\n\n1,2\n3,4,5\n", r"line 4 has 3 values, expected 2 as on line 3"),
    ("1 2\n3 x\n", r"line 2: 'x' is not a number"),
    ("z1,z2\n1,2\n", r"line 1: 'z1' is not a number"),
    ("1,,2\n", r"line 1: '' is not a number"),
    ("# only a comment\n\n", r"holds no numbers"),
])
def test_bad_text_latents(tmp_path, text, problem):
    (tmp_path / "z.dat").write_text(text)
    with pytest.raises(InputFileError, match=r"z\.dat: " + problem):
        read_latents(tmp_path / "z.dat")


def test_bad_latent_files(tmp_path):
    with pytest.raises(InputFileError, match=r"missing\.npy: file does not exist"):
        read_latents(tmp_path / "missing.npy")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.txt: file is empty"):
        read_latents(tmp_path / "empty.txt")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(InputFileError, match=r"cube\.npy: array of shape \(2, 2, 2\) \(3D\)"):
        read_latents(tmp_path / "cube.npy")
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(InputFileError, match=r"words\.npy: array of <U1 values"):
        read_latents(tmp_path / "words.npy")
    (tmp_path / "z.bin").write_bytes(bytes(range(256)))
    with pytest.raises(InputFileError, match=r"z\.bin: not a text file"):
        read_latents(tmp_path / "z.bin")


def test_bad_z_pkl(tmp_path):
    (tmp_path / "text.pkl").write_text("0.1 0.2\n")
    with pytest.raises(InputFileError, match=r"text\.pkl: not a readable pickle"):
        read_latents(tmp_path / "text.pkl")
    with open(tmp_path / "dict.pkl", "wb") as f:
        pickle.dump({"z": [1, 2]}, f)
    with pytest.raises(InputFileError, match=r"dict\.pkl: first pickle holds a dict"):
        read_cryodrgn_z(tmp_path / "dict.pkl")
    with pytest.raises(InputFileError, match=r"flat\.pkl: array of shape \(4,\) \(1D\), expected 2D"):
        read_cryodrgn_z(write_z_pkl(tmp_path / "flat.pkl", np.zeros(4)))
    z = np.zeros((4, 2))
    z[2] = np.nan
    with pytest.raises(InputFileError, match=r"nan\.pkl: row 2 \(0-based\) holds NaN"):
        read_cryodrgn_z(write_z_pkl(tmp_path / "nan.pkl", z))


def test_fewer_than_two_maps(tmp_path, base_map):
    paths = write_maps(base_map, tmp_path / "one", ["only.mrc"])
    with pytest.raises(InputFileError, match=re.escape(paths[0]) + ".*at least 2 maps, got 1"):
        load_series(paths[0])
    with pytest.raises(InputFileError, match="at least 2 maps, got 1"):
        load_series(tmp_path / "one")
    with pytest.raises(CryonbError, match="at least 2 maps, got 0"):
        load_series([])
    (tmp_path / "none").mkdir()
    with pytest.raises(InputFileError, match=r"none: directory holds no map files"):
        load_series(tmp_path / "none")


def test_truncated_map_names_it(tmp_path, base_map):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc"])
    raw = open(paths[1], "rb").read()
    with open(paths[1], "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(MapError, match=re.escape(paths[1])):
        load_series(paths)


def test_bad_volume_stack_names_it(tmp_path, base_map, quiet):
    stack = write_stack(base_map, tmp_path / "nan.mrc", 3, nan_volume=1)
    with pytest.raises(MapError, match=re.escape(f"{stack}[1]: map contains 1 NaN")):
        load_series(stack)
    stack = write_stack(base_map, tmp_path / "cut.mrc", 3)
    raw = open(stack, "rb").read()
    with open(stack, "wb") as f:
        f.write(raw[:-1000])
    with pytest.raises(MapError, match=re.escape(stack) + ": not a readable MRC volume stack"):
        load_series(stack)


def test_inputs_untouched(tmp_path, base_map):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc"])
    paths.append(write_stack(base_map, tmp_path / "stack.mrc", 2))
    pkl = write_z_pkl(tmp_path / "z.pkl", np.arange(12, dtype=np.float32).reshape(4, 3))
    files = paths + [pkl]
    before = {p: (open(p, "rb").read(), os.stat(p).st_mtime_ns) for p in files}
    s = load_series(paths, pkl)
    assert len(s.maps) == 4
    assert {p: (open(p, "rb").read(), os.stat(p).st_mtime_ns) for p in files} == before
    with pytest.raises(InputFileError, match="refusing to overwrite"):
        io.write_map(s.maps[0], paths[0])


def test_read_map_refuses_a_volume_stack_by_name(tmp_path, base_map):
    stack = write_stack(base_map, tmp_path / "stack.mrc", 3)
    before = open(stack, "rb").read()
    with pytest.raises(MapError, match=r"stack\.mrc.*4-D array of shape \[3, "):
        io.read_map(stack)
    assert open(stack, "rb").read() == before


def test_identical_latents_are_refused(tmp_path, base_map):
    paths = write_maps(base_map, tmp_path / "maps", ["a.mrc", "b.mrc", "c.mrc"])
    np.save(tmp_path / "z.npy", np.array([[0.1, 0.2], [0.5, 0.5], [0.1, 0.2]]))
    with pytest.raises(CryonbError, match=re.escape(str(tmp_path / "z.npy"))) as err:
        load_series(paths, tmp_path / "z.npy")
    assert "a.mrc" in str(err.value) and "c.mrc" in str(err.value) and "same latent" in str(err.value)
    with pytest.raises(CryonbError, match="same latent"):
        load_series(paths, np.array([1.0, 1.0, 2.0]))
