"""CSV tables a run writes (ranking.csv, traces.csv, models.csv): one cell format, written atomically.

>>> table_cell(0.123456), table_cell(None), table_cell(float("nan")), table_cell(3)
('0.1235', '', '', 3)
"""
from __future__ import annotations

import csv
import math
import os

from .atomic import atomic_path


def table_cell(value, digits: int = 4):
    """A CSV cell: floats to ``digits`` decimals, empty for None and NaN, anything else as it is."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else value


def write_table(rows: list[dict], path: str | os.PathLike, columns: list[str]) -> None:
    """``rows`` as CSV with the header ``columns`` (other keys left out), cells by :func:`table_cell`."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, columns, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: table_cell(row.get(k)) for k in columns})


def read_table(path: str | os.PathLike) -> list[dict]:
    """The rows of a CSV table written by :func:`write_table`, as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
