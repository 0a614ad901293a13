"""Rendering the scene onto the fine grid: HU with partial volume, and the exact masks.

Painter's order: soft tissues, discs, ribs, vertebrae (posterior elements, then bodies),
cement and metal. Each structure is evaluated only inside its own box, in slabs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from node.phantom._shapes import (
    B8,
    F32,
    FourierField,
    bandpass_noise,
    capsule,
    occupancy,
    smooth_min,
)
from node.phantom.anatomy import Vertebra
from node.phantom.cement import CementPlan, Leak, Part
from node.phantom.geometry import (
    Box,
    Grid,
    box_around,
    intersect,
    local_box_corners,
    local_coords,
    slabs,
    within,
)
from node.phantom.torso import Torso, render_torso_slice


@dataclass(frozen=True, slots=True)
class Style:
    """Imaging and tissue choices of one case."""

    psf_mm: float
    disc_hu: float
    gas_discs: tuple[int, ...]        # indices of discs (below vertebra i) with vacuum gas
    cleft: bool                        # intravertebral gas cleft in fractured bodies
    sclerosis_hu: float


@dataclass(slots=True)
class Canvas:
    """The fine-grid HU volume and the masks being built."""

    grid: Grid
    hu: F32
    body_labels: np.ndarray                 # CT grid, int16
    cement: B8                              # fine grid
    metal: B8                               # fine grid
    leak_sites: np.ndarray                  # fine grid, uint8
    notes: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, grid: Grid) -> Canvas:
        return cls(grid=grid, hu=np.full(grid.fine_shape, -1000.0, dtype=np.float32),
                   body_labels=np.zeros(grid.shape, dtype=np.int16),
                   cement=np.zeros(grid.fine_shape, dtype=bool),
                   metal=np.zeros(grid.fine_shape, dtype=bool),
                   leak_sites=np.zeros(grid.fine_shape, dtype=np.uint8))

    def center_rows(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """(positions within ``box`` along axis 0, CT slice indices) of central sub-slices."""
        j = np.arange(box.lo[0], box.hi[0])
        keep = (j % self.grid.fine) == self.grid.center_offset
        return np.nonzero(keep)[0], j[keep] // self.grid.fine


def render_torso(canvas: Canvas, torso: Torso) -> None:
    """Soft tissues, copied to every sub-slice. They vary slowly along z, so they are
    computed about every 2.5 mm and interpolated linearly in between."""
    grid = canvas.grid
    a = grid.affine
    rows = np.arange(grid.shape[1], dtype=np.float32)[:, None]
    cols = np.arange(grid.shape[2], dtype=np.float32)[None, :]
    base = [rows * np.float32(a[k, 1]) + cols * np.float32(a[k, 2]) + np.float32(a[k, 3])
            for k in range(3)]
    sigma = grid.sigma_mm(0.6)
    n = grid.shape[0]
    stride = max(1, int(2.5 / grid.slice_mm))
    keys = sorted(set(range(0, n, stride)) | {n - 1})
    previous: tuple[int, F32] | None = None
    for i in keys:
        x, y, z = (base[k] + np.float32(a[k, 0] * i) for k in range(3))
        hu = render_torso_slice(torso, x, y, z, sigma)
        if previous is not None:
            j0, hu0 = previous
            for j in range(j0 + 1, i):
                w = np.float32((j - j0) / (i - j0))
                canvas.hu[j * grid.fine:(j + 1) * grid.fine] = (hu0 * (1 - w) + hu * w)[None]
        canvas.hu[i * grid.fine:(i + 1) * grid.fine] = hu[None]
        previous = (i, hu)


def _paint(target: F32, frac: F32, value: F32 | float) -> None:
    target *= np.float32(1.0) - frac
    target += frac * value


def render_discs(canvas: Canvas, spine: list[Vertebra], style: Style,
                 rng: np.random.Generator) -> None:
    """Intervertebral discs between consecutive bodies, some with vacuum gas."""
    sigma = canvas.grid.sigma_mm(style.psf_mm)
    for i in range(len(spine) - 1):
        up, low = spine[i], spine[i + 1]
        ext = np.array(up.body.extent) * np.array([1.1, 1.1, 0.0])
        lo = np.array([-ext[0], -ext[1], -up.body.h_post / 2 - 16.0])
        hi = np.array([ext[0], ext[1], -up.body.h_post / 2 + 4.0])
        box = box_around(canvas.grid, local_box_corners(up.center, up.rotation, lo, hi))
        if box.empty:
            continue
        gas_field = FourierField.random(rng, wavelength_mm=(4, 12), modes=8)
        for part in slabs(box):
            qu = local_coords(canvas.grid, part, up.center, up.rotation)
            ql = local_coords(canvas.grid, part, low.center, low.rotation)
            dr_u, _, db_u, rho_u = up.body.sdf_parts(qu)
            dr_l, dt_l, _, _ = low.body.sdf_parts(ql)
            radial = (dr_u + dr_l) * np.float32(0.5) - np.float32(1.5)   # a slight bulge
            frac = occupancy(radial, sigma) * occupancy(-db_u, sigma) * occupancy(-dt_l, sigma)
            _paint(canvas.hu[part.slices], frac, style.disc_hu)
            if i in style.gas_discs:
                gas = occupancy(np.float32(0.9) - gas_field(qu), 0.15)
                gas *= frac * occupancy(rho_u - np.float32(0.65), 0.05)
                _paint(canvas.hu[part.slices], gas, -900.0)


def _capsule_boxes(grid: Grid, v: Vertebra, margin: float) -> list[tuple[tuple, Box]]:
    out = []
    for cap in v.posterior.pedicles + v.posterior.others:
        pts = np.array(cap[:2])
        pad = cap[2] * max(cap[3], 1.0) + margin
        corners = local_box_corners(v.center, v.rotation, pts.min(axis=0) - pad,
                                    pts.max(axis=0) + pad)
        out.append((cap, box_around(grid, corners)))
    return out


def _posterior_sdf(grid: Grid, part: Box, v: Vertebra, caps: list[tuple[tuple, Box]]) -> F32:
    """Distance to the posterior elements on ``part``; exact within the capsules' margins,
    a positive 10 mm elsewhere (far outside, where only "outside" matters)."""
    out = np.full(part.shape, 10.0, dtype=np.float32)
    for (a, b, r, zs), cbox in caps:
        sub = intersect(part, cbox)
        if sub.empty:
            continue
        q = local_coords(grid, sub, v.center, v.rotation)
        view = out[within(sub, part)]
        view[...] = smooth_min(view, capsule(q, a, b, r, zs), 2.0)
    return out


def render_vertebra(canvas: Canvas, v: Vertebra, label: int, style: Style,
                    rng: np.random.Generator) -> None:
    """Posterior elements and body of ``v``; writes its body label on central sub-slices."""
    grid = canvas.grid
    lo, hi = v.bounds()
    box = box_around(grid, local_box_corners(v.center, v.rotation, lo, hi))
    if box.empty:
        return
    sigma = grid.sigma_mm(style.psf_mm)
    caps = _capsule_boxes(grid, v, 3.0 + 2 * sigma + v.posterior.shell_mm)
    blo, bhi = v.body_bounds()
    body_box = intersect(box, box_around(grid, local_box_corners(v.center, v.rotation, blo, bhi)))
    grain = 0.55 / np.array([grid.fine_slice_mm, grid.pixel_mm, grid.pixel_mm])
    texture = bandpass_noise(box.shape, tuple(grain), rng) * np.float32(rng.uniform(22, 40))
    shell_field = FourierField.random(rng, wavelength_mm=(6, 22), modes=8)
    for part in slabs(box):
        tex = texture[within(part, box)]
        hu = canvas.hu[part.slices]
        d_pe = _posterior_sdf(grid, part, v, caps)
        outer_p = occupancy(d_pe, sigma)
        inner_p = occupancy(d_pe + np.float32(v.posterior.shell_mm), sigma)
        _paint(hu, outer_p - inner_p, v.cortical_hu + 150.0)
        _paint(hu, inner_p, np.float32(v.trabecular_hu + 120.0) + tex)
        sub = intersect(part, body_box)
        if not sub.empty:
            view = within(sub, part)
            _render_body(canvas, v, sub, hu[view], tex[view], inner_p[view], style, sigma,
                         shell_field, label)


def _render_body(canvas: Canvas, v: Vertebra, sub: Box, hu: F32, tex: F32, inner_p: F32,
                 style: Style, sigma: float, shell_field: FourierField, label: int) -> None:
    """The body: trabecular core, cortical shell (open where a pedicle joins), label."""
    q = local_coords(canvas.grid, sub, v.center, v.rotation)
    d_r, d_t, d_b, _ = v.body.sdf_parts(q)
    wall = np.clip(np.float32(v.body.shell_mm) * (1 + np.float32(0.55) * shell_field(q)),
                   0.08, 1.6)
    plate = np.float32(v.body.endplate_mm)
    fracture = v.body.wedge > 0.05
    if fracture:  # a fracture line through the front half breaks the cortex
        line = np.abs(q[2] - np.float32(v.body.h_post * 0.15)) < 1.2
        wall = np.where(line & (q[1] < 0), np.float32(0.05), wall)
    outer = occupancy(d_r, sigma) * occupancy(d_t, sigma) * occupancy(d_b, sigma)
    inner = (occupancy(d_r + wall, sigma) * occupancy(d_t + plate, sigma)
             * occupancy(d_b + plate, sigma))
    shell = (outer - inner) * (np.float32(1.0) - inner_p)
    trab: F32 = np.float32(v.trabecular_hu) + tex
    if fracture:  # condensed trabeculae under the collapsed endplate
        trab = trab + np.float32(style.sclerosis_hu) * np.exp(-(d_t / np.float32(3.0)) ** 2)
        if style.cleft:
            cleft = occupancy(capsule(q, (-v.body.a * 0.4, -v.body.b * 0.3, 2.0),
                                      (v.body.a * 0.4, -v.body.b * 0.2, 2.0), 2.5, 0.6), sigma)
            trab = trab * (1 - cleft) + np.float32(-700.0) * cleft
    total = inner + shell
    _paint(hu, total, (inner * trab + shell * np.float32(v.cortical_hu))
           / np.maximum(total, np.float32(1e-6)))
    pos, ct_slices = canvas.center_rows(sub)
    if len(pos):
        inside = (d_r[pos] <= 0) & (d_t[pos] <= 0) & (d_b[pos] <= 0)
        rows, cols = slice(sub.lo[1], sub.hi[1]), slice(sub.lo[2], sub.hi[2])
        target = canvas.body_labels[ct_slices, rows, cols]
        target[inside] = label
        canvas.body_labels[ct_slices, rows, cols] = target


def render_tubes(canvas: Canvas, segments: list[Part], *, shell_mm: float, cortex_hu: float,
                 marrow_hu: float, psf_mm: float, z_scale: float = 1.0) -> None:
    """Bony tubes in patient coordinates (ribs): cortex around marrow."""
    sigma = canvas.grid.sigma_mm(psf_mm)
    eye, zero = np.eye(3), np.zeros(3)
    for seg in segments:
        assert seg.b is not None
        lo, hi = seg.bounds()
        pad = seg.radius * z_scale
        box = box_around(canvas.grid, local_box_corners(zero, eye, lo - pad, hi + pad))
        if box.empty:
            continue
        for part in slabs(box):
            q = local_coords(canvas.grid, part, zero, eye)
            d = capsule(q, seg.a, seg.b, seg.radius, z_scale)
            outer, inner = occupancy(d, sigma), occupancy(d + np.float32(shell_mm), sigma)
            hu = canvas.hu[part.slices]
            _paint(hu, outer - inner, cortex_hu)
            _paint(hu, inner, marrow_hu)


def _within(v: Vertebra, canvas: Canvas, lo: np.ndarray, hi: np.ndarray) -> Box:
    return box_around(canvas.grid, local_box_corners(v.center, v.rotation, lo, hi))


def render_cement(canvas: Canvas, spine: list[Vertebra], plan: CementPlan) -> float:
    """Mark the cement of ``plan`` on the fine grid; returns the threshold ``tau`` used."""
    v = spine[plan.vertebra]
    lo, hi = v.body_bounds()
    box = _within(v, canvas, lo, hi)
    q = local_coords(canvas.grid, box, v.center, v.rotation)
    d_r, d_t, d_b, _ = v.body.sdf_parts(q)
    d_body = np.maximum(np.maximum(d_r, d_t), d_b)
    phi = plan.phi(q)
    eligible = d_body < np.float32(-0.3)
    pos, _ = canvas.center_rows(box)
    n_body = int(np.count_nonzero(d_body[pos] <= 0))
    values = np.sort(phi[pos][eligible[pos]])
    want = round(plan.vf_target * n_body)
    tau = float(values[max(0, len(values) - want)]) if want > 0 and len(values) else np.inf
    canvas.cement[box.slices] |= eligible & (phi >= np.float32(tau))
    for leak in plan.leaks:
        _render_leak(canvas, spine, plan.vertebra, leak)
    return tau


def _render_leak(canvas: Canvas, spine: list[Vertebra], index: int, leak: Leak) -> None:
    """Mark one extravertebral shape, clipped to its site's region, with its site code."""
    from node.analysis.types import LeakSite

    v = spine[index]
    lo, hi = leak.bounds()
    box = _within(v, canvas, lo, hi)
    if box.empty:
        return
    q = local_coords(canvas.grid, box, v.center, v.rotation)
    mask = leak.sdf(q) < 0
    outside_prisms = np.ones(mask.shape, dtype=bool)
    for k in range(max(0, index - 1), min(len(spine), index + 2)):
        other = spine[k]
        qk = local_coords(canvas.grid, box, other.center, other.rotation)
        d_r, d_t, d_b, _ = other.body.sdf_parts(qk)
        mask &= np.maximum(np.maximum(d_r, d_t), d_b) > 0
        outside_prisms &= d_r > 0.5
    d_r, _, _, _ = v.body.sdf_parts(q)
    d_ped = v.posterior.pedicle_sdf(q)
    canal = v.posterior.in_canal(q)
    if leak.site is LeakSite.DISC:
        mask &= d_r < -0.5
    elif leak.site is LeakSite.CANAL:
        mask &= canal & (d_r > 0.5) & (d_ped > 0.3)
    elif leak.site is LeakSite.NEEDLE_TRACT:
        mask &= d_ped < -0.3
    else:
        mask &= outside_prisms & ~canal & (d_ped > 0.5)
    canvas.cement[box.slices] |= mask
    sites = canvas.leak_sites[box.slices]
    sites[mask] = leak.code


