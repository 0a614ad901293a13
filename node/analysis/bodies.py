"""Vertebral body segmentation (spec: "Masks", vertebral body).

The body is the centrum enclosed by the outer surface of its cortical shell and its
endplates. Seen from a point inside the centrum it is star-shaped, so it is found by
casting rays from its centre in every direction: along each ray the boundary is the outer
edge of the first cortical wall (shell or endplate) met. The shell is thin and broken by
partial volume, and cement, streaks and basivertebral foramina interrupt it, so rays that
pass through a gap are outliers against their neighbours on the sphere and are replaced
by the robust (median) radius of the neighbourhood: this is how the shell is closed. The
cut toward the pedicles is the plane that continues the posterior wall (found on the rays
aimed straight back, which meet the wall and then the canal). Discs and neighbouring
vertebrae lie beyond the endplates, so rays never reach them.

``BodySource`` is the protocol a learned segmenter (e.g. TotalSegmentator's vertebral
body masks) can implement instead of :class:`RayBodySource`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis._rays import exits, harmonic_fill, star_moments
from node.analysis.frame import body_frame

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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

    def full_mask(self, shape: tuple[int, int, int]) -> BoolArray:
        """The body on the whole volume grid."""
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.mask
        return out

    @property
    def voxel_count(self) -> int:
        return int(np.count_nonzero(self.mask))


class BodySource(Protocol):
    """Finds the vertebral body that holds each seed point.

    A learned segmenter implements the same call: it returns, for each seed (a voxel
    index known to lie in cement), the body containing it, or None when the seed is not
    inside any vertebral body.
    """

    def body_at(self, hu: npt.NDArray[np.int16], affine: FloatArray,
                seed: Sequence[float] | FloatArray, *, cement: BoolArray) -> Body | None:
        ...


@dataclass(frozen=True, slots=True)
class RayParams:
    """Tuning of the ray-cast body finder (anatomical sizes in mm, HU levels)."""

    cortex_hu: float = 226.0          # a wall is at least the spec's bone threshold
    max_radius_mm: float = 40.0       # half the widest lumbar body plus margin
    step_mm: float = 0.4
    polar_bins: int = 36
    azimuth_bins: int = 72
    smooth_mm: float = 0.6            # Gaussian before sampling: noise, not anatomy
    inpaint_mm: float = 1.2           # cement plus its partial-volume halo
    marrow_radius_mm: float = 8.0
    wall_rise_hu: float = 60.0        # a wall is this much brighter than the marrow...
    wall_rise_sigmas: float = 3.0     # ...and stands out of its texture
    drop_hu: float = 30.0             # outside (disc, muscle, canal) is darker than marrow
    drop_sigmas: float = 2.0
    drop_hold_mm: float = 2.0
    outlier_mm: float = 2.0
    outlier_fraction: float = 0.12
    min_valid_fraction: float = 0.45
    min_kept_fraction: float = 0.3
    posterior_sector_deg: float = 22.0
    wall_percentile: float = 80.0
    clean_gap_mm: float = 8.0         # marrow seen between cement and wall: a clean ray
    min_clean_fraction: float = 0.2
    iterations: int = 5
    min_volume_ml: float = 4.0
    max_volume_ml: float = 120.0
    min_height_mm: float = 8.0
    canal_probe_mm: tuple[float, float] = (4.0, 10.0)   # behind the posterior wall
    canal_max_hu: float = 120.0


@dataclass(frozen=True, slots=True, eq=False)
class _Surface:
    """The body seen from ``centre``: radius along each ray of a (polar, azimuth) grid."""

    centre: FloatArray
    superior: FloatArray
    left: FloatArray
    posterior: FloatArray
    dirs: FloatArray
    radii: FloatArray
    weights: FloatArray
    wall_mm: float


@dataclass(slots=True)
class _Crop:
    """A float32 copy of the volume around one seed, with its index offset."""

    data: npt.NDArray[np.float32]
    offset: npt.NDArray[np.int64]
    to_index: FloatArray            # LPS mm (homogeneous) -> crop index
    painted: BoolArray              # voxels painted over (cement and its halo)


class RayBodySource:
    """Classical body finder: rays from the centre, robust closing, posterior-wall cut."""

    def __init__(self, params: RayParams | None = None) -> None:
        self.params = params or RayParams()

    def body_at(self, hu: npt.NDArray[np.int16], affine: FloatArray,
                seed: Sequence[float] | FloatArray, *, cement: BoolArray) -> Body | None:
        """The vertebral body around ``seed`` (a voxel index), or None when there is none.

        Parameters
        ----------
        hu : (slices, rows, columns) int16
            The CT volume, HU.
        affine : (4, 4) float
            Index to patient LPS, mm.
        seed : (3,) float
            Voxel index inside the body (a point of the cement in it).
        cement : (slices, rows, columns) bool
            Cement of the whole volume; it is painted over as trabecular bone so that
            its edges are not taken for a cortical wall.
        """
        p = self.params
        centre = (affine @ np.append(np.asarray(seed, dtype=np.float64), 1.0))[:3]
        superior = np.array([0.0, 0.0, 1.0])
        crop = _make_crop(hu, affine, centre, cement, p)
        inner, noise = marrow_level(crop, centre, p)
        surface: _Surface | None = None
        for it in range(p.iterations):
            # First from the seed (often at the cement's edge, near the shell): walls
            # beyond the paint only, to move the centre into the body; then both
            # candidates from a central point.
            surface = self._surface(crop, centre, superior, inner, noise, resolve=it > 0)
            if surface is None:
                return None
            offset, cov, _ = star_moments(surface.radii, surface.dirs, surface.weights)
            moved = float(np.linalg.norm(offset))
            if moved < 0.5 and it > 0:
                break
            centre = centre + offset
            superior = _superior_axis(cov)
        if surface is None:
            return None
        mask, box = _voxelize(surface, affine, hu.shape)
        body = _body_from_mask(mask, box, affine, hu.shape, surface)
        if body is None or not self._plausible(body, affine):
            return None
        if not _canal_behind(hu, affine, body, p):
            logger.debug("no spinal canal behind the body at %s", np.round(body.centre_mm, 1))
            return None
        return body

    def _surface(self, crop: _Crop, centre: FloatArray, superior: FloatArray,
                 inner: float, noise: float, *, resolve: bool = True) -> _Surface | None:
        """Rays from ``centre``: the body's radius in every direction, cut at the wall."""
        p = self.params
        left, posterior = _frame_axes(superior)
        dirs = _directions(p.polar_bins, p.azimuth_bins, superior, left, posterior)
        t = np.arange(0.0, p.max_radius_mm + 4.0, p.step_mm)
        prof, painted = _sample(crop, centre, dirs, t)
        voxel_mm = 1.0 / float(np.linalg.norm(crop.to_index[:3, :3], axis=1).min())
        hold = max(round(max(p.drop_hold_mm, 0.7 * voxel_mm) / p.step_mm), 1)
        exit_mm, paint_exit = exits(
            prof, painted, t, inner=inner, wall=inner + max(p.wall_rise_hu,
                                                            p.wall_rise_sigmas * noise),
            drop=inner - max(p.drop_hu, p.drop_sigmas * noise), hold=hold,
            floor_samples=max(round(2.5 / p.step_mm), 2), max_radius=p.max_radius_mm)
        shape = (p.polar_bins, p.azimuth_bins)
        exit_mm, paint_exit = exit_mm.reshape(shape), paint_exit.reshape(shape)
        if np.isfinite(exit_mm).mean() < p.min_valid_fraction:
            logger.debug("rays: only %.0f%% found a wall", 100 * np.isfinite(exit_mm).mean())
            return None
        radii = _resolve(exit_mm, paint_exit, p, voxel_mm) if resolve else exit_mm
        radii, kept = _repair(radii, p, voxel_mm)
        if kept < p.min_kept_fraction:
            logger.debug("rays: only %.0f%% agree with their neighbours", 100 * kept)
            return None
        wall = _posterior_wall(radii, p)
        along = dirs @ posterior
        with np.errstate(divide="ignore", invalid="ignore"):
            cut = np.where(along > 1e-6, wall / along, np.inf)
        radii = np.minimum(radii, cut)
        theta = (np.arange(p.polar_bins) + 0.5) * math.pi / p.polar_bins
        weights = np.repeat((np.sin(theta) * (math.pi / p.polar_bins)
                             * (2 * math.pi / p.azimuth_bins))[:, None], p.azimuth_bins, axis=1)
        return _Surface(centre=centre, superior=superior, left=left, posterior=posterior,
                        dirs=dirs, radii=radii, weights=weights, wall_mm=wall)

    def _plausible(self, body: Body, affine: FloatArray) -> bool:
        p = self.params
        volume_ml = body.voxel_count * abs(np.linalg.det(affine[:3, :3])) / 1000.0
        if not p.min_volume_ml <= volume_ml <= p.max_volume_ml:
            logger.debug("body of %.1f ml is implausible", volume_ml)
            return False
        return True


