"""Faults around a running ``vfnode serve``:

- the PACS (Orthanc) is down for a while: the results wait in the outbox, are retried
  with backoff and arrive once it is back;
- the disk is full (the data folder on a small tmpfs): C-STORE answers Out of Resources,
  the node keeps running, nothing it accepted is corrupt, and it takes the rest once
  space returns.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from node.net import status
from tests.peers.orthanc import Modality, free_port, orthanc_available, start_orthanc, wait_for
from tests.reliability.cases import phantom, relabel
from tests.reliability.nodeproc import NodeProcess
from tests.reliability.sender import send_files
from tests.viewer.demo import RESULT_KINDS, result_series

pytestmark = pytest.mark.peer


@pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed")
def test_results_wait_while_orthanc_is_down(tmp_path: Path) -> None:
    study = relabel(phantom("two_levels", 3), tmp_path / "study", "down")
    node = NodeProcess(tmp_path / "node", port=free_port(), stable_seconds=1.0)
    orthanc = start_orthanc(tmp_path / "orthanc",
                            modalities={"vfnode": Modality("VFNODE", node.port)})
    node.destinations = [orthanc.address]
    orthanc.stop()  # the PACS goes down before the node has anything to send
    node.start()
    try:
        sent = send_files(study.files, node.port)
        assert len(sent.succeeded()) == len(study.files)

        def retried() -> bool:
            rows = node.query("SELECT MIN(attempts) FROM outbox WHERE state = 'pending'")
            return bool(rows and rows[0][0] is not None and rows[0][0] >= 2)
        wait_for(retried, 120, "the results must wait in the outbox and be retried",
                 interval=0.5)
        waiting = node.query("SELECT COUNT(*), MAX(attempts), MAX(last_error) FROM outbox "
                             "WHERE state = 'pending'")[0]
        back = time.monotonic()
        orthanc.restart()
        node.wait_outbox_empty(60)
        delay = time.monotonic() - back
        found = result_series(orthanc, study.study_uid)
        assert set(RESULT_KINDS) <= set(found), sorted(found)
        assert node.alive()
    finally:
        node.stop()
        orthanc.stop()
    print(f"outbox while down: {waiting[0]} objects, up to {waiting[1]} attempts, "
          f"last error {waiting[2]!r}; delivered {delay:.1f} s after Orthanc returned")
    assert waiting[2], "the outbox must keep the last error"


@contextlib.contextmanager
def small_tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                              str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (root needed): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def resize(path: Path, size_mb: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_mb}m", str(path)], check=True,
                   capture_output=True)


def test_disk_full_answers_out_of_resources_and_recovers(tmp_path: Path) -> None:
    study = relabel(phantom("two_levels", 3), tmp_path / "study", "full")
    with small_tmpfs(tmp_path / "disk", 6) as disk:
        node = NodeProcess(tmp_path / "node", stable_seconds=1.0,
                           extra={"storage": {"data_dir": str(disk / "data"),
                                              "min_free_mb": 1}})
        node.start()
        try:
            first = send_files(study.files, node.port)
            codes = list(first.status.values())
            refused = [p for p, code in first.status.items() if code != 0]
            assert status.OUT_OF_RESOURCES in codes, codes
            assert None not in codes
            assert node.alive() and node.echo()
            check_accepted(node, first.succeeded())
            resize(disk, 200)  # space returns
            back = time.monotonic()
            # As a PACS does: resend what was refused until it is taken. The node re-reads
            # the free space at most once a second, so the first retry may still be refused.
            pending, rounds, stored_later = refused, 0, []
            while pending and time.monotonic() - back < 20:
                again = send_files(pending, node.port)
                assert again.unanswered() == [], again.error
                stored_later += again.succeeded()
                pending = [p for p, code in again.status.items() if code != 0]
                rounds += 1
            recovery = time.monotonic() - back
            assert pending == [], f"{len(pending)} still refused 20 s after space returned"
            check_accepted(node, first.succeeded() + stored_later)
            node.wait_jobs_done(1, 120)
            assert node.alive()
        finally:
            node.stop()
    print(f"disk full: {len(first.succeeded())} stored, {len(refused)} refused with "
          f"{sorted({f'0x{c:04X}' for c in codes if c})}; all {len(refused)} stored "
          f"{recovery:.1f} s after space returned ({rounds} sending rounds)")


def check_accepted(node: NodeProcess, paths: list[Path]) -> None:
    """Every acknowledged instance is indexed, and its file is whole (pixels decode)."""
    indexed = dict(node.query("SELECT sop_instance_uid, path FROM instances"))
    for path in paths:
        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        stored = pydicom.dcmread(indexed[sop])
        original = pydicom.dcmread(path)
        assert stored.PixelData == original.PixelData, path.name
