"""Masks to what the result objects draw: source order, key slices and outlines."""

from __future__ import annotations

from collections.abc import Sequence

import contourpy
import numpy as np
import numpy.typing as npt
from pydicom import Dataset
from scipy import ndimage

# Cement islands smaller than this on the key slice are not outlined (pixels).
MIN_OUTLINE_PIXELS = 3
# At most this many cement outlines per vertebra (largest first).
MAX_CEMENT_OUTLINES = 4


def order_sources(datasets: Sequence[Dataset], slice_uids: Sequence[str]) -> list[Dataset]:
    """The CT datasets in the axis-0 order of the masks.

    Raises
    ------
    ValueError
        When a slice the masks were measured on is not among ``datasets``.
    """
    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets}
    missing = [uid for uid in slice_uids if uid not in by_uid]
    if missing:
        raise ValueError(
            "Every slice of the analysis must be among the source datasets. "
            f"Found {len(missing)} missing, e.g. {missing[0]}."
        )
    return [by_uid[uid] for uid in slice_uids]


def check_affine(sources: Sequence[Dataset], affine: npt.NDArray[np.float64],
                 *, tolerance_mm: float = 0.01) -> None:
    """Check that the masks' affine is the grid of the source images.

    Axis 1 of the masks must be the image rows and axis 2 the columns, and index
    ``(k, 0, 0)`` the position of slice ``k``; the SEG and the SR coordinates rely on it.
    """
    first, last = sources[0], sources[-1]
    orientation = np.asarray(first.ImageOrientationPatient, dtype=np.float64)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    expected = {
        "column step": orientation[:3] * column_spacing,
        "row step": orientation[3:] * row_spacing,
        "first slice position": np.asarray(first.ImagePositionPatient, dtype=np.float64),
        "last slice position": np.asarray(last.ImagePositionPatient, dtype=np.float64),
    }
    n = len(sources) - 1
    found = {
        "column step": affine[:3, 2],
        "row step": affine[:3, 1],
        "first slice position": affine[:3, 3],
        "last slice position": affine[:3, 3] + n * affine[:3, 0],
    }
    for name, value in expected.items():
        if not np.allclose(found[name], value, atol=tolerance_mm):
            raise ValueError(
                f"The analysis affine must match the source images ({name}). "
                f"Expected {np.round(value, 3).tolist()}, "
                f"found {np.round(found[name], 3).tolist()}."
            )


def key_slice(body: npt.NDArray[np.bool_], cement: npt.NDArray[np.bool_]) -> int:
    """Axis-0 index of the largest cement cross-section inside ``body``.

    Falls back to the largest body cross-section when the body holds no cement.
    """
    inside = np.count_nonzero(body & cement, axis=(1, 2))
    if inside.max() > 0:
        return int(np.argmax(inside))
    return int(np.argmax(np.count_nonzero(body, axis=(1, 2))))


def _drop_collinear(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The same closed polyline without the points that lie on a straight run."""
    steps = np.diff(points, axis=0)
    turn = np.abs(steps[1:, 0] * steps[:-1, 1] - steps[1:, 1] * steps[:-1, 0]) > 1e-9
    keep = np.concatenate([[True], turn, [True]])
    return np.asarray(points[keep], dtype=np.float64)


def _outline(component: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Closed outer outline of one connected 2-D component, DICOM image coordinates.

    The 0.5 iso-line of the mask (contourpy, as matplotlib draws it) runs along pixel
    edges between pixel centres (integer indices); DICOM puts the centre of pixel
    (r, c) at (c + 0.5, r + 0.5).
    """
    padded = np.pad(component, 1).astype(np.float64)
    lines = contourpy.contour_generator(z=padded, line_type=contourpy.LineType.Separate)
    found: list[npt.NDArray[np.float64]] = list(lines.lines(0.5))  # type: ignore[arg-type]
    outer = max(found, key=lambda line: int(line.shape[0]))  # (x, y) = (column, row)
    points = np.asarray(outer, dtype=np.float64) - 1.0 + 0.5
    if not np.array_equal(points[0], points[-1]):
        points = np.vstack([points, points[:1]])
    return _drop_collinear(points)


def outlines(mask: npt.NDArray[np.bool_], *, limit: int | None = None,
             min_pixels: int = MIN_OUTLINE_PIXELS) -> list[tuple[npt.NDArray[np.float64], int]]:
    """Outlines of the connected components of a 2-D mask, largest first.

    Returns
    -------
    list of (points, pixels)
        ``points`` (N, 2) closed polyline, DICOM image coordinates (column, row);
        ``pixels`` the component's area in pixels.
    """
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    order = [int(i) + 1 for i in np.argsort(-sizes, kind="stable") if sizes[i] >= min_pixels]
    if limit is not None:
        order = order[:limit]
    return [(_outline(labels == i), int(sizes[i - 1])) for i in order]
