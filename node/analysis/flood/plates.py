"""Endplates on the grid: plate voxels, the plane of a body's plate, cuts beyond it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.analysis.bodies import BoolArray, FloatArray
from node.analysis.flood.masks import _near
from node.analysis.flood.params import (
    ENDPLATE_AGREEING,
    ENDPLATE_CUT_MIN_ML,
    ENDPLATE_MARGIN_MM,
    ENDPLATE_MIN_COLUMNS,
    F32,
    FAINT_PLATE_MIN_HU,
    NEAR_PLATE_AGREEING,
    NEAR_PLATE_BEFORE,
    NEAR_PLATE_CLEAR,
    NEAR_PLATE_DISC_MM,
    NEAR_PLATE_DISC_SLICES,
    PLATE_BEYOND_MM,
    PLATE_CLEAR_MM,
    WALL_MIN_HU,
    WALL_RISE_HU,
)


@dataclass(frozen=True, slots=True, eq=False)
class _Plates:
    """Endplate voxels on the grid (``_plates`` per direction along z, unpainted), with
    what tells a hidden plate: the painted cement and the voxels clear of its blur."""

    found: dict[int, BoolArray]
    painted: BoolArray
    clear: BoolArray
    slice_mm: float
    smooth: F32
    marrow: float
    step: float
    _faint: dict[int, BoolArray] = field(default_factory=dict)

    @classmethod
    def read(cls, smooth: F32, painted: BoolArray, marrow: float, step: float,
             slice_mm: float) -> _Plates:
        found = {d: _plates(smooth, marrow, step, d) & ~painted for d in (1, -1)}
        # The cement's blur beyond the paint (a slice or more on thick slices) peaks
        # and falls like a plate.
        clear = ~_near(painted, max(PLATE_CLEAR_MM, slice_mm) / step)
        return cls(found=found, painted=painted, clear=clear, slice_mm=slice_mm,
                   smooth=smooth, marrow=marrow, step=step)

    def faint(self, direction: int) -> BoolArray:
        """``found`` with plates down to FAINT_PLATE_MIN_HU (read once, when first asked:
        both passes of the wall cut may ask)."""
        if direction not in self._faint:
            self._faint[direction] = _plates(self.smooth, self.marrow, self.step, direction,
                                             min_hu=FAINT_PLATE_MIN_HU) & ~self.painted
        return self._faint[direction]


def _cut_at_endplates(region: BoolArray, plates: _Plates, centre: npt.NDArray[np.int64],
                      step: float) -> BoolArray:
    """The region without what lies beyond its endplates (a disc flooded through a gap).

    An endplate is a bright plate across the columns of the body: on each column, the
    first voxel from the seed's level that stands above the marrow with the disc beyond
    it (``plates.found``). A plane is fitted to these hits where they agree
    (:func:`_endplate_plane`); the region more than ENDPLATE_MARGIN_MM beyond it is cut
    when that is a disc's worth of volume.
    """
    columns = region.any(axis=0)
    keep = region.copy()
    z = np.arange(region.shape[0])[:, None, None]
    near = _near(region, 1.0)
    enough = ENDPLATE_MIN_COLUMNS * np.count_nonzero(columns)
    for direction in (1, -1):
        ahead = (z - centre[0]) * direction > 0
        hit = plates.found[direction] & near & ahead
        has = hit.any(axis=0) & columns
        if np.count_nonzero(has) < enough:
            hit = plates.faint(direction) & near & ahead
            has = hit.any(axis=0) & columns
        if np.count_nonzero(has) < enough:
            continue
        first = np.where(direction > 0, np.argmax(hit, axis=0),
                         hit.shape[0] - 1 - np.argmax(hit[::-1], axis=0))
        ys, xs = np.nonzero(has)
        plane = _endplate_plane(first[ys, xs].astype(np.float64), ys, xs, plates,
                                direction, step)
        if plane is None:
            continue
        keep = _cut_beyond_plane(keep, plane, direction, ENDPLATE_MARGIN_MM, step)
    return keep


def _endplate_plane(k: FloatArray, ys: npt.NDArray[np.int64], xs: npt.NDArray[np.int64],
                    plates: _Plates, direction: int, step: float) -> FloatArray | None:
    """Plane of the endplate hits ``k`` (first plate met from the seed, per column), or
    None when they do not show one.

    Where cement fills the body up to its endplate the plate is painted over, and the
    first plate met beyond it is the next body's, across the disc: those hits all lie
    beyond the body's own plate, never before it. So when many hits lie before the
    plane of most of them (or when no plane holds most), the plane of the nearer hits
    is the body's plate if it passes :func:`_hides_next_plate`.
    """
    tolerance = 2.0 / step
    plane = _robust_plane(k, ys, xs, tolerance)
    if plane is None:
        ahead = k * direction
        near = ahead <= np.median(ahead)
    else:
        near = _beyond(plane, k, ys, xs, direction) < -tolerance
        if np.mean(near) <= NEAR_PLATE_BEFORE:
            return plane
    nearer = _robust_plane(k[near], ys[near], xs[near], tolerance)
    if nearer is None or not _hides_next_plate(nearer, k, ys, xs, plates, direction, step):
        return plane
    return nearer


def _hides_next_plate(nearer: FloatArray, k: FloatArray, ys: npt.NDArray[np.int64],
                      xs: npt.NDArray[np.int64], plates: _Plates, direction: int,
                      step: float) -> bool:
    """Whether the plane ``nearer`` is the body's plate with the next body's seen beyond
    it: enough of all the hits lie on it, hardly any before it, enough of its own are
    clear of the cement (whose blur beyond the paint peaks and falls like a plate on
    thick slices), and the hits beyond it lie a disc beyond, where painted cement covers
    it (not a plate depressed by the fracture, nor the steps of one slanted plate across
    thick slices)."""
    tolerance = 2.0 / step
    beyond = _beyond(nearer, k, ys, xs, direction)
    on = np.abs(beyond) <= tolerance
    clear = plates.clear[k.astype(np.int64), ys, xs]
    if (np.mean(on) < NEAR_PLATE_AGREEING or np.mean(beyond < -tolerance) > NEAR_PLATE_BEFORE
            or np.count_nonzero(on & clear) < NEAR_PLATE_CLEAR * np.count_nonzero(on)):
        return False
    farther = beyond > tolerance
    if not farther.any():
        return False
    disc = max(NEAR_PLATE_DISC_MM, NEAR_PLATE_DISC_SLICES * plates.slice_mm)
    hidden = _painted_at(nearer, plates.painted, ys[farther], xs[farther], tolerance)
    return bool(np.median(beyond[farther]) * step >= disc and np.mean(hidden) >= 0.5)


def _painted_at(plane: FloatArray, painted: BoolArray, ys: npt.NDArray[np.int64],
                xs: npt.NDArray[np.int64], tolerance: float) -> BoolArray:
    """Whether each column (ys, xs) is painted within ``tolerance`` of ``plane``."""
    level = np.rint(plane[0] + plane[1] * ys + plane[2] * xs).astype(np.int64)
    reach = np.arange(-int(np.ceil(tolerance)), int(np.ceil(tolerance)) + 1)
    ks = np.clip(level[:, None] + reach[None, :], 0, painted.shape[0] - 1)
    return np.asarray(painted[ks, ys[:, None], xs[:, None]].any(axis=1), dtype=bool)


def _beyond(plane: FloatArray, k: FloatArray, ys: npt.NDArray[np.int64],
            xs: npt.NDArray[np.int64], direction: int) -> FloatArray:
    """How far each hit lies beyond ``plane`` in ``direction`` (grid steps)."""
    return np.asarray((k - (plane[0] + plane[1] * ys + plane[2] * xs)) * direction,
                      dtype=np.float64)


def _cut_beyond_plane(region: BoolArray, plane: FloatArray, direction: int, margin_mm: float,
                      step: float) -> BoolArray:
    """The region without what lies more than ``margin_mm`` beyond the plane
    ``k = a + b*y + c*x`` in ``direction`` along z, when that is a disc's worth of volume
    (ENDPLATE_CUT_MIN_ML) or more."""
    z = np.arange(region.shape[0])[:, None, None]
    yy, xx = np.indices(region.shape[1:])
    level = plane[0] + plane[1] * yy + plane[2] * xx
    beyond = (z - level[None]) * direction * step > margin_mm
    if np.count_nonzero(region & beyond) * step ** 3 / 1000.0 < ENDPLATE_CUT_MIN_ML:
        return region
    return np.asarray(region & ~beyond, dtype=bool)


def _plates(smooth: F32, marrow: float, step: float, direction: int,
            min_hu: float = WALL_MIN_HU) -> BoolArray:
    """Voxels brighter than the marrow (and ``min_hu``), peaks along z, that fall to below
    half-way to the marrow within PLATE_BEYOND_MM in ``direction`` (into the disc, which
    may be as thin as 3 mm; the bone on the body's side of an endplate may stay bright)."""
    ridge = max(marrow + WALL_RISE_HU, min_hu)
    near, far = max(round(PLATE_BEYOND_MM[0] / step), 1), round(PLATE_BEYOND_MM[1] / step)
    n = smooth.shape[0]
    beyond = np.full(smooth.shape, np.inf, dtype=np.float32)
    if direction > 0:
        beyond[:-far] = np.min([smooth[d:n - far + d] for d in range(near, far + 1)], axis=0)
    else:
        beyond[far:] = np.min([smooth[far - d:n - d] for d in range(near, far + 1)], axis=0)
    peak = np.zeros(smooth.shape, dtype=bool)
    peak[1:-1] = (smooth[1:-1] >= smooth[:-2]) & (smooth[1:-1] >= smooth[2:])
    return np.asarray(peak & (smooth >= ridge) & (beyond < 0.5 * (smooth + marrow)), dtype=bool)


def _robust_plane(k: FloatArray, ys: npt.NDArray[np.int64], xs: npt.NDArray[np.int64],
                  tolerance: float) -> FloatArray | None:
    """Plane ``k = a + b*y + c*x`` through most of the hits, or None when they disagree."""
    ok = np.abs(k - np.median(k)) <= 3.0 * tolerance
    for _ in range(3):
        if np.count_nonzero(ok) < 10:
            return None
        design = np.column_stack([np.ones(np.count_nonzero(ok)), ys[ok], xs[ok]])
        coef = np.linalg.lstsq(design, k[ok], rcond=None)[0]
        ok = np.abs(coef[0] + coef[1] * ys + coef[2] * xs - k) <= tolerance
    if np.count_nonzero(ok) < ENDPLATE_AGREEING * len(k):
        return None
    return np.asarray(coef, dtype=np.float64)
