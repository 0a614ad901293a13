"""Session fixtures: one small seeded phantom study shared by the end-to-end tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import VFNODE

needs_dcmtk = pytest.mark.skipif(shutil.which("storescp") is None,
                                 reason="dcmtk is not installed (scripts/install --test)")


@pytest.fixture(scope="session")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``vfnode phantom --small --seed 3``: a CT series with one cemented level."""
    out = tmp_path_factory.mktemp("phantom")
    subprocess.run([*VFNODE, "phantom", "--out", str(out), "--seed", "3", "--small",
                    "--family", "no_leak"], check=True, capture_output=True)
    return out
