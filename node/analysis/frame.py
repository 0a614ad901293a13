"""The vertebral body's own frame (spec: "Body frame")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class BodyFrame:
    """Origin and unit axes of one vertebral body, patient LPS, mm.

    ``superior`` is the body's principal axis closest to patient +z, ``left`` is patient
    +x made orthogonal to it and ``posterior`` completes the right-handed frame.
    """

    origin: npt.NDArray[np.float64]
    superior: npt.NDArray[np.float64]
    left: npt.NDArray[np.float64]
    posterior: npt.NDArray[np.float64]

    def coordinates(self, points_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Points (N, 3) in LPS mm to (N, 3) frame coordinates (left, posterior, superior)."""
        rel = points_mm - self.origin
        axes = np.stack([self.left, self.posterior, self.superior], axis=1)
        return np.asarray(rel @ axes, dtype=np.float64)

    @property
    def tilt_deg(self) -> tuple[float, float]:
        """Lean of the superior axis from patient +z toward left (x) and posterior (y),
        degrees."""
        s = self.superior
        return (float(np.degrees(np.arctan2(s[0], s[2]))),
                float(np.degrees(np.arctan2(s[1], s[2]))))

    def spacing_along(self, affine: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Sampling step (mm) of the voxel grid along left, posterior and superior.

        The largest projected voxel edge on each axis, so that a projection onto that
        axis at this step leaves no holes.
        """
        edges = affine[:3, :3]
        axes = np.stack([self.left, self.posterior, self.superior], axis=1)
        return np.asarray(np.abs(edges.T @ axes).max(axis=0), dtype=np.float64)


def voxel_centers_mm(
    mask: npt.NDArray[np.bool_], affine: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Centres of the voxels of ``mask`` (array index order) in patient LPS, mm."""
    idx = np.argwhere(mask).astype(np.float64)
    return np.asarray(idx @ affine[:3, :3].T + affine[:3, 3], dtype=np.float64)


def body_frame(
    body_mask: npt.NDArray[np.bool_], affine: npt.NDArray[np.float64]
) -> BodyFrame:
    """Frame of the vertebral body in ``body_mask``.

    Parameters
    ----------
    body_mask : (slices, rows, columns) bool
        Voxels of one vertebral body.
    affine : (4, 4) float
        Maps (slice, row, column, 1) indices to patient LPS, mm.
    """
    points = voxel_centers_mm(body_mask, affine)
    if len(points) < 4:
        raise ValueError(f"A body frame needs at least 4 voxels. Found {len(points)}.")
    origin = points.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov((points - origin).T))
    superior = vectors[:, int(np.argmax(np.abs(vectors[2, :])))]
    superior = superior if superior[2] >= 0 else -superior
    left = np.array([1.0, 0.0, 0.0]) - superior[0] * superior
    left /= np.linalg.norm(left)
    posterior = np.cross(superior, left)
    return BodyFrame(origin=origin, superior=superior, left=left, posterior=posterior)
