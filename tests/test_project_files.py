"""The project's front door stays true: environment.yml agrees with pyproject.toml, CI runs
`make test`, committed notebooks carry no outputs, papermill_runs/ stays out of git."""
import re
import subprocess
import tomllib

import yaml

from cryonb.notebook_runs import NOTEBOOK_DIR, cells_with_outputs, strip_outputs

from .conftest import REPO


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python, "environment.yml must pin python"
    minimum = project["requires-python"].removeprefix(">=")
    version = re.search(r"[\d.]+", python[0]).group()
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))
    pip = [d for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip and pip[0]["pip"] == ["-e .[dev]"], "pip section must install the project itself"
    assert "dev" in project["optional-dependencies"]
    assert "pip" in deps


def test_ci_runs_make_test():
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert any(re.fullmatch(r"(exec\s+)?make test", c) for c in commands), commands
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_pinned_packages():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps and "nglview==3.1.4" in deps and "setuptools<82" in deps


def test_committed_notebooks_have_no_outputs():
    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    assert notebooks
    dirty = {nb.name: cells_with_outputs(nb) for nb in notebooks if cells_with_outputs(nb)}
    assert not dirty, f"strip outputs (make strip) before committing: {dirty}"


def test_strip_outputs_detects_and_removes(tmp_path):
    import json

    nb = json.loads((NOTEBOOK_DIR / "00_quickstart.ipynb").read_text())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    nb["cells"][2]["execution_count"] = 3
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    assert cells_with_outputs(path) == [2]
    assert strip_outputs(path) and cells_with_outputs(path) == []


def test_notebooks_have_parameters_cell_and_run_dir():
    import json

    for nb_path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, nb_path.name
        assert "run_dir" in "".join(tagged[0]["source"]), nb_path.name


def test_papermill_runs_ignored_except_readme():
    ignored = subprocess.run(["git", "check-ignore", "papermill_runs/x/y.ipynb"], cwd=REPO,
                             capture_output=True, text=True)
    kept = subprocess.run(["git", "check-ignore", "papermill_runs/README.md"], cwd=REPO,
                          capture_output=True, text=True)
    assert ignored.returncode == 0 and kept.returncode == 1
