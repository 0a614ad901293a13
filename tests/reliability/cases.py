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


@dataclass(frozen=True, slots=True)
class Relabelled:
    """A copy of a phantom study under new UIDs (and, optionally, extra CT series)."""

    folder: Path
    study_uid: str
    ct_series_uids: tuple[str, ...]
    files: tuple[Path, ...]
    sop_uids: tuple[str, ...]


def relabel(case: PhantomCase, out: Path, tag: str, *, extra_ct_series: int = 0,
            ct_only: bool = False) -> Relabelled:
    """Write the case again under new, ``tag``-derived UIDs (a new patient study), with
    ``extra_ct_series`` more copies of the CT series as further reconstructions
    (``ct_only``: only the CT series that is analysed, no localizer or other series)."""
    from pydicom.uid import generate_uid

    def uid(old: str) -> str:
        return str(generate_uid(entropy_srcs=[tag, old]))

    out.mkdir(parents=True, exist_ok=True)
    files, sops, ct_series = [], [], []
    copies = [("", case.ct_files if ct_only else case.files)]
    copies += [(f"r{k}", case.ct_files) for k in range(extra_ct_series)]
    for copy, paths in copies:
        for path in paths:
            ds = pydicom.dcmread(path)
            ds.StudyInstanceUID = uid(ds.StudyInstanceUID)
            ds.SeriesInstanceUID = uid(ds.SeriesInstanceUID + copy)
            ds.SOPInstanceUID = uid(ds.SOPInstanceUID + copy)
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PatientID = f"{ds.PatientID}-{tag}"
            if copy:
                ds.SeriesNumber = 100 + len(ct_series)
                ds.SeriesDescription = f"{ds.get('SeriesDescription', 'CT')} {copy}"
            if path.parent.name == "ct" and ds.SeriesInstanceUID not in ct_series:
                ct_series.append(str(ds.SeriesInstanceUID))
            target = out / f"{copy or 'o'}-{path.parent.name}-{path.name}"
            ds.save_as(target, enforce_file_format=True)
            files.append(target)
            sops.append(str(ds.SOPInstanceUID))
    return Relabelled(out, uid(case.study_uid), tuple(ct_series), tuple(files), tuple(sops))
