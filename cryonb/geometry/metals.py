"""Metal coordination: which elements are metals, and typical metal-donor distances.

Distances (Å) are the means found in well-determined protein structures (Harding 2006, Acta
Cryst. D62, 678; Zheng et al. 2008 for the alkali metals), keyed by metal and donor element.
They restrain metal links (``struct_conn`` records, or donors found within reach of a metal ion)
and metal bonds inside a ligand such as haem, where the CCD's ideal coordinates are poor.
"""
from __future__ import annotations

import gemmi

NON_METALS = {"H", "D", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "As", "Se", "Br", "Te", "I",
              "He", "Ne", "Ar", "Kr", "Xe", "X"}
DONORS = {"N", "O", "S"}
DISTANCE = {
    ("Na", "O"): 2.42, ("Na", "N"): 2.50,
    ("K", "O"): 2.84, ("K", "N"): 2.90,
    ("Mg", "O"): 2.07, ("Mg", "N"): 2.19,
    ("Ca", "O"): 2.39, ("Ca", "N"): 2.50,
    ("Mn", "O"): 2.18, ("Mn", "N"): 2.23, ("Mn", "S"): 2.40,
    ("Fe", "O"): 2.04, ("Fe", "N"): 2.03, ("Fe", "S"): 2.30,
    ("Co", "O"): 2.09, ("Co", "N"): 2.14, ("Co", "S"): 2.30,
    ("Ni", "O"): 2.07, ("Ni", "N"): 2.09, ("Ni", "S"): 2.30,
    ("Cu", "O"): 2.08, ("Cu", "N"): 2.02, ("Cu", "S"): 2.25,
    ("Zn", "O"): 2.09, ("Zn", "N"): 2.07, ("Zn", "S"): 2.33,
    ("Cd", "O"): 2.30, ("Cd", "N"): 2.30, ("Cd", "S"): 2.54,
}
LINK_ESD = 0.10      # Å: metal-donor link (coordination geometry varies)
REACH = 0.5          # Å: a donor this far beyond the typical distance is still coordinated


def is_metal(element: str) -> bool:
    """True for a metal element symbol in any case ('FE', 'Fe'); False for non-metals and unknowns."""
    el = gemmi.Element(element)
    return el.atomic_number > 0 and el.name not in NON_METALS


def metal_distance(metal: str, donor: str) -> float | None:
    """Typical metal-donor distance (Å), or None where the pair is not tabulated."""
    return DISTANCE.get((gemmi.Element(metal).name, gemmi.Element(donor).name))
