"""The posterior wall, found on profiles running back across the spinal canal."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from node.analysis.bodies import BoolArray, FloatArray
from node.analysis.flood.grid import _Grid
from node.analysis.flood.params import (
    CANAL_MAX_HU,
    F32,
    WALL_CLUSTER_MM,
    WALL_FAINT_BELOW_MARROW_HU,
    WALL_FAINT_DROP_HU,
    WALL_FALL_MM,
    WALL_MIN_HU,
    WALL_MIN_SPAN_MM,
    WALL_PERCENTILE,
    WALL_RISE_HU,
    WALL_SAME_MM,
    FloodParams,
)
from node.analysis.frame import BodyFrame


def _same_wall(frame: BodyFrame, wall: float, new: BodyFrame) -> float:
    """Distance along ``new.posterior`` from ``new.origin`` to the wall plane found at
    ``wall`` along ``frame.posterior`` from ``frame.origin``."""
    along = float(new.posterior @ frame.posterior)
    return (wall - float((new.origin - frame.origin) @ frame.posterior)) / max(along, 1e-3)


def _posterior_wall(smooth: F32, grid: _Grid, frame: BodyFrame, marrow: float,
                    p: FloodParams, expected: float | None = None,
                    marrow_held: BoolArray | None = None) -> float | None:
    """Distance from the centre to the outer edge of the posterior wall, along posterior.

    Profiles run straight back across the width of the canal; on each, the wall is the
    first bright wall followed by ``canal_probe_mm`` of canal (see ``_wall_on_profile``).
    Where the wall of a first pass is ``expected``, only hits near it count (when at
    least three are): marrow as dark as the canal makes false walls inside the body, in
    front of the true one, and the second pass starts from a centre nearer to them. For
    the same reason a canal that lies in ``marrow_held`` (the flooded basin where it was
    not painted over) is the body's own marrow behind the cement's edge, unless fewer
    than three profiles find any other. (Cement leaked into the canal is painted over
    and flooded with it: such a canal still counts.)
    """
    origin, post, sup, left = frame.origin, frame.posterior, frame.superior, frame.left
    h = 0.5
    t = np.arange(p.canal_band_mm[0] - 2.0, p.canal_band_mm[1] + p.canal_probe_mm + 5.0, h)
    offsets = [(s, lft) for s in (-4.0, 0.0, 4.0) for lft in np.arange(-12.0, 12.1, 2.0)]
    hold = round(p.canal_probe_mm / h)
    inv = np.linalg.inv(grid.affine)
    held_grid = None if marrow_held is None else marrow_held.astype(np.uint8)
    profiles = []
    for s, lft in offsets:
        pts = origin + s * sup + lft * left + t[:, None] * post
        idx = (pts @ inv[:3, :3].T + inv[:3, 3]).T
        prof = ndimage.map_coordinates(smooth, idx, order=1, cval=-1000.0)
        held = None if held_grid is None else ndimage.map_coordinates(held_grid, idx, order=0) > 0
        profiles.append((float(lft), prof, held))

    def walls_found(with_held: bool) -> list[tuple[float, float]]:
        out = []
        for lft, prof, held in profiles:
            wall = _wall_on_profile(prof, t, marrow, hold, p.canal_band_mm[0],
                                    held if with_held else None)
            if wall is not None:
                out.append((lft, wall))
        return out

    found = walls_found(with_held=True) if held_grid is not None else []
    if len(found) < 3:
        found = walls_found(with_held=False)
    if expected is not None:
        near = [h for h in found if abs(h[1] - expected) <= WALL_SAME_MM]
        found = near if len(near) >= 3 else found
    if len(found) < 3:
        return None
    hits = np.array(sorted(found, key=lambda h: h[1]))
    walls = hits[:, 1]
    # Rays where cement hides the wall run on to the lamina and the soft tissue behind
    # it, a canal's depth farther back: the wall is the front-most cluster of hits that
    # spans the canal's width. (Rays along the basivertebral vein's channel, in the
    # midline, find its front end: a narrow cluster.)
    counts = np.searchsorted(walls, walls + WALL_CLUSTER_MM, side="right") - np.arange(len(walls))
    spans = np.array([np.ptp(hits[i:i + c, 0]) for i, c in enumerate(counts)])
    wide = (counts >= 3) & (spans >= WALL_MIN_SPAN_MM)
    first = int(np.argmax(wide)) if wide.any() else (
        int(np.argmax(counts >= 3)) if np.any(counts >= 3) else 0)
    cluster = walls[first:first + int(counts[first])]
    # Where the wall is concave the pedicle bases sit at its posterior-most edge (the
    # outer-edge search of the surface finds the wall itself in front of this plane).
    return float(np.percentile(cluster, WALL_PERCENTILE))


def _wall_on_profile(prof: F32, t: FloatArray, marrow: float, hold: int, start_mm: float,
                     held: BoolArray | None = None) -> float | None:
    """Outer edge of the first bright wall, scanning outward, that the canal follows.

    A wall stands clearly above the marrow and falls within WALL_FALL_MM to the canal
    (CSF, fat, soft tissue), which stays darker than bone and than the marrow for
    ``hold`` samples, not all of them ``held`` (marrow of the flooded basin) when that is
    given.
    """
    step = float(t[1] - t[0])
    begin = int(np.searchsorted(t, start_mm))
    ridge = max(marrow + WALL_RISE_HU, WALL_MIN_HU)
    canal_max = min(CANAL_MAX_HU, marrow + 10.0)
    fall = round(WALL_FALL_MM / step)
    for k in range(max(begin, 1), len(prof) - hold - fall):
        if not (prof[k] >= prof[k - 1] and prof[k] >= prof[k + 1]
                and prof[k] >= min(ridge, marrow - WALL_FAINT_BELOW_MARROW_HU)):
            continue
        half = 0.5 * (float(prof[k]) + canal_max)
        below = np.nonzero(prof[k + 1:k + 1 + fall] < half)[0]
        if below.size == 0:
            continue
        j0 = k + 1 + int(below[0])
        behind = prof[j0:j0 + hold]
        low = float(np.median(behind))
        level = 0.5 * (float(prof[k]) + low)
        if (behind.size < hold or low > canal_max or float(behind[2:].max()) >= level
                or float(np.percentile(behind, 75)) > canal_max):
            continue
        if held is not None and held[j0:j0 + hold].all():
            continue
        if prof[k] < ridge and prof[k] - low < WALL_FAINT_DROP_HU:
            continue
        j = k
        while j < j0 and prof[j] >= level:
            j += 1
        return float(t[j - 1] + step * (prof[j - 1] - level) / max(prof[j - 1] - prof[j], 1e-3))
    return None
