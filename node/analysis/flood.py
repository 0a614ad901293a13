"""Vertebral body by marker-controlled watershed on an isotropic grid around the cement.

The body (spec: the centrum enclosed by the outer surface of its cortical shell and its
endplates, cut at the surface continuing the posterior wall) is the basin of the image
gradient that holds the cement, flooded against a basin of everything that is certainly
outside (fat, gas, the far surroundings). The flooding decides, where the thin shell is
broken by partial volume, where the two fronts meet — at the strongest edge left there —
instead of a threshold that leaks through the gap. Because the outside is darker than the
shell on one side and the marrow on the other, the line settles on the outer edge of the
shell. Cement is painted over with what surrounds it first, so that its own edges are
not taken for walls; on larger pixels the flooding is done with two widths painted over
and the body on the sharper edge is kept (``bodies.edge_contrast_hu``). The posterior
elements join the body through the pedicles without a wall, so the basin is cut by the
plane of the posterior wall found in front of the canal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.signal import savgol_filter
from skimage.segmentation import watershed

from node.analysis.bodies import (
    MOSTLY_CEMENT,
    Body,
    BoolArray,
    FloatArray,
    body_from_mask,
    cement_fraction,
    edge_contrast_hu,
    plausible,
)
from node.analysis.discsplit import split_at_discs
from node.analysis.frame import BodyFrame, body_frame
from node.analysis.morphology import dilated_by_ball, eroded_by_ball

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

# A cortical wall seen on a profile: this much above the marrow and at least this bright.
WALL_RISE_HU = 50.0
WALL_MIN_HU = 180.0
# A faint endplate (a thin 400 HU cortex over dark marrow, blurred across 1-1.5 mm
# slices) peaks at 130-180 HU; looked for only when too few columns show a plate.
FAINT_PLATE_MIN_HU = 130.0
# The wall falls off within this distance; behind it the canal holds CSF, fat and soft
# tissue, never brighter than this.
WALL_FALL_MM = 4.0
CANAL_MAX_HU = 90.0
# On coarse scans a thin wall is no brighter than the marrow; then the drop from the
# marrow into the canal behind it is the wall.
WALL_FAINT_BELOW_MARROW_HU = 25.0
WALL_FAINT_DROP_HU = 100.0
WALL_PERCENTILE = 85.0
WALL_CLUSTER_MM = 4.0      # hits on one wall, concave or not, lie this close together
WALL_MIN_SPAN_MM = 8.0     # ...and are seen across this much of the canal's width
# The second look for the wall, from the body's own axes, stays this near the first.
WALL_SAME_MM = 5.0
MAX_STEP_MM = 1.0
# Marrow of an osteoporotic body, when too little bone surrounds the cement to measure it.
MARROW_DEFAULT_HU = 150.0
# Endplates are looked for on columns within DISC_COLUMNS_MM of the seed, up to
# DISC_REACH_MM away, beyond RIM_MM of cement (its sclerotic rim).
DISC_COLUMNS_MM = 12.0
DISC_REACH_MM = 30.0
DISC_SPREAD_MM = 5.0
DISC_SLAB_MM = (3.0, 4.5)
# Where no dark disc is seen: the next body's marrow beyond the band between them.
NEIGHBOUR_COLUMNS_MM = 8.0
NEIGHBOUR_REACH_MM = 40.0
NEIGHBOUR_SKIP_MM = 2.0      # beyond the painted cement: its blur on thick slices
NEIGHBOUR_BAND_HU = 50.0
NEIGHBOUR_MARROW_MM = 4.0
NEIGHBOUR_SLAB_MM = 1.5
# A body ends within its band; what lies this far beyond the band's peak (and a slice and
# a half on thick slices, where the peak sits anywhere within its slice) is the next body.
BAND_CUT_MM = 3.0
BAND_CUT_SLICES = 1.5
RIM_MM = 4.0
# The marrow level is read within this distance (mm) of the cement, outside its halo.
MARROW_RING_MM = 6.0
# The star-shaped view of a body: directions (polar from the superior axis x azimuth),
# the neighbourhood that judges each direction and what counts as sticking out.
POLAR_BINS = 60
AZIMUTH_BINS = 120
MAX_RADIUS_MM = 45.0
RAY_STEP_MM = 0.5
STAR_NEIGHBOURS = 9
ENVELOPE_NEIGHBOURS = 15
SPIKE_MM = 2.0
STAR_OUTLIER_MM = 1.5
STAR_OUTLIER_FRACTION = 0.08
# The outer edge of a wall is looked for this far inside and outside the first surface,
# its peak no farther out than EDGE_PEAK_BEYOND_MM, and only where it stands out.
EDGE_STEP_MM = 0.25
EDGE_SEARCH_MM = (3.0, 4.0)
EDGE_PEAK_BEYOND_MM = 1.0
EDGE_MIN_CONTRAST_HU = 60.0
# Cement against the shell: beyond the last sample at CEMENT_EDGE_HU, the shell still reads
# SHELL_MIN_HU SHELL_PROBE_MM (plus a quarter voxel) farther out; a leak's blurred edge has
# fallen to 150-300 HU there.
CEMENT_EDGE_HU = 1000.0
GAP_MM = 3.0
SHELL_PROBE_MM = 0.5
SHELL_PROBE_VOXELS = 0.25
SHELL_MIN_HU = 400.0
SHELL_SEARCH_MM = (2.0, 3.0)
# Cement up to an endplate: the flooding runs at most CEMENT_OVERRUN_MM beyond it, and
# less than CEMENT_MIN_OVERRUN_MM is the edge's own uncertainty; the cement's blurred
# edge still reads above a wall CEMENT_TAIL_MM (plus half a voxel) beyond its half-level.
CEMENT_OVERRUN_MM = 4.0
CEMENT_MIN_OVERRUN_MM = 1.0
CEMENT_TAIL_MM = 1.0
PLATE_CONE_DEG = 55.0       # a lumbar plate's rim lies 50-60 degrees off the body's axis
PLATE_AHEAD_MM = 3.0        # a plate this far beyond the surface: the flooding stopped short
PLATE_RESOLVED_MM = 1.25
GAUSS_TRUNCATE = 4.0
# Cement deeper than this inside its piece is certainly in the body it was injected into.
INSIDE_DEPTH_MM = 2.0
# A flooded disc is cut off beyond the plane of the endplate found on at least
# ENDPLATE_MIN_COLUMNS of the columns, ENDPLATE_AGREEING of them within 2 mm of it.
ENDPLATE_MIN_COLUMNS = 0.25
ENDPLATE_AGREEING = 0.5
ENDPLATE_MARGIN_MM = 2.0
ENDPLATE_CUT_MIN_ML = 1.0
NEAR_PLATE_AGREEING = 0.3    # hits on the body's own plate where the next one's show too
NEAR_PLATE_BEFORE = 0.15     # ...and hits before it (sclerotic rim, cleft walls)
PLATE_CLEAR_MM = 2.0         # ...and of those, some this far (or a slice) from the paint
NEAR_PLATE_CLEAR = 0.25
NEAR_PLATE_DISC_MM = 4.0     # the next body's plate lies a disc beyond
NEAR_PLATE_DISC_SLICES = 1.5  # ...more than the steps of a slanted plate across slices
PLATE_BEYOND_MM = (1.0, 2.5)
DISC_SOFT_MAX_HU = 130.0      # a disc's soft tissue is no brighter
BRIGHT_DISC_MM = 2.5          # a disc brighter than dark marrow: this long before the plate,
BRIGHT_DISC_CLEAR_MM = 1.5    # ...clear of that plate's blur,
BRIGHT_DISC_ABOVE_MARROW_HU = 40.0  # ...this much above the marrow,
BRIGHT_DISC_NOISE_HU = 20.0   # ...and no brighter than a disc (with noise),
BRIGHT_DISC_PAINT_MM = 4.0    # ...nor this near painted cement
# Scans this coarse: the voxels next to the cement are partly cement (see
# _partial_volume_halo). On finer scans that halo would paint the endplates too.
COARSE_SCAN_MM = 2.5
RETRY_SLICE_RATIO = 2.5
RETRY_ADDED_CEMENT = 0.01
RETRY_LOST = 0.02         # a retry that holds the body: all but this much of it...
RETRY_GROWN = 0.2         # ...grown by this much...
RETRY_EDGE_TIE = 0.05     # ...on an edge at most this much less sharp is the whole body
PARTLY_CEMENT_ABOVE_MARROW_HU = 120.0   # a few per cent of cement in the voxel
HELD_HALO_MM = 2.0      # painted over a body still held at its cement (a soft kernel's blur)
# ...and over a seed that gave no body, when its cement is an injection, not a leak
# (a disc leak flooded with that much painted over takes the disc for a body).
HELD_RESCUE_MIN_ML = 0.5


@dataclass(frozen=True, slots=True)
class FloodParams:
    """Anatomical sizes (mm) and contrasts (HU) of the watershed body finder."""

    half_extent_mm: float = 42.0        # the largest lumbar body from any inner point
    step_mm: float = 0.7                # isotropic grid (coarser when the pixels are)
    smooth_mm: float = 0.8              # trabecular texture, not the shell
    halo_mm: float = 1.2                # cement plus its partial-volume halo (fine scans)
    retry_halo_pixels: float = 2.0      # ...or this many pixels, flooded again (large pixels)
    seed_radius_mm: float = 3.0
    outside_below_hu: float = -60.0     # fat and gas are never body
    outside_margin_hu: float = 120.0    # ...nor anything this much darker than marrow
    outside_min_mm: float = 1.5         # ...that is thicker than a streak artifact
    outside_min_ml: float = 1.5         # ...and larger than gas in a fracture cleft
    soft_margin_hu: float = 35.0        # soft tissue: this much darker than marrow...
    soft_max_hu: float = 75.0           # ...and no brighter than muscle
    soft_smooth_mm: float = 2.0         # ...on average over this scale...
    soft_min_mm: float = 2.5            # ...and thicker than this
    soft_clear_mm: float = 10.0         # ...or, retried in marrow that dark, this far from cement
    # The posterior wall from the centre; from behind it too, since the first pass starts
    # at the seed, which may lie in cement against the wall.
    canal_band_mm: tuple[float, float] = (-8.0, 30.0)
    canal_probe_mm: float = 8.0         # canal: dark for this long behind the wall
    opening_mm: float = 1.5             # thin bridges through gaps into neighbours
    min_volume_ml: float = 5.0         # a disc leak flooded on its own makes ~3 ml
    max_volume_ml: float = 150.0
    min_height_mm: float = 8.0
    max_height_mm: float = 50.0


@dataclass(frozen=True, slots=True)
class _Grid:
    """An isotropic LPS-aligned grid: index (k, j, i) -> (x0 + i*h, y0 + j*h, z0 + k*h)."""

    origin: FloatArray   # LPS of index (0, 0, 0)
    step: float
    shape: tuple[int, int, int]

    @property
    def affine(self) -> FloatArray:
        out = np.zeros((4, 4))
        out[0, 2] = out[1, 1] = out[2, 0] = self.step
        out[:3, 3] = self.origin
        out[3, 3] = 1.0
        return out

    def points(self, mask: BoolArray) -> FloatArray:
        idx = np.argwhere(mask).astype(np.float64)
        return np.asarray(idx[:, ::-1] * self.step + self.origin, dtype=np.float64)

    def offsets(self, origin: FloatArray, box: tuple[slice, ...] | None = None
                ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x, y and z of the grid points (of ``box``) minus ``origin``, as arrays that
        broadcast over (k, j, i): coordinates without a (N, 3) array of every point."""
        box = box or tuple(slice(0, n) for n in self.shape)
        ranges = [np.arange(b.start, b.stop, dtype=np.float64) * self.step
                  + self.origin[axis] - origin[axis]
                  for axis, b in zip((2, 1, 0), box, strict=True)]
        z, y, x = ranges
        return x[None, None, :], y[None, :, None], z[:, None, None]


