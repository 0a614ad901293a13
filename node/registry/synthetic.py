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


def main(argv: list[str] | None = None) -> int:
    """``scripts/synthetic_registry``: fill a (fresh) registry with the synthetic cohort."""
    import argparse

    from rich.progress import Progress

    from node.cohort.synthetic import synthetic_cohort

    parser = argparse.ArgumentParser(prog="synthetic_registry", description=main.__doc__)
    parser.add_argument("--url", default="sqlite:///var/synthetic.db",
                        help="SQLAlchemy URL (default sqlite:///var/synthetic.db)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cases = synthetic_cohort(args.seed)
    with Registry(args.url) as registry:
        if registry.cases(include_superseded=True):
            print(f"{args.url} already holds cases; give a new database.")
            return 1
        with Progress() as progress:
            task = progress.add_task("recording synthetic cases", total=len(cases))
            populate(registry, cases, step=lambda: progress.advance(task))
    print(f"{len(cases)} synthetic cases in {args.url}. Try: VFNODE_REGISTRY_URL={args.url} "
          "vfnode cohort report --out var/cohort")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
