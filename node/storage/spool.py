"""The spool: every accepted instance, written durably and indexed before Success.

Layout: ``<data_dir>/spool/<study uid>/<series uid>/<sop instance uid>.dcm`` (UIDs are
digits and dots, so they are safe file names once validated). An instance is written to
``spool/tmp/``, fsynced, renamed into place and only then indexed and acknowledged. A
crash at any point leaves no file, a temporary file, or a file the index lacks; at start
:meth:`Spool.reconcile` indexes the latter and moves every *complete* temporary file into
place (a rename that a power loss undid), discarding incomplete ones (never
acknowledged). So the directory is not fsynced per instance: that second fsync doubled
the cost of an instance on this machine and the file's own fsync is what makes it safe.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from node.errors import VfnodeError
from node.storage import db
from node.storage.header import InstanceHeader, InvalidInstanceError, read_header

__all__ = ["InvalidInstanceError", "Spool", "SpoolError", "SpoolFullError", "StoredInstance"]

logger = logging.getLogger(__name__)

_RECHECK_BYTES = 64 * 1024 * 1024


class SpoolError(VfnodeError, OSError):
    """The instance could not be written (an I/O error other than a full disk)."""


class SpoolFullError(SpoolError):
    """Free space in the spool is below ``storage.min_free_mb``."""


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """Where an accepted instance lives, and whether it was new to the index."""

    header: InstanceHeader
    path: Path
    new: bool


class Spool:
    """Durable store and index of received instances.

    Parameters
    ----------
    data_dir : Path
        The node's data folder (spool and node database inside).
    min_free_mb : int
        Refuse an instance when less than this much space would remain.
    """

    def __init__(self, data_dir: Path, *, min_free_mb: int = 200) -> None:
        self.root = data_dir / "spool"
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.min_free_bytes = min_free_mb * 1024 * 1024
        self.state = db.SharedConnection(db.connect(data_dir))
        self._known_dirs: set[Path] = set()
        self._free = 0
        self._written = 0
        self._checked_at = -1e9

    def close(self) -> None:
        self.state.conn.close()

    # -- receiving ----------------------------------------------------------------------
    def accept(self, data: bytes, *, calling_ae: str) -> StoredInstance:
        """Store one Part 10 instance durably and index it.

        Raises
        ------
        InvalidInstanceError
            The bytes are not an instance that can be indexed.
        SpoolFullError
            Storing it would leave less than ``min_free_mb`` free.
        SpoolError
            Another I/O error; nothing was indexed.
        """
        header = read_header(data)
        self._check_space(len(data))
        path = self.path_of(header)
        self._write_durably(path, data)
        new = self._index(header, path, len(data), calling_ae)
        return StoredInstance(header=header, path=path, new=new)

    def path_of(self, header: InstanceHeader) -> Path:
        return (self.root / header.study_instance_uid / header.series_instance_uid
                / f"{header.sop_instance_uid}.dcm")

    def _check_space(self, size: int) -> None:
        # statvfs costs ~0.5 ms under load: ask again only after 1 s or 64 MB written.
        now = time.monotonic()
        self._written += size
        if now - self._checked_at > 1.0 or self._written > _RECHECK_BYTES:
            stats = os.statvfs(self.root)
            self._free = stats.f_bavail * stats.f_frsize
            self._checked_at, self._written = now, size
        free = self._free - self._written
        if free - size < self.min_free_bytes:
            raise SpoolFullError(
                f"The spool must keep {self.min_free_bytes // 2**20} MB free. "
                f"Found {free // 2**20} MB free at {self.root}."
            )

    def _write_durably(self, path: Path, data: bytes) -> None:
        tmp = self.tmp / f"{uuid.uuid4().hex}.part"
        try:
            self._ensure_dir(path.parent)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SpoolFullError(f"The spool disk must have space. Found: {exc}") from exc
            raise SpoolError(f"The instance must be writable to {path}. Found: {exc}") from exc

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._known_dirs:
            return
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _fsync_dir(directory.parent)
            _fsync_dir(directory.parent.parent)
        self._known_dirs.add(directory)

    def _index(self, header: InstanceHeader, path: Path, size: int, calling_ae: str) -> bool:
        now = time.time()
        try:
            with self.state.transaction() as conn:
                return _index_row(conn, header, path, size, calling_ae, now)
        except sqlite3.Error as exc:
            raise SpoolError(f"The spool index must accept the instance. Found: {exc}") from exc

    # -- start-up -------------------------------------------------------------------------
    def reconcile(self) -> int:
        """Finish or drop temporary files, index spool files the index lacks; return how many."""
        for leftover in self.tmp.glob("*.part"):
            try:
                header = read_header(leftover.read_bytes())
            except (InvalidInstanceError, OSError):
                leftover.unlink(missing_ok=True)  # cut short: never acknowledged
                continue
            target = self.path_of(header)
            self._ensure_dir(target.parent)
            os.replace(leftover, target)
        with self.state.reading() as conn:
            known = {row[0] for row in conn.execute("SELECT path FROM instances")}
        added = 0
        for path in sorted(self.root.glob("*/*/*.dcm")):
            if str(path) in known:
                continue
            try:
                header = read_header(path.read_bytes())
            except (InvalidInstanceError, OSError) as exc:
                logger.warning("spool file not indexable path=%s reason=%s", path, exc)
                continue
            with self.state.transaction() as conn:
                stat = path.stat()
                _index_row(conn, header, path, stat.st_size, "", stat.st_mtime)
            added += 1
        if added:
            logger.info("re-indexed spool files=%d", added)
        return added

    # -- reading --------------------------------------------------------------------------
    def study_series(self, study_instance_uid: str) -> dict[str, list[Path]]:
        """Analysable files of every series of a study, by Series Instance UID."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT series_instance_uid, path FROM instances WHERE study_instance_uid = ? "
                "AND analysable = 1 ORDER BY series_instance_uid, sop_instance_uid",
                (study_instance_uid,)).fetchall()
        found: dict[str, list[Path]] = {}
        for series_uid, path in rows:
            found.setdefault(series_uid, []).append(Path(path))
        return found

    def series_paths(self, series_instance_uid: str, *, analysable_only: bool = True) -> list[Path]:
        """Files of one series in the spool, in SOP Instance UID order."""
        query = "SELECT path FROM instances WHERE series_instance_uid = ?"
        if analysable_only:
            query += " AND analysable = 1"
        with self.state.reading() as conn:
            rows = conn.execute(query + " ORDER BY sop_instance_uid", (series_instance_uid,))
            return [Path(row[0]) for row in rows]


