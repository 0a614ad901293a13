"""``vfnode cohort``: the paper's analysis on the registry's cases, and the site cut-off."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
from rich.progress import Progress
from rich.table import Table

from node import __version__
from node.cli.registry import add_where, make_console, open_registry, selected_cases
from node.cohort.render import fmt, fmt_p, write_report
from node.cohort.report import N_BOOT, SEED, build_report, check_size, cutoff_table, table3
from node.config import Settings
from node.registry.cases import cohort_cases


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cohort", help="the paper's statistics on the registry")
    commands = parser.add_subparsers(dest="cohort_command", required=True, metavar="ACTION")
    report = commands.add_parser("report", help="HTML report with CSV tables and PNG figures")
    report.add_argument("--out", type=Path, required=True, help="folder to write into")
    _common(report)
    report.set_defaults(func=run_report)
    cutoff = commands.add_parser("cutoff", help="the site's optimal VF%% cut-off with its CI")
    _common(cutoff)
    cutoff.set_defaults(func=run_cutoff)


def _common(parser: argparse.ArgumentParser) -> None:
    add_where(parser)
    parser.add_argument("--bootstrap", type=int, default=N_BOOT, metavar="N",
                        help=f"bootstrap samples for the cut-off CI (default {N_BOOT})")
    parser.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    console = make_console()
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("cohort report", total=4)
        with open_registry(settings) as registry:
            cases = cohort_cases(selected_cases(registry, args))
            progress.advance(task)
            report = build_report(cases, configured_cutoff=settings.analysis.vf_cutoff_pct,
                                  n_boot=args.bootstrap, seed=args.seed)
            progress.advance(task)
            context = {"generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                       "vfnode": __version__,
                       "filter": " AND ".join(args.where) or "all current analyses"}
            paths = write_report(report, args.out, context=context)
            progress.advance(task)
            registry.record_audit("cohort-report", rows=report.n, detail={
                "out": str(args.out), "where": list(args.where), "seed": args.seed,
                "bootstrap": args.bootstrap})
            progress.advance(task)
    console.print(f"cohort report of {report.n} cases (A {report.n_a}, B {report.n_b}) "
                  f"written to {paths['html']} in {time.perf_counter() - started:.1f} s")
    return 0


def run_cutoff(args: argparse.Namespace, settings: Settings) -> int:
    configured = settings.analysis.vf_cutoff_pct
    with open_registry(settings) as registry:
        cases = cohort_cases(selected_cases(registry, args))
    check_size(cases)
    vf = np.array([c.vf_pct for c in cases])
    group_b = np.array([c.group_b for c in cases])
    with make_console().status("bootstrapping the cut-off"):
        t4 = cutoff_table(vf, group_b, configured=configured, n_boot=args.bootstrap,
                          seed=args.seed)
    roc = next(r.roc for r in table3(cases) if r.factor == "VF%")
    table = Table(title=f"VF% cut-off for extensive distribution (score 8–10), "
                        f"{len(cases)} cases: A {int((~group_b).sum())}, B {int(group_b.sum())}")
    for column in ("", "Cut-off VF%", "95% CI (bootstrap)", "Sensitivity", "Specificity"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("site optimum (Youden)", fmt(t4.optimal.cutoff, 2),
                  f"{fmt(t4.ci_low, 2)} – {fmt(t4.ci_high, 2)}",
                  fmt(t4.optimal.sensitivity), fmt(t4.optimal.specificity))
    table.add_row("configured (analysis.vf_cutoff_pct)", fmt(configured, 2), "",
                  fmt(t4.configured_sensitivity), fmt(t4.configured_specificity))
    console = make_console()
    console.print(table)
    if roc is not None:
        console.print(f"AUC of VF% {fmt(roc.auc)} (95% CI {fmt(roc.ci_low)}–"
                      f"{fmt(roc.ci_high)}, p {fmt_p(roc.p)})")
    inside = t4.ci_low <= configured <= t4.ci_high
    console.print(
        f"The configured cut-off {configured:.2f} % lies {'inside' if inside else 'OUTSIDE'} "
        f"the site's 95% CI ({t4.n_boot} bootstrap samples, seed {t4.seed})"
        + ("." if inside else "; consider recalibrating analysis.vf_cutoff_pct."))
    return 0
