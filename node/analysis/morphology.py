"""Dilation and erosion by a Euclidean ball, exact and fast for the radii the body finder
uses (a few voxels to about twenty).

``scipy.ndimage.binary_dilation`` with a ball structure visits every offset of the ball
at every voxel (0.15 s on a 121-cube grid at 6 voxels, over a second where the mask is
sparse), and a distance transform computes far distances nobody asks for (0.2-0.5 s).
Within a radius of k voxels the squared distance to the mask is the minimum of
dz^2 + dy^2 + dx^2 over offsets of at most k on each axis, and that minimum separates
into three passes of 2k shifted minima (Meijster, Roerdink & Hesselink's separable
distance transform, bounded): 10-50 times faster here, and the same voxels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]


def dilated_by_ball(mask: BoolArray, radius: float) -> BoolArray:
    """Voxels whose centre lies within ``radius`` (voxels) of a voxel of ``mask``.

    The same as ``scipy.ndimage.binary_dilation`` with the structure of integer offsets
    of norm at most ``radius``; nothing lies beyond the array.
    """
    k = int(np.floor(radius))
    if k <= 0:
        return np.array(mask, dtype=np.bool_)
    none = 3 * k * k + 1  # farther than any offset in the box: no mask voxel in reach
    dtype = np.uint8 if none + k * k <= np.iinfo(np.uint8).max else np.uint32
    squared: npt.NDArray[np.unsignedinteger] = np.where(mask, 0, none).astype(dtype)
    for axis in range(mask.ndim):
        squared = _min_shifted(squared, axis, k)
    return np.asarray(squared <= radius * radius, dtype=np.bool_)


def eroded_by_ball(mask: BoolArray, radius: float) -> BoolArray:
    """Voxels whose ball of ``radius`` (voxels) lies in ``mask``; beyond the array counts
    as inside (``binary_erosion(..., border_value=1)``)."""
    return ~dilated_by_ball(~np.asarray(mask, dtype=np.bool_), radius)


def _min_shifted(squared: npt.NDArray[np.unsignedinteger], axis: int, k: int
                 ) -> npt.NDArray[np.unsignedinteger]:
    """Per voxel, the least ``squared`` value within k voxels along ``axis`` plus the
    square of that offset."""
    out = squared.copy()
    n = squared.shape[axis]
    for step in range(1, min(k, n - 1) + 1):
        near = [slice(None)] * squared.ndim
        far = [slice(None)] * squared.ndim
        near[axis], far[axis] = slice(0, n - step), slice(step, n)
        cost = squared.dtype.type(step * step)
        np.minimum(out[tuple(near)], squared[tuple(far)] + cost, out=out[tuple(near)])
        np.minimum(out[tuple(far)], squared[tuple(near)] + cost, out=out[tuple(far)])
    return out
