"""The isotropic grid around a seed: resampling onto it and reading the CT beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.bodies import BoolArray, FloatArray
from node.analysis.flood.params import F32


@dataclass(frozen=True, slots=True)
class _Grid:
    """An isotropic LPS-aligned grid: index (k, j, i) -> (x0 + i*h, y0 + j*h, z0 + k*h)."""

    origin: FloatArray   # LPS of index (0, 0, 0)
    step: float
    shape: tuple[int, int, int]

    @property
    def affine(self) -> FloatArray:
        out = np.zeros((4, 4))
        out[0, 2] = out[1, 1] = out[2, 0] = self.step
        out[:3, 3] = self.origin
        out[3, 3] = 1.0
        return out

    def points(self, mask: BoolArray) -> FloatArray:
        idx = np.argwhere(mask).astype(np.float64)
        return np.asarray(idx[:, ::-1] * self.step + self.origin, dtype=np.float64)

    def offsets(self, origin: FloatArray, box: tuple[slice, ...] | None = None
                ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x, y and z of the grid points (of ``box``) minus ``origin``, as arrays that
        broadcast over (k, j, i): coordinates without a (N, 3) array of every point."""
        box = box or tuple(slice(0, n) for n in self.shape)
        ranges = [np.arange(b.start, b.stop, dtype=np.float64) * self.step
                  + self.origin[axis] - origin[axis]
                  for axis, b in zip((2, 1, 0), box, strict=True)]
        z, y, x = ranges
        return x[None, None, :], y[None, :, None], z[:, None, None]


@dataclass(frozen=True, slots=True)
class _Native:
    """The CT around the grid on its own voxels, for reading profiles without resampling."""

    values: F32
    to_index: FloatArray   # LPS (homogeneous) -> index into ``values``

    def sample(self, pts: FloatArray) -> FloatArray:
        idx = pts @ self.to_index[:3, :3].T + self.to_index[:3, 3]
        out = ndimage.map_coordinates(self.values, idx.reshape(-1, 3).T, order=1, cval=-1000.0)
        return np.asarray(out.reshape(pts.shape[:-1]), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class _GridView:
    """The CT and its cement around a seed, on the grid and on the CT's own voxels."""

    grid: _Grid
    data: F32
    cement: BoolArray
    native: _Native


def _grid_around(centre_mm: FloatArray, step: float, half_mm: float) -> _Grid:
    n = 2 * int(np.ceil(half_mm / step)) + 1
    origin = centre_mm - (n // 2) * step
    return _Grid(origin=origin, step=step, shape=(n, n, n))


def _native_crop(hu: npt.NDArray[np.int16], affine: FloatArray, grid: _Grid) -> _Native:
    lo, hi = _index_box(affine, grid, hu.shape)
    shift = np.eye(4)
    shift[:3, 3] = -lo
    values = hu[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    return _Native(values=values, to_index=shift @ np.linalg.inv(affine))


def _index_box(affine: FloatArray, grid: _Grid, shape: tuple[int, ...]
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The box of volume indices that holds the grid (one voxel of margin)."""
    to_vol = np.linalg.inv(affine) @ grid.affine
    corners = np.array([[a, b, c, 1.0] for a in (0, grid.shape[0] - 1)
                        for b in (0, grid.shape[1] - 1) for c in (0, grid.shape[2] - 1)])
    idx = corners @ to_vol.T
    lo = np.maximum(np.floor(idx[:, :3].min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(idx[:, :3].max(axis=0)).astype(int) + 2, shape)
    return lo, hi


def _resample(values: npt.NDArray[np.generic], affine: FloatArray, grid: _Grid, *,
              order: int, cval: float) -> F32:
    """Values of the volume at the grid points (trilinear), cropped first for speed."""
    to_vol = np.linalg.inv(affine) @ grid.affine
    lo, hi = _index_box(affine, grid, values.shape)
    if np.any(hi <= lo):
        return np.full(grid.shape, cval, dtype=np.float32)
    sub = values[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    shift = np.eye(4)
    shift[:3, 3] = -lo
    m = shift @ to_vol
    return np.asarray(ndimage.affine_transform(sub, m, output_shape=grid.shape, order=order,
                                               cval=cval), dtype=np.float32)


def _partial_volume_halo(cement: BoolArray, affine: FloatArray, grid: _Grid) -> BoolArray:
    """Grid points that a scan voxel next to the cement reaches: on a coarse scan those
    voxels are partly cement, brighter than any bone, and their edges are no walls."""
    lo, hi = _index_box(affine, grid, cement.shape)
    if np.any(hi <= lo):
        return np.zeros(grid.shape, dtype=bool)
    sub = cement[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    grown = ndimage.binary_dilation(sub, structure=np.ones((1, 3, 3), dtype=bool))
    shift = np.eye(4)
    shift[:3, 3] = -lo
    to_sub = shift @ np.linalg.inv(affine) @ grid.affine
    touched = ndimage.affine_transform(grown.astype(np.float32), to_sub, output_shape=grid.shape,
                                       order=1, cval=0.0)
    return np.asarray(touched > 0.01, dtype=bool)


def _seed_piece_ml(view: _GridView) -> float:
    """Volume of the cement piece at the grid's centre (the seed), ml; 0 when the seed's
    piece is too small to survive the resampling (never another, larger piece)."""
    labels, _ = ndimage.label(view.cement)
    label = labels[tuple(np.asarray(view.grid.shape) // 2)]
    if label == 0:
        return 0.0
    return np.count_nonzero(labels == label) * view.grid.step ** 3 / 1000.0


def _sample(image: npt.NDArray[np.generic], grid: _Grid, pts: FloatArray, order: int,
            cval: float) -> FloatArray:
    inv = np.linalg.inv(grid.affine)
    idx = pts @ inv[:3, :3].T + inv[:3, 3]
    values = ndimage.map_coordinates(image, idx.reshape(-1, 3).T, order=order, cval=cval)
    return np.asarray(values.reshape(pts.shape[:-1]), dtype=np.float64)
