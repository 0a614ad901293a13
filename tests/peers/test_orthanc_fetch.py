"""``vfnode fetch STUDY_UID --from AE@HOST:PORT`` pulls a study from Orthanc by C-MOVE."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pydicom
import pytest

from node.cli.main import main
from tests.peers.orthanc import Modality, free_port, orthanc_available, start_orthanc, wait_for
from tests.reliability.ctgen import write_ct_series

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed"),
]


def test_fetch_moves_the_study_to_the_node_ae(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The move destination is the node's AE title; here a storescp answers under it, so
    the C-MOVE client is checked on its own (the node receiving it: test_orthanc_e2e)."""
    received = tmp_path / "received"
    received.mkdir()
    port = free_port()
    scp = subprocess.Popen(["storescp", "--aetitle", "FETCHER", "--output-directory",
                            str(received), str(port)], env=dict(os.environ, TCP_NODELAY="1"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    series = write_ct_series(tmp_path / "ct", slices=6, seed=11)
    other = write_ct_series(tmp_path / "other", slices=2, seed=12)
    peer = start_orthanc(tmp_path / "orthanc", modalities={"node": Modality("FETCHER", port)})
    try:
        wait_for(lambda: subprocess.run(["echoscu", "-aec", "FETCHER", "127.0.0.1", str(port)],
                                        capture_output=True, timeout=10).returncode == 0,
                 15, "storescp must answer C-ECHO before Orthanc moves to it")
        peer.upload(series.paths + other.paths)
        config = tmp_path / "vfnode.toml"
        config.write_text('[net]\nae_title = "FETCHER"\n')
        code = main(["--config", str(config), "fetch", series.study_uid,
                     "--from", peer.address])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "completed 6, failed 0" in out
        wait_for(lambda: len(list(received.iterdir())) == 6, 10, "6 files must arrive")
        got = {str(pydicom.dcmread(p).SOPInstanceUID) for p in received.iterdir()}
        assert got == set(series.sop_uids)
        # An unknown study: Orthanc answers a failure status (0xC000); fetch says so.
        missing = main(["--config", str(config), "fetch", "1.2.3.4.5", "--from", peer.address])
        assert missing == 1
        assert "0xC000; completed 0" in capsys.readouterr().out
    finally:
        peer.stop()
        scp.terminate()
        scp.wait(10)


def test_fetch_refused_by_unknown_pacs_says_why(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    peer = start_orthanc(tmp_path / "orthanc")  # knows no modality: Orthanc aborts the C-MOVE
    try:
        code = main(["fetch", "1.2.3", "--from", peer.address])
    finally:
        peer.stop()
    assert code == 1
    assert "must answer the C-MOVE of study 1.2.3" in capsys.readouterr().err
