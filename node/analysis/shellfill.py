"""Vertebral body by closing and filling its cortical shell, axial slice by axial slice.

The body (spec: the centrum enclosed by the outer surface of its cortical shell and its
endplates) is found from a point inside it (the cement):

1. bone = voxels clearly brighter than this body's marrow (cortex, endplates) or cement;
2. in each axial slice the thin shell, broken by partial volume, is closed (a disc of
   ``close_mm``) and its holes filled: marrow and cement inside the ring are the interior;
   the canal is filled too where the neural arch closes around it;
3. the interior connected to the seed (slices of a disc hold no ring, so the interior
   stops at the endplates and never reaches the neighbouring vertebra);
4. the cut toward the pedicles: the interior's posterior extent along the midline is the
   inner face of the posterior wall; the plane through it, moved out by the wall's
   thickness, continues the wall across the pedicle bases;
5. the body = the filled shell within ``shell_mm`` of the interior, in front of the cut.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.bodies import Body, BoolArray, FloatArray, body_from_mask, plausible

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShellParams:
    """Anatomical sizes (mm) and contrasts (HU) of the shell-filling body finder."""

    half_extent_mm: tuple[float, float, float] = (38.0, 45.0, 45.0)  # slice, row, column
    smooth_mm: float = 0.5
    close_mm: float = 1.5             # bridges partial-volume gaps in the shell
    marrow_radius_mm: float = 8.0
    wall_rise_hu: float = 60.0        # bone is this much brighter than marrow...
    wall_rise_sigmas: float = 3.0     # ...and stands out of its texture and noise
    min_bone_hu: float = 150.0
    shell_mm: float = 2.0             # cortex added around the interior
    wall_mm: float = 1.0              # posterior wall thickness beyond its inner face
    midline_fraction: float = 0.25
    canal_depth_mm: float = 6.0
    cut_slab_mm: float = 10.0         # slices around the seed that locate the wall
    bridge_mm: float = 2.0
    # Tilt beyond which slices follow the body's own axis (resampled). 90 = never: on the
    # dev set the structure-tensor axis was not yet reliable enough to help.
    resample_deg: float = 90.0
    resample_mm: float = 0.6
    canal_contrast_hu: float = 20.0   # the canal (CSF, fat) is darker than marrow
    min_depth_mm: float = 12.0        # the wall lies at least this far behind the front
    min_volume_ml: float = 4.0
    max_volume_ml: float = 120.0
    min_height_mm: float = 8.0
    max_height_mm: float = 50.0


class ShellBodySource:
    """Classical body finder: close and fill the shell per slice, cut at the posterior wall."""

    def __init__(self, params: ShellParams | None = None) -> None:
        self.params = params or ShellParams()

    def body_at(self, hu: npt.NDArray[np.int16], affine: FloatArray,
                seed: Sequence[float] | FloatArray, *, cement: BoolArray) -> Body | None:
        """The vertebral body holding ``seed`` (voxel index), or None when there is none.

        The slices are taken perpendicular to the body's own axis: when the vertebra is
        tilted against the acquisition (lordosis, kyphosis, gantry tilt), the box around
        the seed is first resampled onto a grid aligned with the body.
        """
        p = self.params
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        seed = np.asarray(seed, dtype=np.float64)
        box = _box_around(seed, spacing, hu.shape, p.half_extent_mm)
        local = _shifted(affine, box)
        raw = hu[box].astype(np.float32)
        cem = cement[box]
        seed_local = seed - [b.start for b in box]
        superior = _body_axis(raw, cem, seed_local, local, spacing)
        left, posterior = _frame_axes(superior)
        normal = local[:3, 0] / spacing[0]
        if abs(float(np.dot(normal, superior))) >= math.cos(math.radians(p.resample_deg)):
            superior = normal if normal[2] >= 0 else -normal
            left, posterior = _frame_axes(superior)
            found = self._segment(raw, cem, np.rint(seed_local).astype(int), local, spacing,
                                  posterior)
            if found is None:
                return None
            mask, cut, origin = found
        else:
            step = max(float(spacing.min()), p.resample_mm)
            grid = _frame_grid(local @ np.append(seed_local, 1.0), superior, posterior, left,
                               step, p.half_extent_mm)
            to_local = np.linalg.inv(local) @ grid.affine
            data_r = _resample(raw, to_local, grid.shape, order=1, cval=-1000.0)
            cem_r = _resample(cem.astype(np.float32), to_local, grid.shape, order=1) >= 0.5
            found = self._segment(data_r, cem_r, grid.centre, grid.affine,
                                  np.full(3, step), posterior)
            if found is None:
                return None
            mask_r, cut, origin = found
            back = np.linalg.inv(grid.affine) @ local
            mask = _resample(mask_r.astype(np.float32), back, raw.shape, order=1) >= 0.5
        largest = _largest(mask)
        if largest is None:
            return None
        body = body_from_mask(largest, box, local, hu.shape,
                              wall_point_mm=origin + cut * posterior)
        return body if self._plausible(body, affine) else None

    def _segment(self, raw: npt.NDArray[np.float32], cem: BoolArray,
                 seed_local: npt.NDArray[np.int64], local: FloatArray, spacing: FloatArray,
                 posterior: FloatArray) -> tuple[BoolArray, float, FloatArray] | None:
        """Body mask on a grid whose axis 0 runs along the body; the wall cut and origin."""
        p = self.params
        sigma = p.smooth_mm / spacing
        data = ndimage.gaussian_filter(raw, sigma=np.where(sigma >= 0.3, sigma, 0.0))
        seed_local = np.clip(seed_local, 0, np.asarray(data.shape) - 1)
        inner, noise = _marrow(data, cem, seed_local, spacing, p)
        level = max(inner + max(p.wall_rise_hu, p.wall_rise_sigmas * noise), p.min_bone_hu)
        bone = (data >= level) | cem
        filled, _ = _fill_slices(bone, cem, spacing, p.close_mm)
        core = _component_at(filled, seed_local, cem)
        if core is None:
            logger.debug("no enclosed interior around the seed")
            return None
        near = _near_slices(core, seed_local[0], p.cut_slab_mm / spacing[0])
        found = _posterior_cut(data, near, local, posterior, level, inner, p)
        if found is None:
            logger.debug("no spinal canal behind the body")
            return None
        cut, origin = found
        in_front = _in_front(core.shape, local, origin, posterior, cut)
        mask = _component_at(filled & in_front, seed_local, cem)
        if mask is None:
            return None
        mask = _without_bridges(mask, seed_local, spacing, p.bridge_mm)
        if mask is None:
            logger.debug("the seed is not deep inside a body")
            return None
        return _hull_slices(mask, in_front), cut, origin

    def _plausible(self, body: Body, affine: FloatArray) -> bool:
        p = self.params
        return plausible(body, affine, volume_ml=(p.min_volume_ml, p.max_volume_ml),
                         height_mm=(p.min_height_mm, p.max_height_mm))


@dataclass(frozen=True, slots=True, eq=False)
class _Grid:
    shape: tuple[int, int, int]
    affine: FloatArray
    centre: npt.NDArray[np.int64]


def _frame_axes(superior: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Left and posterior axes of the spec's body frame for a superior axis."""
    left = np.array([1.0, 0.0, 0.0]) - superior[0] * superior
    left /= np.linalg.norm(left)
    return left, np.cross(superior, left)


