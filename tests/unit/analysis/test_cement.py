"""Cement cut at the partial-volume half-level of the densest mass (``find_cement``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from node.analysis.cement import find_cement
from node.analysis.types import Parameters

STEP = 0.7


def _scan(objects: list[tuple[tuple[float, float, float], float, float]],
          rod_x_mm: float | None = None) -> np.ndarray:
    """Balls (centre mm, radius mm, HU) in 40 HU tissue, and a short cement rod of 1.2 mm
    radius along y at ``rod_x_mm``, blurred like a scanner."""
    shape = (60, 60, 90)
    z, y, x = (np.indices(shape) + 0.5) * STEP
    hu = np.full(shape, 40.0)
    for (cz, cy, cx), radius, value in objects:
        ball = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius ** 2
        hu[ball] = value
    if rod_x_mm is not None:
        hu[((z - 21.0) ** 2 + (x - rod_x_mm) ** 2 <= 1.2 ** 2) & (np.abs(y - 21.0) <= 5.0)] = 3071.0
    return np.rint(ndimage.gaussian_filter(hu, 0.8 / STEP)).astype(np.int16)


def _affine() -> np.ndarray:
    affine = np.diag([STEP, STEP, STEP, 1.0])
    return affine


def test_cement_beside_a_large_fainter_mass_keeps_its_half_level() -> None:
    # Dense contrast in a large vein pulls one scan-wide level down toward 1000 HU; the
    # cement ball then comes out a fifth too large.
    hu = _scan([((21.0, 21.0, 15.0), 6.0, 3071.0), ((21.0, 21.0, 45.0), 10.0, 1400.0)])
    found = find_cement(hu, _affine(), Parameters())
    labels, _ = ndimage.label(found.mask)
    cement = labels == labels[30, 30, 21]
    true_voxels = 4.0 / 3.0 * np.pi * 6.0 ** 3 / STEP ** 3
    assert abs(np.count_nonzero(cement) / true_voxels - 1.0) <= 0.08


def test_a_thin_piece_is_cut_at_the_level_of_the_cement() -> None:
    # A thin strand has no core of its own to read; it is cut where the ball is.
    hu = _scan([((21.0, 21.0, 15.0), 6.0, 3071.0), ((21.0, 21.0, 45.0), 10.0, 1400.0)],
               rod_x_mm=27.0)
    found = find_cement(hu, _affine(), Parameters())
    ball_level = 0.5 * (3071.0 + 100.0)
    strand = found.mask[:, :, int(25.0 / STEP):int(29.0 / STEP)]
    assert strand.any()
    assert hu[:, :, int(25.0 / STEP):int(29.0 / STEP)][strand].min() >= ball_level - 1


def test_the_silhouette_takes_the_faint_edge_the_half_level_leaves_out() -> None:
    # A radiograph shows cement where a voxel holds less than half of it; CDV must not.
    hu = _scan([((21.0, 21.0, 21.0), 6.0, 3071.0)])
    found = find_cement(hu, _affine(), Parameters())
    assert np.all(found.mask <= found.silhouette)
    edge = found.silhouette & ~found.mask
    assert edge.any()
    values = hu[edge]
    # 40 % of the way from the surroundings (100 HU) to the core, the half-level's 50 %.
    core_contrast = 2.0 * (found.level_hu - 100.0)
    assert values.min() >= 100.0 + 0.4 * core_contrast - 1
    assert values.max() < found.level_hu
