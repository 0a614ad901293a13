"""Disc markers beyond the endplates, and the bright band of a thin disc on thick slices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.analysis.bodies import BoolArray, FloatArray
from node.analysis.flood.masks import _columns, _near
from node.analysis.flood.params import (
    BRIGHT_DISC_ABOVE_MARROW_HU,
    BRIGHT_DISC_CLEAR_MM,
    BRIGHT_DISC_MM,
    BRIGHT_DISC_NOISE_HU,
    BRIGHT_DISC_PAINT_MM,
    DISC_COLUMNS_MM,
    DISC_REACH_MM,
    DISC_SLAB_MM,
    DISC_SOFT_MAX_HU,
    DISC_SPREAD_MM,
    F32,
    NEIGHBOUR_BAND_HU,
    NEIGHBOUR_COLUMNS_MM,
    NEIGHBOUR_MARROW_MM,
    NEIGHBOUR_REACH_MM,
    NEIGHBOUR_SKIP_MM,
    NEIGHBOUR_SLAB_MM,
    RIM_MM,
    WALL_MIN_HU,
    WALL_RISE_HU,
)
from node.analysis.flood.plates import _cut_beyond_plane, _robust_plane


def _disc_markers(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64],
                  marrow: float, step: float) -> tuple[BoolArray, list[_Band]]:
    """Short stretches of the discs just beyond both endplates, on columns around the seed.

    Disc and marrow may have the same density, so where cement has broken an endplate
    (or painted over it) the flooding would pour into the disc; a marker there lets the
    endplate elsewhere decide. An endplate is the first strong wall met beyond the cement
    and its sclerotic rim, with no bone right behind it; columns that disagree with the
    others by more than DISC_SPREAD_MM are dropped. Where no such disc is seen, the marrow
    of the next body beyond the bright band between them is marked instead
    (:func:`_neighbour_marrow`), and the band is returned for
    :func:`_cut_beyond_bands`.
    """
    out = np.zeros(smooth.shape, dtype=bool)
    bands: list[_Band] = []
    # Near cement its blur, or a leak into the disc, brightens the disc: no bright disc
    # (brighter than the marrow) is read there.
    clear = ~_near(painted, BRIGHT_DISC_PAINT_MM / step)
    for direction in (1, -1):
        disc = _disc_beyond(smooth, painted, clear, centre, marrow, step, direction)
        if disc is None:
            band = _neighbour_marrow(smooth, painted, centre, marrow, step, direction)
            if band is not None:
                bands.append(band)
                disc = band.marrow
        if disc is not None:
            out |= disc
    return out, bands


def _disc_beyond(smooth: F32, painted: BoolArray, clear: BoolArray,
                 centre: npt.NDArray[np.int64], marrow: float, step: float, direction: int
                 ) -> BoolArray | None:
    """The disc slab beyond the endplate seen on the columns around the seed, or None
    (a disc brighter than the marrow is read on voxels ``clear`` of cement only)."""
    reach = int(DISC_REACH_MM / step)
    hits = []
    for y, x in _disc_columns(centre, step, smooth.shape):
        k = _endplate_on_column(smooth[:, y, x], painted[:, y, x], int(centre[0]),
                                direction, marrow, step, reach, clear[:, y, x])
        if k is not None:
            hits.append((k, y, x))
    if len(hits) < 3:
        return None
    median = float(np.median([k for k, _, _ in hits]))
    kept = np.array([h for h in hits if abs(h[0] - median) * step <= DISC_SPREAD_MM],
                    dtype=np.float64)
    if len(kept) < 3:
        return None
    return _disc_slab(kept, direction, smooth.shape, centre, step)


@dataclass(frozen=True, slots=True)
class _Band:
    """The bright band between a body and the next one (a thin disc on thick slices)."""

    direction: int            # along z, from the seed
    marrow: BoolArray         # a slab in the next body's marrow beyond it
    plane: FloatArray | None  # its peak as ``k = a + b*y + c*x`` (grid indices)


def _neighbour_marrow(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64],
                      marrow: float, step: float, direction: int) -> _Band | None:
    """A slab in the marrow of the next body, beyond the bright band that separates it.

    On thick slices a thin disc is blurred with both endplates into one band brighter
    than the marrow on either side (real thoracic spines at 2.5 mm), so no dark disc is
    seen and the flooding runs over the band into the next body, which nothing marks as
    outside. Along the median profile of the columns around the seed, beyond the cement
    and its blur, the band is the brightest stretch before the profile falls
    NEIGHBOUR_BAND_HU below it and stays there for NEIGHBOUR_MARROW_MM: that low
    stretch is the next body's marrow. The band's peak is then found on each column of
    the disc search and fitted with a plane.
    """
    prof = _column_profile(smooth, painted, centre, NEIGHBOUR_COLUMNS_MM / step)
    idx = int(centre[0]) + direction * np.arange(int(NEIGHBOUR_REACH_MM / step))
    idx = idx[(idx >= 0) & (idx < len(prof))]
    values = prof[idx]
    covered = np.flatnonzero(np.isnan(values))
    start = (int(covered.max()) + 1 if covered.size else 0) + int(NEIGHBOUR_SKIP_MM / step)
    # Where the cement's blur reaches farther still (thick slices), its fall into this
    # body's own marrow is no band.
    while (start + 1 < len(values) and values[start] > marrow + NEIGHBOUR_BAND_HU
           and values[start + 1] <= values[start]):
        start += 1
    run = max(int(NEIGHBOUR_MARROW_MM / step), 1)
    peak = -np.inf
    for i in range(start, len(values) - run):
        peak = max(peak, float(values[i]))
        low = values[i:i + run]
        if np.isnan(low).any() or float(low.max()) > peak - NEIGHBOUR_BAND_HU:
            continue
        k = int(idx[i + int(np.argmin(low))])
        z = np.arange(smooth.shape[0])[:, None, None]
        slab = np.abs(z - k) * step <= NEIGHBOUR_SLAB_MM
        cols = _columns(smooth.shape, centre, NEIGHBOUR_COLUMNS_MM / step)
        return _Band(direction=direction, marrow=np.asarray(slab & cols[None], dtype=bool),
                     plane=_band_plane(smooth, painted, centre, step, int(idx[start]), k))
    return None


def _disc_columns(centre: npt.NDArray[np.int64], step: float, shape: tuple[int, ...]
                  ) -> list[tuple[int, int]]:
    """(row, column) of a 3 mm lattice within DISC_COLUMNS_MM of the seed's column."""
    out = []
    for dy in np.arange(-DISC_COLUMNS_MM, DISC_COLUMNS_MM + 0.1, 3.0):
        for dx in np.arange(-DISC_COLUMNS_MM, DISC_COLUMNS_MM + 0.1, 3.0):
            y, x = round(centre[1] + dy / step), round(centre[2] + dx / step)
            on_grid = 0 <= y < shape[1] and 0 <= x < shape[2]
            if dx * dx + dy * dy <= DISC_COLUMNS_MM ** 2 and on_grid:
                out.append((y, x))
    return out


