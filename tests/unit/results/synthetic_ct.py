"""A small synthetic axial CT series with hand-built masks, for the result writers' tests.

Vertebral bodies are elliptic cylinders of trabecular bone (300 HU) in soft tissue
(40 HU); cement (2000 HU) is an ellipsoid inside a body; a leak is a small blob in the
canal behind the body. The numbers come from ``node.analysis.measure.measure_level``
on the very masks the CT was painted from, so the record and the masks agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from node.analysis.measure import measure_level
from node.analysis.types import (
    LEAK_SITE_CODES,
    Analysis,
    Extravertebral,
    Flag,
    LeakSite,
    Parameters,
    SeriesResult,
)

CASES = ("one_level", "two_levels", "no_cement")


@dataclass(frozen=True)
class Grid:
    """Geometry of the synthetic series (axis 0 runs from feet to head unless flipped)."""

    slices: int = 40
    size: int = 64
    pixel_mm: float = 1.0
    slice_mm: float = 1.5
    head_first_order: bool = False  # True: slice 0 is the most cranial one

    def affine(self) -> np.ndarray:
        affine = np.eye(4)
        affine[:3, :3] = [[0, 0, self.pixel_mm], [0, self.pixel_mm, 0], [self.slice_mm, 0, 0]]
        affine[:3, 3] = [-self.size * self.pixel_mm / 2, -self.size * self.pixel_mm / 2, 100.0]
        if self.head_first_order:
            affine[2, 0] = -self.slice_mm
            affine[2, 3] = 100.0 + (self.slices - 1) * self.slice_mm
        return affine

    def mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Patient coordinates (z, y, x) of every voxel, broadcastable."""
        affine = self.affine()
        k = np.arange(self.slices)[:, None, None]
        r = np.arange(self.size)[None, :, None]
        c = np.arange(self.size)[None, None, :]
        z = affine[2, 3] + k * affine[2, 0]
        return z, affine[1, 3] + r * self.pixel_mm, affine[0, 3] + c * self.pixel_mm


def _ellipsoid(grid: Grid, centre: tuple[float, float, float],
               radii: tuple[float, float, float]) -> np.ndarray:
    z, y, x = grid.mm()
    (cz, cy, cx), (rz, ry, rx) = centre, radii
    return ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def _cylinder(grid: Grid, z_range: tuple[float, float], centre_yx: tuple[float, float],
              radii_yx: tuple[float, float]) -> np.ndarray:
    z, y, x = grid.mm()
    inside = ((y - centre_yx[0]) / radii_yx[0]) ** 2 + ((x - centre_yx[1]) / radii_yx[1]) ** 2
    return (inside <= 1.0) & (z >= z_range[0]) & (z <= z_range[1])


