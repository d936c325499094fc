"""Rotatable polar hydrogens turned as reduce turns them before probe counts clashes.

MolProbity's reduce (``-oh``) rotates OH, SH and NH3+ hydrogens (Ser, Thr, Tyr, Cys, Lys NZ,
the N-terminus) about their parent bond to make H-bonds and avoid clashes; cryonb's riding
hydrogens sit at fixed staggered torsions. For validation only (refinement keeps riding
hydrogens), :func:`optimise_rotors` follows reduce's search for each group:

* OH/SH: trial angles pointing the H at each acceptor within reach (plus +-15 and +-30 degrees
  for close ones) and the least-bumping angle of a 10-degree scan from 180 degrees; the best of
  these by the full score, then refined in 1-degree steps within +-10 degrees.
* NH3+: the staggered position and +30, -30, +60 degrees; the best refined within +-30 degrees.

The score is reduce's dot score (probe's dots and weights, probe radius 0.25 Å) summed over the
parent atom and its hydrogens: each dot belongs to the atom whose surface its probe sphere
reaches deepest; dots inside atoms within 3 bonds are dropped; contacts score exp(-(gap/0.25)^2)
(only near the line of centres), H-bonds +4 x half the overlap, bumps -10 x half the overlap, an
H-bond deeper than 0.6 Å (0.8 charged) bumps by the excess. As in reduce, an orientation with a
bad bump (0.4 Å or more into an atom it cannot H-bond, such as another hydroxyl's H) is taken only
when every orientation has one. Groups are optimised one at a time
(two sweeps so that neighbouring groups see each other's choice) rather than as reduce's cliques.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..geometry.clashes import AtomSet, bonded_within
from ..geometry.linking import dihedral_deg
from .probe_dots import DOT_DENSITY, HB_CUTOFF, HB_CUTOFF_CHARGED, PROBE_RADIUS, dot_sphere

GAP_SCALE = 0.25                     # Å, contact dot score exp(-(gap / 0.25)^2)
HB_WEIGHT, BUMP_WEIGHT = 4.0, 10.0   # probe's and reduce's H-bond and bump weights
EXCLUDED_BONDS = 3                   # reduce ignores atoms within 3 bonds
BAD_BUMP = 0.4                       # Å: reduce's bad-bump gap cut; such orientations lose
_REACH = 5.6     # Å around the parent: every atom a turning H can touch, with other rotors' H moved


@dataclass
class RotorGroup:
    """Hydrogens (indices into the riding hydrogens) turning about the bond axis -> parent."""

    parent: int
    axis: int
    reference: int        # the dihedral reference -> axis -> parent -> first H
    hydrogens: np.ndarray
    start: float          # degrees: reduce's starting angle (anti for OH/SH, staggered NH3+)


def rotor_groups(topo) -> list[RotorGroup]:
    """OH, SH and NH3+ groups: a polar parent with one heavy neighbour and one (O, S) or three (N) H."""
    h = topo.hydrogens
    if len(h) == 0:
        return []
    degree = np.bincount(topo.restraints.bonds.ravel(), minlength=topo.n_atoms)
    out = []
    for p in np.unique(h.parent[h.polar]):
        hs = np.flatnonzero(h.parent == p)
        el = topo.atoms.elements[p]
        if degree[p] != 1 or not ((el in ("O", "S") and len(hs) == 1) or (el == "N" and len(hs) == 3)):
            continue
        start = float(h.dihedral[hs[0]]) if len(hs) == 3 else 180.0
        out.append(RotorGroup(int(p), int(h.frame_a[hs[0]]), int(h.frame_b[hs[0]]), hs, start))
    return out


def optimise_rotors(topo, atoms: AtomSet, xyz: np.ndarray, h_xyz: np.ndarray, charge: np.ndarray,
                    sweeps: int = 2) -> np.ndarray:
    """Riding hydrogen positions (nh, 3) with each rotor group turned as reduce would turn it.

    xyz: (n, 3) heavy atoms, h_xyz: (nh, 3) riding hydrogens (Å); atoms: their radii and roles;
    charge: (n + nh,) formal charges (+1, -1, 0) for the H-bond cutoffs.
    """
    groups = rotor_groups(topo)
    h_xyz = np.array(h_xyz, dtype=float)
    if not groups:
        return h_xyz
    scene = _Scene(topo, atoms, np.concatenate([xyz, h_xyz]), charge)
    movers = np.concatenate([scene.n + g.hydrogens for g in groups])
    for sweep in range(sweeps):
        for g in groups:
            if sweep and not _touches_other_rotor(scene, g, movers):
                continue
            scene.xyz[scene.n + g.hydrogens] = _place(scene, g, np.array([_best_angle(scene, g)]))[0]
    return scene.xyz[scene.n:]


class _Scene:
    """Coordinates (updated as groups turn), radii, H-bond roles and 3-bond exclusions of all atoms."""

    def __init__(self, topo, atoms: AtomSet, allx: np.ndarray, charge: np.ndarray):
        h = topo.hydrogens
        self.n, self.xyz, self.atoms, self.charge = topo.n_atoms, allx, atoms, charge
        bonds = np.concatenate([topo.restraints.bonds, np.stack([h.parent, topo.n_atoms + np.arange(len(h))], 1)])
        self.bonded = bonded_within(bonds, len(allx), EXCLUDED_BONDS).tocsr()
        self.tree = cKDTree(allx)
        self.elements = atoms.elements

    def near(self, p: int, skip: np.ndarray) -> np.ndarray:
        idx = np.array(self.tree.query_ball_point(self.xyz[p], _REACH), dtype=np.int64)
        return idx[~np.isin(idx, skip) & self.atoms.clashable[idx]]

    def is_bonded(self, a: int, others: np.ndarray) -> np.ndarray:
        return np.asarray(self.bonded[a][:, others].todense()).ravel().astype(bool)


def _touches_other_rotor(scene: _Scene, g: RotorGroup, movers: np.ndarray) -> bool:
    return bool(np.isin(scene.near(g.parent, np.r_[scene.n + g.hydrogens, g.parent]), movers).any())


def _clamp(angle):
    """Angles into (-180, 180] degrees."""
    return 180.0 - (180.0 - np.asarray(angle, dtype=float)) % 360.0


def _place(scene: _Scene, g: RotorGroup, angles: np.ndarray) -> np.ndarray:
    """Group hydrogen positions (len(angles), nH, 3) with the first H at these dihedrals (degrees)."""
    x = scene.xyz
    p, a, b = x[g.parent], x[g.axis], x[g.reference]
    own = x[scene.n + g.hydrogens]
    now = float(dihedral_deg(np.stack([b, a, p, own[0]])))
    u = (p - a) / np.linalg.norm(p - a)
    t = np.radians(np.asarray(angles, dtype=float) - now)
    c, s = np.cos(t)[:, None, None], np.sin(t)[:, None, None]
    v = own - p
    return p + v * c + np.cross(u, v)[None] * s + ((v @ u)[None, :, None] * u) * (1 - c)


def _best_angle(scene: _Scene, g: RotorGroup) -> float:
    """reduce's two-stage search: a few coarse orientations, then 1-degree refinement of the best."""
    ctx = _Context(scene, g)
    if len(g.hydrogens) == 3:
        coarse = g.start + np.array([0.0, 30.0, -30.0, 60.0])
        half = 30
    else:
        coarse = _donor_orientations(ctx)
        half = 10
    best = coarse[_pick(*ctx.evaluate(_place(scene, g, coarse)))]
    fine = best + np.array([0] + [d for k in range(1, half + 1) for d in (k, -k)], dtype=float)
    return float(fine[_pick(*ctx.evaluate(_place(scene, g, fine)))])


