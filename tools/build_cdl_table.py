"""Derive cryonb's conformation-dependent library (CDL) table from cctbx-base's CDL v1.2 data.

The CDL (Moriarty, Tronrud, Adams & Karplus 2014, 2016; Tronrud, Berkholz & Karplus 2010) gives
backbone bond lengths and angles, with sigmas, as functions of a residue's (phi, psi) on a
10-degree grid, for eight residue classes (Gly, Pro, Ile/Val, other; each before a Pro or not).
cctbx applies it by default (``restraints_library.cdl = True``), so cctbx's bond RMSZ is measured
against these values. This script reads the values from the installed cctbx-base wheel (the
``[validation]`` extra) and writes ``cryonb/geometry/cdl.npz``:

* ``groups``: the eight class names, ``columns``: the twelve restrained quantities;
* ``mean``, ``sigma``: float32 arrays of shape (8, 36, 36, 12), indexed by class, phi bin and psi
  bin (bin k is centred on -180 + 10 k degrees), NaN where a class has no such atom (Gly's CB);
* ``cis_pro_columns``, ``cis_pro_mean``, ``cis_pro_sigma``: the Engh & Huber (1999) values cctbx
  uses instead for a Pro in a cis peptide (``cis_pro_eh99 = True``), ring terms included.

Usage: ``python tools/build_cdl_table.py`` (needs ``pip install -e .[validation]``).
The CDL data are distributed with cctbx under its BSD-style licence (see README, data credits).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "cryonb" / "geometry" / "cdl.npz"
GROUPS = ["NonPGIV_nonxpro", "NonPGIV_xpro", "IleVal_nonxpro", "IleVal_xpro",
          "Gly_nonxpro", "Gly_xpro", "Pro_nonxpro", "Pro_xpro"]
# Column order of a CDL row after its two header fields: (mean, sigma) pairs.
COLUMNS = ["CNA", "NAB", "NAC", "BAC", "ACO", "ACN", "OCN", "CN", "NA", "AB", "AC", "CO"]
CIS_PRO_COLUMNS = COLUMNS + ["CND", "AND", "NDG", "ABG", "BGD", "BG", "GD", "ND"]


def cdl_arrays(database: dict) -> tuple[np.ndarray, np.ndarray]:
    """(8, 36, 36, 12) means and sigmas from cctbx's ``cdl_database`` dict (-1 -> NaN)."""
    mean = np.full((len(GROUPS), 36, 36, len(COLUMNS)), np.nan, dtype=np.float32)
    sigma = np.full_like(mean, np.nan)
    for g, group in enumerate(GROUPS):
        table = database[group]
        if len(table) != 36 * 36:
            raise ValueError(f"{group}: {len(table)} (phi, psi) bins, expected 1296")
        for (phi, psi), row in table.items():
            i, j = (phi + 180) // 10, (psi + 180) // 10
            values = np.array(row[2:2 + 2 * len(COLUMNS)], dtype=np.float64).reshape(-1, 2)
            missing = values[:, 0] == -1
            values[missing] = np.nan
            mean[g, i, j], sigma[g, i, j] = values[:, 0], values[:, 1]
    return mean, sigma


def cis_pro_values() -> tuple[np.ndarray, np.ndarray]:
    """Engh & Huber 1999 cis-Pro backbone and ring values as cctbx applies them (mean, sigma)."""
    pairs = [(127.0, 2.4), (102.6, 1.1), (112.1, 2.6), (112.0, 2.5), (120.2, 2.4), (117.1, 2.8),
             (121.1, 1.9), (1.338, 0.019), (1.468, 0.017), (1.533, 0.018), (1.524, 0.020),
             (1.228, 0.020), (120.6, 2.2), (111.5, 1.4), (103.8, 1.2), (104.0, 1.9), (105.4, 2.3),
             (1.506, 0.039), (1.512, 0.027), (1.474, 0.014)]
    values = np.array(pairs, dtype=np.float32)
    return values[:, 0], values[:, 1]


def main() -> int:
    try:
        from mmtbx.conformation_dependent_library.cdl_database import cdl_database, version
    except ImportError:
        print("cctbx-base is not installed: pip install -e .[validation]", file=sys.stderr)
        return 1
    mean, sigma = cdl_arrays(cdl_database)
    cis_mean, cis_sigma = cis_pro_values()
    np.savez_compressed(OUT, version=np.array(version), groups=np.array(GROUPS), columns=np.array(COLUMNS),
                        mean=mean, sigma=sigma, cis_pro_columns=np.array(CIS_PRO_COLUMNS),
                        cis_pro_mean=cis_mean, cis_pro_sigma=cis_sigma)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB) from {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
