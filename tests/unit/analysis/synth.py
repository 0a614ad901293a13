"""A small synthetic lumbar segment for unit tests, with its exact body masks.

Three vertebral bodies (elliptic cylinders with a thin cortical shell, endplates and
textured marrow) stacked along z with discs between them, pedicles and a neural arch
around the canal, soft tissue and fat, then partial volume (2x supersampling), blur and
seeded noise. Answers are known by construction: ``bodies[i]`` is the centre-inside mask
of body ``i`` (cranial first, on the returned grid).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage

SPACING = (0.8, 0.7, 0.7)      # slice, row, column (mm)
SHAPE = (110, 150, 150)
FOV_MM = tuple(n * d for n, d in zip(SHAPE, SPACING, strict=True))
A, B = 21.0, 16.0              # body half width (x) and half depth (y), mm
HEIGHT, DISC = 24.0, 8.0       # body height and disc height, mm
SHELL = 1.0
MARROW_HU, CORTEX_HU, DISC_HU, SOFT_HU, FAT_HU = 130.0, 650.0, 90.0, 45.0, -90.0
CEMENT_HU = 2800.0


@dataclass
class Segment:
    """The image (HU), its affine and the exact masks of the three bodies and the cement."""

    hu: npt.NDArray[np.int16]
    affine: npt.NDArray[np.float64]
    bodies: list[npt.NDArray[np.bool_]]
    cement: npt.NDArray[np.bool_]
    extras: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)


def shape_for(spacing: tuple[float, float, float] = SPACING) -> tuple[int, int, int]:
    """The grid that covers the segment's field of view at ``spacing``."""
    n = [round(f / d) for f, d in zip(FOV_MM, spacing, strict=True)]
    return (n[0], n[1], n[2])


def affine(spacing: tuple[float, float, float] = SPACING) -> npt.NDArray[np.float64]:
    """Head-first axial: slice index toward +z, rows toward +y (P), columns toward +x (L)."""
    dz, dy, dx = spacing
    shape = shape_for(spacing)
    out = np.eye(4)
    out[:3, :3] = [[0, 0, dx], [0, dy, 0], [dz, 0, 0]]
    out[:3, 3] = [-shape[2] * dx / 2, -shape[1] * dy / 2 - 10.0, -shape[0] * dz / 2]
    return out


def _coords(factor: int, spacing: tuple[float, float, float] = SPACING, tilt_deg: float = 0.0
            ) -> tuple[npt.NDArray[np.float32], ...]:
    """x, y, z of a grid supersampled ``factor`` times (sub-voxel centres), in the
    segment's own frame: the patient's turned by ``tilt_deg`` about x, so that the
    spine's top leans toward anterior."""
    aff = affine(spacing)
    axes = []
    for n in shape_for(spacing):
        sub = (np.arange(n * factor, dtype=np.float32) + 0.5) / factor - 0.5
        axes.append(sub)
    k, r, c = np.meshgrid(*axes, indexing="ij", sparse=True)
    x = aff[0, 3] + c * aff[0, 2]
    y = aff[1, 3] + r * aff[1, 1]
    z = aff[2, 3] + k * aff[2, 0]
    cos, sin = np.cos(np.radians(tilt_deg)), np.sin(np.radians(tilt_deg))
    y, z = cos * y + sin * z, cos * z - sin * y
    return x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)


def body_centres_z(disc_mm: float = DISC) -> list[float]:
    """z of the centres of the three bodies, cranial first."""
    step = HEIGHT + disc_mm
    return [step, 0.0, -step]


