"""One CT series (pydicom datasets) to a HU volume with its affine (spec: "Inputs").

Geometry comes from highdicom (``get_series_volume_positions`` orders and validates the
slices, ``Volume.from_attributes`` builds the affine), never from InstanceNumber or file
order. The pixels are stacked as int16 HU: highdicom's one-call loader rescales to
float64, which costs about 3x the read time and 4x the memory (shared/facts.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import numpy.typing as npt
from highdicom.spatial import get_series_volume_positions
from pydicom.dataset import Dataset

from node.errors import UnusableSeriesError

logger = logging.getLogger(__name__)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
# A series counts as axial when its slice normal is within this angle of patient z.
MAX_AXIAL_TILT_DEG = 30.0
_INT16 = np.iinfo(np.int16)


@dataclass(frozen=True, slots=True, eq=False)
class CtVolume:
    """A CT series as a HU volume on its own grid.

    Attributes
    ----------
    hu : (slices, rows, columns) int16
        Hounsfield units.
    affine : (4, 4) float
        Maps (slice, row, column, 1) indices to patient LPS, mm.
    sop_instance_uids : tuple of str
        SOP Instance UID of the image at each slice index.
    series_instance_uid, study_instance_uid : str
        The series and study the volume comes from.
    slice_thickness_mm : float
        Nominal SliceThickness when present, else the slice spacing.
    """

    hu: npt.NDArray[np.int16]
    affine: npt.NDArray[np.float64]
    sop_instance_uids: tuple[str, ...]
    series_instance_uid: str
    study_instance_uid: str
    slice_thickness_mm: float

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel edge lengths along (slice, row, column), mm."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[0]), float(norms[1]), float(norms[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        s, r, c = self.hu.shape
        return int(s), int(r), int(c)


def slice_normal(ds: Dataset) -> npt.NDArray[np.float64]:
    """Unit normal of an image plane (row direction x column direction), LPS."""
    iop = np.asarray([float(v) for v in ds.ImageOrientationPatient], dtype=np.float64)
    normal = np.cross(iop[:3], iop[3:])
    return np.asarray(normal / np.linalg.norm(normal), dtype=np.float64)


def is_axial(ds: Dataset, max_tilt_deg: float = MAX_AXIAL_TILT_DEG) -> bool:
    """True when the image plane is within ``max_tilt_deg`` of the axial plane."""
    if "ImageOrientationPatient" not in ds:
        return False
    return abs(float(slice_normal(ds)[2])) >= math.cos(math.radians(max_tilt_deg))


def load_volume(datasets: Sequence[Dataset]) -> CtVolume:
    """Stack the images of one axial CT series into a HU volume.

    Parameters
    ----------
    datasets : sequence of pydicom Dataset
        Every image of one series, in any order (CT Image Storage), or one Enhanced CT
        multi-frame image.

    Raises
    ------
    UnusableSeriesError
        Not CT, not axial, missing slices, mixed geometry or pixels out of range; the
        message names the series and the reason.
    """
    if not datasets:
        raise UnusableSeriesError("A series needs at least one image. Found none.")
    uid = str(datasets[0].get("SeriesInstanceUID", "?"))
    _check_common(datasets, uid)
    if len(datasets) == 1 and int(datasets[0].get("NumberOfFrames", 1) or 1) > 1:
        return _load_multiframe(datasets[0], uid)
    spacing, order = _positions(datasets, uid)
    ordered = [datasets[i] for i in np.argsort(order)]
    first = ordered[0]
    hu = np.empty((len(ordered), int(first.Rows), int(first.Columns)), dtype=np.int16)
    for k, ds in enumerate(ordered):
        hu[k] = _slice_hu(ds, uid)
    affine = hd.Volume.from_attributes(
        array=hu[:1], image_position=[float(v) for v in first.ImagePositionPatient],
        image_orientation=[float(v) for v in first.ImageOrientationPatient],
        pixel_spacing=[float(v) for v in first.PixelSpacing],
        spacing_between_slices=spacing, coordinate_system="PATIENT",
    ).affine
    thickness = float(first.get("SliceThickness") or spacing)
    return CtVolume(
        hu=hu, affine=np.asarray(affine, dtype=np.float64),
        sop_instance_uids=tuple(str(ds.SOPInstanceUID) for ds in ordered),
        series_instance_uid=uid, study_instance_uid=str(first.get("StudyInstanceUID", "")),
        slice_thickness_mm=thickness,
    )


def _check_common(datasets: Sequence[Dataset], uid: str) -> None:
    """Same series, CT, axial, one matrix size and pixel spacing."""
    series = {str(ds.get("SeriesInstanceUID", "?")) for ds in datasets}
    if len(series) > 1:
        raise UnusableSeriesError(
            f"A volume must come from one series. Found {len(series)} series: "
            f"{sorted(series)[:3]}."
        )
    for ds in datasets:
        if str(ds.get("Modality", "")) != "CT":
            raise UnusableSeriesError(
                f'Series {uid}: Modality must be "CT". Found "{ds.get("Modality", "")}".'
            )
        for keyword in ("ImageOrientationPatient", "PixelSpacing", "Rows", "Columns"):
            if keyword not in ds and int(ds.get("NumberOfFrames", 1) or 1) == 1:
                raise UnusableSeriesError(f"Series {uid}: every image needs {keyword}.")
    if int(datasets[0].get("NumberOfFrames", 1) or 1) > 1:
        return
    if not is_axial(datasets[0]):
        normal = np.round(slice_normal(datasets[0]), 3).tolist()
        raise UnusableSeriesError(
            f"Series {uid}: slices must be axial (normal within {MAX_AXIAL_TILT_DEG:g} "
            f"degrees of patient z). Found normal {normal}."
        )
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    spacings = {tuple(round(float(v), 4) for v in ds.PixelSpacing) for ds in datasets}
    if len(shapes) > 1 or len(spacings) > 1:
        raise UnusableSeriesError(
            f"Series {uid}: every image must share one matrix and pixel spacing (mixed "
            f"geometry). Found matrices {sorted(shapes)} and spacings {sorted(spacings)}."
        )


def _positions(datasets: Sequence[Dataset], uid: str) -> tuple[float, list[int]]:
    """Slice spacing and index of each dataset; a clear reason when they are no volume."""
    if len(datasets) < 2:
        raise UnusableSeriesError(f"Series {uid}: a volume needs at least 2 slices. Found 1.")
    spacing, order = get_series_volume_positions(datasets, orientation_tol=1e-3)
    if spacing is not None and order is not None:
        return float(spacing), list(order)
    orientations = {tuple(round(float(v), 3) for v in ds.ImageOrientationPatient)
                    for ds in datasets}
    if len(orientations) > 1:
        raise UnusableSeriesError(
            f"Series {uid}: every slice must share one orientation (mixed geometry). "
            f"Found {len(orientations)} orientations."
        )
    normal = slice_normal(datasets[0])
    heights = np.sort([float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient]))
                       for ds in datasets])
    steps = np.diff(heights)
    if np.any(steps < 1e-3):
        raise UnusableSeriesError(
            f"Series {uid}: every slice must have its own position. Found "
            f"{int(np.sum(steps < 1e-3))} duplicated positions."
        )
    gap, base = float(steps.max()), float(np.median(steps))
    raise UnusableSeriesError(
        f"Series {uid}: slices must be evenly spaced without gaps (missing slices?). "
        f"Found steps from {steps.min():.3f} to {gap:.3f} mm (median {base:.3f} mm)."
    )


def _slice_hu(ds: Dataset, uid: str) -> npt.NDArray[np.int16]:
    """HU of one image as int16 (stored value x slope + intercept, rounded)."""
    pixels = ds.pixel_array
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    if slope == 1.0 and intercept.is_integer():
        values = pixels.astype(np.int32, copy=False) + int(intercept)
    else:
        values = np.rint(pixels.astype(np.float32) * slope + intercept).astype(np.int32)
    low, high = int(values.min()), int(values.max())
    if low < _INT16.min or high > _INT16.max:
        raise UnusableSeriesError(
            f"Series {uid}: HU must fit in int16 ({_INT16.min}..{_INT16.max}). Found "
            f"{low}..{high} in {ds.get('SOPInstanceUID', '?')}."
        )
    return values.astype(np.int16)


def _load_multiframe(ds: Dataset, uid: str) -> CtVolume:
    """An Enhanced CT image through highdicom's own volume reader."""
    image = hd.Image.from_dataset(ds, copy=False)
    try:
        volume = image.get_volume(dtype=np.float32)
    except (ValueError, RuntimeError) as exc:
        raise UnusableSeriesError(f"Series {uid}: the frames must form a volume. {exc}") from exc
    array = np.asarray(volume.array)
    if array.min() < _INT16.min or array.max() > _INT16.max:
        raise UnusableSeriesError(f"Series {uid}: HU must fit in int16.")
    affine = np.asarray(volume.affine, dtype=np.float64)
    normal = affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    if abs(normal[2]) < math.cos(math.radians(MAX_AXIAL_TILT_DEG)):
        raise UnusableSeriesError(f"Series {uid}: frames must be axial. Found normal "
                                  f"{np.round(normal, 3).tolist()}.")
    n = array.shape[0]
    return CtVolume(
        hu=np.rint(array).astype(np.int16), affine=affine,
        sop_instance_uids=(str(ds.SOPInstanceUID),) * n, series_instance_uid=uid,
        study_instance_uid=str(ds.get("StudyInstanceUID", "")),
        slice_thickness_mm=float(np.linalg.norm(affine[:3, 0])),
    )
