"""Cement (and metal) as implicit shapes in the treated vertebra's frame.

Cement inside a body is ``phi > tau`` inside the trabecular space, where ``phi`` is a sum
of Gaussian blobs placed along random walks from the needle tips plus smooth random
fields (irregular, interdigitating borders); ``tau`` is chosen on the grid so that the
body holds the sampled volume fraction. Extravertebral cement is a union of shapes, each
clipped to the region its site means in the spec (disc space inside the endplate
footprint, spinal canal, pedicle, or outside all of these: paravertebral).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from node.analysis.types import LEAK_SITE_CODES, LeakSite
from node.phantom._shapes import F32, FourierField, Vec3, capsule, ellipsoid
from node.phantom.anatomy import Vertebra
from node.phantom.geometry import F64


@dataclass(frozen=True, slots=True)
class Part:
    """One ellipsoid (``b`` is None: ``a`` centre, ``semi`` semi-axes) or capsule a-b radius r."""

    a: Vec3
    b: Vec3 | None = None
    radius: float = 0.0
    semi: Vec3 = (0.0, 0.0, 0.0)

    def sdf(self, q: tuple[F32, F32, F32]) -> F32:
        if self.b is None:
            return ellipsoid(q, self.a, self.semi)
        return capsule(q, self.a, self.b, self.radius)

    def bounds(self) -> tuple[F64, F64]:
        if self.b is None:
            c, s = np.array(self.a), np.array(self.semi)
            return c - s - 1.0, c + s + 1.0
        pts = np.array([self.a, self.b])
        return pts.min(axis=0) - self.radius - 1.0, pts.max(axis=0) + self.radius + 1.0


@dataclass(frozen=True, slots=True)
class Leak:
    """Extravertebral cement of one site, in the treated vertebra's frame."""

    site: LeakSite
    parts: tuple[Part, ...]
    roughness_mm: float
    texture: FourierField

    @property
    def code(self) -> int:
        return LEAK_SITE_CODES[self.site]

    def sdf(self, q: tuple[F32, F32, F32]) -> F32:
        out = self.parts[0].sdf(q)
        for part in self.parts[1:]:
            out = np.minimum(out, part.sdf(q))
        return out + np.float32(self.roughness_mm) * self.texture(q)

    def bounds(self) -> tuple[F64, F64]:
        los, his = zip(*(p.bounds() for p in self.parts), strict=True)
        pad = 2 * self.roughness_mm
        return np.min(los, axis=0) - pad, np.max(his, axis=0) + pad


@dataclass(frozen=True, slots=True)
class CementPlan:
    """Cement of one treated vertebra (index into the spine list)."""

    vertebra: int
    vf_target: float                          # fraction of the body volume, 0..1
    blobs: tuple[tuple[Vec3, float, float], ...]   # (centre, sigma mm, weight)
    tract_inside: tuple[Part, ...]            # needle tracks within the body
    coarse: FourierField
    fine: FourierField
    leaks: tuple[Leak, ...] = field(default_factory=tuple)
    hu: float = 2800.0

    def phi(self, q: tuple[F32, F32, F32]) -> F32:
        """The growth field: high near the injection points, irregular elsewhere."""
        out = np.float32(0.35) * self.coarse(q) + np.float32(0.15) * self.fine(q)
        for (cx, cy, cz), sigma, weight in self.blobs:
            dx, dy, dz = q[0] - np.float32(cx), q[1] - np.float32(cy), q[2] - np.float32(cz)
            out += np.float32(weight) * np.exp((dx * dx + dy * dy + dz * dz)
                                               * np.float32(-0.5 / sigma ** 2))
        for part in self.tract_inside:
            out += np.float32(2.0) * (part.sdf(q) < 0)
        return out


def needle_tips(rng: np.random.Generator, v: Vertebra, bipedicular: bool
                ) -> list[tuple[F64, F64, F64]]:
    """(entry, direction, tip) of each needle in the vertebra's frame."""
    sides = [-1, 1] if bipedicular else [int(rng.choice([-1, 1]))]
    out = []
    for side in sides:
        entry, direction = v.pedicle_axis(side)
        if not bipedicular:
            # One needle aims at the midline: angle it more medially.
            direction = direction + np.array([-side * 0.18, 0.0, 0.0])
            direction /= np.linalg.norm(direction)
        depth = np.linalg.norm(entry[:2]) + v.body.b * rng.uniform(0.1, 0.55)
        tip = entry + direction * depth
        tip[2] = np.clip(tip[2] + rng.normal(0, 2), -v.body.h_post / 4, v.body.h_post / 4)
        out.append((entry, direction, tip))
    return out


def random_walk_blobs(rng: np.random.Generator, v: Vertebra, tips: list[F64]
                      ) -> tuple[tuple[Vec3, float, float], ...]:
    """Blobs along random walks from each tip, kept inside the body."""
    blobs: list[tuple[Vec3, float, float]] = []
    limit = np.array([v.body.a * 0.8, v.body.b * 0.8, v.body.h_post * 0.35])
    for tip in tips:
        pos = tip.copy()
        for _ in range(int(rng.integers(4, 10))):
            blobs.append(((float(pos[0]), float(pos[1]), float(pos[2])),
                          float(rng.uniform(3.5, 8.0)), float(rng.uniform(0.6, 1.4))))
            step = rng.normal(0, 1, 3) * np.array([6.0, 5.0, 4.0])
            pos = np.clip(pos + step, -limit, limit)
    return tuple(blobs)


def screw_parts(rng: np.random.Generator, v: Vertebra) -> list[Part]:
    """A pedicle screw pair (shafts and tulip heads), in the vertebra's frame."""
    parts = []
    for side in (-1, 1):
        entry, direction = v.pedicle_axis(side)
        start = entry - direction * 6.0
        depth = np.linalg.norm(entry[:2]) + v.body.b * rng.uniform(0.2, 0.6)
        tip = entry + direction * depth
        radius = float(rng.uniform(2.75, 3.5))
        parts.append(Part(a=tuple(start), b=tuple(tip), radius=radius))
        head = start - direction * 12.0
        parts.append(Part(a=tuple(start), b=tuple(head), radius=5.5))
    return parts
