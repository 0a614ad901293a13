"""Soft tissues around the spine, evaluated slice by slice: skin, fat, muscles, lungs,
aorta with calcified plaque, vena cava, kidneys, bowel gas and the CT table.

Everything is placed relative to the spine centreline, so the torso follows the spine's
curvature and position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.transform import resize

from node.phantom._shapes import F32, FourierField, occupancy
from node.phantom.anatomy import Vertebra, is_thoracic
from node.phantom.geometry import F64


@dataclass(frozen=True, slots=True)
class Torso:
    """Sizes of one patient's torso (mm) and its tissues (HU)."""

    semi_x: float
    semi_y: float
    fat_mm: float
    posterior_mm: float           # skin behind the body centre
    aorta_offset: tuple[float, float]
    aorta_radius: float
    plaque: tuple[tuple[float, float, float], ...]   # (angle, width rad, HU) arcs
    fat_field: FourierField
    gas_field: FourierField
    muscle_hu: float
    fat_hu: float
    lung_hu: float
    diaphragm_z: float            # patient z below which there is no lung
    kidney_z: tuple[float, float]
    psoas_top_z: float
    spine_z: F64                  # centreline samples (ascending z)
    spine_x: F64
    spine_y: F64
    body_b: F64                   # half depth of the body at those samples


def sample_torso(rng: np.random.Generator, vertebrae: list[Vertebra], scale: float) -> Torso:
    """A torso around ``vertebrae`` (cranial to caudal)."""
    centers = np.array([v.center for v in vertebrae])
    order = np.argsort(centers[:, 2])
    lumbar_top = [v.center[2] + v.body.h_post / 2 for v in vertebrae if v.name == "L1"]
    thoracic = [v for v in vertebrae if is_thoracic(v.name)]
    # Lungs reach down to about L1 behind the diaphragm dome.
    if thoracic:
        last = thoracic[-1]
        diaphragm = last.center[2] - (last.body.h_post if last.name == "T12" else 0.0)
    else:
        diaphragm = centers[:, 2].max() + 40.0 + 20.0 * rng.uniform()
    kidney_mid = (lumbar_top[0] if lumbar_top else centers[:, 2].min() - 60.0) - 15.0
    plaque = tuple((float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.2, 0.9)),
                    float(rng.uniform(300, 1150))) for _ in range(int(rng.integers(1, 5))))
    return Torso(
        semi_x=float(rng.uniform(125, 175) * scale), semi_y=float(rng.uniform(95, 130) * scale),
        fat_mm=float(rng.uniform(6, 35)), posterior_mm=float(rng.uniform(60, 85) * scale),
        aorta_offset=(float(rng.uniform(10, 22)), float(rng.uniform(-4, 6))),
        aorta_radius=float(rng.uniform(9, 14)),
        plaque=plaque,
        fat_field=FourierField.random(rng, wavelength_mm=(25, 70), modes=10),
        gas_field=FourierField.random(rng, wavelength_mm=(15, 45), modes=10),
        muscle_hu=float(rng.uniform(40, 60)), fat_hu=float(rng.uniform(-110, -80)),
        lung_hu=float(rng.uniform(-880, -780)),
        diaphragm_z=float(diaphragm), kidney_z=(kidney_mid - 55.0, kidney_mid + 45.0),
        psoas_top_z=float(lumbar_top[0] if lumbar_top else centers[:, 2].min() - 30.0),
        spine_z=centers[order, 2], spine_x=centers[order, 0], spine_y=centers[order, 1],
        body_b=np.array([vertebrae[i].body.b for i in order]),
    )


def _ellipse_d(x: F32, y: F32, cx: F32 | float, cy: F32 | float, ax: float, ay: float) -> F32:
    """Approximate signed distance (mm) to an axis-aligned ellipse."""
    u = (x - cx) / np.float32(ax)
    v = (y - cy) / np.float32(ay)
    return (np.sqrt(u * u + v * v) - np.float32(1.0)) * np.float32(min(ax, ay))


def _paint(hu: F32, frac: F32, value: float | F32) -> None:
    hu *= np.float32(1.0) - frac
    hu += frac * value


