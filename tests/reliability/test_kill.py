"""``kill -9`` of the whole node at 20 random points — during receipt, during analysis and
during sending — with Orthanc as the PACS that gets the results.

Afterwards: every instance the node acknowledged is on disk and indexed, every series is
analysed once in effect (one SR, one SEG and one summary image per series in Orthanc: a
rerun after a kill makes the same objects with the same UIDs), every result reached
Orthanc, and no SR/SEG UID is duplicated.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from pathlib import Path

import pytest

from node.storage.header import read_header
from tests.peers.orthanc import (
    Modality,
    OrthancPeer,
    free_port,
    orthanc_available,
    start_orthanc,
    wait_for,
)
from tests.reliability.cases import Relabelled, phantom, relabel
from tests.reliability.nodeproc import NodeProcess
from tests.reliability.sender import SendLog, send_files

pytestmark = [
    pytest.mark.peer,
    pytest.mark.slow,
    pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed"),
]

ROUNDS = 20
PHASES = ("receipt", "analysis", "sending")


def _job_running(node: NodeProcess, series_uid: str) -> bool:
    return bool(node.query("SELECT 1 FROM jobs WHERE series_instance_uid = ? AND "
                           "state = 'running'", (series_uid,)))


def _in_outbox(node: NodeProcess, series_uid: str) -> bool:
    return bool(node.query(
        "SELECT 1 FROM outbox o JOIN jobs j ON o.job_id = j.id WHERE "
        "j.series_instance_uid = ?", (series_uid,)))


def _result_uids(orthanc: OrthancPeer, study_uid: str) -> dict[str, set[str]]:
    """SOP Instance UIDs of the study's vfnode results in Orthanc, by kind."""
    out: dict[str, set[str]] = {"SR": set(), "SEG": set(), "summary": set()}
    for series in orthanc.study_series(study_uid):
        tags = series["MainDicomTags"]
        kind = tags.get("Modality") if tags.get("Modality") in ("SR", "SEG") else (
            "summary" if tags.get("SeriesDescription", "").startswith("vfnode VF% summary")
            else None)
        if kind:
            out[kind] |= {orthanc.get(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"]
                          for i in series["Instances"]}
    return out


def _state(node: NodeProcess) -> str:
    jobs = dict(node.query("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
    box = dict(node.query("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
    return f"jobs={jobs} outbox={box}"


def kill_round(node: NodeProcess, study: Relabelled, phase: str, rng: random.Random,
               logs: list[SendLog]) -> str:
    """Send one study and kill the node at a random moment of ``phase``; restart it."""
    series = study.ct_series_uids[0]
    if phase == "receipt":
        log = SendLog()
        logs.append(log)
        sender = threading.Thread(target=send_files, args=(study.files, node.port),
                                  kwargs={"log": log, "dimse_timeout": 10})
        sender.start()
        wait_for(lambda: len(log.status) > 0, 30, "the first instance must be answered",
                 interval=0.01)
        time.sleep(rng.uniform(0.0, 0.3))  # the random kill point
        state = f"{len(log.status)}/{len(study.files)} instances answered"
        node.kill9()
        sender.join(60)
    else:
        logs.append(send_files(study.files, node.port))
        ready = _job_running if phase == "analysis" else _in_outbox
        wait_for(lambda: ready(node, series), 120, f"{phase} of {series} must start",
                 interval=0.02)
        # Sending three objects to Orthanc takes about 0.1 s: kill within that window.
        time.sleep(rng.uniform(0.0, 1.5 if phase == "analysis" else 0.1))
        state = _state(node)
        node.kill9()
    node.start()
    if phase == "receipt":  # the PACS resends what the node never acknowledged
        unacked = [p for p in study.files if logs[-1].status.get(p) != 0]
        logs.append(send_files(unacked, node.port))
    return state


def test_kill9_at_20_random_points_loses_nothing(tmp_path: Path) -> None:
    # One treated level: the kills are the point, not the analysis, whose time would
    # otherwise dominate 20 rounds.
    base = phantom("no_leak", 4)
    studies = [relabel(base, tmp_path / f"study{i}", f"kill{i}", ct_only=True)
               for i in range(ROUNDS)]
    node = NodeProcess(tmp_path / "node", port=free_port(), stable_seconds=2.0,
                       extra={"jobs": {"workers": 2}})
    orthanc = start_orthanc(tmp_path / "orthanc",
                            modalities={"vfnode": Modality("VFNODE", node.port)})
    node.destinations = [orthanc.address]
    rng = random.Random(20241124)
    logs: list[SendLog] = []
    kills: list[str] = []
    started = time.monotonic()
    node.start()
    try:
        for i, study in enumerate(studies):
            phase = PHASES[i % len(PHASES)]
            kills.append(f"{i:2d} {phase:9s} {kill_round(node, study, phase, rng, logs)}")
        node.wait_jobs_done(ROUNDS, 600)
        node.wait_outbox_empty(300)
        indexed = dict(node.query("SELECT sop_instance_uid, path FROM instances"))
        jobs = node.query("SELECT series_instance_uid, state, attempts, outcome FROM jobs")
        in_orthanc = {s.study_uid: _result_uids(orthanc, s.study_uid) for s in studies}
        sent = {s.study_uid: set(uid for (uid,) in node.query(
            "SELECT DISTINCT o.sop_instance_uid FROM outbox o JOIN jobs j ON o.job_id = j.id "
            "WHERE j.series_instance_uid = ? AND o.state = 'delivered'",
            (s.ct_series_uids[0],))) for s in studies}
    finally:
        node.stop()
        orthanc.stop()
    acked = {p for log in logs for p in log.succeeded()}
    for path in acked:
        sop = read_header(path.read_bytes()).sop_instance_uid
        assert sop in indexed and read_header(Path(indexed[sop]).read_bytes())
    all_sops = {sop for s in studies for sop in s.sop_uids}
    assert all_sops <= set(indexed), "every instance must be stored after the resends"
    # Every result object the node made reached Orthanc and Orthanc holds no other: a job
    # run again after a kill makes the same objects with the same UIDs. A series analysed
    # again because instances came after its job was queued may supersede its results
    # (new UIDs) or, with an identical result, rebuild the same ones.
    analysed = collections.Counter(uid for uid, state, _, outcome in jobs
                                   if state == "done" and outcome.startswith("analysed"))
    for study in studies:
        kinds = in_orthanc[study.study_uid]
        generations = analysed[study.ct_series_uids[0]]
        assert generations >= 1, study.study_uid
        assert 1 <= len(kinds["SR"]) == len(kinds["SEG"]) == len(kinds["summary"]) \
            <= generations, (study.study_uid, kinds, generations)
        assert set().union(*kinds.values()) == sent[study.study_uid], study.study_uid
    assert not [j for j in jobs if j[1] == "failed"], jobs
    regenerated = sum(1 for n in analysed.values() if n > 1)
    print(f"{ROUNDS} kills in {time.monotonic() - started:.0f} s; acknowledged "
          f"{len(acked)} files; jobs {len(jobs)} (attempts max "
          f"{max(j[2] for j in jobs)}); series analysed again after late instances: "
          f"{regenerated}\n" + "\n".join(kills))