def _frame_grid(centre_mm: FloatArray, superior: FloatArray, posterior: FloatArray,
                left: FloatArray, step: float, half_mm: tuple[float, float, float]) -> _Grid:
    """An isotropic grid around ``centre_mm``: axis 0 superior, 1 posterior, 2 left."""
    half = np.ceil(np.asarray(half_mm) / step).astype(int)
    shape = tuple(int(2 * h + 1) for h in half)
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = superior * step, posterior * step, left * step
    affine[:3, 3] = centre_mm[:3] - affine[:3, :3] @ half
    return _Grid(shape=shape, affine=affine, centre=half.astype(np.int64))  # type: ignore[arg-type]


def _resample(data: npt.NDArray[np.float32], to_src: FloatArray, shape: tuple[int, ...], *,
              order: int, cval: float = 0.0) -> npt.NDArray[np.float32]:
    """``data`` sampled on a grid of ``shape`` whose indices map to ``data``'s by ``to_src``."""
    idx = np.indices(shape, dtype=np.float32).reshape(3, -1)
    src = to_src[:3, :3].astype(np.float32) @ idx + to_src[:3, 3:4].astype(np.float32)
    out = ndimage.map_coordinates(data, src, order=order, mode="constant", cval=cval)
    return np.asarray(out.reshape(shape), dtype=np.float32)


