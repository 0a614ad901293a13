"""Ball dilation and erosion against scipy's structure-based ones: the same voxels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from node.analysis.morphology import dilated_by_ball, eroded_by_ball


def _ball(radius: float) -> np.ndarray:
    k = int(np.floor(radius))
    z, y, x = np.mgrid[-k:k + 1, -k:k + 1, -k:k + 1]
    return z * z + y * y + x * x <= radius * radius


def _mask(seed: int, level: float) -> np.ndarray:
    noise = np.random.default_rng(seed).random((30, 41, 37)).astype(np.float32)
    return ndimage.gaussian_filter(noise, 2.0) > level


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5, 2.0, 2.9, 3.5, 6.0, 8.6, 10.5])
@pytest.mark.parametrize("level", [0.5, 0.53])
def test_same_voxels_as_scipy_with_a_ball_structure(radius: float, level: float) -> None:
    mask = _mask(int(radius * 10), level)
    assert mask.any() and not mask.all()
    ball = _ball(radius)
    assert np.array_equal(dilated_by_ball(mask, radius),
                          ndimage.binary_dilation(mask, structure=ball))
    assert np.array_equal(eroded_by_ball(mask, radius),
                          ndimage.binary_erosion(mask, structure=ball, border_value=1))


def test_a_single_voxel_grows_into_the_ball_and_nothing_beyond_the_array() -> None:
    mask = np.zeros((9, 9, 9), dtype=bool)
    mask[0, 4, 4] = True
    grown = dilated_by_ball(mask, 3.0)
    assert np.count_nonzero(grown) == np.count_nonzero(_ball(3.0)[3:])
    assert not dilated_by_ball(np.zeros((4, 4, 4), dtype=bool), 2.0).any()
