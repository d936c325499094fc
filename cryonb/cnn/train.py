"""Training the C-alpha network: weighted cross-entropy on random patches, validated each epoch.

The seed's recipe: cross-entropy with class weights 1 : 50 (background : C-alpha), Adam with
learning rate 5e-4, dropout 0.2, batch 1; the kept weights are those of the epoch with the best
mean validation CRscore. Each step draws fresh samples from a generator seeded by (seed, step) and
seeds dropout the same way, so a run resumed from its checkpoint continues exactly as an
uninterrupted one would. Each epoch ends with a validation pass over whole maps (sliding
windows): loss, CRscore, recall and precision, then an atomic checkpoint in the run folder:

  checkpoint.pt   model, optimizer, history, epoch, wall time and the best weights so far
  weights.pt      at the end: the best weights with the training record (:mod:`.weights`)
"""
from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..atomic import atomic_path
from ..errors import CryonbError
from ..torch_utils import resolve_device, seeded, torch_threads
from .dataset import DataConfig, DataSplit, Sample, evaluation_samples, load_structure, training_batch
from .evaluate import evaluate_sample, mean_by_resolution
from .experimental import IGNORE, RealismConfig, experimental_batch, experimental_evaluation
from .labelled_maps import labelled_batch
from .network import NetworkConfig, ResidualNetwork, count_parameters
from .weights import DEFAULT_WEIGHTS, load_weights, save_weights


@dataclass
class TrainConfig:
    """Optimisation and validation settings (patch and window in voxels)."""

    epochs: int = 100
    steps_per_epoch: int = 50
    batch: int = 1                                   # the seed's batch size
    patch: int = 48                                  # training patch edge: 72 Å at 1.5 Å voxels
    learning_rate: float = 5e-4
    class_weights: tuple[float, float] = (1.0, 50.0)   # background, C-alpha
    validation_resolutions: tuple[float, ...] = (3.0, 5.0, 8.0)
    window: int = 64                                 # sliding window of the validation maps
    overlap: int = 16
    device: str = "auto"
    seed: int = 0
    threads: int | None = None                       # torch CPU threads (None: leave as is)
    time_limit: float | None = None                  # seconds: no epoch starts that would end past it
    bfloat16: bool = True                            # autocast the forward pass to bfloat16 where the CPU
                                                     # has it natively (use_bfloat16; ~1.7x there)
    decay_at: float | None = None                    # fraction of time_limit after which the learning
    decay_factor: float = 0.1                        # rate falls to decay_factor times itself:
    decay: str = "step"                              # at once ('step'), or by time down to it at
                                                     # time_limit ('linear')
    init_weights: str | None = None                  # start from these weights (fine-tuning), not at random
    labelled_fraction: float = 0.0                   # share of steps drawn from labelled real maps


SCHEDULE = ("time_limit", "decay_at", "decay_factor", "decay")   # TrainConfig fields of the rate schedule


def shipped_config(threads: int | None = None, time_limit: float = 7000.0, seed: int = 0) -> TrainConfig:
    """The shipped network's settings: the defaults in epochs of 200 steps until ``time_limit`` s;
    over the second half of the time the learning rate falls linearly to 1/100 of itself."""
    return TrainConfig(epochs=1000, steps_per_epoch=200, threads=threads, time_limit=time_limit, seed=seed,
                       decay_at=0.5, decay_factor=0.01, decay="linear")


def shipped_data() -> DataConfig:
    """The shipped network's training maps: the defaults (2-10 Å, SNR 0.5-20, 1.5 Å voxels) with
    resolutions drawn in proportion to themselves, so coarse maps, the hard ones, come up more."""
    return DataConfig(resolution_weighting="linear")


