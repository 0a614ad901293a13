"""The SR read back by highdicom says what the result record says, where OHIF can draw it."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from pydicom import Dataset
from pydicom.sr.codedict import codes
from readback import polygon_mask
from results_cases import Built

from node.analysis.types import Flag, LeakSite, LevelResult
from node.results import codes as vf_codes
from node.results._geometry import key_slice

Planar = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations


def report(built: Built) -> hd.sr.MeasurementReport:
    sr = hd.sr.Comprehensive3DSR.from_dataset(built.objects["SR"])
    return sr.content


def values(group: Planar) -> dict[str, tuple[float, str]]:
    return {m.name.value: (m.value, m.unit.value) for m in group.get_measurements()}


def evaluations(group: Planar) -> list[tuple[str, str]]:
    return [(e.name.value, e.value.value) for e in group.get_qualitative_evaluations()]


def body_group(built: Built, name: str) -> Planar:
    groups = [g for g in report(built).get_planar_roi_measurement_groups(
        finding_type=vf_codes.VERTEBRAL_BODY) if g.tracking_identifier == f"{name} vertebral body"]
    assert len(groups) == 1
    return groups[0]


def expected_values(level: LevelResult) -> dict[str, tuple[float, str]]:
    record = level.to_json()
    out = {
        "VBV": (record["vbv_ml"], "ml"), "CDV": (record["cdv_ml"], "ml"),
        "VF": (record["vf_pct"], "%"), "VFCUTOFF": (28.58, "%"),
        "EXTRAVOL": (record["extravertebral_ml"]["total"], "ml"),
        "SCORE-COR": (record["score"]["coronal"], "{score}"),
        "SCORE-SAG": (record["score"]["sagittal"], "{score}"),
        "SCORE-AX": (record["score"]["axial"], "{score}"),
        "SCORE-TOTAL": (record["score"]["total"], "{score}"),
    }
    for site in LeakSite:
        if record["extravertebral_ml"][site.value] > 0:
            code = vf_codes.EXTRAVERTEBRAL_BY_SITE[site].value
            out[code] = (record["extravertebral_ml"][site.value], "ml")
    return out


def test_body_groups_carry_the_record_numbers(one_level: Built, two_levels: Built) -> None:
    for built in (one_level, two_levels):
        for level in built.analysis.result.levels:
            group = body_group(built, str(level.level))
            assert values(group) == expected_values(level)
            assert group.finding_sites[0].value == vf_codes.LEVELS[str(level.level)]


def test_evaluations_say_cutoff_leakage_sites_and_group(two_levels: Built) -> None:
    l1, l2 = (body_group(two_levels, name) for name in ("L1", "L2"))
    assert evaluations(l1) == [("EXPDIST", "EXTENSIVE"), ("LEAK", codes.SCT.Absent.value),
                               ("GROUP", "GROUP-B")]
    assert evaluations(l2) == [("EXPDIST", "LIMITED"), ("LEAK", codes.SCT.Present.value),
                               ("LEAKSITE", codes.SCT.VertebralCanal.value),
                               ("GROUP", "GROUP-A")]
    level1, level2 = two_levels.analysis.result.levels
    assert level1.extensive_expected and level1.group.value == "B"
    assert level2.leakage and not level2.extensive_expected


def test_regions_outline_body_and_cement_on_the_key_slice(two_levels: Built) -> None:
    analysis = two_levels.analysis
    cement = np.asarray(analysis.cement)
    for index, level in enumerate(analysis.result.levels, start=1):
        body = np.asarray(analysis.body_labels) == index
        k = key_slice(body, cement)
        assert np.count_nonzero(body[k] & cement[k]) == np.count_nonzero(
            body & cement, axis=(1, 2)).max()
        key_uid = analysis.slice_sop_instance_uids[k]
        groups = report(two_levels).get_planar_roi_measurement_groups(
            referenced_sop_instance_uid=key_uid)
        mine = [g for g in groups if g.tracking_identifier.startswith(str(level.level))]
        outline = {g.tracking_identifier: g.roi for g in mine}
        body_roi = outline.pop(f"{level.level} vertebral body")
        assert body_roi.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
        points = body_roi.value
        assert np.array_equal(points[0], points[-1])  # closed
        drawn = polygon_mask(points, body[k].shape)
        iou = np.count_nonzero(drawn & body[k]) / np.count_nonzero(drawn | body[k])
        assert iou > 0.9
        islands = np.zeros_like(body[k])
        for roi in outline.values():
            islands |= polygon_mask(roi.value, body[k].shape)
        inside = body[k] & cement[k]
        assert np.count_nonzero(islands & inside) / np.count_nonzero(islands | inside) > 0.85
    l1_cement = [g for g in report(two_levels).get_planar_roi_measurement_groups(
        finding_type=vf_codes.BONE_CEMENT) if g.tracking_identifier.startswith("L1")]
    assert len(l1_cement) == 2  # bipedicular filling: two islands on the key slice
    for group in l1_cement:
        (area, unit), = values(group).values()
        assert unit == "mm2" and 100 < area < 300


def test_sr_declares_the_private_scheme_and_lists_every_code_it_uses(two_levels: Built) -> None:
    sr = two_levels.objects["SR"]
    declared = {item.CodingSchemeDesignator for item in sr.CodingSchemeIdentificationSequence}
    assert vf_codes.SCHEME in declared
    known = {(c.value, c.meaning) for c in vf_codes.private_codes()}
    used = set()

    def walk(dataset: Dataset) -> None:
        for element in dataset:
            if element.VR != "SQ":
                continue
            for item in element.value:
                if item.get("CodingSchemeDesignator") == vf_codes.SCHEME and "CodeValue" in item:
                    used.add((item.CodeValue, item.CodeMeaning))
                walk(item)

    walk(sr)
    assert used and used <= known


def test_observer_procedure_and_evidence(two_levels: Built) -> None:
    sr = two_levels.objects["SR"]
    content = report(two_levels)
    device = content.get_observer_contexts(observer_type=codes.DCM.Device)[0]
    attributes = device.observer_identifying_attributes
    assert attributes.name == "vfnode"
    assert attributes.manufacturer_name == "vfnode project"
    assert attributes.model_name == "vfnode" and attributes.serial_number == "1"
    procedure = [item for item in sr.ContentSequence
                 if item.ConceptNameCodeSequence[0].CodeValue == "121058"]
    assert procedure[0].ConceptCodeSequence[0].CodeValue == "25045-6"
    evidence = {ref.ReferencedSOPInstanceUID
                for study in sr.CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence
                for ref in series.ReferencedSOPSequence}
    assert evidence == set(two_levels.analysis.slice_sop_instance_uids)
    assert sr.CompletionFlag == "COMPLETE" and sr.VerificationFlag == "UNVERIFIED"
    assert sr.SeriesDescription == "vfnode VF% report (CT series 3)"
    assert sr.StudyInstanceUID == two_levels.sources[0].StudyInstanceUID
    assert str(sr.PatientName) == "Müller^Jörg"


def test_default_sr_has_only_planar_groups_with_image_regions(any_case: Built) -> None:
    content = report(any_case)
    assert content.get_volumetric_roi_measurement_groups() == []
    assert content.get_image_measurement_groups() == []
    groups = content.get_planar_roi_measurement_groups()
    assert groups
    for group in groups:
        # OHIF needs a 2-D SCOORD on an image and a tracking UID in every group.
        assert isinstance(group.roi, hd.sr.ImageRegion)
        assert group.tracking_uid


def test_series_without_cement_gets_an_sr_that_says_so(no_cement: Built) -> None:
    (group,) = report(no_cement).get_planar_roi_measurement_groups()
    assert group.tracking_identifier == "No cement found in this series"
    assert values(group) == {"NTREATED": (0.0, "{vertebrae}")}
    assert evaluations(group) == [
        ("CEMENTFOUND", codes.SCT.Absent.value),
        ("FLAG", vf_codes.FLAG_VALUES[Flag.NO_CEMENT_FOUND].value),
    ]
    reference = group.roi.ContentSequence[0].ReferencedSOPSequence[0]
    image = no_cement.by_uid[reference.ReferencedSOPInstanceUID]
    assert group.roi.value.max(axis=0).tolist() == [image.Columns, image.Rows]


def test_volumetric_groups_reference_the_seg_segments(two_levels_volumetric: Built) -> None:
    content = report(two_levels_volumetric)
    seg = two_levels_volumetric.objects["SEG"]
    groups = content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(seg.SegmentSequence)
    by_label = {item.SegmentLabel: item for item in seg.SegmentSequence}
    for group in groups:
        segment = by_label[group.tracking_identifier]
        reference = group.referenced_segment
        assert reference.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert reference.referenced_segment_numbers == [segment.SegmentNumber]
        assert group.tracking_uid == segment.TrackingUID
    assert len(content.get_planar_roi_measurement_groups()) == 5
    evidence = {ref.ReferencedSOPInstanceUID
                for study in two_levels_volumetric.objects["SR"]
                .CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence
                for ref in series.ReferencedSOPSequence}
    assert seg.SOPInstanceUID in evidence


@pytest.mark.parametrize("flag", [Flag.COARSE, Flag.METAL_SUSPECTED])
def test_series_flags_reach_every_vertebra_group(flag: Flag) -> None:
    from results_cases import CREATED
    from synthetic_ct import make_case

    from node.results.build import build_results

    analysis, sources = make_case("one_level", flags=(flag,))
    sr = build_results(analysis, sources, seg=False, summary_image=False, created=CREATED)[0]
    group = hd.sr.Comprehensive3DSR.from_dataset(sr).content.get_planar_roi_measurement_groups(
        finding_type=vf_codes.VERTEBRAL_BODY)[0]
    assert ("FLAG", vf_codes.FLAG_VALUES[flag].value) in evaluations(group)
