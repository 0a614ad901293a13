"""The 0-10 cement distribution score of the spec, computed from 3-D masks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.analysis.frame import BodyFrame, voxel_centers_mm
from node.analysis.types import Score

_LEFT, _POSTERIOR, _SUPERIOR = 0, 1, 2


def distribution_score(
    body_mask: npt.NDArray[np.bool_],
    cement_mask: npt.NDArray[np.bool_],
    affine: npt.NDArray[np.float64],
    frame: BodyFrame,
    *,
    zone_fill_fraction: float = 0.5,
    silhouette_mask: npt.NDArray[np.bool_] | None = None,
    min_cross_section: float = 0.0,
) -> Score:
    """Coronal, sagittal and axial score of the cement inside one body.

    Parameters
    ----------
    body_mask, cement_mask : (slices, rows, columns) bool
        The vertebral body and the cement (only cement inside the body counts).
    affine : (4, 4) float
        Maps array indices to patient LPS, mm.
    frame : BodyFrame
        The body's frame (``node.analysis.frame.body_frame``).
    zone_fill_fraction : float
        A zone counts when cement covers at least this fraction of the body in it.
    silhouette_mask : (slices, rows, columns) bool, optional
        The cement as the coronal and sagittal projections see it (``cement_mask``
        when not given; see ``CementFinding.silhouette``).
    min_cross_section : float
        Axial slices whose body cross-section is smaller than this fraction of the
        widest one's are not scored. The spec scores every slice (0.0); a found body
        is given a small fraction: its end slices are slivers of the plate's rim, a
        few hundred voxels that a one-voxel error in where the plate lies fills with
        cement, while the slice a reader would pick cuts the body across.
    """
    body, cement, body_idx, cement_idx = _on_lattice(body_mask, cement_mask, affine, frame)
    seen_idx = cement_idx
    if silhouette_mask is not None:
        seen = frame.coordinates(voxel_centers_mm(body_mask & silhouette_mask, affine))
        seen_idx = _lattice(seen, body, affine, frame)
    coronal = _projection_score(body_idx, seen_idx, along=_LEFT, through=_POSTERIOR,
                                fraction=zone_fill_fraction)
    sagittal = _projection_score(body_idx, seen_idx, along=_SUPERIOR, through=_LEFT,
                                 fraction=zone_fill_fraction)
    axial = _axial_score(body, cement, body_idx[:, _SUPERIOR], cement_idx[:, _SUPERIOR],
                         fraction=zone_fill_fraction, min_cross_section=min_cross_section)
    return Score(coronal=coronal, sagittal=sagittal, axial=axial)


def _on_lattice(body_mask: npt.NDArray[np.bool_], cement_mask: npt.NDArray[np.bool_],
                affine: npt.NDArray[np.float64], frame: BodyFrame
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                           npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Frame coordinates of the body's and its cement's voxels, and their indices on a
    lattice along the frame axes at the voxel grid's step."""
    body = frame.coordinates(voxel_centers_mm(body_mask, affine))
    cement = frame.coordinates(voxel_centers_mm(body_mask & cement_mask, affine))
    return body, cement, _lattice(body, body, affine, frame), _lattice(cement, body, affine, frame)


def _lattice(coords: npt.NDArray[np.float64], body: npt.NDArray[np.float64],
             affine: npt.NDArray[np.float64], frame: BodyFrame) -> npt.NDArray[np.int64]:
    """Indices of frame coordinates on the body's lattice (origin at its lowest corner)."""
    return np.rint((coords - body.min(axis=0)) / frame.spacing_along(affine)).astype(np.int64)


def _filled(cement_count: npt.NDArray[np.int64], body_count: npt.NDArray[np.int64],
            fraction: float) -> int:
    has_body = body_count > 0
    return int(np.count_nonzero(has_body & (cement_count >= fraction * body_count - 1e-9)))


def _projected_pixels(idx: npt.NDArray[np.int64], through: int) -> npt.NDArray[np.int64]:
    """Unique 2-D pixels of a projection that drops axis ``through``."""
    kept = [axis for axis in range(3) if axis != through]
    if len(idx) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    # One integer per pixel: a 1-D unique sorts several times faster than rows.
    pixels = idx[:, kept] - idx[:, kept].min(axis=0)
    width = int(pixels[:, 1].max()) + 1
    keys = np.unique(pixels[:, 0] * width + pixels[:, 1])
    return np.stack([keys // width, keys % width], axis=1) + idx[:, kept].min(axis=0)


def _projection_score(body_idx: npt.NDArray[np.int64], cement_idx: npt.NDArray[np.int64],
                      *, along: int, through: int, fraction: float) -> int:
    """Filled zones (0-3) of a radiograph-like projection, zones split along ``along``."""
    body_count, cement_count = _zone_counts(body_idx, cement_idx, along=along, through=through)
    return _filled(cement_count, body_count, fraction)


def projection_coverages(body_mask: npt.NDArray[np.bool_], cement_mask: npt.NDArray[np.bool_],
                         affine: npt.NDArray[np.float64], frame: BodyFrame
                         ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Cement coverage of the three coronal zones (right, middle, left) and the three
    sagittal zones (lower, middle, upper): what the coronal and sagittal scores count."""
    _, _, body_idx, cement_idx = _on_lattice(body_mask, cement_mask, affine, frame)
    out = []
    for along, through in ((_LEFT, _POSTERIOR), (_SUPERIOR, _LEFT)):
        body_count, cement_count = _zone_counts(body_idx, cement_idx, along=along,
                                                through=through)
        out.append(cement_count / np.maximum(body_count, 1))
    return out[0], out[1]


def _zone_counts(body_idx: npt.NDArray[np.int64], cement_idx: npt.NDArray[np.int64],
                 *, along: int, through: int
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Projected body and cement pixels in each of the three zones along ``along``."""
    column = [axis for axis in range(3) if axis != through].index(along)
    body_px = _projected_pixels(body_idx, through)
    cement_px = _projected_pixels(cement_idx, through)
    lo = body_px[:, column].min() - 0.5
    width = body_px[:, column].max() + 0.5 - lo

    def zone(px: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.clip(np.floor(3 * (px[:, column] - lo) / width), 0, 2).astype(np.int64)

    return np.bincount(zone(body_px), minlength=3), np.bincount(zone(cement_px), minlength=3)


def _quadrant(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    left = coords[:, _LEFT] >= 0
    posterior = coords[:, _POSTERIOR] >= 0
    return (2 * left + posterior).astype(np.int64)


def _axial_score(body: npt.NDArray[np.float64], cement: npt.NDArray[np.float64],
                 body_slice: npt.NDArray[np.int64], cement_slice: npt.NDArray[np.int64],
                 *, fraction: float, min_cross_section: float) -> int:
    """Highest number of filled quadrants over slices perpendicular to the superior axis
    whose cross-section is at least ``min_cross_section`` of the widest."""
    n_slices = int(body_slice.max()) + 1
    body_count = np.zeros((n_slices, 4), dtype=np.int64)
    cement_count = np.zeros((n_slices, 4), dtype=np.int64)
    np.add.at(body_count, (body_slice, _quadrant(body)), 1)
    np.add.at(cement_count, (cement_slice, _quadrant(cement)), 1)
    filled = (body_count > 0) & (cement_count >= fraction * body_count - 1e-9)
    area = body_count.sum(axis=1)
    across = area >= min_cross_section * area.max()
    return int(filled[across].sum(axis=1).max())
