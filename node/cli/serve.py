"""``vfnode serve``: the DICOM node (receivers, watcher, workers, outbox) in one service.

Processes: this one binds the port, runs one receiver, the series watcher and the outbox;
``net.receivers - 1`` more receiving processes share the listening socket; ``jobs.workers``
worker processes run the analyses. Children die with the parent (PR_SET_PDEATHSIG) and are
restarted when they die alone. SIGTERM or Ctrl-C stops everything; ``kill -9`` loses
nothing that was acknowledged (see ``node.storage.spool`` and ``node.jobs``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

from node.config.settings import Settings
from node.jobs import outbox, queue, watcher
from node.net import scp
from node.registry import Registry
from node.storage import db
from node.storage.spool import Spool

logger = logging.getLogger(__name__)

_FLAGS = {
    "ae_title": "net.ae_title", "port": "net.port", "bind": "net.bind_address",
    "receivers": "net.receivers", "data_dir": "storage.data_dir",
    "workers": "jobs.workers", "stable_seconds": "jobs.stable_seconds",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the DICOM node",
        description="Receive studies by C-STORE, analyse each complete series, send SR/SEG.")
    parser.add_argument("--ae-title", help="AE title of the node (net.ae_title)")
    parser.add_argument("--port", type=int, help="DICOM port (net.port)")
    parser.add_argument("--bind", help="address to listen on (net.bind_address)")
    parser.add_argument("--receivers", type=int, help="receiving processes (net.receivers)")
    parser.add_argument("--data-dir", type=Path, help="spool and databases (storage.data_dir)")
    parser.add_argument("--workers", type=int, help="analysis processes (jobs.workers)")
    parser.add_argument("--stable-seconds", type=float,
                        help="quiet time that completes a series (jobs.stable_seconds)")
    parser.set_defaults(func=run)


def apply_flags(args: argparse.Namespace, settings: Settings) -> Settings:
    """Command-line flags win over every other source (validated again by the dataclasses)."""
    for flag, dotted in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        section, key = dotted.split(".")
        part = dataclasses.replace(getattr(settings, section), **{key: value})
        settings = dataclasses.replace(settings, **{section: part})
    return settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = apply_flags(args, settings)
    os.umask(0o077)  # spool, results and databases readable by the service user only
    node = Node(settings)
    node.start()
    return node.wait()


def _die_with_parent(parent: int) -> None:
    """Children must not outlive the node: a kill -9 of the parent kills them too."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _child_setup(settings: Settings, parent: int) -> threading.Event:
    from node.cli.main import configure_logging

    _die_with_parent(parent)
    os.umask(0o077)
    configure_logging(settings.log.level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the whole group; parent leads
    return stop


def receiver_process(settings: Settings, sock: socket.socket, parent: int) -> None:
    """A receiving process on the shared listening socket."""
    stop = _child_setup(settings, parent)
    spool = Spool(settings.storage.data_dir, min_free_mb=settings.storage.min_free_mb)
    server = scp.start_receiver(settings.net, spool, sock, processes=settings.net.receivers)
    stop.wait()
    server.shutdown()


def worker_process(settings: Settings, parent: int) -> None:
    """An analysis worker process."""
    # Imported here: only worker processes load the analysis stack (numpy, scipy,
    # scikit-image, highdicom), not the receivers or the main process.
    from node.jobs import worker

    stop = _child_setup(settings, parent)
    data_dir = settings.storage.data_dir
    ctx = worker.JobContext(settings=settings, conn=db.connect(data_dir),
                            spool=Spool(data_dir, min_free_mb=settings.storage.min_free_mb),
                            registry=Registry(settings.registry_url))
    logger.info("worker ready pid=%d", os.getpid())
    worker.work(ctx, stop)


class Node:
    """The running node: owns its threads and child processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.children: dict[str, SpawnProcess] = {}
        self.restarts: dict[str, tuple[int, float]] = {}  # name -> (count, not before)
        self.spawn = multiprocessing.get_context("spawn")
        self.threads: list[threading.Thread] = []
        self.server: Any = None
        self.sock: socket.socket | None = None

    def start(self) -> None:
        s = self.settings
        data_dir = s.storage.data_dir
        spool = Spool(data_dir, min_free_mb=s.storage.min_free_mb)
        spool.reconcile()
        conn = db.connect(data_dir)
        queue.recover(conn, max_attempts=s.jobs.max_attempts)
        conn.execute("UPDATE associations SET outcome = 'lost', ended_at = ? "
                     "WHERE ended_at IS NULL", (time.time(),))
        registry = Registry(s.registry_url)
        self.sock = scp.listening_socket(s.net)
        self.server = scp.start_receiver(s.net, spool, self.sock, processes=s.net.receivers)
        for index in range(1, s.net.receivers):
            self._spawn(f"receiver-{index}")
        for index in range(s.jobs.workers):
            self._spawn(f"worker-{index}")
        box = outbox.Outbox(db.connect(data_dir), s.outbox, calling_ae=s.net.ae_title,
                            on_attempt=_delivery_recorder(registry))
        self._thread("watcher", watcher.watch, db.connect(data_dir),
                     stable_seconds=s.jobs.stable_seconds, poll_seconds=s.jobs.poll_seconds,
                     stop=self.stop)
        self._thread("outbox", outbox.run, box, poll_seconds=s.jobs.poll_seconds,
                     stop=self.stop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        destinations = [outbox.address(d) for d in s.outbox.parsed_destinations()]
        logger.info("vfnode ready ae_title=%s port=%d data_dir=%s receivers=%d workers=%d "
                    "stable_seconds=%s destinations=%s", s.net.ae_title, s.net.port,
                    data_dir, s.net.receivers, s.jobs.workers, s.jobs.stable_seconds,
                    destinations or "none")

    def _thread(self, name: str, target: Any, *args: Any, **kwargs: Any) -> None:
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, name=name,
                                  daemon=True)
        thread.start()
        self.threads.append(thread)

    def _spawn(self, name: str) -> None:
        parent = os.getpid()
        if name.startswith("receiver"):
            process = self.spawn.Process(target=receiver_process, name=name,
                                         args=(self.settings, self.sock, parent))
        else:
            process = self.spawn.Process(target=worker_process, name=name,
                                         args=(self.settings, parent))
        process.start()
        self.children[name] = process

    def _restart(self, name: str, process: SpawnProcess) -> None:
        """Restart a dead child, waiting longer each time it keeps dying (up to 60 s)."""
        count, not_before = self.restarts.get(name, (0, 0.0))
        now = time.monotonic()
        if now < not_before:
            return
        if count == 0 or now - not_before > 300:
            count = 0
        logger.error("%s exited with code %s; restarting it (restart %d)", name,
                     process.exitcode, count + 1)
        self.restarts[name] = (count + 1, now + min(60.0, 2.0 ** count))
        self._spawn(name)

    def wait(self) -> int:
        """Supervise until stopped; restart a child that died on its own."""
        while not self.stop.wait(1.0):
            for name, process in list(self.children.items()):
                if not process.is_alive():
                    self._restart(name, process)
        logger.info("stopping")
        if self.server is not None:
            self.server.shutdown()
        for process in self.children.values():
            process.terminate()
        for process in self.children.values():
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        for thread in self.threads:
            thread.join(timeout=30)
        return 0


def _delivery_recorder(registry: Registry) -> outbox.DeliveryHook:
    def record(analysis_id: int, destination: str, delivered: bool, detail: str) -> None:
        registry.record_delivery(analysis_id, destination, delivered=delivered, detail=detail)
    return record