def _masks(kind: str, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """body_labels, cement, extravertebral_labels, leak_sites of one case."""
    shape = (grid.slices, grid.size, grid.size)
    bodies = np.zeros(shape, dtype=np.int16)
    cement = np.zeros(shape, dtype=bool)
    extra = np.zeros(shape, dtype=np.int16)
    sites = np.zeros(shape, dtype=np.uint8)
    scale = grid.size * grid.pixel_mm / 64.0  # keep the anatomy inside any field of view
    body_radii = (11.0 * scale, 14.0 * scale)
    upper = _cylinder(grid, (133.0, 152.0), (-4.0 * scale, 0.0), body_radii)
    lower = _cylinder(grid, (105.0, 124.0), (-4.0 * scale, 0.0), body_radii)
    if kind == "no_cement":
        return bodies, cement, extra, sites
    bodies[upper] = 1
    # Bipedicular filling: two islands on the key slice.
    cement |= upper & _ellipsoid(grid, (142.0, -4.0 * scale, -7.5 * scale),
                                 (11.0, 10.0 * scale, 6.5 * scale))
    cement |= upper & _ellipsoid(grid, (142.5, -4.0 * scale, 7.5 * scale),
                                 (11.0, 10.0 * scale, 6.5 * scale))
    if kind == "two_levels":
        bodies[lower] = 2
        cement |= lower & _ellipsoid(grid, (114.0, -6.0 * scale, 0.0),
                                     (5.0, 6.0 * scale, 6.0 * scale))
        leak = _ellipsoid(grid, (115.0, 10.5 * scale, 0.0), (3.0, 2.5 * scale, 2.5 * scale))
        leak &= bodies == 0
        cement |= leak
        extra[leak] = 2
        sites[leak] = LEAK_SITE_CODES[LeakSite.CANAL]
    return bodies, cement, extra, sites


def _levels(kind: str, grid: Grid, bodies: np.ndarray, cement: np.ndarray,
            extra: np.ndarray, params: Parameters) -> tuple:
    affine = grid.affine()
    voxel_ml = float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0
    names = {"one_level": ["L1"], "two_levels": ["L1", "L2"], "no_cement": []}[kind]
    levels = []
    for index, name in enumerate(names, start=1):
        leaked = Extravertebral(canal=float(np.count_nonzero(extra == index)) * voxel_ml)
        levels.append(measure_level(bodies == index, cement, affine, extravertebral=leaked,
                                    params=params, level=name))
    return tuple(levels)


def _painted_hu(grid: Grid, bodies: np.ndarray, cement: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hu = np.full(bodies.shape, 40.0, dtype=np.float32)
    hu[bodies > 0] = 300.0
    hu[cement] = 2000.0
    hu += rng.normal(0.0, 15.0, size=hu.shape).astype(np.float32)
    return hu


def _header(study: dict[str, str], series_uid: str, frame_uid: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientName = "Müller^Jörg"
    ds.PatientID = "VF-0001"
    ds.PatientBirthDate = "19450101"
    ds.PatientSex = "F"
    ds.PatientAge = "079Y"
    ds.StudyInstanceUID = study["uid"]
    ds.StudyDate = "20240105"
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = "ACC123"
    ds.ReferringPhysicianName = "Ref^Doc"
    ds.StudyDescription = "CT lumbar spine after PVP"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 3
    ds.SeriesDescription = "Bone 1.5 mm"
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "Synthetic"
    ds.BodyPartExamined = "LSPINE"
    ds.PatientPosition = "HFS"
    ds.KVP = "120"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "400"
    ds.WindowWidth = "1800"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.AcquisitionNumber = 1
    return ds


def _slices(grid: Grid, hu: np.ndarray, seed: int) -> list[Dataset]:
    rng = np.random.default_rng(seed)
    study = {"uid": generate_uid(entropy_srcs=["study", str(seed)])}
    series_uid = generate_uid(entropy_srcs=["series", str(seed), str(grid)])
    frame_uid = generate_uid(entropy_srcs=["frame", str(seed)])
    affine = grid.affine()
    stored = np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.uint16)
    out = []
    for k in range(grid.slices):
        ds = _header(study, series_uid, frame_uid)
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(v) for v in affine[:3, 3] + k * affine[:3, 0]]
        ds.SliceLocation = float(ds.ImagePositionPatient[2])
        ds.SliceThickness = grid.slice_mm
        ds.PixelSpacing = [grid.pixel_mm, grid.pixel_mm]
        ds.Rows = ds.Columns = grid.size
        ds.PixelData = stored[k].tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        out.append(ds)
    order = rng.permutation(len(out))  # arrival order is not slice order
    return [out[i] for i in order]


def make_case(kind: str, grid: Grid | None = None, *, seed: int = 7,
              flags: tuple[Flag, ...] = ()) -> tuple[Analysis, list[Dataset]]:
    """One synthetic case: the Analysis record and the CT datasets (shuffled).

    Parameters
    ----------
    kind : {"one_level", "two_levels", "no_cement"}
        ``two_levels`` has L1 (bipedicular cement) and L2 (little cement, a canal leak).
    grid : Grid, optional
        Geometry; defaults to 40 slices of 64 x 64.
    """
    if kind not in CASES:
        raise ValueError(f"kind must be one of {CASES}. Found {kind!r}.")
    grid = grid or Grid()
    params = Parameters()
    bodies, cement, extra, sites = _masks(kind, grid)
    levels = _levels(kind, grid, bodies, cement, extra, params)
    datasets = _slices(grid, _painted_hu(grid, bodies, cement, seed), seed)
    by_position = sorted(datasets, key=lambda ds: int(ds.InstanceNumber))
    all_flags = flags + ((Flag.NO_CEMENT_FOUND,) if kind == "no_cement" else ())
    result = SeriesResult(
        study_instance_uid=str(datasets[0].StudyInstanceUID),
        series_instance_uid=str(datasets[0].SeriesInstanceUID),
        software_version="0.1.0-test",
        parameters=params,
        flags=all_flags,
        levels=levels,
    )
    analysis = Analysis(
        result=result,
        affine=grid.affine(),
        slice_sop_instance_uids=tuple(str(ds.SOPInstanceUID) for ds in by_position),
        body_labels=bodies,
        cement=cement,
        extravertebral_labels=extra,
        leak_sites=sites,
    )
    return analysis, datasets
