"""The persistent outbox: every result object to every destination until delivered.

Rows are added in the same transaction that marks their job done, so a finished job
always has its deliveries queued. Each row keeps its file (the bytes, and so the UIDs, of
a resend never change), attempts, last error and the next attempt time; a failed attempt
backs off exponentially from ``retry_initial_s`` up to ``retry_max_s``. An operator can
give up on rows (``vfnode outbox give-up``) or send them again now (``retry``).
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from node.config.settings import Destination, OutboxSettings, parse_address
from node.net import status
from node.net.scu import SendReport, Timeouts, send_files
from node.storage.db import transaction

logger = logging.getLogger(__name__)

# Called after each attempt per analysis and destination: (analysis_id, destination,
# delivered, detail). Wired to Registry.record_delivery by ``vfnode serve``.
DeliveryHook = Callable[[int, str, bool, str], None]


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"


@dataclass(frozen=True, slots=True)
class ResultFile:
    """One result object on disk, waiting to be sent."""

    sop_instance_uid: str
    sop_class_uid: str
    path: Path


def address(dest: Destination) -> str:
    return f"{dest.ae_title}@{dest.host}:{dest.port}"


def destinations_for(settings: OutboxSettings, calling_ae: str) -> list[Destination]:
    """The configured destinations, plus the sender's own PACS when mapped back."""
    found = settings.parsed_destinations()
    for pair in settings.return_to_sender:
        ae, _, target = pair.partition("=")
        if ae.strip() == calling_ae.strip():
            found.append(parse_address(target.strip()))
    unique: dict[str, Destination] = {address(d): d for d in found}
    return list(unique.values())


def add(conn: sqlite3.Connection, *, job_id: int, analysis_id: int | None,
        files: Sequence[ResultFile], destinations: Iterable[Destination]) -> int:
    """Queue every file for every destination (idempotent); call inside a transaction."""
    now = time.time()
    added = 0
    for dest in destinations:
        for item in files:
            added += conn.execute(
                "INSERT OR IGNORE INTO outbox (job_id, analysis_id, sop_instance_uid, "
                "sop_class_uid, path, destination, state, created_at, next_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (job_id, analysis_id, item.sop_instance_uid, item.sop_class_uid,
                 str(item.path), address(dest), now, now)).rowcount
    return added


