"""Bulges a body finder flooded over cement leaking through the wall are cut back."""

from __future__ import annotations

import numpy as np

from node.analysis.bodies import Body, body_from_mask
from node.analysis.wallleak import with_wall_leaks_cut

PIXEL_MM, SLICE_MM = 0.5, 1.0
SLICES, ROWS, COLS = 30, 100, 120
AFFINE = np.array([[0.0, 0.0, PIXEL_MM, -30.0], [0.0, PIXEL_MM, 0.0, -25.0],
                   [SLICE_MM, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
HALF_WIDTH_MM, HALF_DEPTH_MM = 20.0, 15.0


def _scene(leak: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An elliptic body whose cement fills its front half up to the wall (an arc of about
    150 degrees), with or without a leak through the left back wall that the finder flooded:
    a bulge 6 mm out over 30 degrees, its cement 1 mm short of the tip. Returns the
    finder's body, the cement and the true body."""
    z, y, x = np.meshgrid(np.arange(SLICES) * SLICE_MM, np.arange(ROWS) * PIXEL_MM - 25.0,
                          np.arange(COLS) * PIXEL_MM - 30.0, indexing="ij")
    shell = np.hypot(x / HALF_WIDTH_MM, y / HALF_DEPTH_MM)
    radius = np.hypot(x, y)
    wall = radius / np.maximum(shell, 1e-6)
    rows = (z >= 3.0) & (z <= 26.0)
    body = rows & (shell <= 1.0)
    cement = body & (y < -2.0) & (shell <= 1.0)
    found = body.copy()
    if leak:
        angle = np.degrees(np.arctan2(y, x))
        arc = rows & (z >= 8.0) & (z <= 20.0) & (np.abs(angle - 60.0) <= 15.0)
        found |= arc & (radius <= wall + 6.0)
        cement |= arc & (shell >= 0.6) & (radius <= wall + 5.0)
    return found, cement, body


def _body(mask: np.ndarray) -> Body:
    box = (slice(0, SLICES), slice(0, ROWS), slice(0, COLS))
    return body_from_mask(mask, box, AFFINE, mask.shape)


def test_a_bulge_over_a_wall_leak_is_cut_back_to_the_wall() -> None:
    found, cement, truth = _scene(leak=True)
    after = with_wall_leaks_cut(_body(found), cement, found.shape).mask
    bulge = found & ~truth
    assert np.count_nonzero(after & bulge) < 0.15 * np.count_nonzero(bulge)
    assert np.count_nonzero(truth & ~after) < 0.01 * np.count_nonzero(truth)


def test_cement_filling_the_body_up_to_its_wall_stays() -> None:
    found, cement, _ = _scene(leak=False)
    body = _body(found)
    assert with_wall_leaks_cut(body, cement, found.shape) is body
