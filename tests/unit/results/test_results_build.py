"""build_results/write_results: options, stable UIDs, superseding and refused inputs."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from readback import on_grid, strict_roundtrip
from results_cases import CREATED
from synthetic_ct import Grid, make_case

from node.analysis.types import Analysis
from node.results.build import build_results, write_results
from node.results.context import Device


def uids(datasets: list[pydicom.Dataset]) -> dict[str, tuple[str, str]]:
    return {ds.Modality: (ds.SeriesInstanceUID, ds.SOPInstanceUID) for ds in datasets}


def tracking_uids(sr: pydicom.Dataset) -> set[str]:
    content = hd.sr.Comprehensive3DSR.from_dataset(sr).content
    return {g.tracking_uid for g in content.get_planar_roi_measurement_groups()}


def test_resending_the_same_result_keeps_every_uid() -> None:
    analysis, sources = make_case("two_levels")
    first = build_results(analysis, sources, created=CREATED)
    again = build_results(analysis, list(reversed(sources)), created=datetime(2025, 2, 2))
    assert uids(first) == uids(again)
    assert len({uid for pair in uids(first).values() for uid in pair}) == 6
    fixed = build_results(analysis, list(reversed(sources)), created=CREATED)
    assert [ds.to_json_dict() == f.to_json_dict() for ds, f in zip(fixed, first, strict=True)] \
        == [True, True, True]


def test_a_changed_result_gets_new_instances_in_the_same_series() -> None:
    analysis, sources = make_case("two_levels")
    old = build_results(analysis, sources, created=CREATED)
    new = build_results(reanalysed(analysis, "0.2.0"), sources, created=CREATED)
    for modality, (series, instance) in uids(old).items():
        assert uids(new)[modality][0] == series
        assert uids(new)[modality][1] != instance
    sr_old, sr_new = old[1], new[1]
    assert tracking_uids(sr_old) == tracking_uids(sr_new)


def sr_only(analysis: Analysis, sources: list[pydicom.Dataset],
            previous: pydicom.Dataset | None = None) -> pydicom.Dataset:
    (sr,) = build_results(analysis, sources, seg=False, summary_image=False,
                          previous_sr=previous, created=CREATED)
    return strict_roundtrip(sr)


def reanalysed(analysis: Analysis, version: str) -> Analysis:
    return dataclasses.replace(analysis, result=dataclasses.replace(analysis.result,
                                                                    software_version=version))


def test_a_new_result_supersedes_the_previous_sr() -> None:
    analysis, sources = make_case("one_level")
    previous = sr_only(analysis, sources)
    sr = sr_only(reanalysed(analysis, "0.2.0"), sources, previous)
    (study,) = sr.PredecessorDocumentsSequence
    assert study.StudyInstanceUID == previous.StudyInstanceUID
    (reference,) = study.ReferencedSeriesSequence[0].ReferencedSOPSequence
    assert reference.ReferencedSOPInstanceUID == previous.SOPInstanceUID
    assert reference.ReferencedSOPClassUID == previous.SOPClassUID
    assert sr.SOPInstanceUID != previous.SOPInstanceUID
    assert sr.SeriesInstanceUID == previous.SeriesInstanceUID
    assert (previous.InstanceNumber, sr.InstanceNumber) == (1, 2)


def test_the_same_result_again_does_not_supersede_itself() -> None:
    analysis, sources = make_case("one_level")
    first = sr_only(analysis, sources)
    again = sr_only(analysis, sources, first)
    assert again.SOPInstanceUID == first.SOPInstanceUID
    assert "PredecessorDocumentsSequence" not in again and again.InstanceNumber == 1
    second = sr_only(reanalysed(analysis, "0.2.0"), sources, first)
    repeated = sr_only(reanalysed(analysis, "0.2.0"), sources, second)
    assert repeated.SOPInstanceUID == second.SOPInstanceUID and repeated.InstanceNumber == 2
    assert repeated.PredecessorDocumentsSequence == second.PredecessorDocumentsSequence
    back = sr_only(analysis, sources, second)  # back to the first result: a third version
    assert back.SOPInstanceUID not in (first.SOPInstanceUID, second.SOPInstanceUID)
    assert back.InstanceNumber == 3


def test_options_choose_objects_and_series_numbers() -> None:
    analysis, sources = make_case("one_level")
    made = build_results(analysis, sources, seg=False, series_number_base=500, created=CREATED)
    assert [(ds.Modality, ds.SeriesNumber) for ds in made] == [("SR", 500), ("OT", 502)]
    made = build_results(analysis, sources, sr=False, summary_image=False, created=CREATED)
    assert [(ds.Modality, ds.SeriesNumber) for ds in made] == [("SEG", 9901)]
    device = Device(manufacturer="Hospital IT", model_name="vfnode-node", serial_number="42",
                    institution_name="General Hospital")
    (sr,) = build_results(analysis, sources, seg=False, summary_image=False, device=device,
                          created=CREATED)
    assert (sr.Manufacturer, sr.ManufacturerModelName, sr.DeviceSerialNumber) == \
        ("Hospital IT", "vfnode-node", "42")
    assert sr.InstitutionName == "General Hospital"


def test_refused_inputs_say_what_must_hold() -> None:
    analysis, sources = make_case("one_level")
    with pytest.raises(ValueError, match='"volumetric_sr_groups" needs "seg"'):
        build_results(analysis, sources, seg=False, volumetric_sr_groups=True)
    with pytest.raises(ValueError, match="Every slice of the analysis must be among"):
        build_results(analysis, sources[1:])
    shifted = np.asarray(analysis.affine).copy()
    shifted[0, 3] += 5.0
    with pytest.raises(ValueError, match=r"affine must match the source images \(first slice"):
        build_results(dataclasses.replace(analysis, affine=shifted), sources)
    empty = np.zeros_like(np.asarray(analysis.body_labels))
    with pytest.raises(ValueError, match="Found none labelled 1 \\(L1\\)"):
        build_results(dataclasses.replace(analysis, body_labels=empty), sources)
    with pytest.raises(ValueError, match=r'Device "serial_number" must have 1\.\.64 characters'):
        Device(serial_number="")


def test_write_results_writes_one_readable_file_per_object(tmp_path: Path) -> None:
    analysis, sources = make_case("two_levels")
    paths = write_results(analysis, sources, tmp_path / "out", created=CREATED)
    assert sorted(p.name.split("_")[0] for p in paths) == ["OT", "SEG", "SR"]
    for path in paths:
        ds = pydicom.dcmread(path)
        assert path.name == f"{ds.Modality}_{ds.SOPInstanceUID}.dcm"
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


def test_head_first_slice_order_gives_the_same_masks() -> None:
    analysis, sources = make_case("two_levels", Grid(head_first_order=True))
    assert np.asarray(analysis.affine)[2, 0] < 0
    seg = build_results(analysis, sources, sr=False, summary_image=False, created=CREATED)[0]
    seg = hd.seg.Segmentation.from_dataset(strict_roundtrip(seg))
    volume = seg.get_volume(segment_numbers=[2])
    shape = np.asarray(analysis.cement).shape
    placed = on_grid(volume.array[..., 0], volume.affine, np.asarray(analysis.affine), shape)
    expected = (np.asarray(analysis.body_labels) == 1) & np.asarray(analysis.cement)
    assert np.array_equal(placed, expected)


def test_numpy_scalars_in_the_record_are_accepted() -> None:
    analysis, sources = make_case("one_level")
    level = analysis.result.levels[0]
    level = dataclasses.replace(level, leakage=np.bool_(False), vf_pct=np.float64(level.vf_pct))
    result = dataclasses.replace(analysis.result, levels=(level,))
    odd = Analysis(**{**{f.name: getattr(analysis, f.name)
                         for f in dataclasses.fields(analysis)}, "result": result})
    made = build_results(odd, sources, created=CREATED)
    assert uids(made) == uids(build_results(analysis, sources, created=CREATED))
