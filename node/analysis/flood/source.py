"""The watershed body finder: floodings of a seed, retries, and the cut body."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.bodies import (
    MOSTLY_CEMENT,
    Body,
    BoolArray,
    FloatArray,
    body_from_mask,
    cement_fraction,
    plausible,
)
from node.analysis.discsplit import split_at_discs
from node.analysis.flood.discs import _cut_beyond_bands, _disc_markers
from node.analysis.flood.grid import (
    _Grid,
    _grid_around,
    _GridView,
    _Native,
    _native_crop,
    _partial_volume_halo,
    _resample,
    _seed_piece_ml,
)
from node.analysis.flood.masks import (
    _ball_at,
    _component_at,
    _flooded_from,
    _holes_filled,
    _inpaint,
    _inside_marker,
    _large_parts,
    _marrow_level,
    _near,
    _opened,
)
from node.analysis.flood.params import (
    BAND_CUT_MM,
    BAND_CUT_SLICES,
    COARSE_SCAN_MM,
    F32,
    HELD_HALO_MM,
    HELD_RESCUE_MIN_ML,
    MAX_STEP_MM,
    PARTLY_CEMENT_ABOVE_MARROW_HU,
    RETRY_SLICE_RATIO,
    SPIKE_MM,
    FloodParams,
)
from node.analysis.flood.plates import _cut_at_endplates, _Plates
from node.analysis.flood.rays import (
    _at_cement_edge,
    _cleaned,
    _first_exit,
    _last_exit,
    _on_rays,
    _outer_edges,
    _shell_beyond_cement,
    _star_mask,
    _with_cement_at_wall,
)
from node.analysis.flood.retries import _adds_only_marrow, _better_body, _grown_within_shell
from node.analysis.flood.wall import _posterior_wall, _same_wall
from node.analysis.frame import BodyFrame, body_frame

logger = logging.getLogger(__name__)


class FloodBodySource:
    """Classical body finder: watershed from the cement against the certain outside."""

    def __init__(self, params: FloodParams | None = None) -> None:
        self.params = params or FloodParams()

    def body_at(self, hu: npt.NDArray[np.int16], affine: FloatArray,
                seed: Sequence[float] | FloatArray, *, cement: BoolArray) -> Body | None:
        """The vertebral body holding ``seed`` (voxel index), or None when there is none.

        Parameters
        ----------
        hu : (slices, rows, columns) int16
            The CT volume, HU.
        affine : (4, 4) float
            Index to patient LPS, mm.
        seed : (3,) float
            Voxel index deep inside the cement of the body.
        cement : (slices, rows, columns) bool
            Cement of the whole volume (painted over before the flooding).
        """
        p = self.params
        seed_mm = (affine @ np.append(np.asarray(seed, dtype=np.float64), 1.0))[:3]
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        pixel = float(spacing[1:].min())
        # Never coarser than MAX_STEP_MM: the anatomical sizes below must stay a few grid
        # steps wide even on a 3 mm scan.
        grid = _grid_around(seed_mm, min(max(p.step_mm, pixel), MAX_STEP_MM), p.half_extent_mm)
        view = _GridView(grid=grid, data=_resample(hu, affine, grid, order=1, cval=-1000.0),
                         cement=_resample(cement, affine, grid, order=1, cval=0.0) >= 0.5,
                         # The wall's edge is read on the CT itself: every resampling would
                         # widen the thin shell's partial-volume profile and move its
                         # half-level outward.
                         native=_native_crop(hu, affine, grid))
        halo = max(p.halo_mm, 0.6 * float(spacing.max()))
        body = self._body_painted(view, hu, affine, cement, halo)
        wider = max(halo, p.retry_halo_pixels * pixel) if pixel < COARSE_SCAN_MM else halo
        if wider > halo:
            # On large pixels the cement's blur reaches beyond the painted halo; the edge
            # left there may hold the flooding back at the cement while the outside comes
            # in through the blurred shell. Painting more over may instead open the thin
            # shell beside the cement: the surface read tells which went wrong.
            again = self._body_painted(view, hu, affine, cement, wider)
            body = _better_body(body, again, hu, cement)
        slice_mm = float(spacing[0])
        thick = slice_mm >= RETRY_SLICE_RATIO * pixel and slice_mm > wider
        if thick:
            # Along thick slices the cement's blur reaches about a slice beyond it, and
            # the flooding may have been held back at that blur: with a body that is
            # largely cement, or too small to be a body at all, or one the outside took
            # most of through a shell the slices blur away.
            again = self._body_painted(view, hu, affine, cement, slice_mm)
            if body is None:
                body = again
            elif again is not None and _adds_only_marrow(body, again, cement):
                body = (again if _grown_within_shell(body, again, hu, cement)
                        else _better_body(body, again, hu, cement))
        # A body still mostly cement was held back at the cement while the outside came
        # in from elsewhere:
        # - marrow nearly as dark as muscle: where the thin shell between them does not
        #   show, the muscle's region reaches into the body and floods it from inside.
        #   Near the cement such a region is no certain outside; the walls' edges decide;
        # - a piece of cement apart from the seed's that breaks through the shell (a canal
        #   leak through the posterior wall) opens the wall where its halo is painted
        #   over: the outside floods in there.
        # - a cement blur wider than the halo (a soft kernel) holds the flooding at the
        #   cement while the outside comes in through a faint plate.
        for painted_mm, soft_clear_mm, shut_others in ((wider, p.soft_clear_mm, False),
                                                        (halo, 0.0, True),
                                                        (max(wider, HELD_HALO_MM), 0.0, False)):
            if body is None or cement_fraction(body, cement) <= MOSTLY_CEMENT:
                break
            again = self._body_painted(view, hu, affine, cement, painted_mm,
                                       soft_clear_mm=soft_clear_mm, shut_others=shut_others)
            body = _better_body(body, again, hu, cement)
        # Every flooding may have run on through faint discs into the next bodies, too
        # tall to be one, or been held at a soft kernel's cement blur while the outside
        # came in through faint plates (painted over as for a body held at its cement,
        # unless the seed's cement is too little for an injection: a disc leak's own
        # flooding would take the disc for a body): the first that is a body, cut back
        # at its discs. A rescue only: the cut would also make bodies of retries that
        # lose to a better one now.
        held = ({max(wider, HELD_HALO_MM)}
                if body is None and _seed_piece_ml(view) >= HELD_RESCUE_MIN_ML else set())
        for painted_mm in sorted({halo, wider} | held | ({slice_mm} if thick else set())):
            if body is not None:
                break
            body = self._body_painted(view, hu, affine, cement, painted_mm, split_discs=True)
        return body

    def _body_painted(self, view: _GridView, hu: npt.NDArray[np.int16], affine: FloatArray,
                      cement: BoolArray, halo: float, *, soft_clear_mm: float = 0.0,
                      shut_others: bool = False, split_discs: bool = False) -> Body | None:
        """The body flooded on ``view`` with the cement and ``halo`` mm around it painted
        over; soft tissue as dark as the marrow is no outside within ``soft_clear_mm``
        of the painted cement (None when the marrow is not that dark: nothing to clear);
        with ``shut_others`` no flooding crosses the halo of cement apart from the
        seed's; with ``split_discs`` a body taller than a body is cut back at its discs
        (``discsplit.split_at_discs``)."""
        p = self.params
        grid, data, cem = view.grid, view.data, view.cement
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        painted = _near(cem, halo / grid.step)
        if spacing[1:].min() >= COARSE_SCAN_MM:
            marrow = _marrow_level(data, cem, painted, grid.step)
            painted |= (_partial_volume_halo(cement, affine, grid)
                        & (data >= marrow + PARTLY_CEMENT_ABOVE_MARROW_HU))
        marrow = _marrow_level(data, cem, painted, grid.step)
        if soft_clear_mm > 0 and self._soft_below(marrow) >= p.soft_max_hu:
            return None
        filled = _inpaint(data, painted, grid.step)
        smooth = ndimage.gaussian_filter(filled, p.smooth_mm / grid.step)
        centre = np.asarray(grid.shape) // 2
        basin = self._basin(smooth, cem, painted, centre, marrow, grid.step,
                            max(BAND_CUT_MM, BAND_CUT_SLICES * float(spacing[0])),
                            soft_clear_mm, halo if shut_others else 0.0)
        body = self._cut(basin, smooth, view.native, cem, painted, grid, marrow, centre,
                         float(spacing[0]), split_discs)
        if body is None:
            return None
        return self._on_volume(body, grid, hu.shape, affine)

    def _basin(self, smooth: F32, cem: BoolArray, painted: BoolArray,
               centre: npt.NDArray[np.int64], marrow: float, step: float,
               band_cut_mm: float, soft_clear_mm: float, shut_mm: float = 0.0
               ) -> BoolArray:
        """The watershed basin of the seed, flooded against the certain outside, and
        cut beyond any band between it and the next body; nothing floods within
        ``shut_mm`` of cement apart from the seed's (and not nearer the seed's)."""
        p = self.params
        elevation = ndimage.gaussian_gradient_magnitude(smooth, 0.5)
        markers = np.zeros(smooth.shape, dtype=np.int32)
        # Smoothed and opened: the dark streaks that cement throws across the body are
        # thin; fat and gas are not. Small dark pockets may be gas in a fracture cleft
        # (body) or in a disc (not): they take no side in the flooding.
        dark = ndimage.gaussian_filter(smooth, 1.0 / step)
        dark = dark < max(p.outside_below_hu, marrow - p.outside_margin_hu)
        dark = _opened(dark, p.outside_min_mm / step)
        large = p.outside_min_ml / (step ** 3 / 1000.0)
        markers[_large_parts(dark, large)] = 2
        # Soft tissue that is clearly darker than the marrow over a large region (muscle,
        # the canal's contents) is outside too; osteoporotic marrow may be as dark as
        # muscle, and then only fat and the far border speak for the outside.
        soft = ndimage.gaussian_filter(smooth, p.soft_smooth_mm / step) < self._soft_below(marrow)
        soft = _opened(soft, p.soft_min_mm / step)
        if soft_clear_mm > 0:
            soft &= ~_near(painted, soft_clear_mm / step)
        markers[_large_parts(soft, large) & (markers == 0)] = 2
        markers[[0, -1], :, :] = markers[:, [0, -1], :] = markers[:, :, [0, -1]] = 2
        discs, bands = _disc_markers(smooth, painted, centre, marrow, step)
        markers[discs] = 2
        inside = _inside_marker(cem, centre, p.seed_radius_mm / step, step)
        markers[inside] = 1
        # Other cement takes no side either: inside the body it is enclosed and filled
        # later; a leak outside the shell must not carry the body out with it.
        others = cem & ~inside
        if shut_mm > 0:
            others = _near(others, shut_mm / step) & ~_near(inside, shut_mm / step)
        floodable = (~dark & ~others) | (markers > 0)
        basin = _flooded_from(elevation, markers, floodable) == 1
        return _cut_beyond_bands(basin, bands, step, band_cut_mm)

    def _soft_below(self, marrow: float) -> float:
        """HU under which a large region is soft tissue: below muscle, clearly below
        the marrow."""
        return min(marrow - self.params.soft_margin_hu, self.params.soft_max_hu)

    def _cut(self, basin: BoolArray, smooth: F32, native: _Native, cem: BoolArray,
             painted: BoolArray, grid: _Grid, marrow: float,
             centre: npt.NDArray[np.int64], slice_mm: float, split_discs: bool
             ) -> BoolArray | None:
        """Cut the basin at the posterior wall, keep the seed's component, opened, and
        put its surface on the outer edge of the shell (and cut at its discs with
        ``split_discs``).

        The wall is looked for twice: from the seed along the patient axes (the basin
        still holds the posterior elements, which would tilt any axes taken from it),
        then from the centre and along the axes of the body so cut, unless no wall lies
        along those.
        """
        region = _component_at(basin, centre)
        if region is None:
            return None
        seed_mm = grid.points(_ball_at(grid.shape, centre, 0.0))[0]
        frame = BodyFrame(origin=seed_mm, superior=np.array([0.0, 0.0, 1.0]),
                          left=np.array([1.0, 0.0, 0.0]), posterior=np.array([0.0, 1.0, 0.0]))
        plates = _Plates.read(smooth, painted, marrow, grid.step, slice_mm)
        first_wall: tuple[BodyFrame, float] | None = None
        for _ in range(2):
            found = self._in_front_of_wall(region, smooth, painted, plates, grid, frame,
                                           marrow, centre, first_wall)
            if found is None and first_wall is None:
                return None
            if found is None:
                # The axes of a first cut about as deep as it is tall may point anywhere
                # between its superior and posterior axes (a spine tilted 35 degrees):
                # along them there is no canal to find, and the first cut stands.
                break
            body, in_front, wall = found
            first_wall = first_wall or (frame, wall)
            frame = body_frame(body, grid.affine)
        radius = _last_exit(_on_rays(body, grid, frame))
        on_rays = _on_rays(body | cem, grid, frame)
        with_cement = _last_exit(on_rays)
        shell = _shell_beyond_cement(_first_exit(on_rays, radius), native, frame)
        radius = _cleaned(_with_cement_at_wall(radius, with_cement, shell))
        radius, on_wall = _outer_edges(radius, native, painted, grid, frame, marrow)
        snapped = _at_cement_edge(radius, native, frame, marrow)
        radius = _cleaned(snapped, on_wall=on_wall & (snapped == radius))
        # Thin spikes (a few directions through a gap, too many to be outliers near the
        # poles of the direction grid) are opened away.
        final = _opened(_star_mask(radius, grid, frame) & in_front, SPIKE_MM / grid.step)
        if split_discs:
            final = split_at_discs(final, smooth, painted, grid.offsets(frame.origin),
                                   seed_mm - frame.origin, frame.superior, frame.left, marrow,
                                   grid.step, self.params.max_height_mm)
        return _component_at(final, centre)

    def _in_front_of_wall(self, region: BoolArray, smooth: F32, painted: BoolArray,
                          plates: _Plates, grid: _Grid, frame: BodyFrame,
                          marrow: float,
                          centre: npt.NDArray[np.int64],
                          first_wall: tuple[BodyFrame, float] | None
                          ) -> tuple[BoolArray, BoolArray, float] | None:
        """The region in front of the posterior wall seen from ``frame``, that half-space
        and the wall's distance; near the wall of the first pass when there was one."""
        p = self.params
        expected = None if first_wall is None else _same_wall(*first_wall, frame)
        wall = _posterior_wall(smooth, grid, frame, marrow, p, expected,
                               marrow_held=region & ~painted)
        if wall is None:
            logger.debug("no spinal canal found behind the body")
            return None
        x, y, z = grid.offsets(frame.origin)
        post = frame.posterior
        in_front = np.asarray(x * post[0] + y * post[1] + z * post[2] <= wall, dtype=bool)
        region = _cut_at_endplates(region & in_front, plates, centre, grid.step)
        body = _component_at(_opened(region, p.opening_mm / grid.step), centre)
        if body is None:
            return None
        return _holes_filled(body), in_front, wall

    def _on_volume(self, mask: BoolArray, grid: _Grid, shape: tuple[int, ...],
                   affine: FloatArray) -> Body | None:
        """Sample the grid mask at the voxel centres of the volume."""
        if not mask.any():
            return None
        pts = grid.points(mask)
        inv = np.linalg.inv(affine)
        idx = pts @ inv[:3, :3].T + inv[:3, 3]
        lo = np.maximum(np.floor(idx.min(axis=0)).astype(int) - 1, 0)
        hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 2, shape)
        box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
        local = affine.copy()
        local[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
        to_grid = np.linalg.inv(grid.affine) @ local
        sub = ndimage.affine_transform(mask.astype(np.float32), to_grid,
                                       output_shape=tuple(hi - lo), order=1, cval=0.0)
        body_mask = sub >= 0.5
        if not body_mask.any():
            return None
        body = body_from_mask(body_mask, box, local, shape)
        return body if self._plausible(body, affine) else None

    def _plausible(self, body: Body, affine: FloatArray) -> bool:
        p = self.params
        return plausible(body, affine, volume_ml=(p.min_volume_ml, p.max_volume_ml),
                         height_mm=(p.min_height_mm, p.max_height_mm))
