"""The naive baseline: threshold at ``bone_hu_min``, fill holes, take the component with
the cement.

This is what the phantoms must defeat (issue 3): it has no notion of the body's outer
surface, so it counts the posterior elements (and neighbours joined through facets or
bridging cement) in the body, and it loses the parts of a body whose thin cortical shell
falls below the threshold after partial volume. It exists to measure how hard the phantom
set is, never to report results.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.measure import measure_level, voxel_volume_ml
from node.analysis.types import Extravertebral, Flag, LevelResult, Parameters, SeriesResult

SOFTWARE = "vfnode-naive-baseline"


def naive_masks(hu: npt.NDArray[np.floating], params: Parameters
                ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """Components of the hole-filled bone mask, and the cement mask.

    Holes are filled slice by slice along axis 0 (the acquisition plane), as a reader
    would with a 2-D fill tool.
    """
    bone = hu >= params.bone_hu_min
    filled = np.empty_like(bone)
    for k in range(bone.shape[0]):
        filled[k] = ndimage.binary_fill_holes(bone[k])
    labels, _ = ndimage.label(filled)
    return labels.astype(np.int32), hu >= params.cement_hu_min


def naive_baseline(hu: npt.NDArray[np.floating], affine: npt.NDArray[np.float64], *,
                   params: Parameters, study_uid: str = "", series_uid: str = ""
                   ) -> SeriesResult:
    """The naive result record of one HU volume.

    Parameters
    ----------
    hu : (slices, rows, columns) float
        Hounsfield units.
    affine : (4, 4) float
        Maps (slice, row, column, 1) to patient LPS, mm.
    params : Parameters
        Thresholds (bone, cement, minimum cement, cut-off).
    """
    labels, cement = naive_masks(hu, params)
    voxel_ml = voxel_volume_ml(affine)
    counts = np.bincount(labels[cement], minlength=int(labels.max()) + 1)
    counts[0] = 0
    chosen = [int(c) for c in np.nonzero(counts * voxel_ml >= params.min_cement_ml)[0]]
    levels: list[LevelResult] = []
    for comp in chosen:
        body = labels == comp
        levels.append(measure_level(body, cement, affine, extravertebral=Extravertebral(),
                                    params=params, level=None))
    levels.sort(key=lambda lv: -lv.centroid_mm[2])
    flags = () if levels else (Flag.NO_CEMENT_FOUND,)
    return SeriesResult(study_instance_uid=study_uid, series_instance_uid=series_uid,
                        software_version=SOFTWARE, parameters=params, flags=flags,
                        levels=tuple(levels))
