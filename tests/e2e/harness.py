"""``vfnode serve`` as a real process, dcmtk ``storescp`` as the PACS, and their files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pydicom import Dataset, dcmread

from tests.net.dicomgen import LOOPBACK, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
VFNODE = [sys.executable, "-m", "node.cli.main"]
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}  # dcmtk leaves Nagle on otherwise


def echo_ok(ae: str, port: int, calling: str = "ECHOSCU") -> bool:
    done = subprocess.run(["echoscu", "-aet", calling, "-aec", ae, LOOPBACK, str(port)],
                          env=DCMTK_ENV, capture_output=True, check=False)
    return done.returncode == 0


class Pacs:
    """dcmtk ``storescp`` keeping every object it receives in ``folder``."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Pacs:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["storescp", "-aet", "PACS", "-od", str(self.folder), str(self.port)],
            env=DCMTK_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: echo_ok("PACS", self.port), 20, "storescp answers C-ECHO")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def objects(self) -> list[Dataset]:
        return [dcmread(p) for p in sorted(self.folder.iterdir()) if p.is_file()]

    def modalities(self) -> list[str]:
        return sorted(str(ds.Modality) for ds in self.objects())


class Node:
    """``vfnode serve`` in its own process group, with its own data folder and log."""

    def __init__(self, folder: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.data_dir = folder / "var"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> str:
        return "".join(p.read_text() for p in sorted(self.folder.glob("node-*.log")))

    def start(self, *, stable_seconds: float = 1.0, receivers: int = 2) -> Node:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        log = self.folder / f"node-{self.starts}.log"
        self.process = subprocess.Popen(
            [*VFNODE, "serve", "--port", str(self.port), "--bind", LOOPBACK, "--data-dir",
             str(self.data_dir), "--stable-seconds", str(stable_seconds), "--receivers",
             str(receivers)],
            cwd=self.folder, env=self.env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(lambda: self._ready(log), 90, f"vfnode serve is ready (log {log})", 0.3)
        return self

    def _ready(self, log: Path) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"vfnode serve exited: {log.read_text()[-3000:]}")
        return "worker ready" in log.read_text() and echo_ok("VFNODE", self.port, "STORESCU")

    def kill9(self) -> None:
        """SIGKILL the node's main process only: its children must die with it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_for(lambda: not _group_alive(self.process.pid), 10, "children die with the node")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "node.db", timeout=30)

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        conn = self.db()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def storescu(self, *paths: Path, calling: str = "STORESCU",
                 check: bool = True) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(["storescu", "+sd", "-aet", calling, "-aec", "VFNODE", LOOPBACK,
                               str(self.port), *map(str, paths)], env=DCMTK_ENV,
                              capture_output=True, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"storescu failed: {done.stderr.decode()[-2000:]}")
        return done


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
