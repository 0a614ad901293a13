"""The SEG read back by highdicom holds the analysis masks, described as DICOM wants."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes
from readback import on_grid, strict_roundtrip
from results_cases import Built

from node.results import codes as vf_codes
from node.results.build import build_results

EXPECTED_SEGMENTS = {
    "one_level": ["L1 vertebral body", "L1 cement in body"],
    "two_levels": ["L1 vertebral body", "L1 cement in body", "L2 vertebral body",
                   "L2 cement in body", "L2 extravertebral cement"],
}


def expected_mask(built: Built, label: str) -> np.ndarray:
    analysis = built.analysis
    index = 1 if label.startswith("L1") else 2
    body = np.asarray(analysis.body_labels) == index
    if label.endswith("vertebral body"):
        return body
    if label.endswith("cement in body"):
        return body & np.asarray(analysis.cement)
    return np.asarray(analysis.extravertebral_labels) == index


def seg_masks_on_ct_grid(built: Built, seg: hd.seg.Segmentation) -> dict[str, np.ndarray]:
    """Each segment as a (slices, rows, columns) mask on the CT grid of the analysis."""
    uids = list(built.analysis.slice_sop_instance_uids)
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    present = [uid for uid in uids if uid in referenced]
    pixels = seg.get_pixels_by_source_instance(present, assert_missing_frames_are_empty=True)
    out = {}
    for n, description in enumerate(seg.SegmentSequence, start=1):
        full = np.zeros(np.asarray(built.analysis.cement).shape, dtype=bool)
        for uid, frame in zip(present, pixels[..., n - 1], strict=True):
            full[uids.index(uid)] = frame > 0
        out[description.SegmentLabel] = full
    return out


def test_seg_masks_equal_analysis_masks_voxel_for_voxel(one_level: Built,
                                                       two_levels: Built) -> None:
    for kind, built in (("one_level", one_level), ("two_levels", two_levels)):
        seg = hd.seg.Segmentation.from_dataset(built.objects["SEG"])
        masks = seg_masks_on_ct_grid(built, seg)
        assert list(masks) == EXPECTED_SEGMENTS[kind]
        for label, mask in masks.items():
            expected = expected_mask(built, label)
            assert expected.any()
            assert np.array_equal(mask, expected), label


def test_seg_volume_lies_on_the_ct_grid(two_levels: Built) -> None:
    seg = hd.seg.Segmentation.from_dataset(two_levels.objects["SEG"])
    ct_affine = np.asarray(two_levels.analysis.affine)
    shape = np.asarray(two_levels.analysis.cement).shape
    for number, label in enumerate(EXPECTED_SEGMENTS["two_levels"], start=1):
        volume = seg.get_volume(segment_numbers=[number])
        placed = on_grid(volume.array[..., 0], volume.affine, ct_affine, shape)
        assert np.array_equal(placed, expected_mask(two_levels, label)), label


def test_seg_only_stores_frames_that_hold_something(any_case: Built) -> None:
    if "SEG" not in any_case.objects:
        assert any_case.analysis.result.levels == ()
        return
    seg = hd.seg.Segmentation.from_dataset(any_case.objects["SEG"])
    assert seg.SegmentationType == "BINARY"
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), -1)
    assert frames.any(axis=1).all()
    expected = sum(int(np.count_nonzero(expected_mask(any_case, label).any(axis=(1, 2))))
                   for label in EXPECTED_SEGMENTS[
                       "one_level" if len(any_case.analysis.result.levels) == 1 else "two_levels"])
    assert int(seg.NumberOfFrames) == expected


def test_segments_are_described_with_codes_tracking_and_algorithm(two_levels: Built) -> None:
    seg = hd.seg.Segmentation.from_dataset(two_levels.objects["SEG"])
    assert seg.FrameOfReferenceUID == two_levels.sources[0].FrameOfReferenceUID
    tracking = set()
    for item in seg.SegmentSequence:
        description = seg.get_segment_description(int(item.SegmentNumber))
        assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        algorithm = description.algorithm_identification[0]
        assert algorithm.AlgorithmName == "vfnode"
        assert algorithm.AlgorithmVersion == "0.1.0-test"
        assert "vf_cutoff_pct=28.58" in algorithm.AlgorithmParameters
        category = description.segmented_property_category
        assert category.scheme_designator == "SCT"
        if item.SegmentLabel.endswith("vertebral body"):
            assert category == codes.SCT.AnatomicalStructure
            assert description.segmented_property_type == vf_codes.VERTEBRAL_BODY
        else:
            assert category == codes.SCT.Substance
        level = item.SegmentLabel.split()[0]
        assert description.anatomic_regions[0] == vf_codes.LEVELS[level]
        assert description.tracking_id == item.SegmentLabel
        tracking.add(description.tracking_uid)
        lab = item.RecommendedDisplayCIELabValue
        assert len(lab) == 3 and lab[1] != 0x8080  # chromatic: a* is not neutral
    assert len(tracking) == len(seg.SegmentSequence)


def test_seg_belongs_to_the_ct_study_in_its_own_series(two_levels: Built) -> None:
    seg, ct = two_levels.objects["SEG"], two_levels.sources[0]
    for keyword in ("StudyInstanceUID", "PatientName", "PatientID", "PatientBirthDate",
                    "AccessionNumber", "StudyID", "StudyDescription", "PatientAge"):
        assert seg[keyword].value == ct[keyword].value, keyword
    assert str(seg.PatientName) == "Müller^Jörg"
    assert seg.SeriesInstanceUID != ct.SeriesInstanceUID
    assert seg.SeriesDescription == "vfnode segmentation (CT series 3)"
    assert seg.SeriesNumber == 9901
    assert seg.Manufacturer == "vfnode project"
    assert seg.SoftwareVersions == "0.1.0-test"


def test_series_without_cement_has_no_seg(no_cement: Built) -> None:
    assert sorted(no_cement.objects) == ["OT", "SR"]


def test_known_overlap_is_what_highdicom_would_compute() -> None:
    from results_cases import CREATED
    from synthetic_ct import make_case

    from node.results.build import make_context
    from node.results.context import Device
    from node.results.seg import _pixels, plan_segments

    analysis, sources = make_case("two_levels")
    context = make_context(analysis, sources, device=Device(), options={}, created=CREATED)
    plans = plan_segments(context)
    pixels, _ = _pixels(context, plans)
    numbers = np.arange(1, len(plans) + 1)
    _, overlap = hd.seg.Segmentation._check_and_cast_pixel_array(
        pixels, numbers, hd.seg.SegmentationTypeValues.BINARY, np.uint8)
    assert overlap == hd.seg.SegmentsOverlapValues.YES
    seg = hd.seg.Segmentation.from_dataset(strict_roundtrip(
        build_results(analysis, sources, sr=False, summary_image=False, created=CREATED)[0]))
    assert seg.SegmentsOverlap == "YES"
