"""``vfnode registry``: schema upgrade, clinical data import and the audit trail.

Also holds what the other registry commands share (opening the registry, ``--where``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from node.config import Settings
from node.errors import VfnodeError
from node.registry import ClinicalImportError, Registry
from node.registry.cases import CaseRow
from node.registry.filters import KEYS, Condition, apply, parse_condition


def make_console() -> Console:
    """A console on stdout; 160 columns wide when stdout is not a terminal (pipes, logs)."""
    return Console(width=None if sys.stdout.isatty() else 160)


def open_registry(settings: Settings) -> Registry:
    return Registry(settings.registry_url)


def add_where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--where", action="append", default=[], metavar="COND",
        help=f"KEY OP VALUE, repeatable (AND); keys: {', '.join(sorted(KEYS))}; "
             "e.g. --where 'date>=2020-01-01' --where level=L1")


def conditions(args: argparse.Namespace) -> list[Condition]:
    try:
        return [parse_condition(text) for text in args.where]
    except ValueError as exc:
        raise VfnodeError(str(exc)) from exc


def selected_cases(registry: Registry, args: argparse.Namespace) -> list[CaseRow]:
    """The cases matching ``--where`` (superseded runs too when ``--all-runs`` was given)."""
    every = bool(getattr(args, "all_runs", False))
    return apply(registry.cases(include_superseded=every), conditions(args))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("registry", help="the case registry database")
    commands = parser.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    upgrade = commands.add_parser("upgrade", help="create or migrate the schema")
    upgrade.set_defaults(func=run_upgrade)
    info = commands.add_parser("info", help="database, schema revision, counts, audit trail")
    info.set_defaults(func=run_info)
    clinical = commands.add_parser(
        "import-clinical", help="join clinical data (CSV) to studies",
        description="Validate the whole file first; any bad row: nothing is imported.")
    clinical.add_argument("file", type=Path, help="CSV with a header row")
    clinical.set_defaults(func=run_import_clinical)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    with open_registry(settings) as registry:
        make_console().print(f"registry {_safe_url(registry.url)} at revision {registry.revision}")
    return 0


def run_info(args: argparse.Namespace, settings: Settings) -> int:
    console = make_console()
    with open_registry(settings) as registry:
        current = registry.cases()
        every = registry.cases(include_superseded=True)
        console.print(f"registry {_safe_url(registry.url)}, revision {registry.revision}")
        n_current = len({r.analysis_id for r in current})
        n_old = len({r.analysis_id for r in every}) - n_current
        console.print(f"{n_current} current analyses, {len(current)} treated vertebrae, "
                      f"{n_old} superseded runs")
        table = Table(title="Audit trail (last 20)")
        for column in ("ID", "When (UTC)", "Action", "By", "Rows", "Detail"):
            table.add_column(column)
        for event in registry.audit_events()[-20:]:
            table.add_row(str(event.id), event.at.strftime("%Y-%m-%d %H:%M"), event.action,
                          event.actor, str(event.rows),
                          ", ".join(f"{k}={v}" for k, v in event.detail.items())[:80])
        console.print(table)
    return 0


def run_import_clinical(args: argparse.Namespace, settings: Settings) -> int:
    console = make_console()
    path: Path = args.file
    if not path.is_file():
        raise VfnodeError(f'The clinical file must exist. Found no file at "{path}".')
    text = path.read_text(encoding="utf-8-sig")
    with open_registry(settings) as registry, console.status("validating and importing"):
        try:
            summary = registry.import_clinical(text, source=str(path))
        except ClinicalImportError as exc:
            table = Table(title=f"{path}: {len(exc.errors)} error(s), nothing imported")
            table.add_column("Line", justify="right")
            table.add_column("Reason")
            for error in exc.errors:
                table.add_row(str(error.line), error.reason)
            console.print(table)
            return 1
    console.print(f"imported {summary.rows} row(s): {summary.inserted} new, "
                  f"{summary.updated} updated (audit event {summary.audit_id})")
    return 0
