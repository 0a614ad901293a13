"""Load: 8 associations at once (8 dcmtk ``storescu`` processes, TCP_NODELAY=1), each
sending one study of 368 CT instances (2 944 in all), into a ``vfnode serve`` that sends
its results to Orthanc. Everything is stored, every study analysed, every result
delivered; throughput and result-latency percentiles are printed (docs/reliability.md).

dcmtk senders, not pynetdicom: pynetdicom 3.0.4 as a sender in 8 threads of one process
loses associations mid-series (DIMSE timeouts on its side), which measures the sender."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.peers.orthanc import Modality, free_port, orthanc_available, start_orthanc, wait_for
from tests.reliability.cases import phantom, relabel
from tests.reliability.nodeproc import NodeProcess
from tests.viewer.demo import RESULT_KINDS, result_series

pytestmark = [
    pytest.mark.peer,
    pytest.mark.slow,
    pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed"),
]

ASSOCIATIONS = 8
EXTRA_CT_SERIES = 3  # 4 reconstructions of the CT series per study
LOAD_NET: dict[str, dict[str, object]] = {}


def test_eight_associations_at_once(tmp_path: Path) -> None:
    base = phantom("two_levels", 3)
    studies = [relabel(base, tmp_path / f"study{i}", f"load{i}", ct_only=True,
                       extra_ct_series=EXTRA_CT_SERIES) for i in range(ASSOCIATIONS)]
    total = sum(len(s.files) for s in studies)
    assert total >= 2400
    node = NodeProcess(tmp_path / "node", port=free_port(), stable_seconds=3.0,
                       extra={"jobs": {"workers": 2}, **LOAD_NET})
    orthanc = start_orthanc(tmp_path / "orthanc",
                            modalities={"vfnode": Modality("VFNODE", node.port)})
    node.destinations = [orthanc.address]
    node.start()
    try:
        started = time.monotonic()
        senders = [subprocess.Popen(
            ["storescu", "-aet", "LOADER", "-aec", "VFNODE", "127.0.0.1", str(node.port),
             *map(str, s.files)], env=dict(os.environ, TCP_NODELAY="1"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for s in studies]
        ended: dict[int, float] = {}
        arrival: dict[str, float] = {}

        def delivered() -> bool:
            for s in studies:
                if s.study_uid not in arrival and set(RESULT_KINDS) <= set(
                        result_series(orthanc, s.study_uid)):
                    arrival[s.study_uid] = time.monotonic()
            return len(arrival) == len(studies)
        # Results are looked for while the studies are still arriving: a series is
        # analysed as soon as it is complete, often before its study's last instance.
        def sending() -> bool:
            delivered()
            return _all_ended(senders, ended)
        wait_for(sending, 600, "the 8 senders must finish", interval=0.2)
        last_instance = max(ended.values())
        outputs = [p.communicate()[0] for p in senders]
        codes = [p.returncode for p in senders]
        assert codes == [0] * ASSOCIATIONS, [o[-500:] for o in outputs]
        wait_for(delivered, 900, "every study's results must reach Orthanc", interval=0.5)
        node.wait_outbox_empty(60)
        node.wait_jobs_done(ASSOCIATIONS * (1 + EXTRA_CT_SERIES), 600)
        settled = time.monotonic()
        stored = node.query("SELECT COUNT(*) FROM instances")[0][0]
        jobs = node.query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        assert node.alive()
    finally:
        node.stop()
        orthanc.stop()
    assert stored == total
    assert dict(jobs).get("failed", 0) == 0, jobs
    receive_s = last_instance - started
    per_assoc = np.array([ended[i] - started for i in range(ASSOCIATIONS)])
    result_latency = np.array([arrival[s.study_uid] - ended[i]
                               for i, s in enumerate(studies)])
    p50, p95, p100 = np.percentile(result_latency, [50, 95, 100])
    print(f"load: {ASSOCIATIONS} associations (storescu, TCP_NODELAY=1), {total} instances "
          f"in {receive_s:.1f} s = {total / receive_s:.0f} instances/s "
          f"({total / ASSOCIATIONS / per_assoc.mean():.0f}/s per association, each took "
          f"{per_assoc.min():.1f}-{per_assoc.max():.1f} s); results in Orthanc after the "
          f"study's last instance (negative: before it): p50 {p50:.0f} s, p95 {p95:.0f} s, "
          f"max {p100:.0f} s; "
          f"every job settled {settled - last_instance:.0f} s after the last instance; "
          f"jobs {dict(jobs)}")


def _all_ended(senders: list[subprocess.Popen[str]], ended: dict[int, float]) -> bool:
    for i, proc in enumerate(senders):
        if i not in ended and proc.poll() is not None:
            ended[i] = time.monotonic()
    return len(ended) == len(senders)
