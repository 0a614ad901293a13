"""The statistical tests of the paper, on numpy arrays (scipy, statsmodels, scikit-learn).

Conventions follow what SPSS 26 (the paper's software) reports:
- χ²: Pearson's, without continuity correction.
- t: Levene's test (centred on the mean, as SPSS) picks Student's row (equal variances)
  when p ≥ 0.05, else Welch's; t is group A minus group B.
- ROC: AUC with DeLong's standard error and a Wald 95 % CI; the p of "AUC = 0.5" uses
  the standard error under the null hypothesis, which is the asymptotic Mann-Whitney U
  test (SPSS's "Asymptotic Sig.").
- Cut-off: Youden's J; cut-off values lie midway between consecutive observed values
  (as SPSS lists the coordinates of the curve), a case is positive when value ≥ cut-off.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from sklearn.metrics import roc_curve

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True, slots=True)
class Chi2Result:
    statistic: float
    p: float
    dof: int


@dataclass(frozen=True, slots=True)
class MeanComparison:
    """Two groups compared by t-test; ``test`` is "Student" or "Welch"."""

    mean_a: float
    sd_a: float
    n_a: int
    mean_b: float
    sd_b: float
    n_b: int
    t: float
    df: float
    p: float
    test: str
    levene_f: float
    levene_p: float


@dataclass(frozen=True, slots=True)
class RocResult:
    """ROC analysis of one predictor for group B (higher value → B)."""

    auc: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    n_pos: int
    n_neg: int
    fpr: NDArray[np.float64]
    tpr: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Cutoff:
    """Youden-optimal cut-off: positive when value ≥ ``cutoff``."""

    cutoff: float
    sensitivity: float
    specificity: float
    youden: float


@dataclass(frozen=True, slots=True)
class LogisticTerm:
    name: str
    coef: float
    odds_ratio: float
    ci_low: float
    ci_high: float
    p: float


def pearson_chi2(counts: ArrayLike) -> Chi2Result:
    """Pearson's χ² of a categories × groups table, without continuity correction."""
    table = np.asarray(counts, dtype=float)
    statistic, p, dof, _ = stats.chi2_contingency(table, correction=False)
    return Chi2Result(float(statistic), float(p), int(dof))


