"""The node-local state database: spool index, job queue, outbox and open associations.

One SQLite file (``<data_dir>/node.db``) in WAL mode, shared by the receiving processes,
the workers and the main process of ``vfnode serve``. It is not the registry: it holds
the node's working state, the registry holds the cases.

Every connection is in autocommit mode; multi-statement changes use ``BEGIN IMMEDIATE``
so that two processes never deadlock upgrading a read transaction to a write.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    sop_instance_uid TEXT PRIMARY KEY,
    sop_class_uid TEXT NOT NULL,
    series_instance_uid TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL,
    transfer_syntax_uid TEXT NOT NULL,
    modality TEXT NOT NULL,
    analysable INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    calling_ae TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances (series_instance_uid);
CREATE TABLE IF NOT EXISTS series (
    series_instance_uid TEXT PRIMARY KEY,
    study_instance_uid TEXT NOT NULL,
    calling_ae TEXT NOT NULL,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    instances INTEGER NOT NULL,
    analysable INTEGER NOT NULL,
    changed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS series_changed ON series (changed, last_at);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    series_instance_uid TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL,
    calling_ae TEXT NOT NULL,
    generation INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    not_before REAL NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    analysis_id INTEGER,
    outcome TEXT NOT NULL DEFAULT '',
    UNIQUE (series_instance_uid, generation)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, not_before);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    analysis_id INTEGER,
    sop_instance_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    path TEXT NOT NULL,
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    delivered_at REAL,
    UNIQUE (job_id, sop_instance_uid, destination)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE TABLE IF NOT EXISTS associations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    calling_ae TEXT NOT NULL,
    address TEXT NOT NULL,
    outcome TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL
);
"""


def db_path(data_dir: Path) -> Path:
    """Where the node state database of ``data_dir`` lives."""
    return data_dir / "node.db"


def connect(data_dir: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and if needed create) the node state database of ``data_dir``.

    Parameters
    ----------
    data_dir : Path
        The node's data folder; created with mode 0700 when missing.
    create : bool
        False refuses a missing database (read-only tools such as ``vfnode status``).
    """
    path = db_path(data_dir)
    if not create and not path.is_file():
        raise FileNotFoundError(
            f'The node database must exist (run "vfnode serve" once). Found no file at "{path}".'
        )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process (the WAL is in the page cache); after a
    # power loss the spool files, which are fsynced, are re-indexed by Spool.reconcile().
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    if create:
        with transaction(conn):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        os.chmod(path, 0o600)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back when the block raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SharedConnection:
    """One connection used by several threads of a process, one statement group at a time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock, transaction(self.conn):
            yield self.conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self.conn
