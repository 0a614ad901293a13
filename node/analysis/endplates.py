"""The endplates of a body on thick slices: placed between slices, not on them.

On slices much thicker than the pixels an endplate falls inside one slice: a body finder
that takes the slice holding the bright plate puts the surface half a slice too far out
on average (VBV several per cent high on 2.5 mm slices, a few per cent on 1.25 mm). Two
things tell where the plate lies within its slice. The slice profile spreads the plate's
brightness into the neighbouring slices, more into the one it lies nearer to: the
centroid of that excess (above the marrow behind, the disc beyond) places it on each
column. And the endplate is a smooth surface that crosses the slices at a slant (tilt,
kyphosis, its own concavity), so the slice holding the plate steps from column to
column: a smooth surface fitted to the per-column positions places the plate between the
slice centres. A voxel is then in the body when its centre lies inside that surface (the
plate's outer face).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from skimage.morphology import convex_hull_image

from node.analysis.bodies import Body, with_new_mask
from node.analysis.surface import fitted_endplate, quadratic_terms

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# Slices this much thicker than the pixels (and at least this thick) hide the plate's
# position: measured on the dev set, the fitted plate raised the body's Dice on every
# level with slices of 1.25 mm and more; at 1.0 mm it moved VBV below the truth.
THICK_SLICE_MM = 1.25
THICK_SLICE_RATIO = 1.5
# The plate is looked for within one slice of the found end, on columns this far inside
# the footprint's rim (the rim curves into the wall), away from cement at the plate.
RIM_MM = 3.0
CEMENT_HU = 1000.0
MIN_COLUMNS = 30
OUTLIER_SLICES = 0.75
MIN_INLIERS = 0.5
# A quadratic that bends outward by more than this curvature (1/mm: 0.56 mm 15 mm from
# its apex) with its apex beyond the plates read is fitted as a plane: on dev-09, plates
# read only beside the cement made it bend 7 mm out over the rest, and the body kept a
# slice of the disc. (Half a slice 15 mm out, 0.011 on 2.5 mm slices, left dev-09's
# lower plate bent and its score 4 against 6.)
MAX_BULGE = 0.005
# A fitted plate is trusted this far from the nearest column it was read on.
READ_NEAR_MM = 4.0
# Half the thickness of an endplate: its outer face lies beyond the plate's centre.
HALF_PLATE_MM = 0.4


def with_endplates_between_slices(body: Body, hu: npt.NDArray[np.int16],
                                  affine: FloatArray, shape: tuple[int, ...]) -> Body:
    """The body with each end of its columns set by a smooth fit of its endplate.

    Parameters
    ----------
    body : Body
        A vertebral body found in the volume.
    hu : (slices, rows, columns) int16
        The CT volume, HU.
    affine : (4, 4) float
        Index to patient LPS, mm.
    shape : tuple of int
        Shape of the volume.

    Returns the body unchanged on slices that are not thick, when the slice axis is
    not the body's axis, or when too few columns show a plate to fit.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    thick = spacing[0] >= max(THICK_SLICE_MM, THICK_SLICE_RATIO * float(spacing[1:].max()))
    if not thick or body.axis_on_grid != 0:
        return body
    values = hu[body.box].astype(np.float32)
    mask = body.mask.copy()
    for toward_end in (1, -1):
        _set_end(mask, values, spacing, toward_end)
    if np.array_equal(mask, body.mask) or not mask.any():
        return body
    return with_new_mask(body, mask, shape)