@dataclass(frozen=True, slots=True)
class _Native:
    """The CT around the grid on its own voxels, for reading profiles without resampling."""

    values: F32
    to_index: FloatArray   # LPS (homogeneous) -> index into ``values``

    def sample(self, pts: FloatArray) -> FloatArray:
        idx = pts @ self.to_index[:3, :3].T + self.to_index[:3, 3]
        out = ndimage.map_coordinates(self.values, idx.reshape(-1, 3).T, order=1, cval=-1000.0)
        return np.asarray(out.reshape(pts.shape[:-1]), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class _GridView:
    """The CT and its cement around a seed, on the grid and on the CT's own voxels."""

    grid: _Grid
    data: F32
    cement: BoolArray
    native: _Native


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


def _better_body(first: Body | None, again: Body | None, hu: npt.NDArray[np.int16],
                 cement: BoolArray) -> Body | None:
    """The body of the first flooding or of the one with more painted over.

    A body that is mostly cement is the cement's own edge, where a flooding stopped;
    between two that are not, the one on the sharper edge (``edge_contrast_hu``) is on
    the cortical shell.
    """
    if again is None or first is None:
        return first or again
    first_cement = cement_fraction(first, cement) > MOSTLY_CEMENT
    again_cement = cement_fraction(again, cement) > MOSTLY_CEMENT
    if first_cement or again_cement:
        choice = first if again_cement else again
    else:
        choice = (again if edge_contrast_hu(again, hu, cement)
                  > edge_contrast_hu(first, hu, cement) else first)
    if choice is again:
        logger.debug("the flooding with more cement painted over gives the body")
    return choice


def _grown_within_shell(body: Body, again: Body, hu: npt.NDArray[np.int16],
                        cement: BoolArray) -> bool:
    """Whether ``again``, which adds only marrow to ``body`` (``_adds_only_marrow``), is
    ``body`` grown up to the same shell: it holds the body, adds a good part to it, and
    its surface is about as sharp.

    A flooding held back at the cement's blur along thick slices stops inside the marrow
    beyond the cement, and its in-plane edges are the shell's all the same: which of the
    two is sharper is then a toss-up, but only the larger is the whole body.
    """
    held = body.mask_in(again.box)
    lost = np.count_nonzero(held & ~again.mask)
    if (lost > RETRY_LOST * body.voxel_count
            or again.voxel_count < (1.0 + RETRY_GROWN) * body.voxel_count):
        return False
    return bool(edge_contrast_hu(again, hu, cement)
                >= (1.0 - RETRY_EDGE_TIE) * edge_contrast_hu(body, hu, cement))


def _adds_only_marrow(body: Body, again: Body | None, cement: BoolArray) -> bool:
    """Whether ``again`` adds to ``body`` hardly any cement (a disc leak painted over
    and flooded through is no marrow)."""
    if again is None:
        return False
    added = again.mask & ~body.mask_in(again.box)
    n = np.count_nonzero(added)
    return bool(n > 0 and np.count_nonzero(added & cement[again.box]) <= RETRY_ADDED_CEMENT * n)


def _flooded_from(elevation: F32, markers: npt.NDArray[np.int32], floodable: BoolArray
                  ) -> npt.NDArray[np.int32]:
    """``watershed(elevation, markers, mask=floodable)``, with the markers' own interior
    left out of the flooding.

    A marker voxel with no unmarked floodable neighbour (6-connected, the watershed's
    connectivity) never labels anything; leaving it out of the queue keeps the order of
    every other entry, so the labels are the same (up to ties between markers of exactly
    equal elevation, which the queue orders arbitrarily either way) at half the work or
    less: most of the grid is certain outside.
    """
    open_ = floodable & (markers == 0)
    front = (markers > 0) & dilated_by_ball(open_, 1.0)
    labels = watershed(elevation, np.where(front, markers, 0), mask=open_ | front)
    return np.where(markers > 0, markers, labels)


def _grid_around(centre_mm: FloatArray, step: float, half_mm: float) -> _Grid:
    n = 2 * int(np.ceil(half_mm / step)) + 1
    origin = centre_mm - (n // 2) * step
    return _Grid(origin=origin, step=step, shape=(n, n, n))


def _native_crop(hu: npt.NDArray[np.int16], affine: FloatArray, grid: _Grid) -> _Native:
    lo, hi = _index_box(affine, grid, hu.shape)
    shift = np.eye(4)
    shift[:3, 3] = -lo
    values = hu[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    return _Native(values=values, to_index=shift @ np.linalg.inv(affine))


def _index_box(affine: FloatArray, grid: _Grid, shape: tuple[int, ...]
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The box of volume indices that holds the grid (one voxel of margin)."""
    to_vol = np.linalg.inv(affine) @ grid.affine
    corners = np.array([[a, b, c, 1.0] for a in (0, grid.shape[0] - 1)
                        for b in (0, grid.shape[1] - 1) for c in (0, grid.shape[2] - 1)])
    idx = corners @ to_vol.T
    lo = np.maximum(np.floor(idx[:, :3].min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(idx[:, :3].max(axis=0)).astype(int) + 2, shape)
    return lo, hi


def _resample(values: npt.NDArray[np.generic], affine: FloatArray, grid: _Grid, *,
              order: int, cval: float) -> F32:
    """Values of the volume at the grid points (trilinear), cropped first for speed."""
    to_vol = np.linalg.inv(affine) @ grid.affine
    lo, hi = _index_box(affine, grid, values.shape)
    if np.any(hi <= lo):
        return np.full(grid.shape, cval, dtype=np.float32)
    sub = values[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    shift = np.eye(4)
    shift[:3, 3] = -lo
    m = shift @ to_vol
    return np.asarray(ndimage.affine_transform(sub, m, output_shape=grid.shape, order=order,
                                               cval=cval), dtype=np.float32)


def _partial_volume_halo(cement: BoolArray, affine: FloatArray, grid: _Grid) -> BoolArray:
    """Grid points that a scan voxel next to the cement reaches: on a coarse scan those
    voxels are partly cement, brighter than any bone, and their edges are no walls."""
    lo, hi = _index_box(affine, grid, cement.shape)
    if np.any(hi <= lo):
        return np.zeros(grid.shape, dtype=bool)
    sub = cement[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    grown = ndimage.binary_dilation(sub, structure=np.ones((1, 3, 3), dtype=bool))
    shift = np.eye(4)
    shift[:3, 3] = -lo
    to_sub = shift @ np.linalg.inv(affine) @ grid.affine
    touched = ndimage.affine_transform(grown.astype(np.float32), to_sub, output_shape=grid.shape,
                                       order=1, cval=0.0)
    return np.asarray(touched > 0.01, dtype=bool)


@dataclass(frozen=True, slots=True, eq=False)
class _Plates:
    """Endplate voxels on the grid (``_plates`` per direction along z, unpainted), with
    what tells a hidden plate: the painted cement and the voxels clear of its blur."""

    found: dict[int, BoolArray]
    painted: BoolArray
    clear: BoolArray
    slice_mm: float
    smooth: F32
    marrow: float
    step: float
    _faint: dict[int, BoolArray] = field(default_factory=dict)

    @classmethod
    def read(cls, smooth: F32, painted: BoolArray, marrow: float, step: float,
             slice_mm: float) -> _Plates:
        found = {d: _plates(smooth, marrow, step, d) & ~painted for d in (1, -1)}
        # The cement's blur beyond the paint (a slice or more on thick slices) peaks
        # and falls like a plate.
        clear = ~_near(painted, max(PLATE_CLEAR_MM, slice_mm) / step)
        return cls(found=found, painted=painted, clear=clear, slice_mm=slice_mm,
                   smooth=smooth, marrow=marrow, step=step)

    def faint(self, direction: int) -> BoolArray:
        """``found`` with plates down to FAINT_PLATE_MIN_HU (read once, when first asked:
        both passes of the wall cut may ask)."""
        if direction not in self._faint:
            self._faint[direction] = _plates(self.smooth, self.marrow, self.step, direction,
                                             min_hu=FAINT_PLATE_MIN_HU) & ~self.painted
        return self._faint[direction]


def _cut_at_endplates(region: BoolArray, plates: _Plates, centre: npt.NDArray[np.int64],
                      step: float) -> BoolArray:
    """The region without what lies beyond its endplates (a disc flooded through a gap).

    An endplate is a bright plate across the columns of the body: on each column, the
    first voxel from the seed's level that stands above the marrow with the disc beyond
    it (``plates.found``). A plane is fitted to these hits where they agree
    (:func:`_endplate_plane`); the region more than ENDPLATE_MARGIN_MM beyond it is cut
    when that is a disc's worth of volume.
    """
    columns = region.any(axis=0)
    keep = region.copy()
    z = np.arange(region.shape[0])[:, None, None]
    near = _near(region, 1.0)
    enough = ENDPLATE_MIN_COLUMNS * np.count_nonzero(columns)
    for direction in (1, -1):
        ahead = (z - centre[0]) * direction > 0
        hit = plates.found[direction] & near & ahead
        has = hit.any(axis=0) & columns
        if np.count_nonzero(has) < enough:
            hit = plates.faint(direction) & near & ahead
            has = hit.any(axis=0) & columns
        if np.count_nonzero(has) < enough:
            continue
        first = np.where(direction > 0, np.argmax(hit, axis=0),
                         hit.shape[0] - 1 - np.argmax(hit[::-1], axis=0))
        ys, xs = np.nonzero(has)
        plane = _endplate_plane(first[ys, xs].astype(np.float64), ys, xs, plates,
                                direction, step)
        if plane is None:
            continue
        keep = _cut_beyond_plane(keep, plane, direction, ENDPLATE_MARGIN_MM, step)
    return keep


def _endplate_plane(k: FloatArray, ys: npt.NDArray[np.int64], xs: npt.NDArray[np.int64],
                    plates: _Plates, direction: int, step: float) -> FloatArray | None:
    """Plane of the endplate hits ``k`` (first plate met from the seed, per column), or
    None when they do not show one.

    Where cement fills the body up to its endplate the plate is painted over, and the
    first plate met beyond it is the next body's, across the disc: those hits all lie
    beyond the body's own plate, never before it. So when many hits lie before the
    plane of most of them (or when no plane holds most), the plane of the nearer hits
    is the body's plate if it passes :func:`_hides_next_plate`.
    """
    tolerance = 2.0 / step
    plane = _robust_plane(k, ys, xs, tolerance)
    if plane is None:
        ahead = k * direction
        near = ahead <= np.median(ahead)
    else:
        near = _beyond(plane, k, ys, xs, direction) < -tolerance
        if np.mean(near) <= NEAR_PLATE_BEFORE:
            return plane
    nearer = _robust_plane(k[near], ys[near], xs[near], tolerance)
    if nearer is None or not _hides_next_plate(nearer, k, ys, xs, plates, direction, step):
        return plane
    return nearer


def _hides_next_plate(nearer: FloatArray, k: FloatArray, ys: npt.NDArray[np.int64],
                      xs: npt.NDArray[np.int64], plates: _Plates, direction: int,
                      step: float) -> bool:
    """Whether the plane ``nearer`` is the body's plate with the next body's seen beyond
    it: enough of all the hits lie on it, hardly any before it, enough of its own are
    clear of the cement (whose blur beyond the paint peaks and falls like a plate on
    thick slices), and the hits beyond it lie a disc beyond, where painted cement covers
    it (not a plate depressed by the fracture, nor the steps of one slanted plate across
    thick slices)."""
    tolerance = 2.0 / step
    beyond = _beyond(nearer, k, ys, xs, direction)
    on = np.abs(beyond) <= tolerance
    clear = plates.clear[k.astype(np.int64), ys, xs]
    if (np.mean(on) < NEAR_PLATE_AGREEING or np.mean(beyond < -tolerance) > NEAR_PLATE_BEFORE
            or np.count_nonzero(on & clear) < NEAR_PLATE_CLEAR * np.count_nonzero(on)):
        return False
    farther = beyond > tolerance
    if not farther.any():
        return False
    disc = max(NEAR_PLATE_DISC_MM, NEAR_PLATE_DISC_SLICES * plates.slice_mm)
    hidden = _painted_at(nearer, plates.painted, ys[farther], xs[farther], tolerance)
    return bool(np.median(beyond[farther]) * step >= disc and np.mean(hidden) >= 0.5)


def _painted_at(plane: FloatArray, painted: BoolArray, ys: npt.NDArray[np.int64],
                xs: npt.NDArray[np.int64], tolerance: float) -> BoolArray:
    """Whether each column (ys, xs) is painted within ``tolerance`` of ``plane``."""
    level = np.rint(plane[0] + plane[1] * ys + plane[2] * xs).astype(np.int64)
    reach = np.arange(-int(np.ceil(tolerance)), int(np.ceil(tolerance)) + 1)
    ks = np.clip(level[:, None] + reach[None, :], 0, painted.shape[0] - 1)
    return np.asarray(painted[ks, ys[:, None], xs[:, None]].any(axis=1), dtype=bool)


def _beyond(plane: FloatArray, k: FloatArray, ys: npt.NDArray[np.int64],
            xs: npt.NDArray[np.int64], direction: int) -> FloatArray:
    """How far each hit lies beyond ``plane`` in ``direction`` (grid steps)."""
    return np.asarray((k - (plane[0] + plane[1] * ys + plane[2] * xs)) * direction,
                      dtype=np.float64)


def _cut_beyond_plane(region: BoolArray, plane: FloatArray, direction: int, margin_mm: float,
                      step: float) -> BoolArray:
    """The region without what lies more than ``margin_mm`` beyond the plane
    ``k = a + b*y + c*x`` in ``direction`` along z, when that is a disc's worth of volume
    (ENDPLATE_CUT_MIN_ML) or more."""
    z = np.arange(region.shape[0])[:, None, None]
    yy, xx = np.indices(region.shape[1:])
    level = plane[0] + plane[1] * yy + plane[2] * xx
    beyond = (z - level[None]) * direction * step > margin_mm
    if np.count_nonzero(region & beyond) * step ** 3 / 1000.0 < ENDPLATE_CUT_MIN_ML:
        return region
    return np.asarray(region & ~beyond, dtype=bool)


def _plates(smooth: F32, marrow: float, step: float, direction: int,
            min_hu: float = WALL_MIN_HU) -> BoolArray:
    """Voxels brighter than the marrow (and ``min_hu``), peaks along z, that fall to below
    half-way to the marrow within PLATE_BEYOND_MM in ``direction`` (into the disc, which
    may be as thin as 3 mm; the bone on the body's side of an endplate may stay bright)."""
    ridge = max(marrow + WALL_RISE_HU, min_hu)
    near, far = max(round(PLATE_BEYOND_MM[0] / step), 1), round(PLATE_BEYOND_MM[1] / step)
    n = smooth.shape[0]
    beyond = np.full(smooth.shape, np.inf, dtype=np.float32)
    if direction > 0:
        beyond[:-far] = np.min([smooth[d:n - far + d] for d in range(near, far + 1)], axis=0)
    else:
        beyond[far:] = np.min([smooth[far - d:n - d] for d in range(near, far + 1)], axis=0)
    peak = np.zeros(smooth.shape, dtype=bool)
    peak[1:-1] = (smooth[1:-1] >= smooth[:-2]) & (smooth[1:-1] >= smooth[2:])
    return np.asarray(peak & (smooth >= ridge) & (beyond < 0.5 * (smooth + marrow)), dtype=bool)


def _robust_plane(k: FloatArray, ys: npt.NDArray[np.int64], xs: npt.NDArray[np.int64],
                  tolerance: float) -> FloatArray | None:
    """Plane ``k = a + b*y + c*x`` through most of the hits, or None when they disagree."""
    ok = np.abs(k - np.median(k)) <= 3.0 * tolerance
    for _ in range(3):
        if np.count_nonzero(ok) < 10:
            return None
        design = np.column_stack([np.ones(np.count_nonzero(ok)), ys[ok], xs[ok]])
        coef = np.linalg.lstsq(design, k[ok], rcond=None)[0]
        ok = np.abs(coef[0] + coef[1] * ys + coef[2] * xs - k) <= tolerance
    if np.count_nonzero(ok) < ENDPLATE_AGREEING * len(k):
        return None
    return np.asarray(coef, dtype=np.float64)


def _disc_markers(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64],
                  marrow: float, step: float) -> tuple[BoolArray, list[_Band]]:
    """Short stretches of the discs just beyond both endplates, on columns around the seed.

    Disc and marrow may have the same density, so where cement has broken an endplate
    (or painted over it) the flooding would pour into the disc; a marker there lets the
    endplate elsewhere decide. An endplate is the first strong wall met beyond the cement
    and its sclerotic rim, with no bone right behind it; columns that disagree with the
    others by more than DISC_SPREAD_MM are dropped. Where no such disc is seen, the marrow
    of the next body beyond the bright band between them is marked instead
    (:func:`_neighbour_marrow`), and the band is returned for
    :func:`_cut_beyond_bands`.
    """
    out = np.zeros(smooth.shape, dtype=bool)
    bands: list[_Band] = []
    # Near cement its blur, or a leak into the disc, brightens the disc: no bright disc
    # (brighter than the marrow) is read there.
    clear = ~_near(painted, BRIGHT_DISC_PAINT_MM / step)
    for direction in (1, -1):
        disc = _disc_beyond(smooth, painted, clear, centre, marrow, step, direction)
        if disc is None:
            band = _neighbour_marrow(smooth, painted, centre, marrow, step, direction)
            if band is not None:
                bands.append(band)
                disc = band.marrow
        if disc is not None:
            out |= disc
    return out, bands


def _disc_beyond(smooth: F32, painted: BoolArray, clear: BoolArray,
                 centre: npt.NDArray[np.int64], marrow: float, step: float, direction: int
                 ) -> BoolArray | None:
    """The disc slab beyond the endplate seen on the columns around the seed, or None
    (a disc brighter than the marrow is read on voxels ``clear`` of cement only)."""
    reach = int(DISC_REACH_MM / step)
    hits = []
    for y, x in _disc_columns(centre, step, smooth.shape):
        k = _endplate_on_column(smooth[:, y, x], painted[:, y, x], int(centre[0]),
                                direction, marrow, step, reach, clear[:, y, x])
        if k is not None:
            hits.append((k, y, x))
    if len(hits) < 3:
        return None
    median = float(np.median([k for k, _, _ in hits]))
    kept = np.array([h for h in hits if abs(h[0] - median) * step <= DISC_SPREAD_MM],
                    dtype=np.float64)
    if len(kept) < 3:
        return None
    return _disc_slab(kept, direction, smooth.shape, centre, step)


@dataclass(frozen=True, slots=True)
class _Band:
    """The bright band between a body and the next one (a thin disc on thick slices)."""

    direction: int            # along z, from the seed
    marrow: BoolArray         # a slab in the next body's marrow beyond it
    plane: FloatArray | None  # its peak as ``k = a + b*y + c*x`` (grid indices)


def _neighbour_marrow(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64],
                      marrow: float, step: float, direction: int) -> _Band | None:
    """A slab in the marrow of the next body, beyond the bright band that separates it.

    On thick slices a thin disc is blurred with both endplates into one band brighter
    than the marrow on either side (real thoracic spines at 2.5 mm), so no dark disc is
    seen and the flooding runs over the band into the next body, which nothing marks as
    outside. Along the median profile of the columns around the seed, beyond the cement
    and its blur, the band is the brightest stretch before the profile falls
    NEIGHBOUR_BAND_HU below it and stays there for NEIGHBOUR_MARROW_MM: that low
    stretch is the next body's marrow. The band's peak is then found on each column of
    the disc search and fitted with a plane.
    """
    prof = _column_profile(smooth, painted, centre, NEIGHBOUR_COLUMNS_MM / step)
    idx = int(centre[0]) + direction * np.arange(int(NEIGHBOUR_REACH_MM / step))
    idx = idx[(idx >= 0) & (idx < len(prof))]
    values = prof[idx]
    covered = np.flatnonzero(np.isnan(values))
    start = (int(covered.max()) + 1 if covered.size else 0) + int(NEIGHBOUR_SKIP_MM / step)
    # Where the cement's blur reaches farther still (thick slices), its fall into this
    # body's own marrow is no band.
    while (start + 1 < len(values) and values[start] > marrow + NEIGHBOUR_BAND_HU
           and values[start + 1] <= values[start]):
        start += 1
    run = max(int(NEIGHBOUR_MARROW_MM / step), 1)
    peak = -np.inf
    for i in range(start, len(values) - run):
        peak = max(peak, float(values[i]))
        low = values[i:i + run]
        if np.isnan(low).any() or float(low.max()) > peak - NEIGHBOUR_BAND_HU:
            continue
        k = int(idx[i + int(np.argmin(low))])
        z = np.arange(smooth.shape[0])[:, None, None]
        slab = np.abs(z - k) * step <= NEIGHBOUR_SLAB_MM
        cols = _columns(smooth.shape, centre, NEIGHBOUR_COLUMNS_MM / step)
        return _Band(direction=direction, marrow=np.asarray(slab & cols[None], dtype=bool),
                     plane=_band_plane(smooth, painted, centre, step, int(idx[start]), k))
    return None


def _disc_columns(centre: npt.NDArray[np.int64], step: float, shape: tuple[int, ...]
                  ) -> list[tuple[int, int]]:
    """(row, column) of a 3 mm lattice within DISC_COLUMNS_MM of the seed's column."""
    out = []
    for dy in np.arange(-DISC_COLUMNS_MM, DISC_COLUMNS_MM + 0.1, 3.0):
        for dx in np.arange(-DISC_COLUMNS_MM, DISC_COLUMNS_MM + 0.1, 3.0):
            y, x = round(centre[1] + dy / step), round(centre[2] + dx / step)
            on_grid = 0 <= y < shape[1] and 0 <= x < shape[2]
            if dx * dx + dy * dy <= DISC_COLUMNS_MM ** 2 and on_grid:
                out.append((y, x))
    return out


def _band_plane(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64], step: float,
                near: int, far: int) -> FloatArray | None:
    """Plane through the brightest voxel between z indices ``near`` and ``far`` on the
    columns of the disc search (a 3 mm lattice), or None when they disagree."""
    lo, hi = min(near, far), max(near, far) + 1
    hits = [(lo + int(np.argmax(smooth[lo:hi, y, x])), y, x)
            for y, x in _disc_columns(centre, step, smooth.shape)
            if not painted[lo:hi, y, x].any()]
    if len(hits) < 10:
        return None
    table = np.array(hits)
    return _robust_plane(table[:, 0].astype(np.float64), table[:, 1], table[:, 2], 2.0 / step)


def _cut_beyond_bands(region: BoolArray, bands: Sequence[_Band], step: float,
                      margin_mm: float) -> BoolArray:
    """The region without what lies more than ``margin_mm`` beyond the peak of a band
    when that is at least ENDPLATE_CUT_MIN_ML: the next body, flooded around its marker.

    The marker in the next body's marrow is small, and the marrow's texture may hold its
    front while the flooding crosses a faint band around it. A body ends within the band
    (the two fronts meet on one of its flanks), never a few millimetres past its peak.
    """
    for band in bands:
        if band.plane is not None:
            region = _cut_beyond_plane(region, band.plane, band.direction, margin_mm, step)
    return region


def _columns(shape: tuple[int, ...], centre: npt.NDArray[np.int64], radius: float) -> BoolArray:
    """The (row, column) positions within ``radius`` (voxels) of the seed's column."""
    y, x = np.ogrid[:shape[1], :shape[2]]
    return np.asarray((y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius * radius,
                      dtype=bool)


def _column_profile(smooth: F32, painted: BoolArray, centre: npt.NDArray[np.int64],
                    radius: float) -> FloatArray:
    """Median along z of the unpainted columns around the seed; NaN where cement (painted)
    covers half of them or more."""
    cols = _columns(smooth.shape, centre, radius)
    values = np.where(painted[:, cols], np.nan, smooth[:, cols])
    covered = np.isnan(values).mean(axis=1) >= 0.5
    with np.errstate(all="ignore"):
        prof = np.nanmedian(np.where(covered[:, None], 0.0, values), axis=1)
    return np.asarray(np.where(covered, np.nan, prof), dtype=np.float64)


def _disc_slab(hits: FloatArray, direction: int, shape: tuple[int, ...],
               centre: npt.NDArray[np.int64], step: float) -> BoolArray:
    """A thin slab of disc beyond the plane fitted to the endplate hits (k, y, x)."""
    design = np.column_stack([np.ones(len(hits)), hits[:, 1], hits[:, 2]])
    coef, *_ = np.linalg.lstsq(design, hits[:, 0], rcond=None)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    plane = coef[0] + coef[1] * y + coef[2] * x
    beyond = (z - plane) * direction * step
    near_axis = ((y - centre[1]) ** 2 + (x - centre[2]) ** 2) * step ** 2 <= DISC_COLUMNS_MM ** 2
    return np.asarray((beyond >= DISC_SLAB_MM[0]) & (beyond <= DISC_SLAB_MM[1]) & near_axis,
                      dtype=bool)


def _endplate_on_column(prof: F32, painted: BoolArray, start: int, direction: int,
                        marrow: float, step: float, reach: int, clear: BoolArray
                        ) -> int | None:
    """Index of the endplate's peak going ``direction`` from ``start``, or None; where the
    plate met is the next body's beyond a disc brighter than the marrow (on voxels
    ``clear`` of cement), an index placing the disc slab before that plate."""
    idx = start + direction * np.arange(reach)
    idx = idx[(idx >= 0) & (idx < len(prof))]
    values, paint, far_from_cement = prof[idx], painted[idx], clear[idx]
    first = int(np.nonzero(paint)[0].max()) + int(RIM_MM / step) if paint.any() else 0
    ridge = max(marrow + WALL_RISE_HU, WALL_MIN_HU)
    behind = slice(int(1.5 / step), int(4.0 / step) + 1)
    for i in range(max(first, 1), len(values) - behind.stop):
        v = values[i]
        if v < ridge or v < values[i - 1] or v < values[i + 1]:
            continue
        back = values[i + behind.start:i + behind.stop]
        # A plate too faint to stand above a disc brighter than the marrow is not met:
        # the plate met is the next body's, with the disc before it and the next body's
        # marrow, as bright as a disc in places, beyond it.
        bright = _bright_disc_before(values[first:i], far_from_cement[first:i], marrow, step)
        floor = max(marrow, DISC_SOFT_MAX_HU) if bright else marrow
        if float(back.max()) >= 0.5 * (v + floor) or paint[i:i + behind.stop].any():
            return None
        if bright:  # placed so that the disc's slab falls before that plate
            return int(idx[i] - direction * round((DISC_SLAB_MM[1] + BRIGHT_DISC_CLEAR_MM) / step))
        return int(idx[i])
    return None


def _bright_disc_before(values: F32, clear: BoolArray, marrow: float, step: float) -> bool:
    """Whether the profile just before a plate (``values`` from the seed's side up to it)
    is a disc brighter than the marrow: soft tissue over BRIGHT_DISC_MM, ``clear`` of
    cement, clearly above the marrow and no brighter than a disc, with marrow before it."""
    end = len(values) - round(BRIGHT_DISC_CLEAR_MM / step)
    begin = end - round(BRIGHT_DISC_MM / step)
    if begin < 0 or not clear[begin:].all():
        return False
    stretch = values[begin:end]
    low = float(np.percentile(stretch, 10))
    # The body's own marrow lies before the disc (not the blur of cement reaching the
    # plate, which falls off without ever reaching the marrow).
    marrow_before = values[:begin] <= marrow + BRIGHT_DISC_NOISE_HU
    return bool(low >= marrow + BRIGHT_DISC_ABOVE_MARROW_HU and marrow_before.any()
                and float(np.median(stretch)) <= DISC_SOFT_MAX_HU + BRIGHT_DISC_NOISE_HU)


def _inside_marker(cem: BoolArray, centre: npt.NDArray[np.int64], radius: float,
                   step: float) -> BoolArray:
    """The seed's cement piece without its thin outgrowths (leaks leave through the
    cortex in narrow channels), plus a ball at the seed."""
    ball = _ball_at(cem.shape, centre, radius)
    deep = np.zeros(cem.shape, dtype=bool)
    if cem.any():
        # One voxel of background around the cement keeps the depths exact.
        box = _bounding_box(cem, 1)
        deep[box] = ndimage.distance_transform_edt(cem[box]) * step >= INSIDE_DEPTH_MM
    core = _component_at(deep | ball, centre)
    if core is None:
        return ball
    return np.asarray(_near(core, INSIDE_DEPTH_MM / step) & cem | ball, dtype=bool)


def _large_parts(mask: BoolArray, min_voxels: float) -> BoolArray:
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray((sizes >= min_voxels)[labels], dtype=bool)


def _near(mask: BoolArray, radius: float) -> BoolArray:
    """Voxels within ``radius`` (voxels) of the mask."""
    if not mask.any():
        return mask.copy()
    box = _bounding_box(mask, int(np.ceil(radius)) + 1)
    out = np.zeros(mask.shape, dtype=bool)
    out[box] = dilated_by_ball(mask[box], radius)
    return out


def _holes_filled(mask: BoolArray) -> BoolArray:
    """``binary_fill_holes`` on the mask's box with one voxel of background around it
    (what lies outside the box reaches the border anyway)."""
    out = np.zeros(mask.shape, dtype=bool)
    if mask.any():
        box = _bounding_box(mask, 1)
        out[box] = ndimage.binary_fill_holes(mask[box])
    return out


def _bounding_box(mask: BoolArray, pad: int) -> tuple[slice, ...]:
    """The box around the mask's voxels, ``pad`` voxels wider on every side (clipped)."""
    if not mask.any():
        raise ValueError("A bounding box needs a mask with at least one voxel; it is empty.")
    out = []
    for axis, n in enumerate(mask.shape):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        out.append(slice(max(int(hit[0]) - pad, 0), min(int(hit[-1]) + 1 + pad, n)))
    return tuple(out)


def _marrow_level(data: F32, cem: BoolArray, painted: BoolArray, step: float
                  ) -> float:
    """Median of the bone around the cement (not the shell, not outside)."""
    ring = _near(cem, MARROW_RING_MM / step) & ~painted
    values = data[ring]
    values = values[(values > -100.0) & (values < 500.0)]
    if values.size < 50:
        return MARROW_DEFAULT_HU
    return float(np.median(values))


def _inpaint(data: F32, painted: BoolArray, step: float) -> F32:
    """Fill the painted voxels with the Gaussian-weighted mean of their unpainted surroundings."""
    if not painted.any():
        return data
    out = data.copy()
    weight = (~painted).astype(np.float32)
    todo = painted.copy()
    for sigma_mm in (1.5, 3.0, 6.0, 12.0):
        sigma = sigma_mm / step
        # The filters reach GAUSS_TRUNCATE sigma: on a box that much wider than what is
        # left to fill, the values there are those of the whole grid.
        box = _bounding_box(todo, int(np.ceil(GAUSS_TRUNCATE * sigma)) + 1)
        num = ndimage.gaussian_filter(data[box] * weight[box], sigma, truncate=GAUSS_TRUNCATE)
        den = ndimage.gaussian_filter(weight[box], sigma, truncate=GAUSS_TRUNCATE)
        ok = todo[box] & (den > 0.05)
        out[box][ok] = num[ok] / den[ok]
        todo[box] &= ~ok
        if not todo.any():
            break
    return out


def _opened(mask: BoolArray, radius: float) -> BoolArray:
    """Morphological opening by a ball."""
    if not mask.any():
        return mask
    # One voxel of background around the mask is enough: beyond the box's edge the erosion
    # counts as inside, which is right only where the box meets the grid's own edge.
    box = _bounding_box(mask, 1)
    core = np.zeros(mask.shape, dtype=bool)
    core[box] = eroded_by_ball(mask[box], radius)
    return np.asarray(_near(core, radius) & mask, dtype=bool) if core.any() else core


def _ball_at(shape: tuple[int, ...], centre: npt.NDArray[np.int64], radius: float
             ) -> BoolArray:
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    d2 = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2
    return np.asarray(d2 <= radius * radius, dtype=bool)


def _seed_piece_ml(view: _GridView) -> float:
    """Volume of the cement piece at the grid's centre (the seed), ml; 0 when the seed's
    piece is too small to survive the resampling (never another, larger piece)."""
    labels, _ = ndimage.label(view.cement)
    label = labels[tuple(np.asarray(view.grid.shape) // 2)]
    if label == 0:
        return 0.0
    return np.count_nonzero(labels == label) * view.grid.step ** 3 / 1000.0


def _component_at(mask: BoolArray, centre: npt.NDArray[np.int64]) -> BoolArray | None:
    labels, n = ndimage.label(mask)
    if n == 0:
        return None
    label = labels[tuple(centre)]
    if label == 0:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        label = int(np.argmax(sizes))
    return np.asarray(labels == label, dtype=bool)


def _core(region: BoolArray, step: float) -> BoolArray:
    """The region without its thin processes, for the frame (pedicles bias the axes)."""
    opened = _opened(region, 5.0 / step)
    return opened if np.count_nonzero(opened) > 100 else region


def _same_wall(frame: BodyFrame, wall: float, new: BodyFrame) -> float:
    """Distance along ``new.posterior`` from ``new.origin`` to the wall plane found at
    ``wall`` along ``frame.posterior`` from ``frame.origin``."""
    along = float(new.posterior @ frame.posterior)
    return (wall - float((new.origin - frame.origin) @ frame.posterior)) / max(along, 1e-3)


def _posterior_wall(smooth: F32, grid: _Grid, frame: BodyFrame, marrow: float,
                    p: FloodParams, expected: float | None = None,
                    marrow_held: BoolArray | None = None) -> float | None:
    """Distance from the centre to the outer edge of the posterior wall, along posterior.

    Profiles run straight back across the width of the canal; on each, the wall is the
    first bright wall followed by ``canal_probe_mm`` of canal (see ``_wall_on_profile``).
    Where the wall of a first pass is ``expected``, only hits near it count (when at
    least three are): marrow as dark as the canal makes false walls inside the body, in
    front of the true one, and the second pass starts from a centre nearer to them. For
    the same reason a canal that lies in ``marrow_held`` (the flooded basin where it was
    not painted over) is the body's own marrow behind the cement's edge, unless fewer
    than three profiles find any other. (Cement leaked into the canal is painted over
    and flooded with it: such a canal still counts.)
    """
    origin, post, sup, left = frame.origin, frame.posterior, frame.superior, frame.left
    h = 0.5
    t = np.arange(p.canal_band_mm[0] - 2.0, p.canal_band_mm[1] + p.canal_probe_mm + 5.0, h)
    offsets = [(s, lft) for s in (-4.0, 0.0, 4.0) for lft in np.arange(-12.0, 12.1, 2.0)]
    hold = round(p.canal_probe_mm / h)
    inv = np.linalg.inv(grid.affine)
    held_grid = None if marrow_held is None else marrow_held.astype(np.uint8)
    profiles = []
    for s, lft in offsets:
        pts = origin + s * sup + lft * left + t[:, None] * post
        idx = (pts @ inv[:3, :3].T + inv[:3, 3]).T
        prof = ndimage.map_coordinates(smooth, idx, order=1, cval=-1000.0)
        held = None if held_grid is None else ndimage.map_coordinates(held_grid, idx, order=0) > 0
        profiles.append((float(lft), prof, held))

    def walls_found(with_held: bool) -> list[tuple[float, float]]:
        out = []
        for lft, prof, held in profiles:
            wall = _wall_on_profile(prof, t, marrow, hold, p.canal_band_mm[0],
                                    held if with_held else None)
            if wall is not None:
                out.append((lft, wall))
        return out

    found = walls_found(with_held=True) if held_grid is not None else []
    if len(found) < 3:
        found = walls_found(with_held=False)
    if expected is not None:
        near = [h for h in found if abs(h[1] - expected) <= WALL_SAME_MM]
        found = near if len(near) >= 3 else found
    if len(found) < 3:
        return None
    hits = np.array(sorted(found, key=lambda h: h[1]))
    walls = hits[:, 1]
    # Rays where cement hides the wall run on to the lamina and the soft tissue behind
    # it, a canal's depth farther back: the wall is the front-most cluster of hits that
    # spans the canal's width. (Rays along the basivertebral vein's channel, in the
    # midline, find its front end: a narrow cluster.)
    counts = np.searchsorted(walls, walls + WALL_CLUSTER_MM, side="right") - np.arange(len(walls))
    spans = np.array([np.ptp(hits[i:i + c, 0]) for i, c in enumerate(counts)])
    wide = (counts >= 3) & (spans >= WALL_MIN_SPAN_MM)
    first = int(np.argmax(wide)) if wide.any() else (
        int(np.argmax(counts >= 3)) if np.any(counts >= 3) else 0)
    cluster = walls[first:first + int(counts[first])]
    # Where the wall is concave the pedicle bases sit at its posterior-most edge (the
    # outer-edge search of the surface finds the wall itself in front of this plane).
    return float(np.percentile(cluster, WALL_PERCENTILE))


def _wall_on_profile(prof: F32, t: FloatArray, marrow: float, hold: int, start_mm: float,
                     held: BoolArray | None = None) -> float | None:
    """Outer edge of the first bright wall, scanning outward, that the canal follows.

    A wall stands clearly above the marrow and falls within WALL_FALL_MM to the canal
    (CSF, fat, soft tissue), which stays darker than bone and than the marrow for
    ``hold`` samples, not all of them ``held`` (marrow of the flooded basin) when that is
    given.
    """
    step = float(t[1] - t[0])
    begin = int(np.searchsorted(t, start_mm))
    ridge = max(marrow + WALL_RISE_HU, WALL_MIN_HU)
    canal_max = min(CANAL_MAX_HU, marrow + 10.0)
    fall = round(WALL_FALL_MM / step)
    for k in range(max(begin, 1), len(prof) - hold - fall):
        if not (prof[k] >= prof[k - 1] and prof[k] >= prof[k + 1]
                and prof[k] >= min(ridge, marrow - WALL_FAINT_BELOW_MARROW_HU)):
            continue
        half = 0.5 * (float(prof[k]) + canal_max)
        below = np.nonzero(prof[k + 1:k + 1 + fall] < half)[0]
        if below.size == 0:
            continue
        j0 = k + 1 + int(below[0])
        behind = prof[j0:j0 + hold]
        low = float(np.median(behind))
        level = 0.5 * (float(prof[k]) + low)
        if (behind.size < hold or low > canal_max or float(behind[2:].max()) >= level
                or float(np.percentile(behind, 75)) > canal_max):
            continue
        if held is not None and held[j0:j0 + hold].all():
            continue
        if prof[k] < ridge and prof[k] - low < WALL_FAINT_DROP_HU:
            continue
        j = k
        while j < j0 and prof[j] >= level:
            j += 1
        return float(t[j - 1] + step * (prof[j - 1] - level) / max(prof[j - 1] - prof[j], 1e-3))
    return None


def _directions(frame: BodyFrame) -> FloatArray:
    """Unit vectors (polar from the superior axis x azimuth x 3), LPS."""
    theta = (np.arange(POLAR_BINS) + 0.5) * np.pi / POLAR_BINS
    phi = np.arange(AZIMUTH_BINS) * 2.0 * np.pi / AZIMUTH_BINS
    tt, pp = np.meshgrid(theta, phi, indexing="ij")
    axes = np.stack([frame.left, frame.posterior, frame.superior])
    local = np.stack([np.sin(tt) * np.cos(pp), np.sin(tt) * np.sin(pp), np.cos(tt)], -1)
    return np.asarray(local @ axes, dtype=np.float64)


def _sample(image: npt.NDArray[np.generic], grid: _Grid, pts: FloatArray, order: int,
            cval: float) -> FloatArray:
    inv = np.linalg.inv(grid.affine)
    idx = pts @ inv[:3, :3].T + inv[:3, 3]
    values = ndimage.map_coordinates(image, idx.reshape(-1, 3).T, order=order, cval=cval)
    return np.asarray(values.reshape(pts.shape[:-1]), dtype=np.float64)


def _on_rays(region: BoolArray, grid: _Grid, frame: BodyFrame) -> BoolArray:
    """Whether each ray (direction x RAY_STEP_MM steps from the frame origin) is in the region."""
    pts = frame.origin + _directions(frame)[..., None, :] * _ray_steps()[:, None]
    return np.asarray(_sample(region.astype(np.uint8), grid, pts, 0, 0.0) > 0)


def _ray_steps() -> FloatArray:
    return np.arange(0.0, MAX_RADIUS_MM, RAY_STEP_MM)


def _last_exit(inside: BoolArray) -> FloatArray:
    """Distance from the frame origin to where each ray leaves the region for the last
    time (pockets of cement or gas inside the body do not end a ray)."""
    steps = _ray_steps()
    last = len(steps) - 1 - np.argmax(inside[..., ::-1], axis=-1)
    return np.asarray(np.where(inside.any(axis=-1), steps[last] + 0.5 * RAY_STEP_MM, 0.0),
                      dtype=np.float64)


def _shell_beyond_cement(cement_end: FloatArray, native: _Native, frame: BodyFrame
                         ) -> FloatArray:
    """Per direction, the outer edge of a shell found right beyond where the cement ends,
    NaN where the cement ends in soft tissue or disc.

    Cement fills the trabecular space, not the shell: cement inside the body ends at the
    shell, still well above soft tissue SHELL_PROBE_MM beyond the cement's edge; leaked
    cement ends in the tissue it leaked into. ``cement_end`` is where each ray leaves the
    body and the cement joined to it, mm from the frame origin.
    """
    h = EDGE_STEP_MM
    offsets, pts = _around(cement_end, SHELL_SEARCH_MM, frame)
    prof = native.sample(pts)
    # A leak's blurred edge reaches farther along coarse voxels: probe that much farther.
    per_mm = _voxels_per_mm(frame, native)
    probe = np.rint((SHELL_PROBE_MM + SHELL_PROBE_VOXELS / per_mm) / h).astype(np.int64)
    is_cement = prof >= CEMENT_EDGE_HU
    n = len(offsets)
    end = n - 1 - np.argmax(is_cement[..., ::-1], axis=-1)   # last cement sample
    found = is_cement.any(axis=-1) & (end < n - 1)
    plate = _along(prof, end + probe)
    tissue = _along(prof, end + round(SHELL_SEARCH_MM[1] / h) - 1)
    level = 0.5 * (plate + tissue)
    after = (np.arange(n) > (end + probe)[..., None]) & (prof < level[..., None])
    edge = cement_end + offsets[np.minimum(np.argmax(after, axis=-1), n - 1)]
    ok = found & (plate >= SHELL_MIN_HU) & (plate - tissue >= SHELL_MIN_HU / 2) & after.any(-1)
    return np.asarray(np.where(ok, edge, np.nan), dtype=np.float64)


def _around(radius: FloatArray, search_mm: tuple[float, float], frame: BodyFrame
            ) -> tuple[FloatArray, FloatArray]:
    """Offsets from ``search_mm[0]`` before to ``search_mm[1]`` beyond each radius, every
    EDGE_STEP_MM, and the points there along each direction."""
    h = EDGE_STEP_MM
    offsets = np.arange(-search_mm[0], search_mm[1] + h / 2, h)
    t = radius[..., None] + offsets
    return offsets, frame.origin + _directions(frame)[..., None, :] * t[..., None]


def _first_exit(inside: BoolArray, start: FloatArray) -> FloatArray:
    """Per ray, where it leaves the region at or beyond ``start`` (mm) for at least GAP_MM
    (gaps between pieces of cement inside one body are shorter than the disc and the two
    endplates between two bodies)."""
    steps = _ray_steps()
    run = round(GAP_MM / RAY_STEP_MM)
    gap = np.zeros(inside.shape, dtype=bool)   # this sample and the next run-1 outside
    gap[..., :len(steps) - run + 1] = np.lib.stride_tricks.sliding_window_view(
        ~inside, run, axis=-1).all(axis=-1)
    outside = gap & (steps >= start[..., None] - RAY_STEP_MM)
    first = np.argmax(outside, axis=-1)
    return np.asarray(np.where(outside.any(axis=-1), steps[first] - 0.5 * RAY_STEP_MM, start),
                      dtype=np.float64)


def _crossing(prof: FloatArray, offsets: FloatArray, k: npt.NDArray[np.int64],
              level: FloatArray) -> FloatArray:
    """Offset (mm) where each profile falls through ``level`` between samples k and k+1."""
    p0, p1 = _along(prof, k), _along(prof, k + 1)
    frac = np.clip((p0 - level) / np.maximum(p0 - p1, 1e-3), 0.0, 1.0)
    return np.asarray(offsets[k] + frac * EDGE_STEP_MM, dtype=np.float64)


def _voxels_per_mm(frame: BodyFrame, native: _Native) -> FloatArray:
    """Per direction, how many scan voxels one millimetre along it crosses (at most)."""
    return np.asarray(np.abs(_directions(frame) @ native.to_index[:3, :3].T).max(axis=-1),
                      dtype=np.float64)


def _along(profiles: FloatArray, k: npt.NDArray[np.int64]) -> FloatArray:
    """Sample ``k`` (clipped to the profile) of each profile."""
    k = np.minimum(k, profiles.shape[-1] - 1)
    return np.asarray(np.take_along_axis(profiles, k[..., None], axis=-1)[..., 0])


def _with_cement_at_wall(body: FloatArray, with_cement: FloatArray, shell: FloatArray
                         ) -> FloatArray:
    """Radii that reach through cement to the wall where the cement fills the body up to
    its shell, but not out to a leak beyond it.

    Cement outside the flooding's seed is left out of the flooding (a leak must not carry
    the body out with it); where it reaches no farther than the envelope of the clean
    directions around it (directions that end in no cement), it is part of the body.
    """
    clean = with_cement - body < 1.0
    k = ENVELOPE_NEIGHBOURS // 2
    masked = np.where(clean, body, np.nan)
    padded = _padded_table(masked, k)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * k + 1, 2 * k + 1))
    values = windows.reshape(*body.shape, -1)
    # All-cement windows have no clean direction: the cement's own reach stands. (Not
    # through catch_warnings, which is not thread-safe: bodies are found in threads.)
    some = ~np.all(np.isnan(values), axis=-1)
    envelope = with_cement.copy()
    envelope[some] = np.nanmedian(values[some], axis=-1)
    reach = with_cement <= envelope * (1.0 + STAR_OUTLIER_FRACTION) + STAR_OUTLIER_MM
    shelled = ~clean & ~np.isnan(shell)
    return np.asarray(np.where(shelled, np.maximum(shell, body),
                               np.where(reach, with_cement, body)), dtype=np.float64)


def _padded_table(table: FloatArray, k: int) -> FloatArray:
    """A polar x azimuth table padded by ``k``: the azimuth wraps around, the poles repeat."""
    return np.asarray(np.pad(np.pad(table, ((0, 0), (k, k)), mode="wrap"), ((k, k), (0, 0)),
                             mode="edge"), dtype=np.float64)


def _cleaned(radius: FloatArray, on_wall: BoolArray | None = None) -> FloatArray:
    """Directions that stick out of (leaks through gaps) or into (dents left by cement)
    their neighbourhood take the neighbourhood's median radius.

    A direction ``on_wall`` (its surface read on a wall of the CT) that sticks out keeps
    its radius while it lies near the quadratic surface fitted to its neighbourhood: the
    median clips the cusp that a body's corner makes among its neighbours (2 mm at the
    acute superior-posterior corner of a leaning body, enough to lean its frame back), a
    quadratic follows a cusp but not a spike a few directions wide. A corner only ever
    sticks out: directions that stick in are dents, taken in as before.
    """
    k = STAR_NEIGHBOURS // 2
    padded = _padded_table(radius, k)
    typical = ndimage.median_filter(padded, size=STAR_NEIGHBOURS)[k:-k, k:-k]
    margin = np.maximum(STAR_OUTLIER_MM, STAR_OUTLIER_FRACTION * typical)
    off = np.abs(radius - typical) > margin
    if on_wall is not None:
        fit = savgol_filter(savgol_filter(padded, STAR_NEIGHBOURS, 2, axis=0),
                            STAR_NEIGHBOURS, 2, axis=1)[k:-k, k:-k]
        off &= ~(on_wall & (radius > typical) & (np.abs(radius - fit) <= margin))
    return np.asarray(np.where(off, typical, radius), dtype=np.float64)


def _outer_edges(radius: FloatArray, native: _Native, painted: BoolArray, grid: _Grid,
                 frame: BodyFrame, marrow: float) -> tuple[FloatArray, BoolArray]:
    """Each radius moved to the outer edge of the wall near it: the half-level between
    the wall's peak and what lies beyond (partial volume puts the true surface there),
    and where a wall was found. Where cement reaches the wall, its painted halo hides the
    wall: the radius stays.

    Marrow darker than the disc beyond an endplate (osteoporotic marrow) makes the
    plate's inner edge the stronger one, and the flooding stops there: toward the plates
    (within PLATE_CONE_DEG of the body's axis, where the voxels are thin enough to show
    a plate), a wall rising from the marrow within PLATE_AHEAD_MM beyond the surface is
    then the wall to take the outer edge of.
    """
    h = EDGE_STEP_MM
    offsets, pts = _around(radius, (EDGE_SEARCH_MM[0], EDGE_SEARCH_MM[1] + PLATE_AHEAD_MM),
                           frame)
    prof = native.sample(pts)
    painted_on = _sample(painted.astype(np.uint8), grid, pts, 0, 0.0) > 0
    n = round(sum(EDGE_SEARCH_MM) / h) + 1        # the search without the look ahead
    n_peak = round((EDGE_SEARCH_MM[0] + EDGE_PEAK_BEYOND_MM) / h)
    edge, ok = _edge_after_peak(prof[..., :n], offsets[:n],
                                np.argmax(prof[..., :n_peak], axis=-1))
    ok &= ~painted_on[..., :n].any(axis=-1)
    short_edge, stopped_short = _edge_ahead(prof, offsets, marrow)
    # Along thick slices a plate is not resolved; the plates are placed between the
    # slices later (endplates.with_endplates_between_slices).
    resolved = 1.0 / _voxels_per_mm(frame, native) <= PLATE_RESOLVED_MM
    stopped_short &= ~ok & ~painted_on.any(axis=-1) & _toward_plate() & resolved
    return (np.asarray(radius + np.where(ok, edge, np.where(stopped_short, short_edge, 0.0)),
                       dtype=np.float64),
            np.asarray(ok | stopped_short, dtype=bool))


def _toward_plate() -> BoolArray:
    """Directions within PLATE_CONE_DEG of the body's axis (polar x 1)."""
    theta = (np.arange(POLAR_BINS) + 0.5) * 180.0 / POLAR_BINS
    return np.asarray((np.minimum(theta, 180.0 - theta) <= PLATE_CONE_DEG)[:, None])


def _edge_ahead(prof: FloatArray, offsets: FloatArray, marrow: float
                ) -> tuple[FloatArray, BoolArray]:
    """The outer edge of a wall that rises from the marrow within PLATE_AHEAD_MM beyond
    the surface (offset 0) with something brighter than the marrow beyond it, and where
    there is one."""
    h = EDGE_STEP_MM
    at = int(np.argmin(np.abs(offsets)))
    kp = at + 1 + np.argmax(prof[..., at + 1:at + 1 + round(PLATE_AHEAD_MM / h)], axis=-1)
    edge, ok = _edge_after_peak(prof, offsets, kp)
    index = np.arange(len(offsets))
    between = np.where((index >= at) & (index <= kp[..., None]), prof, np.inf).min(axis=-1)
    ok &= ((prof[..., at] <= marrow + WALL_RISE_HU) & (between >= marrow - WALL_RISE_HU)
           & (_along(prof, kp) >= max(marrow + WALL_RISE_HU, WALL_MIN_HU))
           & (_beyond_peak(prof, kp) > marrow))
    return edge, ok


def _beyond_peak(prof: FloatArray, kp: npt.NDArray[np.int64]) -> FloatArray:
    """The median of each profile 1.5-3.5 mm beyond its peak at ``kp``."""
    h = EDGE_STEP_MM
    far = kp[..., None] + np.arange(int(1.5 / h), int(3.5 / h))
    return np.asarray(np.median(np.take_along_axis(prof, np.minimum(far, prof.shape[-1] - 1),
                                                   axis=-1), axis=-1), dtype=np.float64)


def _edge_after_peak(prof: FloatArray, offsets: FloatArray, kp: npt.NDArray[np.int64]
                     ) -> tuple[FloatArray, BoolArray]:
    """Offset of the half-level between the peak at ``kp`` and what lies beyond it, and
    whether that wall stands EDGE_MIN_CONTRAST_HU above what lies beyond."""
    peak = _along(prof, kp)
    beyond = _beyond_peak(prof, kp)
    level = 0.5 * (peak + beyond)
    after = (np.arange(len(offsets)) > kp[..., None]) & (prof < level[..., None])
    j = np.argmax(after, axis=-1)
    ok = after.any(axis=-1) & (peak - beyond >= EDGE_MIN_CONTRAST_HU)
    return _crossing(prof, offsets, np.maximum(j, 1) - 1, level), np.asarray(ok, dtype=bool)


def _at_cement_edge(radius: FloatArray, native: _Native, frame: BodyFrame, marrow: float
                    ) -> FloatArray:
    """Radii toward an endplate that run on beyond the cement's edge through no wall,
    moved back to that edge.

    Cement injected up to an endplate hides the thin plate in the blur of its own edge,
    and its painted halo hides the plate from the flooding, which then runs on into a
    disc as dark as the marrow (1-3 mm on thin slices). Where a ray toward an endplate
    leaves the cement within CEMENT_OVERRUN_MM of the surface and meets no wall between
    the cement's blurred edge and the surface, the surface is the cement's edge (the
    half-level between the cement and the marrow). Cement that ends inside the body has
    the plate beyond it, a wall; toward the side walls the shell stays visible beside
    cement, so only directions within PLATE_CONE_DEG of the body's axis (out to the
    plate's rim) are moved, and only where the voxels along them are thin enough
    (PLATE_RESOLVED_MM) to show a plate. A wall rising within PLATE_AHEAD_MM beyond the
    surface says the flooding stopped short of the plate (marrow darker than the disc):
    the surface is no cement edge then either.
    """
    offsets, pts = _around(radius, (CEMENT_OVERRUN_MM, EDGE_SEARCH_MM[1]), frame)
    prof = native.sample(pts)
    n = len(offsets)
    before = offsets <= 0.0
    has_cement = np.any((prof >= CEMENT_EDGE_HU) & before, axis=-1)
    level = 0.5 * (np.max(np.where(before, prof, -np.inf), axis=-1) + marrow)
    above = prof >= level[..., None]
    last = np.minimum(n - 1 - np.argmax(above[..., ::-1], axis=-1), n - 2)
    edge = _crossing(prof, offsets, last, level)
    voxel_mm = 1.0 / _voxels_per_mm(frame, native)
    clear_from = edge + CEMENT_TAIL_MM + 0.5 * voxel_mm
    stretch = (offsets >= clear_from[..., None]) & (offsets <= EDGE_PEAK_BEYOND_MM)
    # Beyond its edge the cement's blur falls off, over more than CEMENT_TAIL_MM along a
    # ray that leaves it obliquely or through a partly filled voxel: near the edge a wall
    # is what rises above that fall; farther out whatever is bright.
    low = np.minimum.accumulate(np.where(offsets > edge[..., None], prof, np.inf), axis=-1)
    rises = prof - low >= WALL_RISE_HU
    far = offsets >= (clear_from + CEMENT_TAIL_MM)[..., None]
    bright = prof >= max(marrow + WALL_RISE_HU, WALL_MIN_HU)
    ahead = (offsets > EDGE_PEAK_BEYOND_MM) & (offsets <= PLATE_AHEAD_MM)
    walled = np.any((stretch & bright & (rises | far)) | (ahead & rises), axis=-1)
    toward_plate = _toward_plate()
    # On thick voxels a plate is not resolved beside cement: its absence says nothing.
    resolved = voxel_mm <= PLATE_RESOLVED_MM
    snap = (has_cement & (edge <= -CEMENT_MIN_OVERRUN_MM) & stretch.any(axis=-1) & ~walled
            & toward_plate & resolved)
    return np.asarray(np.where(snap, radius + edge, radius), dtype=np.float64)


def _star_mask(radius: FloatArray, grid: _Grid, frame: BodyFrame) -> BoolArray:
    """Grid voxels within ``radius`` (polar x azimuth table) of the frame origin."""
    out = np.zeros(grid.shape, dtype=bool)
    # Only the cube of the largest radius can hold any.
    centre = np.rint((frame.origin - grid.origin) / grid.step).astype(int)[::-1]
    reach = int(np.ceil(float(radius.max()) / grid.step)) + 1
    box = tuple(slice(max(c - reach, 0), min(c + reach + 1, n))
                for c, n in zip(centre, grid.shape, strict=True))
    if any(b.stop <= b.start for b in box):
        return out
    x, y, z = grid.offsets(frame.origin, box)
    left, post, sup = (x * a[0] + y * a[1] + z * a[2]
                       for a in (frame.left, frame.posterior, frame.superior))
    dist = np.sqrt(left ** 2 + post ** 2 + sup ** 2)
    theta = np.arccos(np.clip(sup / np.maximum(dist, 1e-9), -1.0, 1.0))
    phi = np.mod(np.arctan2(post, left), 2.0 * np.pi)
    ti = theta / np.pi * POLAR_BINS - 0.5
    pi = phi / (2.0 * np.pi) * AZIMUTH_BINS
    padded = np.concatenate([radius, radius[:, :1]], axis=1)
    limit = ndimage.map_coordinates(padded, np.stack([ti.ravel(), pi.ravel()]), order=1,
                                    mode="nearest")
    out[box] = dist <= limit.reshape(dist.shape)
    return out
