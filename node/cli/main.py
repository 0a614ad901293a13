"""``vfnode``: the command line. Each sub-command lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from node import __version__
from node.config import Settings, load_settings
from node.errors import VfnodeError

logger = logging.getLogger(__name__)

# Each module has ``register(subparsers)``; its parsers set ``func(args, settings) -> int``.
COMMAND_MODULES = [
    "node.cli.serve",
    "node.cli.net",
    "node.cli.demo",
    "node.cli.phantom",
    "node.cli.fetch",
    "node.cli.analyze",
    "node.cli.registry", "node.cli.cases", "node.cli.cohort", "node.cli.export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vfnode",
        description="Bone cement volume fraction (VF%) after vertebroplasty, as a DICOM node.",
    )
    parser.add_argument("--version", action="version", version=f"vfnode {__version__}")
    parser.add_argument("--config", type=Path, help="TOML file (default config/vfnode.toml)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {"log.level": args.log_level} if args.log_level else {}
    try:
        settings: Settings = load_settings(args.config, overrides=overrides)
    except VfnodeError as exc:
        print(f"vfnode: configuration refused: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log.level)
    try:
        return int(args.func(args, settings))
    except VfnodeError as exc:
        print(f"vfnode: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
