"""Phantom cases (node.phantom) as Analysis records built from their exact truth masks.

The result writers are tested on the phantom's ground truth, so these tests do not
depend on the state of the analysis engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from scipy import ndimage

from node.analysis.types import Analysis
from node.phantom.case import write_case
from node.phantom.truth import load_truth, treated_labels


def analysis_from_truth(case: Path, *, reach_mm: float = 20.0) -> Analysis:
    """The case's exact masks and record as an Analysis (treated bodies relabelled 1..n)."""
    truth = load_truth(case)
    masks, params = truth.masks, truth.result.parameters
    bodies = np.zeros_like(masks.body_labels)
    extra = np.zeros_like(masks.body_labels)
    spacing = np.linalg.norm(masks.affine[:3, :3], axis=0)
    outside = masks.cement & (masks.body_labels == 0)
    for new, label in enumerate(treated_labels(masks, params), start=1):
        body = masks.body_labels == label
        bodies[body] = new
        near = ndimage.distance_transform_edt(~body, sampling=spacing) <= reach_mm
        extra[outside & near & (extra == 0)] = new
    return Analysis(result=truth.result, affine=masks.affine,
                    slice_sop_instance_uids=masks.slice_sop_instance_uids, body_labels=bodies,
                    cement=masks.cement, extravertebral_labels=extra,
                    leak_sites=masks.leak_sites)


def phantom_case(folder: Path, family: str, seed: int = 3, *, small: bool = True
                 ) -> tuple[Analysis, list[pydicom.Dataset]]:
    """Generate one phantom case into ``folder``: its truth Analysis and its CT datasets."""
    write_case(folder, family, seed, small=small)
    sources = [pydicom.dcmread(p) for p in sorted((folder / "ct").glob("*"))]
    return analysis_from_truth(folder), sources
