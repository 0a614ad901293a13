"""Write a result object to bytes and read it back under strict pydicom validation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom import Dataset, config


@contextmanager
def strict_validation() -> Iterator[None]:
    """Raise on every value pydicom finds invalid, when reading and when writing."""
    settings = config.settings
    saved = (settings.reading_validation_mode, settings.writing_validation_mode)
    settings.reading_validation_mode = config.RAISE
    settings.writing_validation_mode = config.RAISE
    try:
        yield
    finally:
        settings.reading_validation_mode, settings.writing_validation_mode = saved


def _touch(dataset: Dataset) -> int:
    """Convert every element (values are validated on conversion); count them."""
    count = 0
    for element in dataset:
        count += 1
        if element.VR == "SQ":
            count += sum(_touch(item) for item in element.value)
        else:
            _ = element.value
    return count


def strict_roundtrip(dataset: Dataset) -> Dataset:
    """``dataset`` written as a DICOM file and read back, every element validated."""
    buffer = BytesIO()
    with strict_validation():
        dataset.save_as(buffer, enforce_file_format=True)
        read = pydicom.dcmread(BytesIO(buffer.getvalue()))
        assert _touch(read) > 10
        assert read.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID
    return read


def polygon_mask(points: npt.NDArray[np.float64], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Pixels whose centres lie inside a closed polyline given in DICOM image coordinates."""
    from skimage.draw import polygon

    rows, columns = polygon(points[:, 1] - 0.5, points[:, 0] - 0.5, shape=shape)
    mask = np.zeros(shape, dtype=bool)
    mask[rows, columns] = True
    return mask


def on_grid(array: npt.NDArray[np.generic], affine: npt.NDArray[np.float64],
            grid_affine: npt.NDArray[np.float64], grid_shape: tuple[int, ...],
            *, tolerance: float = 1e-3) -> npt.NDArray[np.bool_]:
    """Place a 3-D mask given with its own affine onto another voxel grid, voxel for voxel.

    The two grids must share voxel centres (the index map is integral); voxels that fall
    outside ``grid_shape`` must be empty.
    """
    index_map = np.linalg.inv(grid_affine) @ affine
    assert np.allclose(index_map, np.rint(index_map), atol=tolerance), index_map
    index_map = np.rint(index_map).astype(np.int64)
    source = np.argwhere(array > 0)
    target = source @ index_map[:3, :3].T + index_map[:3, 3]
    inside = np.all((target >= 0) & (target < np.asarray(grid_shape)), axis=1)
    assert inside.all(), f"{np.count_nonzero(~inside)} voxels fall outside the grid"
    out = np.zeros(grid_shape, dtype=bool)
    out[tuple(target.T)] = True
    return out
