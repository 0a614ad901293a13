"""Fill a registry with the synthetic cohort of ``node.cohort.synthetic`` (demos, tests)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from node.analysis.types import SeriesResult
from node.cohort.synthetic import SyntheticCase, clinical_csv
from node.registry.registry import Registry

logger = logging.getLogger(__name__)


def populate(registry: Registry, cases: list[SyntheticCase], *, earlier_runs: int = 5,
             step: Callable[[], None] | None = None) -> list[int]:
    """Record every case (after an earlier, superseded run for the first ``earlier_runs``)
    and import the clinical file; return the current analysis IDs."""
    ids = []
    for i, case in enumerate(cases):
        if i < earlier_runs:
            registry.record_analysis(_earlier(case), case.header,
                                     result_sop_instance_uids=[])
        ids.append(registry.record_analysis(
            case.result, case.header,
            result_sop_instance_uids=[f"{case.result.series_instance_uid}.99{i}"]))
        if step is not None:
            step()
    registry.import_clinical(clinical_csv(cases), source="synthetic cohort")
    logger.info("synthetic registry filled cases=%d", len(ids))
    return ids


def _earlier(case: SyntheticCase) -> SeriesResult:
    """A first run with a smaller body (as an older software version might have found)."""
    levels = tuple(dataclasses.replace(lv, vbv_ml=lv.vbv_ml * 1.1,
                                       vf_pct=round(lv.vf_pct / 1.1, 2))
                   for lv in case.result.levels)
    return dataclasses.replace(case.result, software_version="synthetic-0.9", levels=levels)
