"""The Orthanc test PACS works as a PACS: REST upload, C-STORE out to a dcmtk storescp,
only declared AEs may store, DICOMweb when asked."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from tests.peers.orthanc import (
    Modality,
    OrthancPeer,
    dicomweb_available,
    free_port,
    orthanc_available,
    start_orthanc,
    wait_for,
)
from tests.reliability.ctgen import write_ct_series

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed"),
]


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[tuple[Modality, Path]]:
    """A dcmtk storescp writing to a folder, as the destination of Orthanc's C-STORE."""
    out = tmp_path / "storescp"
    out.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        ["storescp", "--aetitle", "STORESCP", "--output-directory", str(out), str(port)],
        env=dict(os.environ, TCP_NODELAY="1"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _echo("STORESCP", port), 15, "storescp must answer C-ECHO")
        yield Modality("STORESCP", port), out
    finally:
        proc.terminate()
        proc.wait(10)


def _echo(called: str, port: int, calling: str = "ECHOSCU") -> bool:
    result = subprocess.run(["echoscu", "-aet", calling, "-aec", called, "127.0.0.1", str(port)],
                            capture_output=True, timeout=10)
    return result.returncode == 0


def test_upload_by_rest_and_cstore_to_storescp(
    tmp_path: Path, storescp: tuple[Modality, Path]
) -> None:
    modality, out = storescp
    series = write_ct_series(tmp_path / "ct", slices=5, seed=1)
    peer = start_orthanc(tmp_path / "orthanc", modalities={"storescp": modality})
    try:
        ids = peer.upload(series.paths)
        assert len(set(ids)) == 5
        study_id = peer.find_study(series.study_uid)
        assert study_id is not None
        answer = peer.store_to("storescp", [study_id])
        assert answer["InstancesCount"] == 5, answer
        received = {str(pydicom.dcmread(p).SOPInstanceUID) for p in out.iterdir()}
        assert received == set(series.sop_uids)
        config = json.loads((peer.root / "orthanc.json").read_text())
        assert config["DicomModalities"]["storescp"]["AET"] == "STORESCP"
        assert (peer.root / "storage" / "index").exists()
    finally:
        peer.stop()
    assert peer.process.returncode is not None


def test_only_declared_aes_store(tmp_path: Path) -> None:
    series = write_ct_series(tmp_path / "ct", slices=2, seed=2)
    peer = start_orthanc(tmp_path / "orthanc", modalities={"vfnode": Modality("VFNODE", 1)})
    try:
        stranger = _storescu(peer, "STRANGER", series.paths)
        assert stranger.returncode != 0
        assert peer.statistics()["CountInstances"] == 0
        # A declared AE must also come from its declared host (DicomCheckModalityHost).
        known = _storescu(peer, "VFNODE", series.paths)
        assert known.returncode == 0, known.stderr
        assert peer.statistics()["CountInstances"] == 2
    finally:
        peer.stop()


def _storescu(peer: OrthancPeer, calling: str, paths: tuple[Path, ...]
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["storescu", "-aet", calling, "-aec", peer.ae_title, "127.0.0.1",
         str(peer.dicom_port), *map(str, paths)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, TCP_NODELAY="1"),
    )


@pytest.mark.skipif(not dicomweb_available(), reason="orthanc-dicomweb is not installed")
def test_dicomweb_lists_the_study(tmp_path: Path) -> None:
    series = write_ct_series(tmp_path / "ct", slices=3, seed=3)
    peer = start_orthanc(tmp_path / "orthanc", dicomweb=True)
    try:
        peer.upload(series.paths)
        studies = json.loads(peer.request("GET", "/dicom-web/studies"))
        uids = [s["0020000D"]["Value"][0] for s in studies]
        assert uids == [series.study_uid]
    finally:
        peer.stop()
