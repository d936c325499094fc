"""Acceptance run of ``cryonb batch`` (issue 31): notebook 05 over 13 rows on a separate Dask
scheduler and two workers on 127.0.0.1, one worker SIGKILLed mid-row, the batch interrupted and
resumed.

    python benchmarks/batch_refine.py --out DIR [--kill-after 2] [--interrupt-after 8]

Rows (inputs written to DIR/inputs): the bundled AdK case (open on closed by CORE) at 4, 5, 6 and
8 Å; five corpus proteins (1dx5I, 5PTI, 2cviA, 1ahsA, 3gknA) jittered by 0.5 Å RMS in maps made
from their deposited models by another simulator (gemmi's electron form factors with their
B-factors and a global B unknown to the refinement, coloured noise calibrated to the resolution;
``cryonb.data.other_simulators``) at 3-6 Å; the deposited 3J6B chain 9 in its EMD-2566 cut-out (3.2 Å) and 6GYN chain A
in the masked EMD-0093 map (3.4 Å; the other three chains' density around it); AdK with a
truncated MRC file (a bad input: that row must fail with its error). Notebook settings: the
defaults, one thread, no 3D view.

Steps: start ``dask scheduler`` and two ``dask worker --no-nanny`` processes; run ``cryonb batch
--scheduler-file``; once ``--kill-after`` rows have finished, SIGKILL the worker in the middle of a
row and start a replacement; once ``--interrupt-after`` rows have finished, interrupt the batch
(SIGINT); run it again with ``--resume``. Printed: the summary table (state, attempts, seconds,
C-alpha RMSD to the reference where there is one, MolProbity score and Q-score before and after),
which rows the resumed batch ran, and the checks of the acceptance bar.
"""
from __future__ import annotations

import argparse
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "real_maps"
CORPUS = (("1dx5I", 3.5), ("5PTI", 3.0), ("2cviA", 4.0), ("1ahsA", 4.5), ("3gknA", 6.0))
BIN = Path(sys.executable).parent


def make_inputs(folder: Path) -> list[dict]:
    """Write the rows' inputs; returns the table rows (name and notebook parameters)."""
    from cryonb.data.corpus import load_corpus_structure
    from cryonb.data.other_simulators import simulate_other
    from cryonb.density.simulate import box_around_model
    from cryonb.io import read_model, write_map, write_model
    from cryonb.perturb import jitter
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"name": f"adk_{r:g}A", "resolution": r} for r in (4.0, 5.0, 6.0, 8.0)]
    for name, resolution in CORPUS:
        st = load_corpus_structure(name)
        model, ref, mp = folder / f"{name}_start.pdb", folder / f"{name}.pdb", folder / f"{name}_{resolution:g}A.mrc"
        if not mp.exists():
            box = box_around_model(st, min(1.0, resolution / 3), padding=12.0)
            write_map(simulate_other(st, box, resolution, "gemmi", seed=1), mp)
            write_model(st, ref)
            write_model(jitter(st, 0.5 / np.sqrt(3), seed=0), model)
        rows.append({"name": name, "model": str(model), "map_path": str(mp), "resolution": resolution,
                     "reference": str(ref)})
    rows.append({"name": "3j6b_chain9", "model": str(SHARED / "3j6b_chain9.pdb"),
                 "map_path": str(SHARED / "emd2566_3j6b_chain9.mrc"), "resolution": 3.2})
    chain_a = folder / "6gyn_A.pdb"
    if not chain_a.exists():
        st = read_model(SHARED / "6gyn.pdb")
        for name in [ch.name for ch in st[0] if ch.name != "A"]:
            st[0].remove_chain(name)
        write_model(st, chain_a)
    rows.append({"name": "6gyn_A", "model": str(chain_a), "map_path": str(SHARED / "emd0093_hcn4_masked.mrc.gz"),
                 "resolution": 3.4})
    truncated = folder / "truncated.mrc"
    truncated.write_bytes((SHARED / "emd2566_3j6b_chain9.mrc").read_bytes()[:700])
    rows.append({"name": "bad_map", "map_path": str(truncated), "resolution": 5.0})
    for r in rows:
        r.update(threads=1, show_3d=False)
    return rows


def write_table(rows: list[dict], path: Path) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        w.writerows(rows)


def start_cluster(folder: Path) -> tuple[subprocess.Popen, list[subprocess.Popen], Path]:
    sched_file = folder / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--scheduler-file",
                                  str(sched_file), "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=open(folder / "scheduler.log", "w"))
    while not sched_file.exists():
        time.sleep(0.2)
    return scheduler, [start_worker(folder, sched_file, k) for k in range(2)], sched_file


def start_worker(folder: Path, sched_file: Path, k: int) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                             "--no-nanny", "--host", "127.0.0.1", "--no-dashboard", "--name", f"worker{k}"],
                            stdout=subprocess.DEVNULL, stderr=open(folder / f"worker{k}.log", "w"))


def attempts(out: Path) -> dict[str, list[dict]]:
    folder = out / "attempts"
    return {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted(folder.glob("*.jsonl"))} if folder.exists() else {}


def finished(out: Path) -> int:
    return sum(any(a["event"] == "finished" for a in v) for v in attempts(out).values())


