"""The DICOM Segmentation: per treated vertebra its body, the cement in it and outside it."""

from __future__ import annotations

import enum
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from node.analysis.types import params_dict
from node.results import codes as vf_codes
from node.results._dicom import copy_patient_study, dicom_date_time, series_description, stamp
from node.results.context import ResultContext, Vertebra
from node.results.uids import Kind, derive_uid

logger = logging.getLogger(__name__)


class Role(enum.StrEnum):
    """What one segment holds."""

    BODY = "body"
    CEMENT = "cement"
    EXTRAVERTEBRAL = "extravertebral"


# Recommended display colours (sRGB) chosen to stand out on a bone window (W 1500-2000):
# bone and cement are grey to white there, so saturated hues, never white or grey.
BODY_COLOURS = ((0, 160, 255), (0, 210, 110), (170, 100, 255), (0, 210, 210))
CEMENT_COLOUR = (255, 190, 0)
EXTRAVERTEBRAL_COLOUR = (255, 30, 90)


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """One segment of the SEG, planned before any pixel is written."""

    number: int
    vertebra: Vertebra
    role: Role
    tracking_uid: str

    @property
    def label(self) -> str:
        text = {Role.BODY: "vertebral body", Role.CEMENT: "cement in body",
                Role.EXTRAVERTEBRAL: "extravertebral cement"}[self.role]
        return f"{self.vertebra.name} {text}"

    @property
    def category(self) -> Code:
        return vf_codes.ANATOMICAL_STRUCTURE if self.role is Role.BODY else vf_codes.SUBSTANCE

    @property
    def property_type(self) -> Code:
        return {Role.BODY: vf_codes.VERTEBRAL_BODY, Role.CEMENT: vf_codes.BONE_CEMENT,
                Role.EXTRAVERTEBRAL: vf_codes.EXTRAVERTEBRAL_CEMENT}[self.role]

    @property
    def colour(self) -> tuple[int, int, int]:
        if self.role is Role.BODY:
            return BODY_COLOURS[(self.vertebra.index - 1) % len(BODY_COLOURS)]
        return CEMENT_COLOUR if self.role is Role.CEMENT else EXTRAVERTEBRAL_COLOUR


def segment_mask(context: ResultContext, plan: SegmentPlan,
                 region: tuple[slice, ...] = ()) -> npt.NDArray[np.bool_]:
    """The mask of one planned segment within ``region`` (default: the whole grid)."""
    body = context.body(plan.vertebra.index, region)
    if plan.role is Role.BODY:
        return body
    if plan.role is Role.CEMENT:
        return body & context.cement[region]
    return context.extravertebral(plan.vertebra.index, region)


def _box(context: ResultContext, plan: SegmentPlan) -> tuple[slice, ...] | None:
    if plan.role is Role.EXTRAVERTEBRAL:
        return context.extravertebral_box(plan.vertebra.index)
    return context.body_box(plan.vertebra.index)


def plan_segments(context: ResultContext) -> list[SegmentPlan]:
    """Segments in SEG order; empty ones (no extravertebral cement) are left out."""
    plans: list[SegmentPlan] = []
    for vertebra in context.vertebrae:
        for role in Role:
            candidate = SegmentPlan(len(plans) + 1, vertebra, role,
                                    context.uids.tracking(vertebra.key, f"seg-{role.value}"))
            box = _box(context, candidate)
            if box is not None and segment_mask(context, candidate, box).any():
                plans.append(candidate)
    return plans


def _algorithm(context: ResultContext) -> hd.AlgorithmIdentificationSequence:
    parameters = {k: str(v) for k, v in params_dict(context.analysis.result.parameters).items()}
    return hd.AlgorithmIdentificationSequence(
        name="vfnode",
        family=codes.cid7162.MorphologicalOperations,
        version=context.software_version,
        source=context.device.manufacturer,
        parameters=parameters,
    )


def _description(plan: SegmentPlan,
                 algorithm: hd.AlgorithmIdentificationSequence) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(
        segment_number=plan.number,
        segment_label=plan.label,
        segmented_property_category=plan.category,
        segmented_property_type=plan.property_type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
        tracking_uid=plan.tracking_uid,
        tracking_id=plan.label,
        anatomic_regions=[vf_codes.vertebra(plan.vertebra.result.level)],
        display_color=hd.color.CIELabColor.from_rgb(*plan.colour),
    )


# Set while build_seg runs: the overlap vfnode knows by construction (see _Segmentation).
_KNOWN_OVERLAP: ContextVar[hd.seg.SegmentsOverlapValues | None] = ContextVar(
    "vfnode_known_overlap", default=None)


