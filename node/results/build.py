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
from node.results.uids import ResultUIDs, content_digest

logger = logging.getLogger(__name__)

# Offsets from series_number_base, one per result series.
SR_OFFSET, SEG_OFFSET, SUMMARY_OFFSET = 0, 1, 2


def _version(previous_sr: Dataset | None) -> int:
    if previous_sr is None:
        return 1
    return int(previous_sr.get("InstanceNumber", 0) or 0) + 1


def make_context(analysis: Analysis, source_datasets: Sequence[Dataset], *, device: Device,
                 options: dict[str, object], previous_sr: Dataset | None = None,
                 created: datetime | None = None) -> ResultContext:
    """Order the sources, derive the UIDs and check the geometry (shared by every builder)."""
    sources = _geometry.order_sources(source_datasets, analysis.slice_sop_instance_uids)
    predecessor = str(previous_sr.SOPInstanceUID) if previous_sr is not None else None
    digest = content_digest(analysis.result, slice_uids=analysis.slice_sop_instance_uids,
                            options={**options, "device": device.to_json()},
                            predecessor_uid=predecessor)
    uids = ResultUIDs(source_series_uid=analysis.result.series_instance_uid, digest=digest)
    return ResultContext(analysis=analysis, sources=sources, uids=uids, device=device,
                         created=created or datetime.now(), version=_version(previous_sr))


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
                            segments=plans if volumetric_sr_groups else (),
                            previous_sr=previous_sr))
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
