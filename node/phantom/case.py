"""Write one phantom case folder: the study's series as DICOM files and the ground truth.

Layout of ``DIR``: ``ct/`` (the analysable thin axial bone series), ``localizer/``,
``reformat/`` (a thick soft-tissue axial reformat), sometimes ``reformat_coronal/``, then
``truth.json`` and ``truth_masks.npz`` (format: ``node.phantom.truth``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from node.analysis.types import Parameters
from node.phantom import imaging
from node.phantom.dicom import Patient, SeriesInfo, Storage, deterministic_uid, write_series
from node.phantom.generate import Scene, _rng, build_grid, build_scene, render_scene
from node.phantom.geometry import F64, Grid
from node.phantom.render import Canvas
from node.phantom.truth import TruthMasks, compute_truth

logger = logging.getLogger(__name__)

_STORAGE = {
    "unsigned": Storage(signed=False, intercept=-1024.0, bits_stored=12, pad_hu=-1024.0),
    "signed": Storage(signed=True, intercept=-1024.0, bits_stored=16, pad_hu=-3024.0),
    "signed0": Storage(signed=True, intercept=0.0, bits_stored=16, pad_hu=-2048.0),
}


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What was written, for logs and set indexes."""

    case_id: str
    family: str
    seed: int
    folder: Path
    seconds: float
    slices: int
    levels: int


def image_from(scene: Scene, grid: Grid, canvas: Canvas, rng: np.random.Generator
               ) -> np.ndarray:
    """The CT image (HU, float32) from the fine render: slice profile, streaks, noise."""
    hu = imaging.slice_profile(grid, canvas.hu)
    cement = imaging.per_slice(grid, canvas.cement)
    imaging.add_streaks(hu, cement, grid.pixel_mm, scene.scanner.streak_per_mm, rng)
    if canvas.metal.any():
        metal = imaging.per_slice(grid, canvas.metal)
        imaging.add_streaks(hu, metal, grid.pixel_mm, scene.scanner.streak_per_mm * 8, rng)
    imaging.add_noise(hu, scene.scanner.noise_hu, scene.scanner.noise_cutoff, rng)
    return imaging.finish(hu)


def truth_masks(scene: Scene, grid: Grid, canvas: Canvas, uids: list[str]) -> TruthMasks:
    c, k = grid.center_offset, grid.fine
    return TruthMasks(affine=grid.affine, slice_sop_instance_uids=tuple(uids),
                      body_labels=canvas.body_labels,
                      level_names=tuple(v.name for v in scene.spine),
                      cement=np.ascontiguousarray(canvas.cement[c::k]),
                      leak_sites=np.ascontiguousarray(canvas.leak_sites[c::k]))


def _series(scene: Scene, number: int, description: str, image_type: tuple[str, ...],
            kernel: str, thickness: float, window: tuple[float, float]) -> SeriesInfo:
    uid = deterministic_uid(scene.patient.study_uid, number, description)
    return SeriesInfo(series_uid=uid, number=number, description=description,
                      image_type=image_type, kernel=kernel, thickness_mm=thickness,
                      window=window)


def write_study(folder: Path, scene: Scene, grid: Grid, hu: np.ndarray, uids: list[str],
                rng: np.random.Generator) -> tuple[SeriesInfo, list[tuple[str, str]]]:
    """Write the analysable series and the ones the node must skip."""
    storage = _STORAGE[scene.design.storage]
    patient: Patient = scene.patient
    pad = imaging.outside_circle(*hu.shape[1:])
    ct = _series(scene, 3, f"Spine {grid.slice_mm:g}mm Bone", ("ORIGINAL", "PRIMARY", "AXIAL"),
                 "BONE", grid.slice_mm, (500.0, 2000.0))
    write_series(folder / "ct", hu, grid.affine, patient=patient, info=ct, storage=storage,
                 sop_uids=uids, pad_mask=pad, rng=rng)
    skipped: list[tuple[str, str]] = []
    loc_hu, loc_affine = imaging.localizer(hu, grid.affine)
    loc = _series(scene, 1, "Topogram", ("ORIGINAL", "PRIMARY", "LOCALIZER"), "STANDARD",
                  1.0, (0.0, 2000.0))
    write_series(folder / "localizer", loc_hu, loc_affine, patient=patient, info=loc,
                 storage=storage, sop_uids=[deterministic_uid(loc.series_uid, 0)],
                 pad_mask=None, rng=rng)
    skipped.append((loc.series_uid, "localizer"))
    thick, thick_affine = imaging.thick_reformat(hu, grid.affine, 5.0)
    spacing = float(np.linalg.norm(thick_affine[:3, 0]))
    ref = _series(scene, 4, f"Abdomen {spacing:g}mm ST", ("DERIVED", "SECONDARY", "AXIAL"),
                  "STANDARD", spacing, (40.0, 400.0))
    write_series(folder / "reformat", thick, thick_affine, patient=patient, info=ref,
                 storage=storage, sop_uids=[deterministic_uid(ref.series_uid, i)
                                            for i in range(len(thick))],
                 pad_mask=pad, rng=rng)
    skipped.append((ref.series_uid, f"slice thickness {spacing:g} mm above 3 mm"))
    if scene.design.coronal_reformat:
        skipped.append(_coronal(folder, scene, grid, hu, storage, rng))
    return ct, skipped


