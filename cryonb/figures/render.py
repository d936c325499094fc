"""Saving a figure as SVG, PNG and the CSV of its source data, the same bytes every time.

Matplotlib writes a date into SVG and PNG metadata and random ids into SVG; with the style's
``svg.hashsalt`` and the metadata removed, drawing the same data twice on the same machine gives
identical files.
"""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend

from ..atomic import atomic_path  # noqa: E402

STYLE = Path(__file__).with_name("cryonb.mplstyle")
FORMATS = ("svg", "png")


@contextmanager
def styled():
    """Matplotlib settings of every figure (``cryonb.mplstyle``), restored afterwards."""
    with plt.style.context(str(STYLE)):
        yield


def save(fig: plt.Figure, rows: list[dict], name: str, out: str | Path) -> list[Path]:
    """Write ``out/name.svg``, ``.png`` and ``.csv`` (``rows``: the plotted numbers, one dict per
    line, keys in column order); closes ``fig``. Returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        meta = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, metadata=meta)
        paths.append(_write(out / f"{name}.{fmt}", buffer.getvalue()))
    plt.close(fig)
    paths.append(_write(out / f"{name}.csv", csv_bytes(rows)))
    return paths


def csv_bytes(rows: list[dict]) -> bytes:
    """The rows as CSV text (floats to 6 significant digits, None as empty)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    w = csv.writer(buffer, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]
                    for c in columns])
    return buffer.getvalue().encode()


def _write(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return path