class _Segmentation(hd.seg.Segmentation):
    """highdicom's Segmentation, minus one whole-array check whose answer vfnode knows.

    To fill Segments Overlap, highdicom sums the 4-D stack over the segment axis: a
    (slices, rows, columns) int64 temporary (465 MB and about 1.2 s for a 220-slice slab of
    512 x 512). The cement-in-body segment lies inside its body segment by construction, so
    the segments overlap whenever a cement segment exists; build_seg says so through
    ``_KNOWN_OVERLAP`` and every other input takes highdicom's own path (pinned 0.28.2).
    """

    @classmethod
    def _check_and_cast_pixel_array(
        cls, pixel_array: Any, segment_numbers: Any, segmentation_type: Any, dtype: Any,
    ) -> tuple[Any, hd.seg.SegmentsOverlapValues]:
        known = _KNOWN_OVERLAP.get()
        if (known is not None and isinstance(pixel_array, np.ndarray)
                and pixel_array.dtype == np.bool_ and pixel_array.ndim == 4
                and pixel_array.shape[-1] == len(segment_numbers)):
            return pixel_array, known
        return super()._check_and_cast_pixel_array(pixel_array, segment_numbers,
                                                   segmentation_type, dtype)


def _stable_dimension_organization(seg: hd.seg.Segmentation) -> None:
    """Replace highdicom's random Dimension Organization UID by one derived from the SEG."""
    uid = derive_uid(str(seg.SOPInstanceUID), "dimension-organization")
    for item in seg.DimensionOrganizationSequence:
        item.DimensionOrganizationUID = uid
    for item in seg.DimensionIndexSequence:
        item.DimensionOrganizationUID = uid


def _pixels(context: ResultContext, plans: list[SegmentPlan]) -> tuple[np.ndarray, slice]:
    """(slab slices, rows, columns, segments) bool stack and the slab it covers.

    Segment-major memory: each mask is computed inside its own bounding box only, and
    every per-segment frame highdicom reads is contiguous.
    """
    boxes = [_box(context, plan) for plan in plans]
    first = min(b[0].start for b in boxes if b is not None)
    last = max(b[0].stop for b in boxes if b is not None)
    source = context.sources[0]
    stack = np.zeros((len(plans), last - first, int(source.Rows), int(source.Columns)),
                     dtype=bool)
    for n, (plan, box) in enumerate(zip(plans, boxes, strict=True)):
        if box is None:  # plan_segments keeps non-empty segments only
            raise ValueError(f"Segment {plan.label!r} must hold voxels. Found none.")
        inside = (slice(box[0].start - first, box[0].stop - first), box[1], box[2])
        stack[n][inside] = segment_mask(context, plan, box)
    return np.moveaxis(stack, 0, -1), slice(first, last)


def build_seg(context: ResultContext, plans: list[SegmentPlan], *,
              series_number: int) -> hd.seg.Segmentation:
    """The BINARY Segmentation of the planned segments, only frames that hold something.

    Only the slab of CT slices that holds any segment is passed to highdicom, so memory
    stays at (slab slices x rows x columns x segments) bytes.
    """
    if not plans:
        raise ValueError("A SEG needs at least one non-empty segment. Found none.")
    pixels, slab = _pixels(context, plans)
    algorithm = _algorithm(context)
    content_date, content_time = dicom_date_time(context.created)
    source = context.sources[0]
    overlap = hd.seg.SegmentsOverlapValues.YES if any(
        plan.role is Role.CEMENT for plan in plans) else None
    token = _KNOWN_OVERLAP.set(overlap)
    try:
        seg = _Segmentation(
            source_images=context.sources[slab],
            pixel_array=pixels,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[_description(plan, algorithm) for plan in plans],
            series_instance_uid=context.uids.series(Kind.SEG),
            series_number=series_number,
            sop_instance_uid=context.uids.instance(Kind.SEG),
            instance_number=context.version,
            manufacturer=context.device.manufacturer,
            manufacturer_model_name=context.device.model_name,
            software_versions=context.software_version,
            device_serial_number=context.device.serial_number,
            content_description="Vertebral bodies and bone cement after vertebroplasty",
            content_label="VFNODE",
            content_creator_name="vfnode^",
            omit_empty_frames=True,
            series_description=series_description("segmentation", source),
            content_date=content_date,
            content_time=content_time,
            series_date=content_date,
            series_time=content_time,
            institution_name=context.device.institution_name,
        )
    finally:
        _KNOWN_OVERLAP.reset(token)
    copy_patient_study(source, seg)
    stamp(seg, context.created)
    _stable_dimension_organization(seg)
    logger.info("built seg sop=%s segments=%d frames=%d", seg.SOPInstanceUID, len(plans),
                int(seg.NumberOfFrames))
    return seg
