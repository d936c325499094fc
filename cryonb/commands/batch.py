"""Run a notebook once per row of a CSV table (columns are its parameters) on Dask.

Examples: cryonb batch 05_single_refinement runs.csv --out batch1 --workers 2
          cryonb batch my_notebook.ipynb runs.csv --out batch1 --scheduler tcp://127.0.0.1:8786
          cryonb batch 05_single_refinement runs.csv --out batch1 --resume
          cryonb batch 05_single_refinement runs.csv --out batch1 --slurm --workers 8 --dry-run

Each row runs in its own process and folder, DIR/rows/<name>/ (its run record, executed notebook
and log.txt); a failing row never stops the others; DIR/summary.csv joins parameters, status and
metrics. See docs/batch.md.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import CryonbError
from ..notebook_runs import list_notebooks, notebook_path
from . import check_folder_writable


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebook", help="a shipped notebook's name (05_single_refinement) or an .ipynb path")
    p.add_argument("table", help="CSV table: one row per run, columns are notebook parameters (+ name)")
    p.add_argument("--out", required=True, help="batch folder (rows/, attempts/, summary.csv)")
    p.add_argument("--resume", action="store_true",
                   help="rerun only the rows not finished with the same parameters")
    p.add_argument("--timeout", type=float, help="seconds a row may run before it is stopped and failed")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="local worker processes, or Slurm jobs with --slurm (default: half the cores)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--scheduler-file", help="scheduler file of a running Dask scheduler")
    where.add_argument("--slurm", action="store_true", help="start workers as Slurm jobs (dask-jobqueue)")
    p.add_argument("--cores", type=int, default=2, help="--slurm: cores per job")
    p.add_argument("--memory", default="8GB", help="--slurm: memory per job")
    p.add_argument("--walltime", default="02:00:00", help="--slurm: time limit per job")
    p.add_argument("--queue", help="--slurm: partition")
    p.add_argument("--account", help="--slurm: account")
    p.add_argument("--job-extra", action="append", default=[], help="--slurm: extra #SBATCH line (repeat)")
    p.add_argument("--dry-run", action="store_true", help="check the table and show what would run "
                                                          "(with --slurm, the job script); run nothing")


def resolve_notebook(text: str) -> Path:
    """A shipped notebook by name, or an existing .ipynb file."""
    if text.removesuffix(".ipynb") in list_notebooks():
        return notebook_path(text)
    path = Path(text)
    if path.suffix != ".ipynb":
        raise CryonbError(text, f"not a shipped notebook ({', '.join(list_notebooks())}) nor an .ipynb file")
    if not path.is_file():
        raise CryonbError(text, "no such notebook file")
    return path


def check_out(out: Path, resume: bool) -> None:
    """Refuse a folder that holds something other than a batch, or a batch without --resume."""
    from ..runs import _read
    if not out.exists() or not any(out.iterdir()):
        return
    config = _read(out / "config.json") if (out / "config.json").exists() else None
    if not config or config.get("pipeline") != "batch":
        raise CryonbError(out, "exists and is not a batch folder; choose another --out")
    if not resume:
        raise CryonbError(out, "holds a batch already: add --resume to finish it, or choose another --out")


def main(args: argparse.Namespace) -> int:
    from ..batch.cluster import ClusterSpec
    from ..batch.runner import Batch
    from ..batch.table import notebook_defaults, read_table
    notebook = resolve_notebook(args.notebook)
    defaults = notebook_defaults(notebook)
    rows = read_table(args.table, defaults)
    out = Path(args.out)
    check_out(out, args.resume)
    check_folder_writable(out)
    if args.timeout is not None and args.timeout <= 0:
        raise CryonbError(None, f"--timeout {args.timeout}: give a positive number of seconds")
    spec = ClusterSpec(workers=args.workers, scheduler=args.scheduler, scheduler_file=args.scheduler_file,
                       slurm=args.slurm, cores=args.cores, memory=args.memory, walltime=args.walltime,
                       queue=args.queue, account=args.account, job_extra=args.job_extra)
    batch = Batch(notebook, rows, out, "run_dir" in defaults, args.timeout)
    if args.dry_run:
        return _dry_run(batch, spec)
    from ..batch.cluster import connect
    from ..batch.runner import run_batch
    out.mkdir(parents=True, exist_ok=True)
    with connect(spec) as client:
        summary = run_batch(batch, client, resume=args.resume)
    failed = [s["name"] for s in summary if s["state"] != "ok"]
    print(f"summary: {out / 'summary.csv'} ({len(summary) - len(failed)} ok, {len(failed)} failed"
          + (f": {', '.join(failed)})" if failed else ")"))
    return 1 if failed else 0


def _dry_run(batch, spec) -> int:
    from ..batch.runner import finished_rows
    done = finished_rows(batch) if batch.out.exists() else set()
    for row in batch.rows:
        flag = "finished" if row.name in done else "to run"
        print(f"{row.name:16s} {flag:9s} {row.parameters}")
    if spec.slurm:
        from ..batch.cluster import slurm_job_script
        print(f"\nSlurm job script ({spec.workers} jobs):\n")
        print(slurm_job_script(spec))
    return 0
