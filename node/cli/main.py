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
# Keyed by the commands each registers: a command imports only its own module (all of
# them take 4 s to import, which every start of ``vfnode serve`` used to pay).
COMMAND_MODULES = {
    "serve": "node.cli.serve",
    "echo": "node.cli.net", "send": "node.cli.net", "status": "node.cli.net",
    "outbox": "node.cli.net",
    "demo": "node.cli.demo",
    "phantom": "node.cli.phantom",
    "fetch": "node.cli.fetch",
    "analyze": "node.cli.analyze",
    "registry": "node.cli.registry", "cases": "node.cli.cases", "cohort": "node.cli.cohort",
    "export": "node.cli.export",
}


def _global_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", type=Path, help="TOML file (default config/vfnode.toml)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    return parser


def _command_of(argv: Sequence[str] | None) -> str | None:
    """The command named on the command line, or None (help, version, a typo)."""
    scan = _global_options(argparse.ArgumentParser(add_help=False))
    scan.add_argument("rest", nargs=argparse.REMAINDER)
    known, _ = scan.parse_known_args(argv)
    first = known.rest[0] if known.rest else None
    return first if first in COMMAND_MODULES else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command`` alone, or of every command when it is None."""
    parser = argparse.ArgumentParser(
        prog="vfnode",
        description="Bone cement volume fraction (VF%) after vertebroplasty, as a DICOM node.",
    )
    parser.add_argument("--version", action="version", version=f"vfnode {__version__}")
    _global_options(parser)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMAND_MODULES[command]] if command else COMMAND_MODULES.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(name).register(subparsers)
    return parser


def configure_logging(level: str) -> None:
    # On stderr: stdout carries what a command prints (``analyze --json`` piped to jq).
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_command_of(argv))
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
