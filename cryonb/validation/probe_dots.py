"""probe's surface dots and H-bond cut-offs, shared by the clashscore (:mod:`.geometry`) and the
hydrogen rotors (:mod:`.rotors`)."""
from __future__ import annotations

import numpy as np

PROBE_RADIUS = 0.25       # Å, probe's default probe radius (it sets probe's neighbour reach)
DOT_DENSITY = 16.0        # probe's default dots per Å^2
HB_CUTOFF = 0.6           # Å: an H-bond dot deeper than this is a clash (probe's -hbregular)
HB_CUTOFF_CHARGED = 0.8   # same for a charged donor-acceptor pair (probe's -hbcharged)


def dot_sphere(radius: float, density: float = DOT_DENSITY) -> np.ndarray:
    """probe's surface dots (k, 3), Å from the atom centre.

    Rings of latitude about z, each holding as many dots as its circumference allows (every
    other ring turned by 0.2 of a step), at most 4 pi density r^2 dots, tilted 2.5 degrees about x.
    """
    pi = 3.14159265359     # probe's value of pi, so ring counts round as in probe
    most = int(np.floor(4.0 * pi * density * radius * radius))
    n_eq = int(np.floor(np.sqrt(most * pi)))
    n_rings = n_eq // 2
    rings = []
    for row in range(n_rings + 1):
        phi = pi * row / n_rings
        count = max(1, int(np.floor(n_eq * np.sin(phi))))
        theta = (2.0 * pi * np.arange(count) + (0.2 if row % 2 == 0 else 0.0)) / count
        rings.append(np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi),
                               np.full(count, np.cos(phi))], 1))
    p = radius * np.concatenate(rings)[:most]
    c, s = np.cos(5.0 * pi / 360.0), np.sin(5.0 * pi / 360.0)
    return np.stack([p[:, 0], p[:, 1] * c - p[:, 2] * s, p[:, 1] * s + p[:, 2] * c], 1)
