"""The notebooks ship in the wheel: installed into a fresh venv, ``cryonb notebook`` runs and copies
them from a folder outside the checkout and writes nothing into the package (tools/check_wheel.py)."""
import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_wheel.py"


@pytest.mark.wheel
@pytest.mark.timeout(300)
def test_notebook_runs_and_copies_from_an_installed_wheel(tmp_path):
    spec = importlib.util.spec_from_file_location("check_wheel", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    seen = tool.check_wheel(tmp_path)
    assert seen["package"].is_relative_to(tmp_path / "venv") and "metrics.json" in seen["run_files"]
