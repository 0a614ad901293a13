"""The command line parser: each command is registered by the module it is listed with,
and a command imports only its own module."""

from __future__ import annotations

import argparse
import subprocess
import sys

from node.cli.main import COMMAND_MODULES, _command_of, build_parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_listed_command_is_registered_by_its_module() -> None:
    assert _commands(build_parser()) == set(COMMAND_MODULES)
    for command, module in COMMAND_MODULES.items():
        siblings = {c for c, m in COMMAND_MODULES.items() if m == module}
        assert _commands(build_parser(command)) == siblings, module


def test_the_command_is_found_after_the_global_options() -> None:
    assert _command_of(["--config", "x.toml", "--log-level", "DEBUG", "serve"]) == "serve"
    assert _command_of(["cases", "list", "--where", "serve"]) == "cases"
    assert _command_of(["--help"]) is None
    assert _command_of(["servr"]) is None


def test_serve_does_not_import_the_cohort_statistics() -> None:
    code = ("import sys; from node.cli.main import build_parser; build_parser('serve'); "
            "print(sorted(m for m in ('statsmodels', 'matplotlib', 'sklearn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
