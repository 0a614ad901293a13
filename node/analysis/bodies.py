"""The vertebral body found around cement, and the protocol of whatever finds it.

The body (spec: "Masks") is the centrum enclosed by the outer surface of its cortical
shell and its endplates, cut at the surface continuing the posterior wall.
``BodySource`` is the protocol of a body finder: the classical
:class:`node.analysis.flood.FloodBodySource` by default, and a learned segmenter (e.g.
TotalSegmentator's vertebral body masks) could implement the same call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.frame import body_frame

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# The volume fractions of the paper stay well below one half: a "body" that is mostly
# cement is the cement's own edge, where a finder stopped.
MOSTLY_CEMENT = 0.5
EDGE_BAND_MM = 2.0            # the cortical shell, with its blur, on either side of a surface
EDGE_CEMENT_CLEARANCE_MM = 3.0   # ...read where the cement's own brightness is not
EDGE_CEMENT_SLICES = 2


@dataclass(frozen=True, slots=True, eq=False)
class Body:
    """One vertebral body found in a volume.

    Attributes
    ----------
    mask : (slices, rows, columns) bool
        The body inside ``box`` of the volume grid.
    box : tuple of slice
        Where ``mask`` sits in the volume (slice, row, column).
    centre_mm : (3,) float
        Body centroid, patient LPS, mm.
    superior, posterior, left : (3,) float
        The body's unit axes, LPS (spec: body frame).
    posterior_wall_mm : float
        Distance from the centre to the posterior wall along ``posterior``, mm.
    half_width_mm : float
        Half the body's extent along ``left``, mm.
    touches_fov_edge : bool
        The body reaches the border of the image volume.
    box_affine : (4, 4) float
        Maps indices of ``mask`` to patient LPS, mm.
    """

    mask: BoolArray
    box: tuple[slice, slice, slice]
    box_affine: FloatArray
    centre_mm: FloatArray
    superior: FloatArray
    posterior: FloatArray
    left: FloatArray
    posterior_wall_mm: float
    half_width_mm: float
    touches_fov_edge: bool = False

    @property
    def axis_on_grid(self) -> int:
        """The axis of the voxel grid closest to the body's superior axis."""
        edges = self.box_affine[:3, :3]
        return int(np.argmax(np.abs(self.superior @ edges) / np.linalg.norm(edges, axis=0)))

    def full_mask(self, shape: tuple[int, int, int]) -> BoolArray:
        """The body on the whole volume grid."""
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.mask
        return out

    def mask_in(self, box: tuple[slice, slice, slice]) -> BoolArray:
        """The body's voxels that fall inside ``box`` of the volume grid, on the box's grid."""
        out = np.zeros(tuple(s.stop - s.start for s in box), dtype=bool)
        lo = [max(b.start, g.start) for b, g in zip(self.box, box, strict=True)]
        hi = [min(b.stop, g.stop) for b, g in zip(self.box, box, strict=True)]
        if any(h <= l_ for l_, h in zip(lo, hi, strict=True)):
            return out
        here = tuple(slice(l_ - g.start, h - g.start) for l_, h, g in zip(lo, hi, box, strict=True))
        there = tuple(slice(l_ - b.start, h - b.start)
                      for l_, h, b in zip(lo, hi, self.box, strict=True))
        out[here] = self.mask[there]
        return out

    @property
    def voxel_count(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def step_along_axis_mm(self) -> float:
        """The largest extent of one voxel along the body's superior axis, mm."""
        return float(np.abs(self.superior @ self.box_affine[:3, :3]).max())

    def frame_coordinates(self, idx: npt.NDArray[np.int64],
                          affine: FloatArray | None = None) -> FloatArray:
        """Voxel indices (N, 3) of the grid of ``affine`` (the body's own box by default)
        as (left, posterior, superior) in the body's frame, mm."""
        grid = self.box_affine if affine is None else affine
        pts = idx.astype(np.float64) @ grid[:3, :3].T + grid[:3, 3] - self.centre_mm
        axes = np.stack([self.left, self.posterior, self.superior], axis=1)
        return np.asarray(pts @ axes, dtype=np.float64)


class BodySource(Protocol):
    """Finds the vertebral body that holds each seed point.

    A learned segmenter implements the same call: it returns, for each seed (a voxel
    index known to lie in cement), the body containing it, or None when the seed is not
    inside any vertebral body.
    """

    def body_at(self, hu: npt.NDArray[np.int16], affine: FloatArray,
                seed: Sequence[float] | FloatArray, *, cement: BoolArray) -> Body | None:
        ...


def body_from_mask(mask: BoolArray, box: tuple[slice, slice, slice], local: FloatArray,
                   shape: tuple[int, ...], *, wall_point_mm: FloatArray | None = None) -> Body:
    """A :class:`Body` with its frame, width and posterior wall taken from ``mask``.

    ``local`` maps indices of ``mask`` to patient LPS; ``shape`` is the volume's. The
    posterior wall passes through ``wall_point_mm`` when given, else through the body's
    posterior-most voxel.
    """
    frame = body_frame(mask, local)
    pts = np.argwhere(mask) @ local[:3, :3].T + local[:3, 3] - frame.origin
    half_width = 0.5 * float(np.ptp(pts @ frame.left))
    if wall_point_mm is None:
        wall_mm = float((pts @ frame.posterior).max())
    else:
        wall_mm = float(np.dot(wall_point_mm - frame.origin, frame.posterior))
    touches = any(
        (sl.start == 0 and np.take(mask, 0, axis=k).any())
        or (sl.stop == shape[k] and np.take(mask, -1, axis=k).any())
        for k, sl in enumerate(box))
    return Body(mask=mask, box=box, box_affine=local, centre_mm=frame.origin,
                superior=frame.superior, posterior=frame.posterior, left=frame.left,
                posterior_wall_mm=wall_mm, half_width_mm=half_width, touches_fov_edge=touches)


def with_voxels_cut(body: Body, cut: BoolArray, shape: tuple[int, ...]) -> Body:
    """``body`` without the voxels flagged in ``cut`` (one flag per voxel of its mask, in
    ``np.argwhere`` order), reduced to its largest connected piece."""
    if not cut.any():
        return body
    mask = body.mask.copy()
    mask[body.mask] = ~cut
    labels, count = ndimage.label(mask)
    if count > 1:
        mask = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return with_new_mask(body, mask, shape)


def with_new_mask(body: Body, mask: BoolArray, shape: tuple[int, ...], *,
                  box: tuple[slice, slice, slice] | None = None,
                  box_affine: FloatArray | None = None) -> Body:
    """``body`` with ``mask`` (on ``box``, its own box by default), its posterior wall kept.

    Steps that add cement to a body or move its endplates must not move the wall: the
    leak sites behind it are classified against it.
    """
    wall_point = body.centre_mm + body.posterior_wall_mm * body.posterior
    return body_from_mask(mask, body.box if box is None else box,
                          body.box_affine if box_affine is None else box_affine, shape,
                          wall_point_mm=wall_point)


def cement_fraction(body: Body, cement: BoolArray) -> float:
    """The fraction of the body's voxels that are cement (``cement``: the whole volume)."""
    return float(np.count_nonzero(body.mask & cement[body.box])) / max(body.voxel_count, 1)


def edge_contrast_hu(body: Body, hu: npt.NDArray[np.int16], cement: BoolArray) -> float:
    """Mean HU within EDGE_BAND_MM inside the body's surface minus that outside it.

    Read in each slice's plane (slices may be thick) and away from the cement. A surface
    on the outer edge of the cortical shell has the bright shell inside it and soft tissue
    or disc outside; one that a flooding carried through the shell has soft tissue or
    marrow on both sides. -inf when nothing of the surface is clear of cement.

    Parameters
    ----------
    body : Body
        The body, on the grid of ``hu``.
    hu : (slices, rows, columns) int16
        The CT volume, HU.
    cement : (slices, rows, columns) bool
        Cement of the whole volume.
    """
    spacing = np.linalg.norm(body.box_affine[:3, :3], axis=0)
    steps = max(round(EDGE_BAND_MM / float(spacing[1:].min())), 1)
    box = grown_box(body.box, np.array([0, steps + 1, steps + 1]), hu.shape)
    mask = body.mask_in(box)
    values = hu[box].astype(np.float32)
    # Along z the cement's edge is known to a slice at best and its blur spreads over the
    # next one, so there the clearance is at least EDGE_CEMENT_SLICES slices.
    sampling = (min(float(spacing[0]), EDGE_CEMENT_CLEARANCE_MM / EDGE_CEMENT_SLICES),
                float(spacing[1]), float(spacing[2]))
    clear = ndimage.distance_transform_edt(~cement[box], sampling=sampling
                                           ) > EDGE_CEMENT_CLEARANCE_MM
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    inner = mask & ~ndimage.binary_erosion(mask, in_plane, iterations=steps) & clear
    outer = ndimage.binary_dilation(mask, in_plane, iterations=steps) & ~mask & clear
    if not inner.any() or not outer.any():
        return float("-inf")
    return float(values[inner].mean() - values[outer].mean())


def grown_box(box: tuple[slice, slice, slice], margin: npt.NDArray[np.int64],
              shape: tuple[int, ...]) -> tuple[slice, slice, slice]:
    """``box`` grown by ``margin`` voxels on both sides of each axis, clipped to ``shape``."""
    lo = [max(s.start - int(m), 0) for s, m in zip(box, margin, strict=True)]
    hi = [min(s.stop + int(m), n) for s, m, n in zip(box, margin, shape, strict=True)]
    return (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))