def _body_axis(raw: npt.NDArray[np.float32], cem: BoolArray, seed: FloatArray,
               affine: FloatArray, spacing: FloatArray) -> FloatArray:
    """The body's superior axis (LPS) from the structure tensor of its walls.

    Walls and endplates are the strong edges around the seed (cement set to marrow so
    its edges do not count); the axis is the tensor's eigenvector nearest patient z.
    """
    data = np.clip(raw, -200.0, 700.0)
    near_cement = ndimage.binary_dilation(cem, iterations=2)
    if near_cement.any():
        data[near_cement] = float(np.median(data[~near_cement])) if (~near_cement).any() else 0
    data = ndimage.gaussian_filter(data, sigma=1.0 / spacing)
    grads = np.gradient(data, *spacing)
    units = affine[:3, :3] / spacing
    idx = np.indices(data.shape, dtype=np.float32)
    dist2 = sum(((idx[k] - seed[k]) * spacing[k]) ** 2 for k in range(3))
    region = dist2 <= 25.0 ** 2
    g = np.stack([grads[k][region] for k in range(3)])          # index-axis derivatives
    g_lps = units @ g
    strength = np.linalg.norm(g_lps, axis=0)
    strong = strength >= np.percentile(strength, 80)
    tensor = (g_lps[:, strong] @ g_lps[:, strong].T)
    _, vectors = np.linalg.eigh(tensor)
    axis = vectors[:, int(np.argmax(np.abs(vectors[2, :])))]
    return np.asarray(axis if axis[2] >= 0 else -axis, dtype=np.float64)


def _box_around(seed: FloatArray, spacing: FloatArray, shape: tuple[int, ...],
                half_mm: tuple[float, float, float]) -> tuple[slice, slice, slice]:
    half = np.ceil(np.asarray(half_mm) / spacing).astype(int)
    centre = np.rint(seed).astype(int)
    lo = np.maximum(centre - half, 0)
    hi = np.minimum(centre + half + 1, np.asarray(shape))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def _shifted(affine: FloatArray, box: tuple[slice, slice, slice]) -> FloatArray:
    shift = np.eye(4)
    shift[:3, 3] = [b.start for b in box]
    return np.asarray(affine @ shift, dtype=np.float64)


def _marrow(data: npt.NDArray[np.float32], cem: BoolArray, seed: npt.NDArray[np.int64],
            spacing: FloatArray, p: ShellParams) -> tuple[float, float]:
    """Median and fine-scale spread (HU) of the marrow near the seed, cement excluded."""
    half = np.maximum(np.rint(p.marrow_radius_mm / spacing), 1).astype(int)
    lo = np.maximum(seed - half, 0)
    hi = np.minimum(seed + half + 1, np.asarray(data.shape))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    block = data[sl]
    near_cement = ndimage.binary_dilation(cem[sl], iterations=2)
    keep = ~near_cement & (block > -200) & (block < 600)
    if np.count_nonzero(keep) < 20:
        return 150.0, 20.0
    diffs = []
    for k in range(3):
        if block.shape[k] < 2:
            continue
        a = np.take(block, range(1, block.shape[k]), axis=k)
        b = np.take(block, range(block.shape[k] - 1), axis=k)
        both = np.take(keep, range(1, block.shape[k]), axis=k) & np.take(
            keep, range(block.shape[k] - 1), axis=k)
        diffs.append((a - b)[both])
    diff = np.concatenate(diffs) if diffs else np.zeros(1)
    noise = 1.4826 * float(np.median(np.abs(diff))) / math.sqrt(2.0)
    return float(np.median(block[keep])), max(noise, 5.0)


def _disk(radius_px: FloatArray) -> BoolArray:
    """In-plane elliptical disc (1, rows, columns) with the given radii in pixels."""
    ry, rx = (max(math.floor(r), 1) for r in radius_px)
    y, x = np.ogrid[-ry:ry + 1, -rx:rx + 1]
    disk = (y / max(radius_px[0], 1e-6)) ** 2 + (x / max(radius_px[1], 1e-6)) ** 2 <= 1.0
    return np.asarray(disk[None, :, :], dtype=bool)


def _fill_slices(bone: BoolArray, cem: BoolArray, spacing: FloatArray, close_mm: float
                 ) -> tuple[BoolArray, BoolArray]:
    """Per axial slice: the closed shell with its holes filled, and the interior.

    The interior is what the closed shell encloses (marrow) plus the cement inside it.
    """
    radius = close_mm / spacing[1:]
    disk = _disk(radius)
    pad = (0, 0), (disk.shape[1], disk.shape[1]), (disk.shape[2], disk.shape[2])
    closed = ndimage.binary_closing(np.pad(bone, pad), structure=disk)
    closed = closed[:, pad[1][0]:-pad[1][1], pad[2][0]:-pad[2][1]]
    plane = np.zeros((3, 3, 3), dtype=bool)
    plane[1] = ndimage.generate_binary_structure(2, 1)
    # Empty slices above and below keep each slice's holes to itself.
    filled = ndimage.binary_fill_holes(np.pad(closed, ((1, 1), (0, 0), (0, 0))),
                                       structure=plane)[1:-1]
    interior = (filled & ~closed) | (filled & cem)
    return filled, interior


