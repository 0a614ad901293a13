"""The files of a generated case: complete headers, consistent geometry, skip series,
reproducibility by seed, and the naive baseline on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from node.analysis.baseline import naive_baseline
from node.analysis.types import Parameters
from node.phantom.case import CaseSummary, write_case
from node.phantom.dicom import read_series
from node.phantom.truth import load_truth

REQUIRED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
            "PatientWeight", "PatientSize", "StudyInstanceUID", "StudyDate", "StudyTime",
            "AccessionNumber", "ReferringPhysicianName", "StudyID", "SeriesInstanceUID",
            "SeriesNumber", "SeriesDescription", "Modality", "FrameOfReferenceUID",
            "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "ImagePositionPatient",
            "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows", "Columns",
            "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
            "RescaleIntercept", "RescaleSlope", "WindowCenter", "WindowWidth", "ImageType",
            "PatientPosition", "Manufacturer", "KVP")


def test_ct_headers_are_complete_and_geometry_matches_the_truth(small_case: CaseSummary
                                                                ) -> None:
    truth = load_truth(small_case.folder)
    files = sorted((small_case.folder / "ct").glob("*.dcm"))
    assert len(files) == small_case.slices
    first = pydicom.dcmread(files[0])
    missing = [name for name in REQUIRED if name not in first]
    assert missing == []
    assert first.SOPClassUID == pydicom.uid.CTImageStorage
    assert first.SeriesInstanceUID == truth.analysable_series_instance_uid
    assert first.StudyInstanceUID == truth.result.study_instance_uid
    hu, affine, uids = read_series(small_case.folder / "ct")
    masks = truth.masks
    assert sorted(uids) == sorted(masks.slice_sop_instance_uids)
    order = [masks.slice_sop_instance_uids.index(u) for u in uids]
    # Re-ordering the truth by the reader's order must give the reader's affine.
    expected = masks.affine.copy()
    if order[0] != 0:
        expected[:3, 3] = masks.affine[:3, 3] + masks.affine[:3, 0] * order[0]
        expected[:3, 0] = -masks.affine[:3, 0]
    np.testing.assert_allclose(affine, expected, atol=1e-4)
    assert hu.min() >= -3024 and hu.max() <= 3071
    # Cement of the truth is bright in the image; the treated body is not.
    cement = masks.cement[order]
    assert np.median(hu[cement]) > 1000
    body = (masks.body_labels[order] > 0) & ~cement
    assert np.median(hu[body]) < 300


def test_skip_series_are_written_and_named(small_case: CaseSummary) -> None:
    truth = load_truth(small_case.folder)
    reasons = dict(truth.skip_series)
    found = {}
    for folder in sorted(p for p in small_case.folder.iterdir() if p.is_dir()):
        ds = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
        found[folder.name] = ds
    assert {"ct", "localizer", "reformat"} <= set(found)
    assert "LOCALIZER" in found["localizer"].ImageType
    assert float(found["reformat"].SliceThickness) > 3.0
    for name, ds in found.items():
        if name != "ct":
            assert ds.SeriesInstanceUID in reasons
        assert ds.StudyInstanceUID == truth.result.study_instance_uid


def test_same_seed_gives_the_same_case(small_case: CaseSummary, tmp_path: Path) -> None:
    again = write_case(tmp_path / "again", "disc_leak", 12, small=True)
    a, b = load_truth(small_case.folder), load_truth(again.folder)
    assert a.raw == b.raw
    assert np.array_equal(a.masks.cement, b.masks.cement)
    assert np.array_equal(a.masks.body_labels, b.masks.body_labels)
    hu_a, _, _ = read_series(small_case.folder / "ct")
    hu_b, _, _ = read_series(again.folder / "ct")
    assert np.array_equal(hu_a, hu_b)


def test_naive_baseline_misses_the_truth_on_a_phantom(small_case: CaseSummary) -> None:
    truth = load_truth(small_case.folder)
    hu, affine, _ = read_series(small_case.folder / "ct")
    found = naive_baseline(hu, affine, params=Parameters())
    assert found.levels, "the baseline sees the cement"
    true_vf = truth.result.levels[0].vf_pct
    assert min(abs(lv.vf_pct - true_vf) for lv in found.levels) > 1.0


def test_naive_baseline_on_a_closed_box_counts_what_it_is_built_from() -> None:
    # A closed 300 HU shell around 100 HU marrow, a posterior block of bone attached,
    # and cement in the lower half of the box: fill + component = box + block.
    hu = np.full((30, 40, 40), -50.0)
    hu[5:25, 5:25, 5:25] = 300.0
    hu[6:24, 6:24, 6:24] = 100.0
    hu[5:25, 25:35, 12:18] = 400.0       # the "posterior elements"
    hu[15:24, 6:24, 6:24] = 2500.0
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]])
    result = naive_baseline(hu, affine, params=Parameters())
    (level,) = result.levels
    assert level.vbv_ml == pytest.approx((20 * 20 * 20 + 20 * 10 * 6) / 1000)
    assert level.cdv_ml == pytest.approx(9 * 18 * 18 / 1000)
