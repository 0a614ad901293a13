"""Seeded CT series written with pydicom for network tests, and malformed files."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class WrittenSeries:
    study_uid: str
    series_uid: str
    paths: tuple[Path, ...]

    @property
    def sop_uids(self) -> list[str]:
        return [p.stem for p in self.paths]


def ct_slice(*, study_uid: str, series_uid: str, frame_uid: str, index: int,
             pixels: np.ndarray, thickness_mm: float = 1.0) -> Dataset:
    """One axial CT slice, int16 stored, intercept -1024, z = index * thickness."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.PatientName = "Test^Net"
    ds.PatientID = "NET-1"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.StudyDate = "20240101"
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [0.0, 0.0, index * thickness_mm]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = thickness_mm
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.PixelData = pixels.astype(np.int16).tobytes()
    return ds


def write_series(folder: Path, *, slices: int, seed: int, size: int = 64,
                 study_uid: str | None = None) -> WrittenSeries:
    """``slices`` files named ``<sop uid>.dcm`` in ``folder`` (created)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    study = study_uid or generate_uid()
    series, frame = generate_uid(), generate_uid()
    paths = []
    for index in range(slices):
        pixels = rng.integers(900, 1300, size=(size, size), dtype=np.int16)
        ds = ct_slice(study_uid=study, series_uid=series, frame_uid=frame, index=index,
                      pixels=pixels)
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return WrittenSeries(study_uid=study, series_uid=series, paths=tuple(paths))


def truncate_pixels(source: Path, target: Path, *, keep_bytes: int = 1000) -> Path:
    """A copy of ``source`` with its Pixel Data cut short (a malformed instance)."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) - keep_bytes])
    return target


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float, msg: str,
             interval: float = 0.1) -> object:
    """Poll ``predicate`` until truthy; fail with ``msg`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {msg}")
        time.sleep(interval)