def batch_command(table: Path, out: Path, sched_file: Path, resume: bool) -> list[str]:
    return [str(BIN / "cryonb"), "batch", "05_single_refinement", str(table), "--out", str(out),
            "--scheduler-file", str(sched_file)] + (["--resume"] if resume else [])


def phase_one(table: Path, out: Path, folder: Path, sched_file: Path, workers: list, kill_after: int,
              interrupt_after: int) -> dict:
    """The batch with a worker killed mid-row and an interruption; returns what was done."""
    log = open(folder / "batch_phase1.log", "w")
    # a shell's background job ignores SIGINT, and so would its children: restore it for the batch
    batch = subprocess.Popen(batch_command(table, out, sched_file, False), stdout=log, stderr=subprocess.STDOUT,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    killed = None
    while batch.poll() is None:
        time.sleep(1.0)
        if killed is None and finished(out) >= kill_after:
            running = [(name, a[-1]) for name, a in attempts(out).items() if a[-1]["event"] == "started"]
            victim = next((w for w in workers if any(s["pid"] == w.pid for _, s in running)), None)
            if victim is not None:
                row = next(name for name, s in running if s["pid"] == victim.pid)
                time.sleep(5.0)                            # well inside the row
                victim.send_signal(signal.SIGKILL)
                killed = {"row": row, "worker_pid": victim.pid, "time": time.time()}
                workers[workers.index(victim)] = start_worker(folder, sched_file, 2)
                print(f"killed worker {victim.pid} mid-row {row}; started a replacement", flush=True)
        if finished(out) >= interrupt_after:
            batch.send_signal(signal.SIGINT)
            batch.wait()
            print(f"interrupted the batch after {finished(out)} rows had finished", flush=True)
            break
    return {"killed": killed, "attempts": attempts(out)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--kill-after", type=int, default=2)
    p.add_argument("--interrupt-after", type=int, default=8)
    args = p.parse_args(argv)
    folder = args.out.resolve()
    rows = make_inputs(folder / "inputs")
    table, out = folder / "table.csv", folder / "batch"
    write_table(rows, table)
    scheduler, workers, sched_file = start_cluster(folder)
    t0 = time.time()
    try:
        first = phase_one(table, out, folder, sched_file, workers, args.kill_after, args.interrupt_after)
        t1 = time.time()
        done = subprocess.run(batch_command(table, out, sched_file, True), capture_output=True, text=True)
        (folder / "batch_phase2.log").write_text(done.stdout + done.stderr)
        t2 = time.time()
    finally:
        for proc in [*workers, scheduler]:
            proc.terminate()
    report(rows, out, first, {"phase1_seconds": round(t1 - t0, 1), "phase2_seconds": round(t2 - t1, 1),
                              "resume_exit_code": done.returncode})
    return 0


def report(rows: list[dict], out: Path, first: dict, timing: dict) -> None:
    with open(out / "summary.csv", newline="") as fh:
        summary = {r["name"]: r for r in csv.DictReader(fh)}
    final = attempts(out)
    before = {k: sum(a["event"] == "started" for a in v) for k, v in first["attempts"].items()}
    after = {k: sum(a["event"] == "started" for a in v) for k, v in final.items()}
    rerun = sorted(k for k in after if after[k] > before.get(k, 0))
    cols = ("state", "attempts", "seconds", "metric:ca_rmsd_reference", "metric:molprobity_score_input",
            "metric:molprobity_score", "metric:qscore_input", "metric:qscore", "metric:fsc_average")
    print(f"{'row':14s}" + "".join(f"{c.removeprefix('metric:'):>24s}" for c in cols))
    for r in rows:
        s = summary[r["name"]]
        print(f"{r['name']:14s}" + "".join(f"{_fmt(s.get(c)):>24s}" for c in cols))
    print(f"killed: {first['killed']}")
    print(f"rows started by the resumed batch: {rerun}")
    ok = [n for n, s in summary.items() if s["state"] == "ok"]
    checks = {
        "every good row ok": sorted(ok) == sorted(r["name"] for r in rows if r["name"] != "bad_map"),
        "bad input failed with its error": summary["bad_map"]["state"] == "failed" and bool(summary["bad_map"]["error"]),
        "killed row rerun and ok": bool(first["killed"]) and summary[first["killed"]["row"]]["state"] == "ok"
                                   and after[first["killed"]["row"]] >= 2,
        "resume ran only unfinished rows": all(not any(a["event"] == "finished" and a["state"] == "ok"
                                                       for a in first["attempts"].get(k, [])) for k in rerun),
        "each ok row finished ok exactly once": all(sum(a["event"] == "finished" and a.get("state") == "ok"
                                                        for a in final[k]) == 1 for k in ok),
    }
    for k, v in checks.items():
        print(f"{'PASS' if v else 'FAIL'}  {k}")
    print(json.dumps(timing))
    (out.parent / "acceptance.json").write_text(json.dumps({"checks": checks, "timing": timing,
                                                            "killed": first["killed"], "rerun": rerun}, indent=1))


def _fmt(v) -> str:
    if v in (None, ""):
        return "-"
    try:
        return f"{float(v):.3f}"
    except ValueError:
        return str(v)[:22]


if __name__ == "__main__":
    sys.exit(main())