def _pick(score: np.ndarray, bad: np.ndarray) -> int:
    """reduce's choice: the best score among orientations without a bad bump (a non-H-bond overlap
    of :data:`BAD_BUMP` Å or more, such as two hydroxyl H atoms turned onto each other), or the
    best of all when every orientation has one."""
    if bad.all():
        return int(np.argmax(score))
    return int(np.argmax(np.where(bad, -np.inf, score)))


def _donor_orientations(ctx: _Context) -> np.ndarray:
    """OH/SH trial angles: towards each acceptor in reach, and the least-bumping 10-degree step."""
    scene, g = ctx.scene, ctx.group
    x = scene.xyz
    p, a, b = x[g.parent], x[g.axis], x[g.reference]
    bond = 1.3 if scene.elements[g.parent] == "S" else 1.0
    near = ctx.near
    angles = []
    for k in near[scene.atoms.acceptor[near] & np.isin(scene.elements[near], ["N", "O", "S"])]:
        d = np.linalg.norm(x[k] - p)
        overlap = d - (ctx.r_h + scene.atoms.radius[k] + bond)
        if d > 4.0 or overlap >= -0.001:
            continue
        toward = float(dihedral_deg(np.stack([b, a, p, x[k]])))
        angles += [toward] + [toward + s for s in (-15.0, 15.0) if overlap < -0.7] + \
                  [toward + s for s in (-30.0, 30.0) if overlap < -0.9]
    angles = list(_clamp(angles))
    scan = g.start + np.array([((i + 1) >> 1) * (1.0 if i & 1 else -1.0) * 10.0 for i in range(36)])
    far = [t for t in scan if all(abs(_clamp(_clamp(t) - c)) >= 10.0 for c in angles)]
    if far:
        bumps = ctx.score(_place(scene, g, np.array(far)), probe_radius=0.0, only_bumps=True)
        angles.append(float(_clamp(far[int(np.argmax(bumps))])))
    kept = []
    for t in sorted(angles, reverse=True):
        if not kept or (abs(kept[-1] - t) > 5.0 and t >= 5.0 - 180.0):
            kept.append(t)
    return np.array(kept)


