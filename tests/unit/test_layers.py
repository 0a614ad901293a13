"""Imports point down: the pure packages never reach the network, the database or config."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NODE = Path(__file__).resolve().parents[2] / "node"
PURE = ["analysis", "results", "cohort", "phantom"]
FORBIDDEN_IN_PURE = ("pynetdicom", "sqlalchemy", "alembic", "node.net", "node.storage",
                     "node.jobs", "node.registry", "node.config", "node.cli")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_no_io_layer(package: str) -> None:
    offenders = [
        f"{path.relative_to(NODE.parent)} imports {name}"
        for path in sorted((NODE / package).rglob("*.py"))
        for name in imported_modules(path)
        if name.startswith(FORBIDDEN_IN_PURE)
    ]
    assert offenders == []


def test_only_net_imports_pynetdicom() -> None:
    offenders = [
        str(path.relative_to(NODE.parent))
        for path in sorted(NODE.rglob("*.py"))
        if "net" not in path.relative_to(NODE).parts[:1]
        and any(name.startswith("pynetdicom") for name in imported_modules(path))
    ]
    assert offenders == []
