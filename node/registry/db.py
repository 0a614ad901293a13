"""Engine creation and schema migration of the registry database.

SQLite (the default) runs in WAL mode with foreign keys on and a busy timeout, so the
node's workers and the admin CLI can use the same file at once. PostgreSQL is used by
giving a ``postgresql+psycopg://`` URL. The schema is always brought to the newest
Alembic revision when a registry is opened.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK = threading.Lock()
_ADVISORY_KEY = 0x7666_6E6F_6465  # "vfnode"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:///var/vfnode.db`` or
        ``postgresql+psycopg://vfnode@db.example/vfnode``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> str:
    """Upgrade the schema to the newest revision; return that revision.

    Alembic's ``context`` is process-global, so upgrades in one process are serialised by
    a lock; PostgreSQL servers serialise them across processes by an advisory lock. A
    database already at head is left alone without taking any write lock.
    """
    config = alembic_config()
    head = str(ScriptDirectory.from_config(config).get_current_head())
    if current_revision(engine) == head:
        return head
    with _MIGRATION_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _ADVISORY_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        if before != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            logger.info("registry schema upgraded from=%s to=%s", before, head)
    return head


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None for an empty database).

    Read from ``alembic_version`` directly: Alembic's context logs at INFO on every open.
    """
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
