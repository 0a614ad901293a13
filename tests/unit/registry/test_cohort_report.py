"""``vfnode cohort report`` on the 150-case synthetic registry: produced in under 30 s, and
every number of every table checked against scipy / statsmodels / scikit-learn computed
here directly from the synthetic cases as they were generated (not from the registry)."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from sklearn.metrics import roc_auc_score, roc_curve

from node.cohort.synthetic import SyntheticCase, synthetic_cohort
from node.registry import Registry
from node.registry.synthetic import populate

from .cli_harness import settings_for, vfnode

SEGMENT = {"T6": 0, "T7": 0, "T8": 0, "T9": 0, "T10": 0, "T11": 1, "T12": 1, "L1": 1,
           "L2": 1, "L3": 2, "L4": 2, "L5": 2}


@pytest.fixture(scope="module")
def generated() -> list[SyntheticCase]:
    return synthetic_cohort()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory,
           generated: list[SyntheticCase]) -> tuple[Path, float]:
    folder = tmp_path_factory.mktemp("cohort")
    settings = settings_for(folder)
    with Registry(settings.registry_url) as registry:
        populate(registry, generated)
    started = time.perf_counter()
    assert vfnode(["cohort", "report", "--out", str(folder / "out")], settings) == 0
    return folder / "out", time.perf_counter() - started


def truth(cases: list[SyntheticCase]) -> dict[str, np.ndarray]:
    """The analysis variables straight from the generator's objects."""
    lv = [c.result.levels[0] for c in cases]
    cl = [c.clinical for c in cases]
    size = np.array([float(c.header.PatientSize) for c in cases])
    weight = np.array([float(c.header.PatientWeight) for c in cases])
    bmi = np.array([float(x["bmi"]) if x["bmi"] else np.nan for x in cl])
    return {
        "b": np.array([v.score.total >= 8 for v in lv]),
        "score": np.array([v.score.total for v in lv]),
        "female": np.array([c.header.PatientSex == "F" for c in cases]),
        "age": np.array([float(c.header.PatientAge[:3]) for c in cases]),
        "bmi": np.where(np.isnan(bmi), weight / size**2, bmi),
        "bmd": np.array([float(x["bmd_t_score"]) for x in cl]),
        "segment": np.array([SEGMENT[v.level or ""] for v in lv]),
        "leakage": np.array([x["cement_leakage"] == "yes" for x in cl]),
        "operation": np.array([float(x["operation_minutes"]) for x in cl]),
        "cdv": np.array([v.cdv_ml for v in lv]),
        "vbv": np.array([v.vbv_ml for v in lv]),
        "vf": np.array([v.vf_pct for v in lv]),
    }


