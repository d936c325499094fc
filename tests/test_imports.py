"""Every cryonb module imports first, in a fresh import of the package: no import order hides a
cycle. The command modules and ``import cryonb`` stay free of torch (fast ``cryonb --help``)."""
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from .conftest import REPO

# For each module: forget every cryonb module, then import that one first. Third-party packages
# stay loaded (they cannot take part in a cycle of cryonb's), which keeps this to one interpreter.
EACH_FIRST = """
import importlib, json, pkgutil, sys
import cryonb
names = [m.name for m in pkgutil.walk_packages(cryonb.__path__, "cryonb.")]
failed = {}
for name in names:
    for key in [k for k in sys.modules if k == "cryonb" or k.startswith("cryonb.")]:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"modules": names, "failed": failed}))
"""

# Orders that used to need an import inside a function (each in its own interpreter).
ONCE_CYCLIC = ["cryonb.refinement.steps", "cryonb.refinement.config", "cryonb.validation.rotors",
               "cryonb.validation.probe_dots", "cryonb.restraints.torsion_priors", "cryonb.geometry.ccd",
               "cryonb.geometry.hydrogens", "cryonb.restraints.loss", "cryonb.priors.fit"]

LIGHT = """
import importlib, sys
import cryonb, cryonb.cli
for name in cryonb.cli.COMMANDS:
    importlib.import_module("cryonb.commands." + name.replace("-", "_"))
print("torch" in sys.modules)
"""


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out


def test_every_module_imports_first():
    result = json.loads(_finish(_python(EACH_FIRST)).splitlines()[-1])
    assert len(result["modules"]) > 80
    assert result["failed"] == {}


def test_once_cyclic_modules_import_first_in_a_fresh_interpreter():
    def first(name):
        proc = _python(f"import {name}")
        return name, proc.communicate(timeout=300)[1] if proc.wait() else ""
    with ThreadPoolExecutor(2) as pool:                  # two interpreters at a time
        errors = {name: err[-2000:] for name, err in pool.map(first, ONCE_CYCLIC) if err}
    assert errors == {}


def test_cli_and_package_load_without_torch():
    assert _finish(_python(LIGHT)).strip() == "False"


def test_the_molprobity_module_loads_nothing_cctbx_cannot_follow():
    """cctbx, imported after scipy, gemmi or torch, crashes (its child process imports this module)."""
    code = "import sys, cryonb.validation.molprobity; print(sorted({'scipy', 'gemmi', 'torch'} & set(sys.modules)))"
    assert _finish(_python(code)).strip() == "[]"


def package_imports(root=REPO / "cryonb") -> dict[str, set[str]]:
    """{unit: units it imports}, where a unit is a subpackage or top-level module of cryonb; every
    ``import`` counts, at module level or inside a function (the notebooks' sources excluded)."""
    import ast
    edges: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        if "notebooks" in rel.parts or rel.parts == ("cryonb", "__init__"):
            continue
        unit = rel.parts[1]
        here = list(rel.parts if path.name == "__init__.py" else rel.parts[:-1])
        if here[-1] == "__init__":
            here = here[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                targets = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            elif node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
                targets = [base] if node.module else [f"{base}.{a.name}" for a in node.names]
            else:
                targets = [node.module or ""]
            for t in targets:
                parts = t.split(".")
                if parts[0] == "cryonb" and len(parts) > 1 and parts[1] != unit:
                    edges.setdefault(unit, set()).add(parts[1])
    return edges


def test_no_two_packages_import_each_other_even_indirectly():
    edges = package_imports()
    assert {"geometry", "validation", "priors", "restraints"} <= set(edges)

    def reaches(a, b):
        seen, stack = set(), [a]
        while stack:
            x = stack.pop()
            if x == b:
                return True
            if x not in seen:
                seen.add(x)
                stack.extend(edges.get(x, ()))
        return False

    cycles = sorted((a, b) for a in edges for b in edges[a] if reaches(b, a))
    assert not cycles, f"packages importing each other (directly or through others): {cycles}"
    assert "validation" not in edges["geometry"] and "geometry" in edges["validation"]