def render_torso_slice(t: Torso, x: F32, y: F32, z: F32, sigma: float) -> F32:
    """HU of the soft tissues at points (x, y, z) of one slice (patient LPS, mm)."""
    sx = np.interp(z, t.spine_z, t.spine_x).astype(np.float32)
    sy = np.interp(z, t.spine_z, t.spine_y).astype(np.float32)
    b = np.interp(z, t.spine_z, t.body_b).astype(np.float32)
    hu = np.full(x.shape, -1000.0, dtype=np.float32)
    # Table under the patient: a carbon-fibre plate on a foam pad.
    back = sy + np.float32(t.posterior_mm)
    _paint(hu, occupancy(np.abs(y - back - 14.0) - 3.0, sigma) * (np.abs(x - sx) < 230), 120.0)
    cy = back - np.float32(t.semi_y)
    skin = _ellipse_d(x, y, sx, cy, t.semi_x, t.semi_y)
    _paint(hu, occupancy(skin, sigma), t.fat_hu)
    inner = _ellipse_d(x, y, sx, cy, t.semi_x - t.fat_mm, t.semi_y - t.fat_mm * 0.7)
    fat_patch = np.clip(_coarse(t.fat_field, x, y, z) * 1.5 - 0.6, 0.0, 1.0)
    tissue = np.float32(t.muscle_hu) * (1 - fat_patch) + np.float32(t.fat_hu) * fat_patch
    _paint(hu, occupancy(inner, sigma), tissue)
    for side in (-1.0, 1.0):   # erector spinae
        d = _ellipse_d(x, y, sx + np.float32(side * 24), sy + b + 42, 19.0, 22.0)
        _paint(hu, occupancy(d, sigma), t.muscle_hu + 5)
    lung_frac = occupancy(np.float32(t.diaphragm_z) - z, 4.0)
    if float(lung_frac.max()) > 0.01:
        for side in (-1.0, 1.0):
            semi = t.semi_x * 0.36
            d = _ellipse_d(x, y, sx + np.float32(side) * (b * 1.5 + 10 + semi), sy - 5,
                           semi, t.semi_y * 0.75)
            _paint(hu, occupancy(d, sigma) * lung_frac, t.lung_hu)
    psoas = np.clip((np.float32(t.psoas_top_z) - z) / 80.0, 0.0, 1.0) * 14 + 4
    for side in (-1.0, 1.0):
        d = _ellipse_d(x, y, sx + np.float32(side) * (b + psoas + 8), sy - 2, 1.0, 1.0)
        _paint(hu, occupancy(d * 1.0 - psoas + 1.0, sigma) * (psoas > 5), t.muscle_hu)
    kidney = (z > t.kidney_z[0]) & (z < t.kidney_z[1])
    if kidney.any():
        for side in (-1.0, 1.0):
            d = _ellipse_d(x, y, sx + np.float32(side * 62), sy + 8, 26.0, 20.0)
            _paint(hu, occupancy(d, sigma) * kidney, 32.0)
    gas = ((_coarse(t.gas_field, x, y, z) > 1.3) & (y < sy - b - 45) & (inner < -15)
           & (lung_frac < 0.5))
    _paint(hu, gas.astype(np.float32), -950.0)
    _aorta(t, hu, x, y, sx, sy, b, sigma)
    return hu


def _coarse(f: FourierField, x: F32, y: F32, z: F32, stride: int = 8) -> F32:
    """A smooth field evaluated every ``stride`` pixels and interpolated (it varies slowly)."""
    sub = (x[::stride, ::stride], y[::stride, ::stride], z[::stride, ::stride])
    coarse = f(sub)
    return np.asarray(resize(coarse, x.shape, order=1, mode="edge", anti_aliasing=False),
                      dtype=np.float32)


def _window(x: F32, y: F32, cx: F32, cy: F32, reach: float) -> tuple[slice, slice] | None:
    near = (np.abs(x - cx) < reach) & (np.abs(y - cy) < reach)
    rows, cols = np.nonzero(near.any(axis=1))[0], np.nonzero(near.any(axis=0))[0]
    if len(rows) == 0:
        return None
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _aorta(t: Torso, hu: F32, x: F32, y: F32, sx: F32, sy: F32, b: F32, sigma: float) -> None:
    """Aorta (left, in front of the spine) with calcified plaque on its wall; vena cava right."""
    ax = sx + np.float32(t.aorta_offset[0])
    ay = sy - b - np.float32(t.aorta_radius + 3 + t.aorta_offset[1])
    win = _window(x, y, ax, ay, t.aorta_radius + 4)
    if win is not None:
        xa, ya, hua = x[win], y[win], hu[win]
        dx, dy = xa - ax[win], ya - ay[win]
        r = np.sqrt(dx * dx + dy * dy)
        _paint(hua, occupancy(r - np.float32(t.aorta_radius), sigma), 42.0)
        angle = np.arctan2(dy, dx)
        wall = occupancy(np.abs(r - np.float32(t.aorta_radius - 0.8)) - 0.8, sigma)
        for center, width, plaque_hu in t.plaque:
            diff = np.mod(angle - np.float32(center) + np.float32(np.pi),
                          np.float32(2 * np.pi)) - np.float32(np.pi)
            arc = occupancy(np.abs(diff) - np.float32(width / 2), 0.05)
            _paint(hua, wall * arc, plaque_hu)
    vx, vy = sx - 26, sy - b - 14
    win = _window(x, y, vx, vy, 14.0)
    if win is not None:
        vc = np.sqrt((x[win] - vx[win]) ** 2 + (y[win] - vy[win]) ** 2)
        _paint(hu[win], occupancy(vc - 11.0, sigma), 38.0)