def render_metal(canvas: Canvas, v: Vertebra, parts: list[Part]) -> None:
    """Mark metal (screws) on the fine grid."""
    for seg in parts:
        lo, hi = seg.bounds()
        box = _within(v, canvas, lo, hi)
        if box.empty:
            continue
        q = local_coords(canvas.grid, box, v.center, v.rotation)
        canvas.metal[box.slices] |= seg.sdf(q) < 0


def paint_dense(canvas: Canvas, psf_mm: float, cement_hu: float, rng: np.random.Generator
                ) -> None:
    """Paint cement and metal into the HU volume with the scanner blur."""
    grid = canvas.grid
    sigma = (psf_mm / grid.fine_slice_mm, psf_mm / grid.pixel_mm, psf_mm / grid.pixel_mm)
    for mask, value, texture in ((canvas.cement, cement_hu, 180.0), (canvas.metal, 9000.0, 0.0)):
        box = _mask_box(mask, pad=6)
        if box is None:
            continue
        frac = ndimage.gaussian_filter(mask[box.slices].astype(np.float32), sigma)
        level: F32 | float = float(value)
        if texture:
            level = level + bandpass_noise(box.shape, (1.5, 2.0, 2.0), rng) * np.float32(texture)
        _paint(canvas.hu[box.slices], frac, level)


def _mask_box(mask: B8, pad: int) -> Box | None:
    spans = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hit = np.nonzero(mask.any(axis=others))[0]
        if len(hit) == 0:
            return None
        spans.append((max(0, int(hit[0]) - pad), min(mask.shape[axis], int(hit[-1]) + pad + 1)))
    return Box(lo=(spans[0][0], spans[1][0], spans[2][0]), hi=(spans[0][1], spans[1][1],
                                                               spans[2][1]))
