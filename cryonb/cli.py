"""The ``cryonb`` command: one sub-command per module in :mod:`cryonb.commands`.

Run ``cryonb <command> --help`` for each command's options.
"""
from __future__ import annotations

import argparse
import sys

from .errors import CryonbError

COMMANDS = ["simulate", "fsc", "validate", "refine", "refine-geometry", "series", "notebook", "predict-ca"]


def main(argv: list[str] | None = None) -> int:
    import importlib

    parser = argparse.ArgumentParser(prog="cryonb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in COMMANDS:
        mod = importlib.import_module(f"cryonb.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=mod.__doc__.splitlines()[0], description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_args(p)
        modules[name] = mod
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].main(args) or 0)
    except CryonbError as exc:
        print(f"cryonb {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
