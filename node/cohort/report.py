"""Build the paper's analysis (Tables 1-4, Spearman) from cohort cases; no I/O here.

``build_report(cases, configured_cutoff=28.58)`` returns a ``CohortReport``; writing it
as HTML, CSV and PNG is ``node.cohort.render``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from node.cohort import stats
from node.cohort.types import SEGMENTS, CohortCase
from node.errors import VfnodeError

MIN_PER_GROUP = 5
ALPHA = 0.05
N_BOOT = 2000
SEED = 20190101


class CohortTooSmallError(VfnodeError, ValueError):
    """Too few cases, or a group without members, for the paper's analysis."""


@dataclass(frozen=True, slots=True)
class ContinuousRow:
    factor: str
    comparison: stats.MeanComparison | None
    message: str = ""


@dataclass(frozen=True, slots=True)
class CategoricalRow:
    factor: str
    levels: tuple[str, ...]
    counts_a: tuple[int, ...]
    counts_b: tuple[int, ...]
    chi2: stats.Chi2Result | None
    message: str = ""

    @property
    def p(self) -> float | None:
        return self.chi2.p if self.chi2 else None


@dataclass(frozen=True, slots=True)
class Table2:
    factors: tuple[str, ...]      # Table 1 factors with p < 0.05
    terms: tuple[stats.LogisticTerm, ...]
    n: int
    message: str = ""


@dataclass(frozen=True, slots=True)
class RocRow:
    factor: str
    roc: stats.RocResult | None
    message: str = ""


@dataclass(frozen=True, slots=True)
class CutoffTable:
    """Table 4: the site's Youden cut-off of VF% and the configured one on the same cases."""

    optimal: stats.Cutoff
    ci_low: float
    ci_high: float
    n_boot: int
    seed: int
    configured: float
    configured_sensitivity: float
    configured_specificity: float


@dataclass(frozen=True, slots=True)
class SpearmanResult:
    rho: float
    p: float
    n: int


@dataclass(frozen=True, slots=True)
class CohortReport:
    n: int
    n_a: int
    n_b: int
    table1: tuple[ContinuousRow | CategoricalRow, ...]
    table2: Table2
    table3: tuple[RocRow, ...]
    table4: CutoffTable
    spearman: SpearmanResult
    scores: NDArray[np.int64] = field(repr=False)
    vf_pct: NDArray[np.float64] = field(repr=False)
    notes: tuple[str, ...] = ()


# Table 1 in the paper's order: (label, kind, getter); categorical getters return a level.
CONTINUOUS: dict[str, Callable[[CohortCase], float | None]] = {
    "Age (years)": lambda c: c.age_years,
    "BMI (kg/m²)": lambda c: c.bmi,
    "BMD (T score)": lambda c: c.bmd_t_score,
    "Operation duration (mins)": lambda c: c.operation_minutes,
    "CDV (ml)": lambda c: c.cdv_ml,
    "VBV (ml)": lambda c: c.vbv_ml,
    "VF% (%)": lambda c: c.vf_pct,
}
CATEGORICAL: dict[str, tuple[tuple[str, ...], Callable[[CohortCase], str | None]]] = {
    "Gender": (("Male", "Female"),
               lambda c: {"M": "Male", "F": "Female"}.get(c.sex or "")),
    "Fracture segment": (SEGMENTS, lambda c: c.segment),
    "Cement leakage": (("Leakage", "No leakage"),
                       lambda c: None if c.leakage is None
                       else ("Leakage" if c.leakage else "No leakage")),
}
ORDER = ("Gender", "Age (years)", "BMI (kg/m²)", "BMD (T score)", "Fracture segment",
         "Cement leakage", "Operation duration (mins)", "CDV (ml)", "VBV (ml)", "VF% (%)")


def check_size(cases: Sequence[CohortCase], minimum: int = MIN_PER_GROUP) -> None:
    """Refuse a cohort with fewer than ``minimum`` cases in either group."""
    n_b = sum(c.group_b for c in cases)
    n_a = len(cases) - n_b
    if min(n_a, n_b) < minimum:
        raise CohortTooSmallError(
            f"The cohort analysis needs at least {minimum} cases in each group "
            f"(A: score 0–7, B: score 8–10). Found A = {n_a}, B = {n_b} among "
            f"{len(cases)} case(s).")


def build_report(cases: Sequence[CohortCase], *, configured_cutoff: float,
                 n_boot: int = N_BOOT, seed: int = SEED) -> CohortReport:
    """The paper's univariate, multivariable, ROC, cut-off and correlation analysis.

    Raises
    ------
    CohortTooSmallError
        Fewer than ``MIN_PER_GROUP`` cases in a group.
    """
    check_size(cases)
    table1 = tuple(table1_row(cases, name) for name in ORDER)
    y = np.array([c.group_b for c in cases])
    vf = np.array([c.vf_pct for c in cases])
    scores = np.array([c.score_total for c in cases])
    rho, p = stats.spearman(scores, vf)
    return CohortReport(
        n=len(cases), n_a=int((~y).sum()), n_b=int(y.sum()), table1=table1,
        table2=table2(cases, table1), table3=table3(cases),
        table4=cutoff_table(vf, y, configured=configured_cutoff, n_boot=n_boot, seed=seed),
        spearman=SpearmanResult(rho, p, len(cases)), scores=scores, vf_pct=vf,
        notes=_notes(cases))