def _band_plane(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64], step: float,
                near: int, far: int) -> FloatArray | None:
    """Plane through the brightest voxel between z indices ``near`` and ``far`` on the
    columns of the disc search (a 3 mm lattice), or None when they disagree."""
    lo, hi = min(near, far), max(near, far) + 1
    hits = [(lo + int(np.argmax(smooth[lo:hi, y, x])), y, x)
            for y, x in _disc_columns(centre, step, smooth.shape)
            if not painted[lo:hi, y, x].any()]
    if len(hits) < 10:
        return None
    table = np.array(hits)
    return _robust_plane(table[:, 0].astype(np.float64), table[:, 1], table[:, 2], 2.0 / step)


def _cut_beyond_bands(region: BoolArray, bands: Sequence[_Band], step: float,
                      margin_mm: float) -> BoolArray:
    """The region without what lies more than ``margin_mm`` beyond the peak of a band
    when that is at least ENDPLATE_CUT_MIN_ML: the next body, flooded around its marker.

    The marker in the next body's marrow is small, and the marrow's texture may hold its
    front while the flooding crosses a faint band around it. A body ends within the band
    (the two fronts meet on one of its flanks), never a few millimetres past its peak.
    """
    for band in bands:
        if band.plane is not None:
            region = _cut_beyond_plane(region, band.plane, band.direction, margin_mm, step)
    return region


