"""The CT grid of a phantom and the finer grid it is rendered on.

Rendering uses ``fine`` (odd) sub-slices per CT slice; the CT slice is their mean (a box
slice-sensitivity profile) and the ground-truth masks are read on the central sub-slice,
which lies exactly on the CT voxel centre.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.phantom._shapes import F32

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Grid:
    """CT grid: ``affine`` maps (slice, row, column, 1) to patient LPS mm.

    Attributes
    ----------
    shape : (slices, rows, columns)
    affine : (4, 4) float64
    fine : int
        Odd number of render sub-slices per CT slice.
    """

    shape: tuple[int, int, int]
    affine: F64
    fine: int

    def __post_init__(self) -> None:
        if self.fine < 1 or self.fine % 2 == 0:
            raise ValueError(f'"fine" must be an odd integer >= 1. Found {self.fine}.')

    @property
    def pixel_mm(self) -> float:
        return float(np.linalg.norm(self.affine[:3, 2]))

    @property
    def slice_mm(self) -> float:
        return float(np.linalg.norm(self.affine[:3, 0]))

    @property
    def fine_shape(self) -> tuple[int, int, int]:
        return (self.shape[0] * self.fine, self.shape[1], self.shape[2])

    @property
    def fine_affine(self) -> F64:
        """Affine of the render grid: sub-slice ``j`` of CT slice ``i`` is ``i*fine + j``."""
        out = self.affine.copy()
        out[:3, 0] = self.affine[:3, 0] / self.fine
        out[:3, 3] = self.affine[:3, 3] - (self.fine - 1) / 2 * out[:3, 0]
        return out

    @property
    def fine_slice_mm(self) -> float:
        return self.slice_mm / self.fine

    @property
    def center_offset(self) -> int:
        """Index of the central sub-slice within each CT slice."""
        return (self.fine - 1) // 2

    def sigma_mm(self, psf_mm: float) -> float:
        """Edge blur of the render grid: the voxel box (as a Gaussian) and the scanner PSF."""
        edge = max(self.pixel_mm, self.fine_slice_mm)
        return float(np.sqrt(edge * edge / 12.0 + psf_mm * psf_mm))


@dataclass(frozen=True, slots=True)
class Box:
    """Index ranges ``[lo, hi)`` on the render grid along (slice, row, column)."""

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]

    @property
    def empty(self) -> bool:
        return any(h <= lo for lo, h in zip(self.lo, self.hi, strict=True))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return (slice(self.lo[0], self.hi[0]), slice(self.lo[1], self.hi[1]),
                slice(self.lo[2], self.hi[2]))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.hi[0] - self.lo[0], self.hi[1] - self.lo[1], self.hi[2] - self.lo[2])


def box_around(grid: Grid, corners_mm: F64) -> Box:
    """Smallest render-grid box holding the points ``corners_mm`` (N, 3), clipped to the grid."""
    inverse = np.linalg.inv(grid.fine_affine)
    idx = corners_mm @ inverse[:3, :3].T + inverse[:3, 3]
    lo = np.floor(idx.min(axis=0)).astype(int) - 1
    hi = np.ceil(idx.max(axis=0)).astype(int) + 2
    limits = grid.fine_shape
    lo_c = tuple(int(max(0, v)) for v in lo)
    hi_c = tuple(int(min(n, v)) for n, v in zip(limits, hi, strict=True))
    return Box(lo=(lo_c[0], lo_c[1], lo_c[2]), hi=(hi_c[0], hi_c[1], hi_c[2]))


def local_box_corners(center: F64, rotation: F64, lo: F64, hi: F64) -> F64:
    """Patient coordinates of the 8 corners of a box given in a local frame."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])], dtype=np.float64)
    return np.asarray(corners @ rotation.T + center, dtype=np.float64)


def slabs(box: Box, max_points: int = 1_500_000) -> Iterator[Box]:
    """Split ``box`` along the slice axis into parts of at most ``max_points`` voxels."""
    per_slice = max(1, box.shape[1] * box.shape[2])
    step = max(1, max_points // per_slice)
    for start in range(box.lo[0], box.hi[0], step):
        stop = min(box.hi[0], start + step)
        yield Box(lo=(start, box.lo[1], box.lo[2]), hi=(stop, box.hi[1], box.hi[2]))


def local_coords(grid: Grid, box: Box, center: F64, rotation: F64
                 ) -> tuple[F32, F32, F32]:
    """Coordinates (mm) of the render-grid voxel centres of ``box`` in a local frame.

    ``rotation`` holds the local x, y, z axes as columns (patient LPS); the local point is
    ``rotation.T @ (p - center)``.
    """
    affine = grid.fine_affine
    # Local coordinates are affine in the indices: q = M @ idx + t.
    m = rotation.T @ affine[:3, :3]
    t = rotation.T @ (affine[:3, 3] - center)
    j = np.arange(box.lo[0], box.hi[0], dtype=np.float32)[:, None, None]
    r = np.arange(box.lo[1], box.hi[1], dtype=np.float32)[None, :, None]
    c = np.arange(box.lo[2], box.hi[2], dtype=np.float32)[None, None, :]
    out = []
    for axis in range(3):
        a, b, cc = (np.float32(v) for v in m[axis])
        out.append(np.asarray(j * a + r * b + c * cc + np.float32(t[axis]), dtype=np.float32))
    return (out[0], out[1], out[2])


def full(q: tuple[F32, F32, F32]) -> tuple[F32, F32, F32]:
    """Broadcast the three coordinate arrays to the full box shape."""
    shape = np.broadcast_shapes(q[0].shape, q[1].shape, q[2].shape)
    return (np.broadcast_to(q[0], shape), np.broadcast_to(q[1], shape),
            np.broadcast_to(q[2], shape))


def intersect(a: Box, b: Box) -> Box:
    """The common part of two boxes (may be empty)."""
    lo = tuple(max(x, y) for x, y in zip(a.lo, b.lo, strict=True))
    hi = tuple(min(x, y) for x, y in zip(a.hi, b.hi, strict=True))
    return Box(lo=(lo[0], lo[1], lo[2]), hi=(hi[0], hi[1], hi[2]))


def within(inner: Box, outer: Box) -> tuple[slice, slice, slice]:
    """Slices selecting ``inner`` inside an array covering ``outer``."""
    return (slice(inner.lo[0] - outer.lo[0], inner.hi[0] - outer.lo[0]),
            slice(inner.lo[1] - outer.lo[1], inner.hi[1] - outer.lo[1]),
            slice(inner.lo[2] - outer.lo[2], inner.hi[2] - outer.lo[2]))