class _Context:
    """One group's surroundings, fixed while it turns: neighbours, exclusions, H-bond partners."""

    def __init__(self, scene: _Scene, g: RotorGroup):
        self.scene, self.group = scene, g
        own = scene.n + g.hydrogens
        self.near = scene.near(g.parent, np.r_[own, g.parent])
        self.r_h = float(scene.atoms.radius[own[0]])
        self.atoms = [self._split(a) for a in own]
        self.parent = self._split(g.parent)
        self._parent_dots: dict = {}

    def _split(self, a: int):
        bonded = self.scene.is_bonded(a, self.near)
        partners = self.near[~bonded]
        hb, cut = _hbond_partners(self.scene, a, partners)
        return a, partners, self.near[bonded], hb, cut

    def score(self, pos: np.ndarray, probe_radius: float = PROBE_RADIUS, only_bumps: bool = False) -> np.ndarray:
        """reduce's score (trials,) of the parent and its hydrogens at positions pos (trials, nH, 3)."""
        return self.evaluate(pos, probe_radius, only_bumps)[0]

    def evaluate(self, pos: np.ndarray, probe_radius: float = PROBE_RADIUS, only_bumps: bool = False):
        """(score (trials,), bad bump (trials,) bool) of the group's hydrogens at pos (trials, nH, 3)."""
        total, bad = np.zeros(len(pos)), np.zeros(len(pos), bool)
        for k, part in enumerate(self.atoms):
            per_dot, _, worst = _dot_scores(self.scene, part, pos[:, k], np.delete(pos, k, axis=1), self.r_h,
                                            probe_radius, only_bumps)
            total += per_dot.sum(axis=1)
            bad |= worst >= BAD_BUMP
        key = (probe_radius, only_bumps)
        if key not in self._parent_dots:
            centre = self.scene.xyz[self.group.parent][None]
            per_dot, q, _ = _dot_scores(self.scene, self.parent, centre, np.zeros((1, 0, 3)), self.r_h,
                                        probe_radius, only_bumps)
            self._parent_dots[key] = (per_dot[0], q[0])
        per_dot, q = self._parent_dots[key]
        hidden = (np.linalg.norm(q[None, :, None, :] - pos[:, None], axis=3) < self.r_h).any(axis=2)
        return total + (per_dot[None] * ~hidden).sum(axis=1), bad


