"""The cohort statistics against independent computations on seeded data."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from sklearn.metrics import roc_auc_score, roc_curve

from node.cohort import stats
from node.cohort.report import CohortTooSmallError, build_report
from node.cohort.types import CohortCase


def data(seed: int = 3, n_pos: int = 40, n_neg: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(30, 5, n_pos), rng.normal(25, 6, n_neg)].round(1)  # ties on purpose
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    return x, y


def delong_pairwise(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) from the O(m·n) kernel matrix: an independent implementation."""
    pos, neg = x[y], x[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = np.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)
    return float(psi.mean()), float(se)


def test_delong_matches_the_pairwise_definition() -> None:
    x, y = data()
    auc, se = stats.delong_auc(x, y)
    ref_auc, ref_se = delong_pairwise(x, y)
    assert auc == pytest.approx(ref_auc, rel=1e-12)
    assert auc == pytest.approx(roc_auc_score(y, x), rel=1e-12)
    assert se == pytest.approx(ref_se, rel=1e-12)


def test_roc_p_is_mann_whitney_and_ci_is_wald() -> None:
    x, y = data()
    roc = stats.roc_analysis(x, y)
    u = sps.mannwhitneyu(x[y], x[~y], use_continuity=False, method="asymptotic")
    assert roc.p == pytest.approx(u.pvalue, rel=1e-12)
    assert roc.ci_low == pytest.approx(roc.auc - 1.959963984540054 * roc.se, rel=1e-12)


def test_youden_matches_sklearn_roc_curve() -> None:
    for seed in range(5):
        x, y = data(seed)
        fpr, tpr, thr = roc_curve(y, x, drop_intermediate=False)
        i = int(np.argmax(tpr - fpr))
        below = x[x < thr[i]]
        expected = (thr[i] + (below.max() if below.size else thr[i] - 1)) / 2
        cut = stats.youden_cutoff(x, y)
        assert cut.cutoff == pytest.approx(expected, rel=1e-12)
        assert (cut.sensitivity, 1 - cut.specificity) == pytest.approx((tpr[i], fpr[i]))
        assert stats.sensitivity_specificity(x, y, cut.cutoff) == pytest.approx(
            (cut.sensitivity, cut.specificity))


def test_levene_picks_welch_for_unequal_variances() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 50), rng.normal(0.3, 4, 80)
    result = stats.compare_means(a, b)
    assert result.test == "Welch"
    assert result.t == pytest.approx(sps.ttest_ind(a, b, equal_var=False).statistic)
    same = stats.compare_means(a, rng.normal(0.3, 1, 80))
    assert same.test == "Student" and same.df == 128


def test_logistic_matches_statsmodels_formula_fit() -> None:
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(0, 1, 200), rng.normal(5, 2, 200)
    y = rng.random(200) < 1 / (1 + np.exp(-(0.5 + 1.2 * x1 - 0.3 * (x2 - 5))))
    terms = stats.logistic_regression([x1, x2], ["x1", "x2"], y)
    fit = sm.GLM(y.astype(float), sm.add_constant(np.c_[x1, x2]),
                 family=sm.families.Binomial()).fit()
    assert [t.odds_ratio for t in terms] == pytest.approx(np.exp(fit.params[1:]), rel=1e-6)
    assert [t.p for t in terms] == pytest.approx(fit.pvalues[1:], rel=1e-3)  # IRLS vs Newton


def test_logistic_refuses_perfect_separation() -> None:
    x = np.arange(20.0)
    with pytest.raises(stats.LogisticFitError, match=r"must be estimable|must converge"):
        stats.logistic_regression([x], ["x"], x >= 10)


def case(i: int, score: int, vf: float) -> CohortCase:
    return CohortCase(str(i), score, "F", 70.0, 23.0, -3.0, "T11–L2", False, 40.0, 5.0,
                      25.0, vf)


def test_too_few_cases_give_a_clear_message() -> None:
    cases = [case(i, 9, 30.0 + i) for i in range(12)]
    with pytest.raises(CohortTooSmallError, match=r"at least 5 cases in each group .* "
                                                  r"Found A = 0, B = 12"):
        build_report(cases, configured_cutoff=28.58)


def test_case_rejects_scores_outside_the_scale() -> None:
    with pytest.raises(ValueError, match=r'"score_total" must be within 0..10. Found 11'):
        case(0, 11, 20.0)
