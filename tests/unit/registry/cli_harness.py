"""Run the registry/cohort sub-commands as ``vfnode`` would, on given settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from node.cli import cases, cohort, export, registry
from node.config import Settings, load_settings
from node.errors import VfnodeError

SECRET = "site-secret-for-tests-0123456789"


def settings_for(folder: Path, *, secret: str = SECRET) -> Settings:
    empty = folder / "empty.toml"
    empty.write_text("")
    return load_settings(empty, environ={"VFNODE_STORAGE_DATA_DIR": str(folder / "var"),
                                         "VFNODE_REGISTRY_SITE_SECRET": secret})


def vfnode(argv: list[str], settings: Settings) -> int:
    """Parse ``argv`` with the four modules' parsers and run it like ``node.cli.main``."""
    parser = argparse.ArgumentParser(prog="vfnode")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (registry, cases, cohort, export):
        module.register(subparsers)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, settings))
    except VfnodeError as exc:
        print(f"vfnode: {exc}", file=sys.stderr)
        return 1
