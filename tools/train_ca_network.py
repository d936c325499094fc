"""Train the shipped C-alpha network (full settings) with checkpoints; resumable; optionally ship it.

  python tools/train_ca_network.py --out runs/cnn --threads 1 --time-limit 7000 [--resume] [--ship]

Full settings are the package defaults (NetworkConfig, TrainConfig) with ``shipped_data()`` maps,
in epochs of 200 steps, open-ended (``cryonb.cnn.shipped_config``): training stops when the next epoch would pass ``--time-limit`` seconds of
training (the issue's budget is 2 hours on this machine's CPU). ``--ship`` copies the best weights
(``OUT/weights.pt``, with their training record) to ``cryonb/data/cnn/weights.pt``.
"""
from __future__ import annotations

import argparse

from cryonb.cnn import ship_weights, shipped_config, shipped_data, split_structures, structure_names, train_network


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=7000.0, help="seconds of training (default 7000)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--ship", action="store_true")
    args = ap.parse_args(argv)
    config = shipped_config(args.threads, args.time_limit)
    result = train_network(split_structures(structure_names()), args.out, data=shipped_data(), config=config,
                           resume=args.resume, progress=True)
    rec = result.record
    print(f"best epoch {rec['best_epoch']} of {rec['epochs']}, {rec['seconds']:.0f} s on {rec['device']}")
    if args.ship:
        print(f"shipped {ship_weights(f'{args.out}/weights.pt')}")


if __name__ == "__main__":
    main()