def _dot_scores(scene: _Scene, part, centre: np.ndarray, own_h: np.ndarray, own_r: float,
                probe_radius: float, only_bumps: bool):
    """reduce's per-dot scores (trials, dots) of one atom at centre (trials, 3), the dots, and the
    deepest overlap per trial with an atom it cannot H-bond (Å).

    part: (atom, non-bonded partners, bonded atoms, H-bond flag and cutoff per partner); own_h
    (trials, m, 3): the group's other hydrogens (radius own_r), bonded to it, which hide dots.
    """
    a, partners, masks, hb, cut = part
    at, x = scene.atoms, scene.xyz
    r = at.radius[a]
    dots = _dots(float(r))
    q = centre[:, None, :] + dots[None]                                       # (T, D, 3)
    score = np.zeros(q.shape[:2])
    reach = np.linalg.norm(centre[:, None, :] - x[partners][None], axis=2) - r - at.radius[partners] < probe_radius
    use = reach.any(axis=0)
    partners, hb, cut, reach = partners[use], hb[use], cut[use], reach[:, use]
    worst = np.zeros(len(centre))
    if len(partners) == 0:
        return score, q, worst
    rb, xb = at.radius[partners], x[partners]
    tip = (centre[:, None, :] + dots[None] * ((r + probe_radius) / r)).reshape(-1, 3)
    d2 = (tip ** 2).sum(1)[:, None] + (xb ** 2).sum(1)[None] - 2.0 * tip @ xb.T     # (T*D, K)
    dist = np.sqrt(np.maximum(d2, 0.0)).reshape(len(centre), len(dots), -1)
    gap_all = np.where(reach[:, None, :] & (dist - probe_radius - rb < 0), dist - rb, np.inf)
    cause = np.argmin(gap_all, axis=2)
    gap = np.take_along_axis(gap_all, cause[..., None], axis=2)[..., 0]
    t, d = np.nonzero(np.isfinite(gap))
    qs = q[t, d]
    hide = np.zeros(len(t), bool)
    if len(masks):
        hide |= (np.linalg.norm(qs[:, None, :] - x[masks][None], axis=2) < at.radius[masks]).any(axis=1)
    if own_h.shape[1]:
        hide |= (np.linalg.norm(qs[:, None, :] - own_h[t], axis=2) < own_r).any(axis=1)
    t, d, qs = t[~hide], d[~hide], qs[~hide]
    k = cause[t, d]
    g, is_hb, c = gap[t, d], hb[k], cut[k]
    value = np.zeros(len(t))
    bump = (g < 0) & ~is_hb
    value[bump] = BUMP_WEIGHT * 0.5 * g[bump]
    close = is_hb & (g < -c)
    value[close] = BUMP_WEIGHT * 0.5 * (g + c)[close]
    depth = np.where(bump, -g, 0.0)
    np.maximum.at(worst, t, depth)
    good = is_hb & (g <= 0) & (g >= -c)
    value[good] = (-BUMP_WEIGHT if only_bumps else HB_WEIGHT) * 0.5 * -g[good]
    if not only_bumps:
        contact = g > 0
        axis = xb[k] - centre[t]
        bull = centre[t] + r * axis / np.linalg.norm(axis, axis=1, keepdims=True)
        edge = 2.0 * r * np.sqrt(rb[k] * probe_radius / ((r + rb[k]) * (r + probe_radius)))
        contact &= np.linalg.norm(qs - bull, axis=1) <= edge
        value[contact] = np.exp(-(g[contact] / GAP_SCALE) ** 2)
    score[t, d] = value
    return score / DOT_DENSITY, q, worst


@functools.lru_cache(maxsize=32)
def _dots(radius: float) -> np.ndarray:
    return dot_sphere(radius)


def _hbond_partners(scene: _Scene, a: int, partners: np.ndarray):
    """(K,) bool: partner forms an H-bond with a; (K,) its H-bond cutoff (Å)."""
    at, q = scene.atoms, scene.charge
    hb = (at.polar_h[a] & at.acceptor[partners]) | (at.acceptor[a] & at.polar_h[partners])
    both = (q[a] != 0) & (q[partners] != 0)
    hb &= ~both | (q[a] * q[partners] < 0)
    return hb, np.where(both, HB_CUTOFF_CHARGED, HB_CUTOFF)
