"""``vfnode analyze PATH [--json] [--series UID] [--out DIR]``: analyse DICOM files offline.

PATH is a DICOM file or a folder (searched recursively) holding one or more studies. For
each study the series to analyse is chosen by ``node.analysis.select`` (or forced with
``--series``) and its result record printed: one JSON object per line with ``--json``,
a readable table without. With ``--out DIR`` the SR, SEG and summary image of each
analysed series are written to DIR too. Exit status 0 on success, "no cement found"
included.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from node import __version__
from node.analysis.pipeline import analyze_series
from node.analysis.select import group_by_series, select_series, unusable_reason
from node.analysis.types import Analysis, SeriesResult, no_level_reason
from node.config import Settings
from node.errors import UnusableSeriesError, VfnodeError
from node.results.build import write_results

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "analyze", help="measure cement in a folder of DICOM files (offline)",
        description="Analyse the CT series of a folder of DICOM files and print the "
                    "result record of each (one per study).")
    parser.add_argument("path", type=Path, help="a DICOM file or a folder of them")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON result record per line")
    parser.add_argument("--series", metavar="UID", help="analyse this series only")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="also write the SR, SEG and summary image of each analysed "
                             "series to DIR (the [results] settings apply)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    analyses = analyze_path(args.path, settings, series_uid=args.series)
    if args.out:
        write_analysis_results(args.path, analyses, args.out, settings)
    for analysis in analyses:
        if args.json:
            print(json.dumps(analysis.result.to_json()))
        else:
            print(format_table(analysis.result))
    return 0


def analyze_path(path: Path, settings: Settings, *, series_uid: str | None = None
                 ) -> list[Analysis]:
    """Analyse the chosen (or the given) series of every study under ``path``.

    Raises
    ------
    VfnodeError
        No DICOM file under ``path``, the given series is absent, or no series of a study
        can be analysed (the message gives each series' reason).
    """
    datasets = list(read_datasets(path))
    if not datasets:
        raise VfnodeError(f"PATH must hold DICOM files. Found none under {path}.")
    if series_uid:
        items = group_by_series(datasets).get(series_uid)
        if not items:
            raise VfnodeError(f"Series {series_uid} must be under {path}. Found it nowhere.")
        reason = unusable_reason(items, min_slices=2)
        if reason:
            raise UnusableSeriesError(f"Series {series_uid} cannot be analysed: {reason}.")
        return [_analyze(items, settings)]
    studies: dict[str, list[Dataset]] = {}
    for ds in datasets:
        studies.setdefault(str(ds.get("StudyInstanceUID", "")), []).append(ds)
    out = []
    for study_uid, items in studies.items():
        selection = select_series(items)
        if selection.chosen is None:
            reasons = "; ".join(f"{uid}: {why}" for uid, why in selection.skipped)
            raise UnusableSeriesError(
                f"Study {study_uid} must hold an axial CT series to analyse. Found: {reasons}."
            )
        out.append(_analyze(selection.datasets, settings))
    return out


def _analyze(items: list[Dataset], settings: Settings) -> Analysis:
    return analyze_series(items, settings.analysis, software_version=f"vfnode {__version__}",
                          workers=settings.jobs.analysis_threads or None)


def write_analysis_results(path: Path, analyses: list[Analysis], out: Path,
                           settings: Settings) -> list[Path]:
    """Write the result objects of each analysis to ``out`` (file names carry the UIDs)."""
    wanted = {a.result.series_instance_uid for a in analyses}
    by_series: dict[str, list[Dataset]] = {}
    for ds in read_datasets(path):
        uid = str(ds.get("SeriesInstanceUID", ""))
        if uid in wanted:
            by_series.setdefault(uid, []).append(ds)
    options = settings.results
    written: list[Path] = []
    for analysis in analyses:
        written += write_results(
            analysis, by_series[analysis.result.series_instance_uid], out,
            sr=options.sr, seg=options.seg, summary_image=options.summary_image,
            volumetric_sr_groups=options.volumetric_sr_groups,
            series_number_base=options.series_number_base)
    logger.info("wrote %d result objects to %s", len(written), out)
    return written


def read_datasets(path: Path) -> Iterator[Dataset]:
    """Every DICOM file under ``path``; pixel data is read only when used."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        try:
            yield dcmread(file, defer_size="64 KB")
        except (InvalidDicomError, OSError, ValueError) as exc:
            logger.debug("not DICOM, ignored: %s (%s)", file, exc)


def format_table(result: SeriesResult) -> str:
    """A readable summary of one result record."""
    lines = [f"series {result.series_instance_uid}",
             f"flags: {', '.join(f.value for f in result.flags) or '-'}"]
    if not result.levels:
        lines.append(f"no treated level ({no_level_reason(result.flags)})")
        return "\n".join(lines)
    header = (f"{'level':<6} {'VBV ml':>7} {'CDV ml':>7} {'VF %':>6} {'cut-off':<9} "
              f"{'leak ml':>7} {'leakage':<7} {'C/S/A':<6} {'total':>5} grp")
    lines.append(header)
    for lv in result.levels:
        s = lv.score
        lines.append(
            f"{lv.level or '?':<6} {lv.vbv_ml:>7.2f} {lv.cdv_ml:>7.2f} {lv.vf_pct:>6.2f} "
            f"{'extensive' if lv.extensive_expected else 'limited':<9} "
            f"{lv.extravertebral_ml.total:>7.3f} {'yes' if lv.leakage else 'no':<7} "
            f"{s.coronal}/{s.sagittal}/{s.axial:<2} {s.total:>5} {lv.group.value}"
        )
    return "\n".join(lines)
