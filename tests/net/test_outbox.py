"""The outbox and the SCU against a real pynetdicom storage SCP acting as a PACS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE, AllStoragePresentationContexts, evt

from node.config.settings import Destination, OutboxSettings
from node.jobs import outbox
from node.jobs.outbox import Outbox, ResultFile
from node.net.scu import send_files
from node.storage import db
from tests.net.dicomgen import LOOPBACK, WrittenSeries, free_port, wait_for


class Pacs:
    """A storage SCP that keeps what it receives; optionally aborts on the n-th C-STORE."""

    def __init__(self, port: int, *, abort_on: int | None = None) -> None:
        self.port = port
        self.received: dict[str, bytes] = {}
        self.calls = 0
        self.abort_on = abort_on
        ae = AE(ae_title="PACS")
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax)
        self.server = ae.start_server((LOOPBACK, port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, self.store)])

    def store(self, event: Any) -> int:
        self.calls += 1
        if self.calls == self.abort_on:
            event.assoc.abort()
            return 0xA700
        self.received[event.request.AffectedSOPInstanceUID] = event.encoded_dataset()
        return 0x0000

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def pacs(port: int) -> Iterator[Pacs]:
    peer = Pacs(port)
    yield peer
    peer.stop()


def queue_files(conn: Any, series: WrittenSeries, dest: Destination) -> list[ResultFile]:
    files = [ResultFile(p.stem, "1.2.840.10008.5.1.4.1.1.2", p) for p in series.paths[:3]]
    with db.transaction(conn):
        assert outbox.add(conn, job_id=1, analysis_id=None, files=files, destinations=[dest]) == 3
        # adding again is harmless (a job re-run after a crash)
        assert outbox.add(conn, job_id=1, analysis_id=None, files=files, destinations=[dest]) == 0
    return files


def test_lost_association_resends_only_unacknowledged(port: int,
                                                      series: WrittenSeries) -> None:
    peer = Pacs(port, abort_on=5)
    try:
        report = send_files(list(series.paths), Destination("PACS", LOOPBACK, port))
    finally:
        peer.stop()
    assert len(report.stored) == 12 and not report.unanswered
    assert set(peer.received) == set(series.sop_uids)
    assert peer.calls == 13  # 12 + the one that was never answered, sent again


def test_destination_down_then_up_gets_everything_with_same_bytes(
        tmp_path: Path, series: WrittenSeries, port: int) -> None:
    dest = Destination("PACS", LOOPBACK, port)
    conn = db.connect(tmp_path / "var")
    files = queue_files(conn, series, dest)
    settings = OutboxSettings(retry_initial_s=0.5, retry_max_s=2.0, dimse_timeout_s=5.0)
    box = Outbox(conn, settings, calling_ae="VFNODE")
    assert box.deliver_due() == 0  # nobody listening
    rows = conn.execute("SELECT attempts, next_at, last_error FROM outbox").fetchall()
    assert all(r[0] == 1 and r[1] > time.time() and "could not be reached" in r[2] for r in rows)
    conn.close()
    # the node restarts: a new connection and outbox see the same rows
    conn = db.connect(tmp_path / "var")
    box = Outbox(conn, settings, calling_ae="VFNODE")
    peer = Pacs(port)
    try:
        wait_for(lambda: box.deliver_due() == 3, 10, "the outbox delivers after PACS is up")
    finally:
        peer.stop()
    assert {uid: data[-200:] for uid, data in peer.received.items()} == {
        f.sop_instance_uid: f.path.read_bytes()[-200:] for f in files}
    assert outbox.counts(conn) == {"pending": 0, "delivered": 3, "given_up": 0}


def test_backoff_grows_and_caps() -> None:
    box = Outbox(None, OutboxSettings(retry_initial_s=5, retry_max_s=60),  # type: ignore[arg-type]
                 calling_ae="VFNODE")
    assert [box.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [5, 10, 20, 40, 60, 60]


def test_operator_gives_up_and_retries(tmp_path: Path, series: WrittenSeries, port: int) -> None:
    conn = db.connect(tmp_path / "var")
    queue_files(conn, series, Destination("PACS", LOOPBACK, port))
    told: list[tuple[int, str, bool, str]] = []
    box = Outbox(conn, OutboxSettings(), calling_ae="VFNODE",
                 on_attempt=lambda *a: told.append(a))
    assert box.give_up([1, 2]) == 2
    assert outbox.counts(conn) == {"pending": 1, "delivered": 0, "given_up": 2}
    assert box.retry_now() == 3
    assert outbox.counts(conn)["pending"] == 3