def _index_row(conn: sqlite3.Connection, header: InstanceHeader, path: Path, size: int,
               calling_ae: str, now: float) -> bool:
    """Insert or refresh the index row; a new analysable instance marks its series changed."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO instances (sop_instance_uid, sop_class_uid, "
        "series_instance_uid, study_instance_uid, transfer_syntax_uid, modality, analysable, "
        "path, size, calling_ae, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (header.sop_instance_uid, header.sop_class_uid, header.series_instance_uid,
         header.study_instance_uid, header.transfer_syntax_uid, header.modality,
         int(header.analysable), str(path), size, calling_ae, now),
    )
    if cursor.rowcount == 0:
        # The same SOP Instance UID again: the file was replaced atomically; the series
        # is not re-analysed for a duplicate.
        conn.execute(
            "UPDATE instances SET path = ?, size = ?, received_at = ? WHERE sop_instance_uid = ?",
            (str(path), size, now, header.sop_instance_uid),
        )
        return False
    analysable = int(header.analysable)
    conn.execute(
        "INSERT INTO series (series_instance_uid, study_instance_uid, calling_ae, first_at, "
        "last_at, instances, analysable, changed) VALUES (?, ?, ?, ?, ?, 1, ?, ?) "
        "ON CONFLICT (series_instance_uid) DO UPDATE SET last_at = excluded.last_at, "
        "instances = instances + 1, analysable = analysable + excluded.analysable, "
        "changed = MAX(changed, excluded.changed)",
        (header.series_instance_uid, header.study_instance_uid, calling_ae, now, now,
         analysable, analysable),
    )
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
