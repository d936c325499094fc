"""Figures of an assembly run: energy per replica, acceptance and exchange, local confidence."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def read_remc(folder: str | Path) -> dict:
    """The energy trace (S, R), acceptance (R,), exchange (R-1,) and sampling interval of an
    assembly run folder's ``remc.npz`` and ``steps.json``."""
    import json
    folder = Path(folder)
    with np.load(folder / "remc.npz") as z:
        trace = z["trace"]
    steps = json.loads((folder / "steps.json").read_text())
    remc = next(s for s in steps["steps"] if s["name"] == "remc")
    return {"trace": trace, "acceptance": np.array(remc["acceptance"]), "exchange": np.array(remc["exchange"]),
            "sample_every": remc["config"]["sample_every"]}


def plot_remc(remc: dict) -> plt.Figure:
    """Energy of each temperature slot against step (coldest dark), and the acceptance and
    exchange rates per slot."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    trace = remc["trace"]
    steps = (np.arange(len(trace)) + 1) * remc["sample_every"]
    colours = plt.cm.viridis(np.linspace(0, 0.9, trace.shape[1]))
    for k in range(trace.shape[1]):
        a.plot(steps, trace[:, k], color=colours[k], lw=1)
    a.set_xlabel("Monte Carlo step")
    a.set_ylabel("energy (kT)")
    a.set_title("energy per temperature (dark: coldest)")
    a.set_yscale("symlog")
    slots = np.arange(len(remc["acceptance"]))
    b.plot(slots, remc["acceptance"], "o-", label="move acceptance")
    b.plot(slots[:-1] + 0.5, remc["exchange"], "s-", label="exchange with next")
    b.set_xlabel("temperature slot (cold to hot)")
    b.set_ylim(0, 1)
    b.legend()
    fig.tight_layout()
    return fig


def plot_local_confidence(local_conf: np.ndarray, local_pcc: np.ndarray, error: np.ndarray | None = None) -> plt.Figure:
    """Per-residue local confidence and local PCC of one model (L,), with the C-alpha error (Å)
    to the true model on a second axis when known."""
    fig, a = plt.subplots(figsize=(11, 3.5))
    residues = np.arange(1, len(local_conf) + 1)
    a.plot(residues, local_conf, label="local confidence", color="C0")
    a.plot(residues, local_pcc, label="local PCC", color="C1", alpha=0.7)
    a.set_xlabel("residue")
    a.set_ylabel("score")
    if error is not None:
        b = a.twinx()
        b.plot(residues, error, color="grey", lw=0.8, label="C-alpha error (Å)")
        b.set_ylabel("C-alpha error to the true model (Å)")
        b.invert_yaxis()
    a.legend(loc="lower left")
    fig.tight_layout()
    return fig
