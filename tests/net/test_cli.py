"""``vfnode echo``, ``send``, ``status`` and ``outbox`` against a real receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.cli.main import main
from node.config.settings import Destination
from node.jobs import outbox
from node.jobs.outbox import ResultFile
from node.storage import db
from tests.net.conftest import Receiver
from tests.net.dicomgen import LOOPBACK, WrittenSeries, truncate_pixels


def test_echo_and_send_then_status(receiver: Receiver, series: WrittenSeries, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"VFNODE@{LOOPBACK}:{receiver.net.port}"
    assert main(["echo", address]) == 1  # calling AE (net.ae_title) VFNODE is not allowed
    assert "rejected the association" in capsys.readouterr().out
    monkeypatch.setenv("VFNODE_NET_AE_TITLE", "SENDER")
    assert main(["echo", address]) == 0
    assert "0x0000 Success" in capsys.readouterr().out
    monkeypatch.delenv("VFNODE_NET_AE_TITLE")
    folder = series.paths[0].parent
    truncate_pixels(series.paths[0], tmp_path / "bad.dcm")
    code = main(["send", str(folder), str(tmp_path / "bad.dcm"), "--to", address,
                 "--calling-ae", "SENDER"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"sent 12 of 13 files to {address}" in out
    assert "0xC210" in out
    monkeypatch.setenv("VFNODE_STORAGE_DATA_DIR", str(receiver.spool.root.parent))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "spool: 12 instances" in out
    assert "associations last 24 h: released" in out


def test_outbox_give_up_and_retry(tmp_path: Path, series: WrittenSeries,
                                  capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    conn = db.connect(tmp_path / "var")
    files = [ResultFile(p.stem, "1.2.840.10008.5.1.4.1.1.2", p) for p in series.paths[:2]]
    with db.transaction(conn):
        outbox.add(conn, job_id=7, analysis_id=None, files=files,
                   destinations=[Destination("PACS", LOOPBACK, 1)])
    monkeypatch.setenv("VFNODE_STORAGE_DATA_DIR", str(tmp_path / "var"))
    assert main(["outbox", "list"]) == 0
    assert "2 undelivered" in capsys.readouterr().out
    assert main(["outbox", "give-up", "1"]) == 0
    assert "gave up on 1 pending results" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "results outbox: pending 1, delivered 0, given_up 1" in capsys.readouterr().out
    assert main(["outbox", "retry"]) == 0
    assert outbox.counts(conn) == {"pending": 2, "delivered": 0, "given_up": 0}
