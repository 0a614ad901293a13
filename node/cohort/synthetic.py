"""A seeded synthetic cohort shaped like the paper's 150 patients (for demos and tests).

Group sizes, the score distribution, sex, fracture segments and leakage counts are the
paper's exactly; continuous factors are drawn around its Table 1 means and SDs; VF% rises
with the score so that the correlation is strong as in the paper. Nothing here is real
patient data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
from pydicom import Dataset
from pydicom.uid import generate_uid

from node.analysis.types import (
    Extravertebral,
    LevelResult,
    Parameters,
    Score,
    SeriesResult,
)

# The paper's "Results": number of cases with each distribution score.
SCORE_COUNTS = {2: 2, 3: 5, 4: 7, 5: 10, 6: 15, 7: 21, 8: 37, 9: 32, 10: 21}
# Table 1 counts per group (A, B).
MALES = (21, 29)
SEGMENT_COUNTS = ((14, 37, 9), (14, 61, 15))
LEAKAGE = (12, 32)
SEGMENT_LEVELS = (("T6", "T7", "T8", "T9", "T10"), ("T11", "T12", "L1", "L2"),
                  ("L3", "L4", "L5"))
# (mean, SD) per group (A, B) from Table 1.
AGE = ((71.12, 7.14), (72.69, 7.52))
BMI = ((23.13, 3.92), (23.35, 3.59))
BMD = ((-3.23, 0.43), (-3.06, 0.53))
OPERATION = ((43.37, 4.05), (44.33, 5.03))
START = dt.date(2019, 1, 1)
DAYS = (dt.date(2021, 2, 28) - START).days


@dataclass(frozen=True, slots=True)
class SyntheticCase:
    """One synthetic patient: the result record, one CT header and the clinical row."""

    result: SeriesResult
    header: Dataset
    clinical: dict[str, str]


def synthetic_cohort(seed: int = 1) -> list[SyntheticCase]:
    """The 150 synthetic cases (60 in group A, 90 in group B), reproducible by seed."""
    rng = np.random.default_rng(seed)
    scores = np.array([s for s, k in SCORE_COUNTS.items() for _ in range(k)])
    rng.shuffle(scores)
    cases = []
    per_group = {g: _group_draws(rng, g, int(((scores >= 8) == bool(g)).sum()))
                 for g in (0, 1)}
    taken = {0: 0, 1: 0}
    for i, score in enumerate(scores):
        g = int(score >= 8)
        draw = {k: v[taken[g]] for k, v in per_group[g].items()}
        taken[g] += 1
        cases.append(_case(rng, i, int(score), draw, seed))
    return cases


def _group_draws(rng: np.random.Generator, g: int, n: int) -> dict[str, np.ndarray]:
    def exact(counts: tuple[int, ...], labels: tuple[object, ...]) -> np.ndarray:
        values = np.array([lab for lab, k in zip(labels, counts, strict=True)
                           for _ in range(k)], dtype=object)
        rng.shuffle(values)
        return values

    return {
        "sex": exact((MALES[g], n - MALES[g]), ("M", "F")),
        "segment": exact(SEGMENT_COUNTS[g], (0, 1, 2)),
        "leakage": exact((LEAKAGE[g], n - LEAKAGE[g]), (True, False)),
        "age": np.clip(rng.normal(*AGE[g], n).round(), 50, 95),
        "bmi": np.clip(rng.normal(*BMI[g], n), 15, 38).round(1),
        "bmd": np.minimum(rng.normal(*BMD[g], n), -2.5).round(1),
        "operation": np.clip(rng.normal(*OPERATION[g], n).round(), 25, 80),
    }


def _case(rng: np.random.Generator, i: int, score: int, draw: dict[str, object],
          seed: int) -> SyntheticCase:
    level = str(rng.choice(SEGMENT_LEVELS[int(str(draw["segment"]))]))
    vbv = round(float(np.clip(rng.normal(26.3, 6.2), 12.0, 45.0)), 2)
    vf_target = float(np.clip(10.0 + 2.3 * score + rng.normal(0.0, 3.5), 4.0, 60.0))
    cdv = round(vbv * vf_target / 100.0, 2)
    vf = round(100.0 * cdv / vbv, 2)
    leak = bool(draw["leakage"])
    paravertebral = round(float(rng.uniform(0.06, 0.8)), 3) if leak else 0.0
    needle = round(float(rng.uniform(0.0, 0.1)), 3)
    level_result = LevelResult(
        level=level, centroid_mm=(0.0, 20.0, float(-300 + 30 * i % 200)), vbv_ml=vbv,
        cdv_ml=cdv, vf_pct=vf, extensive_expected=vf >= Parameters().vf_cutoff_pct,
        extravertebral_ml=Extravertebral(needle_tract=needle, paravertebral=paravertebral),
        leakage=leak, score=_split_score(rng, score))
    study_uid = generate_uid(entropy_srcs=[f"synthetic-study-{seed}-{i}"])
    series_uid = generate_uid(entropy_srcs=[f"synthetic-series-{seed}-{i}"])
    result = SeriesResult(study_uid, series_uid, "synthetic", Parameters(), (),
                          (level_result,))
    study_date = START + dt.timedelta(days=int(rng.integers(0, DAYS)))
    size = round(float(rng.normal(1.60, 0.08)), 2)
    header = _header(i, draw, study_uid, series_uid, study_date, size,
                     weight=round(float(draw["bmi"]) * size**2, 1))  # type: ignore[arg-type]
    return SyntheticCase(result, header, _clinical(rng, i, draw, level, study_date, cdv))


def _split_score(rng: np.random.Generator, total: int) -> Score:
    options = [(c, s, total - c - s) for c in range(4) for s in range(4)
               if 0 <= total - c - s <= 4]
    return Score(*options[int(rng.integers(0, len(options)))])


def _header(i: int, draw: dict[str, object], study_uid: str, series_uid: str,
            study_date: dt.date, size: float, weight: float) -> Dataset:
    ds = Dataset()
    ds.PatientID = f"SYN{i:04d}"
    ds.PatientName = f"Synthetic^Case{i:03d}"
    ds.PatientSex = str(draw["sex"])
    ds.PatientAge = f"{int(float(str(draw['age']))):03d}Y"
    ds.PatientSize = f"{size:.2f}"
    ds.PatientWeight = f"{weight:.1f}"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.AccessionNumber = f"ACC{i:05d}"
    ds.StudyDescription = "CT SPINE POST PVP"
    ds.SeriesDescription = "Spine 0.625 mm"
    ds.SeriesNumber = 3
    ds.Modality = "CT"
    return ds


def _clinical(rng: np.random.Generator, i: int, draw: dict[str, object], level: str,
              study_date: dt.date, cdv: float) -> dict[str, str]:
    by_accession = i % 10 != 0  # every tenth row is keyed by patient ID and study date
    return {
        "accession_number": f"ACC{i:05d}" if by_accession else "",
        "patient_id": "" if by_accession else f"SYN{i:04d}",
        "study_date": "" if by_accession else study_date.isoformat(),
        "bmd_t_score": f"{float(str(draw['bmd'])):.1f}",
        "fracture_level": level,
        "operation_minutes": f"{int(float(str(draw['operation'])))}",
        # a third of the rows leave BMI to the DICOM weight and size
        "bmi": "" if i % 3 == 0 else f"{float(str(draw['bmi'])):.1f}",
        "cement_leakage": "yes" if draw["leakage"] else "no",
        "approach": "bi" if rng.random() < 0.7 else "uni",
        "cement_injected_ml": f"{cdv * 1.25 + float(rng.uniform(0.2, 1.0)):.1f}",
    }


def clinical_csv(cases: list[SyntheticCase]) -> str:
    """The clinical file of the synthetic cohort, as ``registry import-clinical`` takes it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(cases[0].clinical), lineterminator="\n")
    writer.writeheader()
    writer.writerows(c.clinical for c in cases)
    return out.getvalue()
