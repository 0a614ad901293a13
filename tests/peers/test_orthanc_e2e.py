"""Orthanc as the hospital PACS, end to end, through a real ``vfnode serve``:

- push: a phantom study uploaded to Orthanc by REST is sent by Orthanc to vfnode
  (``/modalities/vfnode/store``); the SR, SEG and summary image come back into the same
  study, reference the right CT instances and carry the values of the result record;
- pull: ``vfnode fetch STUDY_UID --from ORTHANC@...`` moves a study from Orthanc into the
  node by C-MOVE, and its results reach Orthanc too.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import pydicom
import pytest

from node.registry import Registry
from node.results import codes as vf_codes
from tests.peers.orthanc import Modality, OrthancPeer, orthanc_available, start_orthanc, wait_for
from tests.reliability.cases import PhantomCase, phantom
from tests.reliability.nodeproc import NodeProcess, run_cli

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed"),
]

@dataclass
class Pacs:
    orthanc: OrthancPeer
    node: NodeProcess


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pacs]:
    root = tmp_path_factory.mktemp("orthanc-e2e")
    node = NodeProcess(root / "node", allowed=("ORTHANC", "ECHOSCU"))
    orthanc = start_orthanc(root / "orthanc", modalities={"vfnode": Modality("VFNODE",
                                                                             node.port)})
    node.destinations = [orthanc.address]
    try:
        node.start()
        yield Pacs(orthanc, node)
    finally:
        node.stop()
        orthanc.stop()


def series_by_modality(orthanc: OrthancPeer, study_uid: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for series in orthanc.study_series(study_uid):
        out.setdefault(series["MainDicomTags"].get("Modality", ""), []).append(series)
    return out


def wait_results(orthanc: OrthancPeer, study_uid: str, timeout: float = 180
                 ) -> dict[str, list[dict[str, Any]]]:
    def arrived() -> dict[str, list[dict[str, Any]]] | None:
        found = series_by_modality(orthanc, study_uid)
        return found if {"SR", "SEG"} <= set(found) else None
    result = wait_for(arrived, timeout, f"SR and SEG must arrive in study {study_uid}",
                      interval=1.0)
    return result  # type: ignore[return-value]


def instance_datasets(orthanc: OrthancPeer, series: dict[str, Any]) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(io.BytesIO(orthanc.instance_file(i))) for i in series["Instances"]]


def orthanc_ct_uids(orthanc: OrthancPeer, case: PhantomCase) -> set[str]:
    for series in orthanc.study_series(case.study_uid):
        if series["MainDicomTags"].get("SeriesInstanceUID") == case.ct_series_uid:
            return {orthanc.get(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"]
                    for i in series["Instances"]}
    raise AssertionError(f"the CT series {case.ct_series_uid} must be in Orthanc")


def result_record(node: NodeProcess, series_uid: str) -> tuple[dict[str, Any], list[str]]:
    rows = node.query("SELECT analysis_id FROM jobs WHERE series_instance_uid = ? AND "
                      "state = 'done' AND analysis_id IS NOT NULL ORDER BY id DESC",
                      (series_uid,))
    assert rows, f"the node must have analysed series {series_uid}"
    registry = Registry(f"sqlite:///{node.data_dir / 'vfnode.db'}")
    try:
        detail = registry.analysis(int(rows[0][0]))
    finally:
        registry.close()
    return detail.record, detail.result_sop_instance_uids


def sr_levels(sr: pydicom.Dataset) -> dict[str, dict[str, float]]:
    """Tracking identifier of each vertebral-body group -> its numeric measurements."""
    content = hd.sr.Comprehensive3DSR.from_dataset(sr).content
    out = {}
    for group in content.get_planar_roi_measurement_groups(
            finding_type=vf_codes.VERTEBRAL_BODY):
        out[str(group.tracking_identifier)] = {
            m.name.value: float(m.value) for m in group.get_measurements()}
    return out


def check_results(pacs: Pacs, case: PhantomCase) -> None:
    """SR, SEG and summary image in the study, on the CT, with the record's values."""
    found = wait_results(pacs.orthanc, case.study_uid)
    ct_uids = orthanc_ct_uids(pacs.orthanc, case)
    assert ct_uids == case.ct_sop_uids()
    (sr,) = instance_datasets(pacs.orthanc, found["SR"][0])
    (seg,) = instance_datasets(pacs.orthanc, found["SEG"][0])
    for ds in (sr, seg):
        assert ds.StudyInstanceUID == case.study_uid
        assert ds.PatientID == pydicom.dcmread(case.ct_files[0]).PatientID
    evidence = {item.ReferencedSOPInstanceUID
                for study in sr.CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence
                for item in series.ReferencedSOPSequence}
    assert evidence and evidence <= ct_uids
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == case.ct_series_uid
    seg_sources = {src.ReferencedSOPInstanceUID for frame in seg.PerFrameFunctionalGroupsSequence
                   for derivation in frame.DerivationImageSequence
                   for src in derivation.SourceImageSequence}
    assert seg_sources and seg_sources <= ct_uids
    record, result_uids = result_record(pacs.node, case.ct_series_uid)
    assert {sr.SOPInstanceUID, seg.SOPInstanceUID} <= set(result_uids)
    levels = sr_levels(sr)
    assert len(levels) == len(record["levels"]) >= 1
    for level in record["levels"]:
        (values,) = [v for name, v in levels.items()
                     if name == f"{level['level'] or 'vertebra'} vertebral body"
                     or abs(v["VF"] - level["vf_pct"]) < 1e-6]
        assert values["VBV"] == pytest.approx(level["vbv_ml"], abs=5e-4)
        assert values["CDV"] == pytest.approx(level["cdv_ml"], abs=5e-4)
        assert values["VF"] == pytest.approx(level["vf_pct"], abs=5e-3)
        assert values["SCORE-TOTAL"] == level["score"]["total"]
        assert values["EXTRAVOL"] == pytest.approx(level["extravertebral_ml"]["total"],
                                                   abs=5e-4)


