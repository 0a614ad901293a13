"""Ground truth of a phantom case: exact masks on the CT grid and the result record.

A case folder holds ``truth.json`` and ``truth_masks.npz``.

``truth_masks.npz`` (arrays on the analysable CT grid)
    ``affine`` : (4, 4) float64
        Maps (slice, row, column, 1) to patient LPS mm; axis 0 in the order of
        ``slice_sop_instance_uids``.
    ``slice_sop_instance_uids`` : (slices,) str
        SOP Instance UID of the CT image at each index along axis 0.
    ``body_labels`` : (slices, rows, columns) int16
        1..N marks every vertebral body (centrum only), cranial to caudal; 0 elsewhere.
    ``level_names`` : (N,) str
        Level of label ``i`` at index ``i - 1`` (``"T12"``, ``"L1"``, ...).
    ``cement`` : (slices, rows, columns) bool
        All cement (inside bodies and outside); metal is never cement.
    ``leak_sites`` : (slices, rows, columns) uint8
        0, or the ``LEAK_SITE_CODES`` of extravertebral cement: 1 disc, 2 canal,
        3 needle_tract, 4 paravertebral (known by construction).

A voxel belongs to a mask when its centre lies inside the object.

``truth.json``
    The result record of ``shared/spec/measurement.md`` (``SeriesResult.to_json()``) for
    the analysable series, computed by ``node.analysis.measure.measure_level`` on the
    exact masks, plus ``case_id``, ``family``, ``seed``, ``analysable_series_instance_uid``,
    ``skip_series`` (list of ``{"uid", "reason"}``) and ``expected_flags``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from node.analysis.measure import cement_in_body_ml, measure_level, voxel_volume_ml
from node.analysis.types import (
    LEAK_SITE_CODES,
    Extravertebral,
    Flag,
    LevelResult,
    Parameters,
    SeriesResult,
)

SOFTWARE = "vfnode-phantom-truth"


@dataclass(frozen=True, slots=True, eq=False)
class TruthMasks:
    """The exact masks of one case (see the module docstring for the format)."""

    affine: np.ndarray
    slice_sop_instance_uids: tuple[str, ...]
    body_labels: np.ndarray
    level_names: tuple[str, ...]
    cement: np.ndarray
    leak_sites: np.ndarray

    def __post_init__(self) -> None:
        shape = self.body_labels.shape
        for name in ("cement", "leak_sites"):
            if getattr(self, name).shape != shape:
                raise ValueError(f'"{name}" must have the shape {shape} of body_labels. '
                                 f"Found {getattr(self, name).shape}.")
        if len(self.slice_sop_instance_uids) != shape[0]:
            raise ValueError(f"One SOP Instance UID per slice is needed ({shape[0]}). "
                             f"Found {len(self.slice_sop_instance_uids)}.")
        if int(self.body_labels.max(initial=0)) > len(self.level_names):
            raise ValueError(f"Every body label needs a level name. Found labels up to "
                             f"{int(self.body_labels.max())} and {len(self.level_names)} names.")

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, affine=self.affine.astype(np.float64),
            slice_sop_instance_uids=np.array(self.slice_sop_instance_uids, dtype=str),
            body_labels=self.body_labels.astype(np.int16),
            level_names=np.array(self.level_names, dtype=str),
            cement=self.cement.astype(bool), leak_sites=self.leak_sites.astype(np.uint8))

    @classmethod
    def load(cls, path: Path) -> TruthMasks:
        with np.load(path) as data:
            uids = tuple(str(u) for u in data["slice_sop_instance_uids"])
            return cls(affine=data["affine"], slice_sop_instance_uids=uids,
                       body_labels=data["body_labels"],
                       level_names=tuple(str(n) for n in data["level_names"]),
                       cement=data["cement"], leak_sites=data["leak_sites"])


@dataclass(frozen=True, slots=True, eq=False)
class Truth:
    """``truth.json`` and ``truth_masks.npz`` of a case folder, loaded."""

    result: SeriesResult
    case_id: str
    family: str
    seed: int
    analysable_series_instance_uid: str
    skip_series: tuple[tuple[str, str], ...]
    expected_flags: tuple[Flag, ...]
    masks: TruthMasks
    raw: dict[str, Any]


def load_truth(case_dir: Path | str) -> Truth:
    """Load the ground truth of one case folder."""
    case = Path(case_dir)
    data = json.loads((case / "truth.json").read_text())
    return Truth(
        result=SeriesResult.from_json(data),
        case_id=str(data["case_id"]), family=str(data["family"]), seed=int(data["seed"]),
        analysable_series_instance_uid=str(data["analysable_series_instance_uid"]),
        skip_series=tuple((str(s["uid"]), str(s["reason"])) for s in data["skip_series"]),
        expected_flags=tuple(Flag(f) for f in data["expected_flags"]),
        masks=TruthMasks.load(case / "truth_masks.npz"),
        raw=data,
    )


def nearest_body_label(labels: np.ndarray, centroid_mm: tuple[float, float, float] | np.ndarray,
                       affine: np.ndarray, within_mm: float) -> int:
    """The body label whose centroid lies nearest ``centroid_mm`` (LPS), 0 when none lies
    within ``within_mm``."""
    best, best_d = 0, within_mm
    for lab in range(1, int(labels.max(initial=0)) + 1):
        idx = np.argwhere(labels == lab)
        if idx.size == 0:
            continue
        centre = idx.mean(axis=0) @ affine[:3, :3].T + affine[:3, 3]
        d = float(np.linalg.norm(centre - np.asarray(centroid_mm)))
        if d < best_d:
            best, best_d = lab, d
    return best


def _near_box(body: np.ndarray, spacing: np.ndarray, reach_mm: float
              ) -> tuple[slice, slice, slice]:
    idx = np.argwhere(body)
    pad = np.ceil(reach_mm / spacing).astype(int) + 1
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, body.shape)
    return (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))


def extravertebral(masks: TruthMasks, label: int, reach_mm: float) -> Extravertebral:
    """Cement outside every body within ``reach_mm`` of body ``label``, by site, ml."""
    spacing = np.linalg.norm(masks.affine[:3, :3], axis=0)
    body = masks.body_labels == label
    box = _near_box(body, spacing, reach_mm)
    outside = masks.cement[box] & (masks.body_labels[box] == 0)
    if not outside.any():
        return Extravertebral()
    distance = ndimage.distance_transform_edt(~body[box], sampling=spacing)
    near = outside & (distance <= reach_mm)
    voxel_ml = voxel_volume_ml(masks.affine)
    sites = masks.leak_sites[box][near]
    values = {site.value: float(np.count_nonzero(sites == code)) * voxel_ml
              for site, code in LEAK_SITE_CODES.items()}
    if np.count_nonzero(sites == 0):
        raise ValueError(f"Every extravertebral cement voxel needs a site code. Found "
                         f"{np.count_nonzero(sites == 0)} without one near label {label}.")
    return Extravertebral(**values)


def treated_labels(masks: TruthMasks, params: Parameters) -> list[int]:
    """Labels of the bodies holding at least ``min_cement_ml`` cement."""
    out = []
    for label in range(1, len(masks.level_names) + 1):
        body = masks.body_labels == label
        if body.any() and cement_in_body_ml(body, masks.cement, masks.affine) >= \
                params.min_cement_ml:
            out.append(label)
    return out


def compute_truth(masks: TruthMasks, *, study_uid: str, series_uid: str,
                  params: Parameters, metal: bool = False) -> SeriesResult:
    """The result record of the exact masks."""
    levels: list[LevelResult] = []
    for label in treated_labels(masks, params):
        body = masks.body_labels == label
        extra = extravertebral(masks, label, params.leak_search_mm)
        levels.append(measure_level(body, masks.cement, masks.affine, extravertebral=extra,
                                    params=params, level=masks.level_names[label - 1]))
    flags = expected_flags(masks, params, treated=[lv for lv in range(len(levels))],
                           metal=metal)
    return SeriesResult(study_instance_uid=study_uid, series_instance_uid=series_uid,
                        software_version=SOFTWARE, parameters=params, flags=tuple(flags),
                        levels=tuple(levels))


def expected_flags(masks: TruthMasks, params: Parameters, *, treated: list[int],
                   metal: bool) -> list[Flag]:
    """Flags the node should raise on this series."""
    flags = []
    if float(np.linalg.norm(masks.affine[:3, 0])) > params.coarse_slice_mm:
        flags.append(Flag.COARSE)
    if not treated:
        flags.append(Flag.NO_CEMENT_FOUND)
    for label in treated_labels(masks, params):
        body = masks.body_labels == label
        edges = (body[0].any() or body[-1].any() or body[:, 0].any() or body[:, -1].any()
                 or body[:, :, 0].any() or body[:, :, -1].any())
        if edges:
            flags.append(Flag.BODY_TOUCHES_FOV_EDGE)
            break
    if metal:
        flags.append(Flag.METAL_SUSPECTED)
    return flags
