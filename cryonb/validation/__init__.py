"""Model validation with MolProbity definitions: geometry, Ramachandran, rotamers, clashes, map fit."""
