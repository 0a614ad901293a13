"""The paper's Table 1 recomputed from its published means, SDs and counts.

χ² and p reproduce exactly from the counts. A t value can only be reproduced within
what the rounding of the published means (2 decimals) and SDs (2 decimals) allows: t is
monotonic in each of the four summary values, so its range over the rounding box is
spanned by the box's corners.
"""

from __future__ import annotations

import itertools

import pytest
from scipy import stats as sps

from node.cohort.stats import pearson_chi2, t_from_summary

N_A, N_B = 60, 90
HALF = 0.005  # half a unit of the last published decimal

# factor: (counts per category (A, B), published χ², published p)
CHI2_ROWS = {
    "Gender": ([[21, 29], [39, 61]], 0.125, 0.724),
    "Fracture segment": ([[14, 14], [37, 61], [9, 15]], 1.435, 0.488),
    "Cement leakage": ([[12, 32], [48, 58]], 4.202, 0.040),
}
# factor: (mean A, SD A, mean B, SD B, published t, published p, test SPSS reported)
T_ROWS = {
    "Age": (71.12, 7.14, 72.69, 7.52, -1.280, 0.203, "Student"),
    "BMI": (23.13, 3.92, 23.35, 3.59, -0.360, 0.720, "Student"),
    "BMD": (-3.23, 0.43, -3.06, 0.53, -2.204, 0.029, "either"),
    "Operation duration": (43.37, 4.05, 44.33, 5.03, -1.297, 0.197, "Welch"),
    "CDV": (6.39, 1.90, 8.13, 2.15, -5.216, None, "Welch"),
    "VBV": (26.49, 5.70, 26.15, 6.74, 0.322, 0.748, "Student"),
    "VF%": (24.46, 6.33, 31.44, 5.22, -7.366, None, "Student"),
}


@pytest.mark.parametrize("factor", CHI2_ROWS)
def test_chi2_and_p_reproduce_exactly(factor: str) -> None:
    counts, chi2, p = CHI2_ROWS[factor]
    result = pearson_chi2(counts)
    assert round(result.statistic, 3) == chi2
    assert round(result.p, 3) == p


def test_chi2_with_continuity_correction_would_not_match() -> None:
    # Yates' correction (scipy's default for 2x2) gives other values: the paper used none.
    chi2, _, _, _ = sps.chi2_contingency([[12, 32], [48, 58]], correction=True)
    assert round(chi2, 3) != 4.202


def t_range(row: tuple[float, ...], *, welch: bool) -> tuple[float, float]:
    mean_a, sd_a, mean_b, sd_b = row[:4]
    values = [t_from_summary(ma, sa, N_A, mb, sb, N_B, welch=welch)[0]
              for ma, sa, mb, sb in itertools.product(
                  (mean_a - HALF, mean_a + HALF), (sd_a - HALF, sd_a + HALF),
                  (mean_b - HALF, mean_b + HALF), (sd_b - HALF, sd_b + HALF))]
    return min(values), max(values)


@pytest.mark.parametrize("factor", T_ROWS)
def test_t_is_reachable_within_rounding_with_the_test_spss_reported(factor: str) -> None:
    row = T_ROWS[factor]
    published, test = row[4], row[6]
    tests = ("Student", "Welch") if test == "either" else (test,)
    for name in tests:
        low, high = t_range(row, welch=name == "Welch")
        # the published t is itself rounded to 3 decimals
        assert low - 0.0005 <= published <= high + 0.0005, (name, low, high)


@pytest.mark.parametrize("factor", ["Operation duration", "CDV"])
def test_welch_rows_are_not_student(factor: str) -> None:
    """Student's t cannot reach the published t of these rows: SPSS's Welch row was used."""
    low, high = t_range(T_ROWS[factor], welch=False)
    assert not low - 0.0005 <= T_ROWS[factor][4] <= high + 0.0005


@pytest.mark.parametrize("factor", ["Age", "BMI", "VBV", "VF%"])
def test_student_rows_at_the_rounded_values(factor: str) -> None:
    mean_a, sd_a, mean_b, sd_b, published = T_ROWS[factor][:5]
    t, df, _ = t_from_summary(mean_a, sd_a, N_A, mean_b, sd_b, N_B, welch=False)
    assert df == N_A + N_B - 2
    assert t == pytest.approx(published, abs=0.01)


def test_bmd_is_only_reachable_within_rounding() -> None:
    mean_a, sd_a, mean_b, sd_b, published = T_ROWS["BMD"][:5]
    student = t_from_summary(mean_a, sd_a, N_A, mean_b, sd_b, N_B, welch=False)[0]
    welch = t_from_summary(mean_a, sd_a, N_A, mean_b, sd_b, N_B, welch=True)[0]
    assert round(student, 3) == -2.071
    assert round(welch, 3) == -2.159
    assert abs(student - published) > 0.1 and abs(welch - published) > 0.04


@pytest.mark.parametrize("factor", T_ROWS)
def test_published_p_follows_from_published_t(factor: str) -> None:
    """Two-sided p of the published t with Student's df (148) or Welch's df."""
    mean_a, sd_a, mean_b, sd_b, t, p, test = T_ROWS[factor]
    df = t_from_summary(mean_a, sd_a, N_A, mean_b, sd_b, N_B, welch=test == "Welch")[1]
    # the published t is rounded to 3 decimals, the published p to 3 decimals
    high, low = (2 * sps.t.sf(abs(t) + d, df) for d in (-0.0005, 0.0005))
    if p is None:
        assert high < 0.001
    else:
        assert low - 0.0005 <= p <= high + 0.0005


def test_table3_p_of_bmd_is_the_null_hypothesis_standard_error() -> None:
    """SPSS's "Asymptotic Sig." of AUC 0.625 (60 vs 90) is 0.010 (Mann-Whitney normal
    approximation); DeLong's SE implied by the published CI would give 0.007."""
    se0 = ((N_A + N_B + 1) / (12 * N_A * N_B)) ** 0.5
    assert round(2 * sps.norm.sf((0.625 - 0.5) / se0), 3) == 0.010
    se_ci = (0.716 - 0.534) / (2 * 1.959964)
    assert round(2 * sps.norm.sf((0.625 - 0.5) / se_ci), 3) != 0.010


def test_table4_sensitivity_and_specificity_are_whole_cases() -> None:
    assert round(0.722 * N_B) / N_B == pytest.approx(0.722, abs=0.0005)   # 65 of 90
    assert round(0.917 * N_A) / N_A == pytest.approx(0.917, abs=0.0005)   # 55 of 60
