"""Load a model by example name or by path, as notebooks take it from a parameter."""
from __future__ import annotations

import os

import gemmi

from ..io import read_model
from .adk import adk_closed, adk_dims, adk_open

EXAMPLES = {"adk_open": adk_open, "adk_closed": adk_closed, "adk_dims": adk_dims}


def load_model(name_or_path: str | os.PathLike) -> gemmi.Structure:
    """An example by name (``adk_open``, ``adk_closed``, ``adk_dims``) or a PDB/mmCIF file."""
    key = os.fspath(name_or_path)
    if key in EXAMPLES:
        return EXAMPLES[key]()
    return read_model(key)


def example_template_folder(folder: str | os.PathLike, corpus: int | None = None) -> list[str]:
    """Write notebook 03's example template pool into ``folder``: AdK open (4AKE, the query's own
    protein in another state) and the protein chains of the structure corpus (the first ``corpus``
    of them; None: all, about 55). Existing files are kept. Returns the file names."""
    from pathlib import Path

    from ..io import write_model
    from .corpus import corpus_entries, load_corpus_structure
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = ["adk_open"] + [e.name for e in corpus_entries() if e.kind == "protein"][:corpus]
    for name in names:
        path = out / f"{name}.cif"
        if not path.exists():
            write_model(adk_open() if name == "adk_open" else load_corpus_structure(name), path)
    return [f"{n}.cif" for n in names]


def example_map(model: gemmi.Structure, resolution: float, seed: int = 0, voxel_size: float = 1.0):
    """A map of ``model`` made as an experimental one would look (gemmi electron form factors, the
    atoms' B-factors plus a global B, low-pass and coloured noise calibrated to ``resolution`` Å:
    :func:`cryonb.data.other_simulators.simulate_other`), on ``voxel_size`` Å voxels."""
    from ..density.simulate import box_around_points
    from ..io import model_xyz
    from .other_simulators import simulate_other
    grid = box_around_points(model_xyz(model), voxel_size, padding=10.0)
    return simulate_other(model, grid, resolution, "gemmi", seed=seed)


def map_and_query(map_path: str | os.PathLike | None, resolution: float, sequence_path: str | os.PathLike | None,
                  seed: int = 0):
    """(map, its label, query sequence) as notebooks 03 and 04 take them: the user's MRC and FASTA
    files, or the example for None (AdK closed simulated as an experimental map at ``resolution``
    Å by :func:`example_map`; AdK's sequence)."""
    from ..io import read_map
    from ..sequence import Sequence, read_fasta, structure_sequence
    if map_path is None:
        m = example_map(load_model("adk_closed"), resolution, seed=seed)
        label = f"example: AdK closed, simulated at {resolution:g} Å"
    else:
        m, label = read_map(map_path), os.fspath(map_path)
    query = read_fasta(sequence_path) if sequence_path else Sequence("adk", structure_sequence(load_model("adk_closed")))
    return m, label, query
