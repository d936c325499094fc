"""Keep the measured tables in docs/ current: a benchmark run with ``--docs`` rewrites its row.

A table a benchmark reproduces sits between ``<!-- benchmark: benchmarks/<script>.py:... -->`` and
``<!-- /benchmark -->`` in a docs page. :func:`update_row` replaces the row whose first cell is
``label`` in the first table of that block (or adds it at the end of the table), and leaves the
rest of the page as it is.
"""
from __future__ import annotations

import re
from pathlib import Path

END = "<!-- /benchmark -->"


def update_row(page: str | Path, script: str, label: str, cells: list[str]) -> None:
    """Write ``| label | cells... |`` into the table of ``script``'s block in ``page``."""
    page = Path(page)
    text = page.read_text()
    start = re.search(rf"<!-- benchmark: benchmarks/{re.escape(script)}(:[^>]*)? -->\n", text)
    if start is None:
        raise SystemExit(f"{page}: no '<!-- benchmark: benchmarks/{script} -->' block")
    end = text.index(END, start.end())
    block = text[start.end():end].split("\n")
    rows = [k for k, line in enumerate(block) if line.startswith("|")]
    if len(rows) < 2:
        raise SystemExit(f"{page}: the {script} block holds no table")
    width = block[rows[0]].count("|") - 1
    if len(cells) + 1 != width:
        raise SystemExit(f"{page}: the {script} table has {width} columns, the row {len(cells) + 1}")
    row = "| " + " | ".join([label, *cells]) + " |"
    same = [k for k in rows[2:] if block[k].split("|")[1].strip() == label]
    if same:
        block[same[0]] = row
    else:
        block.insert(rows[-1] + 1, row)
    page.write_text(text[:start.end()] + "\n".join(block) + text[end:])
