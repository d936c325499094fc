"""The seed's consensus of two C-alpha networks: one trained on simulated maps, one on
experimental ones.

Each network's atoms are picked on its own probability map. Their agreement is the CRscore of the
second network's atoms against the first's, over the larger of the two atom counts (each network
picks L to 1.2 L atoms; over L alone two identical sets would score up to 1.2). Above :data:`AGREEMENT` (the seed's
0.85) the prediction is *reliable*: atoms the two place within 3 Å of each other are averaged and
the second network's unpaired atoms follow. Below it the atoms are still given, flagged unreliable,
and the steps that use them (template rerank, assembly) should fall back on the density.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .peaks import Peaks
from .score import ca_score, greedy_pairs

AGREEMENT = 0.85     # CRscore between the two networks' atoms above which they are trusted (the seed)
PAIR_CUTOFF = 3.0    # Å: atoms of the two networks closer than this are one atom


@dataclass
class Consensus:
    """Consensus atoms (K, 3) Å with their mean probability (K,), and how far the networks agree."""

    xyz: np.ndarray
    value: np.ndarray
    agreement: float          # CRscore of the second network's atoms against the first's
    reliable: bool            # agreement > AGREEMENT
    n_paired: int             # atoms the two networks place within PAIR_CUTOFF of each other

    def summary(self) -> dict:
        return {"agreement": self.agreement, "reliable": self.reliable, "n_paired": self.n_paired,
                "n_atoms": len(self.xyz)}


def consensus(first: Peaks, second: Peaks, length: int, threshold: float = AGREEMENT) -> Consensus:
    """(``length``: the sequence length L, kept for the record.) Average the paired atoms of ``first`` (simulated-trained) and ``second`` (experimental-trained)
    networks; their unpaired atoms from ``second`` follow, most probable first."""
    agreement = ca_score(second.xyz, first.xyz, max(len(first.xyz), len(second.xyz), 1)).crscore
    i, j, d = greedy_pairs(second.xyz, first.xyz)
    close = d < PAIR_CUTOFF
    i, j = i[close], j[close]
    rest = np.setdiff1d(np.arange(len(second.xyz)), i)
    rest = rest[np.argsort(-second.value[rest], kind="stable")]
    xyz = np.concatenate([(second.xyz[i] + first.xyz[j]) / 2, second.xyz[rest]])
    value = np.concatenate([(second.value[i] + first.value[j]) / 2, second.value[rest]])
    return Consensus(xyz, value, float(agreement), bool(agreement > threshold), int(close.sum()))