def plausible(body: Body, affine: FloatArray, *, volume_ml: tuple[float, float],
              height_mm: tuple[float, float]) -> bool:
    """Whether the body's volume and its height along its own axis are in range."""
    volume = body.voxel_count * abs(np.linalg.det(affine[:3, :3])) / 1000.0
    pts = np.argwhere(body.mask) @ body.box_affine[:3, :3].T
    height = float(np.ptp(pts @ body.superior))
    ok = (volume_ml[0] <= volume <= volume_ml[1]) and (height_mm[0] <= height <= height_mm[1])
    if not ok:
        logger.debug("implausible body: %.1f ml, %.1f mm high", volume, height)
    return ok


class FirstPlausible:
    """Body finders tried in order: the first body that is not mostly cement is taken.

    A finder that stopped at the cement's own edge returns a "body" that is nearly all
    cement (see MOSTLY_CEMENT), so above ``max_cement_fraction`` the next finder is
    asked. When every finder's body is mostly cement, the first one's is kept. A finder
    that finds no body at all (no canal behind the cement, no plausible shape around it)
    ends the search: on the phantom set that happens only around cement leaked into a
    disc, where a later finder made a level of the untreated neighbour.
    """

    def __init__(self, sources: Sequence[BodySource],
                 max_cement_fraction: float = MOSTLY_CEMENT) -> None:
        if not sources:
            raise ValueError("FirstPlausible needs at least one BodySource. Found none.")
        self.sources = list(sources)
        self.max_cement_fraction = max_cement_fraction

    def body_at(self, hu: npt.NDArray[np.int16], affine: FloatArray,
                seed: Sequence[float] | FloatArray, *, cement: BoolArray) -> Body | None:
        """The first plausible body around ``seed`` (see :class:`BodySource`)."""
        first: Body | None = None
        for source in self.sources:
            body = source.body_at(hu, affine, seed, cement=cement)
            if body is None:
                break
            first = first or body
            fraction = cement_fraction(body, cement)
            if fraction <= self.max_cement_fraction:
                return body
            logger.info("%s: body is %.0f %% cement; asking the next finder",
                        type(source).__name__, 100 * fraction)
        return first
