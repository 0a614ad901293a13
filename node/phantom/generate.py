"""One phantom case from a family and a seed: scene, grid, rendering, truth, files."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from node.analysis.select import MIN_SLICES
from node.phantom import imaging, leaks
from node.phantom.anatomy import Vertebra
from node.phantom.cement import (
    CementPlan,
    FourierField,
    Leak,
    Part,
    needle_tips,
    random_walk_blobs,
    screw_parts,
)
from node.phantom.dicom import (
    Patient,
    deterministic_uid,
    today_like,
)
from node.phantom.families import Design, sample_design
from node.phantom.geometry import F64, Grid
from node.phantom.render import (
    Canvas,
    Style,
    paint_dense,
    render_cement,
    render_discs,
    render_metal,
    render_torso,
    render_tubes,
    render_vertebra,
)
from node.phantom.ribs import rib_segments
from node.phantom.spine import SpineSpec, build_spine, choose_levels, rotation_xyz
from node.phantom.torso import Torso, sample_torso

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything placed in patient space."""

    design: Design
    spine: list[Vertebra]
    torso: Torso
    plans: list[CementPlan]
    screws: list[Part]
    screw_vertebra: int
    patient: Patient
    style: Style
    scanner: imaging.Scanner


def _rng(family: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(family.encode())])


def _leaks_for(rng: np.random.Generator, v: Vertebra, sites: tuple[str, ...],
               needles: list[tuple[F64, F64, F64]], extra_tract: bool
               ) -> tuple[list[Leak], list[F64]]:
    makers = {"disc": leaks.disc_leak, "paravertebral": leaks.paravertebral_leak,
              "venous": leaks.venous_leak, "canal": leaks.canal_leak}
    out: list[Leak] = []
    breaches: list[F64] = []
    for site in sites:
        if site in makers:
            leak, breach = makers[site](rng, v)
            out.append(leak)
            breaches.append(breach)
    if "needle_tract" in sites or extra_tract:
        for entry, direction, _ in needles:
            out.append(leaks.needle_tract(rng, entry, direction))
    return out, breaches


def _plan(rng: np.random.Generator, spine: list[Vertebra], index: int, design: Design,
          sites: tuple[str, ...], bipedicular: bool) -> CementPlan:
    v = spine[index]
    needles = needle_tips(rng, v, bipedicular)
    blobs = list(random_walk_blobs(rng, v, [tip for _, _, tip in needles]))
    found, breaches = _leaks_for(rng, v, sites, needles, design.extra_tract)
    for breach in breaches:   # cement reaches the breach, so the leak is connected
        blobs.append(((float(breach[0]), float(breach[1]), float(breach[2])), 3.5, 1.6))
    inside = []
    for entry, direction, tip in needles:
        wall = entry + direction * (np.linalg.norm(entry[:2]) - v.body.b * 0.9)
        inside.append(Part(a=(float(wall[0]), float(wall[1]), float(wall[2])),
                           b=(float(tip[0]), float(tip[1]), float(tip[2])),
                           radius=float(rng.uniform(1.0, 1.6))))
    return CementPlan(
        vertebra=index, vf_target=float(rng.uniform(0.08, 0.45)), blobs=tuple(blobs),
        tract_inside=tuple(inside),
        coarse=FourierField.random(rng, wavelength_mm=(12, 30), modes=10),
        fine=FourierField.random(rng, wavelength_mm=(2.5, 6), modes=12),
        leaks=tuple(found), hu=float(rng.uniform(2400, 3600)))