def test_orthanc_sends_study_and_gets_sr_seg_summary(pacs: Pacs) -> None:
    case = phantom("two_levels", 3)
    pacs.orthanc.upload(case.files)
    study_id = pacs.orthanc.find_study(case.study_uid)
    assert study_id is not None
    answer = pacs.orthanc.store_to("vfnode", [study_id])
    assert answer["InstancesCount"] == len(case.files), answer
    check_results(pacs, case)
    summaries = [s for s in pacs.orthanc.study_series(case.study_uid)
                 if s["MainDicomTags"].get("SeriesDescription", "")
                 .startswith("vfnode VF% summary")]
    assert len(summaries) == 1
    (image,) = instance_datasets(pacs.orthanc, summaries[0])
    assert image.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
    assert image.StudyInstanceUID == case.study_uid


def test_fetch_pulls_a_study_from_orthanc_by_cmove(pacs: Pacs) -> None:
    case = phantom("no_leak", 4)
    pacs.orthanc.upload(case.files)
    before = {s["ID"] for s in pacs.orthanc.study_series(case.study_uid)}
    result = run_cli("--config", str(pacs.node.config()), "fetch", case.study_uid,
                     "--from", pacs.orthanc.address, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"completed {len(case.files)}, failed 0" in result.stdout
    check_results(pacs, case)
    after = {s["ID"] for s in pacs.orthanc.study_series(case.study_uid)}
    assert len(after - before) >= 2


def test_record_is_close_to_the_phantom_truth(pacs: Pacs) -> None:
    """Within the accuracy limits of issue 4: every treated level found, VF% within 3."""
    case = phantom("two_levels", 3)
    record, _ = result_record(pacs.node, case.ct_series_uid)
    truth = sorted(case.truth["levels"], key=lambda lv: lv["centroid_mm"][2])
    found = sorted(record["levels"], key=lambda lv: lv["centroid_mm"][2])
    assert len(found) == len(truth)
    for got, want in zip(found, truth, strict=True):
        # The spec names a level only when it can be named; a name given must be right.
        assert got["level"] in (None, want["level"])
        assert math.dist(got["centroid_mm"], want["centroid_mm"]) < 15.0
        assert got["vf_pct"] == pytest.approx(want["vf_pct"], abs=3.0)
        assert abs(got["score"]["total"] - want["score"]["total"]) <= 1
