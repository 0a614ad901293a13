"""The ground truth of the phantoms: hand-built objects with known answers, and the
generated masks against the result record."""

from __future__ import annotations

import numpy as np
import pytest

from node.analysis.measure import measure_level
from node.analysis.types import LEAK_SITE_CODES, Extravertebral, Flag, LeakSite, Parameters
from node.phantom.case import CaseSummary
from node.phantom.truth import TruthMasks, compute_truth, extravertebral, load_truth

PARAMS = Parameters()


def axial(spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """(slice, row, column) -> LPS, head first: slice index grows toward the feet."""
    dz, dy, dx = spacing
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0, 0, dx], [0, dy, 0], [-dz, 0, 0]], dtype=float)
    return affine


def hand_built(shape: tuple[int, int, int] = (60, 60, 60)) -> TruthMasks:
    """Two 10 x 20 x 20 box bodies (labels 1 above 2) 6 slices apart, on a 1 mm grid."""
    labels = np.zeros(shape, dtype=np.int16)
    labels[10:20, 20:40, 20:40] = 1
    labels[26:36, 20:40, 20:40] = 2
    cement = np.zeros(shape, dtype=bool)
    sites = np.zeros(shape, dtype=np.uint8)
    return TruthMasks(affine=axial(), slice_sop_instance_uids=tuple(str(i) for i in range(60)),
                      body_labels=labels, level_names=("L1", "L2"), cement=cement,
                      leak_sites=sites)


def put(masks: TruthMasks, where: tuple[slice, ...], site: LeakSite | None) -> None:
    masks.cement[where] = True
    if site is not None:
        masks.leak_sites[where] = LEAK_SITE_CODES[site]


def test_box_half_filled_with_a_disc_leak_gives_exact_numbers() -> None:
    masks = hand_built()
    put(masks, (slice(10, 15), slice(20, 40), slice(20, 40)), None)      # upper half of L1
    put(masks, (slice(20, 23), slice(25, 35), slice(25, 35)), LeakSite.DISC)    # 0.3 ml
    put(masks, (slice(12, 14), slice(10, 12), slice(28, 30)), LeakSite.PARAVERTEBRAL)
    result = compute_truth(masks, study_uid="1.2", series_uid="1.2.3", params=PARAMS)
    assert [lv.level for lv in result.levels] == ["L1"]
    level = result.levels[0]
    assert level.vbv_ml == pytest.approx(4.0)
    assert level.cdv_ml == pytest.approx(2.0)
    assert level.vf_pct == pytest.approx(50.0)
    assert level.extravertebral_ml.disc == pytest.approx(0.3)
    assert level.extravertebral_ml.paravertebral == pytest.approx(0.008)
    assert level.leakage
    # Cement in the cranial half (slice index grows to the feet): sagittal fills the upper
    # zone and half of the middle one; coronal every zone; axial 4 quadrants.
    assert (level.score.coronal, level.score.sagittal, level.score.axial) == (3, 2, 4)
    assert result.flags == ()


def test_leak_beyond_the_search_distance_is_not_counted() -> None:
    masks = hand_built((60, 60, 70))
    put(masks, (slice(10, 20), slice(20, 40), slice(20, 27)), None)
    put(masks, (slice(12, 14), slice(20, 22), slice(41, 43)), LeakSite.PARAVERTEBRAL)
    put(masks, (slice(12, 14), slice(20, 22), slice(58, 62)), LeakSite.PARAVERTEBRAL)
    extra = extravertebral(masks, 1, PARAMS.leak_search_mm)
    # The body ends at column 39. The first lump (columns 41-42) is 2-3 mm away; of the
    # second (columns 58-61, 19-22 mm away) only columns 58 and 59 are within 20 mm.
    assert extra.paravertebral == pytest.approx((8 + 8) / 1000)
    assert extra.total == extra.paravertebral


def test_needle_tract_alone_is_not_leakage_and_small_cement_is_not_treated() -> None:
    masks = hand_built()
    put(masks, (slice(10, 20), slice(20, 40), slice(20, 27)), None)   # the right third
    put(masks, (slice(12, 14), slice(40, 50), slice(24, 26)), LeakSite.NEEDLE_TRACT)
    put(masks, (slice(30, 31), slice(30, 32), slice(30, 32)), None)   # 0.004 ml in L2
    result = compute_truth(masks, study_uid="1", series_uid="2", params=PARAMS)
    assert [lv.level for lv in result.levels] == ["L1"]
    assert result.levels[0].extravertebral_ml.needle_tract == pytest.approx(0.04)
    assert not result.levels[0].leakage
    assert result.levels[0].score.coronal == 1


def test_no_cement_and_metal_give_the_expected_flags() -> None:
    result = compute_truth(hand_built(), study_uid="1", series_uid="2", params=PARAMS,
                           metal=True)
    assert result.levels == ()
    assert result.flags == (Flag.NO_CEMENT_FOUND, Flag.METAL_SUSPECTED)


def test_cement_outside_bodies_without_a_site_is_refused() -> None:
    masks = hand_built()
    put(masks, (slice(10, 20), slice(20, 40), slice(20, 40)), None)
    put(masks, (slice(12, 14), slice(10, 12), slice(28, 30)), None)
    with pytest.raises(ValueError, match="needs a site code"):
        compute_truth(masks, study_uid="1", series_uid="2", params=PARAMS)


def test_generated_truth_equals_the_measure_on_its_masks(small_case: CaseSummary) -> None:
    truth = load_truth(small_case.folder)
    masks = truth.masks
    assert truth.family == "disc_leak"
    assert len(truth.result.levels) == 1
    for level in truth.result.levels:
        label = masks.level_names.index(level.level) + 1
        again = measure_level(masks.body_labels == label, masks.cement, masks.affine,
                              extravertebral=extravertebral(masks, label, 20.0),
                              params=PARAMS, level=level.level)
        assert again.to_json() == level.to_json()
        assert level.extravertebral_ml.disc > 0.0
        assert 5.0 <= level.vf_pct <= 50.0
        assert 5.0 <= level.vbv_ml <= 60.0


def test_generated_masks_are_consistent(small_case: CaseSummary) -> None:
    masks = load_truth(small_case.folder).masks
    labels = masks.body_labels
    n = len(masks.level_names)
    assert set(np.unique(labels)) == set(range(n + 1))
    # Labels run cranial to caudal.
    z = [(np.argwhere(labels == k) @ masks.affine[:3, :3].T)[:, 2].mean() for k in range(1, n + 1)]
    assert z == sorted(z, reverse=True)
    # Site codes mark exactly the cement outside every body.
    outside = masks.cement & (labels == 0)
    assert np.array_equal(masks.leak_sites > 0, outside)
    assert set(np.unique(masks.leak_sites)) <= {0, *LEAK_SITE_CODES.values()}
    assert Extravertebral().total == 0.0
