"""Build the benchmark template pool (cryonb.templates.real_pool) and print what it holds.

    python tools/build_template_pool.py [--out DIR]

Needs ``pip install -e .[benchmark]`` (rdata reads bio3d's chains), pip and, for the Debian
sources, apt-get and dpkg-deb. Prints, per source, the files read, the chains found and kept and
how many kept chains are C-alpha only, then the families with two or more members.
"""
from __future__ import annotations

import argparse
import collections
import csv
import time
from pathlib import Path

from cryonb.templates.real_pool import build_template_pool, pool_entries


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="pool folder (default: the cache folder)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    dest = build_template_pool(args.out, progress=True)
    print(f"pool: {dest} ({time.perf_counter() - start:.0f} s)")
    print_sources(dest)
    print_families(dest)


def print_sources(dest: Path) -> None:
    """One line per source from ``sources.csv``."""
    with open(dest / "sources.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    print(f"{'source':16s} {'version':22s} {'files':>5s} {'unreadable':>10s} {'chains':>6s} {'kept':>5s} "
          f"{'CA-only':>7s}  status")
    for r in rows:
        print(f"{r['source']:16s} {r['version']:22s} {r['files']:>5s} {r['unreadable']:>10s} {r['chains']:>6s} "
              f"{r['kept']:>5s} {r['calpha_only']:>7s}  {r['status']}")
    print(f"{'total':16s} {'':22s} {'':>5s} {'':>10s} {'':>6s} {sum(int(r['kept']) for r in rows):5d}")


def print_families(dest: Path, min_size: int = 2) -> None:
    """Families with at least ``min_size`` chains: size, full-atom members, member names."""
    families = collections.defaultdict(list)
    for row in pool_entries(dest):
        families[row["family"]].append(row)
    print(f"{len(families)} families; those with {min_size} or more chains:")
    for name, rows in sorted(families.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if len(rows) >= min_size:
            full = sum(not r["calpha_only"] for r in rows)
            print(f"  {name:40s} {len(rows):3d} chains, {full:3d} full-atom: "
                  + " ".join(f"{r['entry']}_{r['chain']}" for r in rows))


if __name__ == "__main__":
    main()
