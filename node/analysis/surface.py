"""Quadratic surfaces fitted to the ends of a body's columns (endplates are concave)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def quadratic_terms(y: npt.ArrayLike, x: npt.ArrayLike) -> FloatArray:
    """Design matrix (N, 6) of the surface ``k = c0 + c1 y + c2 x + c3 y² + c4 x² + c5 yx``."""
    yy, xx = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    return np.stack([np.ones_like(yy), yy, xx, yy * yy, xx * xx, yy * xx], axis=1)


def fitted_quadratic(y: npt.ArrayLike, x: npt.ArrayLike, k: npt.ArrayLike, *,
                     tolerance: float, min_points: int, min_inliers: float,
                     plane: bool = False) -> FloatArray | None:
    """Coefficients of the quadratic surface through most points (y, x, k), refitted
    twice on those within ``tolerance`` of it; None when fewer than ``min_points`` are
    left or fewer than the fraction ``min_inliers`` of all lie on it. With ``plane`` the
    quadratic terms are held at zero."""
    design, values = quadratic_terms(y, x), np.asarray(k, dtype=np.float64)
    if plane:
        design[:, 3:] = 0.0
    keep = np.ones(len(values), dtype=bool)
    coef: FloatArray = np.zeros(6)
    for _ in range(3):
        if np.count_nonzero(keep) < min_points:
            return None
        coef = np.asarray(np.linalg.lstsq(design[keep], values[keep], rcond=None)[0],
                          dtype=np.float64)
        keep = np.abs(design @ coef - values) <= tolerance
    if np.count_nonzero(keep) < min_inliers * len(values):
        return None
    return coef
