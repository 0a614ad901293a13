"""Which series of a study to analyse, and why the others are skipped.

The rule (also in ``docs/accuracy.md``):

1. A series is a candidate only when it is CT (CT Image Storage or Enhanced CT), not a
   localizer/scout (ImageType), axial (slice normal within 30 degrees of patient z) and
   holds at least ``min_slices`` images. Dose reports, secondary captures, structured
   reports, presentation states and every other object are skipped with their reason.
2. Among candidates the thinnest slices win (the slice spacing from the positions, else
   SliceThickness); within 0.01 mm, a bone (sharp) kernel beats a soft one; then the series
   with more slices; then the lowest series number, for a stable choice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from node.analysis.volume import (
    CT_IMAGE_STORAGE,
    ENHANCED_CT_IMAGE_STORAGE,
    MAX_AXIAL_TILT_DEG,
    is_axial,
    slice_normal,
)

logger = logging.getLogger(__name__)

MIN_SLICES = 20
# Kernel names that mean a sharp (bone) reconstruction on the major vendors' scanners.
BONE_KERNEL_HINTS = ("BONE", "SHARP", "B6", "B7", "B8", "H6", "H7", "BR6", "BR7", "BR8",
                     "YB", "YC", "FC30", "FC31", "FC35", "FC8", "EDGE")
BONE_DESCRIPTION_HINTS = ("BONE", "KNOCHEN", "OSS", "SPINE", "SHARP")


@dataclass(frozen=True, slots=True)
class Selection:
    """The series chosen for analysis and the reasons the others were skipped.

    Attributes
    ----------
    chosen : str | None
        SeriesInstanceUID of the series to analyse, None when no series qualifies.
    skipped : list of (str, str)
        (SeriesInstanceUID, reason) of every other series.
    datasets : list of Dataset
        The images of the chosen series.
    """

    chosen: str | None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    datasets: list[Dataset] = field(default_factory=list)


def group_by_series(datasets: Iterable[Dataset]) -> dict[str, list[Dataset]]:
    """Datasets grouped by SeriesInstanceUID, in first-seen order."""
    groups: dict[str, list[Dataset]] = {}
    for ds in datasets:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    return groups


def select_series(datasets: Iterable[Dataset], *, min_slices: int = MIN_SLICES) -> Selection:
    """Choose the series to analyse among all images of a study (see the module rule).

    Parameters
    ----------
    datasets : iterable of pydicom Dataset
        Every instance received for the study (pixel data need not be loaded).
    min_slices : int
        Fewest images a candidate series must hold.
    """
    groups = group_by_series(datasets)
    skipped: list[tuple[str, str]] = []
    candidates: list[tuple[tuple[float, int, int, int], str]] = []
    for uid, items in groups.items():
        reason = unusable_reason(items, min_slices=min_slices)
        if reason:
            skipped.append((uid, reason))
            continue
        candidates.append((_rank(items), uid))
    if not candidates:
        for uid, reason in skipped:
            logger.info("series skipped series=%s reason=%s", uid, reason)
        return Selection(chosen=None, skipped=skipped)
    candidates.sort()
    best_rank, best = candidates[0]
    for rank, uid in candidates[1:]:
        skipped.append((uid, _why_not(rank, best_rank)))
    for uid, reason in skipped:
        logger.info("series skipped series=%s reason=%s", uid, reason)
    return Selection(chosen=best, skipped=skipped, datasets=groups[best])


def unusable_reason(items: Sequence[Dataset], *, min_slices: int = MIN_SLICES) -> str:
    """Why a series cannot be analysed, or "" when it is a candidate."""
    first = items[0]
    sop = str(first.get("SOPClassUID", ""))
    modality = str(first.get("Modality", ""))
    if modality != "CT":
        return f'not CT (Modality "{modality}")'
    if sop not in (CT_IMAGE_STORAGE, ENHANCED_CT_IMAGE_STORAGE):
        return f"not a CT image (SOP Class {sop}: dose report, secondary capture or other)"
    image_type = [str(v).upper() for v in first.get("ImageType", [])]
    if any(v in ("LOCALIZER", "SCOUT", "TOPOGRAM") for v in image_type):
        return "localizer (ImageType " + "\\".join(image_type) + ")"
    frames = int(first.get("NumberOfFrames", 1) or 1)
    n = frames if sop == ENHANCED_CT_IMAGE_STORAGE else len(items)
    if sop == CT_IMAGE_STORAGE and not is_axial(first):
        return f"not axial (slice normal more than {MAX_AXIAL_TILT_DEG:g} degrees from z)"
    if n < min_slices:
        return f"too few slices ({n} < {min_slices})"
    return ""


def slice_spacing_mm(items: Sequence[Dataset]) -> float:
    """Distance between neighbouring slices from their positions, else SliceThickness."""
    if len(items) >= 2 and all("ImagePositionPatient" in ds for ds in items):
        normal = slice_normal(items[0])
        heights = np.sort([float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient]))
                           for ds in items])
        steps = np.diff(heights)
        steps = steps[steps > 1e-3]
        if steps.size:
            return float(np.median(steps))
    return float(items[0].get("SliceThickness") or 0.0) or float("inf")


def is_bone_kernel(ds: Dataset) -> bool:
    """Sharp reconstruction kernel or a bone series description."""
    kernel = " ".join(str(v) for v in np.atleast_1d(ds.get("ConvolutionKernel", ""))).upper()
    description = str(ds.get("SeriesDescription", "")).upper()
    return (any(h in kernel for h in BONE_KERNEL_HINTS)
            or any(h in description for h in BONE_DESCRIPTION_HINTS))


def _rank(items: Sequence[Dataset]) -> tuple[float, int, int, int]:
    spacing = round(slice_spacing_mm(items), 2)
    bone = 0 if is_bone_kernel(items[0]) else 1
    number = int(items[0].get("SeriesNumber", 0) or 0)
    return spacing, bone, -len(items), number


def _why_not(rank: tuple[float, int, int, int], best: tuple[float, int, int, int]) -> str:
    if rank[0] > best[0]:
        return f"thicker slices ({rank[0]:g} mm) than the chosen series ({best[0]:g} mm)"
    if rank[1] > best[1]:
        return "soft-tissue kernel; a bone-kernel series of the same thickness was chosen"
    if rank[2] > best[2]:
        return f"fewer slices ({-rank[2]}) than the chosen series ({-best[2]})"
    return "same geometry as the chosen series, which has the lower series number"
