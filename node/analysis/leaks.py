"""Extravertebral cement by location (spec: "Numbers", extravertebral cement).

Cement outside every vertebral body is attributed to the nearest treated body within
``leak_search_mm`` and classified in that body's frame (left l, posterior a, superior s):

- ``canal``: behind the posterior wall, between the pedicles (the spinal canal);
- ``needle_tract``: behind the posterior wall, lateral to the canal, within a pedicle's
  reach (the pedicle the needle went through), and the cement joined to it up to
  TRACT_FRONT_MM in front of the wall (where the tract enters the body);
- ``disc``: in front of the posterior wall, above or below the body, inside the
  footprint of its endplates: beyond the end of the body's own column where that end
  lies on the endplate. Cement beside the wall at mid-height lies inside the
  footprint's margin too, and cement beside a wall that slants toward the plate (a
  wedged body, a waisted one) beyond columns that end on the wall: such cement is disc
  only when most of its piece lies over the endplate itself;
- ``paravertebral``: everything else (venous and soft-tissue leaks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from node.analysis.bodies import Body
from node.analysis.surface import fitted_quadratic, quadratic_terms
from node.analysis.types import LEAK_SITE_CODES, Extravertebral, LeakSite

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# The canal spans about half the body's width; a pedicle reaches about 25 mm back.
CANAL_HALF_WIDTH_OF_BODY = 0.5
PEDICLE_REACH_MM = 25.0
CANAL_DEPTH_MM = 25.0
FOOTPRINT_MARGIN_MM = 1.5
FOOTPRINT_BIN_MM = 1.0
# The wall is found to within this where the needle enters the body at the pedicle base.
TRACT_FRONT_MM = 3.0
# A column ends on the endplate when its end lies this near the plate fitted to the ends
# of the columns this far inside the footprint's rim (most of which lie on it).
PLATE_NEAR_MM = 3.0
PLATE_RIM_MM = 4.0
PLATE_MIN_COLUMNS = 30
PLATE_AGREEING = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class LeakMap:
    """Extravertebral cement attributed to bodies and classified by location.

    Attributes
    ----------
    per_body : list of Extravertebral
        Volumes by location for each body, in the order given.
    labels : (slices, rows, columns) int16
        ``i`` marks cement attributed to body ``i - 1`` of the list.
    sites : (slices, rows, columns) uint8
        ``LEAK_SITE_CODES`` of each attributed voxel, 0 elsewhere.
    """

    per_body: list[Extravertebral]
    labels: npt.NDArray[np.int16]
    sites: npt.NDArray[np.uint8]


def classify_leaks(cement: BoolArray, bodies: Sequence[Body], affine: FloatArray, *,
                   search_mm: float) -> LeakMap:
    """Attribute and classify the cement that lies outside every body.

    Parameters
    ----------
    cement : (slices, rows, columns) bool
        All cement of the series.
    bodies : sequence of Body
        The vertebral bodies found (treated ones), cranial to caudal.
    affine : (4, 4) float
        Index to patient LPS, mm.
    search_mm : float
        Cement farther than this from every body is not attributed.
    """
    shape = cement.shape
    labels = np.zeros(shape, dtype=np.int16)
    sites = np.zeros(shape, dtype=np.uint8)
    if not bodies:
        return LeakMap(per_body=[], labels=labels, sites=sites)
    box = _search_box(bodies, affine, shape, search_mm)
    inside = np.zeros(cement[box].shape, dtype=bool)
    for body in bodies:
        inside |= body.mask_in(box)
    outside = cement[box] & ~inside
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    voxel_ml = float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0
    owner = np.full(inside.shape, -1, dtype=np.int16)
    leak_idx = np.argwhere(outside)
    if len(leak_idx):
        # Distance of each outside cement voxel to each body's surface (a k-d tree of
        # surface voxels: far cheaper than a distance map of the whole search box).
        leak_mm = leak_idx * spacing
        best = np.full(len(leak_idx), np.inf)
        for i, body in enumerate(bodies):
            in_box = body.mask_in(box)
            surface = np.argwhere(in_box & ~ndimage.binary_erosion(in_box))
            dist, _ = cKDTree(surface * spacing).query(leak_mm, distance_upper_bound=search_mm)
            closer = (dist < best) & (dist <= search_mm)
            best[closer] = dist[closer]
            owner[tuple(leak_idx[closer].T)] = i
    shift = np.eye(4)
    shift[:3, 3] = [s.start for s in box]
    local = affine @ shift
    per_body: list[Extravertebral] = []
    pieces, _ = ndimage.label(outside, structure=np.ones((3, 3, 3), dtype=bool))
    sub_labels = labels[box]
    sub_sites = sites[box]
    for i, body in enumerate(bodies):
        idx = np.argwhere(owner == i)
        codes = _site_codes(idx, body, local, pieces)
        sub_labels[tuple(idx.T)] = i + 1
        sub_sites[tuple(idx.T)] = codes
        volumes = {site: float(np.count_nonzero(codes == LEAK_SITE_CODES[site])) * voxel_ml
                   for site in LeakSite}
        per_body.append(Extravertebral(**{site.value: v for site, v in volumes.items()}))
    return LeakMap(per_body=per_body, labels=labels, sites=sites)


def _search_box(bodies: Sequence[Body], affine: FloatArray, shape: tuple[int, ...],
                margin_mm: float) -> tuple[slice, slice, slice]:
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    pad = np.ceil((margin_mm + 2.0) / spacing).astype(int)
    lo = np.min([[s.start for s in b.box] for b in bodies], axis=0) - pad
    hi = np.max([[s.stop for s in b.box] for b in bodies], axis=0) + pad
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, np.asarray(shape))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def _site_codes(idx: npt.NDArray[np.int64], body: Body, affine: FloatArray,
                pieces: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """LEAK_SITE_CODES for cement voxels ``idx`` (box grid) attributed to ``body``;
    ``pieces`` labels the outside cement's connected pieces on the same grid."""
    codes = np.full(len(idx), LEAK_SITE_CODES[LeakSite.PARAVERTEBRAL], dtype=np.uint8)
    if len(idx) == 0:
        return codes
    coords = body.frame_coordinates(idx, affine)
    lat, post = np.abs(coords[:, 0]), coords[:, 1]
    wall = body.posterior_wall_mm
    canal_half = CANAL_HALF_WIDTH_OF_BODY * body.half_width_mm
    behind = (post > wall) & (post <= wall + max(CANAL_DEPTH_MM, PEDICLE_REACH_MM))
    canal = behind & (lat <= canal_half) & (post <= wall + CANAL_DEPTH_MM)
    tract = behind & ~canal & (lat <= body.half_width_mm + 3.0) & (post <= wall + PEDICLE_REACH_MM)
    # The needle enters the body through the wall at the pedicle base, where the wall is
    # found to within TRACT_FRONT_MM: the tract's cement up to the body is no leak.
    of_piece = pieces[tuple(idx.T)]
    joined = np.isin(of_piece, np.unique(of_piece[tract]))
    tract |= joined & ~canal & (post > wall - TRACT_FRONT_MM)
    over, ambiguous = _over_an_endplate(coords, body)
    # The footprint's margin holds a disc leak's rim, and cement beside the wall: there
    # a piece is disc when most of it lies over the endplate itself.
    share = ndimage.mean(over, of_piece, index=of_piece)
    disc = ~behind & (post <= wall) & (over | (ambiguous & (share >= 0.5)))
    codes[disc] = LEAK_SITE_CODES[LeakSite.DISC]
    codes[canal] = LEAK_SITE_CODES[LeakSite.CANAL]
    codes[tract] = LEAK_SITE_CODES[LeakSite.NEEDLE_TRACT]
    return codes


