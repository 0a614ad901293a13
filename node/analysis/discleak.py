"""Disc leaks a body finder carried into the body: cut back to the endplate beside them.

Cement that leaks through an endplate spreads in the disc as blobs against the plate. A
finder paints the cement and its blur over before it looks for the body, so the plate
under a blob is hidden and the body may run on into the disc around the blobs: the body's
end bulges over them. Such a blob is a piece of cement apart from the body's main mass,
at the body's end, beyond where that end lies on the columns around it that are clear of
cement (the plate). Cement inside the body is not: it lies below the plate, or is part of
the main mass (cement filling the body up to its plate).

The main mass itself may go on through a hole in the plate and spread in the disc. What
tells that spread from cement filling the body up to a plate the finder drew too far out
is the hole: the cement is narrower where it crosses the plate than where it spreads.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.bodies import Body, with_voxels_cut
from node.analysis.measure import voxel_volume_ml
from node.analysis.surface import fitted_quadratic, quadratic_terms

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

BIN_MM = 1.0
# A blob is at the body's end when most of it lies this close to the end of its column.
END_MM = 3.0
AT_END = 0.5
# The plate beside a blob is read on the columns this far from it, clear of cement.
RING_MM = (3.0, 8.0)
CLEAR_MM = 2.0
RIM_MM = 3.0                # ...inside the footprint's rim, where the ends curve off
MIN_RING_COLUMNS = 10
PLATE_SPREAD_MM = 3.0       # ...and only where most of them agree to within this
PLATE_SPREAD_VOXELS = 2.0   # ...or this many voxels along the axis (thick slices)
PLATE_AGREEING = 0.7
# The bulge is cut this far around the blob (the disc flooded between blobs).
AROUND_MM = 3.0
MIN_PIECE_VOXELS = 8
# The body's main cement may also go on through a hole in the plate and spread in the
# disc beyond it (see _Heights.overflow_of).
OVERFLOW_MM = 2.0
MIN_OVERFLOW_ML = 0.05
OVERFLOW_SHARE = 0.4
NECK_MM = 1.0
NECK_SHARE = 0.5


def with_disc_leaks_cut(body: Body, cement: BoolArray, shape: tuple[int, ...]) -> Body:
    """The body without the bulges over cement blobs beyond its endplates.

    Parameters
    ----------
    body : Body
        A vertebral body found in the volume.
    cement : (slices, rows, columns) bool
        Cement of the whole volume.
    shape : tuple of int
        Shape of the volume.
    """
    inner = body.mask & cement[body.box]
    pieces, n = ndimage.label(inner, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return body
    coords = body.frame_coordinates(np.argwhere(body.mask))
    # A voxel's centre stands up to half its extent along the axis off the plate.
    half_voxel = 0.5 * body.step_along_axis_mm
    voxel_ml = voxel_volume_ml(body.box_affine)
    sizes = np.bincount(pieces[body.mask], minlength=n + 1)
    main = int(np.argmax(sizes[1:])) + 1
    piece_of = pieces[body.mask]
    cut = np.zeros(len(coords), dtype=bool)
    for end in (1, -1):
        heights = _Heights(coords, piece_of, end, half_voxel)
        for label in range(1, n + 1):
            if label != main and sizes[label] >= MIN_PIECE_VOXELS:
                cut |= heights.bulge_over(label)
        cut |= heights.overflow_of(main, voxel_ml)
    return with_voxels_cut(body, cut, shape)


class _Heights:
    """The end of the body's columns (BIN_MM bins of l, a) toward ``end`` along s."""

    def __init__(self, coords: FloatArray, piece_of: npt.NDArray[np.int32], end: int,
                 tolerance: float) -> None:
        self.coords, self.piece_of, self.end = coords, piece_of, end
        self.tolerance = tolerance
        lo = coords[:, :2].min(axis=0)
        self.cells = np.floor((coords[:, :2] - lo) / BIN_MM).astype(np.int64)
        grid = tuple(self.cells.max(axis=0) + 1)
        along = coords[:, 2] * end
        self.top = np.full(grid, -np.inf)
        np.maximum.at(self.top, (self.cells[:, 0], self.cells[:, 1]), along)
        # Columns whose end is clear of cement: the plate is read there.
        cemented = np.zeros(grid, dtype=bool)
        near_end = along >= self.top[self.cells[:, 0], self.cells[:, 1]] - CLEAR_MM
        hit = (piece_of > 0) & near_end
        cemented[self.cells[hit, 0], self.cells[hit, 1]] = True
        inside = ndimage.binary_erosion(np.isfinite(self.top),
                                        iterations=max(round(RIM_MM / BIN_MM), 1))
        self.clear = inside & ~cemented

    def bulge_over(self, label: int) -> BoolArray:
        """The voxels beyond the plate around piece ``label`` when the piece lies at the
        end, beyond that plate; none otherwise."""
        none = np.zeros(len(self.coords), dtype=bool)
        own = self.piece_of == label
        cells = self.cells[own]
        along = self.coords[own, 2] * self.end
        at_end = along >= self.top[cells[:, 0], cells[:, 1]] - END_MM
        if np.mean(at_end) < AT_END:
            return none
        footprint = self._footprint(own)
        plate = self._plate_around(footprint, plane=False)
        if plate is None or np.median(along - plate[cells[:, 0], cells[:, 1]]) <= 0.0:
            return none
        return self._beyond(plate, footprint)

    def overflow_of(self, label: int, voxel_ml: float) -> BoolArray:
        """The voxels beyond the plate around the cement of piece ``label`` that went on
        through a hole in the plate and spread in the disc; none when there is no such
        spread.

        The piece is the body's main cement, which may fill the body up to its plate:
        only a spread of at least MIN_OVERFLOW_ML more than OVERFLOW_MM beyond the plate
        read around the piece's end, over at most OVERFLOW_SHARE of the body's
        footprint, and wider than the piece where it crosses the plate by 1 / NECK_SHARE
        counts. A plane, not a quadratic, stands for the plate: it is read on a ring
        round a wide footprint, and over the middle of a concave plate it lies beyond
        the plate, not inside the body.
        """
        none = np.zeros(len(self.coords), dtype=bool)
        own = self.piece_of == label
        along = self.coords[:, 2] * self.end
        end_part = own & (along >= self.top[self.cells[:, 0], self.cells[:, 1]] - END_MM)
        if np.count_nonzero(end_part) < MIN_PIECE_VOXELS:
            return none
        plate = self._plate_around(self._footprint(end_part), plane=True)
        if plate is None:
            return none
        level = plate[self.cells[:, 0], self.cells[:, 1]]
        spread = own & (along > level + OVERFLOW_MM)
        neck = own & (np.abs(along - level) <= max(NECK_MM, self.tolerance))
        spread_footprint = self._footprint(spread)
        spread_area = np.count_nonzero(spread_footprint)
        if (np.count_nonzero(spread) * voxel_ml < MIN_OVERFLOW_ML
                or spread_area > OVERFLOW_SHARE * np.count_nonzero(np.isfinite(self.top))
                or np.count_nonzero(self._footprint(neck)) > NECK_SHARE * spread_area):
            return none
        return self._beyond(plate, spread_footprint)

    def _footprint(self, voxels: BoolArray) -> BoolArray:
        footprint = np.zeros(self.top.shape, dtype=bool)
        footprint[self.cells[voxels, 0], self.cells[voxels, 1]] = True
        return footprint

    def _beyond(self, plate: FloatArray, footprint: BoolArray) -> BoolArray:
        """The voxels beyond ``plate`` on the columns within AROUND_MM of ``footprint``."""
        away = ndimage.distance_transform_edt(~footprint) * BIN_MM
        around = away[self.cells[:, 0], self.cells[:, 1]] <= AROUND_MM
        beyond = self.coords[:, 2] * self.end > plate[self.cells[:, 0], self.cells[:, 1]]
        return np.asarray(around & beyond, dtype=bool)

    def _plate_around(self, footprint: BoolArray, *, plane: bool) -> FloatArray | None:
        """The plate read on the clear columns RING_MM from ``footprint``, raised by the
        tolerance, over every column; None when too few are clear or their ends lie on
        no such surface."""
        away = ndimage.distance_transform_edt(~footprint) * BIN_MM
        ring = self.clear & (away >= RING_MM[0]) & (away <= RING_MM[1])
        if np.count_nonzero(ring) < MIN_RING_COLUMNS:
            return None
        rows, cols = np.nonzero(ring)
        spread = max(PLATE_SPREAD_MM, PLATE_SPREAD_VOXELS * 2.0 * self.tolerance)
        # Columns of the bulge itself may fall in the ring: refitted without them.
        coef = fitted_quadratic(rows, cols, self.top[rows, cols], tolerance=0.5 * spread,
                                min_points=int(np.ceil(PLATE_AGREEING * len(rows))),
                                min_inliers=PLATE_AGREEING, plane=plane)
        if coef is None:
            return None
        grid_rows, grid_cols = np.indices(self.top.shape)
        surface = quadratic_terms(grid_rows.ravel(), grid_cols.ravel()) @ coef
        return np.asarray(surface.reshape(self.top.shape) + self.tolerance, dtype=np.float64)
