"""Stereochemistry: restraint library, topology, riding hydrogens and differentiable geometry terms."""