def _over_an_endplate(coords: FloatArray, body: Body) -> tuple[BoolArray, BoolArray]:
    """Whether each point (l, a, s) lies above or below the body inside the footprint of
    the endplate there (beyond the end of the body's nearest column, where that end lies
    on the plate), and whether it does so only ambiguously: in the footprint's
    FOOTPRINT_MARGIN_MM margin, or beyond a column that ends off the plate (the rim where
    a wedged or slanted wall meets the plate, which cement in front of the wall or
    behind it lies beyond too)."""
    bc = body.frame_coordinates(np.argwhere(body.mask))
    lo = bc[:, :2].min(axis=0) - 5.0
    grid_shape = tuple(np.ceil((bc[:, :2].max(axis=0) + 5.0 - lo) / FOOTPRINT_BIN_MM)
                       .astype(int) + 1)
    cells = np.floor((bc[:, :2] - lo) / FOOTPRINT_BIN_MM).astype(int)
    top = np.full(grid_shape, -np.inf)
    bottom = np.full(grid_shape, np.inf)
    np.maximum.at(top, (cells[:, 0], cells[:, 1]), bc[:, 2])
    np.minimum.at(bottom, (cells[:, 0], cells[:, 1]), bc[:, 2])
    column = np.isfinite(top)
    on_top, on_bottom = (_on_plate(ends, column) for ends in (top, bottom))
    nearest = tuple(ndimage.distance_transform_edt(~column, return_distances=False,
                                                   return_indices=True))
    top, bottom = top[nearest], bottom[nearest]
    on_top, on_bottom = on_top[nearest], on_bottom[nearest]
    foot = ndimage.binary_fill_holes(ndimage.binary_closing(column, iterations=2))
    grow = max(round(FOOTPRINT_MARGIN_MM / FOOTPRINT_BIN_MM), 0)
    margin = (ndimage.binary_dilation(foot, iterations=grow) & ~foot if grow
              else np.zeros_like(foot))
    pc = np.floor((coords[:, :2] - lo) / FOOTPRINT_BIN_MM).astype(int)
    ok = np.all((pc >= 0) & (pc < np.asarray(grid_shape)), axis=1)
    at = (pc[ok, 0], pc[ok, 1])
    above, below = coords[ok, 2] > top[at], coords[ok, 2] < bottom[at]
    on_plate = (above & on_top[at]) | (below & on_bottom[at])
    beyond = above | below
    over = np.zeros(len(coords), dtype=bool)
    ambiguous = np.zeros(len(coords), dtype=bool)
    over[ok] = foot[at] & on_plate
    ambiguous[ok] = (margin[at] & beyond) | (foot[at] & beyond & ~on_plate)
    return over, ambiguous


