"""Series completion: a series is complete when no instance arrived for ``stable_seconds``.

The spool marks a series "changed" whenever a new analysable instance of it is indexed;
the watcher turns each changed series that has been quiet long enough into a job. A
series that grows after its analysis is therefore queued again (a re-analysis whose SR
says it replaces the earlier one).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from node.jobs import queue

logger = logging.getLogger(__name__)


def watch(conn: sqlite3.Connection, *, stable_seconds: float, poll_seconds: float,
          stop: threading.Event) -> None:
    """Queue complete series every ``poll_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        try:
            queue.enqueue_stable_series(conn, stable_seconds=stable_seconds)
        except sqlite3.Error:  # a locked database now is no reason to stop watching
            logger.exception("watcher could not read the node database")
        stop.wait(poll_seconds)