def _canal_behind(hu: npt.NDArray[np.int16], affine: FloatArray, body: Body,
                  p: RayParams) -> bool:
    """A vertebral body has the spinal canal (CSF, fat: darker than marrow) behind it."""
    inv = np.linalg.inv(affine)
    offsets = np.linspace(-3.0, 3.0, 4)
    depth = np.linspace(p.canal_probe_mm[0], p.canal_probe_mm[1], 5)
    pts = [body.centre_mm + (body.posterior_wall_mm + d) * body.posterior + u * body.left
           + v * body.superior for d in depth for u in offsets for v in offsets]
    idx = (np.asarray(pts) @ inv[:3, :3].T + inv[:3, 3]).T
    values = ndimage.map_coordinates(hu, idx, order=1, mode="constant", cval=-1000)
    marrow = hu[body.box][body.mask]
    return float(np.median(values)) < min(float(np.median(marrow)) - 30.0, p.canal_max_hu)


def _frame_axes(superior: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Left and posterior axes of the spec's body frame for a given superior axis."""
    left = np.array([1.0, 0.0, 0.0]) - superior[0] * superior
    left /= np.linalg.norm(left)
    posterior = np.cross(superior, left)
    return left, posterior


def _directions(n_pol: int, n_az: int, s: FloatArray, l_ax: FloatArray,
                a_ax: FloatArray) -> FloatArray:
    """(n_pol, n_az, 3) unit vectors; polar angle from superior, azimuth from left."""
    theta = (np.arange(n_pol) + 0.5) * math.pi / n_pol
    phi = np.arange(n_az) * 2 * math.pi / n_az
    st, ct = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    cp, sp = np.cos(phi)[None, :, None], np.sin(phi)[None, :, None]
    return np.asarray(st * (cp * l_ax + sp * a_ax) + ct * s, dtype=np.float64)


def _make_crop(hu: npt.NDArray[np.int16], affine: FloatArray, centre: FloatArray,
               cement: BoolArray, p: RayParams) -> _Crop:
    """Smoothed float32 sub-volume around the centre with cement painted as bone marrow."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    inv = np.linalg.inv(affine)
    c_idx = (inv @ np.append(centre, 1.0))[:3]
    half = np.ceil((p.max_radius_mm + 12.0) / spacing).astype(np.int64)
    lo = np.maximum(np.floor(c_idx).astype(np.int64) - half, 0)
    hi = np.minimum(np.floor(c_idx).astype(np.int64) + half + 1, np.asarray(hu.shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    data = hu[box].astype(np.float32)
    cem = cement[box]
    grown = np.zeros(cem.shape, dtype=bool)
    if cem.any():
        # At least one voxel: the halo of a blurred 3071 HU edge spans a voxel.
        radius = np.maximum(np.rint(p.inpaint_mm / spacing), 1).astype(int)
        grown = ndimage.binary_dilation(cem, structure=_ellipsoid(radius))
        shell = ndimage.binary_dilation(grown, structure=_ellipsoid(radius + 1)) & ~grown
        marrow = data[shell & (data > 50) & (data < 400)]
        fill = float(np.median(marrow)) if marrow.size > 20 else 120.0
        data[grown] = fill
    sigma = p.smooth_mm / spacing
    if np.any(sigma >= 0.3):
        data = ndimage.gaussian_filter(data, sigma=np.where(sigma >= 0.3, sigma, 0.0))
    shift = np.eye(4)
    shift[:3, 3] = -lo
    return _Crop(data=data, offset=lo, to_index=shift @ inv, painted=grown)


def _ellipsoid(radius: npt.NDArray[np.int64]) -> BoolArray:
    """Ellipsoidal structuring element with the given half-axes in voxels."""
    r = np.maximum(radius, 0)
    grids = np.ogrid[tuple(slice(-int(k), int(k) + 1) for k in r)]
    dist = sum((g / max(int(k), 1)) ** 2 for g, k in zip(grids, r, strict=True))
    return np.asarray(dist <= 1.0, dtype=bool)


def marrow_level(crop: _Crop, centre: FloatArray, p: RayParams) -> tuple[float, float]:
    """Median and spread (HU) of the bone marrow near the centre, cement excluded."""
    idx = (crop.to_index @ np.append(centre, 1.0))[:3]
    spacing = 1.0 / np.linalg.norm(crop.to_index[:3, :3], axis=1)
    half = np.maximum(np.rint(p.marrow_radius_mm / spacing), 1).astype(int)
    lo = np.maximum(np.rint(idx).astype(int) - half, 0)
    hi = np.minimum(np.rint(idx).astype(int) + half + 1, np.asarray(crop.data.shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    block = crop.data[box]
    keep = ~crop.painted[box] & (block > -200) & (block < 600)
    if np.count_nonzero(keep) < 20:
        return 150.0, 20.0
    # Fine-scale spread (noise and trabecular texture): differences of neighbours.
    diffs = [np.diff(block, axis=k)[np.take(keep, range(1, block.shape[k]), axis=k)
                                    & np.take(keep, range(block.shape[k] - 1), axis=k)]
             for k in range(3) if block.shape[k] > 1]
    diff = np.concatenate(diffs) if diffs else np.zeros(1)
    noise = 1.4826 * float(np.median(np.abs(diff))) / math.sqrt(2.0)
    return float(np.median(block[keep])), max(noise, 5.0)


def _sample(crop: _Crop, centre: FloatArray, dirs: FloatArray, t: FloatArray
            ) -> tuple[npt.NDArray[np.float32], BoolArray]:
    """HU and painted flag along every ray, (rays, samples)."""
    pts = centre[None, None, None, :] + t[None, None, :, None] * dirs[:, :, None, :]
    idx = (pts.reshape(-1, 3) @ crop.to_index[:3, :3].T + crop.to_index[:3, 3]).T
    n_rays = dirs.shape[0] * dirs.shape[1]
    prof = ndimage.map_coordinates(crop.data, idx, order=1, mode="constant", cval=np.nan)
    painted = ndimage.map_coordinates(crop.painted.view(np.uint8), idx, order=0,
                                      mode="constant", cval=0)
    return (prof.reshape(n_rays, t.size).astype(np.float32),
            painted.reshape(n_rays, t.size).astype(bool))


def _resolve(exit_mm: FloatArray, paint_exit: FloatArray, p: RayParams,
             voxel_mm: float) -> FloatArray:
    """One radius per ray where cement may have hidden the wall.

    Cement that fills the body up to its shell hides the shell (it is painted over), and
    the ray then runs on to the next wall (often the neighbour's endplate). A ray whose
    exit lies well beyond any paint saw the wall clearly ("clean"); the clean rays give
    the surface, smoothly interpolated across the others, and each other ray keeps the
    candidate nearest to it: the edge of the cement or the wall found beyond it.
    """
    has_paint = np.isfinite(paint_exit)
    if not has_paint.any():
        return exit_mm
    clean = np.isfinite(exit_mm) & (~has_paint | (paint_exit <= exit_mm - p.clean_gap_mm))
    close = has_paint & (exit_mm <= paint_exit + max(1.0, voxel_mm))
    settled = clean | close
    if settled.mean() < p.min_clean_fraction:
        return exit_mm
    base, kept = _repair(np.where(settled, exit_mm, np.nan), p, voxel_mm, fill=False)
    guess = harmonic_fill(base, kept & np.isfinite(base))
    if np.isnan(guess).any():
        return exit_mm
    open_rays = has_paint & ~settled
    use_paint = ~np.isfinite(exit_mm) | (np.abs(paint_exit - guess) <= np.abs(exit_mm - guess))
    return np.where(open_rays, np.where(use_paint, paint_exit, exit_mm), exit_mm)


def _superior_axis(cov: FloatArray) -> FloatArray:
    """The principal axis of the body closest to patient z, signed toward +z (spec)."""
    _, vectors = np.linalg.eigh(cov)
    axis = vectors[:, int(np.argmax(np.abs(vectors[2, :])))]
    return np.asarray(axis if axis[2] >= 0 else -axis, dtype=np.float64)


def _neighbourhood_median(radii: FloatArray, k_pol: int, k_az: int) -> FloatArray:
    """NaN-aware median over a (polar x azimuth) window, wrapping in azimuth."""
    padded = np.pad(radii, ((k_pol, k_pol), (0, 0)), mode="edge")
    padded = np.pad(padded, ((0, 0), (k_az, k_az)), mode="wrap")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * k_pol + 1, 2 * k_az + 1))
    flat = windows.reshape(radii.shape[0], radii.shape[1], -1)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(np.nanmedian(flat, axis=2), dtype=np.float64)


def _repair(radii: FloatArray, p: RayParams, voxel_mm: float, *, fill: bool = True
            ) -> tuple[FloatArray, BoolArray] | tuple[FloatArray, float]:
    """Replace rays that passed through a gap (or met a spurious spot) by their neighbours.

    With ``fill`` (default) returns the repaired radii, gaps filled smoothly, and the
    fraction of rays kept as measured; without, the radii (NaN where unknown) and the
    mask of rays kept.
    """
    r = radii.copy()
    kept = np.isfinite(r)
    for k_pol, k_az in ((2, 3), (3, 5), (4, 8)):
        med = _neighbourhood_median(np.where(kept, r, np.nan), k_pol, k_az)
        tol = np.maximum(max(p.outlier_mm, voxel_mm), p.outlier_fraction * med)
        bad = ~kept | (np.abs(r - med) > tol)
        kept &= ~bad
        r = np.where(bad, med, r)
    if not fill:
        return np.where(kept, r, np.nan), kept
    r = harmonic_fill(np.where(kept, r, np.nan), kept)
    if np.isnan(r).any():
        r = np.where(np.isnan(r), p.max_radius_mm / 2, r)
    # A last light smoothing of the kept surface: rays sample a noisy half-maximum.
    return _neighbourhood_median(r, 1, 1), float(kept.mean())


def _posterior_wall(radii: FloatArray, p: RayParams) -> float:
    """Distance of the posterior wall from the centre along the posterior axis, mm.

    A high percentile of the rays aimed straight back: the wall is concave at the
    midline, and the cut continues its posterolateral parts across the pedicle bases.
    """
    n_pol, n_az = radii.shape
    theta = (np.arange(n_pol) + 0.5) * math.pi / n_pol
    phi = np.arange(n_az) * 2 * math.pi / n_az
    sector = math.radians(p.posterior_sector_deg)
    az_sel = np.abs(np.angle(np.exp(1j * (phi - math.pi / 2)))) <= sector
    pol_sel = np.abs(theta - math.pi / 2) <= math.radians(35.0)
    proj = (radii * np.sin(theta)[:, None] * np.sin(phi)[None, :])[np.ix_(pol_sel, az_sel)]
    return float(np.percentile(proj, p.wall_percentile))


def _voxelize(surface: _Surface, affine: FloatArray, shape: tuple[int, ...]
              ) -> tuple[BoolArray, tuple[slice, slice, slice]]:
    """Voxels whose centre lies inside the star-shaped surface."""
    radii = surface.radii
    n_pol, n_az = radii.shape
    reach = float(radii.max()) + 1.0
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    inv = np.linalg.inv(affine)
    c_idx = (inv @ np.append(surface.centre, 1.0))[:3]
    half = np.ceil(reach / spacing).astype(np.int64) + 1
    lo = np.maximum(np.floor(c_idx).astype(np.int64) - half, 0)
    hi = np.minimum(np.floor(c_idx).astype(np.int64) + half + 2, np.asarray(shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    axes = [np.arange(a, b, dtype=np.float32) for a, b in zip(lo, hi, strict=True)]
    frame = np.stack([surface.left, surface.posterior, surface.superior]).astype(np.float32)
    # Frame coordinates of every voxel centre, built from the three index axes.
    m = (frame @ affine[:3, :3].astype(np.float32))            # (3 frame, 3 index)
    base = frame @ (affine[:3, 3] - surface.centre).astype(np.float32)
    coords = [base[f] + m[f, 0] * axes[0][:, None, None] + m[f, 1] * axes[1][None, :, None]
              + m[f, 2] * axes[2][None, None, :] for f in range(3)]
    lft, post, sup = coords
    dist = np.sqrt(lft * lft + post * post + sup * sup)
    inside = dist <= float(radii.min())
    shell = (dist > float(radii.min())) & (dist <= reach)
    d = dist[shell]
    theta = np.arccos(np.clip(sup[shell] / np.maximum(d, 1e-6), -1.0, 1.0))
    phi = np.mod(np.arctan2(post[shell], lft[shell]), 2 * math.pi)
    grid = np.pad(radii, ((1, 1), (0, 1)), mode="edge")
    grid[:, -1] = grid[:, 0]
    pol_i = theta / math.pi * n_pol - 0.5 + 1
    az_i = phi / (2 * math.pi) * n_az
    r_at = ndimage.map_coordinates(grid, np.stack([pol_i, az_i]), order=1, mode="nearest")
    inside[shell] = d <= r_at
    return inside, box  # type: ignore[return-value]


def _body_from_mask(mask: BoolArray, box: tuple[slice, slice, slice], affine: FloatArray,
                    shape: tuple[int, ...], surface: _Surface) -> Body | None:
    """The body record of a voxel mask: its own frame and where the wall cut lies."""
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
        mask = labels == (1 + int(np.argmax(sizes)))
    if np.count_nonzero(mask) < 8:
        return None
    shift = np.eye(4)
    shift[:3, 3] = [b.start for b in box]
    local = affine @ shift
    frame = body_frame(mask, local)
    wall_point = surface.centre + surface.wall_mm * surface.posterior
    wall_mm = float(np.dot(wall_point - frame.origin, frame.posterior))
    half_width = _extent_along(mask, local, frame.origin, frame.left)
    return Body(mask=mask, box=box, box_affine=local, centre_mm=frame.origin,
                superior=frame.superior, posterior=frame.posterior, left=frame.left,
                posterior_wall_mm=wall_mm, half_width_mm=half_width,
                touches_fov_edge=_touches_edge(mask, box, shape))


def _extent_along(mask: BoolArray, affine: FloatArray, origin: FloatArray,
                  axis: FloatArray) -> float:
    idx = np.argwhere(mask).astype(np.float64)
    proj = (idx @ affine[:3, :3].T + affine[:3, 3] - origin) @ axis
    return float(0.5 * (proj.max() - proj.min()))


def _touches_edge(mask: BoolArray, box: tuple[slice, slice, slice],
                  shape: tuple[int, ...]) -> bool:
    for axis, sl in enumerate(box):
        if sl.start == 0 and np.take(mask, 0, axis=axis).any():
            return True
        if sl.stop == shape[axis] and np.take(mask, -1, axis=axis).any():
            return True
    return False