def _component_at(interior: BoolArray, seed: npt.NDArray[np.int64], cem: BoolArray
                  ) -> BoolArray | None:
    """The interior component holding the seed (or the cement piece the seed is in)."""
    labels, n = ndimage.label(interior)
    if n == 0:
        return None
    lab = int(labels[tuple(np.clip(seed, 0, np.asarray(interior.shape) - 1))])
    if lab == 0:
        piece, _ = ndimage.label(cem)
        at = int(piece[tuple(seed)]) if cem[tuple(seed)] else 0
        if at == 0:
            return None
        hits = np.bincount(labels[piece == at], minlength=n + 1)
        hits[0] = 0
        if hits.max() == 0:
            return None
        lab = int(np.argmax(hits))
    return np.asarray(labels == lab, dtype=bool)


def _coords(shape: tuple[int, ...], affine: FloatArray, origin: FloatArray,
            axis: FloatArray) -> npt.NDArray[np.float32]:
    """Signed distance (mm) of every voxel centre from ``origin`` along ``axis``."""
    m = (axis @ affine[:3, :3]).astype(np.float32)
    base = np.float32(axis @ (affine[:3, 3] - origin))
    k, r, c = (np.arange(n, dtype=np.float32) for n in shape)
    return np.asarray(base + m[0] * k[:, None, None] + m[1] * r[None, :, None]
                      + m[2] * c[None, None, :], dtype=np.float32)


def _posterior_cut(data: npt.NDArray[np.float32], core: BoolArray, affine: FloatArray,
                   posterior: FloatArray, bone_hu: float, inner: float, p: ShellParams
                   ) -> tuple[float, FloatArray] | None:
    """Outer face of the posterior wall: (mm along ``posterior`` from the returned origin).

    On each slice of the body, walking back along the body's midline from its front, the
    wall is the end of the first bone run, at least ``min_depth_mm`` behind the front,
    that is followed by the canal: a run of ``canal_depth_mm`` without bone whose mean is
    darker than marrow (CSF, epidural fat) or that lasts twice as long. The exit is the
    half-level between the wall's crest and the canal. The median over slices is the cut;
    the origin is the front of the body on the central slice.
    """
    idx = np.argwhere(core)
    inv = np.linalg.inv(affine)
    d_idx = inv[:3, :3] @ posterior
    step_mm = 0.25
    t = np.arange(0.0, 90.0, step_mm)
    need = max(round(p.canal_depth_mm / step_mm), 2)
    first_ok = round(p.min_depth_mm / step_mm)
    walls: list[float] = []
    k_mid = int(np.median(idx[:, 0]))
    origin_idx: FloatArray | None = None
    for k in range(int(idx[:, 0].min()), int(idx[:, 0].max()) + 1):
        sl = idx[idx[:, 0] == k]
        if len(sl) < 20:
            continue
        start = np.array([k, float(sl[:, 1].min()), float(np.median(sl[:, 2]))])
        pts = start[:, None] + d_idx[:, None] * t[None, :]
        pts[0] = k
        vals = ndimage.map_coordinates(data, pts, order=1, mode="constant", cval=np.nan)
        edge = _wall_edge(vals, bone_hu, inner, need, first_ok, p.canal_contrast_hu)
        if edge is None:
            continue
        if origin_idx is None or k == k_mid:
            origin_idx = start
        wall_idx = start + d_idx * t[edge]
        walls.append(float((affine[:3, :3] @ wall_idx + affine[:3, 3]) @ posterior))
    if len(walls) < 3 or origin_idx is None:
        return None
    origin = affine[:3, :3] @ origin_idx + affine[:3, 3]
    return float(np.median(walls)) - float(origin @ posterior), origin


