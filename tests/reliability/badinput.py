"""Bad input a PACS or a broken modality may send, as files on disk (seeded, named).

Each case is one small series (its own Study and Series UIDs) whose files are sent as
they are, byte for byte (pynetdicom's chunked sending streams the file after its meta
header, so a truncated or garbled body reaches the node unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import MRImageStorage, SecondaryCaptureImageStorage, generate_uid

from tests.reliability.ctgen import ct_dataset


@dataclass(frozen=True, slots=True)
class BadCase:
    """A named series of files and what the node may do with it.

    ``may_store``: the node may answer Success (the bytes are a valid instance whose
    flaw only shows at analysis: it must then log why it was not analysed); False: the
    instance cannot be indexed and the node must answer a failure status.
    """

    name: str
    paths: tuple[Path, ...]
    sop_uids: tuple[str, ...]
    series_uid: str
    may_store: bool


def _series(n: int, seed: int, *, size: int = 32, thickness: float = 2.0
            ) -> list[Dataset]:
    rng = np.random.default_rng(seed)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    return [
        ct_dataset(study_uid=study, series_uid=series, frame_uid=frame, index=i,
                   pixels=rng.integers(900, 1300, size=(size, size), dtype=np.int16),
                   thickness_mm=thickness, patient_id=f"BAD-{seed}")
        for i in range(n)
    ]


def _write(out: Path, name: str, datasets: list[Dataset], *, may_store: bool,
           raw: Callable[[bytes, int], bytes] | None = None) -> BadCase:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        path = folder / f"{i:03d}.dcm"
        ds.save_as(path, enforce_file_format=False)
        if raw is not None:
            path.write_bytes(raw(path.read_bytes(), i))
        paths.append(path)
    return BadCase(name, tuple(paths), tuple(str(ds.SOPInstanceUID) for ds in datasets),
                   str(datasets[0].SeriesInstanceUID), may_store)


def truncated(out: Path, seed: int) -> BadCase:
    """Files cut in the middle of the pixel data (a sender that died mid-transfer)."""
    return _write(out, "truncated", _series(3, seed), may_store=False,
                  raw=lambda data, i: data[: len(data) - 700 - 100 * i])


def wrong_pixel_length(out: Path, seed: int) -> BadCase:
    """Pixel Data shorter than Rows × Columns × 2 bytes, correctly encoded."""
    datasets = _series(3, seed)
    for ds in datasets:
        ds.PixelData = bytes(ds.PixelData)[: len(ds.PixelData) // 2]
    return _write(out, "wrong_pixel_length", datasets, may_store=False)


def missing_geometry(out: Path, seed: int) -> BadCase:
    """No Image Position, Image Orientation or Pixel Spacing: not analysable."""
    datasets = _series(24, seed)
    for ds in datasets:
        del ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing
    return _write(out, "missing_geometry", datasets, may_store=True)


def inconsistent_spacing(out: Path, seed: int) -> BadCase:
    """24 slices 2 mm apart with a 7 mm gap after the 12th: a hole in the series."""
    datasets = _series(24, seed)
    for i, ds in enumerate(datasets):
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * i + (7.0 if i >= 12 else 0.0)]
    return _write(out, "inconsistent_spacing", datasets, may_store=True)


def single_slice(out: Path, seed: int) -> BadCase:
    """A series of one slice: no volume to measure."""
    return _write(out, "single_slice", _series(1, seed), may_store=True)


def non_ct(out: Path, seed: int) -> BadCase:
    """An MR image and a Secondary Capture: stored, logged as not analysed."""
    datasets = _series(2, seed)
    datasets[0].SOPClassUID = MRImageStorage
    datasets[0].file_meta.MediaStorageSOPClassUID = MRImageStorage
    datasets[0].Modality = "MR"
    datasets[1].SOPClassUID = SecondaryCaptureImageStorage
    datasets[1].file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    datasets[1].Modality = "OT"
    return _write(out, "non_ct", datasets, may_store=True)


def nonsense_values(out: Path, seed: int) -> BadCase:
    """Huge and nonsense values: 65535 rows, spacing "abc", a 64 KiB description,
    negative thickness, a 300-character patient ID (in a series of 24 slices)."""
    datasets = _series(24, seed)
    datasets[0].Rows = 65535
    # pydicom refuses "abc" as DS: put the bytes in raw, as a broken modality would.
    spacing = b"abc\\-1e308"
    datasets[1][0x00280030] = RawDataElement(BaseTag(0x00280030), "DS", len(spacing), spacing,
                                             0, False, True)
    datasets[1].SliceThickness = "-5"
    datasets[2].SeriesDescription = "x" * 65_000
    datasets[2].PatientID = "P" * 300
    return _write(out, "nonsense_values", datasets, may_store=True)


def bad_uids(out: Path, seed: int) -> BadCase:
    """A SOP Instance UID with path characters and a series without a Study UID."""
    datasets = _series(2, seed)
    datasets[0].SOPInstanceUID = "../../etc/passwd"
    datasets[0].file_meta.MediaStorageSOPInstanceUID = "../../etc/passwd"
    del datasets[1].StudyInstanceUID
    return _write(out, "bad_uids", datasets, may_store=False)


CASES: tuple[Callable[[Path, int], BadCase], ...] = (
    truncated, wrong_pixel_length, missing_geometry, inconsistent_spacing, single_slice,
    non_ct, nonsense_values, bad_uids,
)


def write_all(out: Path, seed: int = 0) -> list[BadCase]:
    """Every bad case under ``out``, one folder each."""
    return [make(out, seed + i) for i, make in enumerate(CASES)]
