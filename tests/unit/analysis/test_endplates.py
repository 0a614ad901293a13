"""Endplates on thick slices: placed between the slices by the steps of a slanted plate."""

from __future__ import annotations

import numpy as np

from node.analysis.bodies import Body, body_from_mask
from node.analysis.endplates import with_endplates_between_slices

SLICE_MM, PIXEL_MM, FINE_MM = 2.5, 0.5, 0.05
SLICES, ROWS, COLS = 16, 80, 80
MARROW, PLATE, DISC, PLATE_MM = 150.0, 900.0, 90.0, 0.8
AFFINE = np.array([[0.0, 0.0, PIXEL_MM, 0.0], [0.0, PIXEL_MM, 0.0, 0.0],
                   [SLICE_MM, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def _surfaces() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper endplate heights (mm) over the columns: slanted and dished."""
    y, x = np.meshgrid(np.arange(ROWS) * PIXEL_MM, np.arange(COLS) * PIXEL_MM, indexing="ij")
    lower = 7.3 + 0.12 * x + 0.04 * y
    upper = 29.1 - 0.10 * y + 0.004 * (x - 20.0) ** 2
    return lower, upper


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HU on thick slices (box slice profile), the true body, and a body taken with every
    slice that holds a plate (what a finder that follows the bright plate returns)."""
    lower, upper = _surfaces()
    inside = np.zeros((ROWS, COLS), dtype=bool)
    inside[10:70, 10:70] = True
    z = (np.arange(int(SLICES * SLICE_MM / FINE_MM)) + 0.5) * FINE_MM
    zz = z[:, None, None]
    body = inside & (zz >= lower) & (zz <= upper)
    plate = body & ((zz - lower < PLATE_MM) | (upper - zz < PLATE_MM))
    fine = np.where(plate, PLATE, np.where(body, MARROW, DISC)).astype(np.float32)
    per = int(SLICE_MM / FINE_MM)
    hu = fine.reshape(SLICES, per, ROWS, COLS).mean(axis=1)
    centres = ((np.arange(SLICES) + 0.5) * SLICE_MM)[:, None, None]
    truth = inside & (centres >= lower) & (centres <= upper)
    found = inside & (hu > 0.5 * (MARROW + DISC))
    return np.rint(hu).astype(np.int16), truth, found


def _body(mask: np.ndarray) -> Body:
    box = (slice(0, SLICES), slice(0, ROWS), slice(0, COLS))
    return body_from_mask(mask, box, AFFINE, mask.shape)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_plate_slices_are_split_by_the_fitted_surface() -> None:
    hu, truth, found = _scene()
    before = _body(found)
    after = with_endplates_between_slices(before, hu, AFFINE, hu.shape)
    error_before = abs(before.voxel_count - np.count_nonzero(truth))
    error_after = abs(after.voxel_count - np.count_nonzero(truth))
    assert error_before > 0.05 * np.count_nonzero(truth)      # the finder's bias is real
    assert error_after < 0.6 * error_before
    assert _dice(after.mask, truth) > _dice(found, truth) + 0.02


def test_thin_slices_are_left_alone() -> None:
    hu, _, found = _scene()
    thin = AFFINE.copy()
    thin[2, 0] = PIXEL_MM
    body = body_from_mask(found, (slice(0, SLICES), slice(0, ROWS), slice(0, COLS)), thin,
                          found.shape)
    assert with_endplates_between_slices(body, hu, thin, hu.shape) is body
