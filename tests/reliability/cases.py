"""Phantom studies for the network tests, made once by ``vfnode phantom`` and cached.

The cache key holds the phantom code's hash, so a change to ``node/phantom`` makes new
cases; CI on a fresh machine makes them once per run (``--small``: ~15 s each).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from tests.reliability.nodeproc import VFNODE

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "phantoms"


@dataclass(frozen=True, slots=True)
class PhantomCase:
    """A phantom study on disk: every file, the CT series and the truth."""

    folder: Path
    truth: dict[str, Any]

    @property
    def study_uid(self) -> str:
        return str(self.truth["study_instance_uid"])

    @property
    def ct_series_uid(self) -> str:
        return str(self.truth["series_instance_uid"])

    @property
    def files(self) -> list[Path]:
        return sorted(self.folder.rglob("*.dcm"))

    @property
    def ct_files(self) -> list[Path]:
        return sorted((self.folder / "ct").glob("*.dcm"))

    def ct_sop_uids(self) -> set[str]:
        return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
                for p in self.ct_files}


def _code_hash() -> str:
    digest = hashlib.sha1()
    for path in sorted((ROOT / "node" / "phantom").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def phantom(family: str, seed: int, *, small: bool = True) -> PhantomCase:
    """The phantom case of ``family`` and ``seed`` (made on first use, then cached)."""
    name = f"{family}-{seed}-{'small' if small else 'full'}-{_code_hash()}"
    folder = CACHE / name
    if not (folder / "truth.json").is_file():
        partial = CACHE / f"{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        args = [VFNODE, "phantom", "--out", str(partial), "--seed", str(seed),
                "--family", family] + (["--small"] if small else [])
        result = subprocess.run(args, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"vfnode phantom must make {name}. Found exit code "
                               f"{result.returncode}: {result.stderr[-2000:]}")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return PhantomCase(folder, json.loads((folder / "truth.json").read_text()))
