"""The durable analysis job queue in the node database: queued → running → done/failed.

A job analyses one series as it stood when the job started. Each job of a series has the
next ``generation``; a job is claimed in one transaction (state, attempts, worker pid),
so two workers never run the same job, and at start :func:`recover` puts jobs that were
running when the node died back in the queue (or fails them after ``max_attempts``).
"""

from __future__ import annotations

import enum
import logging
import os
import sqlite3
import time
from dataclasses import dataclass

from node.storage.db import transaction

logger = logging.getLogger(__name__)


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed job."""

    id: int
    series_instance_uid: str
    study_instance_uid: str
    calling_ae: str
    generation: int
    attempts: int
    analysis_id: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(id=row["id"], series_instance_uid=row["series_instance_uid"],
                   study_instance_uid=row["study_instance_uid"], calling_ae=row["calling_ae"],
                   generation=row["generation"], attempts=row["attempts"],
                   analysis_id=row["analysis_id"])


def enqueue_stable_series(conn: sqlite3.Connection, *, stable_seconds: float,
                          now: float | None = None) -> list[int]:
    """Queue a job for every changed series quiet for ``stable_seconds``; return job ids.

    A series that already has a queued job only loses its "changed" mark: that job will
    read every instance there is when it starts. Not so a job put back after it reached
    the registry: it resends the results it has, so the series gets a new generation.
    """
    now = time.time() if now is None else now
    cutoff = now - stable_seconds
    queued: list[int] = []
    candidates = [row[0] for row in conn.execute(
        "SELECT series_instance_uid FROM series WHERE changed = 1 AND analysable > 0 "
        "AND last_at <= ?", (cutoff,))]
    for series_uid in candidates:
        with transaction(conn):
            row = conn.execute(
                "SELECT study_instance_uid, calling_ae FROM series WHERE series_instance_uid = ? "
                "AND changed = 1 AND last_at <= ?", (series_uid, cutoff)).fetchone()
            if row is None:  # an instance arrived meanwhile: not stable any more
                continue
            conn.execute("UPDATE series SET changed = 0 WHERE series_instance_uid = ?",
                         (series_uid,))
            waiting = conn.execute("SELECT 1 FROM jobs WHERE series_instance_uid = ? AND "
                                   "state = 'queued' AND analysis_id IS NULL",
                                   (series_uid,)).fetchone()
            if waiting is not None:
                continue
            generation = conn.execute(
                "SELECT COALESCE(MAX(generation), 0) + 1 FROM jobs WHERE series_instance_uid = ?",
                (series_uid,)).fetchone()[0]
            job_id = conn.execute(
                "INSERT INTO jobs (series_instance_uid, study_instance_uid, calling_ae, "
                "generation, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                (series_uid, row[0], row[1], generation, now, now)).lastrowid
        queued.append(int(job_id or 0))
        logger.info("queued job=%s series=%s generation=%d", job_id, series_uid, generation)
    return queued


def claim(conn: sqlite3.Connection, *, now: float | None = None) -> Job | None:
    """Take the oldest runnable queued job (none of its series is running) for this process."""
    now = time.time() if now is None else now
    with transaction(conn):
        row = conn.execute(
            "SELECT * FROM jobs j WHERE state = 'queued' AND not_before <= ? AND NOT EXISTS "
            "(SELECT 1 FROM jobs r WHERE r.series_instance_uid = j.series_instance_uid "
            "AND r.state = 'running') ORDER BY id LIMIT 1", (now,)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                     "worker_pid = ?, updated_at = ? WHERE id = ?", (os.getpid(), now, row["id"]))
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
    return Job.from_row(row)


def set_analysis_id(conn: sqlite3.Connection, job_id: int, analysis_id: int) -> None:
    conn.execute("UPDATE jobs SET analysis_id = ?, updated_at = ? WHERE id = ?",
                 (analysis_id, time.time(), job_id))


def mark_done(conn: sqlite3.Connection, job_id: int, outcome: str) -> None:
    """Done; call inside the transaction that also queues the job's results."""
    conn.execute("UPDATE jobs SET state = 'done', outcome = ?, last_error = '', updated_at = ? "
                 "WHERE id = ? AND state = 'running'", (outcome, time.time(), job_id))


def mark_failed_attempt(conn: sqlite3.Connection, job: Job, error: str, *, max_attempts: int,
                        retry_after_s: float = 10.0) -> JobState:
    """Back to the queue with a delay, or failed once ``max_attempts`` are used up."""
    now = time.time()
    state = JobState.FAILED if job.attempts >= max_attempts else JobState.QUEUED
    with transaction(conn):
        conn.execute(
            "UPDATE jobs SET state = ?, last_error = ?, not_before = ?, updated_at = ? "
            "WHERE id = ?",
            (state.value, error[:2000], now + retry_after_s * job.attempts, now, job.id))
    return state


def recover(conn: sqlite3.Connection, *, max_attempts: int) -> int:
    """At start: jobs left running by a dead node go back to the queue (or fail)."""
    now = time.time()
    with transaction(conn):
        failed = conn.execute(
            "UPDATE jobs SET state = 'failed', updated_at = ?, last_error = "
            "'interrupted ' || attempts || ' times (node stopped while running)' "
            "WHERE state = 'running' AND attempts >= ?", (now, max_attempts)).rowcount
        requeued = conn.execute(
            "UPDATE jobs SET state = 'queued', updated_at = ?, worker_pid = NULL, "
            "last_error = 'interrupted (node stopped while running)' "
            "WHERE state = 'running'", (now,)).rowcount
    if failed or requeued:
        logger.warning("recovered interrupted jobs requeued=%d failed=%d", requeued, failed)
    return int(requeued)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Jobs per state."""
    found = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    return {state.value: int(found.get(state.value, 0)) for state in JobState}


def previous_done_job(conn: sqlite3.Connection, job: Job) -> int | None:
    """The latest finished job of the same series before this one (for "replaces")."""
    row = conn.execute("SELECT id FROM jobs WHERE series_instance_uid = ? AND state = 'done' "
                       "AND id < ? ORDER BY id DESC LIMIT 1",
                       (job.series_instance_uid, job.id)).fetchone()
    return None if row is None else int(row[0])
