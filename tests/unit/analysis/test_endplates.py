"""Endplates on thick slices: placed between the slices by the steps of a slanted plate."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from node.analysis.bodies import Body, body_from_mask
from node.analysis.endplates import with_endplates_between_slices

SLICE_MM, PIXEL_MM, FINE_MM = 2.5, 0.5, 0.05
SLICES, ROWS, COLS = 16, 80, 80
MARROW, PLATE, DISC, PLATE_MM, CEMENT = 150.0, 900.0, 90.0, 0.8, 2500.0
AFFINE = np.array([[0.0, 0.0, PIXEL_MM, 0.0], [0.0, PIXEL_MM, 0.0, 0.0],
                   [SLICE_MM, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def _surfaces() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper endplate heights (mm) over the columns: slanted and dished."""
    y, x = np.meshgrid(np.arange(ROWS) * PIXEL_MM, np.arange(COLS) * PIXEL_MM, indexing="ij")
    lower = 7.3 + 0.12 * x + 0.04 * y
    upper = 29.1 - 0.10 * y + 0.004 * (x - 20.0) ** 2
    return lower, upper


def _scene(lower: np.ndarray | None = None, cement_cols: int = 0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HU on thick slices (box slice profile), the true body, and a body taken with every
    slice that holds a plate (what a finder that follows the bright plate returns).
    Cement fills the lowest 6 mm of the body in the first ``cement_cols`` columns."""
    default_lower, upper = _surfaces()
    lower = default_lower if lower is None else lower
    inside = np.zeros((ROWS, COLS), dtype=bool)
    inside[10:70, 10:70] = True
    z = (np.arange(int(SLICES * SLICE_MM / FINE_MM)) + 0.5) * FINE_MM
    zz = z[:, None, None]
    body = inside & (zz >= lower) & (zz <= upper)
    plate = body & ((zz - lower < PLATE_MM) | (upper - zz < PLATE_MM))
    fine = np.where(plate, PLATE, np.where(body, MARROW, DISC)).astype(np.float32)
    cement = body & (zz - lower < 6.0)
    cement[..., cement_cols:] = False
    fine[cement] = CEMENT
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


def test_where_cement_hides_the_plate_an_end_moves_one_slice_at_most() -> None:
    # A plate that sinks toward the far side where it shows, flat under the cement that
    # fills the near third of the body down to it: the surface fitted where the plate
    # shows, carried on under the cement, would cut off two slices of cemented body.
    y, x = np.meshgrid(np.arange(ROWS) * PIXEL_MM, np.arange(COLS) * PIXEL_MM, indexing="ij")
    lower = 13.0 - 0.4 * np.clip(x - 17.5, 0.0, None) + 0.0 * y
    hu, truth, found = _scene(lower, cement_cols=35)
    after = with_endplates_between_slices(_body(found), hu, AFFINE, hu.shape).mask
    raised = np.argmax(after, axis=0) - np.argmax(found, axis=0)
    assert raised[10:70, 10:35].max() <= 1
    shown = after[:, 10:70, 40:70]
    assert np.count_nonzero(shown != truth[:, 10:70, 40:70]) < 0.05 * np.count_nonzero(shown)


def test_thin_slices_are_left_alone() -> None:
    hu, _, found = _scene()
    thin = AFFINE.copy()
    thin[2, 0] = PIXEL_MM
    body = body_from_mask(found, (slice(0, SLICES), slice(0, ROWS), slice(0, COLS)), thin,
                          found.shape)
    assert with_endplates_between_slices(body, hu, thin, hu.shape) is body


def _flat_plate_column(top_mm: float) -> np.ndarray:
    """HU of the slices of one column whose upper endplate is flat, its outer face at
    ``top_mm``, seen through a Gaussian slice profile as wide as the slice (FWHM)."""
    z = (np.arange(int(SLICES * SLICE_MM / FINE_MM)) + 0.5) * FINE_MM
    in_body = (z > 7.0) & (z <= top_mm)
    plate = (z > top_mm - PLATE_MM) | (z < 7.0 + PLATE_MM)
    fine = np.where(in_body, np.where(plate, PLATE, MARROW), DISC)
    fine = ndimage.gaussian_filter1d(fine, SLICE_MM / 2.355 / FINE_MM, mode="nearest")
    per = int(SLICE_MM / FINE_MM)
    return np.asarray(fine[per // 2::per], dtype=np.float64)


def test_a_flat_plate_is_placed_within_its_slice() -> None:
    # A plate parallel to the slices makes no steps to fit: where it lies within its
    # slice is read from the brightness it spreads into the neighbouring slices.
    inside = np.zeros((ROWS, COLS), dtype=bool)
    inside[10:70, 10:70] = True
    centres = (np.arange(SLICES) + 0.5) * SLICE_MM
    tops = np.arange(25.0, 27.5, 0.1)
    right = 0
    for top in tops:
        hu = np.where(inside, _flat_plate_column(top)[:, None, None], DISC).astype(np.int16)
        found = inside & (hu > 0.5 * (MARROW + DISC))
        after = with_endplates_between_slices(_body(found), hu, AFFINE, hu.shape)
        right += int(np.flatnonzero(after.mask[:, 40, 40]).max()
                     == np.flatnonzero(centres <= top).max())
    assert right >= len(tops) - 2


def _cemented_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A round, flat body whose cement reaches within 1 mm of both plates inside a narrow
    rim, seen through a Gaussian slice profile and in-plane blur: the plates show only
    on a ring, and beside the cement its blur brightens the slice next to the plate."""
    y, x = np.meshgrid((np.arange(ROWS) - 39.5) * PIXEL_MM, (np.arange(COLS) - 39.5) * PIXEL_MM,
                       indexing="ij")
    r = np.hypot(y, x)
    inside = r <= 15.0
    lower, upper = 7.3, 29.1
    z = (np.arange(int(SLICES * SLICE_MM / FINE_MM)) + 0.5) * FINE_MM
    zz = z[:, None, None]
    body = inside & (zz >= lower) & (zz <= upper)
    shell = body & ((zz - lower < PLATE_MM) | (upper - zz < PLATE_MM) | (r > 14.2))
    fine = np.where(shell, PLATE, np.where(body, MARROW, DISC)).astype(np.float32)
    fine[(r <= 11.0) & (zz >= lower + PLATE_MM + 1.0) & (zz <= upper - PLATE_MM - 1.0)] = CEMENT
    fine = ndimage.gaussian_filter1d(fine, SLICE_MM / 2.355 / FINE_MM, axis=0, mode="nearest")
    fine = ndimage.gaussian_filter(fine, (0, 0.5 / PIXEL_MM, 0.5 / PIXEL_MM), mode="nearest")
    per = int(SLICE_MM / FINE_MM)
    hu = fine[per // 2::per]
    centres = ((np.arange(SLICES) + 0.5) * SLICE_MM)[:, None, None]
    truth = inside & (centres >= lower) & (centres <= upper)
    found = inside & (hu > 0.5 * (MARROW + DISC))
    return np.rint(hu).astype(np.int16), truth, found


def test_plates_read_only_on_a_ring_beside_cement_do_not_bend_the_ends() -> None:
    # Fitted to the ring alone, with the plates beside the cement read too deep, the
    # surface dips far into the cemented middle (it cut two slices off there).
    hu, truth, found = _cemented_scene()
    after = with_endplates_between_slices(_body(found), hu, AFFINE, hu.shape).mask
    assert _dice(after, truth) >= _dice(found, truth) - 0.005
    assert abs(np.count_nonzero(after) - np.count_nonzero(truth)) < 0.06 * np.count_nonzero(truth)