class Outbox:
    """Sends due rows of the outbox table; one instance runs in the main ``serve`` process.

    Parameters
    ----------
    conn : sqlite3.Connection
        The node database (used by this object's thread only).
    settings : OutboxSettings
        Back-off and DIMSE timeout.
    calling_ae : str
        The node's AE title, used as calling AE.
    on_attempt : callable, optional
        Told about every delivery and every give-up (the registry's delivery record).
    """

    def __init__(self, conn: sqlite3.Connection, settings: OutboxSettings, *, calling_ae: str,
                 on_attempt: DeliveryHook | None = None) -> None:
        self.conn = conn
        self.settings = settings
        self.calling_ae = calling_ae
        self.on_attempt = on_attempt
        self.timeouts = Timeouts(acse_s=10.0, dimse_s=settings.dimse_timeout_s,
                                 network_s=max(30.0, settings.dimse_timeout_s))

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure."""
        return float(min(self.settings.retry_max_s,
                         self.settings.retry_initial_s * 2 ** max(0, attempts - 1)))

    def deliver_due(self, now: float | None = None) -> int:
        """Try every due row once, grouped by destination; return how many were delivered."""
        now = time.time() if now is None else now
        rows = self.conn.execute(
            "SELECT * FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY id",
            (now,)).fetchall()
        by_destination: dict[str, list[sqlite3.Row]] = {}
        for row in rows:
            by_destination.setdefault(row["destination"], []).append(row)
        delivered = 0
        for destination, group in by_destination.items():
            delivered += self._deliver(destination, group)
        return delivered

    def _deliver(self, destination: str, rows: list[sqlite3.Row]) -> int:
        dest = parse_address(destination)
        by_path = {Path(row["path"]): row for row in rows}
        missing = [p for p in by_path if not p.is_file()]
        report = SendReport()
        for path in missing:
            report.unanswered[path] = f"result file missing: {path}"
        present = [p for p in by_path if p.is_file()]
        if present:
            sent = send_files(present, dest, calling_ae=self.calling_ae, timeouts=self.timeouts)
            report.acknowledged.update(sent.acknowledged)
            report.unanswered.update(sent.unanswered)
        self._record(destination, by_path, report)
        return len(report.stored)

    def _record(self, destination: str, by_path: dict[Path, sqlite3.Row],
                report: SendReport) -> None:
        now = time.time()
        failures = {p: f"refused with status {status.describe(c)}"
                    for p, c in report.refused.items()}
        failures.update(report.unanswered)
        delivered_analyses: set[int] = set()
        with transaction(self.conn):
            for path in report.stored:
                row = by_path[path]
                self.conn.execute("UPDATE outbox SET state = 'delivered', attempts = attempts "
                                  "+ 1, delivered_at = ?, last_error = '' WHERE id = ?",
                                  (now, row["id"]))
                if row["analysis_id"] is not None:
                    delivered_analyses.add(int(row["analysis_id"]))
            for path, error in failures.items():
                row = by_path[path]
                wait = self.backoff(row["attempts"] + 1)
                self.conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                                  "next_at = ? WHERE id = ?", (error, now + wait, row["id"]))
        if report.stored:
            logger.info("delivered objects=%d destination=%s", len(report.stored), destination)
        if failures:
            logger.warning("not delivered objects=%d destination=%s first_error=%s",
                           len(failures), destination, next(iter(failures.values())))
        for analysis_id in sorted(delivered_analyses):
            self._tell(analysis_id, destination, True, f"{len(report.stored)} objects stored")

    def _tell(self, analysis_id: int, destination: str, delivered: bool, detail: str) -> None:
        if self.on_attempt is None:
            return
        try:
            self.on_attempt(analysis_id, destination, delivered, detail)
        except Exception:  # the registry being down must not stop deliveries
            logger.exception("could not record delivery analysis=%s destination=%s",
                             analysis_id, destination)

    def give_up(self, ids: Sequence[int] | None = None) -> int:
        """Stop retrying the given pending rows (all pending rows when None)."""
        where, args = _selection(ids)
        with transaction(self.conn):
            rows = self.conn.execute(f"SELECT * FROM outbox WHERE state = 'pending'{where}",
                                     args).fetchall()
            self.conn.execute(f"UPDATE outbox SET state = 'given_up' WHERE state = 'pending'"
                              f"{where}", args)
        for analysis_id, dest in {(r["analysis_id"], r["destination"]) for r in rows}:
            if analysis_id is not None:
                self._tell(int(analysis_id), dest, False, "operator gave up")
        return len(rows)

    def retry_now(self, ids: Sequence[int] | None = None) -> int:
        """Make pending (and given-up) rows due now."""
        where, args = _selection(ids)
        with transaction(self.conn):
            return int(self.conn.execute(
                f"UPDATE outbox SET state = 'pending', next_at = 0 WHERE state != 'delivered'"
                f"{where}", args).rowcount)


def _selection(ids: Sequence[int] | None) -> tuple[str, tuple[int, ...]]:
    if ids is None:
        return "", ()
    marks = ", ".join("?" for _ in ids)
    return f" AND id IN ({marks})", tuple(int(i) for i in ids)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    return {state.value: int(found.get(state.value, 0)) for state in OutboxState}


def run(box: Outbox, *, poll_seconds: float, stop: threading.Event) -> None:
    """Deliver due rows every ``poll_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        try:
            box.deliver_due()
        except Exception:  # one bad row or peer must not end deliveries for good
            logger.exception("outbox delivery round failed")
        stop.wait(poll_seconds)
