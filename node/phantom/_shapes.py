"""Small geometric helpers of the phantom: signed distances, occupancy, random fields.

Every signed distance is negative inside, in mm. Occupancy turns a signed distance into
the fraction of a voxel covered by the object (partial volume): the object's indicator
convolved with a Gaussian of standard deviation ``sigma`` (voxel box + scanner blur),
which is exact for a plane and close for surfaces curved on a scale above ``sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

# Arrays of the render (float32 by convention; typed loosely because numpy's dtype
# promotion rules are not tracked precisely by mypy).
F32 = npt.NDArray[Any]
B8 = npt.NDArray[np.bool_]
Vec3 = tuple[float, float, float]


def occupancy(d: F32, sigma: float) -> F32:
    """Fraction of a voxel inside the object at signed distance ``d`` (mm).

    A cubic smoothstep with the slope of the Gaussian edge at the surface (a tenth of the
    cost of ``erfc``, and exact 0 and 1 beyond about 1.9 sigma).
    """
    width = np.float32(1.5 * np.sqrt(2 * np.pi) * max(sigma, 1e-3))
    t = np.float32(0.5) - d / width
    np.clip(t, 0.0, 1.0, out=t)
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)


def smooth_min(a: F32, b: F32, k: float) -> F32:
    """Union of two signed distances with a fillet of about ``k`` mm (polynomial smin)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(np.float32(k) - np.abs(a - b), 0.0, None) / np.float32(k)
    return np.minimum(a, b) - h * h * np.float32(k / 4.0)


def capsule(q: tuple[F32, F32, F32], a: Vec3, b: Vec3, radius: float,
            z_scale: float = 1.0) -> F32:
    """Signed distance to a capsule (segment ``a``-``b`` swept by a sphere).

    ``z_scale`` > 1 stretches the cross-section along z (a tall, flat plate such as a
    lamina): distances are taken with z divided by ``z_scale``.
    """
    ax, ay, az = a
    bx, by, bz = b
    s = np.float32(1.0 / z_scale)
    px, py, pz = q[0] - np.float32(ax), q[1] - np.float32(ay), (q[2] - np.float32(az)) * s
    dx, dy, dz = bx - ax, by - ay, (bz - az) / z_scale
    length2 = dx * dx + dy * dy + dz * dz
    t = (px * np.float32(dx) + py * np.float32(dy) + pz * np.float32(dz)) / np.float32(
        max(length2, 1e-9))
    np.clip(t, 0.0, 1.0, out=t)
    ex = px - t * np.float32(dx)
    ey = py - t * np.float32(dy)
    ez = pz - t * np.float32(dz)
    return np.sqrt(ex * ex + ey * ey + ez * ez) - np.float32(radius)


def ellipsoid(q: tuple[F32, F32, F32], center: Vec3, semi: Vec3) -> F32:
    """Approximate signed distance to an axis-aligned ellipsoid (scaled by its smallest axis)."""
    u = (q[0] - np.float32(center[0])) / np.float32(semi[0])
    v = (q[1] - np.float32(center[1])) / np.float32(semi[1])
    w = (q[2] - np.float32(center[2])) / np.float32(semi[2])
    return (np.sqrt(u * u + v * v + w * w) - np.float32(1.0)) * np.float32(min(semi))


@dataclass(frozen=True, slots=True)
class FourierField:
    """A smooth random field: a sum of plane waves, evaluable at any point (mm).

    Grid-independent, so the same object is produced on every CT grid.
    """

    k: npt.NDArray[np.float32]       # (modes, 3) wave vectors, rad/mm
    phase: npt.NDArray[np.float32]   # (modes,)
    amplitude: npt.NDArray[np.float32]

    @classmethod
    def random(cls, rng: np.random.Generator, *, wavelength_mm: tuple[float, float],
               modes: int = 12, rms: float = 1.0) -> FourierField:
        directions = rng.normal(size=(modes, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavelengths = rng.uniform(*wavelength_mm, size=modes)
        k = directions * (2 * np.pi / wavelengths)[:, None]
        amplitude = np.full(modes, rms * np.sqrt(2.0 / modes))
        return cls(k=k.astype(np.float32), phase=rng.uniform(0, 2 * np.pi, modes).astype(
            np.float32), amplitude=amplitude.astype(np.float32))

    def __call__(self, q: tuple[F32, F32, F32]) -> F32:
        out = np.zeros(np.broadcast_shapes(q[0].shape, q[1].shape, q[2].shape),
                       dtype=np.float32)
        for (kx, ky, kz), ph, amp in zip(self.k, self.phase, self.amplitude, strict=True):
            out += amp * np.cos(q[0] * kx + q[1] * ky + q[2] * kz + ph)
        return out


def bandpass_noise(shape: tuple[int, ...], sigma_vox: tuple[float, ...],
                   rng: np.random.Generator) -> F32:
    """Unit-variance Gaussian noise smoothed by ``sigma_vox`` (a texture of that grain)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    smooth = ndimage.gaussian_filter(white, sigma_vox, mode="wrap")
    std = float(smooth.std()) or 1.0
    return np.asarray(smooth / np.float32(std), dtype=np.float32)
