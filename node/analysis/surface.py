"""Quadratic surfaces fitted to the ends of a body's columns (endplates are concave)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import Delaunay

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


def fitted_endplate(y: npt.ArrayLike, x: npt.ArrayLike, k: npt.ArrayLike, *,
                    outward_mm: float, max_bulge: float, tolerance: float,
                    min_points: int, min_inliers: float) -> FloatArray | None:
    """Coefficients of the endplate through most points (y, x, k): the quadratic of
    :func:`fitted_quadratic`, or the plane when the quadratic bulges out beyond the
    points.

    A quadratic fitted to plates read on part of the footprint only (cement hides the
    rest) may bend outward over the rest, millimetres beyond the plate: a bulge whose
    apex lies outside the points read. A bulge among the points is what they show: the
    plates of real thoracic bodies on 2.5 mm slices read as domes all over (and a ring
    of plates read too deep beside cement filling the body's middle bends the same way).

    Parameters
    ----------
    y, x, k : array_like
        Where the plate was read (mm) and its position along the axis (any unit).
    outward_mm : float
        Millimetres outward per unit of ``k`` (negative when ``k`` grows inward).
    max_bulge : float
        The largest outward curvature (1/mm) still taken for a flat plate.
    tolerance, min_points, min_inliers
        As for :func:`fitted_quadratic`.
    """
    coef = fitted_quadratic(y, x, k, tolerance=tolerance, min_points=min_points,
                            min_inliers=min_inliers)
    if coef is None:
        return None
    hessian = np.array([[2.0 * coef[3], coef[5]], [coef[5], 2.0 * coef[4]]])
    if np.linalg.eigvalsh(outward_mm * hessian).min() >= -max_bulge:
        return coef
    points = np.column_stack([np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)])
    apex = np.linalg.lstsq(hessian, -coef[1:3], rcond=None)[0]
    # Joggled (QJ), so that plates read along a single line (no area: any apex lies
    # beyond them) give a plane rather than a Qhull error.
    if Delaunay(points, qhull_options="QJ").find_simplex(apex) >= 0:
        return coef
    return fitted_quadratic(y, x, k, tolerance=tolerance, min_points=min_points,
                            min_inliers=min_inliers, plane=True)
