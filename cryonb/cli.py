"""The ``cryonb`` command: one sub-command per module in :mod:`cryonb.commands`.

Run ``cryonb <command> --help`` for each command's options.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

from .data.sources import cache_dir
from .errors import CryonbError

COMMANDS = ["simulate", "fsc", "validate", "refine", "refine-geometry", "series", "notebook", "batch", "figures",
            "predict-ca", "place", "rerank", "trace", "assemble", "build"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cryonb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name in COMMANDS:
        if chosen in COMMANDS and name != chosen:   # one command asked for: import only its module
            sub.add_parser(name)
            continue
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
    except KeyboardInterrupt:
        print(f"cryonb {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:   # noqa: BLE001 - one line for the user, the traceback kept in a log
        log = _log_traceback(args.command)
        print(f"cryonb {args.command}: error: unexpected {type(exc).__name__}: {exc} "
              f"(traceback in {log}; please report it)", file=sys.stderr)
        return 2


def _log_traceback(command: str) -> str:
    """Write the current exception's traceback to a log under the cache folder; returns its path."""
    try:
        folder = cache_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}-{os.getpid()}.log"
        path.write_text(f"cryonb {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}")
        return str(path)
    except OSError:
        traceback.print_exc()
        return "the lines above"


if __name__ == "__main__":
    sys.exit(main())
