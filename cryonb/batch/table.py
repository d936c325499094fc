"""A batch table: one notebook run per row, columns are the notebook's parameters.

The table is a CSV file with a header. Each column names a parameter of the notebook's
``parameters`` cell, except ``name`` (optional: the row's run folder name; default ``row001``,
``row002``, ...). A value is cast to the type of the parameter's default in the notebook:
``int``, ``float``, ``bool`` (true/false, yes/no, 1/0) or text; a parameter whose default is
``None`` takes a Python literal (``50``, ``2.5``, ``[1, 2]``) or else the text. An empty cell keeps
the notebook's default. Text that names a file (it has a ``/`` or a model/map/table suffix) is read
relative to the table's folder and made absolute.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "t.csv").write_text("name,resolution,polish_steps\\nfast,4.0,50\\nslow,6,\\n")
>>> rows = read_table(folder / "t.csv", {"resolution": 5.0, "polish_steps": 1000, "run_dir": None})
>>> [(r.name, r.parameters) for r in rows]
[('fast', {'resolution': 4.0, 'polish_steps': 50}), ('slow', {'resolution': 6.0})]
"""
from __future__ import annotations

import ast
import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CryonbError

NAME_COLUMN = "name"
RESERVED = ("run_dir",)        # set by the batch for every row
PATH_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdbx", ".mrc", ".map", ".ccp4", ".gz", ".bz2",
                 ".npy", ".pkl", ".txt", ".csv", ".json", ".dcd", ".psf")
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


@dataclass
class Row:
    """One run of the batch: its folder name, the parameters it gives (cast) and its input files."""

    name: str
    parameters: dict
    files: list[str] = field(default_factory=list)      # absolute paths named by the row


def notebook_defaults(notebook: str | os.PathLike) -> dict:
    """{parameter: default value} of a notebook's ``parameters`` cell (papermill's reading)."""
    import papermill
    out = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            out[name] = None              # an expression: cast the table's text as for a None default
    return out


def read_table(path: str | os.PathLike, defaults: dict) -> list[Row]:
    """The rows of the CSV table ``path`` for a notebook with parameter ``defaults``.

    CryonbError naming the table, row and column for an unknown column, a value that does not
    fit its parameter's type, a bad or repeated row name, or an empty table."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            records = [list(r.values()) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CryonbError(path, f"cannot read the batch table ({type(exc).__name__}: {exc})") from None
    _check_columns(path, columns, defaults)
    if not records:
        raise CryonbError(path, "the batch table has no rows")
    rows = [_row(path, k + 1, dict(zip(columns, values)), defaults) for k, values in enumerate(records)]
    names = [r.name for r in rows]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CryonbError(path, f"row name {repeated[0]!r} is used by more than one row")
    return rows


def _check_columns(path: Path, columns: list[str], defaults: dict) -> None:
    known = [k for k in defaults if k not in RESERVED]
    if not columns:
        raise CryonbError(path, "the batch table has no header line")
    for c in columns:
        if c in RESERVED:
            raise CryonbError(path, f"column {c!r}: set by the batch for every row; remove the column")
        if c != NAME_COLUMN and c not in defaults:
            raise CryonbError(path, f"column {c!r} is not a parameter of the notebook (its parameters: "
                                    f"{', '.join(known)})")
    if len(set(columns)) != len(columns):
        raise CryonbError(path, "a column appears twice in the header")


def _row(path: Path, number: int, record: dict, defaults: dict) -> Row:
    if None in record or any(v is None for v in record.values()):
        raise CryonbError(path, f"row {number}: wrong number of cells for the header")
    name = (record.pop(NAME_COLUMN, "") or "").strip() or f"row{number:03d}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise CryonbError(path, f"row {number}: name {name!r} is not a plain folder name (letters, digits, . _ -)")
    parameters, files = {}, []
    for column, text in record.items():
        text = text.strip()
        if text == "":
            continue                      # the notebook's default
        try:
            value = cast(text, defaults[column])
        except ValueError as exc:
            raise CryonbError(path, f"row {number} ({name}), column {column!r}: {exc}") from None
        if _names_a_file(value):
            value = str((path.parent / Path(value).expanduser()).resolve())
            files.append(value)
        parameters[column] = value
    return Row(name, parameters, files)


def cast(text: str, default):
    """The table cell ``text`` as a value of the default's type (see the module doc)."""
    if isinstance(default, bool):
        low = text.lower()
        if low in TRUE or low in FALSE:
            return low in TRUE
        raise ValueError(f"{text!r} is not true/false")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number (the default is {default!r})") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number (the default is {default!r})") from None
    if isinstance(default, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _names_a_file(value) -> bool:
    return isinstance(value, str) and ("/" in value or value.lower().endswith(PATH_SUFFIXES))
