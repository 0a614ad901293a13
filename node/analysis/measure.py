"""From masks to the numbers of one treated vertebra (spec: "Numbers")."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.analysis.frame import body_frame
from node.analysis.score import distribution_score
from node.analysis.types import Extravertebral, LevelResult, Parameters


def voxel_volume_ml(affine: npt.NDArray[np.float64]) -> float:
    """Volume of one voxel of the grid, ml."""
    return float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0


def measure_level(
    body_mask: npt.NDArray[np.bool_],
    cement_mask: npt.NDArray[np.bool_],
    affine: npt.NDArray[np.float64],
    *,
    extravertebral: Extravertebral,
    params: Parameters,
    level: str | None = None,
    silhouette_mask: npt.NDArray[np.bool_] | None = None,
    min_cross_section: float = 0.0,
) -> LevelResult:
    """Measure one vertebral body and the cement in and around it.

    Parameters
    ----------
    body_mask : (slices, rows, columns) bool
        The vertebral body (centrum) of this vertebra.
    cement_mask : (slices, rows, columns) bool
        All cement of the series; only the part inside ``body_mask`` is CDV.
    affine : (4, 4) float
        Maps array indices to patient LPS, mm.
    extravertebral : Extravertebral
        Cement outside every body near this one, by location, ml.
    params : Parameters
        Thresholds (cut-off, zone fill fraction, leak minimum).
    level : str | None
        Anatomical level when it can be named.
    silhouette_mask : (slices, rows, columns) bool, optional
        The cement as the score's projections see it (``CementFinding.silhouette``);
        ``cement_mask`` when not given.
    min_cross_section : float
        The axial score leaves out slices whose body cross-section is smaller than
        this fraction of the widest (``distribution_score``; 0.0, the spec, scores all).
    """
    voxel_ml = voxel_volume_ml(affine)
    vbv = float(np.count_nonzero(body_mask)) * voxel_ml
    if vbv <= 0:
        raise ValueError("The body mask is empty: a treated level needs a vertebral body.")
    cdv = float(np.count_nonzero(body_mask & cement_mask)) * voxel_ml
    vf = 100.0 * cdv / vbv
    frame = body_frame(body_mask, affine)
    score = distribution_score(body_mask, cement_mask, affine, frame,
                               zone_fill_fraction=params.zone_fill_fraction,
                               silhouette_mask=silhouette_mask,
                               min_cross_section=min_cross_section)
    x, y, z = (float(c) for c in frame.origin)
    return LevelResult(
        level=level,
        centroid_mm=(x, y, z),
        vbv_ml=vbv,
        cdv_ml=cdv,
        vf_pct=vf,
        extensive_expected=vf >= params.vf_cutoff_pct,
        extravertebral_ml=extravertebral,
        leakage=extravertebral.outside_needle_tract() >= params.leak_min_ml,
        score=score,
    )


def cement_in_body_ml(body_mask: npt.NDArray[np.bool_], cement_mask: npt.NDArray[np.bool_],
                      affine: npt.NDArray[np.float64]) -> float:
    """CDV of one body, ml: decides whether the vertebra counts as treated."""
    return float(np.count_nonzero(body_mask & cement_mask)) * voxel_volume_ml(affine)
