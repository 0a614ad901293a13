"""Cement (spec: "Masks", cement) and metal that must not be counted as cement.

Cement is every voxel at or above ``cement_hu_min``. The scanner's blur spreads a cement
edge over a voxel or two, and at 1000 HU the edge of a 2000-3000 HU mass lies outside the
object's true surface: on phantoms with exact ground truth this inflates CDV by 5-15 %. So
the mask is cut where a voxel is half cement: at ``max(cement_hu_min, (core + marrow)/2)``
with ``core`` the HU of the inside of the densest mass thick enough to have one
(partial-volume half-level; every voxel counted is still >= ``cement_hu_min``). Cement is
the densest thing in a scan short of metal; dense IV contrast in a large vein is fainter,
and a core taken over every mass would pull the level down between the two. Thin
pieces (leaks) have no inside of their own to read and take the same level. Objects above
``metal_hu_min`` that are not shaped like cement are set apart as metal: a pedicle screw
is a straight, solid rod whose core is above 3000 HU along its whole length, while
injected cement is a rounded, irregular mass (or a thin streak that partial volume keeps
below 3000 HU).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.types import Parameters

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# A screw core is a rod: its length is several times its width (a 30 mm pedicle screw
# of 6.5 mm, 5.3 times; cement injected along the needle's path, dense enough to reach
# the clip over most of its core, 3.3 times: 31 x 9.6 mm).
METAL_MIN_ELONGATION = 4.0
METAL_MIN_LENGTH_MM = 12.0
METAL_MIN_CORE_FRACTION = 0.3
# Isolated specks below this volume are noise or streak, not cement.
MIN_COMPONENT_MM3 = 1.0
# Cement pieces large enough to seed the search for a treated body; their core is dense
# like injected PMMA (dense cortical bone reaches 1000 HU at fine voxels, not this).
MIN_SEED_ML = 0.03
SEED_CORE_HU = 1800
# HU of what surrounds cement (marrow, soft tissue) for the half-level, and the fewest
# inner voxels that make a reliable estimate of the cement's own HU.
SURROUNDINGS_HU = 100.0
# A zone of the distribution score is a radiograph's view: cement shows there wherever a
# voxel holds some, and cement's surface is rough below the scanner's blur, so its
# silhouette is read at 40 % of the way from the surroundings to the core, not at half.
SILHOUETTE_FRACTION = 0.4
MIN_CORE_VOXELS = 30
# Scanners clip cement at 3071 HU; values beyond come from metal on an extended scale.
EXTENDED_SCALE_HU = 3100


@dataclass(frozen=True, slots=True, eq=False)
class CementFinding:
    """Cement and metal of one volume.

    Attributes
    ----------
    mask : (slices, rows, columns) bool
        Cement, metal removed.
    silhouette : (slices, rows, columns) bool
        ``mask`` with the fainter edge a projection shows (``SILHOUETTE_FRACTION``).
    level_hu : float
        The HU level the cement mask was cut at (partial-volume half-level).
    metal : (slices, rows, columns) bool
        Objects taken for metal (not counted as cement).
    seeds : list of (3,) float
        A deep point (voxel index) of each cement piece large enough to hold a treated
        body, largest piece first.
    """

    mask: BoolArray
    metal: BoolArray
    seeds: list[FloatArray]
    silhouette: BoolArray
    level_hu: float = 1000.0

    @property
    def metal_found(self) -> bool:
        return bool(self.metal.any())


def find_cement(hu: npt.NDArray[np.int16], affine: FloatArray,
                params: Parameters) -> CementFinding:
    """Threshold cement, set metal apart and pick one seed per large cement piece.

    Parameters
    ----------
    hu : (slices, rows, columns) int16
        CT volume, HU.
    affine : (4, 4) float
        Index to patient LPS, mm.
    params : Parameters
        ``cement_hu_min`` and ``metal_hu_min``.
    """
    mask = np.zeros(hu.shape, dtype=bool)
    metal = np.zeros(hu.shape, dtype=bool)
    box = _bright_box(hu, params.cement_hu_min)
    if box is None:
        return CementFinding(mask=mask, metal=metal, seeds=[], silhouette=mask)
    sub = hu[box]
    bright = sub >= params.cement_hu_min
    labels, _n = ndimage.label(bright, structure=np.ones((3, 3, 3), dtype=bool))
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    offset = np.array([s.start for s in box], dtype=np.float64)
    pieces: list[tuple[float, FloatArray]] = []
    levels: list[float] = []
    for k, where in enumerate(ndimage.find_objects(labels), start=1):
        if where is None:
            continue
        comp = labels[where] == k
        count = int(np.count_nonzero(comp))
        if count * voxel_mm3 < MIN_COMPONENT_MM3:
            continue
        target = metal if _is_metal(comp, sub[where], spacing, params) else mask
        full = tuple(slice(b.start + w.start, b.start + w.stop) for b, w in zip(box, where,
                                                                              strict=True))
        target[full] |= comp
        if target is mask:
            own = _core_level(sub[where], comp, params)
            if own is not None:
                levels.append(own)
        dense = bool(np.any(sub[where][comp] >= SEED_CORE_HU))
        if target is mask and dense and count * voxel_mm3 / 1000.0 >= MIN_SEED_ML:
            pieces.append((count * voxel_mm3, offset + _deepest(comp, spacing, where)))
    if metal.any():
        logger.info("metal suspected: %d voxels set apart from cement",
                    int(np.count_nonzero(metal)))
    level = max(levels) if levels else half_level(sub, mask[box], params)
    silhouette = mask.copy()
    silhouette[box] &= sub >= _silhouette_level(level, params)
    mask[box] &= sub >= level
    pieces.sort(key=lambda piece: -piece[0])
    return CementFinding(mask=mask, metal=metal, seeds=[seed for _, seed in pieces],
                         silhouette=silhouette, level_hu=level)


def _silhouette_level(half: float, params: Parameters) -> float:
    """HU at SILHOUETTE_FRACTION of the way from the surroundings to the core whose
    half-level is ``half``; never below ``cement_hu_min``."""
    core_contrast = 2.0 * (half - SURROUNDINGS_HU)
    return max(float(params.cement_hu_min), SURROUNDINGS_HU + SILHOUETTE_FRACTION * core_contrast)


def half_level(values: npt.NDArray[np.int16], cement: BoolArray, params: Parameters) -> float:
    """HU where a voxel is half cement: mid-way between the cement's core and marrow."""
    return _core_level(values, cement, params) or float(params.cement_hu_min)


