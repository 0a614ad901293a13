"""Sampling a spine segment: per-level sizes with variation, and placement with curvature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from node.phantom.anatomy import _DIMS, LEVELS, Body, Posterior, Vertebra, is_thoracic
from node.phantom.geometry import F64


@dataclass(frozen=True, slots=True)
class SpineSpec:
    """What to build: the levels (cranial to caudal) and which bodies are fractured."""

    levels: tuple[str, ...]
    wedges: tuple[float, ...]        # anterior height loss per level (0 intact)
    scale: float                     # patient size factor
    trabecular_hu: float             # case mean of the trabecular bone


def rotation_xyz(ax: float, ay: float, az: float) -> F64:
    """Rotation about x, then y, then z (radians), as a matrix acting on column vectors."""
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


def _sample_body(rng: np.random.Generator, dims: tuple[float, ...], scale: float,
                 wedge: float, thoracic: bool) -> Body:
    def jit(v: float, spread: float = 0.05) -> float:
        return float(v * scale * rng.uniform(1 - spread, 1 + spread))

    harmonics = tuple((order, float(rng.normal(0, 0.022)), float(rng.uniform(0, 2 * np.pi)))
                      for order in (2, 3, 4))
    return Body(
        a=jit(dims[0] / 2), b=jit(dims[1] / 2), h_post=jit(dims[2]),
        wedge=wedge,
        central_dip=float(rng.uniform(0.0, 3.0)) if wedge > 0.05 else 0.0,
        concave_top=float(rng.uniform(0.8, 2.5)), concave_bottom=float(rng.uniform(0.8, 2.5)),
        posterior_concavity=float(rng.uniform(0.03, 0.08) if thoracic else rng.uniform(0.06, 0.15)),
        waist=float(rng.uniform(0.02, 0.07)),
        harmonics=harmonics,
        shell_mm=float(rng.uniform(0.4, 1.2)),
        endplate_mm=float(rng.uniform(0.45, 1.0)),
    )


def _posterior(rng: np.random.Generator, dims: tuple[float, ...], scale: float, body: Body,
               thoracic: bool) -> Posterior:
    """Capsules of the posterior elements, laid out from the level's dimensions."""
    s = scale * rng.uniform(0.94, 1.06)
    _, _, _, disc, pw, ph, pl, conv, ca, cb, tpl, tpang, spl, spang = (float(v) for v in dims)
    pw, ph, pl, ca, cb, tpl, spl = (v * s for v in (pw, ph, pl, ca, cb, tpl, spl))
    conv = np.deg2rad(conv + rng.normal(0, 2))
    b, h = body.b, body.h_post
    wall = b * (1 - body.posterior_concavity)
    x_mid = ca + pw / 2 + 0.5
    z_p = h / 2 - ph / 2 - 1.5
    half = pl / 2 * np.sin(conv)
    pedicles = []
    for side in (-1.0, 1.0):
        front = (side * (x_mid - half), b - 3.0, z_p)
        back = (side * (x_mid + half), b + pl, z_p)
        pedicles.append((front, back, pw / 2, ph / pw))
    y_lam = wall + 2 * cb + 4.0
    xl = x_mid + half + 1.0
    others: list[tuple[tuple[float, float, float], tuple[float, float, float], float, float]] = []
    spang_r = np.deg2rad(spang + rng.normal(0, 4))
    tpang_r = np.deg2rad(tpang + rng.normal(0, 4))
    sp0 = (0.0, y_lam, z_p - 5.0)
    sp1 = (0.0, y_lam + spl * np.cos(spang_r), z_p - 5.0 - spl * np.sin(spang_r))
    others.append((sp0, sp1, 2.6 if thoracic else 3.0, 1.4 if thoracic else 2.3))
    for side in (-1.0, 1.0):
        others.append(((side * xl, b + pl, z_p - 2.0), (0.0, y_lam, z_p - 4.0), 2.6, 3.2))
        tp0 = (side * xl, b + pl * 0.8, z_p)
        tp1 = (side * (xl + tpl * np.cos(tpang_r)), b + pl * 0.8 + tpl * np.sin(tpang_r),
               z_p + 1.0)
        others.append((tp0, tp1, 4.0 if thoracic else 3.2, 1.0 if thoracic else 1.6))
        others.append(((side * (xl + 1.5), b + pl + 1.0, z_p),
                       (side * (xl + 2.5), b + pl + 2.5, h / 2 + disc * 0.6 + 3.0), 3.0, 1.0))
        others.append(((side * (xl - 3.5), b + pl + 7.0, z_p - 6.0),
                       (side * (xl - 4.0), b + pl + 9.0, -h / 2 - disc * 0.4 - 2.0), 3.0, 1.0))
    return Posterior(pedicles=tuple(pedicles), others=tuple(others),
                     canal_center=(0.0, wall + cb + 0.5), canal_semi=(ca, cb),
                     shell_mm=float(rng.uniform(0.8, 1.6)))


