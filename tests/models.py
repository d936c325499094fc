"""Small structures cut from the example models, shared by several test modules."""
from __future__ import annotations

import gemmi


def first_residues(st: gemmi.Structure, n: int) -> gemmi.Structure:
    """A copy of ``st`` whose first chain keeps only its first ``n`` residues (entities set up again)."""
    out = st.clone()
    chain = out[0][0]
    for _ in range(len(chain) - n):
        del chain[n]
    out.setup_entities()
    return out
