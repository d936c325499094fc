"""Replica-exchange Monte Carlo of C-alpha chains (the seed's REMC), vectorised over replicas.

All replicas make one trial move per step (the same move type and segment length, each its own
place and size), accepted by Metropolis at its own temperature; every ``swap_every`` steps
neighbouring temperatures try to exchange conformations (alternating even and odd pairs). The
lowest ``sample_replicas`` temperatures give a decoy every ``sample_every`` steps: the decoys
SPICKER clusters. The state is checkpointed to an ``.npz`` and a run resumes from it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .energy import Energy
from .moves import MOVES


@dataclass
class RemcConfig:
    """Replica exchange settings (temperatures in kT units of the energy)."""

    steps: int = 20000
    t_min: float = 0.5                # true corpus chains in their own 4 Å maps keep TM 0.92 after
    t_max: float = 3.0                # 3,000 steps at 0.5 kT, 0.88 at 1 kT (docs/assembly.md)
    swap_every: int = 20
    sample_every: int = 100
    sample_replicas: int = 8          # the seed clusters the 8 lowest-temperature replicas
    max_segment: int = 60             # residues; segment lengths are drawn log-uniform from 1 to
                                      # min(max_segment, L / 4): long crankshafts turn whole domains
    move_weights: dict = field(default_factory=lambda: {"crankshaft": 0.6, "end_pivot": 0.1, "shift": 0.3})
    checkpoint_every: int = 2000
    seed: int = 0

    def temperatures(self, replicas: int) -> np.ndarray:
        """(replicas,) geometric from t_min to t_max."""
        if replicas == 1:
            return np.array([self.t_min])
        return self.t_min * (self.t_max / self.t_min) ** (np.arange(replicas) / (replicas - 1))


@dataclass
class RemcState:
    """Where a run stands: coordinates (R, L, 3) Å by temperature slot, their energies (R,),
    the step, decoys (D, L, 3) Å and their energies (D,), acceptance and swap counts, energy trace
    (S, R) every ``sample_every`` steps."""

    x: np.ndarray
    energy: np.ndarray
    step: int = 0
    decoys: list = field(default_factory=list)
    decoy_energy: list = field(default_factory=list)
    accepted: np.ndarray | None = None
    tried: int = 0
    swaps_accepted: np.ndarray | None = None
    swaps_tried: np.ndarray | None = None
    trace: list = field(default_factory=list)
    rng_state: dict | None = None

    def save(self, path: Path) -> None:
        tmp = Path(path).with_suffix(".tmp.npz")
        np.savez(tmp, x=self.x, energy=self.energy, step=self.step,
                 decoys=np.array(self.decoys).reshape(-1, *self.x.shape[1:]),
                 decoy_energy=np.array(self.decoy_energy), accepted=self.accepted, tried=self.tried,
                 swaps_accepted=self.swaps_accepted, swaps_tried=self.swaps_tried,
                 trace=np.array(self.trace).reshape(-1, len(self.x)), rng_state=json.dumps(self.rng_state))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "RemcState":
        with np.load(path) as z:
            return cls(z["x"], z["energy"], int(z["step"]), list(z["decoys"]), list(z["decoy_energy"]),
                       z["accepted"], int(z["tried"]), z["swaps_accepted"], z["swaps_tried"],
                       [row for row in z["trace"]], json.loads(str(z["rng_state"])))


def run_remc(energy: Energy, starts: np.ndarray, config: RemcConfig | None = None,
             checkpoint: Path | None = None, progress: bool = False) -> RemcState:
    """Run (or resume from ``checkpoint``) replica exchange from ``starts`` (R, L, 3) Å, one replica
    per temperature, the first at the lowest. Returns the final state with the decoys."""
    config = config or RemcConfig()
    starts = np.asarray(starts, dtype=np.float64)
    temps = config.temperatures(len(starts))
    rng = np.random.default_rng(config.seed)
    if checkpoint is not None and Path(checkpoint).exists():
        state = RemcState.load(checkpoint)
        rng.bit_generator.state = state.rng_state
    else:
        r = len(starts)
        state = RemcState(starts.copy(), energy.total(starts), accepted=np.zeros(r), swaps_accepted=np.zeros(max(r - 1, 1)),
                          swaps_tried=np.zeros(max(r - 1, 1)))
    names = list(config.move_weights)
    p = np.array([config.move_weights[n] for n in names], dtype=np.float64)
    p /= p.sum()
    k_max = max(1, min(config.max_segment, energy.n // 4, energy.n - 2))
    steps = range(state.step, config.steps)
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc="REMC", initial=state.step, total=config.steps)
    for step in steps:
        k = int(np.clip(np.round(np.exp(rng.uniform(0.0, np.log(k_max + 0.5)))), 1, k_max))
        _one_step(energy, state, temps, rng, names[rng.choice(len(names), p=p)], k)
        state.step = step + 1
        if state.step % config.swap_every == 0:
            _swap(state, temps, rng, parity=(state.step // config.swap_every) % 2)
        if state.step % config.sample_every == 0:
            state.energy = energy.total(state.x)              # no drift from summed changes
            low = min(config.sample_replicas, len(temps))
            state.decoys.extend(state.x[:low].copy())
            state.decoy_energy.extend(state.energy[:low].copy())
            state.trace.append(state.energy.copy())
        if checkpoint is not None and state.step % config.checkpoint_every == 0:
            state.rng_state = rng.bit_generator.state
            state.save(checkpoint)
    state.rng_state = rng.bit_generator.state
    if checkpoint is not None:
        state.save(checkpoint)
    return state


def _one_step(energy: Energy, state: RemcState, temps: np.ndarray, rng: np.random.Generator, name: str, k: int) -> None:
    start, new = MOVES[name](state.x, k, rng)
    delta = energy.delta(state.x, new, start, k)
    accept = rng.random(len(temps)) < np.exp(-np.clip(delta, -50.0, None) / temps)
    rows = np.flatnonzero(accept)
    if len(rows):
        state.x[rows[:, None], start[rows][:, None] + np.arange(k)] = new[rows]
        state.energy[rows] += delta[rows]
    state.accepted += accept
    state.tried += 1


def _swap(state: RemcState, temps: np.ndarray, rng: np.random.Generator, parity: int) -> None:
    for a in range(parity, len(temps) - 1, 2):
        b = a + 1
        arg = (1.0 / temps[a] - 1.0 / temps[b]) * (state.energy[a] - state.energy[b])
        state.swaps_tried[a] += 1
        if arg >= 0 or rng.random() < np.exp(arg):
            state.x[[a, b]] = state.x[[b, a]]
            state.energy[[a, b]] = state.energy[[b, a]]
            state.swaps_accepted[a] += 1


def summary(state: RemcState, config: RemcConfig) -> dict:
    """Acceptance per replica, exchange rate per neighbour pair, the decoy count, the config."""
    return {"acceptance": (state.accepted / max(state.tried, 1)).round(4).tolist(),
            "exchange": (state.swaps_accepted / np.maximum(state.swaps_tried, 1)).round(4).tolist(),
            "decoys": len(state.decoys), "steps": state.step, "config": asdict(config)}
