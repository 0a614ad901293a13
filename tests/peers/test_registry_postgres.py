"""The registry suite of ``tests/unit/registry/test_registry.py`` on a real PostgreSQL.

The test starts its own server: ``initdb`` into a temporary folder and ``pg_ctl start`` on
a free loopback port (as the ``postgres`` user when the tests run as root, since the
server refuses to run as root), one fresh database per test, the server stopped at the end.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.peer

SUITE = Path(__file__).resolve().parents[1] / "unit" / "registry" / "test_registry.py"
_spec = importlib.util.spec_from_file_location("registry_suite_on_postgres", SUITE)
assert _spec is not None and _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
# Collect the suite's tests here; its ``registry`` fixture uses our ``registry_url``.
globals().update({name: value for name, value in vars(_suite).items()
                  if name.startswith("test_") or name == "registry"})

_databases = count()


def postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://vfnode@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"registry_{next(_databases)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=vfnode dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name


def _demote() -> tuple[Callable[[], None] | None, int | None]:
    if os.geteuid() != 0:
        return None, None
    user = pwd.getpwnam("postgres" if _has_user("postgres") else "nobody")

    def switch() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    return switch, user.pw_uid


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    binaries = postgres_bin()
    if binaries is None:
        pytest.fail("PostgreSQL server binaries must be installed (scripts/install --test "
                    "installs the Debian package postgresql). Found no initdb.")
    folder = Path(tempfile.mkdtemp(prefix="vfnode-pg-"))
    switch, uid = _demote()
    if uid is not None:
        os.chown(folder, uid, -1)
    data, port = folder / "data", free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    run = {"preexec_fn": switch, "env": env, "check": True, "capture_output": True,
           "cwd": folder}
    subprocess.run([binaries / "initdb", "-D", data, "-U", "vfnode", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], **run)  # type: ignore[call-overload]
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")
    subprocess.run([binaries / "pg_ctl", "-D", data, "-o", options, "-l", folder / "log",
                    "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run([binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                       **{**run, "check": False})  # type: ignore[call-overload]
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def registry_url(postgres: PostgresServer) -> str:
    return postgres.url(postgres.create_database())


def test_the_suite_really_runs_on_postgresql(registry_url: str) -> None:
    from node.registry import Registry

    with Registry(registry_url) as reg:
        assert reg.engine.dialect.name == "postgresql"
        with reg.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW server_version").scalar()
