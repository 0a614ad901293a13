"""systemd/vfnode.service passes ``systemd-analyze verify`` and keeps its hardening."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "systemd" / "vfnode.service"


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: scripts/install --test installs systemd")
    vfnode = ROOT / ".venv" / "bin" / "vfnode"
    if not vfnode.is_file():
        pytest.skip(f"{vfnode} is not installed")
    # The unit names the install location /opt/vfnode; verify checks that ExecStart exists.
    unit = tmp_path / "vfnode.service"
    unit.write_text(UNIT.read_text().replace("/opt/vfnode", str(ROOT)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, check=False)
    assert (done.returncode, done.stderr.strip()) == (0, "")


def test_hardening_and_restart() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["User"] == "vfnode"
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ReadWritePaths"] == "/var/lib/vfnode"
    assert service["UMask"] == "0077"
    assert "serve" in service["ExecStart"]
