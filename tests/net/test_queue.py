"""Series completion and the durable job queue, on a real node database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.jobs import queue
from node.storage import db
from node.storage.spool import Spool
from tests.net.dicomgen import WrittenSeries


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "var", min_free_mb=0)


def receive(spool: Spool, series: WrittenSeries, indexes: range) -> None:
    for index in indexes:
        spool.accept(series.paths[index].read_bytes(), calling_ae="CT1")


def test_series_queued_only_after_stable_seconds(spool: Spool, series: WrittenSeries) -> None:
    conn = spool.state.conn
    receive(spool, series, range(6))
    now = time.time()
    assert queue.enqueue_stable_series(conn, stable_seconds=20, now=now) == []
    queued = queue.enqueue_stable_series(conn, stable_seconds=20, now=now + 21)
    assert len(queued) == 1
    assert queue.enqueue_stable_series(conn, stable_seconds=20, now=now + 40) == []
    job = queue.claim(conn)
    assert job is not None and (job.generation, job.attempts, job.calling_ae) == (1, 1, "CT1")
    assert queue.claim(conn) is None  # nothing else queued


def first_job_running_while_six_more_arrive(spool: Spool, series: WrittenSeries) -> queue.Job:
    receive(spool, series, range(6))
    queue.enqueue_stable_series(spool.state.conn, stable_seconds=0, now=time.time() + 1)
    first = queue.claim(spool.state.conn)
    assert first is not None
    receive(spool, series, range(6, 12))
    return first


def test_late_instances_queue_a_reanalysis(spool: Spool, series: WrittenSeries) -> None:
    conn = spool.state.conn
    first = first_job_running_while_six_more_arrive(spool, series)
    receive(spool, series, range(3))      # duplicates do not count
    [second_id] = queue.enqueue_stable_series(conn, stable_seconds=0, now=time.time() + 1)
    assert queue.claim(conn) is None  # same series is running: the re-analysis waits
    with db.transaction(conn):
        queue.mark_done(conn, first.id, "analysed")
    second = queue.claim(conn)
    assert second is not None and (second.id, second.generation) == (second_id, 2)
    assert queue.previous_done_job(conn, second) == first.id


def test_instances_after_a_recorded_analysis_get_their_own_job(
        tmp_path: Path, spool: Spool, series: WrittenSeries) -> None:
    conn = spool.state.conn
    first = first_job_running_while_six_more_arrive(spool, series)
    queue.set_analysis_id(conn, first.id, 7)  # its results reached the registry, then a kill
    assert queue.recover(db.connect(tmp_path / "var"), max_attempts=3) == 1
    # The requeued job resends the results of six instances, so twelve need a new job.
    [second_id] = queue.enqueue_stable_series(conn, stable_seconds=0, now=time.time() + 1)
    rerun = queue.claim(conn)
    assert rerun is not None and (rerun.id, rerun.analysis_id) == (first.id, 7)
    with db.transaction(conn):
        queue.mark_done(conn, rerun.id, "analysed")
    second = queue.claim(conn)
    assert second is not None and (second.id, second.generation) == (second_id, 2)


def test_failed_attempts_then_failed(spool: Spool, series: WrittenSeries) -> None:
    conn = spool.state.conn
    receive(spool, series, range(2))
    queue.enqueue_stable_series(conn, stable_seconds=0, now=time.time() + 1)
    for attempt in (1, 2, 3):
        job = queue.claim(conn, now=time.time() + 1000 * attempt)
        assert job is not None and job.attempts == attempt
        state = queue.mark_failed_attempt(conn, job, "boom", max_attempts=3)
    assert state is queue.JobState.FAILED
    row = conn.execute("SELECT state, attempts, last_error FROM jobs").fetchone()
    assert tuple(row) == ("failed", 3, "boom")


def test_recover_requeues_jobs_of_a_dead_node(tmp_path: Path, spool: Spool,
                                              series: WrittenSeries) -> None:
    conn = spool.state.conn
    receive(spool, series, range(2))
    queue.enqueue_stable_series(conn, stable_seconds=0, now=time.time() + 1)
    assert queue.claim(conn) is not None  # then the node is killed
    other = db.connect(tmp_path / "var")
    assert queue.recover(other, max_attempts=3) == 1
    job = queue.claim(other)
    assert job is not None and job.attempts == 2
    assert queue.counts(other) == {"queued": 0, "running": 1, "done": 0, "failed": 0}