def _shapes(x: npt.NDArray[np.float32], y: npt.NDArray[np.float32],
            z: npt.NDArray[np.float32], cement_parts: list[tuple[tuple[float, ...], ...]],
            bone_hu: tuple[float, float] = (MARROW_HU, CORTEX_HU),
            disc: tuple[float, float] = (DISC, DISC_HU)
            ) -> tuple[npt.NDArray[np.float32], list[npt.NDArray[np.bool_]], npt.NDArray[np.bool_]]:
    """HU on the (possibly supersampled) grid, the body masks and the cement mask."""
    rho = np.sqrt((x / A) ** 2 + (y / B) ** 2)
    hu = np.where(np.sqrt(x ** 2 + (y / 0.8) ** 2) < 120, SOFT_HU, FAT_HU).astype(np.float32)
    hu = np.broadcast_to(hu, np.broadcast_shapes(x.shape, y.shape, z.shape)).copy()
    bodies = []
    inner_rho = 1.0 - SHELL / B
    disc_mm, disc_hu = disc
    for zc in body_centres_z(disc_mm):
        dz = np.abs(z - zc)
        body = (rho <= 1.0) & (dz <= HEIGHT / 2)
        bodies.append(body)
        marrow = (rho <= inner_rho) & (dz <= HEIGHT / 2 - SHELL)
        hu[body] = bone_hu[1]
        hu[marrow & body] = bone_hu[0]
        in_disc = (rho <= 1.0) & (np.abs(z - zc - (HEIGHT + disc_mm) / 2) < disc_mm / 2)
        hu[in_disc] = disc_hu
        # Pedicles (upper two thirds of the body) and the arch around the canal.
        ped_z = (z > zc - HEIGHT / 6) & (z < zc + HEIGHT / 2 - 2)
        for side in (-1, 1):
            ped = ((x - side * 11.0) ** 2 / 16.0 + (z - zc - 4.0) ** 2 / 36.0 <= 1.0)
            ped = ped & (y > B - 3) & (y < B + 16) & ped_z
            hu[ped & ~body] = 350.0
        canal_r = np.sqrt(x ** 2 + (y - B - 10.0) ** 2)
        arch = (canal_r > 8.0) & (canal_r < 11.5) & (y > B + 4) & ped_z
        hu[arch] = 450.0
        hu[(canal_r <= 8.0) & (np.abs(z - zc) < HEIGHT / 2 + disc_mm / 2)] = 10.0
    cement = np.zeros(hu.shape, dtype=bool)
    for centre, semi in cement_parts:
        e = sum(((g - c) / s) ** 2 for g, c, s in zip((x, y, z), centre, semi, strict=True))
        cement |= np.broadcast_to(e <= 1.0, hu.shape)
    hu[cement] = CEMENT_HU
    return hu, bodies, cement


def make_segment(*, seed: int = 0, cement: list[tuple[tuple[float, ...], ...]] | None = None,
                 extra_hu: list[tuple[npt.NDArray[np.bool_], float]] | None = None,
                 noise_hu: float = 15.0, spacing: tuple[float, float, float] = SPACING,
                 bone_hu: tuple[float, float] = (MARROW_HU, CORTEX_HU),
                 disc: tuple[float, float] = (DISC, DISC_HU), tilt_deg: float = 0.0
                 ) -> Segment:
    """The segment with cement ellipsoids ``((x, y, z), (sx, sy, sz))`` in its own mm,
    sampled at ``spacing`` (slice, row, column; mm), its marrow and cortex ``bone_hu``,
    its discs' height (mm) and HU ``disc``, and the spine turned ``tilt_deg`` about the
    patient's left axis (see ``_coords``)."""
    parts = cement if cement is not None else [((2.0, -2.0, 0.0), (10.0, 7.0, 6.0))]
    shape = shape_for(spacing)
    fine, _, _ = _shapes(*_coords(2, spacing, tilt_deg), parts, bone_hu, disc)
    hu = fine.reshape(shape[0], 2, shape[1], 2, shape[2], 2).mean(axis=(1, 3, 5))
    _, bodies, cem = _shapes(*_coords(1, spacing, tilt_deg), parts, bone_hu, disc)
    for mask, value in extra_hu or []:
        hu[mask] = value
    hu = ndimage.gaussian_filter(hu, sigma=(0.5, 0.6, 0.6))
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.normal(0, 1, shape), 0.8)
    hu = hu + noise * (noise_hu / max(float(noise.std()), 1e-6))
    hu = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return Segment(hu=hu, affine=affine(spacing), bodies=bodies, cement=cem)


def ellipsoid_mask(centre: tuple[float, float, float], semi: tuple[float, float, float]
                   ) -> npt.NDArray[np.bool_]:
    """Voxels of the grid whose centre lies in an ellipsoid (patient mm)."""
    x, y, z = _coords(1)
    e = sum(((g - c) / s) ** 2 for g, c, s in zip((x, y, z), centre, semi, strict=True))
    return np.asarray(np.broadcast_to(e <= 1.0, SHAPE), dtype=bool)


def truth_vf(seg: Segment, body: int = 1) -> float:
    """VF% of body ``body`` (cranial first) from the exact masks."""
    mask = seg.bodies[body]
    return 100.0 * np.count_nonzero(mask & seg.cement) / np.count_nonzero(mask)


def dice(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float(2 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1))