def read(out: Path, name: str) -> list[dict[str, str]]:
    with (out / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def num(text: str) -> float:
    return float(text)


CONTINUOUS = {"Age (years)": "age", "BMI (kg/m²)": "bmi", "BMD (T score)": "bmd",
              "Operation duration (mins)": "operation", "CDV (ml)": "cdv",
              "VBV (ml)": "vbv", "VF% (%)": "vf"}


def expected_t(x: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    lev = sps.levene(x[~b], x[b], center="mean")
    equal = lev.pvalue >= 0.05
    t = sps.ttest_ind(x[~b], x[b], equal_var=equal)
    return {"t": t.statistic, "p": t.pvalue, "df": t.df, "levene_p": lev.pvalue,
            "test": "Student t" if equal else "Welch t",
            "a_mean": x[~b].mean(), "a_sd": x[~b].std(ddof=1), "b_mean": x[b].mean(),
            "b_sd": x[b].std(ddof=1)}


def test_report_is_written_in_under_30_seconds(report: tuple[Path, float]) -> None:
    out, seconds = report
    assert seconds < 30
    for name in ("report.html", "fig_roc.png", "fig_scatter.png", "table1.csv",
                 "table2.csv", "table3.csv", "table4.csv", "spearman.csv"):
        assert (out / name).stat().st_size > 500 or name.endswith(".csv")


def test_table1_every_number(report: tuple[Path, float],
                             generated: list[SyntheticCase]) -> None:
    out, _ = report
    v = truth(generated)
    b = v["b"]
    rows = {(r["factor"], r["level"]): r for r in read(out, "table1")}
    for factor, key in CONTINUOUS.items():
        row, want = rows[(factor, "")], expected_t(v[key], b)
        assert row["test"] == want["test"], factor
        assert num(row["statistic"]) == pytest.approx(want["t"], rel=1e-9), factor
        for name in ("p", "df", "levene_p", "a_mean", "a_sd", "b_mean", "b_sd"):
            assert num(row[name]) == pytest.approx(want[name], rel=1e-9), (factor, name)
        assert (int(row["a_n"]), int(row["b_n"])) == ((~b).sum(), b.sum())
    categorical = {
        "Gender": (["Male", "Female"], v["female"].astype(int)),
        "Fracture segment": (["T1–T10", "T11–L2", "L3–L5"], v["segment"]),
        "Cement leakage": (["Leakage", "No leakage"], (~v["leakage"]).astype(int)),
    }
    for factor, (levels, codes) in categorical.items():
        table = np.array([[np.sum((codes == k) & ~b), np.sum((codes == k) & b)]
                          for k in range(len(levels))])
        chi2, p, dof, _ = sps.chi2_contingency(table, correction=False)
        head = rows[(factor, "")]
        assert (num(head["statistic"]), num(head["p"]), int(head["df"])) == pytest.approx(
            (chi2, p, dof), rel=1e-9)
        for k, level in enumerate(levels):
            row = rows[(factor, level)]
            assert (int(row["a_n"]), int(row["b_n"])) == tuple(table[k])
            assert num(row["a_pct"]) == pytest.approx(100 * table[k, 0] / (~b).sum())
            assert num(row["b_pct"]) == pytest.approx(100 * table[k, 1] / b.sum())


def test_table2_is_the_logit_of_the_significant_factors(
        report: tuple[Path, float], generated: list[SyntheticCase]) -> None:
    out, _ = report
    v = truth(generated)
    b = v["b"]
    chosen = [key for key in CONTINUOUS.values() if expected_t(v[key], b)["p"] < 0.05]
    columns = {key: v[key] for key in chosen}
    leak = sps.chi2_contingency([[np.sum(v["leakage"] & ~b), np.sum(v["leakage"] & b)],
                                 [np.sum(~v["leakage"] & ~b), np.sum(~v["leakage"] & b)]],
                                correction=False)[1]
    if leak < 0.05:
        columns["leakage"] = v["leakage"].astype(float)
    order = ["age", "bmi", "bmd", "leakage", "operation", "cdv", "vf"]  # Table 1's order
    names = [k for k in order if k in columns]
    fit = sm.Logit(b.astype(float), sm.add_constant(np.column_stack(
        [columns[k] for k in names]))).fit(disp=0)
    rows = read(out, "table2")
    assert len(rows) == len(names)
    ci = np.exp(np.asarray(fit.conf_int()))
    for i, row in enumerate(rows, start=1):
        assert num(row["odds_ratio"]) == pytest.approx(np.exp(fit.params[i]), rel=1e-6)
        assert (num(row["ci_low"]), num(row["ci_high"])) == pytest.approx(tuple(ci[i]),
                                                                          rel=1e-6)
        assert num(row["p"]) == pytest.approx(fit.pvalues[i], rel=1e-5)
        assert int(row["n"]) == b.size


def test_table3_auc_delong_ci_and_p(report: tuple[Path, float],
                                    generated: list[SyntheticCase]) -> None:
    out, _ = report
    v = truth(generated)
    b = v["b"]
    rows = {r["factor"]: r for r in read(out, "table3")}
    for factor, key in (("BMD", "bmd"), ("VF%", "vf")):
        x = v[key]
        pos, neg = x[b], x[~b]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        se = np.sqrt(psi.mean(1).var(ddof=1) / pos.size + psi.mean(0).var(ddof=1) / neg.size)
        auc = roc_auc_score(b, x)
        p = sps.mannwhitneyu(pos, neg, use_continuity=False, method="asymptotic").pvalue
        row = rows[factor]
        assert num(row["auc"]) == pytest.approx(auc, rel=1e-12)
        assert num(row["se"]) == pytest.approx(se, rel=1e-9)
        assert num(row["ci_low"]) == pytest.approx(auc - sps.norm.ppf(0.975) * se, rel=1e-9)
        assert num(row["ci_high"]) == pytest.approx(auc + sps.norm.ppf(0.975) * se, rel=1e-9)
        assert num(row["p"]) == pytest.approx(p, rel=1e-9)


def sklearn_youden(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    fpr, tpr, thr = roc_curve(y, x, drop_intermediate=False)
    i = int(np.argmax(tpr - fpr))
    below = x[x < thr[i]]
    return (thr[i] + (below.max() if below.size else thr[i] - 1)) / 2, tpr[i], 1 - fpr[i]


def test_table4_cutoff_and_its_bootstrap_ci(report: tuple[Path, float],
                                            generated: list[SyntheticCase]) -> None:
    out, _ = report
    v = truth(generated)
    x, y = v["vf"], v["b"]
    optimal, configured = read(out, "table4")
    cut, sens, spec = sklearn_youden(x, y)
    assert (num(optimal["cutoff"]), num(optimal["sensitivity"]),
            num(optimal["specificity"])) == pytest.approx((cut, sens, spec), rel=1e-12)
    rng = np.random.default_rng(int(optimal["seed"]))
    n_boot = int(optimal["n_boot"])
    pos, neg = x[y], x[~y]
    ip = rng.integers(0, pos.size, (n_boot, pos.size))
    ineg = rng.integers(0, neg.size, (n_boot, neg.size))
    labels = np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)]
    cuts = [sklearn_youden(np.r_[pos[ip[k]], neg[ineg[k]]], labels)[0] for k in range(n_boot)]
    assert (num(optimal["ci_low"]), num(optimal["ci_high"])) == pytest.approx(
        tuple(np.percentile(cuts, [2.5, 97.5])), rel=1e-12)
    assert num(configured["cutoff"]) == 28.58
    assert num(configured["sensitivity"]) == pytest.approx((pos >= 28.58).mean())
    assert num(configured["specificity"]) == pytest.approx((neg < 28.58).mean())


def test_spearman(report: tuple[Path, float], generated: list[SyntheticCase]) -> None:
    out, _ = report
    v = truth(generated)
    (row,) = read(out, "spearman")
    rho, p = sps.spearmanr(v["score"], v["vf"])
    assert (num(row["rho"]), num(row["p"]), int(row["n"])) == pytest.approx((rho, p, 150),
                                                                            rel=1e-12)


def test_html_shows_the_csv_numbers_rounded(report: tuple[Path, float]) -> None:
    out, _ = report
    html = (out / "report.html").read_text()

    def shown(value: str, digits: int = 3) -> str:
        text = f"{float(value):.{digits}f}"
        return text.replace("-", "−")

    for row in read(out, "table1"):
        if row["statistic"]:
            assert f"<td>{shown(row['statistic'])}</td>" in html
        if row["a_mean"]:
            assert f"{shown(row['a_mean'], 2)} ± {shown(row['a_sd'], 2)}" in html
            assert f"{row['test']} (Levene p" in html
    for row in read(out, "table2"):
        assert f"<td>{shown(row['odds_ratio'])}</td><td>{shown(row['ci_low'])}</td>" in html
    for row in read(out, "table3"):
        assert f">{row['factor']}</td><td>{shown(row['auc'])}</td>" in html
    optimal = read(out, "table4")[0]
    assert f"{shown(optimal['ci_low'], 2)} – {shown(optimal['ci_high'], 2)}" in html
    assert f"r = {shown(read(out, 'spearman')[0]['rho'])}" in html