def _wall_edge(vals: npt.NDArray[np.floating], bone_hu: float, inner: float, need: int,
               first_ok: int, contrast: float) -> int | None:
    """Sample index of the posterior wall's outer face on one midline profile."""
    finite = np.isfinite(vals)
    bone = finite & (vals >= bone_hu)
    ends = np.flatnonzero(bone[:-1] & ~bone[1:]) + 1
    for end in (int(e) for e in ends):
        if end < first_ok:
            continue
        gap = vals[end:end + 2 * need]
        gap_bone = bone[end:end + 2 * need]
        if gap.size < need or gap_bone[:need].any() or not finite[end:end + need].all():
            continue
        long_gap = gap.size >= 2 * need and not gap_bone.any()
        if float(np.mean(gap[:need])) < inner - contrast or long_gap:
            back = max(end - need, 0)
            crest = back + int(np.nanargmax(vals[back:end]))
            level = 0.5 * (float(vals[crest]) + float(np.median(gap[:need])))
            below = np.flatnonzero(vals[crest:end + 1] < level)
            return crest + int(below[0]) if below.size else int(end)
    return None


def _hull_slices(mask: BoolArray, allowed: BoolArray) -> BoolArray:
    """Each slice of the body replaced by its convex hull (within ``allowed``).

    Where partial volume or a streak breaks the thin shell, filling leaves the marrow
    behind the gap out; the cross-section of a vertebral body is convex but for a
    shallow posterior concavity, which the wall cut removes.
    """
    from skimage.morphology import convex_hull_image

    out = mask.copy()
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        sl = mask[k]
        rows = np.flatnonzero(sl.any(axis=1))
        cols = np.flatnonzero(sl.any(axis=0))
        if rows.size < 3 or cols.size < 3:
            continue
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        hull = convex_hull_image(sl[r0:r1, c0:c1])
        out[k, r0:r1, c0:c1] |= hull & allowed[k, r0:r1, c0:c1]
    return out


def _near_slices(core: BoolArray, k0: int, half: float) -> BoolArray:
    """``core`` restricted to the slices within ``half`` of slice ``k0``."""
    out = np.zeros_like(core)
    lo, hi = max(int(k0 - half), 0), min(int(k0 + half) + 1, core.shape[0])
    out[lo:hi] = core[lo:hi]
    return out


def _without_bridges(mask: BoolArray, seed: npt.NDArray[np.int64], spacing: FloatArray,
                     bridge_mm: float) -> BoolArray | None:
    """Cut thin bridges (cement through a disc, touching processes) to other vertebrae.

    The body is what survives an erosion by ``bridge_mm`` around the seed, grown back by
    the same distance inside the original mask.
    """
    idx = np.argwhere(mask)
    pad = np.ceil((bridge_mm + 1.0) / spacing).astype(int) + 1
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, np.asarray(mask.shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    sub = mask[box]
    depth = ndimage.distance_transform_edt(sub, sampling=spacing)
    labels, n = ndimage.label(depth > bridge_mm)
    if n == 0:
        return None
    at = int(labels[tuple(np.asarray(seed) - lo)]) if np.all(seed >= lo) and np.all(
        seed < hi) else 0
    if at == 0:
        # The seed (deep in its cement) lies in a thin part: cement in a disc or outside
        # the bodies, not the inside of a vertebral body.
        return None
    grown = ndimage.distance_transform_edt(labels != at, sampling=spacing) <= bridge_mm + 0.5
    out = np.zeros_like(mask)
    out[box] = grown & sub
    return out


def _in_front(shape: tuple[int, ...], affine: FloatArray, origin: FloatArray,
              posterior: FloatArray, limit: float) -> BoolArray:
    return np.asarray(_coords(shape, affine, origin, posterior) <= limit, dtype=bool)


def _with_shell(filled: BoolArray, core: BoolArray, spacing: FloatArray,
                shell_mm: float) -> BoolArray:
    """The filled shell within ``shell_mm`` of the interior: interior plus its cortex."""
    lo = np.maximum(np.argwhere(core).min(axis=0) - np.ceil(shell_mm / spacing).astype(int)
                    - 1, 0)
    hi = np.minimum(np.argwhere(core).max(axis=0) + np.ceil(shell_mm / spacing).astype(int)
                    + 2, np.asarray(core.shape))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    dist = ndimage.distance_transform_edt(~core[sl], sampling=spacing)
    out = np.zeros(core.shape, dtype=bool)
    out[sl] = (dist <= shell_mm) & filled[sl]
    out |= core
    return out


def _largest(mask: BoolArray) -> BoolArray | None:
    labels, n = ndimage.label(mask)
    if n == 0:
        return None
    if n == 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(np.argmax(sizes)), dtype=bool)
