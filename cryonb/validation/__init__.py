"""Model validation with MolProbity definitions: geometry, Ramachandran, rotamers, clashes, map fit.

Entry point: :func:`cryonb.validation.report.validate_model` (and ``cryonb validate``).
"""
