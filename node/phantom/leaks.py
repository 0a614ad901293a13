"""Extravertebral cement shapes by site, in the treated vertebra's frame (mm)."""

from __future__ import annotations

import numpy as np

from node.analysis.types import LeakSite
from node.phantom._shapes import FourierField, Vec3
from node.phantom.anatomy import Vertebra
from node.phantom.cement import Leak, Part
from node.phantom.geometry import F64


def _vec(p: F64) -> Vec3:
    return (float(p[0]), float(p[1]), float(p[2]))


def _texture(rng: np.random.Generator) -> FourierField:
    return FourierField.random(rng, wavelength_mm=(3, 9), modes=8)


def _wall_point(v: Vertebra, theta: float, z: float) -> F64:
    """Point on the outer wall of the body at angle ``theta`` and height ``z``."""
    t = np.array([theta], dtype=np.float32)
    r = float(v.body.radius(t, np.array([z], dtype=np.float32))[0])
    return np.array([r * np.cos(theta), r * np.sin(theta), z])


def disc_leak(rng: np.random.Generator, v: Vertebra) -> tuple[Leak, F64]:
    """A flat cake of cement in the disc above or below; returns the breach point too."""
    up = bool(rng.uniform() < 0.65)   # the collapsed upper endplate breaks more often
    x = rng.uniform(-0.5, 0.5) * v.body.a
    y = rng.uniform(-0.6, 0.3) * v.body.b
    z_plate = v.body.h_post / 2 * (1 if up else -1)
    semi = (rng.uniform(5, 12), rng.uniform(4, 9), rng.uniform(1.5, 3.0))
    center = (x, y, z_plate + (1 if up else -1) * (semi[2] + 0.5))
    parts = [Part(a=center, semi=semi)]
    if rng.uniform() < 0.5:  # a second lobe
        parts.append(Part(a=(x + rng.normal(0, 5), y + rng.normal(0, 4), center[2]),
                          semi=(semi[0] * 0.6, semi[1] * 0.6, semi[2])))
    breach = np.array([x, y, z_plate - (1 if up else -1) * 4.0])
    return Leak(LeakSite.DISC, tuple(parts), float(rng.uniform(0.5, 1.5)), _texture(rng)), breach


def paravertebral_leak(rng: np.random.Generator, v: Vertebra) -> tuple[Leak, F64]:
    """A lump beside the anterior or lateral wall."""
    theta = float(rng.uniform(-np.pi * 0.95, -np.pi * 0.05))   # anterior half (y < 0)
    z = float(rng.uniform(-0.3, 0.3) * v.body.h_post)
    wall = _wall_point(v, theta, z)
    out = np.array([np.cos(theta), np.sin(theta), 0.0])
    semi = (rng.uniform(3, 8), rng.uniform(3, 8), rng.uniform(4, 10))
    center = wall + out * (min(semi[:2]) * 0.7)
    parts = [Part(a=_vec(center), semi=semi)]
    if rng.uniform() < 0.5:
        parts.append(Part(a=_vec(center + out * rng.uniform(3, 8) + rng.normal(0, 3, 3)),
                          semi=(semi[0] * 0.7, semi[1] * 0.7, semi[2] * 0.7)))
    leak = Leak(LeakSite.PARAVERTEBRAL, tuple(parts), float(rng.uniform(0.8, 2.0)),
                _texture(rng))
    return leak, wall - out * 5.0


def venous_leak(rng: np.random.Generator, v: Vertebra) -> tuple[Leak, F64]:
    """Thin streaks: segmental veins around the body or the anterior plexus along it."""
    parts: list[Part] = []
    breach = np.zeros(3)
    for k in range(int(rng.integers(1, 4))):
        theta = float(rng.uniform(-np.pi * 0.9, -np.pi * 0.1))
        z = float(rng.uniform(-0.35, 0.35) * v.body.h_post)
        pos = _wall_point(v, theta, z) + np.array([np.cos(theta), np.sin(theta), 0.0]) * 1.0
        if k == 0:
            breach = pos - np.array([np.cos(theta), np.sin(theta), 0.0]) * 6.0
        radius = float(rng.uniform(0.6, 1.4))
        vertical = bool(rng.uniform() < 0.35)
        heading = np.array([0.0, 0.0, rng.choice([-1.0, 1.0])]) if vertical else np.array(
            [-np.sin(theta), np.cos(theta), 0.0]) * rng.choice([-1.0, 1.0])
        for _ in range(int(rng.integers(3, 8))):
            step = heading * rng.uniform(4, 8) + rng.normal(0, 1.5, 3)
            # Segmental veins hug the body: push outward a little as they go round.
            step[:2] += pos[:2] / max(float(np.linalg.norm(pos[:2])), 1.0) * rng.uniform(0.5, 2.0)
            parts.append(Part(a=_vec(pos), b=_vec(pos + step), radius=radius))
            pos = pos + step
            heading = step / np.linalg.norm(step)
    return Leak(LeakSite.PARAVERTEBRAL, tuple(parts), 0.15, _texture(rng)), breach


def canal_leak(rng: np.random.Generator, v: Vertebra) -> tuple[Leak, F64]:
    """Epidural cement behind the posterior wall (through the basivertebral foramen)."""
    cx, cy = v.posterior.canal_center
    ca, cb = v.posterior.canal_semi
    x = cx + rng.uniform(-0.4, 0.4) * ca
    y = cy - cb * rng.uniform(0.55, 0.8)
    z = rng.uniform(-0.25, 0.25) * v.body.h_post
    semi = (rng.uniform(3, 7), rng.uniform(1.2, 2.8), rng.uniform(4, 11))
    leak = Leak(LeakSite.CANAL, (Part(a=(x, y, z), semi=semi),), float(rng.uniform(0.3, 0.9)),
                _texture(rng))
    return leak, np.array([x * 0.5, v.body.b * 0.6, z])


def needle_tract(rng: np.random.Generator, entry: F64, direction: F64) -> Leak:
    """Cement left in the needle track through the pedicle."""
    start = entry + direction * rng.uniform(0.0, 8.0)
    end = entry + direction * (np.linalg.norm(entry[:2]) + 2.0)
    part = Part(a=_vec(start), b=_vec(end), radius=float(rng.uniform(1.0, 1.7)))
    return Leak(LeakSite.NEEDLE_TRACT, (part,), 0.2, _texture(rng))
