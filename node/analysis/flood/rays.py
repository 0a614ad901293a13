"""The body's surface as a radius per direction from its centre (a star-shaped map)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.signal import savgol_filter

from node.analysis.bodies import BoolArray, FloatArray
from node.analysis.flood.grid import _Grid, _Native, _sample
from node.analysis.flood.params import (
    AZIMUTH_BINS,
    CEMENT_EDGE_HU,
    CEMENT_MIN_OVERRUN_MM,
    CEMENT_OVERRUN_MM,
    CEMENT_TAIL_MM,
    EDGE_MIN_CONTRAST_HU,
    EDGE_PEAK_BEYOND_MM,
    EDGE_SEARCH_MM,
    EDGE_STEP_MM,
    ENVELOPE_NEIGHBOURS,
    GAP_MM,
    MAX_RADIUS_MM,
    PLATE_AHEAD_MM,
    PLATE_CONE_DEG,
    PLATE_RESOLVED_MM,
    POLAR_BINS,
    RAY_STEP_MM,
    SHELL_MIN_HU,
    SHELL_PROBE_MM,
    SHELL_PROBE_VOXELS,
    SHELL_SEARCH_MM,
    STAR_NEIGHBOURS,
    STAR_OUTLIER_FRACTION,
    STAR_OUTLIER_MM,
    WALL_MIN_HU,
    WALL_RISE_HU,
)
from node.analysis.frame import BodyFrame


def _directions(frame: BodyFrame) -> FloatArray:
    """Unit vectors (polar from the superior axis x azimuth x 3), LPS."""
    theta = (np.arange(POLAR_BINS) + 0.5) * np.pi / POLAR_BINS
    phi = np.arange(AZIMUTH_BINS) * 2.0 * np.pi / AZIMUTH_BINS
    tt, pp = np.meshgrid(theta, phi, indexing="ij")
    axes = np.stack([frame.left, frame.posterior, frame.superior])
    local = np.stack([np.sin(tt) * np.cos(pp), np.sin(tt) * np.sin(pp), np.cos(tt)], -1)
    return np.asarray(local @ axes, dtype=np.float64)


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
