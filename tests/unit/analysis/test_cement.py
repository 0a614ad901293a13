"""Cement cut at the partial-volume half-level of the densest mass (``find_cement``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from node.analysis.cement import _is_metal, find_cement
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


def _core_and_rim(core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A component whose voxels are at the 3071 HU clip on ``core`` and a 1500 HU rim of
    one voxel around it, and its values."""
    comp = ndimage.binary_dilation(core)
    return comp, np.where(core, 3071, np.where(comp, 1500, 40)).astype(np.int16)


def _thin_neck(a: np.ndarray, b: np.ndarray, z: np.ndarray, y: np.ndarray,
               x: np.ndarray, at: tuple[float, float, float]) -> np.ndarray:
    """``a`` and ``b`` joined by a neck one voxel thick at ``at`` (z, y, x mm)."""
    neck = (np.abs(z - at[0]) < STEP / 2) & (np.abs(x - at[2]) < STEP / 2)
    return a | b | (neck & (np.abs(y - at[1]) <= 4.0))


def test_a_screw_pair_joined_at_the_heads_is_metal() -> None:
    z, y, x = (np.indices((60, 60, 90)) + 0.5) * STEP
    shafts = [((z - 21.0) ** 2 + (y - cy) ** 2 <= 3.0 ** 2) & (x >= 8.0) & (x <= 50.0)
              for cy in (14.0, 28.0)]
    comp, values = _core_and_rim(_thin_neck(*shafts, z, y, x, at=(21.0, 21.0, 9.0)))
    assert _is_metal(comp, values, np.full(3, STEP), Parameters())


def test_cement_clipped_by_the_scanner_with_a_thin_tongue_is_cement() -> None:
    # Dense cement filling a body reaches the clip over half its voxels; a leak's tongue
    # 16 mm long, thinned off the mass, is a straight piece as long as a short screw.
    z, y, x = (np.indices((60, 60, 90)) + 0.5) * STEP
    mass = ((z - 21.0) / 7.0) ** 2 + ((y - 21.0) / 9.0) ** 2 + ((x - 30.0) / 14.0) ** 2 <= 1.0
    tongue = ((z - 21.0) ** 2 + (y - 34.0) ** 2 <= 1.8 ** 2) & (x >= 30.0) & (x <= 46.0)
    comp, values = _core_and_rim(_thin_neck(mass, tongue, z, y, x, at=(21.0, 30.0, 38.0)))
    assert not _is_metal(comp, values, np.full(3, STEP), Parameters())


def test_dense_cement_along_the_needle_path_is_no_screw() -> None:
    # Cement injected along the needle's path, 31 mm long and 11 mm wide, at the clip
    # over most of its core: three times longer than wide, where a screw is five or more.
    z, y, x = (np.indices((60, 60, 90)) + 0.5) * STEP
    streak = ((z - 21.0) ** 2 + (y - 21.0) ** 2 <= 5.5 ** 2) & (x >= 15.0) & (x <= 46.0)
    comp, values = _core_and_rim(streak)
    assert not _is_metal(comp, values, np.full(3, STEP), Parameters())
