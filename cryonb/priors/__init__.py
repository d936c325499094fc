"""Differentiable Ramachandran and rotamer priors: periodic Gaussian mixtures fitted to the
Top8000 rotamericity tables (log scale, with category-preserving boundary penalties).

>>> import torch
>>> from cryonb.priors import load_priors
>>> priors = load_priors()
>>> phi_psi = torch.tensor([[-63.0, -41.0], [60.0, -120.0]], requires_grad=True)
>>> score = priors.rama["general"].log_score(phi_psi)          # ln(G + e^-10), (2,)
>>> bool(score[0] > score[1])
True
"""
from .fit import Agreement, FitReport, category_agreement, fit_grid, grow
from .mixture import FLOOR, LOG_FLOOR, PeriodicMixture
from .tables import Priors, fit_rama_class, fit_rotamer_type, load_priors, write_priors

__all__ = ["Agreement", "FitReport", "category_agreement", "fit_grid", "grow", "FLOOR",
           "LOG_FLOOR", "PeriodicMixture", "Priors", "fit_rama_class", "fit_rotamer_type",
           "load_priors", "write_priors"]
