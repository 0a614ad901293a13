"""The TID 1500 Measurement Report (Comprehensive 3D SR) of one analysed series.

Per treated vertebra one planar ROI group (TID 1410) on its key axial slice: the body
outline is the region and the group carries every number and finding; each cement
island on that slice gets its own planar group with its area. OHIF 3.x draws these with
their labels. SEG-referencing volumetric groups (TID 1411) are an option because OHIF
3.x fails on groups without image coordinates. A series without cement gets one planar
group over the whole middle slice that says so.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from node.analysis.types import Flag, LeakSite
from node.results import _geometry
from node.results import codes as vf_codes
from node.results._dicom import copy_patient_study, dicom_date_time, series_description, stamp
from node.results.context import ResultContext, Vertebra
from node.results.seg import Role, SegmentPlan
from node.results.uids import Kind

logger = logging.getLogger(__name__)

Group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations | \
    hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations


def _algorithm(context: ResultContext) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name="vfnode", version=context.software_version)


def _measure(context: ResultContext, name: Code, value: float, unit: Code) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit,
                             algorithm_id=_algorithm(context))


def _region(points: np.ndarray, image: Dataset) -> hd.sr.ImageRegion:
    return hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=points,
        source_image=hd.sr.SourceImageForRegion.from_source_image(image),
    )


def body_measurements(context: ResultContext, vertebra: Vertebra) -> list[hd.sr.Measurement]:
    """VBV, CDV, VF%, cut-off, extravertebral cement and scores, as the record rounds them."""
    record = vertebra.result.to_json()
    extra = record["extravertebral_ml"]
    score = record["score"]
    items = [
        (vf_codes.VBV, record["vbv_ml"], vf_codes.UNIT_ML),
        (vf_codes.CDV, record["cdv_ml"], vf_codes.UNIT_ML),
        (vf_codes.VF, record["vf_pct"], vf_codes.UNIT_PERCENT),
        (vf_codes.VF_CUTOFF, context.analysis.result.parameters.vf_cutoff_pct,
         vf_codes.UNIT_PERCENT),
        (vf_codes.EXTRAVERTEBRAL_TOTAL, extra["total"], vf_codes.UNIT_ML),
    ]
    items += [(vf_codes.EXTRAVERTEBRAL_BY_SITE[site], extra[site.value], vf_codes.UNIT_ML)
              for site in LeakSite if extra[site.value] > 0]
    items += [
        (vf_codes.SCORE_CORONAL, score["coronal"], vf_codes.UNIT_SCORE),
        (vf_codes.SCORE_SAGITTAL, score["sagittal"], vf_codes.UNIT_SCORE),
        (vf_codes.SCORE_AXIAL, score["axial"], vf_codes.UNIT_SCORE),
        (vf_codes.SCORE_TOTAL, score["total"], vf_codes.UNIT_SCORE),
    ]
    return [_measure(context, name, value, unit) for name, value, unit in items]


def leakage_sites(vertebra: Vertebra) -> list[LeakSite]:
    """Where leaked cement lies: sites outside the needle tract holding any, when leaking."""
    extra = vertebra.result.extravertebral_ml
    if not vertebra.result.leakage:
        return []
    return [site for site in LeakSite
            if site is not LeakSite.NEEDLE_TRACT and getattr(extra, site.value) > 0]


def _flag_evaluations(flags: Sequence[Flag]) -> list[hd.sr.QualitativeEvaluation]:
    return [hd.sr.QualitativeEvaluation(vf_codes.ANALYSIS_FLAG, vf_codes.FLAG_VALUES[flag])
            for flag in flags]


def body_evaluations(context: ResultContext,
                     vertebra: Vertebra) -> list[hd.sr.QualitativeEvaluation]:
    """Cut-off finding, leakage with its sites, group A/B and the series flags."""
    level = vertebra.result
    expected = vf_codes.EXTENSIVE_EXPECTED if level.extensive_expected else \
        vf_codes.LIMITED_EXPECTED
    evaluations = [
        hd.sr.QualitativeEvaluation(vf_codes.EXPECTED_DISTRIBUTION, expected),
        hd.sr.QualitativeEvaluation(vf_codes.CEMENT_LEAKAGE,
                                    vf_codes.PRESENT if level.leakage else vf_codes.ABSENT),
    ]
    evaluations += [hd.sr.QualitativeEvaluation(vf_codes.LEAKAGE_SITE,
                                                vf_codes.LEAK_SITE_VALUES[site])
                    for site in leakage_sites(vertebra)]
    evaluations.append(hd.sr.QualitativeEvaluation(vf_codes.DISTRIBUTION_GROUP,
                                                   vf_codes.GROUP_VALUES[level.group]))
    return evaluations + _flag_evaluations(context.analysis.result.flags)


Planar = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations


def vertebra_groups(context: ResultContext, vertebra: Vertebra) -> list[Planar]:
    """The body group and one group per cement island, all on the key slice."""
    image = context.sources[vertebra.key_slice]
    body = context.body(vertebra.index, (vertebra.key_slice,))
    site = [hd.sr.FindingSite(vf_codes.vertebra(vertebra.result.level))]
    body_outline, _ = _geometry.outlines(body, limit=1, min_pixels=1)[0]
    groups = [Planar(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=context.uids.tracking(vertebra.key, "body"),
            identifier=f"{vertebra.name} vertebral body"),
        referenced_region=_region(body_outline, image),
        finding_type=vf_codes.VERTEBRAL_BODY,
        finding_sites=site,
        measurements=body_measurements(context, vertebra),
        qualitative_evaluations=body_evaluations(context, vertebra),
    )]
    cement = body & context.cement[vertebra.key_slice]
    islands = _geometry.outlines(cement, limit=_geometry.MAX_CEMENT_OUTLINES)
    for number, (points, pixels) in enumerate(islands, start=1):
        area = round(pixels * context.pixel_area_mm2, 1)
        groups.append(Planar(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=context.uids.tracking(vertebra.key, f"cement-{number}"),
                identifier=f"{vertebra.name} cement {number}"),
            referenced_region=_region(points, image),
            finding_type=vf_codes.BONE_CEMENT,
            finding_sites=site,
            measurements=[_measure(context, vf_codes.CEMENT_AREA, area, vf_codes.UNIT_MM2)],
        ))
    return groups


def no_cement_group(context: ResultContext) -> Planar:
    """One group over the whole middle slice: no treated vertebra, with the series flags."""
    image = context.sources[len(context.sources) // 2]
    cement = Flag.NO_BODY_AROUND_CEMENT in context.analysis.result.flags
    rows, columns = float(image.Rows), float(image.Columns)
    frame = np.array([[0.0, 0.0], [columns, 0.0], [columns, rows], [0.0, rows], [0.0, 0.0]])
    return Planar(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=context.uids.tracking("series", "no-cement"),
            identifier=("No vertebral body found around the cement" if cement
                        else "No cement found in this series")),
        referenced_region=_region(frame, image),
        finding_type=vf_codes.ANALYSED_FIELD,
        measurements=[_measure(context, vf_codes.TREATED_VERTEBRAE, 0, vf_codes.UNIT_COUNT)],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(vf_codes.CEMENT_FOUND,
                                        vf_codes.PRESENT if cement else vf_codes.ABSENT),
            *_flag_evaluations(context.analysis.result.flags),
        ],
    )


def volumetric_groups(
    context: ResultContext, seg: Dataset, plans: Sequence[SegmentPlan]
) -> list[hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations]:
    """TID 1411 groups referencing the SEG segments, with the volume each segment holds."""
    series = hd.sr.SourceSeriesForSegmentation(context.analysis.result.series_instance_uid)
    groups = []
    for plan in plans:
        record = plan.vertebra.result.to_json()
        name, value = {
            Role.BODY: (vf_codes.VBV, record["vbv_ml"]),
            Role.CEMENT: (vf_codes.CDV, record["cdv_ml"]),
            Role.EXTRAVERTEBRAL: (vf_codes.EXTRAVERTEBRAL_TOTAL,
                                  record["extravertebral_ml"]["total"]),
        }[plan.role]
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=plan.tracking_uid,
                                                         identifier=plan.label),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
                segment_number=plan.number, source_series=series),
            finding_type=plan.property_type,
            finding_sites=[hd.sr.FindingSite(vf_codes.vertebra(plan.vertebra.result.level))],
            measurements=[_measure(context, name, value, vf_codes.UNIT_ML)],
        ))
    return groups


def _observation_context(context: ResultContext) -> hd.sr.ObservationContext:
    device = context.device
    return hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device.uid, name=device.name, manufacturer_name=device.manufacturer,
            model_name=device.model_name, serial_number=device.serial_number),
    ))


def build_sr(context: ResultContext, *, series_number: int, seg: Dataset | None = None,
             segments: Sequence[SegmentPlan] = ()) -> hd.sr.Comprehensive3DSR:
    """The Measurement Report; with ``seg`` also TID 1411 groups for ``segments``.

    It supersedes ``context.previous_sr`` when there is one.
    """
    groups: list[Group] = []
    for vertebra in context.vertebrae:
        groups.extend(vertebra_groups(context, vertebra))
    if not context.vertebrae:
        groups.append(no_cement_group(context))
    evidence = list(context.sources)
    if seg is not None and segments:
        groups.extend(volumetric_groups(context, seg, segments))
        evidence.append(seg)
    key_images = {v.key_slice: context.sources[v.key_slice] for v in context.vertebrae}
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(context),
        procedure_reported=vf_codes.PROCEDURE_CT,
        imaging_measurements=groups,
        referenced_images=list(key_images.values()) or [context.sources[len(context.sources) // 2]],
    )
    return _document(context, report, evidence, series_number)


def _document(context: ResultContext, report: hd.sr.MeasurementReport, evidence: list[Dataset],
              series_number: int) -> hd.sr.Comprehensive3DSR:
    previous_sr = context.previous_sr
    content_date, content_time = dicom_date_time(context.created)
    source = context.sources[0]
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report,
        series_instance_uid=context.uids.series(Kind.SR),
        series_number=series_number,
        sop_instance_uid=context.uids.instance(Kind.SR),
        instance_number=context.version,
        manufacturer=context.device.manufacturer,
        is_complete=True,
        is_final=True,
        institution_name=context.device.institution_name,
        previous_versions=[previous_sr] if previous_sr is not None else None,
        coding_schemes=[vf_codes.coding_scheme()],
        series_description=series_description("VF% report", source),
        manufacturer_model_name=context.device.model_name,
        software_versions=context.software_version,
        device_serial_number=context.device.serial_number,
        content_date=content_date,
        content_time=content_time,
        series_date=content_date,
        series_time=content_time,
    )
    copy_patient_study(source, sr)
    if context.kept_predecessors is not None:
        sr.PredecessorDocumentsSequence = [copy.deepcopy(item)
                                           for item in context.kept_predecessors]
    stamp(sr, context.created)
    logger.info("built sr sop=%s levels=%d predecessor=%s", sr.SOPInstanceUID,
                len(context.vertebrae), previous_sr.SOPInstanceUID if previous_sr else None)
    return sr
