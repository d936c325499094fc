"""Every listed bad input raises a cryonb error naming the file, and leaves no output behind.

Each case runs the real command (``cryonb simulate`` or ``cryonb fsc``) that would
write an output, and checks the message and that the output folder holds no new file.
"""
import os

import mrcfile
import numpy as np
import pytest

from cryonb import Map, io
from cryonb.cli import main
from cryonb.errors import CryonbError, MapError, ModelError, OverlapError


@pytest.fixture(scope="module")
def files(tmp_path_factory, adk_closed):
    d = tmp_path_factory.mktemp("bad")
    good_pdb = io.write_model(adk_closed, d / "good.pdb")
    good_cif = io.write_model(adk_closed, d / "good.cif")
    grid = Map(np.random.default_rng(0).normal(size=(40, 40, 40)), 2.0, origin=(-10, 0, -10))
    good_map = io.write_map(grid, d / "good.mrc")
    raw = good_map.read_bytes()
    lines = good_pdb.read_text().splitlines()
    out = {"good.pdb": good_pdb, "good.cif": good_cif, "good.mrc": good_map, "dir": d}

    def put(name, content):
        path = d / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        out[name] = path

    put("garbage.pdb", "this is not a coordinate file\njust text\n")
    put("damaged_coords.pdb", "\n".join(l[:31] + "x.y.z" + l[36:] if i == 40 else l
                                        for i, l in enumerate(lines)))
    put("broken.cif", good_cif.read_text()[:6000])
    put("empty_model.pdb", "HEADER    NOTHING HERE\nEND\n")
    put("truncated.mrc", raw[: len(raw) // 2])
    put("header_only.mrc", raw[:1024])
    put("corrupt.mrc", os.urandom(4096))
    nan = grid.data.copy()
    nan.flat[5] = np.nan
    out["nan.mrc"] = _raw_map(d / "nan.mrc", nan)
    out["inf.mrc"] = _raw_map(d / "inf.mrc", np.where(grid.data > 3.5, np.inf, grid.data))
    put("zero_voxel.mrc", _with_cell(raw, 0.0))
    put("negative_voxel.mrc", _with_cell(raw, -80.0))
    far = adk_closed.clone()
    io.set_model_xyz(far, io.model_xyz(far) + 500.0)
    out["far.pdb"] = io.write_model(far, d / "far.pdb")
    return out


def _raw_map(path, data):
    """Write ``data`` with mrcfile directly (a Map refuses non-finite values)."""
    with mrcfile.new(path) as mrc:
        mrc.set_data(data.astype(np.float32))
        mrc.voxel_size = 2.0
    return path


def _with_cell(raw: bytes, a: float) -> bytes:
    """MRC bytes with cell edge x (header word 11) replaced by ``a``."""
    head = bytearray(raw)
    head[40:44] = np.float32(a).tobytes()
    return bytes(head)


CASES = [
    ("missing file", ["simulate", "{dir}/no_such_model.pdb", "--resolution", "4"], "no_such_model.pdb", "does not exist"),
    ("malformed PDB", ["simulate", "{garbage.pdb}", "--resolution", "4"], "garbage.pdb", "no atoms"),
    ("damaged PDB coordinates", ["simulate", "{damaged_coords.pdb}", "--resolution", "4"], "damaged_coords.pdb", "line 41"),
    ("malformed mmCIF", ["simulate", "{broken.cif}", "--resolution", "4"], "broken.cif", "not a readable"),
    ("empty model", ["simulate", "{empty_model.pdb}", "--resolution", "4"], "empty_model.pdb", "no atoms"),
    ("truncated MRC", ["fsc", "{truncated.mrc}", "{good.mrc}"], "truncated.mrc", "truncated"),
    ("header-only MRC", ["fsc", "{header_only.mrc}", "{good.mrc}"], "header_only.mrc", "truncated"),
    ("corrupt MRC", ["fsc", "{corrupt.mrc}", "{good.mrc}"], "corrupt.mrc", "corrupt"),
    ("NaN in map", ["fsc", "{good.mrc}", "{nan.mrc}"], "nan.mrc", "1 NaN"),
    ("inf in map", ["fsc", "{inf.mrc}", "{good.mrc}"], "inf.mrc", "infinite"),
    ("zero voxel size", ["simulate", "{good.pdb}", "--resolution", "4", "--like", "{zero_voxel.mrc}"], "zero_voxel.mrc", "voxel size must be positive"),
    ("negative voxel size", ["fsc", "{negative_voxel.mrc}", "{good.mrc}"], "negative_voxel.mrc", "voxel size must be positive"),
    ("no overlap", ["simulate", "{far.pdb}", "--resolution", "4", "--like", "{good.mrc}"], "far.pdb", "inside the map box"),
    ("no overlap (FSC)", ["fsc", "--model", "{far.pdb}", "{good.mrc}"], "good.mrc", "inside the map box"),
]


@pytest.mark.parametrize("label,argv,name,problem", CASES, ids=[c[0] for c in CASES])
def test_bad_input_named_and_no_output(files, capsys, label, argv, name, problem):
    d = files["dir"]
    before = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    out_args = ["-o", str(d / "out.mrc")] if argv[0] == "simulate" else ["--json", str(d / "out.json")]
    for key, value in files.items():
        argv = [a.replace("{" + key + "}", str(value)) for a in argv]
    argv = argv + out_args
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert name in err and problem in err, err
    after = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    assert after == before, "an output was written or an input was touched"


def test_errors_are_cryonb_errors_in_python(files):
    with pytest.raises(ModelError) as info:
        io.read_model(files["garbage.pdb"])
    assert info.value.path == str(files["garbage.pdb"])
    with pytest.raises(MapError, match="nan.mrc"):
        io.read_map(files["nan.mrc"])
    from cryonb.density import model_map

    with pytest.raises(OverlapError, match="far"):
        model_map(io.read_model(files["far.pdb"]), io.read_map(files["good.mrc"]))
    assert issubclass(OverlapError, CryonbError)


@pytest.mark.parametrize("cell, origin, what", [((1e30, 1e30, 1e30), (0, 0, 0), "voxel size"),
                                                 ((0.1, 0.1, 0.1), (0, 0, 0), "voxel size"),
                                                 ((80.0, 80.0, 80.0), (1e9, 0, 0), "origin")])
def test_a_header_claiming_absurd_sizes_is_refused(tmp_path, cell, origin, what):
    path = tmp_path / "absurd.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((40, 40, 40), np.float32))
        mrc.header.cella = cell
        mrc.header.origin = origin
    with pytest.raises(MapError, match=what) as err:
        io.read_map(path)
    assert "absurd.mrc" in str(err.value)


def test_an_unexpected_error_is_one_line_with_a_logged_traceback(monkeypatch, capsys, tmp_path):
    from cryonb.commands import fsc
    monkeypatch.setenv("CRYONB_DATA", str(tmp_path))

    def broken(args):
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr(fsc, "main", broken)
    assert main(["fsc", "a.mrc", "b.mrc"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unexpected ZeroDivisionError: deep inside" in err
    logs = list((tmp_path / "logs").glob("*-fsc-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and "deep inside" in logs[0].read_text()


OPTION_CASES = [
    ("zero resolution", ["simulate", "{good.pdb}", "--resolution", "0", "-o", "{dir}/o.mrc"], "--resolution", "> 0"),
    ("negative resolution", ["simulate", "{good.pdb}", "--resolution", "-5", "-o", "{dir}/o.mrc"], "--resolution", "> 0"),
    ("zero voxel option", ["simulate", "{good.pdb}", "--resolution", "4", "--voxel-size", "0", "-o", "{dir}/o.mrc"],
     "--voxel-size", "> 0"),
    ("negative SNR", ["simulate", "{good.pdb}", "--resolution", "4", "--snr", "-1", "-o", "{dir}/o.mrc"], "--snr", "> 0"),
    ("NaN padding", ["simulate", "{good.pdb}", "--resolution", "4", "--padding", "nan", "-o", "{dir}/o.mrc"],
     "--padding", ">= 0"),
    ("half maps without noise", ["simulate", "{good.pdb}", "--resolution", "4", "--half-maps", "-o", "{dir}/o.mrc"],
     "--half-maps", "--snr"),
    ("map written as .pdb", ["simulate", "{good.pdb}", "--resolution", "4", "-o", "{dir}/o.pdb"], "o.pdb", ".mrc"),
    ("output is a folder", ["simulate", "{good.pdb}", "--resolution", "4", "-o", "{dir}/sub.mrc"], "sub.mrc", "is a folder"),
    ("parent is a file", ["simulate", "{good.pdb}", "--resolution", "4", "-o", "{good.pdb}/o.mrc"], "good.pdb", "is a file"),
    ("NaN tether", ["refine-geometry", "{good.pdb}", "-o", "{dir}/o.cif", "--tether", "nan"], "--tether", "> 0"),
    ("model written as .txt", ["refine-geometry", "{good.pdb}", "-o", "{dir}/o.txt"], "o.txt", ".cif"),
    ("JSON to a folder", ["refine-geometry", "{good.pdb}", "-o", "{dir}/o.cif", "--json", "{dir}/sub.mrc"],
     "sub.mrc", ".json"),
]


@pytest.mark.parametrize("label,argv,name,problem", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_bad_options_and_outputs_are_refused_before_any_work(files, capsys, label, argv, name, problem):
    refused_in_one_line(files, capsys, argv, name, problem)


def refused_in_one_line(files, capsys, argv, name, problem):
    """Run ``argv`` ({file} placeholders filled): exit 2, one line naming ``name`` and ``problem``,
    nothing in the files folder written or touched."""
    d = files["dir"]
    (d / "sub.mrc").mkdir(exist_ok=True)
    (d / "jsondir.json").mkdir(exist_ok=True)
    before = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    for key, value in files.items():
        argv = [a.replace("{" + key + "}", str(value)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert name in err and problem in err and "\n" not in err, err
    assert {p.name: p.stat().st_mtime_ns for p in d.iterdir()} == before


@pytest.fixture(scope="module")
def constant_map(files):
    path = files["dir"] / "constant.mrc"
    io.write_map(Map(np.zeros((40, 40, 40)), 2.0, origin=(-10, 0, -10)), path)
    return path


@pytest.mark.parametrize("argv", [["fsc", "{c}", "{good.mrc}"], ["fsc", "--model", "{good.pdb}", "{c}"],
                                  ["validate", "{good.pdb}", "--map", "{c}", "--resolution", "6"],
                                  ["refine", "--model", "{good.pdb}", "--map", "{c}", "--resolution", "6",
                                   "--out", "{dir}/run_constant"]], ids=["fsc", "fsc-model", "validate", "refine"])
def test_a_constant_map_gives_no_numbers(files, constant_map, capsys, argv):
    argv = [a.replace("{c}", str(constant_map)) for a in argv]
    for key, value in files.items():
        argv = [a.replace("{" + key + "}", str(value)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "constant.mrc" in err and "one value everywhere" in err


@pytest.mark.parametrize("resolution, problem", [("200", "coarser than half the box"), ("1", "Nyquist")])
def test_validate_refuses_a_resolution_the_map_cannot_hold(files, capsys, resolution, problem):
    argv = ["validate", str(files["good.pdb"]), "--map", str(files["good.mrc"]), "--resolution", resolution]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "good.mrc" in err and problem in err


def test_a_run_folder_in_use_is_refused(files, tmp_path, capsys):
    """A second `refine --out DIR` while another process holds DIR fails before writing anything."""
    import subprocess
    import sys
    run = tmp_path / "busy"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(run)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        argv = ["refine", "--model", str(files["good.pdb"]), "--out", str(run), "--polish-steps", "5"]
        assert main(argv) == 2
        assert "another cryonb run is writing into this folder" in capsys.readouterr().err
        assert list(run.iterdir()) == []
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command, setup, problem", [
    ("refine", None, "no such run folder"),
    ("refine", {"maps": ["a.mrc"], "model": "m.pdb"}, "is a cryonb series run folder"),
    ("series", {"model": "m.pdb", "map": "a.mrc"}, "is a cryonb refine run folder"),
    ("refine", "{not json", "cannot be read"),
    ("series", "[1, 2]", "not a cryonb arguments file"),
])
def test_resume_names_what_the_folder_is(tmp_path, capsys, command, setup, problem):
    import json
    run = tmp_path / "run"
    if setup is not None:
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "0_polish.npz").write_bytes(b"x")
        (run / "arguments.json").write_text(setup if isinstance(setup, str) else json.dumps(setup))
    assert main([command, "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert str(run) in err and problem in err, err


@pytest.mark.parametrize("resolution, voxel, problem", [("500", "1", "coarser than half the box"),
                                                        ("1.5", "1", "Nyquist")])
def test_simulate_refuses_a_resolution_the_box_cannot_hold(files, capsys, resolution, voxel, problem):
    out = files["dir"] / "flat.mrc"
    argv = ["simulate", str(files["good.pdb"]), "--resolution", resolution, "--voxel-size", voxel, "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--resolution" in err and problem in err and not out.exists()


@pytest.mark.parametrize("argv, problem", [
    (["notebook", "99_nothing"], "unknown notebook"),
    (["notebook", "00_quickstart", "--run", "../../escape"], "plain folder name"),
    (["notebook", "00_quickstart", "--run", "/tmp/abs"], "plain folder name"),
    (["notebook", "00_quickstart", "-p", "model", "no/such/model.pdb"], "file not found"),
])
def test_notebook_options_are_checked_before_running(tmp_path, capsys, argv, problem):
    assert main([*argv, "--runs-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_notebook_file_parameters_resolve_from_the_callers_folder(files, tmp_path, monkeypatch, capsys):
    import papermill.exceptions

    from cryonb.commands import notebook
    seen = {}

    def fake(name, params, **kw):
        seen.update(params)
        raise papermill.exceptions.PapermillExecutionError(3, 4, "x = 1/0", "ZeroDivisionError", "division by zero", [])

    monkeypatch.setattr(notebook, "execute_notebook", fake)
    monkeypatch.chdir(files["dir"])
    assert main(["notebook", "00_quickstart", "-p", "model", "good.pdb", "-p", "resolution", "4",
                 "--runs-root", str(tmp_path)]) == 2
    assert seen == {"model": str(files["good.pdb"].resolve()), "resolution": 4}
    err = capsys.readouterr().err.strip()
    assert "failed in cell 4: ZeroDivisionError: division by zero" in err and "\n" not in err


@pytest.mark.parametrize("argv, name, problem", [
    (["fsc", "{good.mrc}", "{good.mrc}", "--json", "{dir}/sub.mrc"], "sub.mrc", ".json"),
    (["fsc", "{good.mrc}", "{good.mrc}", "--json", "{good.pdb}/fsc.json"], "good.pdb", "is a file"),
    (["validate", "{good.pdb}", "--json", "{dir}/jsondir.json"], "jsondir.json", "is a folder"),
    (["refine", "--model", "{good.pdb}", "--out", "{good.pdb}/run"], "good.pdb", "is a file"),
    (["series", "--maps", "{good.mrc}", "{good.mrc}", "--model", "{good.pdb}", "--resolution", "6",
      "--out", "{good.pdb}/run"], "good.pdb", "is a file"),
])
def test_outputs_that_cannot_be_written_are_refused_first(files, capsys, argv, name, problem):
    refused_in_one_line(files, capsys, argv, name, problem)