def _coronal(folder: Path, scene: Scene, grid: Grid, hu: np.ndarray, storage: Storage,
             rng: np.random.Generator) -> tuple[str, str]:
    """A 3 mm coronal bone reformat (rows along the slice axis): not an axial series."""
    group = max(1, round(3.0 / grid.pixel_mm))
    n = hu.shape[1] // group
    slabs = hu[:, :n * group].reshape(hu.shape[0], n, group, hu.shape[2]).mean(axis=2)
    volume = np.ascontiguousarray(np.transpose(slabs, (1, 0, 2)))
    a = grid.affine
    affine: F64 = np.eye(4)
    affine[:3, 0] = a[:3, 1] * group
    affine[:3, 1] = a[:3, 0]
    affine[:3, 2] = a[:3, 2]
    affine[:3, 3] = a[:3, 3] + a[:3, 1] * (group - 1) / 2
    info = _series(scene, 5, "Spine COR 3mm", ("DERIVED", "SECONDARY", "REFORMATTED"),
                   "BONE", 3.0, (500.0, 2000.0))
    write_series(folder / "reformat_coronal", volume.astype(np.float32), affine,
                 patient=scene.patient, info=info, storage=storage,
                 sop_uids=[deterministic_uid(info.series_uid, i) for i in range(n)],
                 pad_mask=None, rng=rng)
    return info.series_uid, "not an axial series (coronal reformat)"


def write_case(folder: Path, family: str, seed: int, *, small: bool = False,
               case_id: str = "", params: Parameters | None = None,
               overrides: tuple[tuple[str, Any], ...] = ()) -> CaseSummary:
    """Generate one case into ``folder`` (created) and return a summary."""
    start = time.perf_counter()
    params = params or Parameters()
    cid = case_id or f"{family}-{seed}"
    scene = build_scene(family, seed, small=small, case_id=cid, overrides=overrides)
    rng = _rng(family, seed + 1_000_003)
    grid = build_grid(scene, rng)
    canvas = render_scene(scene, grid, rng)
    hu = image_from(scene, grid, canvas, rng)
    ct_uid = deterministic_uid(scene.patient.study_uid, "ct-series")
    uids = [deterministic_uid(ct_uid, i) for i in range(grid.shape[0])]
    masks = truth_masks(scene, grid, canvas, uids)
    del canvas
    folder.mkdir(parents=True, exist_ok=True)
    ct, skipped = write_study(folder, scene, grid, hu, uids, rng)
    result = compute_truth(masks, study_uid=scene.patient.study_uid, series_uid=ct.series_uid,
                           params=params, metal=bool(scene.screws))
    record = result.to_json()
    record.update(case_id=cid, family=family, seed=seed,
                  analysable_series_instance_uid=ct.series_uid,
                  skip_series=[{"uid": u, "reason": r} for u, r in skipped],
                  expected_flags=record["flags"])
    (folder / "truth.json").write_text(json.dumps(record, indent=2) + "\n")
    masks.save(folder / "truth_masks.npz")
    seconds = time.perf_counter() - start
    logger.info("phantom case=%s family=%s seed=%d slices=%d levels=%d seconds=%.1f", cid,
                family, seed, grid.shape[0], len(result.levels), seconds)
    return CaseSummary(case_id=cid, family=family, seed=seed, folder=folder, seconds=seconds,
                       slices=grid.shape[0], levels=len(result.levels))
