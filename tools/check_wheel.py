"""The notebooks work from an installed wheel: python tools/check_wheel.py [WORKDIR]

Builds a wheel of this checkout, installs it (without dependencies) into a fresh venv whose other
packages come from this interpreter's site-packages (a .pth line, so this checkout's own
editable cryonb is not seen), then, from a folder outside the checkout, runs
``cryonb notebook 00_quickstart --run x`` and ``--copy`` twice (the second must refuse), and
checks that nothing was written into the installed package. About half a minute.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd`` without PYTHONPATH (which could point at this checkout)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def wheel_venv(work: Path) -> Path:
    """A fresh venv in ``work/venv`` with the wheel of this checkout; returns its python."""
    run([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation", "-q",
         "-w", work / "wheel"], work)
    wheel = next((work / "wheel").glob("cryonb-*.whl"))
    run([sys.executable, "-m", "venv", "--without-pip", work / "venv"], work)
    python = work / "venv" / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], work)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def package_files(python: Path, cwd: Path) -> tuple[Path, list[str]]:
    """The installed cryonb folder and its files (bytecode caches left out)."""
    where = run([python, "-c", "import cryonb, pathlib; print(pathlib.Path(cryonb.__file__).parent)"], cwd)
    folder = Path(where.stdout.strip())
    return folder, sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts)


def check_wheel(work: Path) -> dict:
    """Build, install and exercise the wheel in ``work``; returns what it saw (raises on a failure)."""
    python = wheel_venv(work)
    cryonb = python.parent / "cryonb"
    user = work / "user"
    user.mkdir()
    package, before = package_files(python, user)
    assert package.is_relative_to(python.parents[1]), f"cryonb imported from {package}, not the wheel"
    done = run([cryonb, "notebook", "00_quickstart", "--run", "x"], user)
    folder = user / "papermill_runs" / "00_quickstart" / "x"
    assert (folder / "00_quickstart.ipynb").is_file() and (folder / "metrics.json").is_file(), done.stdout
    run([cryonb, "notebook", "00_quickstart", "--copy", "mine"], user)
    again = run([cryonb, "notebook", "00_quickstart", "--copy", "mine"], user, check=False)
    assert again.returncode == 2 and "00_quickstart.ipynb: already exists" in again.stderr, again.stderr
    copies = sorted(p.name for p in (user / "mine").iterdir())
    assert copies == ["00_quickstart.ipynb", "00_quickstart.py"], copies
    assert package_files(python, user)[1] == before, "a run or copy wrote into the installed package"
    return {"package": package, "run_folder": folder, "run_files": sorted(p.name for p in folder.iterdir()),
            "copies": copies, "refusal": again.stderr.strip().splitlines()[-1]}


def main() -> int:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="cryonb_wheel_"))
    for key, value in check_wheel(work).items():
        print(f"{key:11s} {value}")
    print("ok: the wheel runs and copies notebooks from outside the checkout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
