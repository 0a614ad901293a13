"""Endplate surfaces fitted to the plate positions read on a body's columns."""

from __future__ import annotations

import numpy as np

from node.analysis.surface import fitted_endplate, fitted_quadratic, quadratic_terms

FIT = dict(tolerance=0.75, min_points=30, min_inliers=0.5)
# The upper end of a body on 2.5 mm slices whose index grows downward: outward is -k.
OUTWARD_MM = -2.5
MAX_BULGE = 0.005


def _grid() -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(37.0), np.arange(37.0), indexing="ij")


def _at(coef: np.ndarray, y: float, x: float) -> float:
    return float((quadratic_terms([y], [x]) @ coef)[0])


def test_plates_read_on_two_sides_with_a_few_misreads_stay_a_plane() -> None:
    # Cement hides the plate over most of the footprint: it is read on a band along the
    # right side and the back, plus a few columns in the middle where the blur of a disc
    # leak beyond the plate makes it look two slices out (dev-09's upper plate).
    y, x = _grid()
    plate = 5.5 - 0.08 * y
    band = ((x >= 32) & (y >= 6) & (y <= 30)) | ((y >= 30) & (x >= 8) & (x <= 31))
    misread = (y >= 14) & (y <= 28) & (x >= 6) & (x <= 22) & (y % 4 == 0) & (x % 4 == 0)
    k = plate - 2.0 * misread
    read = band | misread
    quadratic = fitted_quadratic(y[read], x[read], k[read], **FIT)
    endplate = fitted_endplate(y[read], x[read], k[read], outward_mm=OUTWARD_MM,
                               max_bulge=MAX_BULGE, **FIT)
    assert quadratic is not None and endplate is not None
    far = 5.5 - 0.08 * 4.0
    assert far - _at(quadratic, 4.0, 4.0) > 3.0          # the quadratic bends far out
    assert abs(_at(endplate, 4.0, 4.0) - far) < 0.1


def test_a_dished_plate_keeps_its_curvature() -> None:
    y, x = _grid()
    dished = 6.3 - 0.004 * ((y - 18.0) ** 2 + (x - 18.0) ** 2)   # the middle lies inward
    ring = np.hypot(y - 18.0, x - 18.0) >= 10.0
    endplate = fitted_endplate(y[ring], x[ring], dished[ring], outward_mm=OUTWARD_MM,
                               max_bulge=MAX_BULGE, **FIT)
    assert endplate is not None
    assert abs(_at(endplate, 18.0, 18.0) - 6.3) < 0.05


def test_plates_read_along_one_line_give_a_plane() -> None:
    # A body one column of plates wide: the points span no area, so an outward bend of
    # the quadratic along them has its apex beyond them.
    x = np.arange(40.0)
    y = np.zeros_like(x)
    domed = 5.0 + 0.002 * (x - 20.0) ** 2
    endplate = fitted_endplate(y, x, domed, outward_mm=OUTWARD_MM, max_bulge=MAX_BULGE, **FIT)
    assert endplate is not None and not endplate[3:].any()
