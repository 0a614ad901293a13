"""Thoracolumbar vertebrae as implicit shapes in each vertebra's own frame.

Local frame of a vertebra (mm): origin at the middle of its body, x toward the patient's
left, y posterior, z cranial (LPS-like). The vertebral body is a kidney-shaped prism
(posterior wall concave) with a waist, concave endplates and, when fractured, an anterior
wedge; the posterior elements (pedicles, laminae, spinous, transverse and articular
processes) are a smooth union of capsules joined to the body through the pedicles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from node.phantom._shapes import B8, F32, Vec3, capsule, smooth_min
from node.phantom.geometry import F64

LEVELS = ("T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5")

# Adult sizes (mm), after Panjabi et al.: body width, depth, posterior height, disc height
# below; pedicle width, height, length, medial convergence (deg); canal half-width and
# half-depth; transverse process length and backward angle (deg); spinous length and
# downward angle (deg).
_DIMS: dict[str, tuple[float, ...]] = {
    "T6": (30, 26, 19.0, 4.5, 4.5, 10, 10, 8, 8.0, 8.0, 22, 40, 38, 55),
    "T7": (31, 27, 19.5, 4.5, 4.8, 10.5, 10, 7, 8.0, 8.0, 22, 40, 38, 55),
    "T8": (33, 28, 20.0, 5.0, 5.0, 11, 11, 6, 8.0, 8.0, 22, 38, 37, 55),
    "T9": (35, 29, 21.0, 5.0, 5.5, 12, 11, 5, 8.0, 8.0, 21, 36, 35, 50),
    "T10": (37, 30, 22.0, 5.5, 6.0, 14, 12, 5, 8.5, 8.0, 20, 33, 33, 45),
    "T11": (39, 31, 23.0, 6.0, 7.0, 16, 13, 3, 9.0, 8.0, 16, 28, 31, 35),
    "T12": (42, 32, 24.0, 7.0, 7.5, 15, 13, 5, 10.0, 8.5, 14, 20, 30, 25),
    "L1": (43, 33, 25.0, 8.0, 8.0, 15, 13, 10, 11.0, 8.5, 17, 10, 30, 15),
    "L2": (45, 34, 26.0, 9.0, 8.5, 15, 13, 12, 11.5, 8.5, 22, 8, 30, 12),
    "L3": (47, 35, 26.5, 9.5, 10.0, 15, 12, 15, 12.0, 8.5, 27, 5, 30, 10),
    "L4": (49, 35, 26.5, 10.0, 12.0, 14, 12, 18, 12.5, 8.5, 25, 5, 28, 10),
    "L5": (51, 35, 26.0, 10.0, 15.0, 14, 11, 25, 13.0, 8.0, 22, 5, 26, 5),
}


def is_thoracic(level: str) -> bool:
    return level.startswith("T")


@dataclass(frozen=True, slots=True)
class Body:
    """Shape of a vertebral body (mm, local frame)."""

    a: float                 # half width (x)
    b: float                 # half depth (y)
    h_post: float            # posterior height
    wedge: float             # anterior height loss as a fraction of h_post (0 = intact)
    central_dip: float       # extra depression of the upper endplate centre (mm)
    concave_top: float       # endplate concavity (mm)
    concave_bottom: float
    posterior_concavity: float   # fraction of b the posterior wall recedes at the midline
    waist: float             # fraction the wall recedes at mid-height
    harmonics: tuple[tuple[int, float, float], ...]  # (order, amplitude fraction, phase)
    shell_mm: float          # mean cortical wall thickness
    endplate_mm: float

    def radius(self, theta: F32, qz: F32) -> F32:
        """Outer radius of the cross-section at angle ``theta`` (0 = +x, pi/2 = posterior)."""
        c, s = np.cos(theta), np.sin(theta)
        ellipse = np.float32(self.a * self.b) / np.sqrt(
            (np.float32(self.b) * c) ** 2 + (np.float32(self.a) * s) ** 2)
        back = np.clip(s, 0.0, None) ** 6  # concave posterior wall around the midline
        r = ellipse * (np.float32(1.0) - np.float32(self.posterior_concavity) * back)
        for order, amp, phase in self.harmonics:
            r = r * (np.float32(1.0) + np.float32(amp) * np.cos(order * theta + np.float32(phase)))
        zeta = np.clip(qz / np.float32(self.h_post / 2), -1.0, 1.0)
        return np.asarray(r * (np.float32(1.0) - np.float32(self.waist) * (1 - zeta * zeta)),
                          dtype=np.float32)

    def endplates(self, qy: F32, rho_n: F32) -> tuple[F32, F32]:
        """Heights (local z) of the lower and upper endplate surfaces."""
        dish = np.float32(1.0) - np.clip(rho_n, 0.0, 1.0) ** 2
        bottom = np.float32(-self.h_post / 2) + np.float32(self.concave_bottom) * dish
        # Wedge: the upper endplate sinks toward the front (y = -b).
        front = np.clip((np.float32(self.b) - qy) / np.float32(2 * self.b), 0.0, 1.0)
        top = (np.float32(self.h_post / 2) - np.float32(self.wedge * self.h_post) * front
               - np.float32(self.concave_top) * dish - np.float32(self.central_dip) * dish ** 2)
        return bottom, top

    def sdf_parts(self, q: tuple[F32, F32, F32]) -> tuple[F32, F32, F32, F32]:
        """Signed distances to the side wall, the upper and the lower endplate; and rho/R."""
        rho = np.sqrt(q[0] * q[0] + q[1] * q[1])
        radius = self.radius(np.arctan2(q[1], q[0]), q[2])
        rho_n = rho / radius
        bottom, top = self.endplates(q[1], rho_n)
        return rho - radius, q[2] - top, bottom - q[2], rho_n

    @property
    def extent(self) -> tuple[float, float, float]:
        return (self.a * 1.15, self.b * 1.15, self.h_post / 2 + 1.0)


@dataclass(frozen=True, slots=True)
class Posterior:
    """Posterior elements: capsules (start, end, radius, z stretch), the canal and pedicles."""

    pedicles: tuple[tuple[Vec3, Vec3, float, float], ...]
    others: tuple[tuple[Vec3, Vec3, float, float], ...]
    canal_center: tuple[float, float]   # (x, y) of the canal ellipse
    canal_semi: tuple[float, float]
    shell_mm: float

    def pedicle_sdf(self, q: tuple[F32, F32, F32]) -> F32:
        out: F32 | None = None
        for a, b, r, zs in self.pedicles:
            d = capsule(q, a, b, r, zs)
            out = d if out is None else np.minimum(out, d)
        assert out is not None
        return out

    def sdf(self, q: tuple[F32, F32, F32]) -> tuple[F32, F32]:
        """Signed distance to all posterior elements, and to the pedicles alone."""
        ped = self.pedicle_sdf(q)
        out = ped
        for a, b, r, zs in self.others:
            out = smooth_min(out, capsule(q, a, b, r, zs), 2.0)
        return out, ped

    def in_canal(self, q: tuple[F32, F32, F32]) -> B8:
        u = (q[0] - np.float32(self.canal_center[0])) / np.float32(self.canal_semi[0])
        v = (q[1] - np.float32(self.canal_center[1])) / np.float32(self.canal_semi[1])
        return np.asarray(u * u + v * v < 1.0, dtype=bool)

    def bounds(self) -> tuple[F64, F64]:
        pts = [p for cap in self.pedicles + self.others for p in cap[:2]]
        arr = np.array(pts, dtype=np.float64)
        margin = max(cap[2] * max(cap[3], 1.0) for cap in self.pedicles + self.others) + 2
        return arr.min(axis=0) - margin, arr.max(axis=0) + margin



@dataclass(frozen=True, slots=True)
class Vertebra:
    """One vertebra placed in the patient: frame, body and posterior elements."""

    name: str
    center: F64              # patient LPS, mm
    rotation: F64            # columns: local x, y, z in patient LPS
    body: Body
    posterior: Posterior
    trabecular_hu: float
    cortical_hu: float

    def bounds(self) -> tuple[F64, F64]:
        """Local-frame box holding the whole vertebra."""
        ext = np.array(self.body.extent)
        plo, phi = self.posterior.bounds()
        return np.minimum(-ext, plo), np.maximum(ext, phi)

    def body_bounds(self) -> tuple[F64, F64]:
        ext = np.array(self.body.extent)
        return -ext, ext

    def to_local(self, points: F64) -> F64:
        return np.asarray((points - self.center) @ self.rotation, dtype=np.float64)

    def to_patient(self, local: F64) -> F64:
        return np.asarray(local @ self.rotation.T + self.center, dtype=np.float64)

    def pedicle_axis(self, side: int) -> tuple[F64, F64]:
        """(entry point behind the pedicle, unit direction into the body) for side -1/+1."""
        a, b, _, _ = self.posterior.pedicles[0 if side < 0 else 1]
        front, back = np.array(a), np.array(b)
        direction = (front - back) / np.linalg.norm(front - back)
        return back, direction
