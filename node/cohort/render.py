"""Write a ``CohortReport`` as the paper writes its results: HTML tables, CSV, PNG figures.

CSV files carry every number at full precision (for checking and re-use); the HTML shows
them rounded as a journal would (means ± SD to 2 decimals, statistics and p to 3).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from node.cohort.figures import roc_figure, scatter_figure
from node.cohort.report import CategoricalRow, CohortReport, ContinuousRow

TABLE1_COLUMNS = ("factor", "level", "a_n", "a_pct", "a_mean", "a_sd", "b_n", "b_pct",
                  "b_mean", "b_sd", "test", "statistic", "df", "p", "levene_f",
                  "levene_p", "note")
CSS = """
body { font-family: "Times New Roman", Georgia, serif; color: #111; max-width: 980px;
       margin: 24px auto; padding: 0 16px; line-height: 1.35; }
h1 { font-size: 22px; margin-bottom: 4px; } .meta { color: #555; font-size: 13px; }
p, li { font-size: 14px; } h2 { font-size: 16px; margin-top: 26px; }
table { border-collapse: collapse; margin: 6px 0 4px 0; font-size: 14px; min-width: 62%; }
caption { text-align: left; font-size: 14px; padding-bottom: 6px; }
caption b { margin-right: 6px; }
thead th { border-top: 2px solid #111; border-bottom: 1px solid #111; padding: 4px 12px;
           text-align: center; font-weight: normal; }
tbody td { padding: 2px 12px; text-align: center; }
tbody tr:last-child td { border-bottom: 2px solid #111; }
td.f { text-align: left; } td.sub { text-align: left; padding-left: 28px; }
td.sig { font-weight: bold; }
.note { font-size: 12px; color: #333; max-width: 900px; margin: 2px 0 22px 0; }
figure { margin: 10px 0 24px 0; } figcaption { font-size: 13px; max-width: 760px; }
.message { border-left: 3px solid #c0504d; padding: 4px 10px; background: #faf3f3; }
"""


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace("-", "−") if text.startswith("-") else text


def fmt_p(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def write_report(report: CohortReport, out: Path, *,
                 context: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Write report.html, table1-4.csv, spearman.csv, fig_roc.png and fig_scatter.png."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "fig_roc": roc_figure(report, out / "fig_roc.png"),
        "fig_scatter": scatter_figure(report, out / "fig_scatter.png"),
    }
    for name, (columns, rows) in csv_tables(report).items():
        paths[name] = _write_csv(out / f"{name}.csv", columns, rows)
    html_path = out / "report.html"
    html_path.write_text(html_report(report, context or {}), encoding="utf-8")
    paths["html"] = html_path
    return paths


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else (repr(v) if isinstance(v, float) else v)
                          for v in row] for row in rows)
    return path


def csv_tables(report: CohortReport) -> dict[str, tuple[Sequence[str], list[list[Any]]]]:
    """Every table as (columns, rows) with unrounded values."""
    t4 = report.table4
    return {
        "table1": (TABLE1_COLUMNS, _table1_rows(report)),
        "table2": (("term", "coef", "odds_ratio", "ci_low", "ci_high", "p", "n"),
                   [[t.name, t.coef, t.odds_ratio, t.ci_low, t.ci_high, t.p, report.table2.n]
                    for t in report.table2.terms]),
        "table3": (("factor", "auc", "se", "ci_low", "ci_high", "p", "n_pos", "n_neg"),
                   [[r.factor, r.roc.auc, r.roc.se, r.roc.ci_low, r.roc.ci_high, r.roc.p,
                     r.roc.n_pos, r.roc.n_neg] for r in report.table3 if r.roc]),
        "table4": (("factor", "kind", "cutoff", "sensitivity", "specificity", "youden",
                    "ci_low", "ci_high", "n_boot", "seed"),
                   [["VF%", "optimal", t4.optimal.cutoff, t4.optimal.sensitivity,
                     t4.optimal.specificity, t4.optimal.youden, t4.ci_low, t4.ci_high,
                     t4.n_boot, t4.seed],
                    ["VF%", "configured", t4.configured, t4.configured_sensitivity,
                     t4.configured_specificity,
                     t4.configured_sensitivity + t4.configured_specificity - 1.0,
                     None, None, None, None]]),
        "spearman": (("x", "y", "rho", "p", "n"),
                     [["score", "vf_pct", report.spearman.rho, report.spearman.p,
                       report.spearman.n]]),
    }


def _table1_rows(report: CohortReport) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for row in report.table1:
        if isinstance(row, ContinuousRow):
            c = row.comparison
            rows.append([row.factor, "", c and c.n_a, None, c and c.mean_a, c and c.sd_a,
                         c and c.n_b, None, c and c.mean_b, c and c.sd_b,
                         c and f"{c.test} t", c and c.t, c and c.df, c and c.p,
                         c and c.levene_f, c and c.levene_p, row.message])
            continue
        chi = row.chi2
        rows.append([row.factor, "", sum(row.counts_a), None, None, None, sum(row.counts_b),
                     None, None, None, "Pearson chi2" if chi else None,
                     chi and chi.statistic, chi and chi.dof, chi and chi.p, None, None,
                     row.message])
        for level, na, nb in zip(row.levels, row.counts_a, row.counts_b, strict=True):
            rows.append([row.factor, level, na, _pct(na, row.counts_a), None, None, nb,
                         _pct(nb, row.counts_b), None, None, None, None, None, None, None,
                         None, ""])
    return rows


def _pct(n: int, counts: Sequence[int]) -> float | None:
    total = sum(counts)
    return 100.0 * n / total if total else None


def _tr(cells: Sequence[str], classes: Sequence[str] = ()) -> str:
    out = []
    for i, cell in enumerate(cells):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        out.append(f"<td{cls}>{cell}</td>")
    return "<tr>" + "".join(out) + "</tr>"


def _table(number: int, title: str, head: Sequence[str], body: Sequence[str],
           note: str) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (f'<table id="table{number}"><caption><b>Table {number}</b>{escape(title)}'
            f"</caption><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody>"
            f'</table><p class="note">{note}</p>')


def _sig(p: float | None) -> str:
    return "sig" if p is not None and p < 0.05 else ""


def table1_html(report: CohortReport) -> str:
    body = []
    for row in report.table1:
        if isinstance(row, ContinuousRow):
            c = row.comparison
            if c is None:
                body.append(_tr([escape(row.factor), "–", "–", escape(row.message), "", ""],
                                ["f"]))
                continue
            body.append(_tr([escape(row.factor), f"{fmt(c.mean_a, 2)} ± {fmt(c.sd_a, 2)}",
                             f"{fmt(c.mean_b, 2)} ± {fmt(c.sd_b, 2)}", fmt(c.t),
                             fmt_p(c.p), f"{c.test} t (Levene p {fmt_p(c.levene_p)})"],
                            ["f", "", "", "", _sig(c.p)]))
            continue
        body.extend(_categorical_html(row))
    head = ("Factors", f"Group A ({report.n_a})", f"Group B ({report.n_b})", "t/χ²", "p",
            "Test")
    note = ("Mean ± SD or n (%). Group A: distribution score 0–7 (limited); group B: 8–10 "
            "(extensive). χ²: Pearson's, without continuity correction. t: group A minus "
            "group B; Student's t when Levene's test gives p ≥ 0.05, otherwise Welch's t. "
            "Bold p: p < 0.05. BMI, body mass index; BMD, bone mineral density; CDV, "
            "cement dispersion volume; VBV, vertebral body volume; VF%, volume fraction "
            "percentage.")
    return _table(1, "Univariate analysis affecting the distribution of bone cement", head,
                  body, note)


def _categorical_html(row: CategoricalRow) -> list[str]:
    chi = row.chi2
    lines = [_tr([escape(row.factor), "", "", fmt(chi.statistic) if chi else "–",
                  fmt_p(row.p) if chi else escape(row.message), "Pearson χ²" if chi else ""],
                 ["f", "", "", "", _sig(row.p)])]
    for level, na, nb in zip(row.levels, row.counts_a, row.counts_b, strict=True):
        lines.append(_tr([escape(level), f"{na} ({fmt(_pct(na, row.counts_a), 1)}%)",
                          f"{nb} ({fmt(_pct(nb, row.counts_b), 1)}%)", "", "", ""],
                         ["sub"]))
    return lines


def table2_html(report: CohortReport) -> str:
    t2 = report.table2
    if not t2.terms:
        return (f'<p class="message"><b>Table 2</b> Multivariate analysis: '
                f"{escape(t2.message)}</p>")
    body = [_tr([escape(t.name), fmt(t.odds_ratio), fmt(t.ci_low), fmt(t.ci_high),
                 fmt_p(t.p)], ["f", "", "", "", _sig(t.p)]) for t in t2.terms]
    note = (f"Logistic regression (maximum likelihood, statsmodels) of group B on the "
            f"factors with p < 0.05 in Table 1, entered together; n = {t2.n} complete "
            f"cases. OR per unit of each factor (per T-score unit, ml, %); Wald 95% CI. "
            f"OR, odds ratio; CI, confidence interval.")
    return _table(2, "Multivariate analysis affecting the distribution of bone cement",
                  ("Factors", "OR", "95% CI lower", "95% CI upper", "p"), body, note)


def table3_html(report: CohortReport) -> str:
    body = []
    for r in report.table3:
        if r.roc is None:
            body.append(_tr([escape(r.factor), "–", escape(r.message), "–", "–"], ["f"]))
        else:
            body.append(_tr([r.factor, fmt(r.roc.auc), fmt_p(r.roc.p), fmt(r.roc.ci_low),
                             fmt(r.roc.ci_high)], ["f", "", _sig(r.roc.p)]))
    note = ("Positive: group B. AUC with DeLong's standard error and 95% CI; p of AUC = 0.5 "
            "from the asymptotic Mann–Whitney U test (standard error under the null "
            "hypothesis, as SPSS). AUC, area under the curve.")
    return _table(3, "AUC of BMD and VF%", ("Factors", "AUC (Area)", "p", "95% CI lower",
                                            "95% CI upper"), body, note)


def table4_html(report: CohortReport) -> str:
    t4 = report.table4
    o = t4.optimal
    body = [
        _tr(["VF% (site optimum)", fmt(o.cutoff, 2),
             f"{fmt(t4.ci_low, 2)} – {fmt(t4.ci_high, 2)}", fmt(o.sensitivity),
             fmt(o.specificity), fmt(o.youden)], ["f"]),
        _tr(["VF% (configured)", fmt(t4.configured, 2), "–",
             fmt(t4.configured_sensitivity), fmt(t4.configured_specificity),
             fmt(t4.configured_sensitivity + t4.configured_specificity - 1.0)], ["f"]),
    ]
    note = (f"Youden-optimal cut-off (maximum sensitivity + specificity − 1; VF% ≥ cut-off "
            f"predicts extensive distribution), placed midway between consecutive observed "
            f"values. 95% CI: percentile interval of {t4.n_boot} stratified bootstrap "
            f"samples (seed {t4.seed}). The configured cut-off is "
            f"<code>analysis.vf_cutoff_pct</code>, evaluated on the same cases.")
    return _table(4, "The best cut-off value of extensive distribution of bone cement",
                  ("Factor", "Cut-off value", "95% CI", "Sensitivity", "Specificity",
                   "Youden J"), body, note)


def html_report(report: CohortReport, context: Mapping[str, str]) -> str:
    sp = report.spearman
    meta = " · ".join(f"{escape(k)}: {escape(v)}" for k, v in context.items())
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    p_text = "p < 0.001" if sp.p < 0.001 else f"p = {sp.p:.3f}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vfnode cohort report</title>
<style>{CSS}</style></head><body>
<h1>Bone cement distribution after vertebroplasty: cohort report</h1>
<p class="meta">{report.n} cases: group A {report.n_a}, group B {report.n_b}. {meta}</p>
{f'<ul class="note">{notes}</ul>' if notes else ''}
{table1_html(report)}
{table2_html(report)}
{table3_html(report)}
<figure><img src="fig_roc.png" width="480" alt="ROC curves of BMD and VF%">
<figcaption><b>Fig. 1</b> ROC curves of BMD and VF% for extensive distribution (group B).
The circle marks the Youden-optimal VF% cut-off.</figcaption></figure>
{table4_html(report)}
<h2>Relationship between cement distribution score and VF%</h2>
<p id="spearman">Spearman correlation of the distribution score with VF%:
r = {fmt(sp.rho)}, {p_text} (n = {sp.n}); |r| &gt; 0.7 is read as a strong correlation.</p>
<figure><img src="fig_scatter.png" width="560" alt="Score against VF%">
<figcaption><b>Fig. 2</b> Scatter plot of cement distribution score and VF% (scores
jittered horizontally), with the site's optimal and the configured cut-off.</figcaption>
</figure>
</body></html>
"""
