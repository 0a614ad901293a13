"""Entry points: an analysed series in, its SR, SEG and summary image out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydicom import Dataset

from node.analysis.types import Analysis
from node.results import _geometry
from node.results.context import Device, ResultContext
from node.results.seg import build_seg, plan_segments
from node.results.sr import build_sr
from node.results.summary import build_summary
from node.results.uids import Kind, ResultUIDs, content_digest

logger = logging.getLogger(__name__)

# Offsets from series_number_base, one per result series.
SR_OFFSET, SEG_OFFSET, SUMMARY_OFFSET = 0, 1, 2


def _earlier_uid(previous_sr: Dataset) -> str | None:
    """The SOP Instance UID the previous SR itself superseded, if any."""
    for study in previous_sr.get("PredecessorDocumentsSequence", []):
        for series in study.get("ReferencedSeriesSequence", []):
            for reference in series.get("ReferencedSOPSequence", []):
                return str(reference.ReferencedSOPInstanceUID)
    return None


def make_context(analysis: Analysis, source_datasets: Sequence[Dataset], *, device: Device,
                 options: dict[str, object], previous_sr: Dataset | None = None,
                 created: datetime | None = None) -> ResultContext:
    """Order the sources, derive the UIDs and check the geometry (shared by every builder).

    A ``previous_sr`` that already holds this very result (same digest) is not
    superseded: the objects are rebuilt with its UIDs and its own predecessor.
    """
    sources = _geometry.order_sources(source_datasets, analysis.slice_sop_instance_uids)
    series_uid = analysis.result.series_instance_uid
    all_options = {**options, "device": device.to_json()}

    def uids_after(predecessor: str | None) -> ResultUIDs:
        digest = content_digest(analysis.result, slice_uids=analysis.slice_sop_instance_uids,
                                options=all_options, predecessor_uid=predecessor)
        return ResultUIDs(source_series_uid=series_uid, digest=digest)

    version, kept = 1, None
    uids = uids_after(None)
    if previous_sr is not None:
        earlier = _earlier_uid(previous_sr)
        same = uids_after(earlier)
        version = int(previous_sr.get("InstanceNumber") or 0)
        if same.instance(Kind.SR) == previous_sr.SOPInstanceUID:
            uids, kept = same, previous_sr.get("PredecessorDocumentsSequence")
            previous_sr = None
            logger.info("previous sr holds the same result: rebuilt, not superseded")
        else:
            uids, version = uids_after(str(previous_sr.SOPInstanceUID)), version + 1
    return ResultContext(analysis=analysis, sources=sources, uids=uids, device=device,
                         created=created or datetime.now(), version=max(version, 1),
                         previous_sr=previous_sr, kept_predecessors=kept)


def build_results(
    analysis: Analysis,
    source_datasets: Sequence[Dataset],
    *,
    sr: bool = True,
    seg: bool = True,
    summary_image: bool = True,
    volumetric_sr_groups: bool = False,
    series_number_base: int = 9900,
    previous_sr: Dataset | None = None,
    device: Device | None = None,
    created: datetime | None = None,
) -> list[Dataset]:
    """The DICOM result objects of one analysed series.

    Parameters
    ----------
    analysis : Analysis
        The result record with the masks it was measured on.
    source_datasets : sequence of Dataset
        The CT images of the analysed series (any order; extra images are ignored).
    sr, seg, summary_image : bool
        Which objects to make. A series without cement has no SEG (nothing to segment).
    volumetric_sr_groups : bool
        Also add TID 1411 groups that reference the SEG segments (OHIF 3.x cannot show
        them); needs ``seg``.
    series_number_base : int
        Series Number of the SR; the SEG and summary follow with +1 and +2.
    previous_sr : Dataset, optional
        An earlier SR of the same series that the new SR supersedes.
    device : Device, optional
        Equipment and observer identity; defaults to ``Device()``.
    created : datetime, optional
        Content date and time (default now); the UIDs do not depend on it.

    Returns
    -------
    list of Dataset
        In the order SEG, SR, summary (the SR may reference the SEG).
    """
    if volumetric_sr_groups and not seg:
        raise ValueError('"volumetric_sr_groups" needs "seg". Found seg=False.')
    options: dict[str, object] = {"sr": sr, "seg": seg, "summary_image": summary_image,
               "volumetric_sr_groups": volumetric_sr_groups,
               "series_number_base": series_number_base}
    context = make_context(analysis, source_datasets, device=device or Device(),
                           options=options, previous_sr=previous_sr, created=created)
    out: list[Dataset] = []
    plans = plan_segments(context) if seg else []
    seg_ds = None
    if plans:
        seg_ds = build_seg(context, plans, series_number=series_number_base + SEG_OFFSET)
        out.append(seg_ds)
    if sr:
        out.append(build_sr(context, series_number=series_number_base + SR_OFFSET,
                            seg=seg_ds if volumetric_sr_groups else None,
                            segments=plans if volumetric_sr_groups else ()))
    if summary_image:
        out.append(build_summary(context, series_number=series_number_base + SUMMARY_OFFSET))
    return out


def result_filename(dataset: Dataset) -> str:
    """File name of one result object: modality and SOP Instance UID."""
    return f"{dataset.Modality}_{dataset.SOPInstanceUID}.dcm"


def write_results(analysis: Analysis, source_datasets: Sequence[Dataset], folder: Path,
                  **options: object) -> list[Path]:
    """Build the result objects (``build_results`` keywords) and write them to ``folder``.

    Returns
    -------
    list of Path
        The files written, one per object.
    """
    datasets = build_results(analysis, source_datasets, **options)  # type: ignore[arg-type]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset in datasets:
        path = folder / result_filename(dataset)
        dataset.save_as(path, enforce_file_format=True)
        paths.append(path)
        logger.info("wrote %s sop=%s", dataset.Modality, dataset.SOPInstanceUID)
    return paths
