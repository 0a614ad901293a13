"""Series -> HU volume: geometry from highdicom, int16 HU, clear errors on unusable input."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydicom.uid import RLELossless

from node.analysis.volume import load_volume
from node.errors import UnusableSeriesError

from .dicomseries import ct_series


def _affine(dz: float = 1.0, feet_first: bool = False) -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = [[0, 0, 0.7], [0, 0.7, 0], [-dz if feet_first else dz, 0, 0]]
    a[:3, 3] = [-10.0, -20.0, 50.0]
    return a


def _volume(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(-1024, 3071, size=(n, 16, 12)).astype(np.int16)


def _patient_points(vol_affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    idx = np.indices(shape).reshape(3, -1).T
    return idx @ vol_affine[:3, :3].T + vol_affine[:3, 3]


@pytest.mark.parametrize("feet_first", [False, True])
@pytest.mark.parametrize("unsigned", [False, True])
def test_any_order_and_storage_give_the_same_hu_at_the_same_place(feet_first: bool,
                                                                   unsigned: bool) -> None:
    hu = _volume()
    affine = _affine(feet_first=feet_first)
    datasets = ct_series(hu, affine, unsigned=unsigned)
    random.Random(1).shuffle(datasets)
    vol = load_volume(datasets)
    assert vol.hu.dtype == np.int16
    # Every voxel keeps its HU at its patient position, whatever the slice order.
    got = dict(zip(map(tuple, np.round(_patient_points(vol.affine, vol.hu.shape), 3)),
                   vol.hu.ravel(), strict=True))
    want = dict(zip(map(tuple, np.round(_patient_points(affine, hu.shape), 3)), hu.ravel(),
                    strict=True))
    assert got == want
    assert vol.spacing_mm == pytest.approx((1.0, 0.7, 0.7))
    assert len(set(vol.sop_instance_uids)) == hu.shape[0]


def test_rle_compressed_series_decodes_to_the_same_volume() -> None:
    hu = _volume()
    datasets = ct_series(hu, _affine())
    for ds in datasets:
        ds.compress(RLELossless)
    vol = load_volume(datasets)
    plain = load_volume(ct_series(hu, _affine()))
    assert np.array_equal(vol.hu, plain.hu)


def test_missing_slice_is_refused_with_the_series_and_reason() -> None:
    datasets = ct_series(_volume(8), _affine())
    del datasets[3]
    with pytest.raises(UnusableSeriesError, match="evenly spaced without gaps"):
        load_volume(datasets)


def test_mixed_geometry_is_refused() -> None:
    datasets = ct_series(_volume(), _affine())
    datasets[2].PixelSpacing = [0.5, 0.5]
    with pytest.raises(UnusableSeriesError, match="mixed geometry"):
        load_volume(datasets)


def test_non_ct_is_refused() -> None:
    datasets = ct_series(_volume(), _affine())
    for ds in datasets:
        ds.Modality = "MR"
    with pytest.raises(UnusableSeriesError, match='Modality must be "CT"'):
        load_volume(datasets)


def test_sagittal_series_is_refused_as_not_axial() -> None:
    datasets = ct_series(_volume(), _affine())
    for ds in datasets:
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    with pytest.raises(UnusableSeriesError, match="slices must be axial"):
        load_volume(datasets)
