"""Vectorised ray profiles for the body finder (``bodies.py``): where each ray leaves the body.

A profile is the HU along one ray from the body's centre, sampled every ``step`` mm. The
ray leaves the body at the first of two events:

- a **wall**: samples at least ``wall`` HU (cortex or endplate) followed by a fall; the
  exit is the half-maximum between the wall's crest and the floor beyond it (the outer
  surface of a blurred thin shell);
- a **drop**: ``hold`` samples in a row at or below ``drop`` HU (disc, muscle, canal
  are darker than marrow; a wall too thin to see at coarse voxels); the exit is where the
  profile crosses half-way between the marrow and that floor.

Cement is painted over with the marrow level before this (its edges would look like
walls), so a ray that meets the cortex right where cement touches it sees no wall there.
For those rays the exit of the painted run is a second candidate (``paint_exit``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _first(mask: BoolArray) -> npt.NDArray[np.int64]:
    """Index of the first True of each row; the row length when there is none."""
    n = mask.shape[1]
    has = mask.any(axis=1)
    return np.where(has, np.argmax(mask, axis=1), n).astype(np.int64)


def _last_before(mask: BoolArray, stop: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Index of the last True before ``stop`` in each row; -1 when there is none."""
    n = mask.shape[1]
    cols = np.arange(n)[None, :]
    limited = mask & (cols < stop[:, None])
    rev = limited[:, ::-1]
    has = rev.any(axis=1)
    return np.where(has, n - 1 - np.argmax(rev, axis=1), -1).astype(np.int64)


def _crossing(prof: npt.NDArray[np.float32], t: FloatArray, k: npt.NDArray[np.int64],
              level: npt.NDArray[np.float64]) -> FloatArray:
    """Sub-sample position where each row falls through ``level`` between k and k+1."""
    rows = np.arange(prof.shape[0])
    k = np.clip(k, 0, prof.shape[1] - 2)
    a = prof[rows, k].astype(np.float64)
    b = prof[rows, k + 1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(a != b, (a - level) / (a - b), 0.0)
    return np.asarray(t[k] + np.clip(np.nan_to_num(frac), 0.0, 1.0) * (t[1] - t[0]),
                      dtype=np.float64)


def exits(prof: npt.NDArray[np.float32], painted: BoolArray, t: FloatArray, *,
          inner: float, wall: float, drop: float, hold: int, floor_samples: int,
          max_radius: float) -> tuple[FloatArray, FloatArray]:
    """Where each ray leaves the body, and where it leaves the painted cement before that.

    Returns
    -------
    exit_mm : (rays,) float
        First wall or drop exit; NaN when none within ``max_radius``.
    paint_exit_mm : (rays,) float
        End of the last painted run before ``exit_mm``; NaN when the ray met no paint.
    """
    n_rays, n = prof.shape
    cols = np.arange(n)[None, :]
    finite = np.isfinite(prof)
    work = np.where(finite, prof, -1000.0).astype(np.float32)
    work[painted] = inner
    above = finite & (work >= wall)
    start = _first(~above)                     # a centre on a wall: skip that run
    after_start = cols >= start[:, None]
    first_wall = _first(above & after_start)
    low = finite & (work <= drop)
    run = ndimage.minimum_filter1d(low.astype(np.uint8), size=hold, axis=1,
                                   origin=-(hold // 2), mode="constant", cval=0) > 0
    first_drop = _first(run & after_start)
    wall_first = first_wall < first_drop
    # Wall exit: climb to the crest, then fall to half-way between crest and floor.
    falling = np.zeros_like(above)
    falling[:, :-1] = work[:, 1:] < work[:, :-1]
    crest = _first(falling & (cols >= first_wall[:, None]))
    floor = ndimage.minimum_filter1d(work, size=floor_samples, axis=1,
                                     origin=-(floor_samples // 2), mode="nearest")
    rows = np.arange(n_rays)
    crest_c = np.clip(crest, 0, n - 2)
    level_w = 0.5 * (work[rows, crest_c] + floor[rows, crest_c + 1])
    below_w = work < level_w[:, None]
    k_w = _first(below_w & (cols > crest_c[:, None])) - 1
    exit_w = _crossing(work, t, k_w, level_w)
    # Drop exit: back from the drop to where the profile was above half-way.
    drop_c = np.clip(first_drop, 0, n - 1)
    level_d = 0.5 * (inner + floor[rows, drop_c])
    k_d = _last_before(work >= level_d[:, None], drop_c)
    exit_d = _crossing(work, t, k_d, level_d)
    exit_mm = np.where(wall_first, exit_w, exit_d)
    none = (np.minimum(first_wall, first_drop) >= n) | (wall_first & (crest >= n - 1))
    none |= (~wall_first & (k_d < 0)) | (exit_mm > max_radius)
    exit_mm = np.where(none, np.nan, exit_mm)
    exit_idx = np.where(none, n, np.searchsorted(t, np.nan_to_num(exit_mm, nan=t[-1])))
    last_paint = _last_before(painted, exit_idx)
    paint_exit = np.where(last_paint >= 0, t[np.clip(last_paint, 0, n - 1)] + 0.5 * (t[1] - t[0]),
                          np.nan)
    return exit_mm, paint_exit


def harmonic_fill(radii: FloatArray, known: BoolArray, iterations: int = 150) -> FloatArray:
    """Fill unknown cells of a (polar, azimuth) grid smoothly from the known ones.

    Jacobi iterations of the discrete Laplace equation, wrapping in azimuth: a smooth
    interpolation of the body surface across a region where rays saw no wall.
    """
    if known.all():
        return radii.copy()
    if not known.any():
        return np.full_like(radii, np.nan)
    r = np.where(known, radii, float(np.nanmedian(radii[known])))
    for _ in range(iterations):
        up = np.vstack([r[:1], r[:-1]])
        down = np.vstack([r[1:], r[-1:]])
        left = np.roll(r, 1, axis=1)
        right = np.roll(r, -1, axis=1)
        r = np.where(known, radii, 0.25 * (up + down + left + right))
    return np.asarray(r, dtype=np.float64)


def star_moments(radii: FloatArray, dirs: FloatArray, weights: FloatArray
                 ) -> tuple[FloatArray, FloatArray, float]:
    """Centroid offset, covariance and volume of a star-shaped body from its radii.

    ``weights`` is the solid angle of each ray; volume = sum r^3/3 dW, first moment =
    sum r^4/4 u dW, second moment = sum r^5/5 u u^T dW.
    """
    r = radii.reshape(-1)
    u = dirs.reshape(-1, 3)
    w = weights.reshape(-1)
    volume = float(np.sum(r ** 3 / 3.0 * w))
    first = (r ** 4 / 4.0 * w) @ u / volume
    second = (u * (r ** 5 / 5.0 * w)[:, None]).T @ u / volume
    cov = second - np.outer(first, first)
    return np.asarray(first, dtype=np.float64), np.asarray(cov, dtype=np.float64), volume
