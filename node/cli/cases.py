"""``vfnode cases``: list the registry's cases and show one analysis in full."""

from __future__ import annotations

import argparse
import datetime as dt

from rich.console import Console
from rich.table import Table

from node.analysis.types import no_level_reason
from node.cli.registry import add_where, conditions, make_console, open_registry
from node.config import Settings
from node.errors import VfnodeError
from node.registry.cases import CaseRow
from node.registry.clinical import parse_date
from node.registry.filters import Condition, apply, date_condition, parse_condition


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cases", help="list and show registry cases")
    commands = parser.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    listing = commands.add_parser("list", help="one row per treated vertebra")
    listing.add_argument("--from", dest="date_from", type=_date, help="study date ≥ YYYY-MM-DD")
    listing.add_argument("--to", dest="date_to", type=_date, help="study date ≤ YYYY-MM-DD")
    listing.add_argument("--group", choices=("A", "B"))
    cut = listing.add_mutually_exclusive_group()
    cut.add_argument("--below-cutoff", action="store_true",
                     help="VF%% below analysis.vf_cutoff_pct")
    cut.add_argument("--above-cutoff", action="store_true", help="VF%% at or above it")
    listing.add_argument("--leakage", choices=("yes", "no"))
    listing.add_argument("--level", help="e.g. L1")
    listing.add_argument("--all-runs", action="store_true", help="include superseded runs")
    add_where(listing)
    listing.set_defaults(func=run_list)
    show = commands.add_parser("show", help="one analysis with everything recorded")
    show.add_argument("analysis_id", type=int, metavar="ID")
    show.set_defaults(func=run_show)


def _date(text: str) -> dt.date:
    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"a date {exc}") from None


def list_conditions(args: argparse.Namespace, cutoff: float) -> list[Condition]:
    conds = conditions(args)
    if args.date_from:
        conds.append(date_condition(">=", args.date_from))
    if args.date_to:
        conds.append(date_condition("<=", args.date_to))
    extra = [f"group={args.group}" if args.group else "",
             f"vf<{cutoff}" if args.below_cutoff else "",
             f"vf>={cutoff}" if args.above_cutoff else "",
             f"leakage={args.leakage}" if args.leakage else "",
             f"level={args.level}" if args.level else ""]
    return conds + [parse_condition(text) for text in extra if text]


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    cutoff = settings.analysis.vf_cutoff_pct
    with open_registry(settings) as registry:
        rows = apply(registry.cases(include_superseded=args.all_runs),
                     list_conditions(args, cutoff))
    table = Table(title=f"{len(rows)} case(s)")
    for column, justify in (("ID", "right"), ("Level", "left"), ("Study date", "left"),
                            ("Patient", "left"), ("Accession", "left"), ("VBV ml", "right"),
                            ("CDV ml", "right"), ("VF %", "right"), ("Score", "right"),
                            ("Group", "center"), ("Leakage", "center"), ("BMD", "right"),
                            ("Cut-off", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            f"{r.analysis_id}" + (" (old)" if r.superseded else ""), r.level or "?",
            str(r.study_date or ""), r.patient_id, r.accession_number, f"{r.vbv_ml:.2f}",
            f"{r.cdv_ml:.2f}", f"{r.vf_pct:.2f}", str(r.score_total), r.group,
            "yes" if r.leakage else "no",
            "" if r.bmd_t_score is None else f"{r.bmd_t_score:.1f}",
            "above" if r.vf_pct >= cutoff else "below")
    make_console().print(table)
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    console = make_console()
    with open_registry(settings) as registry:
        try:
            detail = registry.analysis(args.analysis_id)
        except ValueError as exc:
            raise VfnodeError(str(exc)) from exc
    state = (f"superseded by {detail.superseded_by}" if detail.superseded_by else "current")
    console.print(f"[bold]Analysis {args.analysis_id}[/bold] ({state}), software "
                  f"{detail.record.get('software_version', '')}, flags "
                  f"{', '.join(detail.record.get('flags', [])) or 'none'}")
    if detail.cases:
        _show_header(console, detail.cases[0])
    for r in detail.cases:
        console.print(_vertebra_table(r))
    if not detail.cases:
        console.print(f"no treated vertebra ({no_level_reason(detail.record.get('flags', []))})")
    deliveries = Table(title="Deliveries")
    for column in ("When (UTC)", "Destination", "Delivered", "Detail"):
        deliveries.add_column(column)
    for d in detail.deliveries:
        deliveries.add_row(d.at.strftime("%Y-%m-%d %H:%M:%S"), d.destination,
                           "yes" if d.delivered else "no", d.detail)
    console.print(deliveries)
    console.print(f"result objects: {', '.join(detail.result_sop_instance_uids) or 'none'}")
    for run_id, created, superseded in detail.other_runs:
        console.print(f"other run of this series: {run_id} at {created:%Y-%m-%d %H:%M} "
                      f"({'superseded' if superseded else 'current'})")
    return 0


def _show_header(console: Console, r: CaseRow) -> None:
    console.print(f"patient {r.patient_id} {r.patient_name} sex {r.sex or '?'} age "
                  f"{r.age_years if r.age_years is not None else '?'}; study "
                  f"{r.study_date or '?'} accession {r.accession_number}")
    console.print(f"study {r.study_instance_uid}\nseries {r.series_instance_uid} "
                  f"{r.series_description}")


def _vertebra_table(r: CaseRow) -> Table:
    table = Table(title=f"{r.level or 'unnamed level'}", show_header=False)
    table.add_column("Field")
    table.add_column("Value")
    bmi = "" if r.bmi is None else f"{r.bmi:.1f} ({r.bmi_source})"
    for name, value in (
        ("VBV / CDV / VF%", f"{r.vbv_ml:.2f} ml / {r.cdv_ml:.2f} ml / {r.vf_pct:.2f} %"),
        ("Score (cor/sag/ax = total)", f"{r.score_coronal}/{r.score_sagittal}/"
                                       f"{r.score_axial} = {r.score_total}, group {r.group}"),
        ("Extensive expected", "yes" if r.extensive_expected else "no"),
        ("Extravertebral ml (disc/canal/needle/paraverteb.)",
         f"{r.extra_disc_ml:.3f} / {r.extra_canal_ml:.3f} / {r.extra_needle_tract_ml:.3f}"
         f" / {r.extra_paravertebral_ml:.3f}"),
        ("Leakage CT / clinical", f"{'yes' if r.leakage_ct else 'no'} / "
         f"{'?' if r.leakage_observed is None else ('yes' if r.leakage_observed else 'no')}"),
        ("BMD T-score", "" if r.bmd_t_score is None else f"{r.bmd_t_score:.1f}"),
        ("Fracture level (clinical)", r.fracture_level or ""),
        ("Operation minutes", "" if r.operation_minutes is None else f"{r.operation_minutes:g}"),
        ("BMI", bmi), ("Approach", r.approach or ""),
        ("Cement injected ml", "" if r.cement_injected_ml is None
         else f"{r.cement_injected_ml:g}"),
    ):
        table.add_row(name, value)
    return table
