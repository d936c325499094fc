"""Where a batch runs: a Dask cluster on this machine, an existing one, or one on Slurm.

* default: a ``LocalCluster`` of ``workers`` processes with one thread each (a row's notebook
  uses its own threads: give the notebook's ``threads`` parameter a column to set them);
* ``scheduler``: an address (``tcp://host:8786``) or ``scheduler_file`` of a running
  scheduler (``dask scheduler`` and ``dask worker`` started by hand or by a job);
* ``slurm``: a ``dask_jobqueue.SLURMCluster`` with one worker per job (``cores``, ``memory``,
  ``walltime``, ``queue``, ``account``), scaled to ``workers`` jobs; its job script can be
  shown without submitting anything (:func:`slurm_job_script`).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClusterSpec:
    """How to reach Dask workers (see the module doc)."""

    workers: int = 1
    scheduler: str | None = None
    scheduler_file: str | None = None
    slurm: bool = False
    cores: int = 2
    memory: str = "8GB"
    walltime: str = "02:00:00"
    queue: str | None = None
    account: str | None = None
    job_extra: list[str] = field(default_factory=list)


def connect(spec: ClusterSpec):
    """A ``distributed.Client`` for ``spec`` (the cluster it started, if any, closes with it)."""
    from distributed import Client, LocalCluster
    if spec.scheduler:
        return Client(spec.scheduler)
    if spec.scheduler_file:
        return Client(scheduler_file=spec.scheduler_file)
    if spec.slurm:
        cluster = slurm_cluster(spec)
        cluster.scale(jobs=spec.workers)
        return Client(cluster)
    cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    return Client(cluster)


def slurm_cluster(spec: ClusterSpec):
    from dask_jobqueue import SLURMCluster
    return SLURMCluster(cores=spec.cores, processes=1, memory=spec.memory, walltime=spec.walltime,
                        queue=spec.queue, account=spec.account, job_extra_directives=list(spec.job_extra))


def slurm_job_script(spec: ClusterSpec) -> str:
    """The batch script each Slurm job would run (nothing is submitted)."""
    cluster = slurm_cluster(spec)
    try:
        return cluster.job_script()
    finally:
        cluster.close()
