"""``vfnode serve`` as a real process for end-to-end and fault tests: config, start,
``kill -9``, restart, and read-only looks into its state database and log."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers.orthanc import free_port, wait_for

VFNODE = str(Path(sys.executable).with_name("vfnode"))


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: dict[str, dict[str, object]]) -> Path:
    """A TOML file from ``{"net": {"port": 104}, ...}``."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@dataclass
class NodeProcess:
    """One ``vfnode serve`` on loopback with its own data folder."""

    root: Path
    ae_title: str = "VFNODE"
    port: int = field(default_factory=free_port)
    allowed: Sequence[str] = ("ORTHANC", "ECHOSCU", "STORESCU", "LOADER")
    destinations: Sequence[str] = ()
    stable_seconds: float = 2.0
    extra: dict[str, dict[str, object]] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # How to tell the node is up (default: dcmtk's echoscu over plain TCP).
    ready_check: Callable[[], bool] | None = None

    @property
    def data_dir(self) -> Path:
        override = self.extra.get("storage", {}).get("data_dir")
        return Path(str(override)) if override else self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "vfnode.log"

    @property
    def address(self) -> str:
        return f"{self.ae_title}@127.0.0.1:{self.port}"

    def config(self) -> Path:
        sections: dict[str, dict[str, object]] = {
            "net": {"ae_title": self.ae_title, "port": self.port, "bind_address": "127.0.0.1",
                    "allowed_calling_aes": list(self.allowed)},
            "storage": {"data_dir": str(self.data_dir), "min_free_mb": 1},
            "jobs": {"stable_seconds": self.stable_seconds, "poll_seconds": 0.2},
            "outbox": {"destinations": list(self.destinations), "retry_initial_s": 0.5,
                       "retry_max_s": 2.0, "dimse_timeout_s": 10.0},
            "log": {"level": "INFO"},
        }
        for section, values in self.extra.items():
            sections.setdefault(section, {}).update(values)
        return write_config(self.root / "vfnode.toml", sections)

    def start(self, timeout: float = 60.0) -> None:
        """Start the node and return once it answers C-ECHO."""
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.config()
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen([VFNODE, "--config", str(config), "serve"],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.starts += 1
        wait_for(self._ready, timeout, f"vfnode serve must answer C-ECHO on {self.address}")

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"vfnode serve must keep running. Found exit code "
                               f"{self.process.returncode}:\n{self.log()[-3000:]}")
        return self.ready_check() if self.ready_check is not None else self.echo()

    def echo(self, calling: str = "ECHOSCU") -> bool:
        result = subprocess.run(["echoscu", "-aet", calling, "-aec", self.ae_title,
                                 "127.0.0.1", str(self.port)], capture_output=True, timeout=30)
        return result.returncode == 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """``kill -9`` the whole node: the main process and its children (its group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """The node's state database, read-only (the node may be running)."""
        uri = f"file:{self.data_dir / 'node.db'}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db() as conn:
            return list(conn.execute(sql, params))

    def wait_jobs_done(self, series: int, timeout: float) -> None:
        """Wait until ``series`` distinct series have a job in state done and none is open."""
        def done() -> bool:
            if not self.alive():
                raise RuntimeError(f"vfnode serve died:\n{self.log()[-3000:]}")
            rows = self.query("SELECT state, COUNT(DISTINCT series_instance_uid) FROM jobs "
                              "GROUP BY state")
            states = dict(rows)
            return states.get("done", 0) >= series and not (
                states.get("queued", 0) or states.get("running", 0))
        wait_for(done, timeout, f"{series} series must be analysed", interval=0.5)

    def wait_outbox_empty(self, timeout: float) -> None:
        def delivered() -> bool:
            rows = self.query("SELECT COUNT(*) FROM outbox WHERE state != 'delivered'")
            total = self.query("SELECT COUNT(*) FROM outbox")
            return rows[0][0] == 0 and total[0][0] > 0
        wait_for(delivered, timeout, "every result must be delivered", interval=0.5)


def run_cli(*args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run ``vfnode ARGS`` and return its completed process (text output)."""
    return subprocess.run([VFNODE, *args], capture_output=True, text=True, timeout=timeout)


def elapsed(since: float) -> float:
    return time.monotonic() - since