def _on_plate(ends: FloatArray, column: BoolArray) -> BoolArray:
    """Whether each column's end lies within PLATE_NEAR_MM of the endplate: a quadratic
    surface (plates are concave) fitted to the ends of the columns PLATE_RIM_MM inside
    the footprint's rim; every column when the ends show no such surface."""
    rim = max(round(PLATE_RIM_MM / FOOTPRINT_BIN_MM), 1)
    inner = ndimage.binary_erosion(column, iterations=rim)
    rows, cols = np.nonzero(inner)
    coef = fitted_quadratic(rows * FOOTPRINT_BIN_MM, cols * FOOTPRINT_BIN_MM, ends[rows, cols],
                            tolerance=PLATE_NEAR_MM, min_points=PLATE_MIN_COLUMNS,
                            min_inliers=PLATE_AGREEING)
    if coef is None:
        return column.copy()
    all_rows, all_cols = np.indices(column.shape)
    surface = (quadratic_terms(all_rows.ravel() * FOOTPRINT_BIN_MM,
                               all_cols.ravel() * FOOTPRINT_BIN_MM) @ coef).reshape(column.shape)
    # Ends are infinite off the columns: no column there either way.
    return np.asarray(column & (np.abs(ends - surface) <= PLATE_NEAR_MM), dtype=bool)
