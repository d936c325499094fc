"""The README stays a short front door and the docs stay true: links resolve, the benchmarks
and CLI commands they name exist, and every measured block has its closing marker."""
from __future__ import annotations

import re

import pytest

from cryonb.cli import COMMANDS

from .conftest import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*(/?)benchmark(?::\s*(\S+?))?\s*-->")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def test_docs_exist_and_index_lists_every_page():
    names = {p.name for p in DOCS}
    assert "index.md" in names and len(DOCS) >= 8, names
    index = (REPO / "docs" / "index.md").read_text()
    missing = [n for n in names - {"index.md"} if f"({n})" not in index]
    assert not missing, f"docs/index.md does not list {missing}"


def test_readme_is_short():
    size = README.stat().st_size
    assert size < 8000, f"README.md is {size} bytes; keep the front door under 8,000 (details go to docs/)"
    text = README.read_text()
    assert "make demo" in text and "make test" in text and "docs/index.md" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_point_at_existing_files(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):            # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.name}: broken links {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_benchmark_scripts_named_exist(page):
    text = page.read_text()
    named = set(re.findall(r"benchmarks/[A-Za-z0-9_]+\.py", text))
    named |= {m.group(2).split(":")[0] for m in MARKER.finditer(text) if m.group(2)}
    missing = sorted(n for n in named if not (REPO / n).is_file())
    assert not missing, f"{page.name} names missing benchmarks {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_benchmark_markers_are_paired(page):
    open_at = None
    for m in MARKER.finditer(page.read_text()):
        closing, name = m.group(1) == "/", m.group(2)
        if closing:
            assert open_at is not None, f"{page.name}: <!-- /benchmark --> without an opening marker"
            open_at = None
        else:
            assert open_at is None, f"{page.name}: benchmark block {open_at} not closed before {name}"
            assert name, f"{page.name}: <!-- benchmark --> must name its script"
            open_at = name
    assert open_at is None, f"{page.name}: benchmark block {open_at} has no <!-- /benchmark -->"


def test_docs_hold_benchmark_blocks():
    blocks = [m.group(2) for p in DOCS for m in MARKER.finditer(p.read_text()) if m.group(2)]
    assert blocks, "no <!-- benchmark: ... --> block in docs/"


def test_readme_cli_commands_exist():
    text = README.read_text()
    section = text.split("## CLI at a glance", 1)[1].split("\n## ", 1)[0]
    used = set(re.findall(r"^\s*(?:\S*/)?cryonb\s+([a-z][a-z-]*)", section, re.M))
    assert used, "README's CLI list names no cryonb command"
    unknown = sorted(used - set(COMMANDS))
    assert not unknown, f"README's CLI list names commands cryonb.cli does not register: {unknown}"