def build_scene(family: str, seed: int, *, small: bool = False, case_id: str = "",
                overrides: tuple[tuple[str, Any], ...] = ()) -> Scene:
    """Draw every random choice of the case (``overrides`` force design fields)."""
    rng = _rng(family, seed)
    design = replace(sample_design(family, rng, small=small), **dict(overrides))
    positions = design.treated or (design.fractured,)
    levels = choose_levels(rng, design.n_vertebrae, positions,
                           thoracic_bias=design.thoracic_bias)
    wedges = [0.0] * design.n_vertebrae
    for pos in positions:
        wedges[pos] = float(rng.uniform(0.10, 0.33))
    sex = "F" if rng.uniform() < 0.65 else "M"
    size = float(rng.uniform(1.48, 1.68) if sex == "F" else rng.uniform(1.60, 1.82))
    scale = size / 1.65 * float(rng.uniform(0.95, 1.05))
    spine = build_spine(SpineSpec(levels=levels, wedges=tuple(wedges), scale=scale,
                                  trabecular_hu=float(rng.uniform(60, 180))), rng)
    torso = sample_torso(rng, spine, scale)
    plans = []
    for k, index in enumerate(design.treated):
        sites = design.leak_sites if k == 0 else ()
        plans.append(_plan(rng, spine, index, design, sites, design.bipedicular[k]))
    screws = screw_parts(rng, spine[design.fractured]) if family == "screws" else []
    cid = case_id or f"{family}-{seed}"
    patient = Patient(
        name=f"PHANTOM^{cid}", patient_id=f"PH{zlib.crc32(cid.encode()):08d}"[:12], sex=sex,
        age=int(rng.integers(58, 90)), weight_kg=float(rng.uniform(42, 95)), size_m=size,
        accession=f"A{seed:07d}{zlib.crc32(family.encode()) % 1000:03d}",
        study_uid=deterministic_uid(cid, seed, "study"),
        frame_uid=deterministic_uid(cid, seed, "frame"), study_date=today_like(rng),
        position="FFS" if design.feet_first else "HFS")
    style = Style(psf_mm=float(rng.uniform(0.35, 0.65)), disc_hu=float(rng.uniform(70, 110)),
                  gas_discs=tuple(i for i in range(len(spine) - 1) if rng.uniform() < 0.3),
                  cleft=bool(rng.uniform() < 0.3), sclerosis_hu=float(rng.uniform(60, 200)))
    scanner = imaging.Scanner(noise_hu=float(rng.uniform(8, 30)),
                              noise_cutoff=float(rng.uniform(0.5, 0.9)),
                              streak_per_mm=float(rng.uniform(1.5, 4.0)))
    return Scene(design=design, spine=spine, torso=torso, plans=plans, screws=screws,
                 screw_vertebra=design.fractured, patient=patient, style=style,
                 scanner=scanner)


def build_grid(scene: Scene, rng: np.random.Generator) -> Grid:
    """The CT grid: FOV, slice range along the (possibly oblique) normal, slice order."""
    d = scene.design
    rot = rotation_xyz(*np.deg2rad(d.oblique_deg))
    row_dir, col_dir, normal = rot[:, 0], rot[:, 1], rot[:, 2]
    top, bottom = scene.spine[0], scene.spine[-1]
    z_hi = top.center @ normal + top.body.h_post * rng.uniform(-0.3, 0.6)
    z_lo = bottom.center @ normal - bottom.body.h_post * rng.uniform(-0.3, 0.6)
    n = int(np.ceil((z_hi - z_lo) / d.slice_mm)) + 1
    if n < MIN_SLICES:
        # Three small thoracic vertebrae on thick slices may span fewer images than a
        # series needs; the scan then reaches further along the spine.
        widen = (MIN_SLICES - n) * d.slice_mm / 2
        z_hi, z_lo, n = z_hi + widen, z_lo - widen, MIN_SLICES
    middle = np.mean([v.center for v in scene.spine], axis=0)
    if d.pixel_mm * d.matrix < 260:     # a targeted spine FOV
        focus = middle + np.array([rng.normal(0, 6), 18 + rng.normal(0, 8), 0])
    else:                               # the whole body in the FOV
        focus = middle + np.array([rng.normal(0, 10), scene.torso.posterior_mm
                                   - scene.torso.semi_y + rng.normal(0, 10), 0])
    half = (d.matrix - 1) / 2 * d.pixel_mm
    start_z = z_lo if d.feet_first else z_hi
    step = normal * d.slice_mm * (1 if d.feet_first else -1)
    origin = focus - row_dir * half - col_dir * half
    origin = origin + normal * (start_z - origin @ normal)
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = step, col_dir * d.pixel_mm, row_dir * d.pixel_mm
    affine[:3, 3] = origin
    fine = max(1, int(np.ceil(d.slice_mm / 0.65)))
    fine += 1 - fine % 2
    return Grid(shape=(n, d.matrix, d.matrix), affine=affine, fine=fine)


def render_scene(scene: Scene, grid: Grid, rng: np.random.Generator) -> Canvas:
    """Paint the scene and build the exact masks."""
    canvas = Canvas.empty(grid)
    render_torso(canvas, scene.torso)
    render_discs(canvas, scene.spine, scene.style, rng)
    render_tubes(canvas, rib_segments(rng, scene.spine, scene.torso), shell_mm=1.0,
                 cortex_hu=float(rng.uniform(700, 1100)), marrow_hu=float(rng.uniform(120, 250)),
                 psf_mm=scene.style.psf_mm, z_scale=1.8)
    for label, v in enumerate(scene.spine, start=1):
        render_vertebra(canvas, v, label, scene.style, rng)
    for plan in scene.plans:
        render_cement(canvas, scene.spine, plan)
    if scene.screws:
        render_metal(canvas, scene.spine[scene.screw_vertebra], scene.screws)
    cement_hu = scene.plans[0].hu if scene.plans else 2800.0
    paint_dense(canvas, scene.style.psf_mm, cement_hu, rng)
    return canvas
