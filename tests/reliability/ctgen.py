"""Small, seeded, valid CT series written with pydicom, for network tests that need
DICOM files before (or without) the phantom: a few slices, real geometry, real UIDs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


@dataclass(frozen=True, slots=True)
class Series:
    """Files of one written series and its UIDs."""

    study_uid: str
    series_uid: str
    sop_uids: tuple[str, ...]
    paths: tuple[Path, ...]


def ct_dataset(*, study_uid: str, series_uid: str, frame_uid: str, index: int,
               pixels: np.ndarray, spacing_mm: float = 1.0, thickness_mm: float = 2.0,
               patient_id: str = "VF-TEST-1") -> Dataset:
    """One axial CT slice (int16 stored, intercept -1024) at z = index * thickness."""
    ds = Dataset()
    ds.preamble = b"\0" * 128
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop_uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = "Test^Reliability"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19500101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = "A1"
    ds.StudyDescription = "CT spine test"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.Modality = "CT"
    ds.Manufacturer = "vfnode-tests"
    ds.SeriesNumber = 1
    ds.SeriesDescription = "test CT"
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [0.0, 0.0, float(index) * thickness_mm]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.SliceThickness = thickness_mm
    ds.KVP = 120
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 400
    ds.WindowWidth = 1800
    ds.PixelData = pixels.astype("<i2").tobytes()
    return ds


def write_ct_series(out: Path, *, slices: int = 5, size: int = 64, seed: int = 0,
                    patient_id: str = "VF-TEST-1") -> Series:
    """Write ``slices`` seeded slices of ``size``² to ``out``; return their UIDs and paths."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    sops, paths = [], []
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    body = (xx / 0.45) ** 2 + (yy / 0.35) ** 2 < 1.0
    bone = (xx / 0.12) ** 2 + ((yy - 0.12) / 0.1) ** 2 < 1.0
    for index in range(slices):
        # Stored values, intercept -1024: air 0, soft tissue ~1064, bone ~1724, some noise.
        pixels = np.where(body, 1064, 0) + np.where(bone, 660, 0)
        pixels = (pixels + rng.normal(0, 15, size=(size, size))).clip(0, 4095).astype(np.int16)
        ds = ct_dataset(study_uid=study, series_uid=series, frame_uid=frame, index=index,
                        pixels=pixels, patient_id=patient_id)
        path = out / f"ct_{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        sops.append(str(ds.SOPInstanceUID))
        paths.append(path)
    return Series(study, series, tuple(sops), tuple(paths))
