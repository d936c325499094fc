"""Notebook 03's figures: the ranking before and after, CRscore against TM-score."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

ORDERS = {"sequence (z-score)": "rank_sequence", "CRscore (rerank)": "rank", "density correlation": "rank_density"}


def top_tm(table: list[dict], tm: dict, by: str, k: int) -> float:
    """Mean TM-score of the first ``k`` templates by ranking column ``by``."""
    order = sorted((r for r in table if r.get(by) is not None), key=lambda r: r[by])[:k]
    return float(np.mean([tm[(r["template"], r["chain"])] for r in order])) if order else float("nan")


def plot_rerank(table: list[dict], tm: dict | None = None) -> plt.Figure:
    """(a) CRscore against TM-score to the target (or against the alignment z-score when the target
    is unknown), one point per template; (b) with ``tm``: TM-score of the top 1 and the mean of the
    top 10 by each ranking."""
    fig, axes = plt.subplots(1, 2 if tm else 1, figsize=(10 if tm else 5, 4), squeeze=False)
    ax = axes[0, 0]
    x = [tm[(r["template"], r["chain"])] if tm else r["zscore"] for r in table]
    ax.scatter(x, [r["crscore"] for r in table], s=14, c="#4c72b0", alpha=0.7)
    top = table[0]
    ax.annotate(top["template"], (x[0], top["crscore"]), fontsize=8, xytext=(4, -10), textcoords="offset points")
    ax.set_xlabel("TM-score to the target (alignment model)" if tm else "alignment z-score")
    ax.set_ylabel("CRscore against the predicted C-alphas")
    ax.set_title("a  templates")
    if tm:
        ax = axes[0, 1]
        names = list(ORDERS)
        width = 0.38
        for j, k in enumerate((1, 10)):
            values = [top_tm(table, tm, ORDERS[n], k) for n in names]
            ax.bar(np.arange(len(names)) + (j - 0.5) * width, values, width, label=f"top {k}" if k > 1 else "top 1")
        ax.set_xticks(np.arange(len(names)), [n.split(" (")[0] for n in names])
        ax.set_ylabel("TM-score to the target")
        ax.set_ylim(0, 1)
        ax.legend()
        ax.set_title("b  by ranking")
    fig.tight_layout()
    return fig