def table1_row(cases: Sequence[CohortCase], name: str) -> ContinuousRow | CategoricalRow:
    if name in CONTINUOUS:
        get = CONTINUOUS[name]
        a = [v for c in cases if not c.group_b and (v := get(c)) is not None]
        b = [v for c in cases if c.group_b and (v := get(c)) is not None]
        if min(len(a), len(b)) < 2:
            return ContinuousRow(name, None, f"not enough data (A: {len(a)}, B: {len(b)})")
        return ContinuousRow(name, stats.compare_means(a, b, alpha=ALPHA))
    levels, getter = CATEGORICAL[name]
    counts_a = tuple(sum(1 for c in cases if not c.group_b and getter(c) == lv)
                     for lv in levels)
    counts_b = tuple(sum(1 for c in cases if c.group_b and getter(c) == lv) for lv in levels)
    table = np.array([counts_a, counts_b]).T
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or (table.sum(axis=0) == 0).any():
        return CategoricalRow(name, levels, counts_a, counts_b, None,
                              "not testable (fewer than two categories observed)")
    return CategoricalRow(name, levels, counts_a, counts_b, stats.pearson_chi2(table))


def _p(row: ContinuousRow | CategoricalRow) -> float | None:
    if isinstance(row, ContinuousRow):
        return row.comparison.p if row.comparison else None
    return row.p


def table2(cases: Sequence[CohortCase], table1: Sequence[ContinuousRow | CategoricalRow],
           ) -> Table2:
    """Logistic regression of group B on the Table 1 factors with p < 0.05."""
    chosen = tuple(r.factor for r in table1 if (p := _p(r)) is not None and p < ALPHA)
    if not chosen:
        return Table2((), (), 0, "No factor of Table 1 has p < 0.05; no model was fitted.")
    complete = [c for c in cases if all(_covariates(c, f) is not None for f in chosen)]
    names: list[str] = []
    columns: list[list[float]] = []
    for factor in chosen:
        terms = _term_names(factor)
        values = [_covariates(c, factor) or [] for c in complete]
        for k, term in enumerate(terms):
            names.append(term)
            columns.append([v[k] for v in values])
    y = [c.group_b for c in complete]
    if min(sum(y), len(y) - sum(y)) < 2 or len(complete) <= len(names) + 1:
        return Table2(chosen, (), len(complete),
                      f"Too few complete cases ({len(complete)}) for {len(names)} factor(s).")
    try:
        terms_fit = stats.logistic_regression(columns, names, y)
    except stats.LogisticFitError as exc:
        return Table2(chosen, (), len(complete), f"The model was not fitted: {exc}")
    return Table2(chosen, tuple(terms_fit), len(complete))


def _term_names(factor: str) -> list[str]:
    if factor == "Gender":
        return ["Gender (female)"]
    if factor == "Cement leakage":
        return ["Cement leakage"]
    if factor == "Fracture segment":
        return [f"Segment {SEGMENTS[0]} (vs {SEGMENTS[1]})",
                f"Segment {SEGMENTS[2]} (vs {SEGMENTS[1]})"]
    return [factor.split(" (")[0]]


def _covariates(case: CohortCase, factor: str) -> list[float] | None:
    """The design-matrix entries of one factor for one case (None when missing)."""
    if factor in CONTINUOUS:
        value = CONTINUOUS[factor](case)
        return None if value is None else [float(value)]
    level = CATEGORICAL[factor][1](case)
    if level is None:
        return None
    if factor == "Fracture segment":
        return [float(level == SEGMENTS[0]), float(level == SEGMENTS[2])]
    return [float(level in ("Female", "Leakage"))]


def table3(cases: Sequence[CohortCase]) -> tuple[RocRow, ...]:
    """ROC of BMD and VF% for group B."""
    rows = []
    for factor, get in (("BMD", CONTINUOUS["BMD (T score)"]), ("VF%", CONTINUOUS["VF% (%)"])):
        known = [(v, c.group_b) for c in cases if (v := get(c)) is not None]
        positives = sum(g for _, g in known)
        if min(positives, len(known) - positives) < 2:
            rows.append(RocRow(factor, None, f"not enough data ({len(known)} cases with "
                                             f"{factor})"))
            continue
        values, labels = zip(*known, strict=True)
        rows.append(RocRow(factor, stats.roc_analysis(values, labels)))
    return tuple(rows)


def cutoff_table(vf: NDArray[np.float64], group_b: NDArray[np.bool_], *, configured: float,
                 n_boot: int, seed: int) -> CutoffTable:
    optimal = stats.youden_cutoff(vf, group_b)
    boot = stats.bootstrap_cutoffs(vf, group_b, n_boot=n_boot, seed=seed)
    low, high = np.percentile(boot, [2.5, 97.5])
    sens, spec = stats.sensitivity_specificity(vf, group_b, configured)
    return CutoffTable(optimal, float(low), float(high), n_boot, seed, configured, sens, spec)


def _notes(cases: Sequence[CohortCase]) -> tuple[str, ...]:
    notes = []
    for name in ("BMD (T score)", "Operation duration (mins)", "BMI (kg/m²)", "Age (years)"):
        missing = sum(CONTINUOUS[name](c) is None for c in cases)
        if missing:
            notes.append(f"{name.split(' (')[0]} unknown for {missing} of {len(cases)} cases.")
    return tuple(notes)
