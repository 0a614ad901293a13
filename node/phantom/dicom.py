"""Writing phantom series as CT Image Storage files, and reading a series back to HU.

Geometry comes from the grid's affine: (slice, row, column) -> patient LPS mm, axis 0 in
instance order. ImageOrientationPatient = (row direction, column direction), i.e. the
unit vectors of the affine's column and row steps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from node import __version__
from node.phantom._shapes import F32
from node.phantom.geometry import F64


@dataclass(frozen=True, slots=True)
class Patient:
    """Who and which study (all synthetic)."""

    name: str
    patient_id: str
    sex: str
    age: int
    weight_kg: float
    size_m: float
    accession: str
    study_uid: str
    frame_uid: str
    study_date: str          # YYYYMMDD
    position: str            # HFS or FFS


@dataclass(frozen=True, slots=True)
class Storage:
    """How pixels are stored: unsigned with intercept -1024, or signed."""

    signed: bool
    intercept: float
    bits_stored: int
    pad_hu: float            # HU outside the reconstruction circle


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What distinguishes one series of the study."""

    series_uid: str
    number: int
    description: str
    image_type: tuple[str, ...]
    kernel: str
    thickness_mm: float
    window: tuple[float, float]       # centre, width


def deterministic_uid(*parts: object) -> str:
    """A UID derived from ``parts`` (reproducible by seed)."""
    return str(generate_uid(entropy_srcs=[str(p) for p in parts]))


def _stored(hu: F32, storage: Storage, pad: np.ndarray | None) -> np.ndarray:
    values = np.rint(hu - np.float32(storage.intercept))
    if pad is not None:
        values[..., pad] = storage.pad_hu - storage.intercept
    top = 2 ** storage.bits_stored
    lo, hi = (-top // 2, top // 2 - 1) if storage.signed else (0, top - 1)
    dtype = np.int16 if storage.signed else np.uint16
    return np.clip(values, lo, hi).astype(dtype)


def _base(patient: Patient, info: SeriesInfo, storage: Storage) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    year = int(patient.study_date[:4]) - patient.age
    ds.PatientBirthDate = f"{year}0{1 + patient.age % 9}1{patient.age % 9}"
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{patient.age:03d}Y"
    ds.PatientWeight = f"{patient.weight_kg:.1f}"
    ds.PatientSize = f"{patient.size_m:.2f}"
    ds.StudyInstanceUID = patient.study_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = patient.study_date
    ds.StudyTime = "101500"
    ds.SeriesTime = f"1016{info.number % 60:02d}"
    ds.ContentTime = ds.AcquisitionTime = "101630"
    ds.StudyID = patient.accession[-6:]
    ds.AccessionNumber = patient.accession
    ds.ReferringPhysicianName = "REFERRER^SYNTHETIC"
    ds.StudyDescription = "CT SPINE POSTOP"
    ds.SeriesInstanceUID = info.series_uid
    ds.SeriesNumber = info.number
    ds.SeriesDescription = info.description
    ds.ProtocolName = "SPINE VERTEBROPLASTY"
    ds.BodyPartExamined = "SPINE"
    ds.PatientPosition = patient.position
    ds.FrameOfReferenceUID = patient.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "vfnode phantom"
    ds.ManufacturerModelName = "synthetic"
    ds.SoftwareVersions = __version__
    ds.InstitutionName = "SYNTHETIC"
    ds.ImageType = list(info.image_type)
    ds.KVP = "120"
    ds.XRayTubeCurrent = 250
    ds.ConvolutionKernel = info.kernel
    ds.SliceThickness = f"{info.thickness_mm:g}"
    ds.AcquisitionNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = storage.bits_stored
    ds.HighBit = storage.bits_stored - 1
    ds.PixelRepresentation = 1 if storage.signed else 0
    ds.RescaleIntercept = f"{storage.intercept:g}"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = f"{info.window[0]:g}"
    ds.WindowWidth = f"{info.window[1]:g}"
    return ds


def _save(ds: Dataset, path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def write_series(folder: Path, hu: F32, affine: F64, *, patient: Patient, info: SeriesInfo,
                 storage: Storage, sop_uids: list[str], pad_mask: np.ndarray | None,
                 rng: np.random.Generator) -> None:
    """Write ``hu`` (slices, rows, columns) as one file per slice, in shuffled file names."""
    folder.mkdir(parents=True, exist_ok=True)
    col_step, row_step = affine[:3, 2], affine[:3, 1]
    spacing = (float(np.linalg.norm(row_step)), float(np.linalg.norm(col_step)))
    orientation = np.concatenate([col_step / spacing[1], row_step / spacing[0]])
    stored = _stored(hu, storage, pad_mask)
    names = rng.permutation(len(hu))
    for i in range(len(hu)):
        ds = _base(patient, info, storage)
        position = affine[:3, 3] + affine[:3, 0] * i
        ds.SOPInstanceUID = sop_uids[i]
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [f"{c:.6f}" for c in position]
        ds.ImageOrientationPatient = [f"{c:.8f}" for c in orientation]
        ds.PixelSpacing = [f"{spacing[0]:.6f}", f"{spacing[1]:.6f}"]
        if len(hu) > 1:
            ds.SpacingBetweenSlices = f"{float(np.linalg.norm(affine[:3, 0])):.6f}"
        ds.SliceLocation = f"{position[2]:.6f}"
        ds.InstanceCreationDate = patient.study_date
        ds.Rows, ds.Columns = hu.shape[1:]
        ds.PixelData = stored[i].tobytes()
        _save(ds, folder / f"IM{names[i]:05d}.dcm")


def today_like(rng: np.random.Generator) -> str:
    day = dt.date(2021, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1400)))
    return day.strftime("%Y%m%d")


def read_series(folder: Path) -> tuple[F32, F64, list[str]]:
    """HU volume (float32), affine and SOP instance UIDs of the single-frame series in folder.

    Slices are ordered by their position along the slice normal as given by
    ImagePositionPatient (never by InstanceNumber or file name); axis 0 of the volume
    follows that order, from the smallest to the largest normal coordinate.
    """
    datasets = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    if not datasets:
        raise ValueError(f"A series folder must hold .dcm files. Found none in {folder}.")
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=np.float64)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    positions = np.array([ds.ImagePositionPatient for ds in datasets], dtype=np.float64)
    order = np.argsort(positions @ normal)
    datasets = [datasets[i] for i in order]
    positions = positions[order]
    steps = np.diff(positions, axis=0)
    step = steps.mean(axis=0) if len(steps) else normal * float(datasets[0].SliceThickness)
    if len(steps) and not np.allclose(steps, step, atol=1e-3):
        raise ValueError(f"Slices must be evenly spaced. Found steps {np.unique(steps, axis=0)}.")
    dr, dc = (float(v) for v in datasets[0].PixelSpacing)
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = step, col_dir * dr, row_dir * dc
    affine[:3, 3] = positions[0]
    hu = np.stack([ds.pixel_array.astype(np.float32) * np.float32(ds.RescaleSlope)
                   + np.float32(ds.RescaleIntercept) for ds in datasets])
    return hu, affine, [str(ds.SOPInstanceUID) for ds in datasets]