def _set_end(mask: BoolArray, values: npt.NDArray[np.float32], spacing: FloatArray,
             toward_end: int) -> None:
    """Move the end of every column of ``mask`` (at its highest slice index for
    ``toward_end`` 1, its lowest for -1) to the fitted endplate, in place."""
    columns = mask.any(axis=0)
    n = mask.shape[0]
    ends = _column_ends(mask, toward_end)
    interior = ndimage.binary_erosion(columns, iterations=max(int(RIM_MM / spacing[1]), 1))
    plate = _plate_slices(values, ends, interior, toward_end)
    rows, cols = np.nonzero(~np.isnan(plate))
    if len(rows) < MIN_COLUMNS:
        return
    coef = fitted_endplate(rows * spacing[1], cols * spacing[2], plate[rows, cols],
                           outward_mm=toward_end * float(spacing[0]), max_bulge=MAX_BULGE,
                           tolerance=OUTLIER_SLICES, min_points=MIN_COLUMNS,
                           min_inliers=MIN_INLIERS)
    if coef is None:
        return
    all_rows, all_cols = np.nonzero(columns)
    # Plates read on a narrow ring leave the curvature free: the surface may bend far
    # away between them, never farther than the plates were read.
    surface = np.clip(quadratic_terms(all_rows * spacing[1], all_cols * spacing[2]) @ coef,
                      np.nanmin(plate) - 0.5, np.nanmax(plate) + 0.5)
    outer = surface + toward_end * HALF_PLATE_MM / spacing[0]
    # Nothing beyond the plate's outer face stays (a disc flooded through the endplate
    # included); a column grows by one slice at most, only inside the rim, where the
    # plate was looked for.
    wanted = (np.floor(outer) if toward_end > 0 else np.ceil(outer)).astype(np.int64)
    old_end = ends[all_rows, all_cols]
    # Away from the columns the plate was read on (cement hides it where it fills the
    # body up to the plate) the fitted surface is extrapolated: there an end moves in by
    # one slice at most and never out.
    read = ~np.isnan(plate)
    near = ndimage.distance_transform_edt(~read, sampling=spacing[1:]) <= READ_NEAR_MM
    fitted = (convex_hull_image(read) & near)[all_rows, all_cols]
    wanted = np.where(fitted, wanted, old_end + toward_end * np.clip(
        (wanted - old_end) * toward_end, -1, 0))
    k = np.arange(n)[:, None]
    column_masks = mask[:, all_rows, all_cols]
    column_masks &= (k - wanted[None, :]) * toward_end <= 0
    grow = ((wanted - old_end) * toward_end > 0) & interior[all_rows, all_cols]
    column_masks[np.clip(old_end + toward_end, 0, n - 1)[grow], np.flatnonzero(grow)] = True
    mask[:, all_rows, all_cols] = column_masks


def _column_ends(mask: BoolArray, toward_end: int) -> npt.NDArray[np.int64]:
    """Slice index of each column's end (its highest index for 1, lowest for -1)."""
    n = mask.shape[0]
    if toward_end > 0:
        return np.asarray(n - 1 - np.argmax(mask[::-1], axis=0), dtype=np.int64)
    return np.asarray(np.argmax(mask, axis=0), dtype=np.int64)


def _plate_slices(values: npt.NDArray[np.float32], ends: npt.NDArray[np.int64],
                  interior: BoolArray, toward_end: int) -> FloatArray:
    """Per interior column, the brightest slice within one slice of its end (NaN where
    cement lies there or the profile still rises beyond)."""
    n = values.shape[0]
    out = np.full(ends.shape, np.nan)
    rows, cols = np.nonzero(interior)
    if len(rows) == 0:
        return out
    ks = ends[rows, cols][:, None] + np.arange(-1, 2)[None, :] * toward_end
    ok = np.all((ks >= 0) & (ks < n), axis=1)
    rows, cols, ks = rows[ok], cols[ok], ks[ok]
    prof = values[ks, rows[:, None], cols[:, None]]
    beyond = values[np.clip(ks[:, -1] + toward_end, 0, n - 1), rows, cols]
    best = np.argmax(prof, axis=1)
    peak = prof[np.arange(len(best)), best]
    k_best = ks[np.arange(len(best)), best]
    clean = (prof.max(axis=1) < CEMENT_HU) & (peak > beyond)
    # The plate is placed from the two slices on either side of its own, where cement's
    # blur pulls it toward the cement: those columns count only when cement leaves too
    # few others.
    window = values[np.clip(k_best[:, None] + np.arange(-2, 3)[None, :], 0, n - 1),
                    rows[:, None], cols[:, None]]
    clear = clean & (window.max(axis=1) < CEMENT_HU)
    if np.count_nonzero(clear) >= MIN_COLUMNS:
        clean = clear
    offset = _plate_offset(values, k_best, rows, cols, toward_end)
    out[rows[clean], cols[clean]] = (k_best + toward_end * offset)[clean]
    return out


def _plate_offset(values: npt.NDArray[np.float32], k: npt.NDArray[np.int64],
                  rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64],
                  toward_end: int) -> FloatArray:
    """Where the plate lies in its slice, toward the end (-0.5..0.5 slice): the centroid
    of its brightness above the marrow behind it and the disc beyond it, over the slice
    and its two neighbours."""
    n = values.shape[0]
    at = [values[np.clip(k + d * toward_end, 0, n - 1), rows, cols].astype(np.float64)
          for d in range(-2, 3)]
    marrow, disc = at[0], at[4]
    inner = np.clip(at[1] - marrow, 0.0, None)
    middle = np.clip(at[2] - 0.5 * (marrow + disc), 0.0, None)
    outer = np.clip(at[3] - disc, 0.0, None)
    total = inner + middle + outer
    offset = np.where(total > 0, (outer - inner) / np.maximum(total, 1e-9), 0.0)
    return np.asarray(np.clip(offset, -0.5, 0.5), dtype=np.float64)
