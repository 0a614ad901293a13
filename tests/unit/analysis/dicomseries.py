"""Build CT Image Storage datasets from a HU array and an affine (test data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def ct_series(hu: npt.NDArray[np.int16], affine: npt.NDArray[np.float64], *,
              unsigned: bool = False, series_uid: str | None = None,
              study_uid: str | None = None, description: str = "BONE 0.6",
              thickness: float | None = None) -> list[Dataset]:
    """One dataset per slice of ``hu`` (slice, row, column) placed by ``affine``.

    ``affine`` maps (slice, row, column) to LPS; the row direction of the images is its
    column axis and the column direction its row axis, as DICOM defines them.
    """
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_uid = generate_uid()
    row_dir = affine[:3, 2] / np.linalg.norm(affine[:3, 2])
    col_dir = affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    spacing = [float(np.linalg.norm(affine[:3, 1])), float(np.linalg.norm(affine[:3, 2]))]
    step = float(np.linalg.norm(affine[:3, 0]))
    out = []
    for k in range(hu.shape[0]):
        ds = _base(study_uid, series_uid, frame_uid, description)
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in affine[:3, :3] @ [k, 0, 0]
                                   + affine[:3, 3]]
        ds.ImageOrientationPatient = [round(float(v), 6) for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [round(v, 6) for v in spacing]
        ds.SliceThickness = thickness if thickness is not None else round(step, 4)
        ds.Rows, ds.Columns = int(hu.shape[1]), int(hu.shape[2])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        if unsigned:
            ds.PixelRepresentation = 0
            ds.RescaleIntercept = -1024
            pixels = (hu[k].astype(np.int32) + 1024).clip(0, 65535).astype(np.uint16)
        else:
            ds.PixelRepresentation = 1
            ds.RescaleIntercept = 0
            pixels = hu[k].astype(np.int16)
        ds.RescaleSlope = 1
        ds.PixelData = pixels.tobytes()
        out.append(ds)
    return out


def _base(study_uid: str, series_uid: str, frame_uid: str, description: str) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesDescription = description
    ds.SeriesNumber = 2
    ds.PatientID = "TEST"
    ds.PatientName = "Test^Phantom"
    ds.ConvolutionKernel = "B70f"
    return ds


def write_series(datasets: list[Dataset], folder: Path) -> list[Path]:
    """Write each dataset as ``<folder>/<n>.dcm``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        path = folder / f"{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
