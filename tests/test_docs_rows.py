"""benchmarks/docs_rows.py rewrites one row of a benchmark's table in a docs page, nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from docs_rows import update_row  # noqa: E402

PAGE = """# Series
text before
<!-- benchmark: benchmarks/series_adk.py:cryonb,gemmi -->
| maps by | median | max |
|---|---|---|
| cryonb | 0.806 Å | 0.901 Å |
| gemmi | 0.907 Å | 1.016 Å |

No frame has a Ramachandran outlier.
<!-- /benchmark -->
text after
"""


def test_a_row_is_replaced_or_added_and_the_rest_kept(tmp_path):
    page = tmp_path / "series.md"
    page.write_text(PAGE)
    update_row(page, "series_adk.py", "gemmi", ["0.795 Å", "0.990 Å"])
    update_row(page, "series_adk.py", "eq2", ["0.801 Å", "0.998 Å"])
    lines = page.read_text().splitlines()
    assert lines[5] == "| cryonb | 0.806 Å | 0.901 Å |" and lines[6] == "| gemmi | 0.795 Å | 0.990 Å |"
    assert lines[7] == "| eq2 | 0.801 Å | 0.998 Å |" and lines[8] == ""
    assert page.read_text().replace(lines[6] + "\n" + lines[7], "| gemmi | 0.907 Å | 1.016 Å |") == PAGE


def test_a_wrong_row_or_a_missing_block_is_refused(tmp_path):
    page = tmp_path / "series.md"
    page.write_text(PAGE)
    with pytest.raises(SystemExit, match="3 columns"):
        update_row(page, "series_adk.py", "gemmi", ["1"])
    with pytest.raises(SystemExit, match="no '<!-- benchmark: benchmarks/real_models.py"):
        update_row(page, "real_models.py", "x", ["1", "2"])
    assert page.read_text() == PAGE
