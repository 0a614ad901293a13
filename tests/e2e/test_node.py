"""``vfnode serve`` as a process between dcmtk storescu (modality) and storescp (PACS)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom import config as pydicom_config
from pydicom import dcmread

from node.config.settings import Destination
from node.net import status
from node.net.scu import send_files
from node.registry import Registry
from tests.e2e.harness import Node, Pacs, echo_ok
from tests.net.dicomgen import LOOPBACK, truncate_pixels, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.slow]


def numeric_values(ds: object) -> dict[str, float]:
    """Concept meaning -> value of every NUM item in an SR content tree."""
    found: dict[str, float] = {}
    for item in getattr(ds, "ContentSequence", []):
        if item.ValueType == "NUM":
            meaning = item.ConceptNameCodeSequence[0].CodeMeaning
            found[meaning] = float(item.MeasuredValueSequence[0].NumericValue)
        found.update(numeric_values(item))
    return found


def all_delivered(node: Node) -> bool:
    states = [s for (s,) in node.query("SELECT state FROM outbox")]
    return bool(states) and set(states) == {"delivered"}


def ct_series(phantom: Path) -> list[Path]:
    return sorted((phantom / "ct").glob("*.dcm"))


@pytest.fixture
def pacs(tmp_path: Path) -> Pacs:
    peer = Pacs(tmp_path / "pacs").start()
    yield peer
    peer.stop()


def test_study_to_pacs_matches_record_and_bad_input_is_refused(
        tmp_path: Path, phantom: Path, pacs: Pacs) -> None:
    node = Node(tmp_path / "node", env={
        "VFNODE_NET_ALLOWED_CALLING_AES": "STORESCU,VFTEST",
        "VFNODE_OUTBOX_DESTINATIONS": f"PACS@{LOOPBACK}:{pacs.port}"}).start()
    try:
        assert not echo_ok("VFNODE", node.port, calling="INTRUDER")
        assert 'calling AE "INTRUDER" is not in net.allowed_calling_aes' in node.log
        series = ct_series(phantom)
        bad = truncate_pixels(series[0], tmp_path / "bad.dcm")
        report = send_files([bad], Destination("VFNODE", LOOPBACK, node.port),
                            calling_ae="VFTEST")
        assert report.refused == {bad: status.CANNOT_UNDERSTAND}
        node.storescu(phantom / "ct", phantom / "localizer")
        wait_for(lambda: all_delivered(node), 120, "SR, SEG and summary at the PACS")
        with pydicom_config.strict_reading():
            objects = {str(ds.Modality): ds for ds in pacs.objects()}
    finally:
        node.stop()
    sr, seg = objects["SR"], objects["SEG"]
    ct_uids = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in series}
    ct_series_uid = dcmread(series[0], stop_before_pixels=True).SeriesInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct_series_uid
    assert {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0]
            .ReferencedInstanceSequence} <= ct_uids
    [(analysis_id,)] = node.query("SELECT analysis_id FROM jobs WHERE state = 'done' "
                                  "AND analysis_id IS NOT NULL")
    with Registry(f"sqlite:///{node.data_dir / 'vfnode.db'}") as registry:
        detail = registry.analysis(int(analysis_id))
    assert set(detail.result_sop_instance_uids) == {str(ds.SOPInstanceUID)
                                                    for ds in objects.values()}
    assert [d.delivered for d in detail.deliveries] == [True]
    level = detail.record["levels"][0]
    values = numeric_values(sr)
    vf = [v for k, v in values.items() if "fraction" in k.lower()]
    assert vf and vf[0] == pytest.approx(level["vf_pct"], abs=0.01)
    # every number of the record's level is somewhere in the SR (accuracy against the
    # phantom's truth is the analysis suite's business, not the node's)
    for key in ("vbv_ml", "cdv_ml"):
        assert any(v == pytest.approx(level[key], abs=0.001) for v in values.values()), key


def test_destination_down_at_first_gets_results_later(tmp_path: Path, phantom: Path) -> None:
    pacs = Pacs(tmp_path / "pacs")  # not started yet
    node = Node(tmp_path / "node", env={
        "VFNODE_OUTBOX_DESTINATIONS": f"PACS@{LOOPBACK}:{pacs.port}",
        "VFNODE_OUTBOX_RETRY_INITIAL_S": "1", "VFNODE_OUTBOX_RETRY_MAX_S": "2"}).start()
    try:
        node.storescu(phantom / "ct")
        wait_for(lambda: node.query("SELECT 1 FROM outbox WHERE attempts >= 1 AND "
                                    "state = 'pending'"), 120, "a failed delivery attempt")
        node.kill9()  # the outbox must survive a restart too
        node.start()
        pacs.start()
        wait_for(lambda: all_delivered(node), 60, "SR, SEG and summary delivered")
        rows = node.query("SELECT sop_instance_uid, state FROM outbox")
    finally:
        node.stop()
        pacs.stop()
    delivered = {str(ds.SOPInstanceUID) for ds in pacs.objects()}
    assert {uid for uid, state in rows} == delivered  # resent objects keep their UIDs
    assert {state for _, state in rows} == {"delivered"}


def test_kill9_during_receipt_and_analysis_loses_nothing(tmp_path: Path, phantom: Path,
                                                         pacs: Pacs) -> None:
    node = Node(tmp_path / "node", env={
        "VFNODE_OUTBOX_DESTINATIONS": f"PACS@{LOOPBACK}:{pacs.port}"}).start(stable_seconds=2)
    series = ct_series(phantom)
    acknowledged: list[Path] = []
    address = Destination("VFNODE", LOOPBACK, node.port)

    def kill_midway(path: Path, code: int | None) -> None:
        if code == status.SUCCESS:
            acknowledged.append(path)
        if len(acknowledged) == len(series) // 2:
            node.kill9()

    try:
        send_files(series, address, calling_ae="MODALITY", max_associations=1,
                   progress=kill_midway)
        assert len(acknowledged) == len(series) // 2
        node.start(stable_seconds=2)
        stored = {Path(p).stem for (p,) in node.query("SELECT path FROM instances")}
        acked = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in acknowledged}
        assert acked <= stored  # nothing acknowledged was lost
        # The node analyses the half it kept before the PACS sends again, so the job the
        # second kill hits is the one that reads the whole series.
        wait_for(lambda: node.query("SELECT 1 FROM jobs WHERE state = 'done'") and not
                 node.query("SELECT 1 FROM jobs WHERE state != 'done'"), 60,
                 "the half series is handled")
        report = send_files(series, address, calling_ae="MODALITY")  # the PACS sends again
        assert len(report.stored) == len(series)
        wait_for(lambda: node.query("SELECT 1 FROM jobs WHERE state = 'running' AND "
                                    "generation = 2"), 60, "the whole series is analysed")
        node.kill9()
        node.start(stable_seconds=2)
        wait_for(lambda: node.query("SELECT 1 FROM jobs WHERE state = 'done' AND generation = 2")
                 and all_delivered(node), 120, "results after restart")
        jobs = node.query("SELECT generation, state, attempts, outcome FROM jobs ORDER BY id")
        delivered = node.query("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'")
    finally:
        node.stop()
    assert [job[:3] for job in jobs] == [(1, "done", 1), (2, "done", 2)]
    assert str(jobs[1][3]).startswith("analysed")
    analysed = sum(str(job[3]).startswith("analysed") for job in jobs)
    assert pacs.modalities().count("SR") == analysed and delivered[0][0] == len(pacs.objects())
    assert "recovered interrupted jobs requeued=1" in node.log
    shutil.rmtree(node.data_dir / "results", ignore_errors=True)


def test_late_instances_queue_a_reanalysis_that_replaces_the_sr(tmp_path: Path, phantom: Path,
                                                                pacs: Pacs) -> None:
    node = Node(tmp_path / "node", env={
        "VFNODE_OUTBOX_DESTINATIONS": f"PACS@{LOOPBACK}:{pacs.port}"}).start(stable_seconds=2)
    # the lower two thirds first, then the rest: each part is a gap-free slab
    series = sorted(ct_series(phantom), key=lambda p: float(
        dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]))
    cut = len(series) * 2 // 3
    early, late = tmp_path / "early", tmp_path / "late"
    for folder, part in ((early, series[:cut]), (late, series[cut:])):
        folder.mkdir()
        for path in part:
            (folder / path.name).symlink_to(path)
    try:
        node.storescu(early)
        wait_for(lambda: all_delivered(node), 120, "results of the first analysis")
        first_sr = {str(ds.SOPInstanceUID) for ds in pacs.objects() if ds.Modality == "SR"}
        node.storescu(late)
        wait_for(lambda: node.query("SELECT 1 FROM jobs WHERE generation = 2 AND state = "
                                    "'done'") and all_delivered(node), 120, "re-analysis")
        jobs = node.query("SELECT generation, outcome FROM jobs ORDER BY id")
    finally:
        node.stop()
    assert [g for g, _ in jobs] == [1, 2]
    srs = [ds for ds in pacs.objects() if ds.Modality == "SR"]
    newer = [ds for ds in srs if str(ds.SOPInstanceUID) not in first_sr]
    assert len(first_sr) == 1 and len(newer) == 1
    predecessors = {item.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
                    .ReferencedSOPInstanceUID
                    for item in newer[0].PredecessorDocumentsSequence}
    assert predecessors == first_sr
