"""The paper figures of ``figures/``, drawn from small committed records (notebook 07).

* :mod:`.records`: the records (``figures/data/*.csv``) gathered from run folders;
* :mod:`.book`: every figure, the records it reads and how it is drawn (:func:`make_figures`);
* :mod:`.render`: the shipped style (``cryonb.mplstyle``) and deterministic SVG/PNG/CSV output.
"""
