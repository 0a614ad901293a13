"""``vfnode export``: the registry's cases as CSV or Parquet, optionally de-identified."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.progress import Progress

from node.cli.registry import add_where, make_console, open_registry, selected_cases
from node.config import Settings
from node.registry.deidentify import Deidentifier
from node.registry.export import FORMATS, export_records, write_records


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("export", help="export cases as CSV or Parquet")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    parser.add_argument("--deidentify", action="store_true",
                        help="keyed hashes of identifiers (registry.site_secret), names "
                             "dropped, dates shifted per patient")
    parser.add_argument("--all-runs", action="store_true", help="include superseded runs")
    add_where(parser)
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    deidentifier = Deidentifier(settings.registry.site_secret) if args.deidentify else None
    console = make_console()
    with open_registry(settings) as registry:
        rows = selected_cases(registry, args)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("exporting", total=len(rows))
            records = export_records(rows, deidentifier,
                                     step=lambda: progress.advance(task))
        path = write_records(records, args.out, args.format)
        registry.record_audit("export", rows=len(records), detail={
            "out": str(args.out), "format": args.format, "deidentified": args.deidentify,
            "where": list(args.where), "all_runs": args.all_runs})
    console.print(f"exported {len(records)} case(s) to {path}"
                  + (" (de-identified)" if args.deidentify else ""))
    return 0