def experimental_config(threads: int | None = None, time_limit: float = 3600.0, seed: int = 0) -> TrainConfig:
    """The experimental network's settings: fine-tuned from the shipped network at 2e-4 (falling
    linearly to 1/100 over the second half of ``time_limit`` s), a fifth of the steps on labelled
    real maps, the rest on experimental-looking simulated maps (:class:`~.experimental.RealismConfig`).
    (bfloat16 only where the CPU has it natively: :func:`use_bfloat16`.)"""
    return TrainConfig(epochs=1000, steps_per_epoch=50, threads=threads, time_limit=time_limit, seed=seed,
                       learning_rate=2e-4, decay_at=0.5, decay_factor=0.01, decay="linear",
                       init_weights=str(DEFAULT_WEIGHTS), labelled_fraction=0.2)


@dataclass
class TrainResult:
    """The best network (eval mode), per-epoch history and the record stored with the weights."""

    network: ResidualNetwork
    history: dict[str, list[float]]
    record: dict = field(default_factory=dict)


def train_network(split: DataSplit, out_dir: str | Path, network: NetworkConfig | None = None,
                  data: DataConfig | None = None, config: TrainConfig | None = None,
                  resume: bool = False, progress: bool = False, realism: RealismConfig | None = None,
                  labelled: list[Sample] | None = None) -> TrainResult:
    """Train on ``split.train``, validate on ``split.val`` each epoch; outputs in ``out_dir``.

    resume: continue from ``out_dir/checkpoint.pt`` (same settings; more epochs or time allowed).
    Stops after ``config.epochs`` epochs, or earlier when the next would pass ``config.time_limit``.
    realism: train and validate on experimental-looking maps (:mod:`.experimental`) instead of
    clean simulated ones; labelled: experimental maps with labels (:mod:`.labelled_maps`), drawn
    for ``config.labelled_fraction`` of the steps.
    """
    network, data, config = network or NetworkConfig(), data or DataConfig(), config or TrainConfig()
    if config.epochs < 1 or config.steps_per_epoch < 1 or config.batch < 1:
        raise ValueError(f"epochs, steps_per_epoch and batch must be >= 1: {config}")
    if config.labelled_fraction > 0 and not labelled:
        raise ValueError("labelled_fraction > 0 needs labelled maps")
    out = Path(out_dir)
    device = resolve_device(config.device)
    with torch_threads(config.threads):
        net = _initial_network(network, config, device)
        opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
        key = _settings(split, network, data, config, realism, labelled)
        state = _resume(out / "checkpoint.pt", key, net, opt, device) if resume else _fresh(out)
        source = TrainingMaps({name: load_structure(name) for name in split.train}, data, realism, labelled or [])
        val = _validation_samples(split, data, config, realism)
        weights = torch.tensor(config.class_weights, dtype=torch.float32, device=device)
        for epoch in range(state["epoch"], config.epochs):
            if _out_of_time(state, config.time_limit):
                break
            t0 = time.perf_counter()
            lr = learning_rate(state["seconds"], config)
            _set_learning_rate(opt, lr)
            losses = [train_step(net, opt, source, config, weights, step)
                      for step in _steps(epoch, config, progress)]
            metrics = {"epoch": epoch + 1, "learning_rate": lr, "train_loss": float(np.mean(losses)),
                       **validate(net, val, config)}
            _update(state, metrics, net, time.perf_counter() - t0)
            if progress:
                print(_summary(metrics, state["seconds"]), flush=True)
            _save_checkpoint(out / "checkpoint.pt", state, key, net, opt)
        net.load_state_dict(state["best"]["model"])
        record = _record(key, state, net, device, config)
        save_weights(out / "weights.pt", net, data.voxel_size, record)
        return TrainResult(net.eval(), state["history"], record)


