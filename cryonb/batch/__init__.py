"""Batches: one papermill run of a notebook per row of a table, on Dask (``cryonb batch``).

* :mod:`.table`: the CSV table, cast against the notebook's parameter defaults;
* :mod:`.runner`: submit the rows, gather their run records into ``summary.csv``;
* :mod:`.row`: the Dask task (one row, in a child process, status from the runner);
* :mod:`.child`: the child process that executes the notebook with papermill;
* :mod:`.cluster`: a local cluster, an existing scheduler, or Slurm through dask-jobqueue.
"""