def build_spine(spec: SpineSpec, rng: np.random.Generator) -> list[Vertebra]:
    """Vertebrae of ``spec`` placed cranial to caudal, the first body centred at the origin."""
    tilt = rotation_xyz(np.deg2rad(rng.uniform(-8, 8)), np.deg2rad(rng.normal(0, 2)),
                        np.deg2rad(rng.normal(0, 3)))
    cortical = rng.uniform(600, 1000)
    out: list[Vertebra] = []
    rotation, center = tilt, np.zeros(3)
    prev: Vertebra | None = None
    for name, wedge in zip(spec.levels, spec.wedges, strict=True):
        dims = _DIMS[name]
        thoracic = is_thoracic(name)
        body = _sample_body(rng, dims, spec.scale, wedge, thoracic)
        post = _posterior(rng, dims, spec.scale, body, thoracic)
        if prev is not None:
            # Kyphosis in the thorax, lordosis in the lumbar spine, a few degrees per level;
            # a wedged body tips forward (partly compensated by the disc above it).
            sign = 1.0 if thoracic else -1.0
            d_alpha = sign * rng.uniform(1, 5) - 0.5 * np.arctan(wedge * body.h_post / (2 * body.b))
            step = rotation_xyz(np.deg2rad(d_alpha), np.deg2rad(rng.normal(0, 1.5)),
                                np.deg2rad(rng.normal(0, 2)))
            disc = float(_DIMS[prev.name][3] * spec.scale * rng.uniform(0.5, 1.0))
            disc = max(disc, 3.0)
            bottom = prev.center + prev.rotation @ np.array([0, 0, -prev.body.h_post / 2])
            rotation = prev.rotation @ step
            mid_axis = (prev.rotation[:, 2] + rotation[:, 2]) / 2
            center = bottom - mid_axis * disc - rotation[:, 2] * body.h_post / 2
        vert = Vertebra(name=name, center=center.copy(), rotation=rotation.copy(), body=body,
                        posterior=post,
                        trabecular_hu=float(spec.trabecular_hu + rng.normal(0, 12)),
                        cortical_hu=float(cortical + rng.normal(0, 60)))
        out.append(vert)
        prev = vert
    return out


def choose_levels(rng: np.random.Generator, count: int, treated_positions: tuple[int, ...],
                  *, thoracic_bias: float = 0.0) -> tuple[str, ...]:
    """``count`` consecutive levels with the treated ones mostly at T11-L2 (as in the paper)."""
    if rng.uniform() < thoracic_bias:
        target = str(rng.choice(["T7", "T8", "T9", "T10"]))
    else:
        target = str(rng.choice(["T11", "T12", "T12", "L1", "L1", "L1", "L2", "L2", "L3", "L4"]))
    first = LEVELS.index(target) - treated_positions[0]
    first = int(np.clip(first, 0, len(LEVELS) - count))
    return LEVELS[first:first + count]