@dataclass
class TrainingMaps:
    """Where training patches come from: structures simulated (clean, or experimental-looking with
    ``realism``) and labelled experimental maps."""

    structures: dict
    data: DataConfig
    realism: RealismConfig | None = None
    labelled: list = field(default_factory=list)

    def batch(self, config: TrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.labelled and rng.uniform() < config.labelled_fraction:
            return labelled_batch(self.labelled, config.patch, config.batch, rng)
        if self.realism is not None:
            return experimental_batch(self.structures, self.data, self.realism, config.patch, config.batch, rng)
        return training_batch(self.structures, self.data, config.patch, config.batch, rng)


def train_step(net: ResidualNetwork, opt: torch.optim.Optimizer, source: TrainingMaps, config: TrainConfig,
               weights: torch.Tensor, step: int) -> float:
    """One Adam step on a fresh batch drawn for ``step`` from ``source``; returns the weighted
    cross-entropy (labels :data:`~.experimental.IGNORE` skipped)."""
    rng = np.random.default_rng([config.seed, step])
    x, y = source.batch(config, rng)
    device = weights.device
    net.train()
    with seeded(config.seed * 1_000_003 + step, device):          # dropout, reproducible per step
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bfloat16(config, device)):
            scores = net(torch.from_numpy(x).to(device))
        loss = F.cross_entropy(scores.float(), torch.from_numpy(y).to(device), weight=weights,
                               ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
    opt.step()
    return float(loss.detach())


def use_bfloat16(config: TrainConfig, device: torch.device) -> bool:
    """Autocast to bfloat16 only where it is fast: on a GPU, or a CPU with native bfloat16 (oneDNN);
    on an AVX2-only CPU it is emulated and a training step took minutes instead of 4.5 s."""
    if not config.bfloat16:
        return False
    if device.type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def validate(net: ResidualNetwork, samples: list[Sample], config: TrainConfig) -> dict[str, float]:
    """Means over whole validation maps of :func:`~cryonb.cnn.evaluate.evaluate_sample`'s scores.

    Keys: val_loss, val_crscore, val_recall, val_precision, and val_crscore_<R>A per resolution.
    """
    rows = [evaluate_sample(net, s, config.class_weights, config.window, config.overlap) for s in samples]
    if not rows:
        return {}
    keys = ("loss", "crscore", "recall", "precision")
    out = {f"val_{k}": float(np.mean([r[k] for r in rows])) for k in keys}
    out.update({f"val_crscore_{res:g}A": m["crscore"] for res, m in mean_by_resolution(rows).items()})
    return out


# ----------------------------------------------------------------------------- bookkeeping
def _steps(epoch: int, config: TrainConfig, progress: bool):
    steps = range(epoch * config.steps_per_epoch, (epoch + 1) * config.steps_per_epoch)
    if progress:
        steps = tqdm(steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="step", leave=False)
    return steps


def learning_rate(seconds: float, config: TrainConfig) -> float:
    """The learning rate of an epoch starting after ``seconds`` of training.

    Constant until ``decay_at * time_limit`` s; then ``decay_factor`` times it ('step'), or falling
    linearly with time to that at ``time_limit`` ('linear'). No decay without both settings.
    """
    if config.decay not in ("step", "linear"):
        raise ValueError(f"decay must be 'step' or 'linear', got {config.decay!r}")
    if config.decay_at is None or not config.time_limit:
        return config.learning_rate
    start = config.decay_at * config.time_limit
    if seconds < start:
        return config.learning_rate
    done = 1.0 if config.decay == "step" else min(1.0, (seconds - start) / max(config.time_limit - start, 1e-9))
    return config.learning_rate * (1.0 - done * (1.0 - config.decay_factor))


def _set_learning_rate(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def _summary(metrics: dict, seconds: float) -> str:
    """One line per epoch: loss and validation scores, cumulated training time."""
    parts = [f"epoch {metrics['epoch']}", f"{seconds:.0f} s"]
    parts += [f"{k} {v:{'.3g' if k == 'learning_rate' else '.3f'}}" for k, v in metrics.items() if k != "epoch"]
    return "  ".join(parts)


def _initial_network(network: NetworkConfig, config: TrainConfig, device: torch.device) -> ResidualNetwork:
    """A network with seeded random weights, or those of ``config.init_weights`` (same architecture)."""
    with seeded(config.seed):
        net = ResidualNetwork(network)
    if config.init_weights:
        start, _ = load_weights(config.init_weights, torch.device("cpu"))
        if start.config != network:
            raise CryonbError(config.init_weights, f"holds a network {start.config}, not the {network} asked for")
        net.load_state_dict(start.state_dict())
    return net.to(device)


def _validation_samples(split: DataSplit, data: DataConfig, config: TrainConfig, realism) -> list[Sample]:
    if realism is not None:
        return experimental_evaluation(split.val, data, realism, config.validation_resolutions, seed=config.seed + 1)
    return evaluation_samples(split.val, data, config.validation_resolutions, seed=config.seed + 1)


def _settings(split, network, data, config, realism=None, labelled=None) -> dict:
    """Everything that fixes the run's results; a resume must match it (not epochs, time or device)."""
    free = ("epochs", "device", "threads", *SCHEDULE)
    training = {k: v for k, v in asdict(config).items() if k not in free}
    key = {"network": network.as_dict(), "data": data.as_dict(), "training": training, "split": split.as_dict()}
    if realism is not None:
        key["realism"] = realism.as_dict()
    if labelled:
        key["labelled"] = [s.name for s in labelled]
    return key


def _out_of_time(state: dict, limit: float | None) -> bool:
    """True when another epoch of the mean length so far would end past ``limit`` seconds."""
    done = state["epoch"]
    return bool(limit) and done > 0 and state["seconds"] * (done + 1) / done > limit


def _fresh(out: Path) -> dict:
    if (out / "checkpoint.pt").exists():
        raise CryonbError(out, "holds a checkpoint of an earlier run: resume it, or choose a new folder")
    return {"epoch": 0, "history": {}, "seconds": 0.0, "best": None}


def _resume(path: Path, key: dict, net, opt, device) -> dict:
    if not path.is_file():
        raise CryonbError(path, "nothing to resume: no checkpoint")
    saved = torch.load(path, map_location=device, weights_only=True)
    if saved["settings"] != _plain(key):
        raise CryonbError(path, "the checkpoint was made with other settings; resume with the same "
                                "network, data, training settings and split (only epochs may grow)")
    net.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    return {k: saved[k] for k in ("epoch", "history", "seconds", "best")}


def _update(state: dict, metrics: dict, net, seconds: float) -> None:
    """Append the epoch's metrics; keep a copy of the weights when validation CRscore is best."""
    for k, v in metrics.items():     # a key new since a resume starts with None for the epochs before
        state["history"].setdefault(k, [None] * (metrics["epoch"] - 1)).append(v)
    state["epoch"] = metrics["epoch"]
    state["seconds"] += seconds
    score = metrics.get("val_crscore", float(metrics["epoch"]))   # no validation: keep the latest
    if state["best"] is None or score > state["best"]["score"]:
        model = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        state["best"] = {"epoch": metrics["epoch"], "score": score, "model": model}


def _save_checkpoint(path: Path, state: dict, key: dict, net, opt) -> None:
    payload = {**state, "settings": _plain(key), "model": net.state_dict(), "optimizer": opt.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _record(key: dict, state: dict, net, device: torch.device, config: TrainConfig) -> dict:
    """What ships with the weights: settings, split, wall time, device, history, best epoch."""
    schedule = {k: getattr(config, k) for k in SCHEDULE}
    return {**_plain(key), "schedule": schedule, "epochs": state["epoch"], "seconds": state["seconds"],
            "best_epoch": state["best"]["epoch"], "history": state["history"],
            "n_parameters": count_parameters(net), "device": _device_name(device),
            "threads": torch.get_num_threads(), "torch": str(torch.__version__),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S")}


def _plain(value):
    """Tuples to lists, recursively, so settings compare equal after a save and load."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"cpu: {model}"