def _core_level(values: npt.NDArray[np.int16], comp: BoolArray,
                params: Parameters) -> float | None:
    """The half-level of the cement in ``comp`` read on its core (two voxels in, or one
    where that leaves too few), or None when it is too thin to have one."""
    inner = ndimage.binary_erosion(comp, iterations=2)
    if np.count_nonzero(inner) < MIN_CORE_VOXELS:
        inner = ndimage.binary_erosion(comp, iterations=1)
    if np.count_nonzero(inner) < MIN_CORE_VOXELS:
        return None
    core = float(np.median(values[inner]))
    return max(float(params.cement_hu_min), 0.5 * (core + SURROUNDINGS_HU))


def _bright_box(hu: npt.NDArray[np.int16], level: float) -> tuple[slice, slice, slice] | None:
    """Bounding box of the voxels at or above ``level`` (cheap projections, no labelling)."""
    # Slice maxima first: a boolean copy of the whole volume costs more than the search.
    slices = np.flatnonzero(hu.max(axis=(1, 2)) >= level)
    if slices.size == 0:
        return None
    sub = hu[slices[0]:slices[-1] + 1] >= level
    rows = np.flatnonzero(sub.any(axis=(0, 2)))
    cols = np.flatnonzero(sub.any(axis=(0, 1)))
    return (slice(int(slices[0]), int(slices[-1]) + 1), slice(int(rows[0]), int(rows[-1]) + 1),
            slice(int(cols[0]), int(cols[-1]) + 1))


def _is_metal(comp: BoolArray, values: npt.NDArray[np.int16], spacing: FloatArray,
              params: Parameters) -> bool:
    """A solid, straight rod above ``metal_hu_min`` (a screw), or anything beyond the
    3071 HU that scanners clip cement at."""
    if int(values[comp].max()) > EXTENDED_SCALE_HU:
        return True
    core = comp & (values >= params.metal_hu_min)
    n_core = int(np.count_nonzero(core))
    if n_core < 10 or n_core < METAL_MIN_CORE_FRACTION * np.count_nonzero(comp):
        return False
    if _rod(core, spacing):
        return True
    # A screw pair joined at the heads: the shafts part once the core is thinned, and
    # they are much of what is left; a thin tongue of cement thinned off a mass is not.
    thinned = ndimage.binary_erosion(core)
    pieces, n = ndimage.label(thinned, structure=np.ones((3, 3, 3)))
    if n < 2:
        return False
    rods = sum(int(np.count_nonzero(pieces[where] == k))
               for k, where in enumerate(ndimage.find_objects(pieces), start=1)
               if where is not None and _rod(pieces[where] == k, spacing))
    return bool(rods >= METAL_MIN_CORE_FRACTION * np.count_nonzero(thinned))


def _rod(core: BoolArray, spacing: FloatArray) -> bool:
    """A straight rod: long, and several times longer than wide."""
    if np.count_nonzero(core) < 10:
        return False
    pts = np.argwhere(core) * spacing
    eig = np.sort(np.linalg.eigvalsh(np.cov(pts.T)))[::-1]
    length = float(np.sqrt(12.0 * max(eig[0], 0.0)))  # extent of a uniform rod
    width = float(np.sqrt(12.0 * max(eig[1], 1e-6)))
    return length >= METAL_MIN_LENGTH_MM and length / max(width, 1e-3) >= METAL_MIN_ELONGATION


def _deepest(comp: BoolArray, spacing: FloatArray,
             where: tuple[slice, ...]) -> FloatArray:
    """Index (in the labelled box) of the point of ``comp`` farthest from its surface."""
    depth = ndimage.distance_transform_edt(np.pad(comp, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    local = np.unravel_index(int(np.argmax(depth)), comp.shape)
    return np.array([w.start + i for w, i in zip(where, local, strict=True)], dtype=np.float64)
