"""Mask and image operations on the grid: balls, openings, components, boxes, inpainting,
the marrow's level, the seed's marker and the watershed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from skimage.segmentation import watershed

from node.analysis.bodies import BoolArray
from node.analysis.flood.params import (
    F32,
    GAUSS_TRUNCATE,
    INSIDE_DEPTH_MM,
    MARROW_DEFAULT_HU,
    MARROW_RING_MM,
)
from node.analysis.morphology import dilated_by_ball, eroded_by_ball


def _flooded_from(elevation: F32, markers: npt.NDArray[np.int32], floodable: BoolArray
                  ) -> npt.NDArray[np.int32]:
    """``watershed(elevation, markers, mask=floodable)``, with the markers' own interior
    left out of the flooding.

    A marker voxel with no unmarked floodable neighbour (6-connected, the watershed's
    connectivity) never labels anything; leaving it out of the queue keeps the order of
    every other entry, so the labels are the same (up to ties between markers of exactly
    equal elevation, which the queue orders arbitrarily either way) at half the work or
    less: most of the grid is certain outside.
    """
    open_ = floodable & (markers == 0)
    front = (markers > 0) & dilated_by_ball(open_, 1.0)
    labels = watershed(elevation, np.where(front, markers, 0), mask=open_ | front)
    return np.where(markers > 0, markers, labels)


def _columns(shape: tuple[int, ...], centre: npt.NDArray[np.int64], radius: float) -> BoolArray:
    """The (row, column) positions within ``radius`` (voxels) of the seed's column."""
    y, x = np.ogrid[:shape[1], :shape[2]]
    return np.asarray((y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius * radius,
                      dtype=bool)


def _inside_marker(cem: BoolArray, centre: npt.NDArray[np.int64], radius: float,
                   step: float) -> BoolArray:
    """The seed's cement piece without its thin outgrowths (leaks leave through the
    cortex in narrow channels), plus a ball at the seed."""
    ball = _ball_at(cem.shape, centre, radius)
    deep = np.zeros(cem.shape, dtype=bool)
    if cem.any():
        # One voxel of background around the cement keeps the depths exact.
        box = _bounding_box(cem, 1)
        deep[box] = ndimage.distance_transform_edt(cem[box]) * step >= INSIDE_DEPTH_MM
    core = _component_at(deep | ball, centre)
    if core is None:
        return ball
    return np.asarray(_near(core, INSIDE_DEPTH_MM / step) & cem | ball, dtype=bool)


def _large_parts(mask: BoolArray, min_voxels: float) -> BoolArray:
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray((sizes >= min_voxels)[labels], dtype=bool)


def _near(mask: BoolArray, radius: float) -> BoolArray:
    """Voxels within ``radius`` (voxels) of the mask."""
    if not mask.any():
        return mask.copy()
    box = _bounding_box(mask, int(np.ceil(radius)) + 1)
    out = np.zeros(mask.shape, dtype=bool)
    out[box] = dilated_by_ball(mask[box], radius)
    return out


def _holes_filled(mask: BoolArray) -> BoolArray:
    """``binary_fill_holes`` on the mask's box with one voxel of background around it
    (what lies outside the box reaches the border anyway)."""
    out = np.zeros(mask.shape, dtype=bool)
    if mask.any():
        box = _bounding_box(mask, 1)
        out[box] = ndimage.binary_fill_holes(mask[box])
    return out


def _bounding_box(mask: BoolArray, pad: int) -> tuple[slice, ...]:
    """The box around the mask's voxels, ``pad`` voxels wider on every side (clipped)."""
    if not mask.any():
        raise ValueError("A bounding box needs a mask with at least one voxel; it is empty.")
    out = []
    for axis, n in enumerate(mask.shape):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        out.append(slice(max(int(hit[0]) - pad, 0), min(int(hit[-1]) + 1 + pad, n)))
    return tuple(out)


def _marrow_level(data: F32, cem: BoolArray, painted: BoolArray, step: float
                  ) -> float:
    """Median of the bone around the cement (not the shell, not outside)."""
    ring = _near(cem, MARROW_RING_MM / step) & ~painted
    values = data[ring]
    values = values[(values > -100.0) & (values < 500.0)]
    if values.size < 50:
        return MARROW_DEFAULT_HU
    return float(np.median(values))


def _inpaint(data: F32, painted: BoolArray, step: float) -> F32:
    """Fill the painted voxels with the Gaussian-weighted mean of their unpainted surroundings."""
    if not painted.any():
        return data
    out = data.copy()
    weight = (~painted).astype(np.float32)
    todo = painted.copy()
    for sigma_mm in (1.5, 3.0, 6.0, 12.0):
        sigma = sigma_mm / step
        # The filters reach GAUSS_TRUNCATE sigma: on a box that much wider than what is
        # left to fill, the values there are those of the whole grid.
        box = _bounding_box(todo, int(np.ceil(GAUSS_TRUNCATE * sigma)) + 1)
        num = ndimage.gaussian_filter(data[box] * weight[box], sigma, truncate=GAUSS_TRUNCATE)
        den = ndimage.gaussian_filter(weight[box], sigma, truncate=GAUSS_TRUNCATE)
        ok = todo[box] & (den > 0.05)
        out[box][ok] = num[ok] / den[ok]
        todo[box] &= ~ok
        if not todo.any():
            break
    return out


def _opened(mask: BoolArray, radius: float) -> BoolArray:
    """Morphological opening by a ball."""
    if not mask.any():
        return mask
    # One voxel of background around the mask is enough: beyond the box's edge the erosion
    # counts as inside, which is right only where the box meets the grid's own edge.
    box = _bounding_box(mask, 1)
    core = np.zeros(mask.shape, dtype=bool)
    core[box] = eroded_by_ball(mask[box], radius)
    return np.asarray(_near(core, radius) & mask, dtype=bool) if core.any() else core


def _ball_at(shape: tuple[int, ...], centre: npt.NDArray[np.int64], radius: float
             ) -> BoolArray:
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    d2 = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2
    return np.asarray(d2 <= radius * radius, dtype=bool)


def _component_at(mask: BoolArray, centre: npt.NDArray[np.int64]) -> BoolArray | None:
    labels, n = ndimage.label(mask)
    if n == 0:
        return None
    label = labels[tuple(centre)]
    if label == 0:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        label = int(np.argmax(sizes))
    return np.asarray(labels == label, dtype=bool)


def _core(region: BoolArray, step: float) -> BoolArray:
    """The region without its thin processes, for the frame (pedicles bias the axes)."""
    opened = _opened(region, 5.0 / step)
    return opened if np.count_nonzero(opened) > 100 else region
