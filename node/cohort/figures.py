"""The report's two figures, drawn like the paper's Fig. 4 (ROC) and Fig. 5 (scatter).

Uses matplotlib's object API (no pyplot state), so it is safe in worker threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from node.cohort.report import CohortReport

COLOURS = {"VF%": "#1f4e79", "BMD": "#c0504d"}


def roc_figure(report: CohortReport, path: Path) -> Path:
    """ROC curves of BMD and VF% for group B, the Youden point of VF% marked."""
    fig = Figure(figsize=(5.6, 5.4), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for row in sorted(report.table3, key=lambda r: r.factor != "VF%"):
        if row.roc is None:
            continue
        ax.plot(row.roc.fpr, row.roc.tpr, lw=1.8, color=COLOURS[row.factor],
                label=f"{row.factor}  (AUC {row.roc.auc:.3f})")
    cut = report.table4.optimal
    ax.plot(1 - cut.specificity, cut.sensitivity, "o", ms=7, mfc="white", mew=1.8,
            color=COLOURS["VF%"])
    ax.annotate(f"VF% ≥ {cut.cutoff:.2f} %\nsens. {cut.sensitivity:.3f}, "
                f"spec. {cut.specificity:.3f}",
                (1 - cut.specificity, cut.sensitivity), xytext=(18, -34),
                textcoords="offset points", fontsize=8,
                arrowprops={"arrowstyle": "-", "lw": 0.8, "color": "0.3"})
    ax.plot([0, 1], [0, 1], color="0.55", lw=1, ls="--", label="Reference line")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal", xlabel="1 − Specificity",
           ylabel="Sensitivity")
    ax.set_title("ROC curves of BMD and VF% (group B: score 8–10)", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.grid(color="0.9", lw=0.6)
    fig.tight_layout()
    fig.savefig(path)
    return path


def scatter_figure(report: CohortReport, path: Path, *, seed: int = 0) -> Path:
    """Distribution score against VF%, with the site and the configured cut-offs."""
    fig = Figure(figsize=(6.4, 4.6), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    jitter = np.random.default_rng(seed).uniform(-0.14, 0.14, report.scores.size)
    for label, mask, colour in (("Group A (0–7)", report.scores < 8, "#c0504d"),
                                ("Group B (8–10)", report.scores >= 8, "#1f4e79")):
        ax.scatter(report.scores[mask] + jitter[mask], report.vf_pct[mask], s=16,
                   alpha=0.75, color=colour, edgecolors="none", label=label)
    t4 = report.table4
    ax.axhline(t4.optimal.cutoff, color="0.2", lw=1, ls="--",
               label=f"Site cut-off {t4.optimal.cutoff:.2f} %")
    ax.axhline(t4.configured, color="0.55", lw=1, ls=":",
               label=f"Configured cut-off {t4.configured:.2f} %")
    sp = report.spearman
    p_text = "p < 0.001" if sp.p < 0.001 else f"p = {sp.p:.3f}"
    ax.text(0.02, 0.97, f"Spearman r = {sp.rho:.3f}, {p_text}, n = {sp.n}",
            transform=ax.transAxes, va="top", fontsize=9)
    ax.set(xlim=(-0.5, 10.5), xticks=range(11), xlabel="Cement distribution score",
           ylabel="VF% (%)")
    ax.set_title("Cement distribution score and VF%", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.grid(color="0.9", lw=0.6)
    fig.tight_layout()
    fig.savefig(path)
    return path