def _column_profile(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64],
                    radius: float) -> FloatArray:
    """Median along z of the unpainted columns around the seed; NaN where cement (painted)
    covers half of them or more."""
    cols = _columns(smooth.shape, centre, radius)
    values = np.where(painted[:, cols], np.nan, smooth[:, cols])
    covered = np.isnan(values).mean(axis=1) >= 0.5
    with np.errstate(all="ignore"):
        prof = np.nanmedian(np.where(covered[:, None], 0.0, values), axis=1)
    return np.asarray(np.where(covered, np.nan, prof), dtype=np.float64)


def _disc_slab(hits: FloatArray, direction: int, shape: tuple[int, ...],
               centre: npt.NDArray[np.int64], step: float) -> BoolArray:
    """A thin slab of disc beyond the plane fitted to the endplate hits (k, y, x)."""
    design = np.column_stack([np.ones(len(hits)), hits[:, 1], hits[:, 2]])
    coef, *_ = np.linalg.lstsq(design, hits[:, 0], rcond=None)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    plane = coef[0] + coef[1] * y + coef[2] * x
    beyond = (z - plane) * direction * step
    near_axis = ((y - centre[1]) ** 2 + (x - centre[2]) ** 2) * step ** 2 <= DISC_COLUMNS_MM ** 2
    return np.asarray((beyond >= DISC_SLAB_MM[0]) & (beyond <= DISC_SLAB_MM[1]) & near_axis,
                      dtype=bool)


def _endplate_on_column(prof: F32, painted: BoolArray, start: int, direction: int,
                        marrow: float, step: float, reach: int, clear: BoolArray
                        ) -> int | None:
    """Index of the endplate's peak going ``direction`` from ``start``, or None; where the
    plate met is the next body's beyond a disc brighter than the marrow (on voxels
    ``clear`` of cement), an index placing the disc slab before that plate."""
    idx = start + direction * np.arange(reach)
    idx = idx[(idx >= 0) & (idx < len(prof))]
    values, paint, far_from_cement = prof[idx], painted[idx], clear[idx]
    first = int(np.nonzero(paint)[0].max()) + int(RIM_MM / step) if paint.any() else 0
    ridge = max(marrow + WALL_RISE_HU, WALL_MIN_HU)
    behind = slice(int(1.5 / step), int(4.0 / step) + 1)
    for i in range(max(first, 1), len(values) - behind.stop):
        v = values[i]
        if v < ridge or v < values[i - 1] or v < values[i + 1]:
            continue
        back = values[i + behind.start:i + behind.stop]
        # A plate too faint to stand above a disc brighter than the marrow is not met:
        # the plate met is the next body's, with the disc before it and the next body's
        # marrow, as bright as a disc in places, beyond it.
        bright = _bright_disc_before(values[first:i], far_from_cement[first:i], marrow, step)
        floor = max(marrow, DISC_SOFT_MAX_HU) if bright else marrow
        if float(back.max()) >= 0.5 * (v + floor) or paint[i:i + behind.stop].any():
            return None
        if bright:  # placed so that the disc's slab falls before that plate
            return int(idx[i] - direction * round((DISC_SLAB_MM[1] + BRIGHT_DISC_CLEAR_MM) / step))
        return int(idx[i])
    return None


def _bright_disc_before(values: F32, clear: BoolArray, marrow: float, step: float) -> bool:
    """Whether the profile just before a plate (``values`` from the seed's side up to it)
    is a disc brighter than the marrow: soft tissue over BRIGHT_DISC_MM, ``clear`` of
    cement, clearly above the marrow and no brighter than a disc, with marrow before it."""
    end = len(values) - round(BRIGHT_DISC_CLEAR_MM / step)
    begin = end - round(BRIGHT_DISC_MM / step)
    if begin < 0 or not clear[begin:].all():
        return False
    stretch = values[begin:end]
    low = float(np.percentile(stretch, 10))
    # The body's own marrow lies before the disc (not the blur of cement reaching the
    # plate, which falls off without ever reaching the marrow).
    marrow_before = values[:begin] <= marrow + BRIGHT_DISC_NOISE_HU
    return bool(low >= marrow + BRIGHT_DISC_ABOVE_MARROW_HU and marrow_before.any()
                and float(np.median(stretch)) <= DISC_SOFT_MAX_HU + BRIGHT_DISC_NOISE_HU)