def compare_means(a: ArrayLike, b: ArrayLike, *, alpha: float = 0.05) -> MeanComparison:
    """Levene's test decides between Student's and Welch's t (A minus B)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    levene = stats.levene(xa, xb, center="mean")
    equal = bool(levene.pvalue >= alpha)
    result = stats.ttest_ind(xa, xb, equal_var=equal)
    return MeanComparison(
        mean_a=float(xa.mean()), sd_a=float(xa.std(ddof=1)), n_a=xa.size,
        mean_b=float(xb.mean()), sd_b=float(xb.std(ddof=1)), n_b=xb.size,
        t=float(result.statistic), df=float(result.df), p=float(result.pvalue),
        test="Student" if equal else "Welch",
        levene_f=float(levene.statistic), levene_p=float(levene.pvalue))


def t_from_summary(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float,
                   n_b: int, *, welch: bool) -> tuple[float, float, float]:
    """Student's or Welch's t, df and two-sided p from group means, SDs and sizes."""
    result = stats.ttest_ind_from_stats(mean_a, sd_a, n_a, mean_b, sd_b, n_b,
                                        equal_var=not welch)
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    df = ((va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1)) if welch
          else float(n_a + n_b - 2))
    return float(result.statistic), float(df), float(result.pvalue)


def delong_auc(values: ArrayLike, positive: ArrayLike) -> tuple[float, float]:
    """AUC and its DeLong standard error (placement values via mid-ranks, O(n log n))."""
    x, y = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    pos, neg = x[y], x[~y]
    m, n = pos.size, neg.size
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (ranks[:m] - stats.rankdata(pos)) / n        # share of negatives below each positive
    v01 = 1.0 - (ranks[m:] - stats.rankdata(neg)) / m  # share of positives above each negative
    auc = float(v10.mean())
    se = float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))
    return auc, se


def roc_analysis(values: ArrayLike, positive: ArrayLike) -> RocResult:
    """AUC, DeLong 95 % CI, p of AUC = 0.5 (Mann-Whitney U), and the curve."""
    x, y = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    auc, se = delong_auc(x, y)
    p = float(stats.mannwhitneyu(x[y], x[~y], alternative="two-sided",
                                 use_continuity=False, method="asymptotic").pvalue)
    fpr, tpr, _ = roc_curve(y, x)
    return RocResult(auc=auc, se=se, ci_low=max(0.0, auc - Z95 * se),
                     ci_high=min(1.0, auc + Z95 * se), p=p, n_pos=int(y.sum()),
                     n_neg=int((~y).sum()), fpr=fpr, tpr=tpr)


def youden_cutoff(values: ArrayLike, positive: ArrayLike) -> Cutoff:
    """The cut-off maximising sensitivity + specificity - 1 (highest cut-off on ties)."""
    x, y = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    order = np.argsort(-x, kind="mergesort")
    xs, ys = x[order], y[order]
    last = np.r_[xs[1:] != xs[:-1], True]   # last index of each distinct value
    thresholds = xs[last]
    tpr = np.cumsum(ys)[last] / ys.sum()
    fpr = np.cumsum(~ys)[last] / (~ys).sum()
    j = tpr - fpr
    i = int(np.argmax(j))
    lower = thresholds[i + 1] if i + 1 < thresholds.size else thresholds[i] - 1.0
    return Cutoff(cutoff=float((thresholds[i] + lower) / 2.0), sensitivity=float(tpr[i]),
                  specificity=float(1.0 - fpr[i]), youden=float(j[i]))


def bootstrap_cutoffs(values: ArrayLike, positive: ArrayLike, *, n_boot: int,
                      seed: int) -> NDArray[np.float64]:
    """Youden cut-offs of ``n_boot`` stratified bootstrap samples.

    Draws, from ``numpy.random.default_rng(seed)``, first the positives' indices
    (``integers(0, n_pos, (n_boot, n_pos))``) then the negatives'; each sample keeps the
    group sizes of the data.
    """
    x, y = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    pos, neg = x[y], x[~y]
    rng = np.random.default_rng(seed)
    ip = rng.integers(0, pos.size, size=(n_boot, pos.size))
    ineg = rng.integers(0, neg.size, size=(n_boot, neg.size))
    labels = np.r_[np.ones(pos.size, dtype=bool), np.zeros(neg.size, dtype=bool)]
    return np.array([youden_cutoff(np.r_[pos[ip[b]], neg[ineg[b]]], labels).cutoff
                     for b in range(n_boot)])


def sensitivity_specificity(values: ArrayLike, positive: ArrayLike,
                            cutoff: float) -> tuple[float, float]:
    """Sensitivity and specificity of "value ≥ cutoff → positive"."""
    x, y = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    called = x >= cutoff
    return float(called[y].mean()), float((~called[~y]).mean())


class LogisticFitError(ValueError):
    """The logistic model cannot be estimated on these data."""


def logistic_regression(columns: Sequence[ArrayLike], names: Sequence[str],
                        outcome: ArrayLike) -> list[LogisticTerm]:
    """Multivariable logistic regression (statsmodels Logit, intercept added).

    Returns one term per column (the intercept is not listed): OR = exp(coef), its
    Wald 95 % CI and p.

    Raises
    ------
    LogisticFitError
        On perfect separation, a singular design or no convergence.
    """
    design = sm.add_constant(np.column_stack([np.asarray(c, dtype=float) for c in columns]),
                             has_constant="add")
    y = np.asarray(outcome, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            fit = sm.Logit(y, design).fit(disp=0, maxiter=200)
        except (np.linalg.LinAlgError, Warning, ValueError) as exc:
            raise LogisticFitError(f"the model must be estimable. Found: {exc}") from exc
    if not fit.mle_retvals.get("converged", False):
        raise LogisticFitError("the model must converge. Found no convergence in 200 steps.")
    ci = np.asarray(fit.conf_int(0.05))
    params, pvalues = np.asarray(fit.params), np.asarray(fit.pvalues)
    return [LogisticTerm(name=name, coef=float(params[i + 1]),
                         odds_ratio=float(np.exp(params[i + 1])),
                         ci_low=float(np.exp(ci[i + 1, 0])), ci_high=float(np.exp(ci[i + 1, 1])),
                         p=float(pvalues[i + 1]))
            for i, name in enumerate(names)]


def spearman(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Spearman's rank correlation and its two-sided p."""
    result = stats.spearmanr(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return float(result.statistic), float(result.pvalue)
